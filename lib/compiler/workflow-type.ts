import type { TaskSpec } from '../model/spec.ts';
import type { CompileOptions } from './compile-options.ts';
import { kindCompiler, type LifecycleKind } from './kinds/index.ts';

/**
 * The shared lifecycle state machines of a deployment, one per lifecycle shape: every task runs on one of
 * them (the `try` machine serves `lambda` and `batch_poll` lifecycles), its own settings in the input.
 */
export type LifecycleMachine = 'try' | 'sensor' | 'batch' | 'batch_job' | 'iterate' | 'batch_array' | 'hitl' | 'partitions';

/** Every lifecycle machine, in the order a deployment declares them. */
export const LIFECYCLE_MACHINES: readonly LifecycleMachine[] = ['try', 'sensor', 'batch', 'batch_job', 'iterate', 'batch_array', 'hitl', 'partitions'];

/** Step Functions' limit on a Standard execution's history. */
export const HISTORY_EVENT_LIMIT = 25_000;
/** An Express execution's longest run. */
export const EXPRESS_MAX_DURATION_SECONDS = 300;

/** History events of the states the lifecycles use (Standard workflows). */
export const HISTORY_EVENTS = {
  /** ExecutionStarted, ExecutionSucceeded. */
  execution: 2,
  /** TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded, TaskStateExited. */
  task: 5,
  /** The same plus TaskSubmitted (a `.sync` job). */
  syncTask: 6,
  /** Entered and exited: Choice, Pass, Wait, Succeed. */
  flow: 2,
  /** MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited. */
  map: 4,
  /** MapIterationStarted, MapIterationSucceeded. */
  mapIteration: 2,
} as const;

/**
 * Estimated history events of one Standard execution of a lifecycle: `loops` is the number of
 * wait-then-run cycles in it (a retry after its delay, or a sensor's next poke), `items` the items an
 * iteration runs per try (inline Map). Lambda service retries add 3 events each and are left out.
 *
 * - lambda, sensor, batch_poll: 16 + 23 per loop (RunTry, Report, Decide, then WaitUntil, Timer, Decide,
 *   NextTry, RunTry, Report, Decide per loop): the limit is reached after about 1,086 loops.
 * - batch: 13 (its batch_job execution: Submit, Complete; a retry is a new execution).
 * - iterate: 27 + 7 per item, and per loop 34 + 7 per item: keep a try under about 3,000 items inline.
 * - batch_array: one group's child execution in sync mode (the fan-out's own execution has a few events
 *   whatever the number of groups): 24 + 31 per loop (a wave, after a retry delay).
 * - hitl: 19 (Prepare, CheckPrepared, WaitForAnswer, Complete or TimedOut; a retry is a new execution),
 *   however long the wait.
 */
export function estimateHistoryEvents(lifecycle: LifecycleKind, counts: { loops?: number; items?: number } = {}): number {
  const loops = counts.loops ?? 0;
  const items = counts.items ?? 0;
  const e = HISTORY_EVENTS;
  const tail = e.task + e.flow; // Report, Decide
  const wake = e.flow + e.task + e.flow + e.flow; // WaitUntil, Timer, Decide, NextTry
  switch (lifecycle) {
    case 'none':
      return 0;
    case 'lambda':
    case 'sensor':
    case 'batch_poll': {
      const tryEvents = e.task + tail;
      return e.execution + tryEvents + e.flow + loops * (wake + tryEvents);
    }
    case 'batch':
      // The batch_job execution (the batch machine before it is Express): Submit, Complete. No loop in it.
      return e.execution + e.syncTask + e.task;
    case 'batch_array': {
      const tryEvents = e.task + e.flow + e.syncTask + tail;
      return e.execution + tryEvents + e.flow + loops * (wake + tryEvents);
    }
    case 'hitl':
      // Prepare, CheckPrepared, WaitForAnswer, then Complete or TimedOut.
      return e.execution + e.task + e.flow + e.task + e.task;
    case 'iterate': {
      const tryEvents = e.task + e.flow + e.map + items * (e.mapIteration + e.task) + e.task + tail;
      return e.execution + tryEvents + e.flow + loops * (wake + tryEvents);
    }
  }
}

/** Which kind of state machine a lifecycle runs on, and why. */
export interface WorkflowTypeChoice {
  type: 'STANDARD' | 'EXPRESS';
  reason: string;
}

/**
 * The workflow type of each shared lifecycle machine (compile.ts), with the reason.
 *
 * **Express** costs $1.00 per million executions plus $0.00001667 per GB-second (64 MB steps): a Lambda
 * task's execution costs about $0.001 per 1,000 tasks, against $0.025 per 1,000 transitions for Standard.
 * An Express execution lasts at most 5 minutes, supports only request-response integrations (no `.sync`)
 * and runs at least once (every handler is idempotent, so a replay changes nothing). The `try` machine
 * fits: its one invocation runs the try and reports it to the scheduler itself, so a try that outlasts
 * the execution (up to the task runner's own timeout) still reports; nothing waits in it (a retry's delay
 * is a timer execution, the next try a new execution). So does the `batch` machine, which prepares a job
 * and starts the Standard `batch_job` execution that waits for it (two transitions: submit, complete).
 *
 * **Standard** lasts up to a year and runs exactly once, billed per transition, with a history capped at
 * 25,000 events ({@link estimateHistoryEvents}): the machines that wait. A sensor waits between pokes (past
 * `MAX_LOOPS_PER_EXECUTION` loops the scheduler continues it as new); a Batch job is waited for with
 * `.sync` (`batch_job`); an iteration runs its items for as long as they take (an inline Map adds 7 events per item:
 * `iterate_prepare` sends a list too long for the history to a Distributed Map); a human-in-the-loop task waits
 * for its answer with `.waitForTaskToken` (`hitl`), holding no Lambda, for as long as its timeout (a year at most).
 */
export const MACHINE_WORKFLOW_TYPE: Record<LifecycleMachine, WorkflowTypeChoice> = {
  try: { type: 'EXPRESS', reason: 'one invocation runs the try and reports it; nothing waits in the execution' },
  sensor: { type: 'STANDARD', reason: 'a sensor waits between pokes, up to its timeout' },
  batch: { type: 'EXPRESS', reason: 'it prepares a Batch job and starts the batch_job execution that waits for it: nothing waits here' },
  batch_job: { type: 'STANDARD', reason: 'a Batch job is waited for with .sync, which Express does not support' },
  iterate: { type: 'STANDARD', reason: 'an iteration runs its items for as long as they take' },
  batch_array: { type: 'STANDARD', reason: 'array jobs are waited for with .sync or polled, for hours' },
  hitl: { type: 'STANDARD', reason: 'a person\'s answer is waited for with .waitForTaskToken (which Express does not support), for up to a year' },
  partitions: { type: 'STANDARD', reason: "its Distributed Map, which starts each partition's iterate execution, runs only in a Standard workflow" },
};

/** The shared machine a lifecycle runs on (null: an `empty` task runs nothing). */
export function machineOf(lifecycle: LifecycleKind): LifecycleMachine | null {
  switch (lifecycle) {
    case 'lambda':
    case 'batch_poll':
      return 'try';
    case 'sensor':
    case 'batch':
    case 'iterate':
    case 'batch_array':
    case 'hitl':
      return lifecycle;
    case 'none':
      return null;
  }
}

/** Standard or Express for a task's lifecycle: its machine's type ({@link MACHINE_WORKFLOW_TYPE}). */
export function chooseWorkflowType(spec: TaskSpec, options: Pick<CompileOptions, 'batchWatch'> = {}): WorkflowTypeChoice {
  const machine = machineOf(kindCompiler(spec).lifecycle(spec, options));
  if (machine === null) return { type: 'EXPRESS', reason: 'an empty task runs no lifecycle' };
  return MACHINE_WORKFLOW_TYPE[machine];
}
