import { describe, expect, it } from 'vitest';
import { dag, SkipTask, task } from '../lib/index.ts';
import { autoPauseReason } from '../lib/scheduler/auto-pause.ts';
import { clearTaskInstances, setDagPaused } from '../lib/scheduler/operations.ts';
import { fakeRunner, localStores, states } from './helpers.ts';

const STORES = localStores();

const D1 = '2026-01-01T00:00:00.000Z';
const D2 = '2026-01-02T00:00:00.000Z';

describe.each(STORES)('depends_on_past (%s)', (_name, makeStore) => {
  it("a task waits, undecided, while its previous run's instance failed, and runs when that one is cleared and succeeds", async () => {
    let failFirst = true;
    const ran: string[] = [];
    const d = dag({ dagId: 'dop_fail' }, () => {
      const a = task({ taskId: 'a', dependsOnPast: true }, (ctx) => {
        ran.push(ctx.runId);
        if (failFirst && ctx.runId === 'r1') throw new Error('a fails in r1');
        return 1;
      });
      task('b', () => 2).after(a);
    });
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false });
    const first = await r.run({ dagId: 'dop_fail', runId: 'r1', logicalDate: D1 });
    expect(first.state).toBe('failed');

    const second = await r.trigger({ dagId: 'dop_fail', runId: 'r2', logicalDate: D2 });
    await r.idle();
    // r2 waits on r1's failed a: nothing decided, the run still running.
    expect((await r.store.getRun(second))?.state).toBe('running');
    expect(await r.store.listTaskInstances(second)).toEqual([]);
    expect(ran).toEqual(['r1']);

    failFirst = false;
    await r.drive((s) => clearTaskInstances(s, { dagId: 'dop_fail', runId: 'r1', taskIds: ['a'], downstream: true }));
    expect((await r.waitForRun(first)).state).toBe('success');
    // r1's a succeeding woke r2's a (no polling: the finish decided it).
    expect((await r.waitForRun(second)).state).toBe('success');
    expect(states(await r.report(second))).toEqual({ a: 'success', b: 'success' });
    expect(ran).toEqual(['r1', 'r1', 'r2']);
    expect(r.errors).toEqual([]);
  });

  it("runs of one DAG at once: the later run's task starts only after the earlier run's has succeeded", async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const d = dag({ dagId: 'dop_order' }, () => {
      task({ taskId: 'a', dependsOnPast: true }, async (ctx) => {
        order.push(`${ctx.runId} start`);
        if (ctx.runId === 'r1') await gate;
        order.push(`${ctx.runId} end`);
      });
    });
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false });
    const one = await r.trigger({ dagId: 'dop_order', runId: 'r1', logicalDate: D1 });
    const two = await r.trigger({ dagId: 'dop_order', runId: 'r2', logicalDate: D2 });
    expect(await r.store.listTaskInstances(two)).toEqual([]);
    release();
    expect((await r.waitForRun(one)).state).toBe('success');
    expect((await r.waitForRun(two)).state).toBe('success');
    expect(order).toEqual(['r1 start', 'r1 end', 'r2 start', 'r2 end']);
  });

  it("a skipped previous instance lets it run; the first run has no past to wait for", async () => {
    const d = dag({ dagId: 'dop_skip' }, () => {
      task({ taskId: 'a', dependsOnPast: true }, (ctx) => {
        if (ctx.runId === 'r1') throw new SkipTask('nothing to do');
        return 1;
      });
    });
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false });
    expect(states(await r.run({ dagId: 'dop_skip', runId: 'r1', logicalDate: D1 }))).toEqual({ a: 'skipped' });
    expect(states(await r.run({ dagId: 'dop_skip', runId: 'r2', logicalDate: D2 }))).toEqual({ a: 'success' });
  });

  it("wait_for_downstream: also waits for the previous run's direct downstream instances", async () => {
    let failB = true;
    const d = dag({ dagId: 'dop_wfd' }, () => {
      const a = task({ taskId: 'a', waitForDownstream: true }, () => 1);
      task('b', (ctx) => {
        if (failB && ctx.runId === 'r1') throw new Error('b fails in r1');
        return 2;
      }).after(a);
    });
    expect(d.task('a').dependsOnPast).toBe(true);
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false });
    const first = await r.run({ dagId: 'dop_wfd', runId: 'r1', logicalDate: D1 });
    expect(states(first)).toEqual({ a: 'success', b: 'failed' });
    const second = await r.trigger({ dagId: 'dop_wfd', runId: 'r2', logicalDate: D2 });
    await r.idle();
    expect(await r.store.listTaskInstances(second)).toEqual([]);
    failB = false;
    await r.drive((s) => clearTaskInstances(s, { dagId: 'dop_wfd', runId: 'r1', taskIds: ['b'] }));
    expect((await r.waitForRun(second)).state).toBe('success');
    expect(states(await r.report(second))).toEqual({ a: 'success', b: 'success' });
  });
});

describe.each(STORES)('ignoreFirstDependsOnPast (%s)', (_name, makeStore) => {
  it("a task new in this version runs when the previous run's version had no such task; without the option it waits", async () => {
    const v1 = dag({ dagId: 'dop_first' }, () => void task('a', () => 1));
    const v2 = dag({ dagId: 'dop_first' }, () => {
      task('a', () => 1);
      task({ taskId: 'x', dependsOnPast: true, ignoreFirstDependsOnPast: true }, () => 'x');
      task({ taskId: 'y', dependsOnPast: true }, () => 'y');
    });
    let current = v1;
    const r = fakeRunner([], {
      store: makeStore(),
      captureConsole: false,
      dags: { getDag: (dagId, version) => (dagId !== 'dop_first' ? undefined : version === v1.spec.version ? v1 : version === v2.spec.version ? v2 : current) },
    });
    expect(states(await r.run({ dagId: 'dop_first', runId: 'r1', logicalDate: D1 }))).toEqual({ a: 'success' });
    current = v2;
    const second = await r.trigger({ dagId: 'dop_first', runId: 'r2', logicalDate: D2 });
    await r.idle();
    expect((await r.store.getRun(second))?.state).toBe('running');
    expect((await r.store.listTaskInstances(second)).map((t) => [t.taskId, t.state])).toEqual([
      ['a', 'success'],
      ['x', 'success'],
    ]);
  });
});

describe.each(STORES)('max_consecutive_failed_dag_runs (%s)', (_name, makeStore) => {
  it('pauses the DAG, with its reason, when the latest N runs failed; unpausing clears it', async () => {
    let fails = true;
    const d = dag({ dagId: 'mcf', maxConsecutiveFailedDagRuns: 2 }, () => {
      task('a', () => {
        if (fails) throw new Error('a fails');
        return 1;
      });
    });
    expect(d.spec.maxConsecutiveFailedDagRuns).toBe(2);
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false });
    expect((await r.run({ dagId: 'mcf', runId: 'r1', logicalDate: D1 })).state).toBe('failed');
    expect((await r.store.getDagRecord('mcf'))?.paused ?? false).toBe(false);
    expect((await r.run({ dagId: 'mcf', runId: 'r2', logicalDate: D2 })).state).toBe('failed');
    const rec = await r.store.getDagRecord('mcf');
    expect([rec?.paused, rec?.pausedReason]).toEqual([true, 'auto-paused after 2 consecutive failed runs']);
    expect(autoPauseReason(1)).toBe('auto-paused after 1 consecutive failed run');

    // Paused: a new run waits queued.
    const third = await r.trigger({ dagId: 'mcf', runId: 'r3', logicalDate: '2026-01-03T00:00:00.000Z' });
    await r.idle();
    expect((await r.store.getRun(third))?.state).toBe('queued');

    fails = false;
    const unpaused = await r.drive((s) => setDagPaused(s, 'mcf', false));
    expect([unpaused.paused, unpaused.pausedReason ?? null]).toEqual([false, null]);
    expect((await r.waitForRun(third)).state).toBe('success');
    // Paused by a user: no reason.
    const byUser = await r.drive((s) => setDagPaused(s, 'mcf', true));
    expect(byUser.pausedReason ?? null).toBeNull();
  });

  it('a success between failures resets the count', async () => {
    const d = dag({ dagId: 'mcf_reset', maxConsecutiveFailedDagRuns: 2 }, () => {
      task('a', (ctx) => {
        if (ctx.runId !== 'r2') throw new Error('a fails');
        return 1;
      });
    });
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false });
    for (const [i, runId] of ['r1', 'r2', 'r3'].entries()) await r.run({ dagId: 'mcf_reset', runId, logicalDate: `2026-01-0${i + 1}T00:00:00.000Z` });
    expect((await r.store.getDagRecord('mcf_reset'))?.paused ?? false).toBe(false);
  });

  it('refuses a bad value, naming the field', () => {
    expect(() => dag({ dagId: 'mcf_bad', maxConsecutiveFailedDagRuns: 1.5 }, () => void task('a', () => 1))).toThrow(/mcf_bad.*maxConsecutiveFailedDagRuns.*integer/s);
  });
});
