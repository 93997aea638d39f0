/**
 * The `partitions` machine (Standard): the deployed fan-out of a partitioned iteration
 * (`.expand(partitions).iterate(items)`). The dispatches of a partitioned task's instances from one
 * scheduler step start ONE execution of it instead of one StartExecution per instance from the Lambda;
 * its Distributed Map starts each instance's `iterate` execution, under the name and with the input the
 * scheduler would have given it (`lifecycleExecutionName`, {@link LifecycleInput}), so the reconcile,
 * stopping and redispatching find each instance's lifecycle exactly as for an instance dispatched alone.
 */
import type { TiKey } from '../store/records.ts';
import { AslCompileError } from './compile-error.ts';
import type { LifecycleSettings } from './compile.ts';
import type { LifecycleInput } from './contract.ts';
import { mapTask, startExecution } from './integrations.ts';
import type { StateGraph } from './state-graph.ts';
import { passState } from './states.ts';

/**
 * The most instances one `partitions` execution starts. Each is one entry of the execution's input (about
 * 120 bytes), and each child's output (`{}`) comes back in the Map's result: 1,000 keep both far under the
 * 256 KiB state payload limit. A step that dispatches more instances of one task starts one execution per
 * 1,000 (in map-index order).
 */
export const PARTITIONS_PER_EXECUTION = 1_000;

/** One instance to start: its `iterate` execution's name, map index and try. */
export interface PartitionsInstance {
  name: string;
  mapIndex: number;
  tryNumber: number;
}

/**
 * Input of a `partitions` execution: the instances of one partitioned task of one run, and the task's
 * settings ({@link LifecycleSettings}: each `iterate` execution's own, and `maxConcurrency`, how many
 * partitions the Map starts at once).
 */
export interface PartitionsInput {
  dagId: string;
  runId: string;
  taskId: string;
  settings: LifecycleSettings;
  instances: PartitionsInstance[];
}

/** Each child's input: the `iterate` execution's name and its {@link LifecycleInput}, built from the Map's input and the instance. */
const CHILD_INPUT = {
  'name.$': '$$.Map.Item.Value.name',
  key: { 'dagId.$': '$.dagId', 'runId.$': '$.runId', 'taskId.$': '$.taskId', 'mapIndex.$': '$$.Map.Item.Value.mapIndex' },
  'dagId.$': '$.dagId',
  'tryNumber.$': '$$.Map.Item.Value.tryNumber',
  'settings.$': '$.settings',
};

/** The errors of `states:startExecution` worth another attempt: throttling and transient service errors. */
export const START_EXECUTION_TRANSIENT_ERRORS = ['StepFunctions.SdkClientException', 'StepFunctions.AWSStepFunctionsException', 'StepFunctions.ThrottlingException'];

/**
 * The `partitions` machine, input {@link PartitionsInput}:
 * - `Partitions`: a Distributed Map over `$.instances` (inline: {@link PARTITIONS_PER_EXECUTION} bounds
 *   the list), `MaxConcurrencyPath` `$.settings.maxConcurrency` (0: unbounded),
 *   `ToleratedFailurePercentage: 100` (a partition whose start failed does not stop its siblings: its
 *   instance stays queued and the reconcile dispatches it again), the children's results dropped.
 * - Each child (a STANDARD execution): `StartIteration` = `states:startExecution` of the `iterate` machine
 *   named `$.name` with the instance's {@link LifecycleInput} (request-response: the child ends once the
 *   iteration started, so `MaxConcurrency` bounds the rate of starts, not the partitions running), retried
 *   on throttling; `StepFunctions.ExecutionAlreadyExistsException` (a replayed dispatch, or the Map Run's
 *   own retry) means it is started already → `Started`, a Pass that ends the child with `{}` (its output
 *   returns in the Map's result: kept tiny).
 *
 * Returns the first state's id.
 */
export function buildPartitionsMachine(graph: StateGraph, iterateMachineArn: string): string {
  if (typeof iterateMachineArn !== 'string' || iterateMachineArn.length === 0) throw new AslCompileError("option 'iterateMachineArn' must be a non-empty string");
  const child = graph.nested();
  child.add(
    'StartIteration',
    startExecution({
      comment: "Start the instance's iterate execution under its deterministic name",
      stateMachineArn: iterateMachineArn,
      namePath: '$.name',
      input: { 'key.$': '$.key', 'dagId.$': '$.dagId', 'tryNumber.$': '$.tryNumber', 'settings.$': '$.settings' },
      resultPath: null,
      retry: [{ ErrorEquals: [...START_EXECUTION_TRANSIENT_ERRORS], IntervalSeconds: 1, MaxAttempts: 6, BackoffRate: 2, JitterStrategy: 'FULL' }],
      catch: [{ ErrorEquals: ['StepFunctions.ExecutionAlreadyExistsException'], ResultPath: null, Next: 'Started' }],
      next: 'Started',
    }),
  );
  child.add('Started', passState({ comment: 'The iteration runs (started here or before): end with {}', parameters: {}, next: null }));
  graph.add(
    'Partitions',
    mapTask({
      comment: "One child execution per partition: it starts that instance's iterate execution",
      items: { path: '$.instances' },
      itemSelector: CHILD_INPUT,
      maxConcurrency: { path: '$.settings.maxConcurrency' },
      toleratedFailurePercentage: 100,
      itemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, ...child.render('StartIteration') },
      resultPath: null,
      next: null,
    }),
  );
  return 'Partitions';
}

/** The {@link LifecycleInput} a child of the `partitions` machine gives the instance's `iterate` execution (what `startLifecycle` would give it). */
export function partitionLifecycleInput(input: PartitionsInput, instance: PartitionsInstance): LifecycleInput {
  const key: TiKey = { dagId: input.dagId, runId: input.runId, taskId: input.taskId, mapIndex: instance.mapIndex };
  return { key, dagId: input.dagId, tryNumber: instance.tryNumber, settings: input.settings };
}
