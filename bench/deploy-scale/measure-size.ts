// One size of the deploy-scale benchmark: generate the DAGs, synthesize the airless stack for them (no
// bundling), and measure its template against the quotas; validate it (the CloudFormation validator
// aws-cdk-lib ships) and check it with cdk-nag's AwsSolutions pack.
//
//   npx node --import tsx bench/deploy-scale/measure-size.ts <dags> <tasksPerDag>
//
// Run alone it prints the figures as one JSON line; under bench/deploy-scale/bench.ts it sends them over IPC.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AirlessStack } from '../../cdk/airless.ts';
import { chooseWorkflowType } from '../../lib/compiler/workflow-type.ts';
import { fail, reportResult } from '../child.ts';
import { validateTemplate, type ValidatorReport } from './cfn-validate.ts';
import { generateDags, generatedKindOf, type GeneratedKind } from './generate-dags.ts';
import { checkQuota, type QuotaCheck } from './quotas.ts';
import { templateFigures, type TemplateFigures } from './template-figures.ts';

/** CDK's context key of the most resources a stack may have (aws-cdk-lib STACK_RESOURCE_LIMIT_CONTEXT; 0 lifts it). */
const STACK_RESOURCE_LIMIT_CONTEXT = '@aws-cdk/core:stackResourceLimit';
/** The start of CDK's error for a stack over its resource limit (TooManyResourcesInStack). */
const TOO_MANY_RESOURCES = /^Number of resources in stack .* is greater than allowed maximum/;

export interface NagReport {
  /** Unsuppressed AwsSolutions errors (each finding of a granular rule counts). */
  errors: number;
  /** Errors by rule, and the first construct path of each. */
  byRule: { rule: string; count: number; firstPath: string }[];
}

export interface SizeFigures {
  dags: number;
  tasksPerDag: number;
  tasks: number;
  tasksByKind: Record<GeneratedKind, number>;
  expressTasks: number;
  standardTasks: number;
  /** Seconds of `app.synth()` (construct tree prepared, cdk-nag's aspect, templates written; no bundling). */
  synthSeconds: number;
  /**
   * `cdk synth` at CDK's default resource limit: null when it synthesizes, else its error (the figures
   * are then those of a second synthesis with the limit lifted).
   */
  synthError: string | null;
  /** Bytes of the template file in the cloud assembly (what the CDK CLI sends). */
  templateBytes: number;
  template: TemplateFigures;
  quotas: QuotaCheck[];
  validator: ValidatorReport & { seconds: number };
  nag: NagReport;
  peakRssMb: number;
}

/** The stack as the benchmark synthesizes it: bundling skipped (as `cdk synth --exclusively` of another stack does), CDK's own validation off (done after, timed apart). */
function synthesize(dags: ReturnType<typeof generateDags>, limitLifted: boolean, outdir: string) {
  const app = new App({
    outdir,
    builtinCloudFormationValidation: false,
    context: { 'aws:cdk:bundling-stacks': [], ...(limitLifted ? { [STACK_RESOURCE_LIMIT_CONTEXT]: 0 } : {}) },
  });
  // The functions are not bundled, so the DAGs module they would import is never read. The generated DAGs
  // have no files, so no version bundles: an empty folder stands for them (the BucketDeployment that
  // carries them to the bucket is as many resources, whatever they hold: +5 with its handler, role,
  // policy and AWS CLI layer).
  const bundles = path.join(outdir, 'version-bundles');
  mkdirSync(bundles, { recursive: true });
  const stack = new AirlessStack(app, 'AirlessDeployScale', { dags: { specs: dags.map((d) => d.spec), dagsModule: path.join(outdir, 'airless-dags.ts'), versionBundles: bundles } });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  const t0 = performance.now();
  const assembly = app.synth();
  const seconds = (performance.now() - t0) / 1000;
  return { artifact: assembly.getStackArtifact(stack.artifactId), seconds };
}

function nagReport(messages: readonly { level: string; id: string; entry: { data?: unknown } }[]): NagReport {
  const byRule = new Map<string, { rule: string; count: number; firstPath: string }>();
  let errors = 0;
  for (const m of messages) {
    const data = typeof m.entry.data === 'string' ? m.entry.data : '';
    if (m.level !== 'error' || !data.startsWith('AwsSolutions-')) continue;
    errors++;
    const rule = /^AwsSolutions-[A-Za-z0-9]+/.exec(data)![0];
    const r = byRule.get(rule);
    if (r) r.count++;
    else byRule.set(rule, { rule, count: 1, firstPath: m.id });
  }
  return { errors, byRule: [...byRule.values()] };
}

export function measureSize(dagCount: number, tasksPerDag: number): SizeFigures {
  const dags = generateDags({ dags: dagCount, tasksPerDag });
  const tasksByKind = { plain: 0, mapped: 0, iterated: 0, sensor: 0, batch: 0, batch_array: 0 } satisfies Record<GeneratedKind, number>;
  let expressTasks = 0;
  for (const d of dags) {
    for (const t of d.spec.tasks) {
      tasksByKind[generatedKindOf(t)]++;
      if (chooseWorkflowType(t).type === 'EXPRESS') expressTasks++;
    }
  }
  const tasks = dagCount * tasksPerDag;

  const outdir = mkdtempSync(path.join(tmpdir(), 'airless-deploy-scale-'));
  try {
    let synthError: string | null = null;
    let synth;
    try {
      synth = synthesize(dags, false, path.join(outdir, 'default'));
    } catch (e) {
      // Over 500 resources CDK refuses the stack (TooManyResourcesInStack): that is a figure, and the rest
      // is measured on a synthesis with the limit lifted. Any other error fails the size.
      if (!(e instanceof Error && TOO_MANY_RESOURCES.test(e.message))) throw e;
      synthError = e.message.replace(/: AWS::.*$/s, '');
      synth = synthesize(dags, true, path.join(outdir, 'lifted'));
    }
    const text = readFileSync(synth.artifact.templateFullPath, 'utf8');
    const template = templateFigures(JSON.parse(text) as Parameters<typeof templateFigures>[0]);
    const v0 = performance.now();
    const validator = validateTemplate(text, path.basename(synth.artifact.templateFullPath));
    const validateSeconds = (performance.now() - v0) / 1000;
    const templateBytes = Buffer.byteLength(text, 'utf8');
    const quotas = [
      checkQuota('resources', template.resources),
      checkQuota('templateDirect', templateBytes),
      checkQuota('templateS3', templateBytes),
      checkQuota('definition', template.largestDefinition?.value ?? 0, template.largestDefinition?.of ?? null),
      checkQuota('inlinePerRole', template.largestInlinePerRole?.value ?? 0, template.largestInlinePerRole?.of ?? null),
      checkQuota('managedPolicy', template.largestManagedPolicy?.value ?? 0, template.largestManagedPolicy?.of ?? null),
      checkQuota('managedPerRole', template.mostManagedPerRole?.value ?? 0, template.mostManagedPerRole?.of ?? null),
      checkQuota('lambdaEnvironment', template.largestEnvironment?.value ?? null, template.largestEnvironment?.of ?? null),
    ];
    return {
      dags: dagCount,
      tasksPerDag,
      tasks,
      tasksByKind,
      expressTasks,
      standardTasks: tasks - expressTasks,
      synthSeconds: Math.round(synth.seconds * 100) / 100,
      synthError,
      templateBytes,
      template,
      quotas,
      validator: { ...validator, seconds: Math.round(validateSeconds * 100) / 100 },
      nag: nagReport(synth.artifact.messages),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [d, t] = process.argv.slice(2).map(Number);
  if (!Number.isInteger(d) || !Number.isInteger(t)) fail('usage: bench/deploy-scale/measure-size.ts <dags> <tasksPerDag>');
  reportResult(Promise.resolve().then(() => measureSize(d!, t!)));
}
