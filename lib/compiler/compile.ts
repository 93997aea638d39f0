import type { DagSpec, TaskKind, TaskSpec } from '../model/spec.ts';
import { arrayMaxConcurrency, buildArrayFanout } from './array-lifecycle.ts';
import type { StateMachineDefinition } from './asl-types.ts';
import { buildBatchJobMachine, buildBatchMachine } from './batch-lifecycle.ts';
import { AslCompileError } from './compile-error.ts';
import type { CompileOptions } from './compile-options.ts';
import type { PolicyStatement } from './iam.ts';
import { buildHitlMachine } from './hitl-lifecycle.ts';
import { buildIterateMachine, itemRetryDelays } from './iterate-lifecycle.ts';
import { kindCompiler, type LifecycleKind } from './kinds/index.ts';
import { buildSensorMachine, buildTryMachine } from './lambda-lifecycle.ts';
import { buildPartitionsMachine } from './partitions-lifecycle.ts';
import { StateGraph } from './state-graph.ts';
import { LIFECYCLE_MACHINES, MACHINE_WORKFLOW_TYPE, machineOf, type LifecycleMachine, type WorkflowTypeChoice } from './workflow-type.ts';

/**
 * A task's own settings, which reach its lifecycle execution as data (`$.settings` of the input): the
 * machines are shared, so nothing of one task is written into a definition. Every field is always
 * present (a path to a missing field fails the execution). A task's executionTimeout is not among them:
 * the task runner enforces it in the try's invocation, and Batch in the job (its `Timeout`).
 */
export interface LifecycleSettings {
  /** An iteration's `MaxConcurrencyPath`: its `concurrency` (0: unbounded). */
  concurrency: number;
  /** An iteration's retries per item. */
  itemRetries: number;
  /** The delay in seconds before each of an item's retries (`itemRetries` of them). */
  itemRetryDelays: number[];
  /** An array fan-out's `MaxConcurrencyPath`: groups at once ({@link arrayMaxConcurrency}; 0: unbounded). */
  maxConcurrency: number;
}

/** The settings a task's lifecycle execution gets in its input. */
export function lifecycleSettings(spec: TaskSpec): LifecycleSettings {
  const iterate = spec.kind === 'task' ? spec.iterate : null;
  return {
    concurrency: iterate?.concurrency ?? 0,
    itemRetries: iterate?.itemRetries ?? 0,
    itemRetryDelays: itemRetryDelays(iterate?.itemRetries ?? 0),
    maxConcurrency: arrayMaxConcurrency(spec),
  };
}

/**
 * The `batch` machine's reference to the `batch_job` machine it starts, as a definition substitution the
 * deployment resolves (its ARN: `arn:<partition>:states:<region>:<account>:stateMachine:<name>`).
 */
export const BATCH_JOB_MACHINE_ARN = '${BatchJobMachineArn}';

/** The `partitions` machine's reference to the `iterate` machine it starts (a definition substitution, as {@link BATCH_JOB_MACHINE_ARN}). */
export const ITERATE_MACHINE_ARN = '${IterateMachineArn}';

/** One shared lifecycle state machine, compiled. */
export interface CompiledMachine {
  machine: LifecycleMachine;
  workflowType: WorkflowTypeChoice;
  /** Plain JSON: embed it with `DefinitionBody.fromString(JSON.stringify(definition))`. */
  definition: StateMachineDefinition;
  /**
   * What the state machine's role needs, as its integrations declare it (iam.ts): the deployment grants
   * exactly these, its `${...}` placeholders resolved.
   */
  statements: PolicyStatement[];
}

/** How a task runs: its lifecycle, the shared machine that runs it, and the settings its executions get. */
export interface TaskLifecycle {
  taskId: string;
  kind: TaskKind;
  lifecycle: Exclude<LifecycleKind, 'none'>;
  machine: LifecycleMachine;
  workflowType: WorkflowTypeChoice;
  settings: LifecycleSettings;
}

function checkOptions(options: CompileOptions): void {
  for (const name of ['taskRunnerArn', 'schedulerArn', 'sensorPokeArn'] as const) {
    const v: unknown = options[name];
    if (typeof v !== 'string' || v.length === 0) throw new AslCompileError(`option '${name}' must be a non-empty string`);
  }
}

const MACHINE_COMMENT: Record<LifecycleMachine, string> = {
  try: 'airless try lifecycle: one invocation runs a try of a task (task, branch, short_circuit, trigger_dag, a polled Batch job) and reports it',
  sensor: 'airless sensor lifecycle: poke, wait until the next poke, poke again',
  batch: 'airless Batch lifecycle: prepare the job, start the batch_job execution that waits for it',
  batch_job: 'airless Batch job: batch:submitJob.sync, then complete and report the try',
  iterate: 'airless iteration lifecycle: prepare, a Map over the items, complete',
  batch_array: 'airless Batch array lifecycle: a Distributed Map over the groups of a mapped Batch task, each running its waves',
  hitl: 'airless human-in-the-loop lifecycle: write the request, wait for the answer\'s task token (or the timeout), complete',
  partitions: "airless partitioned iteration: a Distributed Map over a partitioned task's instances, each child starting that instance's iterate execution",
};

/**
 * Compile one shared lifecycle machine to Amazon States Language (see `contract.ts` for what the handlers
 * it invokes receive and return). A task's own settings are read from the execution's input
 * ({@link LifecycleSettings}), so the same definition serves every task of its shape.
 */
export function compileLifecycleMachine(machine: LifecycleMachine, options: CompileOptions): CompiledMachine {
  checkOptions(options);
  const graph = new StateGraph({});
  let startAt: string;
  switch (machine) {
    case 'try':
      startAt = buildTryMachine(graph, options.taskRunnerArn, options.schedulerArn);
      break;
    case 'sensor':
      startAt = buildSensorMachine(graph, options.sensorPokeArn, options.schedulerArn);
      break;
    case 'batch':
      startAt = buildBatchMachine(graph, options.taskRunnerArn, options.schedulerArn, options.batchJobMachineArn ?? BATCH_JOB_MACHINE_ARN);
      break;
    case 'batch_job':
      startAt = buildBatchJobMachine(graph, options.taskRunnerArn, options.schedulerArn);
      break;
    case 'iterate':
      startAt = buildIterateMachine(graph, options.taskRunnerArn, options.schedulerArn, options.iterateMode ?? 'inline');
      break;
    case 'batch_array':
      startAt = buildArrayFanout(graph, {
        taskRunnerArn: options.taskRunnerArn,
        schedulerArn: options.schedulerArn,
        batchWatch: options.batchWatch ?? 'sync',
        ...(options.batchWatchIntervalSeconds !== undefined ? { batchWatchIntervalSeconds: options.batchWatchIntervalSeconds } : {}),
      });
      break;
    case 'hitl':
      startAt = buildHitlMachine(graph, options.taskRunnerArn, options.schedulerArn);
      break;
    case 'partitions':
      startAt = buildPartitionsMachine(graph, options.iterateMachineArn ?? ITERATE_MACHINE_ARN);
      break;
  }
  return {
    machine,
    workflowType: MACHINE_WORKFLOW_TYPE[machine],
    definition: { Comment: MACHINE_COMMENT[machine], ...graph.render(startAt) },
    statements: graph.statements(),
  };
}

/**
 * The shared lifecycle machines a deployment has: a fixed set, whatever its DAGs (all of
 * {@link LIFECYCLE_MACHINES}, but for the `.sync` Batch machines in poll mode, where a single Batch job runs
 * on the try machine).
 */
export function deployedMachines(options: Pick<CompileOptions, 'batchWatch'> = {}): LifecycleMachine[] {
  return LIFECYCLE_MACHINES.filter((m) => !((m === 'batch' || m === 'batch_job') && options.batchWatch === 'poll'));
}

/** Every shared lifecycle machine of a deployment ({@link deployedMachines}), compiled. */
export function compileLifecycleMachines(options: CompileOptions): CompiledMachine[] {
  return deployedMachines(options).map((m) => compileLifecycleMachine(m, options));
}

/**
 * How one task runs: its lifecycle shape, its machine and its settings. Throws an
 * {@link AslCompileError} for an `empty` task, which runs nothing.
 */
export function taskLifecycle(spec: TaskSpec, options: Pick<CompileOptions, 'batchWatch'> = {}, dagId?: string): TaskLifecycle {
  const lifecycle = kindCompiler(spec).lifecycle(spec, options);
  const machine = machineOf(lifecycle);
  if (lifecycle === 'none' || machine === null) {
    throw new AslCompileError('an empty task has no lifecycle: the scheduler settles it without running anything', { ...(dagId !== undefined ? { dagId } : {}), taskId: spec.taskId });
  }
  return { taskId: spec.taskId, kind: spec.kind, lifecycle, machine, workflowType: MACHINE_WORKFLOW_TYPE[machine], settings: lifecycleSettings(spec) };
}

/** How every task of a DAG that runs anything (all but `empty` tasks) runs, in definition order. */
export function compileDag(dag: DagSpec, options: Pick<CompileOptions, 'batchWatch'> = {}): TaskLifecycle[] {
  return dag.tasks.filter((t) => t.kind !== 'empty').map((t) => taskLifecycle(t, options, dag.dagId));
}
