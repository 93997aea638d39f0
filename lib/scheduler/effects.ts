// What a scheduler step asks its host to do, as data. The scheduler decides and writes the store; it
// never starts, waits or tells anything itself. Each entry point returns the effects of its step, in the
// order they were decided, and a host interprets them: the local runner in-process
// (lib/runner/local-runner.ts), a Lambda invocation by replying to the calling state machine and
// starting executions (lib/aws/invocation-host.ts). Both pick the calling lifecycle's own next step
// with the one rule of lib/core/lifecycle.ts.

import type { Dag } from '../authoring/dag.ts';
import type { ArrayWave, TimerEvent } from '../core/events.ts';
import type { RunRef, TaskInstanceRecord, TiKey } from '../store/records.ts';
import type { SchedulerEvent } from './host.ts';
import type { Scheduler } from './scheduler.ts';

export type Effect =
  /**
   * Start the try of a queued instance (locally in-process; deployed, its lifecycle state machine).
   * `anew`: decided by a replayed event (a report that found its try already moved), so it starts in a
   * new execution even when it is the calling lifecycle's own try: the reply that would carry it may be
   * the one that is dropped.
   */
  | { type: 'dispatch'; ti: TaskInstanceRecord; dag: Dag; anew?: boolean }
  /**
   * Start a wave of an array group: its queued instances as one Batch array job, each child's outcome
   * reported to `Scheduler.handleArrayResult` (only from a scheduler whose host runs waves: `arrays`).
   */
  | { type: 'dispatchWave'; wave: ArrayWave; dag: Dag }
  /** Deliver `event` to `Scheduler.onTimer` at `at` (ms since the epoch; locally a timer, deployed a Wait state). */
  | { type: 'timer'; at: number; event: TimerEvent }
  /** Terminate what is still RUNNABLE of the Batch job `jobName` (every RUNNABLE child of an array) with `reason`. */
  | { type: 'stopRunnable'; jobQueue: string | null; jobName: string; reason: string }
  /** Stop the work in flight of a run that ended early (a dagrun timeout, a stop, a failure). */
  | {
      type: 'cancelRun';
      run: RunRef;
      /** Why (the aborted tries fail with it). Default: a dagrun timeout. */
      reason?: string;
      /** Only the running tries of these instances (a task instance marked). Default: every try of the run. */
      only?: readonly { key: TiKey; tryNumber: number }[];
      /**
       * The instances whose work was in flight, as they were before the stop (queued, running, deferred):
       * a deployed host stops their lifecycle executions and terminates their Batch jobs. Default: none known.
       */
      inFlight?: readonly TaskInstanceRecord[];
    }
  /**
   * Deployed only: hand a human-in-the-loop answer to the `.waitForTaskToken` state waiting on `token`
   * (Step Functions' SendTaskSuccess with `output`, JSON text). A local host never gets one.
   */
  | { type: 'sendTaskSuccess'; token: string; output: string }
  /** Tell the host's listeners (live views, logs, metrics) of a change or of an error the step absorbed. */
  | { type: 'emit'; event: SchedulerEvent };

/**
 * A scheduler with a host: every step run through `run` has its effects carried out by that host (also
 * when it throws), and `run` gives its value. What the API's routes get to act with.
 */
export interface Driven {
  scheduler: Scheduler;
  run: <T>(step: Promise<Outcome<T>>) => Promise<T>;
}

/** What an entry point returns: its value and the effects of its step. */
export interface Outcome<T> {
  value: T;
  effects: Effect[];
}

const leftBehind = new WeakMap<object, Effect[]>();

/**
 * Keep the effects a step had decided when it threw: its writes up to there stand (a try queued is
 * queued), so the host carries them out before it handles the error ({@link effectsLeftBy}).
 */
export function leaveEffects(error: unknown, effects: Effect[]): void {
  if (typeof error === 'object' && error !== null && effects.length > 0) leftBehind.set(error, [...(leftBehind.get(error) ?? []), ...effects]);
}

/** The effects a step that threw `error` had decided (empty when none). Each is handed out once. */
export function effectsLeftBy(error: unknown): Effect[] {
  if (typeof error !== 'object' || error === null) return [];
  const effects = leftBehind.get(error) ?? [];
  leftBehind.delete(error);
  return effects;
}

/**
 * Carry out one step: its effects on success, and the effects it left behind when it threw (then the
 * error goes on). What every host does with an {@link Outcome}.
 */
export async function drive<T>(step: Promise<Outcome<T>>, apply: (effects: readonly Effect[]) => void | Promise<void>): Promise<T> {
  let out: Outcome<T>;
  try {
    out = await step;
  } catch (e) {
    const effects = effectsLeftBy(e);
    if (effects.length) await apply(effects);
    throw e;
  }
  await apply(out.effects);
  return out.value;
}
