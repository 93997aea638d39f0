import { describe, expect, it } from 'vitest';
import { branch, dag, empty, sensor, shortCircuit, task, taskGroup, triggerDag, chain } from '../lib/index.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler } from '../lib/scheduler/scheduler.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import type { RunRef } from '../lib/store/records.ts';
import { SqliteStateStore } from '../lib/store/sqlite-store.ts';
import type { StateStore } from '../lib/store/state-store.ts';
import { fakeRunner, states, tries, errorText } from './helpers.ts';

const out = async (r: ReturnType<typeof fakeRunner>, run: RunRef, taskId: string, mapIndex = -1) =>
  (await r.store.getXCom(run, taskId, mapIndex, 'return_value'))?.value;

describe('branching', () => {
  const d = dag({ dagId: 'branchy', params: { path: { type: 'string', enum: ['a', 'b', 'none'], default: 'a' } } }, ({ branch }) => {
    const pick = branch('pick', (ctx) => (ctx.params.path === 'none' ? null : `path_${ctx.params.path}`));
    const a = task('path_a', () => 'A');
    const a2 = task('after_a', () => 'A2').after(a);
    const b = task('path_b', () => 'B');
    pick.before(a, b);
    empty('join', { triggerRule: 'none_failed_min_one_success' }).after(a2, b);
  });
  it('follows the chosen path, skips the other, and the join runs', async () => {
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'branchy', conf: { path: 'b' } });
    expect(states(report)).toEqual({ pick: 'success', path_a: 'skipped', after_a: 'skipped', path_b: 'success', join: 'success' });
    expect(await out(r, report, 'pick')).toEqual(['path_b']);
    expect(report.state).toBe('success');
  });
  it('returning null skips every branch, and the join is skipped', async () => {
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'branchy', conf: { path: 'none' } });
    expect(states(report)).toEqual({ pick: 'success', path_a: 'skipped', after_a: 'skipped', path_b: 'skipped', join: 'skipped' });
  });
  it('returning a task that is not a direct downstream fails the branch with the ids named', async () => {
    const bad = dag({ dagId: 'badbranch' }, () => {
      branch('pick', () => 'nowhere').before(task('x', () => 1));
    });
    const r = fakeRunner([bad]);
    const report = await r.run({ dagId: 'badbranch' });
    expect(states(report)).toEqual({ pick: 'failed', x: 'upstream_failed' });
    const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'pick', mapIndex: -1 });
    expect(errorText(ti?.error)).toBe('NonRetriableError: branch returned "nowhere", which is not a direct downstream task (downstream: x)');
  });
});

describe('short-circuit', () => {
  const build = (ignore: boolean) =>
    dag({ dagId: `sc_${ignore}` }, () => {
      const gate = shortCircuit('gate', () => false, { ignoreDownstreamTriggerRules: ignore });
      const x = task('x', () => 1).after(gate);
      const y = task('y', () => 2, { triggerRule: 'all_done' }).after(x);
      task('z', () => 3, { triggerRule: 'always' }).after(y);
    });
  it('skips everything downstream by default', async () => {
    const r = fakeRunner([build(true)]);
    const report = await r.run({ dagId: 'sc_true' });
    expect(states(report)).toEqual({ gate: 'success', x: 'skipped', y: 'skipped', z: 'skipped' });
    expect(await out(r, report, 'gate')).toBe(false);
  });
  it('with ignoreDownstreamTriggerRules false, only direct downstream tasks; the rest follow their rules', async () => {
    const r = fakeRunner([build(false)]);
    const report = await r.run({ dagId: 'sc_false' });
    expect(states(report)).toEqual({ gate: 'success', x: 'skipped', y: 'success', z: 'success' });
  });
  it('a truthy result lets the downstream run', async () => {
    const d = dag({ dagId: 'sc_go' }, () => {
      shortCircuit('gate', () => 'yes').before(task('x', () => 1));
    });
    const report = await fakeRunner([d]).run({ dagId: 'sc_go' });
    expect(states(report)).toEqual({ gate: 'success', x: 'success' });
  });
});

describe('run ids are per DAG', () => {
  it('two DAGs each have their run `scheduled__<date>`, with separate state; a repeated trigger finds its own DAG’s', async () => {
    const a = dag({ dagId: 'ids_a' }, () => void task('t', () => 'a'));
    const b = dag({ dagId: 'ids_b' }, () => void task('t', () => 'b'));
    const runner = fakeRunner([a, b]);
    const id = 'scheduled__2026-01-01T00:00:00.000Z';
    const runA = await runner.trigger({ dagId: 'ids_a', runId: id, runType: 'scheduled' });
    const runB = await runner.trigger({ dagId: 'ids_b', runId: id, runType: 'scheduled' });
    expect([runA.dagId, runA.runId]).toStrictEqual(['ids_a', id]);
    expect([runB.dagId, runB.runId]).toStrictEqual(['ids_b', id]);
    // Each top-level run owns a pipeline scope of its own.
    expect([runA.pipelineScope, runB.pipelineScope]).toStrictEqual([`ids_a/${id}`, `ids_b/${id}`]);
    const again = await runner.trigger({ dagId: 'ids_b', runId: id, runType: 'scheduled' });
    expect([again.dagId, again.runId, again.queuedAt]).toStrictEqual(['ids_b', id, runB.queuedAt]);
    expect((await runner.waitForRun(runA)).state).toBe('success');
    expect((await runner.waitForRun(runB)).state).toBe('success');
    expect((await runner.store.getXCom(runA, 't', -1, 'return_value'))?.value).toBe('a');
    expect((await runner.store.getXCom(runB, 't', -1, 'return_value'))?.value).toBe('b');
    expect((await runner.store.listRuns({ dagId: 'ids_a' })).map((r) => r.runId)).toStrictEqual([id]);
    expect((await runner.store.listRuns({ dagId: 'ids_b' })).map((r) => r.runId)).toStrictEqual([id]);
    expect(runner.errors).toEqual([]);
  });

  it('a trigger without a run id or a logical date gets `manual__<time>_<8 letters and digits>`; with a logical date, `manual__<logical date>`', async () => {
    const d = dag({ dagId: 'ids_gen' }, () => void task('t', () => 1));
    const runner = fakeRunner([d]);
    const generated = await runner.trigger({ dagId: 'ids_gen' });
    expect(generated.runId).toMatch(/^manual__2026-01-01T00:00:00\.000Z_[A-Za-z0-9]{8}$/);
    expect(generated.logicalDate).toBe('2026-01-01T00:00:00.000Z');
    const dated = await runner.trigger({ dagId: 'ids_gen', logicalDate: '2025-12-31T00:00:00.000Z' });
    expect(dated.runId).toBe('manual__2025-12-31T00:00:00.000Z');
    expect((await runner.trigger({ dagId: 'ids_gen', logicalDate: '2025-12-31T00:00:00.000Z' })).queuedAt).toBe(dated.queuedAt);
    await runner.idle();
    expect((await runner.store.listRuns({ dagId: 'ids_gen' })).length).toBe(2);
  });

  const STORES: [string, () => StateStore][] = [
    ['memory store', () => new MemoryStateStore()],
    ['SQLite store', () => new SqliteStateStore({ path: join(mkdtempSync(join(tmpdir(), 'airless-ids-')), 'airless.db') })],
  ];
  it.each(STORES)('1,000 concurrent triggers of one DAG in the same millisecond, without a run id, make 1,000 runs (%s)', async (_name, makeStore) => {
    const d = dag({ dagId: 'ids_many' }, () => void task('t', () => 1));
    const store = makeStore();
    const now = Date.UTC(2026, 0, 1);
    // A clock that stands still (every trigger in one millisecond); what the triggers ask for is not carried out.
    const scheduler = new Scheduler(store, { getDag: (id) => (id === d.dagId ? d : undefined) }, { now: () => now });
    const results = await Promise.allSettled(Array.from({ length: 1000 }, async () => (await scheduler.triggerRun({ dagId: 'ids_many' })).value));
    const errors = results.filter((r) => r.status === 'rejected');
    expect(errors).toEqual([]);
    const ids = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.runId] : []));
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^manual__2026-01-01T00:00:00\.000Z_[A-Za-z0-9]{8}$/);
    const runs = await store.listRuns({ dagId: 'ids_many' });
    expect(runs.length).toBe(1000);
    expect(new Set(runs.map((r) => r.pipelineScope)).size).toBe(1000);
    if (store instanceof SqliteStateStore) store.close();
  });
});

describe('triggerRun exclusive', () => {
  it('refuses a run id that exists with a RunExistsError naming it; without exclusive the trigger is idempotent', async () => {
    const a = dag({ dagId: 'excl_a' }, () => void task('t', () => 'a'));
    const runner = fakeRunner([a]);
    const first = await runner.trigger({ dagId: 'excl_a', runId: 'r1' });
    expect((await runner.trigger({ dagId: 'excl_a', runId: 'r1' })).queuedAt).toBe(first.queuedAt);
    await expect(runner.trigger({ dagId: 'excl_a', runId: 'r1', exclusive: true })).rejects.toMatchObject({
      name: 'RunExistsError',
      message: expect.stringContaining("run 'r1' of DAG 'excl_a' exists already"),
    });
    expect((await runner.store.listRuns({ dagId: 'excl_a' })).map((r) => r.runId)).toStrictEqual(['r1']);
  });
});

describe('triggerDag', () => {
  const child = dag(
    { dagId: 'child', params: { n: { type: 'integer', default: 1 }, fail: { type: 'boolean', default: false } } },
    ({ task }) => {
      task('work', async (ctx) => {
        if (ctx.params.fail) throw new Error('child failed');
        const p = await ctx.pipeline.load();
        await ctx.pipeline.save('child', { n: ctx.params.n, sawParent: p.stages['parent'] ?? null });
        return ctx.params.n * 2;
      });
    },
  );
  const parent = (wait: boolean, fail = false) =>
    dag({ dagId: `parent_${wait}_${fail}` }, () => {
      const prep = task('prep', async (ctx) => {
        await ctx.pipeline.save('parent', { qa: 0.9 });
        return 21;
      });
      const t = triggerDag('run_child', { triggerDagId: 'child', conf: { n: prep, fail }, waitForCompletion: wait });
      task('after', async (ctx) => (await ctx.pipeline.load()).history.map((h) => h.stage)).after(t);
    });

  it('waits for the triggered run, passes conf with upstream results, shares the pipeline context', async () => {
    const p = parent(true);
    const r = fakeRunner([p, child]);
    const report = await r.run({ dagId: p.dagId });
    expect(report.state).toBe('success');
    expect(states(report)).toEqual({ prep: 'success', run_child: 'success', after: 'success' });
    expect(report.triggeredRuns).toHaveLength(1);
    const c = report.triggeredRuns![0]!;
    expect(c).toMatchObject({ dagId: 'child', state: 'success', tasks: [{ taskId: 'work', mapIndex: null, state: 'success', tryNumber: 1 }] });
    expect(await out(r, c, 'work')).toBe(42);
    expect(await out(r, report, 'run_child')).toEqual({ runId: c.runId, dagId: 'child', state: 'success' });
    expect(await out(r, report, 'after')).toEqual(['parent', 'child']);
    const saves = await r.store.listPipelineSaves(`${p.dagId}/${report.runId}`);
    expect(saves.map((s) => [s.stage, s.dagId, s.data])).toEqual([
      ['parent', p.dagId, { qa: 0.9 }],
      ['child', 'child', { n: 21, sawParent: { qa: 0.9 } }],
    ]);
  });

  it('fails when the triggered run fails', async () => {
    const p = parent(true, true);
    const r = fakeRunner([p, child]);
    const report = await r.run({ dagId: p.dagId });
    expect(states(report)).toEqual({ prep: 'success', run_child: 'failed', after: 'upstream_failed' });
    expect(report.triggeredRuns?.[0]?.state).toBe('failed');
    const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'run_child', mapIndex: -1 });
    expect(errorText(ti?.error)).toMatch(/^TriggeredRunFailedError: triggered run .* of 'child' ended failed$/);
  });

  it('without waitForCompletion succeeds at once and the child still runs to the end', async () => {
    const p = parent(false);
    const r = fakeRunner([p, child]);
    const report = await r.run({ dagId: p.dagId });
    expect(states(report)).toEqual({ prep: 'success', run_child: 'success', after: 'success' });
    expect(report.triggeredRuns?.[0]?.state).toBe('success');
  });

  it('a conf that fails the triggered DAG params fails the task with the param named', async () => {
    const bad = dag({ dagId: 'bad_trigger' }, () => {
      triggerDag('t', { triggerDagId: 'child', conf: { n: 'many' } });
    });
    const r = fakeRunner([bad, child]);
    const report = await r.run({ dagId: 'bad_trigger' });
    expect(states(report)).toEqual({ t: 'failed' });
    const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 't', mapIndex: -1 });
    expect(errorText(ti?.error)).toBe(`ParamValidationError: DAG 'child', field 'params.n': param 'n' = "many" is invalid: value must be integer`);
  });
});

describe('sensors (deferrable)', () => {
  it('pokes on a timer until the condition holds; nothing runs in between', async () => {
    let pokes = 0;
    const d = dag({ dagId: 'sense' }, () => {
      const s = sensor('wait_file', () => ++pokes >= 4, { pokeInterval: '30s', timeout: '1h' });
      task('after', () => 1).after(s);
    });
    const r = fakeRunner([d]);
    const t0 = r.clock.now();
    const seen: string[] = [];
    r.on((e) => {
      if (e.type === 'ti' && e.ti.taskId === 'wait_file') seen.push(e.ti.state);
    });
    const report = await r.run({ dagId: 'sense' });
    expect(states(report)).toEqual({ wait_file: 'success', after: 'success' });
    expect(pokes).toBe(4);
    expect(tries(report).wait_file).toBe(1);
    expect(r.clock.now() - t0).toBe(3 * 30_000);
    expect(seen.filter((s) => s === 'deferred')).toHaveLength(3);
  });
  it('times out: failed (not retried), or skipped with softFail; PokeResult carries a value', async () => {
    const d = dag({ dagId: 'sense_to', defaultArgs: { retries: 2 } }, () => {
      sensor('hard', () => false, { pokeInterval: '1m', timeout: '5m' });
      sensor('soft', () => false, { pokeInterval: '1m', timeout: '5m', softFail: true });
      sensor('valued', () => ({ isDone: true, xcomValue: { path: 's3://b/k' } }));
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'sense_to' });
    expect(states(report)).toEqual({ hard: 'failed', soft: 'skipped', valued: 'success' });
    expect(tries(report).hard).toBe(1);
    const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'hard', mapIndex: -1 });
    expect(errorText(ti?.error)).toBe('SensorTimeoutError: sensor timed out after 300000 ms (timeout 300000 ms, 6 pokes)');
    expect(await out(r, report, 'valued')).toEqual({ path: 's3://b/k' });
  });
});

describe('pools and concurrency limits', () => {
  it('a pool caps concurrent tasks; maxActiveTisPerDag caps one task', async () => {
    let running = 0;
    let max = 0;
    let runningM = 0;
    let maxM = 0;
    const slow = async (get: () => number, set: (n: number) => void, setMax: (n: number) => void) => {
      set(get() + 1);
      setMax(get());
      await new Promise((r) => setTimeout(r, 5));
      set(get() - 1);
    };
    const d = dag({ dagId: 'pooled', maxActiveTasks: 100 }, () => {
      for (let i = 0; i < 6; i++) task(`t${i}`, () => slow(() => running, (n) => (running = n), (n) => (max = Math.max(max, n))), { pool: 'api' });
      task('m', (_c, _x: number) => slow(() => runningM, (n) => (runningM = n), (n) => (maxM = Math.max(maxM, n))), { maxActiveTisPerDag: 3 }).expand([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
    const r = fakeRunner([d], { pools: { api: 2 } });
    const report = await r.run({ dagId: 'pooled' });
    expect(report.state).toBe('success');
    expect(max).toBe(2);
    expect(maxM).toBe(3);
  });
  it('an unknown pool fails the task with the pool named', async () => {
    const d = dag({ dagId: 'nopool' }, () => {
      task('t', () => 1, { pool: 'gpu' });
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'nopool' });
    expect(states(report)).toEqual({ t: 'failed' });
    const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 't', mapIndex: -1 });
    expect(errorText(ti?.error)).toMatch(/^PoolError: pool 'gpu' does not exist/);
  });
});

describe('runs', () => {
  it('maxActiveRuns queues extra runs until one ends', async () => {
    const d = dag({ dagId: 'one_at_a_time', maxActiveRuns: 1 }, () => {
      sensor('s', () => true);
    });
    const r = fakeRunner([d]);
    const a = await r.trigger({ dagId: 'one_at_a_time', runId: 'a' });
    const b = await r.trigger({ dagId: 'one_at_a_time', runId: 'b' });
    expect(a.state).toBe('running');
    expect(b.state).toBe('queued');
    await r.waitForRun({ dagId: 'one_at_a_time', runId: 'a' });
    expect((await r.waitForRun({ dagId: 'one_at_a_time', runId: 'b' })).state).toBe('success');
  });
  it('dagrunTimeout fails the run and skips what had not finished', async () => {
    const d = dag({ dagId: 'too_long', dagrunTimeout: '10m' }, () => {
      const s = sensor('never', () => false, { pokeInterval: '1m', timeout: '1d' });
      task('after', () => 1).after(s);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'too_long' });
    expect(report.state).toBe('failed');
    expect(states(report)).toEqual({ never: 'skipped', after: null });
    expect((await r.store.getRun(report))?.note).toBe('dagrun timeout: the run took longer than 600000 ms');
  });
  it('the run outcome follows the leaves: a failed middle task with an all_done leaf that succeeds', async () => {
    const d = dag({ dagId: 'leafrule' }, () => {
      const a = task('a', () => {
        throw new Error('x');
      });
      task('cleanup', () => 1, { triggerRule: 'all_done' }).after(a);
    });
    const report = await fakeRunner([d]).run({ dagId: 'leafrule' });
    expect(states(report)).toEqual({ a: 'failed', cleanup: 'success' });
    expect(report.state).toBe('success');
  });
  it('task groups prefix ids, apply group defaultArgs, and chain() wires groups', async () => {
    let tried = 0;
    const d = dag({ dagId: 'grouped', defaultArgs: { retries: 0 } }, () => {
      const start = empty('start');
      const g = taskGroup('cal', { defaultArgs: { retries: 2, retryDelay: '1s' } }, () => {
        const a = task('gain', () => {
          if (++tried < 3) throw new Error('flaky');
          return 1;
        });
        task('bandpass', () => 2).after(a);
      });
      const end = empty('end');
      chain(start, g, end);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'grouped' });
    expect(states(report)).toEqual({ start: 'success', 'cal.gain': 'success', 'cal.bandpass': 'success', end: 'success' });
    expect(tries(report)['cal.gain']).toBe(3);
    expect(d.task('cal.gain').upstream).toEqual(['start']);
    expect(d.task('end').upstream).toEqual(['cal.bandpass']);
  });
});

describe('internal errors', () => {
  it('an internal error fails its run with a note, is reported, and frees its maxActiveRuns unit', async () => {
    // Fault injection: the store fails to write the logs of run 'a'.
    class FlakyStore extends MemoryStateStore {
      override async appendLog(...args: Parameters<MemoryStateStore['appendLog']>): Promise<void> {
        if (args[0].runId === 'a') throw new Error('disk full');
        return super.appendLog(...args);
      }
    }
    const d = dag({ dagId: 'one_run', maxActiveRuns: 1 }, () => {
      task('t', () => 1);
    });
    const r = fakeRunner([d], { store: new FlakyStore() });
    await r.trigger({ dagId: 'one_run', runId: 'a' });
    const b = await r.trigger({ dagId: 'one_run', runId: 'b' });
    expect(b.state).toBe('queued');
    const a = await r.waitForRun({ dagId: 'one_run', runId: 'a' });
    expect(a.state).toBe('failed');
    expect(a.note).toBe("internal error in task 't': Error: disk full");
    expect(r.errors).toEqual([{ run: { dagId: 'one_run', runId: 'a' }, where: "task 't'", error: 'Error: disk full' }]);
    expect((await r.waitForRun({ dagId: 'one_run', runId: 'b' })).state).toBe('success');
  });
});
