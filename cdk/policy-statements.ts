import * as iam from 'aws-cdk-lib/aws-iam';
import type { DeploymentResources, PolicyResource, PolicyStatement } from '../lib/compiler/iam.ts';

/**
 * A deployment's resource set granted through managed policies the stack makes once and shares between
 * roles, rather than inline in each role's policy (a set too large for it: every Batch queue and job
 * definition SubmitJob may name).
 */
export interface ManagedGrant {
  /** The actions the managed policies allow on the set. */
  actions: readonly string[];
  /** Attach the managed policies to a role. */
  attach(role: iam.IRole): void;
}

/** What the placeholders of ARN templates and the deployment's resource sets stand for in a stack. */
export interface PolicyContext {
  /** `${Name}` → its value (a token or a literal): pseudo parameters, function ARNs, `StateMachineName`. */
  placeholders: Readonly<Record<string, string>>;
  deployment: Readonly<Record<DeploymentResources, readonly string[]>>;
  /**
   * Resource sets granted by shared managed policies ({@link applyStatements}); the others inline.
   * @default none: every statement inline
   */
  managed?: Readonly<Partial<Record<DeploymentResources, ManagedGrant>>>;
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

/**
 * Give a role the declared statements: the resource sets of `context.managed` by attaching their shared
 * managed policies (each such statement's actions must be among the ones they allow), the rest inline in
 * the role's policy. Grants exactly what {@link resolveStatements} of the same statements does. Throws on
 * a statement asking a managed set for an action its managed policies do not allow.
 */
export function applyStatements(role: iam.IRole, statements: readonly PolicyStatement[], context: PolicyContext): void {
  const inline: PolicyStatement[] = [];
  for (const s of statements) {
    const rest: PolicyResource[] = [];
    for (const r of s.resources) {
      const managed = 'deployment' in r ? context.managed?.[r.deployment] : undefined;
      if (!managed || !('deployment' in r)) {
        rest.push(r);
        continue;
      }
      const other = s.actions.filter((a) => !managed.actions.includes(a));
      if (other.length) throw new Error(`the statement of ${s.actions.join(', ')} on '${r.deployment}' asks for ${other.join(', ')}, which its managed policies do not allow (only ${managed.actions.join(', ')})`);
      if (context.deployment[r.deployment].length) managed.attach(role);
    }
    if (rest.length) inline.push({ actions: s.actions, resources: rest });
  }
  for (const statement of resolveStatements(inline, context)) role.addToPrincipalPolicy(statement);
}
