import type { TimerEvent } from '../scheduler/host.ts';
import type { TiKey } from '../store/records.ts';

/**
 * What the scheduler tells a task's lifecycle state machine to do next. The state machine decides
 * nothing: it runs a try, waits until the time it is given, or stops.
 */
export type LifecycleNext =
  /** Start try `tryNumber` now (a retry that is due, a sensor's next poke, a deferral that ended). */
  | { action: 'run'; tryNumber: number }
  /** Wait (a Wait state with TimestampPath) until `at`, then deliver `event` to the scheduler. */
  | { action: 'wait'; at: string; event: TimerEvent }
  /** Nothing more for this execution (the instance ended, waits for a slot, or waits on another run). */
  | { action: 'done' };

/** The input of a task lifecycle execution. */
export interface LifecycleInput {
  key: TiKey;
  dagId: string;
  tryNumber: number;
}

export function sameTi(a: TiKey, b: TiKey): boolean {
  return a.runId === b.runId && a.taskId === b.taskId && a.mapIndex === b.mapIndex;
}
