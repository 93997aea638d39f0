// What a task's lifecycle does next: one pure function, used by the Lambda side (a state machine asking
// the scheduler function) and by the local runner (its in-process loop per try), so both follow the same
// rule. A lifecycle is one instance's try loop (run, wait for a retry or a poke, run again) or one array
// group's wave loop (run a wave, wait for its failed children's retry, run the next wave).

import type { ArrayRef } from './arrays.ts';
import type { TimerEvent } from './events.ts';
import { sameTi, type TiKey } from '../model/keys.ts';

/**
 * The reply to a lifecycle: `run` the try (or the wave) `tryNumber`, `wait` until `at` (an ASL
 * timestamp, {@link aslTimestamp}) then deliver `event` to the scheduler, or `done`.
 */
export type NextAction = { action: 'run'; tryNumber: number } | { action: 'wait'; at: string; event: TimerEvent } | { action: 'done' };

/** The lifecycle that called the scheduler: one instance's try loop, or one array group's wave loop. */
export type LifecycleCaller = { instance: TiKey } | { wave: ArrayRef };

/**
 * The effects a lifecycle can take as its own (the scheduler's `Effect` is assignable to this): a try
 * to start, a wave to start, a timer to set. The others never are.
 */
export type LifecycleEffect =
  | { type: 'dispatch'; ti: TiKey & { tryNumber: number; pokeCount: number }; anew?: boolean }
  | { type: 'dispatchWave'; wave: { array: ArrayRef; tryNumber: number } }
  | { type: 'timer'; at: number; event: TimerEvent }
  | { type: 'stopRunnable' | 'cancelRun' | 'emit' | 'sendTaskSuccess' };

export interface LifecycleOptions {
  /**
   * A try loop that has looped this many times (pokes or retries) continues in a new execution: its
   * next `run` is left as a dispatch and the reply is `done`. Default: never (a local loop has no history).
   */
  continueAsNewEvery?: number;
}

/** Format a time for a Wait state's `TimestampPath`: whole seconds, rounded up (never early). */
export function aslTimestamp(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function sameArray(a: ArrayRef, b: ArrayRef): boolean {
  return a.dagId === b.dagId && a.runId === b.runId && a.taskId === b.taskId && a.group === b.group;
}

/**
 * The next action `effect` asks of `caller`'s lifecycle (`started`: it runs in a new execution instead,
 * and the caller is done), or null when it is not the caller's.
 */
function claim(caller: LifecycleCaller, effect: LifecycleEffect, options: LifecycleOptions): NextAction | 'started' | null {
  switch (effect.type) {
    case 'dispatch': {
      if (!('instance' in caller) || !sameTi(effect.ti, caller.instance)) return null;
      const every = options.continueAsNewEvery;
      if (effect.anew || (every !== undefined && effect.ti.pokeCount > 0 && effect.ti.pokeCount % every === 0)) return 'started';
      return { action: 'run', tryNumber: effect.ti.tryNumber };
    }
    case 'dispatchWave':
      return 'wave' in caller && sameArray(effect.wave.array, caller.wave) ? { action: 'run', tryNumber: effect.wave.tryNumber } : null;
    case 'timer': {
      const e = effect.event;
      const mine = 'instance' in caller ? (e.type === 'retry' || e.type === 'resume') && sameTi(e.key, caller.instance) : e.type === 'array_retry' && sameArray(e.array, caller.wave);
      return mine ? { action: 'wait', at: aslTimestamp(effect.at), event: e } : null;
    }
    case 'stopRunnable':
    case 'cancelRun':
    case 'emit':
    case 'sendTaskSuccess':
      return null;
  }
}

/**
 * Split what one scheduler step asked for into the calling lifecycle's next action (the first effect
 * that is its own: its try to run again, its retry or poke to wait for, its next wave) and the rest,
 * which start elsewhere; `claimed` is the effect `next` came from. A dispatch of the caller's try that
 * must start in a new execution (`anew`: decided by a replayed event, whose reply may be the one that is
 * dropped; or past `continueAsNewEvery` loops) stays in the rest, and the caller is `done`. `next` is
 * null when the step decided nothing for the caller (then its state says: {@link nextFromInstance},
 * {@link nextFromWave}).
 */
export function lifecycleNext<E extends LifecycleEffect>(caller: LifecycleCaller | null, effects: readonly E[], options: LifecycleOptions = {}): { next: NextAction | null; claimed: E | null; rest: E[] } {
  if (caller !== null) {
    for (let i = 0; i < effects.length; i++) {
      const next = claim(caller, effects[i]!, options);
      if (next === 'started') return { next: { action: 'done' }, claimed: null, rest: [...effects] };
      if (next) return { next, claimed: effects[i]!, rest: [...effects.slice(0, i), ...effects.slice(i + 1)] };
    }
  }
  return { next: null, claimed: null, rest: [...effects] };
}

/** What an instance needs for {@link nextFromInstance}. */
export interface InstanceState extends TiKey {
  state: string;
  tryNumber: number;
  nextAt: string | null;
}

/**
 * The next action of an instance's try loop read from the instance: what a replayed event gets back when
 * its first delivery already moved the instance (the reply depends on the state, not on who moved it).
 */
export function nextFromInstance(ti: InstanceState | undefined): NextAction {
  if (!ti) return { action: 'done' };
  const key = { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex };
  if (ti.state === 'up_for_retry' && ti.nextAt) return { action: 'wait', at: aslTimestamp(Date.parse(ti.nextAt)), event: { type: 'retry', key, tryNumber: ti.tryNumber } };
  if (ti.state === 'deferred' && ti.nextAt) return { action: 'wait', at: aslTimestamp(Date.parse(ti.nextAt)), event: { type: 'resume', key, tryNumber: ti.tryNumber } };
  // Queued again by the first delivery: run it here (a second start elsewhere finds it running and does nothing).
  if (ti.state === 'queued') return { action: 'run', tryNumber: ti.tryNumber };
  return { action: 'done' };
}

/** {@link nextFromInstance} for an array group's wave loop after wave `tryNumber`, from the group's instances. */
export function nextFromWave(array: ArrayRef, tryNumber: number, group: readonly InstanceState[]): NextAction {
  let nextTry = Infinity;
  let retryAt = 0;
  for (const ti of group) {
    if (ti.state === 'queued' && ti.tryNumber > tryNumber) nextTry = Math.min(nextTry, ti.tryNumber);
    if (ti.state === 'up_for_retry' && ti.tryNumber === tryNumber && ti.nextAt) retryAt = Math.max(retryAt, Date.parse(ti.nextAt));
  }
  if (nextTry !== Infinity) return { action: 'run', tryNumber: nextTry };
  if (retryAt > 0) return { action: 'wait', at: aslTimestamp(retryAt), event: { type: 'array_retry', array, tryNumber } };
  return { action: 'done' };
}
