import { describe, expect, it } from 'vitest';
import { dag, task } from '../lib/index.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import { InputResolver } from '../lib/executor/resolve.ts';
import { TaskRunner } from '../lib/executor/task-runner.ts';
import { LocalBatch } from '../lib/executor/local-batch.ts';
import type { TimerEvent, TryResult } from '../lib/scheduler/host.ts';
import { drive, type Effect } from '../lib/scheduler/effects.ts';
import { Scheduler } from '../lib/scheduler/scheduler.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import type { RunRef, TaskInstanceRecord } from '../lib/store/records.ts';

/**
 * Drives the real scheduler and task runner by hand, one event at a time, so that events can be
 * delivered twice, late, or out of order.
 */
function harness(dags: Dag[]) {
  let now = Date.UTC(2026, 0, 1);
  const dispatched: TaskInstanceRecord[] = [];
  const timers: { at: number; event: TimerEvent }[] = [];
  // The host: what the scheduler asks for is recorded, to be delivered by the test (twice, late, ...).
  const apply = (effects: readonly Effect[]) => {
    for (const e of effects) {
      if (e.type === 'dispatch') dispatched.push(e.ti);
      else if (e.type === 'timer') timers.push({ at: e.at, event: e.event });
    }
  };
  const store = new MemoryStateStore();
  const resolver = new InputResolver(store);
  const byId = new Map(dags.map((d) => [d.dagId, d]));
  const dagsResolver = { getDag: (id: string) => byId.get(id) };
  const core = new Scheduler(store, dagsResolver, { now: () => now, resolver });
  const scheduler = {
    triggerRun: (r: Parameters<Scheduler['triggerRun']>[0]) => drive(core.triggerRun(r), apply),
    handleTryResult: (...a: Parameters<Scheduler['handleTryResult']>) => drive(core.handleTryResult(...a), apply),
    onTimer: (e: TimerEvent) => drive(core.onTimer(e), apply),
  };
  const batch = new LocalBatch({ now: () => now, setTimer: () => undefined, onDone: () => undefined });
  const runner = new TaskRunner(store, dagsResolver, { now: () => now, triggerRun: (r) => scheduler.triggerRun(r), batch }, resolver);
  return {
    store,
    scheduler,
    runner,
    dispatched,
    timers,
    advance: (ms: number) => (now += ms),
    snapshot: async (run: RunRef) => ({
      run: await store.getRun(run),
      tis: (await store.listTaskInstances(run)).map((t) => [t.taskId, t.mapIndex, t.state, t.tryNumber]),
      xcoms: await Promise.all(['a', 'b', 'c', 'd'].map((id) => store.listXComs(run, id, 'return_value'))),
    }),
  };
}

describe('replaying events changes nothing', () => {
  it('every task-finished event delivered twice; every dispatch started twice; every timer fired twice', async () => {
    const executions = new Map<string, number>();
    let failOnce = true;
    const d = dag({ dagId: 'replay', defaultArgs: { retries: 1, retryDelay: '1s' } }, () => {
      const count = (id: string) => executions.set(id, (executions.get(id) ?? 0) + 1);
      const a = task('a', () => {
        count('a');
        return [1, 2, 3];
      });
      const b = task('b', (_c, x: number) => {
        count(`b${x}`);
        return x * 2;
      }).expand(a);
      const c = task('c', () => {
        count('c');
        if (failOnce) {
          failOnce = false;
          throw new Error('transient');
        }
        return 'c';
      }).after(a);
      task('d', (_c, v: number[]) => {
        count('d');
        return v;
      })(b).after(c);
    });
    const h = harness([d]);
    const run = await h.scheduler.triggerRun({ dagId: 'replay', runId: 'r1' });
    const results: { ti: TaskInstanceRecord; result: TryResult }[] = [];
    for (let guard = 0; guard < 100 && (h.dispatched.length || h.timers.length); guard++) {
      while (h.dispatched.length) {
        const ti = h.dispatched.shift()!;
        const result = await h.runner.run(ti, ti.tryNumber);
        expect(result).not.toBeNull();
        // A duplicate start of the same try runs nothing.
        expect(await h.runner.run(ti, ti.tryNumber)).toBeNull();
        await h.scheduler.handleTryResult(ti, ti.tryNumber, result!);
        const before = await h.snapshot(run);
        await h.scheduler.handleTryResult(ti, ti.tryNumber, result!);
        expect(await h.snapshot(run)).toEqual(before);
        results.push({ ti, result: result! });
      }
      const t = h.timers.shift();
      if (t) {
        h.advance(t.at - Date.UTC(2026, 0, 1));
        await h.scheduler.onTimer(t.event);
        const before = await h.snapshot(run);
        await h.scheduler.onTimer(t.event);
        expect(await h.snapshot(run)).toEqual(before);
      }
    }
    const final = await h.snapshot(run);
    expect(final.run?.state).toBe('success');
    expect(final.run?.pending).toBe(0);
    expect(final.tis).toEqual([
      ['a', -1, 'success', 1],
      ['b', 0, 'success', 1],
      ['b', 1, 'success', 1],
      ['b', 2, 'success', 1],
      ['c', -1, 'success', 2],
      ['d', -1, 'success', 1],
    ]);
    expect(Object.fromEntries(executions)).toEqual({ a: 1, b1: 1, b2: 1, b3: 1, c: 2, d: 1 });
    // A late report of c's failed first try, after c succeeded on its second, changes nothing.
    const late = results.find((r) => r.ti.taskId === 'c' && r.ti.tryNumber === 1)!;
    await h.scheduler.handleTryResult(late.ti, 1, late.result);
    expect(await h.snapshot(run)).toEqual(final);
    // Triggering the same run id again returns the existing run.
    expect((await h.scheduler.triggerRun({ dagId: 'replay', runId: 'r1' })).state).toBe('success');
    expect(await h.snapshot(run)).toEqual(final);
  });
});
