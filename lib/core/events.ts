// What the scheduler and its hosts pass each other: timer events, array waves, the outcome of a try.
// Plain data, so the pure rules (lib/core), the compiler's contract and both hosts share one definition.

import type { ArrayRef } from './arrays.ts';
import type { ErrorInfo } from '../error-info.ts';
import type { RunRef, TiKey } from '../model/keys.ts';

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
  | { type: 'runnable_check'; array?: ArrayRef; key?: TiKey; tryNumber: number; jobName: string; jobQueue: string | null }
  /** Deadline `index` of the run's DAG (its `deadlines`) is due: run its callback if the run has not ended. */
  | { type: 'deadline'; dagId: string; runId: string; index: number }
  /** A human-in-the-loop request's timeout (try `tryNumber`'s) is due: take its defaults, or fail the try. */
  | { type: 'hitl_timeout'; key: TiKey; tryNumber: number };

/** A wave of an array group, ready to submit as one Batch array job: its queued instances at `tryNumber`. */
export interface ArrayWave {
  array: ArrayRef;
  dagId: string;
  tryNumber: number;
  /** How many instances the wave has (the array's size; one is a plain job). */
  size: number;
}

/** How a try ended, as reported by the task runner. */
export type TryResult =
  | { kind: 'success'; follow?: string[] | null; shortCircuit?: boolean }
  | { kind: 'failure'; error: ErrorInfo; retriable: boolean }
  | { kind: 'skip'; reason: string }
  /** Wait without holding anything, until `until` (a timer) or an external event (until null). */
  | { kind: 'defer'; until: number | null; externalId?: string };

/** The run a timer event belongs to. */
export function timerRun(e: TimerEvent): RunRef {
  switch (e.type) {
    case 'run_timeout':
    case 'deadline':
      return { dagId: e.dagId, runId: e.runId };
    case 'array_retry':
      return { dagId: e.array.dagId, runId: e.array.runId };
    case 'runnable_check': {
      const r = e.array ?? e.key;
      if (!r) throw new Error('a runnable_check timer names neither an array nor an instance');
      return { dagId: r.dagId, runId: r.runId };
    }
    case 'retry':
    case 'resume':
    case 'hitl_timeout':
      return { dagId: e.key.dagId, runId: e.key.runId };
  }
}

/** The task instance a timer event is for (null: a run's, or an array group's). */
export function timerTiKey(e: TimerEvent): TiKey | null {
  return e.type === 'retry' || e.type === 'resume' || e.type === 'hitl_timeout' ? e.key : null;
}
