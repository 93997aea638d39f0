/**
 * The IAM a compiled state machine needs, declared by each integration beside the states it renders (as
 * CDK's `taskPolicies` of a Task state): the deployment gives a state machine's role exactly the
 * statements its definition declares, so a new integration cannot leave its role short of a permission.
 *
 * Plain data, no CDK objects: an action list and resources, each an ARN template or a set of resources
 * only the deployment knows. ARN templates hold `${Name}` placeholders, as a definition's substitutions
 * do: CloudFormation's pseudo parameters (`${AWS::Partition}`, `${AWS::Region}`, `${AWS::AccountId}`),
 * {@link STATE_MACHINE_NAME} (the state machine whose role gets the statement), and whatever the compile
 * options name a function with (the stack passes `${TaskRunnerArn}` and the like).
 */

/** The name of the state machine whose role gets the statement: a statement with it is that machine's own. */
export const STATE_MACHINE_NAME = '${StateMachineName}';

/** Resources only the deployment knows. */
export type DeploymentResources =
  /** The job queues and job definitions Batch jobs may be submitted to (SubmitJob names both). */
  | 'batchJobQueuesAndDefinitions'
  /** The objects of the large-value bucket under the store's prefix (item lists and Distributed Map results). */
  | 'largeValueObjects';

/** An ARN template, or a set of resources the deployment resolves. */
export type PolicyResource = { arn: string } | { deployment: DeploymentResources };

export interface PolicyStatement {
  actions: string[];
  resources: PolicyResource[];
}

/** A Task or Map state with the statements its integration needs. */
export interface WithPolicy<S> {
  state: S;
  statements: PolicyStatement[];
}

/** An ARN in the deployment's partition, region and account: `arn:<partition>:<service>:<region>:<account>:<resource>`. */
export function accountArn(service: string, resource: string): PolicyResource {
  return { arn: `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}` };
}

/** Whether a statement names the state machine its role serves (so that role cannot be shared). */
export function namesOwnStateMachine(s: PolicyStatement): boolean {
  return s.resources.some((r) => 'arn' in r && r.arn.includes(STATE_MACHINE_NAME));
}

const resourceKey = (r: PolicyResource) => ('arn' in r ? `arn:${r.arn}` : `deployment:${r.deployment}`);

function unionInto<T>(into: T[], more: readonly T[], key: (t: T) => string): void {
  const seen = new Set(into.map(key));
  for (const t of more) {
    if (!seen.has(key(t))) {
      seen.add(key(t));
      into.push(t);
    }
  }
}

function mergeOn(statements: PolicyStatement[], keyOf: (s: PolicyStatement) => string): PolicyStatement[] {
  const out = new Map<string, PolicyStatement>();
  for (const s of statements) {
    const k = keyOf(s);
    const into = out.get(k);
    if (into === undefined) out.set(k, { actions: [...s.actions], resources: [...s.resources] });
    else {
      unionInto(into.actions, s.actions, (a) => a);
      unionInto(into.resources, s.resources, resourceKey);
    }
  }
  return [...out.values()];
}

/**
 * The same permissions in fewer statements: statements on the same resources become one (their actions
 * joined), then statements of the same actions become one (their resources joined). Each merge grants
 * exactly what its statements granted. Order: first appearance.
 */
export function mergeStatements(statements: readonly PolicyStatement[]): PolicyStatement[] {
  const sorted = (xs: string[]) => JSON.stringify([...new Set(xs)].sort());
  const deduped = statements.map((s) => {
    const actions: string[] = [];
    const resources: PolicyResource[] = [];
    unionInto(actions, s.actions, (a) => a);
    unionInto(resources, s.resources, resourceKey);
    return { actions, resources };
  });
  const byResources = mergeOn(deduped, (s) => sorted(s.resources.map(resourceKey)));
  return mergeOn(byResources, (s) => sorted(s.actions));
}
