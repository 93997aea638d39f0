import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ARRAY_MAX_CHILDREN, arrayGroups, arraySizeFor, childIndexOf, childOutcomes, groupBounds, groupOf, waveJobName } from '../lib/core/arrays.ts';
import { batchJob, dag, task } from '../lib/index.ts';
import type { BatchJobResult } from '../lib/authoring/operators.ts';
import type { RunRef } from '../lib/store/records.ts';
import { fakeRunner, states, tries, errorText } from './helpers.ts';

const xcom = async (r: ReturnType<typeof fakeRunner>, run: RunRef, taskId: string, i: number) =>
  (await r.store.getXCom(run, taskId, i, 'return_value'))?.value as BatchJobResult | undefined;
const logOf = async (r: ReturnType<typeof fakeRunner>, run: RunRef, taskId: string, i: number, t: number) =>
  (await r.store.getLog({ dagId: run.dagId, runId: run.runId, taskId, mapIndex: i }, t)).map((l) => l.message);

describe('splitting map indexes into arrays', () => {
  it('cuts at 10,000 children: 10,000 is one array, 10,001 is an array and a plain job', () => {
    expect(ARRAY_MAX_CHILDREN).toBe(10_000);
    expect(arrayGroups(0)).toEqual([]);
    expect(arrayGroups(1)).toEqual([{ group: 0, first: 0, count: 1 }]);
    expect(arrayGroups(10_000)).toEqual([{ group: 0, first: 0, count: 10_000 }]);
    expect(arrayGroups(10_001)).toEqual([
      { group: 0, first: 0, count: 10_000 },
      { group: 1, first: 10_000, count: 1 },
    ]);
    expect(arrayGroups(100_000).map((g) => g.count)).toEqual(Array(10).fill(10_000));
    expect(arrayGroups(25_000, 10_000).map((g) => [g.first, g.count])).toEqual([
      [0, 10_000],
      [10_000, 10_000],
      [20_000, 5_000],
    ]);
    expect(groupOf(9_999)).toBe(0);
    expect(groupOf(10_000)).toBe(1);
    expect(groupBounds(2, 10_000, 25_000)).toEqual({ from: 20_000, to: 25_000 });
    // Batch arrays have 2 to 10,000 children: a wave of one is a plain job.
    expect(arraySizeFor(1)).toBeNull();
    expect(arraySizeFor(2)).toBe(2);
    expect(arraySizeFor(10_000)).toBe(10_000);
    expect(() => arraySizeFor(10_001)).toThrow(/1 to 10000 children, got 10001/);
    expect(() => arrayGroups(5, 10_001)).toThrow(/array size limit/);
  });

  it('names each wave deterministically (a retried submission finds its job), within 128 characters', () => {
    const a = { dagId: 'batch_fanout', runId: 'manual__2026-01-01T00:00:00.000Z', taskId: 'run_job', group: 3 };
    expect(waveJobName('batch_fanout', a, 2)).toBe(waveJobName('batch_fanout', a, 2));
    expect(waveJobName('batch_fanout', a, 2)).not.toBe(waveJobName('batch_fanout', a, 3));
    expect(waveJobName('batch_fanout', a, 2)).not.toBe(waveJobName('batch_fanout', { ...a, runId: 'other' }, 2));
    expect(waveJobName('batch_fanout', a, 2)).toMatch(/^batch_fanout-run_job-[0-9a-f]{12}-g3-try2$/);
    const long = waveJobName('d'.repeat(200), a, 1);
    expect(long.length).toBeLessThanOrEqual(128);
    expect(long).toMatch(/^[A-Za-z0-9_-]+-g3-try1$/);
  });
});

describe("children's outcomes map back to map indexes", () => {
  it('child i of a wave is the wave\'s i-th map index', () => {
    // A retry wave: only map indexes 3, 7 and 9 failed before; child 1 (map index 7) fails again.
    const out = childOutcomes([3, 7, 9], { jobId: 'J', jobName: 'n', status: 'FAILED', failed: new Map([[1, { exitCode: 2, reason: 'boom' }]]), reason: null });
    expect(out).toEqual([
      { mapIndex: 3, jobId: 'J:0', status: 'SUCCEEDED', exitCode: 0, reason: null },
      { mapIndex: 7, jobId: 'J:1', status: 'FAILED', exitCode: 2, reason: 'boom' },
      { mapIndex: 9, jobId: 'J:2', status: 'SUCCEEDED', exitCode: 0, reason: null },
    ]);
    expect(childIndexOf('J:1')).toBe(1);
    expect(childIndexOf('J')).toBeNull();
  });

  it('a wave of one is a plain job; a wave that failed naming no child failed as a whole', () => {
    expect(childOutcomes([42], { jobId: 'P', jobName: 'n', status: 'SUCCEEDED', failed: new Map(), reason: null })).toEqual([
      { mapIndex: 42, jobId: 'P', status: 'SUCCEEDED', exitCode: 0, reason: null },
    ]);
    const refused = childOutcomes([0, 1], { jobId: 'A', jobName: 'n', status: 'FAILED', failed: new Map(), reason: 'CannotPullContainerError' });
    expect(refused.map((o) => [o.status, o.reason])).toEqual([
      ['FAILED', 'CannotPullContainerError'],
      ['FAILED', 'CannotPullContainerError'],
    ]);
  });
});

describe('mapped batchJob as array jobs (local runner)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('10,001 items: one array job of 10,000 children and one plain job; every child is its map index', async () => {
    const d = dag({ dagId: 'split' }, () => {
      const items = task('items', () => Array.from({ length: 10_001 }, (_, i) => ({ environment: { ITEM: String(i) } })));
      const jobs = batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', local: { simulate: { duration: '20s', jitter: '10s' } } }).expandKwargs(items);
      task('count', (_c, rs: BatchJobResult[]) => new Set(rs.map((x) => x.jobId)).size)(jobs);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'split' });
    expect(report.state).toBe('success');
    expect((await r.store.getXCom(report, 'count', -1, 'return_value'))?.value).toBe(10_001);
    const first = (await xcom(r, report, 'job', 0))!;
    const arrayId = first.jobId.replace(/:0$/, '');
    for (const i of [0, 1, 4_999, 9_999]) {
      const x = (await xcom(r, report, 'job', i))!;
      expect(x.jobId).toBe(`${arrayId}:${i}`);
      expect(x.status).toBe('SUCCEEDED');
    }
    const last = (await xcom(r, report, 'job', 10_000))!;
    expect(last.jobId).not.toContain(':');
    expect(last.jobId).not.toBe(arrayId);
    expect(await logOf(r, report, 'job', 9_999, 1)).toContainEqual(expect.stringMatching(/^starting try 1 of 1 as child 9999 of Batch array job split-job-[0-9a-f]{12}-g0-try1 \(10000 children\)$/));
    expect(await logOf(r, report, 'job', 10_000, 1)).toContainEqual(expect.stringMatching(/^starting try 1 of 1 as Batch job split-job-[0-9a-f]{12}-g1-try1$/));
  });

  it('a retry resubmits only the failed children, as a new array whose children are their map indexes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airless-arrays-'));
    dirs.push(dir);
    // Items 1 and 4 fail the first time they run (a marker file remembers), then pass.
    const script = 'if [ "$FLAKY" = 1 ] && [ ! -e "$DIR/$ITEM" ]; then touch "$DIR/$ITEM"; echo "item $ITEM fails"; exit 3; fi; echo "item $ITEM ok"';
    const d = dag({ dagId: 'flaky', defaultArgs: { retries: 2, retryDelay: '1m' } }, () => {
      const items = task('items', () => Array.from({ length: 6 }, (_, i) => ({ environment: { ITEM: String(i), FLAKY: i === 1 || i === 4 ? '1' : '0', DIR: dir } })));
      const jobs = batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', command: ['sh', '-c', script] }).expandKwargs(items);
      task('sum', (_c, rs: BatchJobResult[]) => rs.map((x) => x.jobId))(jobs);
    });
    const r = fakeRunner([d]);
    const t0 = r.clock.now();
    const report = await r.run({ dagId: 'flaky' });
    expect(report.state).toBe('success');
    expect(tries(report)).toMatchObject({ 'job[0]': 1, 'job[1]': 2, 'job[2]': 1, 'job[3]': 1, 'job[4]': 2, 'job[5]': 1 });
    const ids = (await r.store.getXCom(report, 'sum', -1, 'return_value'))?.value as string[];
    const firstArray = ids[0]!.replace(/:\d+$/, '');
    const retryArray = ids[1]!.replace(/:\d+$/, '');
    expect(retryArray).not.toBe(firstArray);
    // The retry wave is an array of exactly the two failed children: child 0 = map index 1, child 1 = map index 4.
    expect(ids).toEqual([`${firstArray}:0`, `${retryArray}:0`, `${firstArray}:2`, `${firstArray}:3`, `${retryArray}:1`, `${firstArray}:5`]);
    expect(await logOf(r, report, 'job', 4, 1)).toContainEqual(expect.stringMatching(/child [0-9a-f-]+:4 failed: Essential container in task exited \(exit code 3\) \(up for retry\)$/));
    expect(await logOf(r, report, 'job', 4, 2)).toContainEqual(expect.stringMatching(/^starting try 2 of 3 as child 1 of Batch array job flaky-job-[0-9a-f]{12}-g0-try2 \(2 children\): sh -c/));
    // Succeeded children were not run again: no log of a second try.
    expect(await logOf(r, report, 'job', 0, 2)).toEqual([]);
    // The retry waited its delay (1 minute, with Airflow's jitter below it).
    expect(r.clock.now() - t0).toBeGreaterThanOrEqual(30_000);
  });

  it('children that still fail after their retries fail their own map index only', async () => {
    const d = dag({ dagId: 'bad', defaultArgs: { retries: 1, retryDelay: '10s' } }, () => {
      const items = task('items', () => [0, 1, 2].map((i) => ({ environment: { ITEM: String(i) } })));
      const jobs = batchJob('job', { command: ['sh', '-c', '[ "$ITEM" != 1 ] || exit 7'] }).expandKwargs(items);
      task('after', (_c, rs: BatchJobResult[]) => rs.length)(jobs);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'bad' });
    expect(report.state).toBe('failed');
    expect(states(report)).toEqual({ items: 'success', 'job[0]': 'success', 'job[1]': 'failed', 'job[2]': 'success', after: 'upstream_failed' });
    expect(tries(report)).toMatchObject({ 'job[0]': 1, 'job[1]': 2, 'job[2]': 1 });
    const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'job', mapIndex: 1 });
    // The second try was a wave of one: a plain job.
    expect(ti?.error?.name).toBe('BatchJobFailedError');
    expect(ti?.error?.message).toMatch(/^Batch job bad-job-[0-9a-f]{12}-g0-try2 child [0-9a-f-]+ failed: Essential container in task exited \(exit code 7\)$/);
  });

  it('jobs stuck RUNNABLE past runnableTimeout are stopped and fail with a reason that says so', async () => {
    const d = dag({ dagId: 'stuck' }, () => {
      const items = task('items', () => [0, 1, 2, 3].map((i) => ({ environment: { ITEM: String(i) } })));
      batchJob('job', { jobQueue: 'gpu-queue', jobDefinition: 'jd', runnableTimeout: '30m', local: { simulate: { duration: '1m', runnable: '6h' } } }).expandKwargs(items);
      batchJob('single', { jobQueue: 'gpu-queue', jobDefinition: 'jd', runnableTimeout: '10m', local: { simulate: { duration: '1m', runnable: '6h' } } });
      batchJob('starts', { jobQueue: 'gpu-queue', jobDefinition: 'jd', runnableTimeout: '10m', local: { simulate: { duration: '1h', runnable: '5m' } } });
    });
    const r = fakeRunner([d]);
    const t0 = r.clock.now();
    const report = await r.run({ dagId: 'stuck' });
    expect(states(report)).toMatchObject({ 'job[0]': 'failed', 'job[3]': 'failed', single: 'failed', starts: 'success' });
    for (const i of [0, 3]) {
      const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'job', mapIndex: i });
      expect(errorText(ti?.error)).toMatch(/RunnableTimeoutError: still RUNNABLE 1800 s after submission \(runnableTimeout\): no compute environment of queue 'gpu-queue' could place it/);
      expect(Date.parse(ti!.endDate!) - t0).toBe(30 * 60_000);
    }
    const single = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'single', mapIndex: -1 });
    expect(errorText(single?.error)).toMatch(/RunnableTimeoutError: still RUNNABLE 600 s/);
    // A job that started in time is not touched: it ran its hour.
    expect(r.clock.now() - t0).toBeGreaterThanOrEqual(65 * 60_000);
  });

  it("executionTimeout is each child's own (Batch's attempt timeout), not the array's", async () => {
    const d = dag({ dagId: 'timed' }, () => {
      const items = task('items', () => Array.from({ length: 40 }, (_, i) => ({ environment: { ITEM: String(i) } })));
      batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', executionTimeout: '15m', local: { simulate: { duration: '10m', jitter: '10m' } } }).expandKwargs(items);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'timed' });
    const tis = await r.store.listTaskInstances(report, 'job');
    const late = tis.filter((t) => t.state === 'failed');
    const onTime = tis.filter((t) => t.state === 'success');
    // The jitter spreads the children over 10-20 minutes: some pass 15, most do not.
    expect(late.length).toBeGreaterThan(0);
    expect(onTime.length).toBeGreaterThan(0);
    expect(late.length + onTime.length).toBe(40);
    for (const t of late) expect(errorText(t.error)).toMatch(/failed: Job attempt duration exceeded timeout \(900 s\)$/);
  });

  it('a pool caps concurrent array submissions: it is an API-throttle semaphore', async () => {
    const d = dag({ dagId: 'throttled' }, () => {
      const items = task('items', () => [0, 1, 2].map((i) => ({ environment: { ITEM: String(i) } })));
      for (const id of ['a', 'b', 'c']) {
        batchJob(id, { jobQueue: 'q', jobDefinition: 'jd', pool: 'batch_api', local: { simulate: { duration: '10m' } } }).expandKwargs(items);
      }
    });
    const r = fakeRunner([d], { pools: { batch_api: 1 } });
    const t0 = r.clock.now();
    const report = await r.run({ dagId: 'throttled' });
    expect(report.state).toBe('success');
    // One slot: the three arrays ran one after the other, 10 minutes each.
    expect(r.clock.now() - t0).toBe(30 * 60_000);
    const starts = await Promise.all(['a', 'b', 'c'].map(async (id) => Date.parse((await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: id, mapIndex: 0 }))!.startDate!) - t0));
    expect(starts.sort((x, y) => x - y)).toEqual([0, 10 * 60_000, 20 * 60_000]);
  });

  it('a dagrun timeout skips a running wave and gives back its one slot, once', async () => {
    const d = dag({ dagId: 'slow', dagrunTimeout: '10m' }, () => {
      const items = task('items', () => [0, 1, 2, 3, 4].map((i) => ({ environment: { ITEM: String(i) } })));
      batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', pool: 'p', local: { simulate: { duration: '1h' } } }).expandKwargs(items);
    });
    const r = fakeRunner([d], { pools: { p: 1 } });
    const report = await r.run({ dagId: 'slow' });
    expect(report.state).toBe('failed');
    expect(states(report)).toMatchObject({ 'job[0]': 'skipped', 'job[4]': 'skipped' });
    // The wave held one unit of the pool; it is free again, and not more than free.
    expect(await r.store.tryAcquire('pool:p', 1, 1, 'check-1')).toBe(true);
    expect(await r.store.tryAcquire('pool:p', 1, 1, 'check-2')).toBe(false);
  });

  it('the reconcile finds a lost wave and starts it again, once per group', async () => {
    const d = dag({ dagId: 'lost' }, () => {
      const items = task('items', () => [0, 1, 2].map((i) => ({ environment: { ITEM: String(i) } })));
      batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', local: { simulate: { duration: '1m' } } }).expandKwargs(items);
    });
    const r = fakeRunner([d]);
    const waves: string[] = [];
    // The runner's start of a wave (what it does with a dispatchWave effect), losing the first.
    const host = r as unknown as { dispatchArray: (w: { array: { group: number }; tryNumber: number; size: number }) => void };
    const real = host.dispatchArray.bind(r);
    let drop = true;
    host.dispatchArray = (w) => {
      waves.push(`g${w.array.group} t${w.tryNumber} x${w.size}`);
      if (drop) return; // the first dispatch is lost
      real(w);
    };
    const run = await r.trigger({ dagId: 'lost' });
    await r.idle();
    expect((await r.store.listTaskInstances(run, 'job')).map((ti) => ti.state)).toEqual(['queued', 'queued', 'queued']);
    drop = false;
    r.clock.advance(10 * 60_000);
    const rep = await r.drive((s) => s.reconcileRun(run, { staleMs: 5 * 60_000 }));
    expect(rep.redispatched).toBe(1);
    const done = await r.waitForRun(run);
    expect(done.state).toBe('success');
    expect(waves).toEqual(['g0 t1 x3', 'g0 t1 x3']);
  });

  it('array: false keeps one job per map index', async () => {
    const d = dag({ dagId: 'plain' }, () => {
      const items = task('items', () => [0, 1, 2].map((i) => ({ environment: { ITEM: String(i) } })));
      batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', array: false, local: { simulate: { duration: '1m' } } }).expandKwargs(items);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'plain' });
    const ids = await Promise.all([0, 1, 2].map(async (i) => (await xcom(r, report, 'job', i))!.jobId));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).not.toContain(':');
  });

  it('refuses per-item fields that an array job cannot vary, naming the map index', async () => {
    const d = dag({ dagId: 'vary' }, () => {
      const items = task('items', () => [{ jobQueue: 'a' }, { jobQueue: 'b' }]);
      batchJob('job', { jobDefinition: 'jd', local: { simulate: { duration: '1m' } } }).expandKwargs(items);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'vary' });
    expect(report.state).toBe('failed');
    const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'job', mapIndex: 1 });
    expect(errorText(ti?.error)).toMatch(/map index 0 sets 'jobQueue', which an array job cannot vary per child: set it in batchJob\(\)'s options, or use array: false/);
  });
});
