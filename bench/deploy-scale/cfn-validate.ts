// The CloudFormation validator aws-cdk-lib ships (@aws/cloudformation-validate, a dependency of
// aws-cdk-lib's own, resolved from there), called the way aws-cdk-lib's CloudFormationValidatePlugin
// calls it when `cdk synth` validates a template: a CompositeEngine with aws-cdk-lib's built-in Rego rules
// for the template's resource types, STANDARD detail, WARN and above, the same rules excluded.
// (aws-cdk-lib turns the errors into warnings unless told otherwise; here they count as errors.)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as ValidateTypes from '../../node_modules/aws-cdk-lib/node_modules/@aws/cloudformation-validate/index.d.ts';

type ValidateModule = typeof ValidateTypes;

const fromCdk = createRequire(createRequire(import.meta.url).resolve('aws-cdk-lib/package.json'));
const validate = fromCdk('@aws/cloudformation-validate') as ValidateModule;
/** aws-cdk-lib's built-in Rego rules (core/lib/validation/rules, with an index of the types each applies to). */
const RULES_DIR = path.join(path.dirname(fromCdk.resolve('aws-cdk-lib/package.json')), 'core', 'lib', 'validation', 'rules');
/** The rules aws-cdk-lib's plugin leaves out (IGNORE_RULES of core/lib/validation/cloudformation-validate-plugin.js, 2.276.0). */
const IGNORED_RULES = ['W3005', 'W1020', 'I4010', 'W4011', 'W4012', 'W9002', 'W9013', 'W1103'];

export interface ValidatorFinding {
  ruleId: string;
  severity: string;
  message: string;
  /** Findings with this rule, severity and message. */
  count: number;
  /** The first resource it names, if any. */
  resource: string | null;
}

export interface ValidatorReport {
  version: string;
  status: string;
  /** FATAL and ERROR diagnostics. */
  errors: number;
  /** WARN diagnostics. */
  warnings: number;
  findings: ValidatorFinding[];
}

function builtinRules(resourceTypes: ReadonlySet<string>): { name: string; content: string }[] {
  const index = JSON.parse(readFileSync(path.join(RULES_DIR, 'index.generated.json'), 'utf8')) as { rules: { file: string; types: string[] | null }[] };
  return index.rules
    .filter((r) => r.types === null || r.types.some((t) => resourceTypes.has(t)))
    .sort((a, b) => a.file.localeCompare(b.file))
    .map((r) => ({ name: r.file, content: readFileSync(path.join(RULES_DIR, r.file), 'utf8') }));
}

/** Validate a template (its text as written to the cloud assembly); `name` labels the report. */
export function validateTemplate(text: string, name: string): ValidatorReport {
  const types = new Set(Object.values((JSON.parse(text) as { Resources?: Record<string, { Type: string }> }).Resources ?? {}).map((r) => r.Type));
  const rules = builtinRules(types);
  const engine = new validate.CompositeEngine(rules.length ? { regoRules: rules } : {});
  try {
    const report = engine.validateTemplate(new validate.TemplateContent(text, name), {
      detailLevel: 'STANDARD',
      exclude: { ids: IGNORED_RULES, services: [{ ruleId: 'W3697', service: 'AWS::AutoScaling' }] },
      severityLevel: 'WARN',
    });
    const findings = new Map<string, ValidatorFinding>();
    for (const d of report.diagnostics) {
      const key = `${d.ruleId}\u0000${d.severity}\u0000${d.message}`;
      const f = findings.get(key);
      if (f) f.count++;
      else findings.set(key, { ruleId: d.ruleId, severity: d.severity, message: d.message, count: 1, resource: d.entity?.logicalId ?? null });
    }
    const all = [...findings.values()];
    const total = (severities: string[]) => all.filter((f) => severities.includes(f.severity)).reduce((n, f) => n + f.count, 0);
    return { version: validate.version(), status: report.status, errors: total(['FATAL', 'ERROR']), warnings: total(['WARN']), findings: all };
  } finally {
    engine.free();
  }
}
