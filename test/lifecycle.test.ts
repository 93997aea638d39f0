import { describe, expect, it } from 'vitest';
import { aslTimestamp, lifecycleNext, nextFromInstance, nextFromWave, type LifecycleEffect } from '../lib/core/lifecycle.ts';
import { nextPokeAt, pokeTimedOut } from '../lib/core/pokes.ts';

const key = { dagId: 'd', runId: 'r', taskId: 't', mapIndex: -1 };
const other = { ...key, taskId: 'u' };
const array = { dagId: 'd', runId: 'r', taskId: 'b', group: 0 };
const dispatch = (k: typeof key, tryNumber = 1, pokeCount = 0): LifecycleEffect => ({ type: 'dispatch', ti: { ...k, tryNumber, pokeCount } });

describe('lifecycleNext: what a lifecycle does next (the one rule of both hosts)', () => {
  it("takes the caller's own dispatch as `run`, leaving the others in order", () => {
    const effects = [dispatch(other), { type: 'emit' as const }, dispatch(key, 2), dispatch(key, 3)];
    const { next, claimed, rest } = lifecycleNext({ instance: key }, effects);
    expect(next).toEqual({ action: 'run', tryNumber: 2 });
    expect(claimed).toBe(effects[2]);
    expect(rest).toEqual([effects[0], effects[1], effects[3]]);
  });
  it("takes the caller's retry or resume timer as `wait`, rounded up to the second", () => {
    const at = Date.UTC(2026, 0, 1, 0, 0, 0, 1);
    for (const type of ['retry', 'resume'] as const) {
      const event = { type, key, tryNumber: 1 };
      const { next, rest } = lifecycleNext({ instance: key }, [{ type: 'timer', at, event }]);
      expect(next).toEqual({ action: 'wait', at: '2026-01-01T00:00:01Z', event });
      expect(rest).toEqual([]);
    }
  });
  it("never takes another instance's work, a run's timer, or a timer of the same task in another run", () => {
    const effects: LifecycleEffect[] = [
      dispatch(other),
      dispatch({ ...key, runId: 'r2' }),
      dispatch({ ...key, dagId: 'd2' }),
      { type: 'timer', at: 0, event: { type: 'run_timeout', dagId: 'd', runId: 'r' } },
      { type: 'timer', at: 0, event: { type: 'retry', key: { ...key, mapIndex: 0 }, tryNumber: 1 } },
    ];
    expect(lifecycleNext({ instance: key }, effects)).toEqual({ next: null, claimed: null, rest: effects });
    expect(lifecycleNext(null, effects).next).toBeNull();
  });
  it('a wave loop takes its group\'s next wave and its array_retry, not another group\'s', () => {
    const wave = (group: number, tryNumber: number): LifecycleEffect => ({ type: 'dispatchWave', wave: { array: { ...array, group }, tryNumber } });
    expect(lifecycleNext({ wave: array }, [wave(1, 2), wave(0, 2)]).next).toEqual({ action: 'run', tryNumber: 2 });
    const retry = { type: 'array_retry' as const, array, tryNumber: 1 };
    expect(lifecycleNext({ wave: array }, [{ type: 'timer', at: 5000, event: retry }]).next).toEqual({ action: 'wait', at: aslTimestamp(5000), event: retry });
    expect(lifecycleNext({ wave: array }, [dispatch({ ...key, taskId: 'b', mapIndex: 0 })]).next).toBeNull();
  });
  it('continues as new: a loop past the limit leaves its run to a new execution', () => {
    expect(lifecycleNext({ instance: key }, [dispatch(key, 1, 1000)], { continueAsNewEvery: 1000 }).next).toEqual({ action: 'done' });
    expect(lifecycleNext({ instance: key }, [dispatch(key, 1, 999)], { continueAsNewEvery: 1000 }).next).toEqual({ action: 'run', tryNumber: 1 });
    // Locally (no history limit) the loop goes on.
    expect(lifecycleNext({ instance: key }, [dispatch(key, 1, 1000)]).next).toEqual({ action: 'run', tryNumber: 1 });
  });
});

describe("a replay's reply, from the instance's state", () => {
  const ti = (state: string, nextAt: string | null = null) => ({ ...key, state, tryNumber: 2, nextAt });
  it('waits for a retry or a poke, runs a queued try, else is done', () => {
    expect(nextFromInstance(ti('up_for_retry', '2026-01-01T00:00:00.500Z'))).toEqual({ action: 'wait', at: '2026-01-01T00:00:01Z', event: { type: 'retry', key, tryNumber: 2 } });
    expect(nextFromInstance(ti('deferred', '2026-01-01T00:00:02.000Z'))).toEqual({ action: 'wait', at: '2026-01-01T00:00:02Z', event: { type: 'resume', key, tryNumber: 2 } });
    expect(nextFromInstance(ti('queued'))).toEqual({ action: 'run', tryNumber: 2 });
    for (const state of ['success', 'failed', 'running', 'deferred']) expect(nextFromInstance(ti(state))).toEqual({ action: 'done' });
    expect(nextFromInstance(undefined)).toEqual({ action: 'done' });
  });
  it("a wave loop: the group's next queued wave first, then the latest retry of this wave's children", () => {
    const child = (mapIndex: number, state: string, tryNumber: number, nextAt: string | null = null) => ({ ...key, taskId: 'b', mapIndex, state, tryNumber, nextAt });
    expect(nextFromWave(array, 1, [child(0, 'success', 1), child(1, 'queued', 2)])).toEqual({ action: 'run', tryNumber: 2 });
    expect(nextFromWave(array, 1, [child(0, 'up_for_retry', 1, '2026-01-01T00:00:03.000Z'), child(1, 'up_for_retry', 1, '2026-01-01T00:00:09.000Z')])).toEqual({
      action: 'wait',
      at: '2026-01-01T00:00:09Z',
      event: { type: 'array_retry', array, tryNumber: 1 },
    });
    expect(nextFromWave(array, 1, [child(0, 'success', 1), child(1, 'failed', 1)])).toEqual({ action: 'done' });
  });
});

describe('a try that must start in a new execution', () => {
  it("decided by a replay (anew): started elsewhere, and the caller is done, whichever reply counts", () => {
    const effects: LifecycleEffect[] = [{ type: 'dispatch', ti: { ...key, tryNumber: 1, pokeCount: 0 }, anew: true }];
    expect(lifecycleNext({ instance: key }, effects)).toEqual({ next: { action: 'done' }, claimed: null, rest: effects });
  });
  it('past the loops of one execution: the same', () => {
    const effects = [dispatch(key, 1, 2000)];
    expect(lifecycleNext({ instance: key }, effects, { continueAsNewEvery: 1000 })).toEqual({ next: { action: 'done' }, claimed: null, rest: effects });
  });
});

describe('when a sensor pokes next (lib/core/pokes.ts)', () => {
  const sensor = { pokeIntervalMs: 60_000, exponentialBackoff: false, timeoutMs: 3_600_000 };
  it('after its interval, never past its timeout', () => {
    expect(nextPokeAt(sensor, 0, 3, 120_000)).toBe(180_000);
    expect(nextPokeAt(sensor, 0, 60, 3_590_000)).toBe(3_600_000);
  });
  it('doubling with exponentialBackoff, at most a day', () => {
    const backoff = { ...sensor, exponentialBackoff: true, timeoutMs: 30 * 86_400_000 };
    expect([1, 2, 3, 4].map((n) => nextPokeAt(backoff, 0, n, 0))).toEqual([60_000, 120_000, 240_000, 480_000]);
    expect(nextPokeAt(backoff, 0, 20, 0)).toBe(86_400_000);
  });
  it('times out at its timeout', () => {
    expect(pokeTimedOut(sensor, 1000, 3_600_999)).toBe(false);
    expect(pokeTimedOut(sensor, 1000, 3_601_000)).toBe(true);
  });
});
