import * as iam from 'aws-cdk-lib/aws-iam';
import type { DeploymentResources, PolicyResource, PolicyStatement } from '../lib/compiler/iam.ts';

/** What the placeholders of ARN templates and the deployment's resource sets stand for in a stack. */
export interface PolicyContext {
  /** `${Name}` → its value (a token or a literal): pseudo parameters, function ARNs, `StateMachineName`. */
  placeholders: Readonly<Record<string, string>>;
  deployment: Readonly<Record<DeploymentResources, readonly string[]>>;
}

const PLACEHOLDER = /\$\{([^}]+)\}/g;

/** The ARNs a declared resource stands for. Throws on a placeholder the context does not have. */
export function resolveResource(r: PolicyResource, context: PolicyContext): readonly string[] {
  if ('deployment' in r) return context.deployment[r.deployment];
  return [
    r.arn.replace(PLACEHOLDER, (_, name: string) => {
      const value = context.placeholders[name];
      if (value === undefined) throw new Error(`IAM resource '${r.arn}' names \${${name}}, which this stack does not define (it has: ${Object.keys(context.placeholders).join(', ')})`);
      return value;
    }),
  ];
}

/**
 * The CDK statements of declared ones (lib/compiler/iam.ts). A statement whose resources are all empty
 * sets (e.g. SubmitJob when the stack knows no job queue or definition) grants nothing and is left out.
 */
export function resolveStatements(statements: readonly PolicyStatement[], context: PolicyContext): iam.PolicyStatement[] {
  return statements.flatMap((s) => {
    const resources = s.resources.flatMap((r) => resolveResource(r, context));
    return resources.length ? [new iam.PolicyStatement({ actions: s.actions, resources })] : [];
  });
}
