import type { TaskSpec } from '../model/spec.ts';
import { kindCompiler, type LifecycleKind } from './kinds/index.ts';

/** Step Functions' limit on a Standard execution's history. */
export const HISTORY_EVENT_LIMIT = 25_000;
/** An Express execution's longest run. */
export const EXPRESS_MAX_DURATION_SECONDS = 300;
/**
 * The longest executionTimeout that still gets an Express state machine. Of Express's 300 s, 120 s go
 * to the try and the rest to the scheduler's reply and to Lambda service retries (up to 126 s for one
 * invocation). Should an execution still run out of time, it ends; the instance stays `running` and the
 * scheduler's periodic reconcile repairs it, as for any lost event.
 */
export const EXPRESS_MAX_TRY_SECONDS = 120;

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
 * - batch: 29 + 36 per loop.
 * - iterate: 27 + 7 per item, and per loop 34 + 7 per item: keep a try under about 3,000 items inline.
 * - batch_array: one group's child execution in sync mode (the fan-out's own execution has a few events
 *   whatever the number of groups): 24 + 31 per loop (a wave, after a retry delay).
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
    case 'batch': {
      const tryEvents = e.task + e.flow + e.syncTask + e.task + tail;
      return e.execution + tryEvents + e.flow + loops * (wake + tryEvents);
    }
    case 'batch_array': {
      const tryEvents = e.task + e.flow + e.syncTask + tail;
      return e.execution + tryEvents + e.flow + loops * (wake + tryEvents);
    }
    case 'iterate': {
      const tryEvents = e.task + e.flow + e.map + items * (e.mapIteration + e.task) + e.task + tail;
      return e.execution + tryEvents + e.flow + loops * (wake + tryEvents);
    }
  }
}

/** Which kind of state machine a task gets, and why. */
export interface WorkflowTypeChoice {
  type: 'STANDARD' | 'EXPRESS';
  reason: string;
}

/**
 * Standard or Express for a task's state machine.
 *
 * **Express** costs $1.00 per million executions plus $0.00001667 per GB-second (64 MB steps): a Lambda
 * task's 4 transitions in a 2 s execution cost about $0.003 per 1,000 tasks, against $0.10 for Standard
 * ($0.025 per 1,000 transitions). But an Express execution lasts at most 5 minutes (a Wait included),
 * supports only request-response integrations (no `.sync`, so no `batch:submitJob.sync`), keeps no
 * execution history (enable CloudWatch Logs on it), and runs at least once (its handlers are idempotent,
 * so a replay changes nothing).
 *
 * **Standard** lasts up to a year and runs exactly once, billed per transition, with a history capped at
 * 25,000 events ({@link estimateHistoryEvents}). A Lambda try costs 16 events and each wait-then-run loop
 * (a retry, or a sensor's poke) about 23, so one execution holds about 1,000 loops. A retry chain never
 * gets there (retries are few), but a sensor poking every minute for Airflow's default 7-day timeout makes
 * 10,080 pokes: past `MAX_LOOPS_PER_EXECUTION` (contract.ts) loops the scheduler continues as new (it starts a
 * fresh execution for the same try and replies `done`), so no execution nears the limit. An iteration's
 * inline Map adds 7 events per item; past about 3,000 items per try use the distributed mode.
 *
 * So Express only where the task can never wait: a Lambda-shaped task (task, branch, short_circuit,
 * trigger_dag: a triggered run is waited for outside the execution) with no retries and an
 * executionTimeout of at most {@link EXPRESS_MAX_TRY_SECONDS}. Everything else is Standard: sensors
 * (pokes wait), Batch (`.sync`, jobs run for hours), iterations (no bound on the items' total time),
 * tasks with retries (the delay waits in the execution, up to 24 h), tasks without an executionTimeout
 * (a try may run for Lambda's 15 minutes).
 */
export function chooseWorkflowType(spec: TaskSpec): WorkflowTypeChoice {
  const standardOnly = kindCompiler(spec).standardOnly(spec);
  if (standardOnly !== null) return { type: 'STANDARD', reason: standardOnly };
  if (spec.iterate) return { type: 'STANDARD', reason: 'an iteration runs its items for as long as they take' };
  if (spec.retries > 0) return { type: 'STANDARD', reason: `retries (${spec.retries}) wait for their delay in the execution` };
  if (spec.executionTimeoutMs === null) return { type: 'STANDARD', reason: 'no executionTimeout: a try may outlast an Express execution' };
  const seconds = Math.ceil(spec.executionTimeoutMs / 1000);
  if (seconds > EXPRESS_MAX_TRY_SECONDS) {
    return { type: 'STANDARD', reason: `executionTimeout ${seconds} s is over the ${EXPRESS_MAX_TRY_SECONDS} s an Express execution leaves a try` };
  }
  return { type: 'EXPRESS', reason: `one try of at most ${seconds} s, no retries and no waits` };
}
