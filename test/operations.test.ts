import { describe, expect, it } from 'vitest';
import { batchJob, dag, sensor, task } from '../lib/index.ts';
import type { BatchJobResult } from '../lib/authoring/operators.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import type { RunnerEvent } from '../lib/runner/local-runner.ts';
import { clearTaskInstances, createBackfill, deleteDag, listBackfillRuns, listBackfills, OperationError, setDagPaused, type ClearResult, type DeleteDagResult } from '../lib/scheduler/operations.ts';
import type { RunRef } from '../lib/store/records.ts';
import type { StateStore } from '../lib/store/state-store.ts';
import { fakeRunner, localStores, states, tries } from './helpers.ts';

const STORES = localStores();

/** A fake-clock runner on a new store of the kind, recording the run events (for "ended once"). */
function runner(makeStore: () => StateStore, dags: Dag[], options: { pools?: Record<string, number> } = {}) {
  const runEvents: { runId: string; state: string }[] = [];
  const r = fakeRunner(dags, { store: makeStore(), captureConsole: false, ...options, onEvent: (e: RunnerEvent) => e.type === 'run' && runEvents.push({ runId: e.run.runId, state: e.run.state }) });
  return Object.assign(r, { runEvents, ends: (runId: string) => runEvents.filter((e) => e.runId === runId && (e.state === 'success' || e.state === 'failed')).length });
}

const xcom = async (r: ReturnType<typeof fakeRunner>, run: RunRef, taskId: string, mapIndex = -1) => (await r.store.getXCom(run, taskId, mapIndex, 'return_value'))?.value;
const logOf = async (r: ReturnType<typeof fakeRunner>, run: RunRef, taskId: string, mapIndex: number, tryNumber: number) =>
  (await r.store.getLog({ dagId: run.dagId, runId: run.runId, taskId, mapIndex }, tryNumber)).map((l) => l.message);
const tally = (over: Partial<Record<'success' | 'failed' | 'skipped' | 'upstream_failed' | 'removed', number>>) => ({ success: 0, failed: 0, skipped: 0, upstream_failed: 0, removed: 0, ...over });

describe.each(STORES)('clearing task instances (%s)', (_name, makeStore) => {
  it('a failed task with its downstream reruns with try n+1, retries counted again, and the run ends success', async () => {
    let failB = true;
    const d = dag({ dagId: 'clr_failed' }, () => {
      const a = task('a', () => 1);
      const b = task('b', (_c, x: number) => {
        if (failB) throw new Error('b fails');
        return x + 1;
      })(a);
      task('c', (_c, y: number) => y * 10)(b);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'clr_failed' });
    expect(first.state).toBe('failed');
    expect(states(first)).toEqual({ a: 'success', b: 'failed', c: 'upstream_failed' });
    const runId = first.runId;
    const endedBefore = (await r.store.getRun(first))!.endDate;
    expect(endedBefore).not.toBeNull();

    failB = false;
    const res = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_failed', runId, taskIds: ['b'], downstream: true }));
    expect(res.cleared.map((c) => [c.taskId, c.state, c.tryNumber, c.nextTry, c.mode])).toEqual([
      ['b', 'failed', 1, 2, 'redecide'],
      ['c', 'upstream_failed', 0, 1, 'redecide'],
    ]);
    expect(res.skipped).toEqual([]);
    // The finished run went back to queued and started again at once (maxActiveRuns allows).
    expect(res.runState).toEqual({ before: 'failed', after: 'running' });
    expect((await r.store.getRun(first))?.endDate).toBeNull();

    const ended = await r.waitForRun(first);
    expect(ended.state).toBe('success');
    expect(ended.endDate).not.toBeNull();
    expect(ended.pending).toBe(0);
    const report = await r.report(first);
    expect(states(report)).toEqual({ a: 'success', b: 'success', c: 'success' });
    expect(tries(report)).toEqual({ a: 1, b: 2, c: 1 });
    expect(await xcom(r, first, 'c')).toBe(20);
    expect(await logOf(r, first, 'b', -1, 2)).toContain('starting try 2 of 2');
    // The first try's log is still there.
    expect((await logOf(r, first, 'b', -1, 1)).join('\n')).toMatch(/b fails/);
    expect(r.ends(runId)).toBe(2);
    expect(r.errors).toEqual([]);
  });

  it("retries apply again after a clear (maxTries = tries so far + retries + 1, Airflow's max_tries)", async () => {
    let attempts = 0;
    const d = dag({ dagId: 'clr_retries' }, () => {
      task(
        'flaky',
        () => {
          attempts++;
          if (attempts < 4) throw new Error(`attempt ${attempts} fails`);
          return attempts;
        },
        { retries: 1, retryDelay: '1m' },
      );
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'clr_retries' });
    expect(states(first)).toEqual({ flaky: 'failed' });
    expect(tries(first)).toEqual({ flaky: 2 });
    const res = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_retries', runId: first.runId }));
    expect(res.cleared.map((c) => [c.taskId, c.tryNumber, c.nextTry])).toEqual([['flaky', 2, 3]]);
    const ended = await r.waitForRun(first);
    expect(ended.state).toBe('success');
    const ti = await r.store.getTaskInstance({ dagId: first.dagId, runId: first.runId, taskId: 'flaky', mapIndex: -1 });
    // Try 3 failed and was retried (try 4 of 4): the retry counted from the clear.
    expect(ti).toMatchObject({ state: 'success', tryNumber: 4, maxTries: 4 });
    expect(await logOf(r, first, 'flaky', -1, 3)).toContain('starting try 3 of 4');
  });

  it('with downstream after a success: everything downstream reruns, the join counts exactly its upstreams, the run ends again once', async () => {
    const ran: string[] = [];
    const d = dag({ dagId: 'clr_down' }, () => {
      const a = task('a', () => (ran.push('a'), 'A'));
      const b = task('b', () => (ran.push('b'), 'B'));
      const join = task('join', (_c, v: { a: string; b: string }) => (ran.push('join'), v.a + v.b))({ a, b });
      task('d', (_c, j: string) => (ran.push('d'), `${j}!`))(join);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'clr_down' });
    expect(first.state).toBe('success');
    const runId = first.runId;
    ran.length = 0;

    const res = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_down', runId, taskIds: ['a'], downstream: true }));
    expect(res.cleared.map((c) => c.taskId)).toEqual(['a', 'join', 'd']);
    const ended = await r.waitForRun(first);
    expect(ended.state).toBe('success');
    // a reran first; the join waited for it as in a fresh run; b did not rerun.
    expect(ran).toEqual(['a', 'join', 'd']);
    expect(tries(await r.report(first))).toEqual({ a: 2, b: 1, join: 2, d: 2 });
    expect(await xcom(r, first, 'd')).toBe('AB!');
    // No double counting: every tally holds each finished instance once.
    const [sa, sb, sj, sd] = await r.store.getTaskStates(first, ['a', 'b', 'join', 'd']);
    expect(sa?.self).toEqual(tally({ success: 1 }));
    expect(sb?.self).toEqual(tally({ success: 1 }));
    expect(sj?.upstream).toEqual(tally({ success: 2 }));
    expect(sj?.self).toEqual(tally({ success: 1 }));
    expect(sd?.upstream).toEqual(tally({ success: 1 }));
    expect(ended.pending).toBe(0);
    expect(r.ends(runId)).toBe(2);
  });

  it('onlyFailed clears the failed and upstream_failed instances only', async () => {
    let fail = true;
    const d = dag({ dagId: 'clr_only_failed' }, () => {
      const a = task('a', () => 1);
      const b = task('b', () => {
        if (fail) throw new Error('no');
        return 2;
      }).after(a);
      task('c', () => 3).after(b);
      task('x', () => 4);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'clr_only_failed' });
    expect(states(first)).toEqual({ a: 'success', b: 'failed', c: 'upstream_failed', x: 'success' });
    fail = false;
    const res = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_only_failed', runId: first.runId, onlyFailed: true }));
    expect(res.cleared.map((c) => [c.taskId, c.state])).toEqual([
      ['b', 'failed'],
      ['c', 'upstream_failed'],
    ]);
    expect((await r.waitForRun(first)).state).toBe('success');
    expect(tries(await r.report(first))).toEqual({ a: 1, b: 2, c: 1, x: 1 });
  });

  it('a failed map index reruns alone (its siblings keep their try); the join sees every index once', async () => {
    const bad = new Set([2]);
    const d = dag({ dagId: 'clr_mapped' }, () => {
      const items = task('items', () => [0, 1, 2, 3]);
      const m = task('m', (_c, x: number) => {
        if (bad.has(x)) throw new Error(`item ${x} is bad`);
        return x * x;
      }).expand(items);
      task('join', (_c, xs: number[]) => xs.reduce((s, x) => s + x, 0))(m);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'clr_mapped' });
    expect(states(first)).toEqual({ items: 'success', 'm[0]': 'success', 'm[1]': 'success', 'm[2]': 'failed', 'm[3]': 'success', join: 'upstream_failed' });
    bad.clear();
    const res = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_mapped', runId: first.runId, taskIds: ['m'], mapIndexes: [2], downstream: true }));
    expect(res.cleared.map((c) => [c.taskId, c.mapIndex, c.mode, c.nextTry])).toEqual([
      ['m', 2, 'rerun', 2],
      ['join', -1, 'redecide', 1],
    ]);
    expect((await r.waitForRun(first)).state).toBe('success');
    const report = await r.report(first);
    expect(tries(report)).toEqual({ items: 1, 'm[0]': 1, 'm[1]': 1, 'm[2]': 2, 'm[3]': 1, join: 1 });
    expect(await xcom(r, first, 'join')).toBe(0 + 1 + 4 + 9);
    const [m, join] = await r.store.getTaskStates(first, ['m', 'join']);
    expect(m?.self).toEqual(tally({ success: 4 }));
    expect(join?.upstream).toEqual(tally({ success: 4 }));
    expect(join?.upstreamAddedTotal).toBe(4);
  });

  it('a mapped task whose upstream is cleared expands again to the new list (growing, then shrinking)', async () => {
    let n = 3;
    const d = dag({ dagId: 'clr_reexpand' }, () => {
      const items = task('items', () => Array.from({ length: n }, (_, i) => i + 1));
      const m = task('m', (_c, x: number) => x * 10).expand(items);
      task('join', (_c, xs: number[]) => xs)(m);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'clr_reexpand' });
    const runId = first.runId;
    expect(await xcom(r, first, 'join')).toEqual([10, 20, 30]);

    n = 5;
    const res = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_reexpand', runId, taskIds: ['items'], downstream: true }));
    expect(res.cleared.map((c) => `${c.taskId}[${c.mapIndex}]:${c.mode}`)).toEqual(['items[-1]:redecide', 'm[0]:redecide', 'm[1]:redecide', 'm[2]:redecide', 'join[-1]:redecide']);
    expect((await r.waitForRun(first)).state).toBe('success');
    expect(await xcom(r, first, 'join')).toEqual([10, 20, 30, 40, 50]);
    // The new instances continue from the old ones' tries.
    expect(tries(await r.report(first))).toEqual({ items: 2, 'm[0]': 2, 'm[1]': 2, 'm[2]': 2, 'm[3]': 2, 'm[4]': 2, join: 2 });
    let [m, join] = await r.store.getTaskStates(first, ['m', 'join']);
    expect([m?.decision, m?.mapCount, m?.self]).toEqual(['expanded', 5, tally({ success: 5 })]);
    expect([join?.upstream, join?.upstreamAddedTotal, join?.upstreamExpanded]).toEqual([tally({ success: 5 }), 5, 1]);

    n = 2;
    await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_reexpand', runId, taskIds: ['items'], downstream: true }));
    const ended = await r.waitForRun(first);
    expect(ended.state).toBe('success');
    expect(ended.pending).toBe(0);
    expect(await xcom(r, first, 'join')).toEqual([10, 20]);
    expect((await r.store.listXComs(first, 'm', 'return_value')).map((x) => x.mapIndex)).toEqual([0, 1]);
    [m, join] = await r.store.getTaskStates(first, ['m', 'join']);
    expect([m?.mapCount, m?.self]).toEqual([2, tally({ success: 2 })]);
    expect([join?.upstream, join?.upstreamAddedTotal, join?.upstreamExpanded]).toEqual([tally({ success: 2 }), 2, 1]);
    expect(r.ends(runId)).toBe(3);
  });

  it('a map index of an array task comes back as a new wave of its group, its try after the group\'s highest', async () => {
    const d = dag({ dagId: 'clr_array' }, () => {
      const items = task('items', () => [0, 1, 2].map((i) => ({ environment: { ITEM: String(i) } })));
      const jobs = batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', local: { simulate: { duration: '20s' } } }).expandKwargs(items);
      task('ids', (_c, rs: BatchJobResult[]) => rs.map((x) => x.jobId))(jobs);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'clr_array' });
    expect(first.state).toBe('success');
    const runId = first.runId;
    const before = (await xcom(r, first, 'ids')) as string[];
    expect(before).toHaveLength(3);

    const res = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_array', runId, taskIds: ['job'], mapIndexes: [1], downstream: true }));
    expect(res.cleared.map((c) => [c.taskId, c.mapIndex, c.mode, c.nextTry])).toEqual([
      ['job', 1, 'rerun', 2],
      ['ids', -1, 'redecide', 2],
    ]);
    expect((await r.waitForRun(first)).state).toBe('success');
    expect(tries(await r.report(first))).toEqual({ items: 1, 'job[0]': 1, 'job[1]': 2, 'job[2]': 1, ids: 2 });
    // A wave of one is a plain job; its name is the group's and the new try's.
    expect(await logOf(r, first, 'job', 1, 2)).toContainEqual(expect.stringMatching(/^starting try 2 of 2 as Batch job clr_array-job-[0-9a-f]{12}-g0-try2$/));
    const after = (await xcom(r, first, 'ids')) as string[];
    expect(after[0]).toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);

    // Indexes 0 and 2 (at try 1) come back together, one array of two children, after the group's
    // highest try (2): try 3, so that no wave name repeats.
    const again = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_array', runId, taskIds: ['job'], mapIndexes: [0, 2] }));
    expect(again.cleared.map((c) => [c.mapIndex, c.tryNumber, c.nextTry])).toEqual([
      [0, 1, 3],
      [2, 1, 3],
    ]);
    expect((await r.waitForRun(first)).state).toBe('success');
    expect(await logOf(r, first, 'job', 0, 3)).toContainEqual(expect.stringMatching(/^starting try 3 of 3 as child 0 of Batch array job clr_array-job-[0-9a-f]{12}-g0-try3 \(2 children\)$/));
    expect(await logOf(r, first, 'job', 2, 3)).toContainEqual(expect.stringMatching(/^starting try 3 of 3 as child 1 of Batch array job clr_array-job-[0-9a-f]{12}-g0-try3 \(2 children\)$/));
    expect(tries(await r.report(first))).toEqual({ items: 1, 'job[0]': 3, 'job[1]': 2, 'job[2]': 3, ids: 2 });
    expect(r.errors).toEqual([]);
  });

  it('clearing a task of a running run: it reruns, the run goes on and ends once', async () => {
    let aFails = true;
    let pokes = 0;
    let cleared: ClearResult | null = null;
    const d = dag({ dagId: 'clr_running' }, () => {
      task('a', () => {
        if (aFails) throw new Error('a fails');
        return 'a';
      });
      sensor(
        'wait',
        async (ctx) => {
          pokes++;
          if (pokes === 2) {
            // a has failed meanwhile; the run is still running (this sensor is not done).
            aFails = false;
            cleared = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_running', runId: ctx.runId, taskIds: ['a'] }));
          }
          return pokes >= 3;
        },
        { pokeInterval: '1m' },
      );
    });
    const r = runner(makeStore, [d]);
    const report = await r.run({ dagId: 'clr_running' });
    expect(report.state).toBe('success');
    expect(cleared).toMatchObject({ runState: { before: 'running', after: 'running' }, cleared: [{ taskId: 'a', state: 'failed', nextTry: 2 }] });
    expect(tries(report)).toEqual({ a: 2, wait: 1 });
    expect(r.ends(report.runId)).toBe(1);
    expect((await r.store.getRun(report))?.pending).toBe(0);
  });

  it('instances that have not finished are left alone and reported', async () => {
    let pokes = 0;
    let cleared: ClearResult | null = null;
    const d = dag({ dagId: 'clr_inflight' }, () => {
      const a = task('a', () => 1);
      sensor(
        'wait',
        async (ctx) => {
          if (++pokes === 2) cleared = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_inflight', runId: ctx.runId }));
          return pokes >= 2;
        },
        { pokeInterval: '1m' },
      ).after(a);
    });
    const r = runner(makeStore, [d]);
    const report = await r.run({ dagId: 'clr_inflight' });
    expect(report.state).toBe('success');
    expect(cleared).toMatchObject({ cleared: [{ taskId: 'a' }], skipped: [{ taskId: 'wait', state: 'running', reason: expect.stringMatching(/only finished instances/) }] });
    expect(tries(report)).toEqual({ a: 2, wait: 1 });
  });

  it("a finished run cleared while its DAG's maxActiveRuns is taken waits queued, then runs when a run ends", async () => {
    let hold = true;
    const d = dag({ dagId: 'clr_max_runs', maxActiveRuns: 1 }, () => {
      sensor('gate', (ctx) => ctx.runId !== 'second' || !hold, { pokeInterval: '1m' });
    });
    const r = runner(makeStore, [d]);
    expect((await r.run({ dagId: 'clr_max_runs', runId: 'first' })).state).toBe('success');
    const second = await r.trigger({ dagId: 'clr_max_runs', runId: 'second' });
    expect(second.state).toBe('running');
    const res = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_max_runs', runId: 'first' }));
    expect(res.runState).toEqual({ before: 'success', after: 'queued' });
    hold = false;
    expect((await r.waitForRun({ dagId: 'clr_max_runs', runId: 'second' })).state).toBe('success');
    const first = await r.waitForRun({ dagId: 'clr_max_runs', runId: 'first' });
    expect(first.state).toBe('success');
    // It started again only after the other run had ended.
    expect(Date.parse(first.startDate!)).toBeGreaterThanOrEqual(Date.parse((await r.store.getRun({ dagId: 'clr_max_runs', runId: 'second' }))!.endDate!));
    expect(tries(await r.report({ dagId: 'clr_max_runs', runId: 'first' }))).toEqual({ gate: 2 });
  });

  it('a task a branch skipped stays skipped when cleared alone; cleared with the branch, it follows the branch again', async () => {
    const ran: string[] = [];
    const d = dag({ dagId: 'clr_branch', params: { path: { type: 'string', default: 'b' } } }, ({ branch }) => {
      const pick = branch('pick', (ctx) => `path_${ctx.params.path}`);
      const a = task('path_a', () => ran.push('a'));
      const b = task('path_b', () => ran.push('b'));
      pick.before(a, b);
      task('join', () => ran.push('join'), { triggerRule: 'none_failed_min_one_success' }).after(a, b);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'clr_branch' });
    expect(states(first)).toEqual({ pick: 'success', path_a: 'skipped', path_b: 'success', join: 'success' });
    ran.length = 0;
    const alone = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_branch', runId: first.runId, taskIds: ['path_a'] }));
    expect(alone.cleared.map((c) => c.taskId)).toEqual(['path_a']);
    await r.waitForRun(first);
    expect(states(await r.report(first))).toEqual({ pick: 'success', path_a: 'skipped', path_b: 'success', join: 'success' });
    expect((await r.store.getTaskInstance({ dagId: first.dagId, runId: first.runId, taskId: 'path_a', mapIndex: -1 }))?.error).toEqual({ name: 'SkipTask', message: "not chosen by branch 'pick'" });
    expect(ran).toEqual([]);

    await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_branch', runId: first.runId, taskIds: ['pick'], downstream: true }));
    expect((await r.waitForRun(first)).state).toBe('success');
    expect(states(await r.report(first))).toEqual({ pick: 'success', path_a: 'skipped', path_b: 'success', join: 'success' });
    expect(ran).toEqual(['b', 'join']);
    expect(tries(await r.report(first))).toEqual({ pick: 2, path_a: 0, path_b: 2, join: 2 });
  });

  it('a run failed by its dagrun timeout runs again when cleared; a timer of its earlier start does not stop it', async () => {
    let slow = true;
    const d = dag({ dagId: 'clr_timeout', dagrunTimeout: '30m' }, () => {
      const gate = sensor('gate', () => !slow, { pokeInterval: '20m' });
      task('after', () => 'done').after(gate);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'clr_timeout' });
    expect(first.state).toBe('failed');
    expect(states(first)).toEqual({ gate: 'skipped', after: null });
    slow = false;
    const res = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_timeout', runId: first.runId }));
    expect(res.cleared.map((c) => [c.taskId, c.state])).toEqual([['gate', 'skipped']]);
    // The earlier start's timeout event, delivered late, is not this start's.
    await r.drive((s) => s.onTimer({ type: 'run_timeout', dagId: first.dagId, runId: first.runId }));
    const ended = await r.waitForRun(first);
    expect(ended).toMatchObject({ state: 'success', pending: 0, note: null });
    expect(states(await r.report(first))).toEqual({ gate: 'success', after: 'success' });
  });

  it('a dry run says what would be cleared and changes nothing', async () => {
    const d = dag({ dagId: 'clr_dry' }, () => {
      const a = task('a', () => 1);
      task('b', () => {
        throw new Error('no');
      }).after(a);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'clr_dry' });
    const runId = first.runId;
    const snapshot = async () => ({
      run: await r.store.getRun(first),
      tis: await r.store.listTaskInstances(first),
      states: await r.store.getTaskStates(first, ['a', 'b']),
      xcom: await r.store.getXCom(first, 'a', -1, 'return_value'),
    });
    const before = await snapshot();
    const res = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_dry', runId, dryRun: true }));
    expect(res).toMatchObject({ dryRun: true, runState: { before: 'failed', after: 'queued' } });
    expect(res.cleared.map((c) => c.taskId)).toEqual(['a', 'b']);
    const up = await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_dry', runId, taskIds: ['b'], upstream: true, dryRun: true }));
    expect(up.cleared.map((c) => [c.taskId, c.state, c.mode])).toEqual([
      ['a', 'success', 'redecide'],
      ['b', 'failed', 'redecide'],
    ]);
    expect((await r.drive((s) => clearTaskInstances(s, { dagId: 'clr_dry', runId, taskIds: ['a'], onlyFailed: true, dryRun: true }))).cleared).toEqual([]);
    expect(await snapshot()).toEqual(before);
    await r.idle();
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a task that is not in the DAG and a run of another DAG', async () => {
    const d = dag({ dagId: 'clr_refuse' }, () => {
      task('a', () => 1);
    });
    const other = dag({ dagId: 'clr_other' }, () => {
      task('a', () => 1);
    });
    const r = runner(makeStore, [d, other]);
    const first = await r.run({ dagId: 'clr_refuse' });
    await expect(r.drive((s) => clearTaskInstances(s, { dagId: 'clr_refuse', runId: first.runId, taskIds: ['nope'] }))).rejects.toThrow(OperationError);
    // Run ids are per DAG: the other DAG has no run of that id.
    await expect(r.drive((s) => clearTaskInstances(s, { dagId: 'clr_other', runId: first.runId }))).rejects.toThrow(new RegExp(`no run '${first.runId}' of DAG 'clr_other'`));
  });
});

describe.each(STORES)('deleting a DAG (%s)', (_name, makeStore) => {
  const build = () => {
    let hold = false;
    const d = dag({ dagId: 'del_me' }, () => {
      const items = task('items', () => [1, 2, 3]);
      const m = task('m', async (ctx, x: number) => {
        ctx.log.info(`item ${x}`);
        await ctx.pipeline.save(`m${x}`, { x });
        return x;
      }).expand(items);
      const s = sensor('hold', () => !hold, { pokeInterval: '1h' }).after(m);
      task('it', (_c, x: number) => x + 1)
        .iterate([1, 2])
        .after(s);
    });
    return { d, setHold: (v: boolean) => (hold = v) };
  };

  it('deletes every run with its instances, XComs, logs, item results and pipeline saves, and the DAG record; refuses while a run is running', async () => {
    const { d, setHold } = build();
    const r = runner(makeStore, [d]);
    const one = await r.run({ dagId: 'del_me', runId: 'one' });
    const two = await r.run({ dagId: 'del_me', runId: 'two' });
    expect([one.state, two.state]).toEqual(['success', 'success']);

    setHold(true);
    const running = await r.trigger({ dagId: 'del_me', runId: 'three' });
    await expect(deleteDag(r.store, 'del_me')).rejects.toThrow(/1 run\(s\) are queued or running: three \(running\)/);
    setHold(false);
    await r.waitForRun(running);
    await r.idle();

    const res = (await deleteDag(r.store, 'del_me')).value;
    expect(res.totals).toEqual({ runs: 3, taskInstances: 3 * 6, xcoms: 3 * 6, itemResults: 3 * 2, logs: 3 * 6, pipelineSaves: 3 * 3 });
    expect(res.runs.map((x) => x.runId).sort()).toEqual(['one', 'three', 'two']);
    expect(res).toMatchObject({ dagRecord: true, backfills: 0, stopped: [], warnings: [] });
    expect(await r.store.listRuns({ dagId: 'del_me' })).toEqual([]);
    expect(await r.store.getRun({ dagId: 'del_me', runId: 'one' })).toBeUndefined();
    expect(await r.store.listTaskInstances({ dagId: 'del_me', runId: 'one' })).toEqual([]);
    expect(await r.store.getXCom({ dagId: 'del_me', runId: 'one' }, 'items', -1, 'return_value')).toBeUndefined();
    expect(await r.store.getLog({ dagId: 'del_me', runId: 'one', taskId: 'm', mapIndex: 0 }, 1)).toEqual([]);
    expect(await r.store.listPipelineSaves('del_me/one')).toEqual([]);
    expect((await r.store.listItemResults({ dagId: 'del_me', runId: 'one', taskId: 'it', mapIndex: -1 })).size).toBe(0);
    expect(await r.store.getDagRecord('del_me')).toBeUndefined();
    await expect(deleteDag(r.store, 'del_me')).rejects.toThrow(/nothing of DAG 'del_me' is in the store/);

    // The DAG runs again from scratch.
    expect((await r.run({ dagId: 'del_me', runId: 'one' })).state).toBe('success');
  });

  it('force with the scheduler stops a running run first (its slots given back), then deletes it', async () => {
    let result: DeleteDagResult | null = null;
    let pokes = 0;
    const d = dag({ dagId: 'del_busy' }, () => {
      const a = task('a', () => 1);
      const s = sensor(
        'hold',
        async () => {
          // While this run runs (this poke holds a slot), its DAG is deleted with force.
          if (++pokes === 2) result = await r.drive(() => deleteDag(r.store, 'del_busy', { force: true, scheduler: r.scheduler }));
          return false;
        },
        { pokeInterval: '1m' },
      ).after(a);
      task('b', () => 2).after(s);
    });
    const r = runner(makeStore, [d], { pools: { default_pool: 2 } });
    const run = await r.trigger({ dagId: 'del_busy', runId: 'busy' });
    await r.idle();
    expect(result).toMatchObject({ stopped: [run.runId], totals: { runs: 1, taskInstances: 2 }, warnings: [] });
    expect(await r.store.getRun({ dagId: 'del_busy', runId: 'busy' })).toBeUndefined();
    expect(await r.store.listRuns({ dagId: 'del_busy' })).toEqual([]);
    expect(r.errors).toEqual([]);
    // Every slot is free again: two at once fit the 2-slot pool.
    expect(await r.store.tryAcquire('pool:default_pool', 2, 2, 'check')).toBe(true);
  });
});

describe.each(STORES)('backfill (%s)', (_name, makeStore) => {
  /** A daily DAG whose runs take an hour (a sensor), failing when asked. */
  const build = (maxActiveRuns = 1) => {
    const pokes = new Map<string, number>();
    return dag(
      {
        dagId: 'bf_daily',
        schedule: '@daily',
        startDate: '2025-12-01T00:00:00Z',
        maxActiveRuns,
        params: { fail: { type: 'boolean', default: false } },
      },
      () => {
        const wait = sensor(
          'wait',
          (ctx) => {
            const n = (pokes.get(ctx.runId) ?? 0) + 1;
            pokes.set(ctx.runId, n);
            return n >= 2;
          },
          { pokeInterval: '1h' },
        );
        task('work', (ctx) => {
          if (ctx.params.fail) throw new Error('asked to fail');
          return ctx.logicalDate.toISOString();
        }).after(wait);
      },
    );
  };
  const day = (n: number) => `2025-12-${String(n).padStart(2, '0')}T00:00:00.000Z`;

  /** Track the most runs of the DAG running at once. */
  function concurrency(r: ReturnType<typeof runner>) {
    const running = new Set<string>();
    const seen = { max: 0 };
    r.on((e) => {
      if (e.type !== 'run') return;
      if (e.run.state === 'running') running.add(e.run.runId);
      else running.delete(e.run.runId);
      seen.max = Math.max(seen.max, running.size);
    });
    return seen;
  }

  it('five days with maxActiveRuns 2: never more than 2 at once (the DAG\'s maxActiveRuns 1 applies to its other runs), then completed', async () => {
    const r = runner(makeStore, [build(1)]);
    const seen = concurrency(r);
    const res = await r.drive((s) => createBackfill(s, { dagId: 'bf_daily', fromDate: '2025-12-10', toDate: '2025-12-14', maxActiveRuns: 2, reprocessBehavior: 'none' }));
    expect(res.dates.map((x) => [x.logicalDate, x.action, x.runId])).toEqual([10, 11, 12, 13, 14].map((n) => [day(n), 'create', `backfill__${day(n)}`]));
    expect(res.backfill).toMatchObject({ dagId: 'bf_daily', state: 'running', maxActiveRuns: 2, reprocessBehavior: 'none', counts: { dates: 5, created: 5, cleared: 0, skipped: 0 } });
    expect((await r.store.listRuns({ dagId: 'bf_daily', states: ['running'] })).length).toBe(2);
    await r.idle();
    expect(seen.max).toBe(2);
    const runs = await listBackfillRuns(r.store, 'bf_daily', res.backfill!.backfillId);
    expect(runs.map((x) => [x.logicalDate, x.state, x.runType])).toEqual([10, 11, 12, 13, 14].map((n) => [day(n), 'success', 'backfill']));
    expect(await xcom(r, { dagId: 'bf_daily', runId: `backfill__${day(12)}` }, 'work')).toBe(day(12));
    const [b] = await listBackfills(r.store, 'bf_daily');
    expect(b).toMatchObject({ backfillId: res.backfill!.backfillId, state: 'completed', fromDate: day(10), toDate: day(14) });
    expect(b!.completedAt).not.toBeNull();
    expect(r.errors).toEqual([]);
  });

  /** A failed run of the 11th and a succeeded one of the 12th, before the backfill. */
  async function seeded(r: ReturnType<typeof runner>) {
    const failed = await r.run({ dagId: 'bf_daily', runId: `scheduled__${day(11)}`, logicalDate: day(11), runType: 'scheduled', conf: { fail: true } });
    const ok = await r.run({ dagId: 'bf_daily', runId: `scheduled__${day(12)}`, logicalDate: day(12), runType: 'scheduled' });
    expect([failed.state, ok.state]).toEqual(['failed', 'success']);
  }

  it("reprocess 'none': dates with a run are skipped, whatever its state", async () => {
    const r = runner(makeStore, [build()]);
    await seeded(r);
    const res = await r.drive((s) => createBackfill(s, { dagId: 'bf_daily', fromDate: day(10), toDate: day(13), reprocessBehavior: 'none', conf: { fail: false } }));
    expect(res.dates.map((x) => [x.logicalDate, x.action, x.reason])).toEqual([
      [day(10), 'create', null],
      [day(11), 'skip', 'already exists'],
      [day(12), 'skip', 'already exists'],
      [day(13), 'create', null],
    ]);
    await r.idle();
    expect((await r.store.getRun({ dagId: 'bf_daily', runId: `scheduled__${day(11)}` }))?.state).toBe('failed');
    expect((await listBackfills(r.store, 'bf_daily'))[0]).toMatchObject({ state: 'completed', counts: { dates: 4, created: 2, cleared: 0, skipped: 2 } });
  });

  it("reprocess 'failed': a failed run is cleared and reruns in the backfill (with its conf); a succeeded one is skipped", async () => {
    const r = runner(makeStore, [build()]);
    await seeded(r);
    const res = await r.drive((s) => createBackfill(s, { dagId: 'bf_daily', fromDate: day(11), toDate: day(12), reprocessBehavior: 'failed', conf: { fail: false } }));
    expect(res.dates.map((x) => [x.logicalDate, x.action, x.runId, x.existingState])).toEqual([
      [day(11), 'clear', `scheduled__${day(11)}`, 'failed'],
      [day(12), 'skip', `scheduled__${day(12)}`, 'success'],
    ]);
    await r.idle();
    const rerun = (await r.store.getRun({ dagId: 'bf_daily', runId: `scheduled__${day(11)}` }))!;
    expect(rerun).toMatchObject({ state: 'success', runType: 'backfill', backfillId: res.backfill!.backfillId, conf: { fail: false } });
    expect(tries(await r.report(rerun))).toEqual({ wait: 2, work: 2 });
    expect((await listBackfills(r.store, 'bf_daily'))[0]).toMatchObject({ state: 'completed', counts: { created: 0, cleared: 1, skipped: 1 } });
  });

  it("reprocess 'completed': every finished run is cleared; a run in flight is skipped", async () => {
    const r = runner(makeStore, [build(5)]);
    await seeded(r);
    // A run of the 13th still running when the backfill is made.
    const inFlight = await r.trigger({ dagId: 'bf_daily', runId: `scheduled__${day(13)}`, logicalDate: day(13), runType: 'scheduled' });
    const res = await r.drive((s) => createBackfill(s, { dagId: 'bf_daily', fromDate: day(11), toDate: day(14), reprocessBehavior: 'completed', conf: { fail: false } }));
    expect(res.dates.map((x) => [x.logicalDate, x.action, x.reason])).toEqual([
      [day(11), 'clear', null],
      [day(12), 'clear', null],
      [day(13), 'skip', 'in flight'],
      [day(14), 'create', null],
    ]);
    await r.idle();
    for (const n of [11, 12]) expect(await r.store.getRun({ dagId: 'bf_daily', runId: `scheduled__${day(n)}` })).toMatchObject({ state: 'success', runType: 'backfill' });
    expect(await r.store.getRun(inFlight)).toMatchObject({ state: 'success', runType: 'scheduled' });
    expect(tries(await r.report({ dagId: 'bf_daily', runId: `scheduled__${day(12)}` }))).toEqual({ wait: 2, work: 2 });
    expect((await listBackfills(r.store, 'bf_daily'))[0]).toMatchObject({ state: 'completed', counts: { dates: 4, created: 1, cleared: 2, skipped: 1 } });
  });

  it('a dry run lists what would happen and changes nothing', async () => {
    const r = runner(makeStore, [build()]);
    await seeded(r);
    const before = await r.store.listRuns({ dagId: 'bf_daily' });
    const res = await r.drive((s) => createBackfill(s, { dagId: 'bf_daily', fromDate: day(10), toDate: day(12), reprocessBehavior: 'failed', dryRun: true }));
    expect(res).toMatchObject({ dryRun: true, backfill: null, dagPaused: false });
    expect(res.dates.map((x) => [x.logicalDate, x.action])).toEqual([
      [day(10), 'create'],
      [day(11), 'clear'],
      [day(12), 'skip'],
    ]);
    await r.idle();
    expect(await r.store.listRuns({ dagId: 'bf_daily' })).toEqual(before);
    expect(await listBackfills(r.store, 'bf_daily')).toEqual([]);
  });

  it('on a paused DAG the runs wait queued until it is unpaused; one running backfill per DAG; bad requests are refused', async () => {
    const r = runner(makeStore, [build(), dag({ dagId: 'bf_none' }, () => void task('t', () => 1))]);
    await r.drive((s) => setDagPaused(s, 'bf_daily', true));
    const res = await r.drive((s) => createBackfill(s, { dagId: 'bf_daily', fromDate: day(1), toDate: day(3), maxActiveRuns: 3 }));
    expect(res.dagPaused).toBe(true);
    await r.idle();
    expect((await r.store.listRuns({ dagId: 'bf_daily' })).map((x) => x.state)).toEqual(['queued', 'queued', 'queued']);
    await expect(r.drive((s) => createBackfill(s, { dagId: 'bf_daily', fromDate: day(5), toDate: day(6) }))).rejects.toThrow(/there can be only one running backfill per DAG/);

    await r.drive((s) => setDagPaused(s, 'bf_daily', false));
    await r.idle();
    expect((await r.store.listRuns({ dagId: 'bf_daily' })).map((x) => x.state)).toEqual(['success', 'success', 'success']);
    expect((await listBackfills(r.store, 'bf_daily'))[0]?.state).toBe('completed');

    await expect(r.drive((s) => createBackfill(s, { dagId: 'bf_none', fromDate: day(1), toDate: day(3) }))).rejects.toThrow(/needs a periodic schedule/);
    await expect(r.drive((s) => createBackfill(s, { dagId: 'bf_daily', fromDate: day(3), toDate: day(1) }))).rejects.toThrow(/must not be after/);
    await expect(r.drive((s) => createBackfill(s, { dagId: 'bf_daily', fromDate: '2027-01-01', toDate: '2027-02-01' }))).rejects.toThrow(/future dates/);
    await expect(r.drive((s) => createBackfill(s, { dagId: 'bf_daily', fromDate: day(1), toDate: day(2), conf: { fail: 'yes' } }))).rejects.toThrow(/fail/);
  });
});
