import type { Dag } from '../authoring/dag.ts';
import type { ArrayRef } from '../core/arrays.ts';
import type { DagRunRecord, RunRef, TaskInstanceRecord, TiKey } from '../store/records.ts';

export type { DagResolver } from '../authoring/dag-resolver.ts';
export type { TryResult } from '../core/events.ts';

/** Events the scheduler asks its host to deliver back later. */
export type TimerEvent =
  | { type: 'retry'; key: TiKey; tryNumber: number }
  | { type: 'resume'; key: TiKey; tryNumber: number }
  | { type: 'run_timeout'; dagId: string; runId: string }
  /** The failed children of an array group's wave `tryNumber` are due for their retry. */
  | { type: 'array_retry'; array: ArrayRef; tryNumber: number }
  /**
   * A Batch job (or an array wave) submitted for try `tryNumber` may still be RUNNABLE past its task's
   * runnableTimeout: stop what has not started. `array` for a wave, `key` for a plain job.
   */
  | { type: 'runnable_check'; array?: ArrayRef; key?: TiKey; tryNumber: number; jobName: string; jobQueue: string | null };

/** A wave of an array group, ready to submit as one Batch array job: its queued instances at `tryNumber`. */
export interface ArrayWave {
  array: ArrayRef;
  dagId: string;
  tryNumber: number;
  /** How many instances the wave has (the array's size; one is a plain job). */
  size: number;
}

/** What the scheduler reports as it works (for live displays, logs and metrics). */
export type SchedulerEvent =
  | { type: 'ti'; ti: TaskInstanceRecord }
  | { type: 'run'; run: DagRunRecord }
  | { type: 'error'; run: RunRef | null; error: unknown; where: string };

/**
 * What a host (the local runner, or the Lambda handlers) provides to the scheduler. The scheduler decides;
 * the host carries out: starting a try, and waking the scheduler at a time.
 */
export interface SchedulerHost {
  /** Milliseconds since the epoch (a fake clock in tests). */
  now(): number;
  /** Start the try of a queued task instance (locally in-process; deployed, a state machine). */
  dispatch(ti: TaskInstanceRecord, dag: Dag): void;
  /**
   * Start a wave of an array group: submit its queued instances as one Batch array job and report each
   * child's outcome to `Scheduler.handleArrayResult` (locally the runner; deployed, the group's state
   * machine). Hosts without it get one `dispatch` per instance.
   */
  dispatchArray?(wave: ArrayWave, dag: Dag): void;
  /**
   * Terminate what is still RUNNABLE of the job named `jobName` (every RUNNABLE child of an array) with
   * `reason`; returns how many jobs it stopped. Their failure then arrives as any job's does.
   */
  stopRunnable?(jobQueue: string | null, jobName: string, reason: string): Promise<number>;
  /** Deliver `event` to `Scheduler.onTimer` at time `at` (locally a timer; deployed a Wait state). */
  setTimer(at: number, event: TimerEvent): void;
  /** Stop work in flight for a run that ended early (dagrun timeout). */
  cancelRun?(run: RunRef): void;
  /** Whether an external job a deferred instance waits on has already ended (closes a race at deferral). */
  externalDone?(kind: 'batch', externalId: string): Promise<boolean>;
  /** Told of every change. */
  emit?(event: SchedulerEvent): void;
}

export function tiKeyOf(k: TiKey): TiKey {
  return { dagId: k.dagId, runId: k.runId, taskId: k.taskId, mapIndex: k.mapIndex };
}

/** The run a timer event belongs to. */
export function timerRun(e: TimerEvent): RunRef {
  const r = e.type === 'run_timeout' ? e : e.type === 'array_retry' ? e.array : e.type === 'runnable_check' ? (e.array ?? e.key)! : e.key;
  return { dagId: r.dagId, runId: r.runId };
}

/** The task instance a timer event is for (null: a run's, or an array group's). */
export function timerTiKey(e: TimerEvent): TiKey | null {
  return e.type === 'retry' || e.type === 'resume' ? e.key : null;
}
