import type { Dag } from '../authoring/dag.ts';
import type { DagRunRecord, TaskInstanceRecord, TiKey } from '../store/records.ts';

/** Events the scheduler asks its host to deliver back later. */
export type TimerEvent =
  | { type: 'retry'; key: TiKey; tryNumber: number }
  | { type: 'resume'; key: TiKey; tryNumber: number }
  | { type: 'run_timeout'; runId: string };

/** What the scheduler reports as it works (for live displays, logs and metrics). */
export type SchedulerEvent =
  | { type: 'ti'; ti: TaskInstanceRecord }
  | { type: 'run'; run: DagRunRecord }
  | { type: 'error'; runId: string | null; error: unknown; where: string };

/**
 * What a host (the local runner, or the Lambda handlers) provides to the scheduler. The scheduler decides;
 * the host carries out: starting a try, and waking the scheduler at a time.
 */
export interface SchedulerHost {
  /** Milliseconds since the epoch (a fake clock in tests). */
  now(): number;
  /** Start the try of a queued task instance (locally in-process; deployed, a state machine). */
  dispatch(ti: TaskInstanceRecord, dag: Dag): void;
  /** Deliver `event` to `Scheduler.onTimer` at time `at` (locally a timer; deployed a Wait state). */
  setTimer(at: number, event: TimerEvent): void;
  /** Stop work in flight for a run that ended early (dagrun timeout). */
  cancelRun?(runId: string): void;
  /** Whether an external job a deferred instance waits on has already ended (closes a race at deferral). */
  externalDone?(kind: 'batch', externalId: string): Promise<boolean>;
  /** Told of every change. */
  emit?(event: SchedulerEvent): void;
}

/** Finds DAGs by id. */
export interface DagResolver {
  getDag(dagId: string): Dag | undefined;
}

/** How a try ended, as reported by the task runner. */
export type TryResult =
  | { kind: 'success'; follow?: string[] | null; shortCircuit?: boolean }
  | { kind: 'failure'; error: string; retriable: boolean }
  | { kind: 'skip'; reason: string }
  /** Wait without holding anything, until `until` (a timer) or an external event (until null). */
  | { kind: 'defer'; until: number | null; externalId?: string };

export function tiKeyOf(k: TiKey): TiKey {
  return { runId: k.runId, taskId: k.taskId, mapIndex: k.mapIndex };
}
