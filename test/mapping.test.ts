import { describe, expect, it } from 'vitest';
import { dag, task, NonRetriableError } from '../lib/index.ts';
import type { RunRef } from '../lib/store/records.ts';
import { formatError } from '../lib/error-info.ts';
import { fakeRunner, states, tries } from './helpers.ts';

const out = async (r: ReturnType<typeof fakeRunner>, run: RunRef, taskId: string, mapIndex = -1) =>
  (await r.store.getXCom(run, taskId, mapIndex, 'return_value'))?.value;

describe('dynamic task mapping', () => {
  it('an empty list skips the mapped task and its all_success downstream', async () => {
    const d = dag({ dagId: 'map_empty' }, () => {
      const items = task('make', (): number[] => []);
      const doubled = task('double', (_c, x: number) => x * 2).expand(items);
      task('collect', (_c, xs: number[]) => xs.length)(doubled);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'map_empty' });
    expect(states(report)).toEqual({ make: 'success', double: 'skipped', collect: 'skipped' });
    expect(report.state).toBe('success');
  });

  it('one item gives one instance at map index 0', async () => {
    const d = dag({ dagId: 'map_one' }, () => {
      const doubled = task('double', (_c, x: number) => x * 2).expand([21]);
      task('collect', (_c, xs: number[]) => xs)(doubled);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'map_one' });
    expect(states(report)).toEqual({ 'double[0]': 'success', collect: 'success' });
    expect(await out(r, report, 'collect')).toEqual([42]);
  });

  it('100,000 items: every instance runs and the downstream gets the results in map-index order', async () => {
    const N = 100_000;
    const d = dag({ dagId: 'map_100k', maxActiveTasks: 1_000_000 }, () => {
      const items = task('make', () => Array.from({ length: N }, (_, i) => i));
      const sq = task('square', (_c, x: number) => x * x).expand(items);
      task('check', (_c, xs: number[]) => {
        let ok = xs.length === N;
        for (let i = 0; ok && i < N; i++) ok = xs[i] === i * i;
        return { n: xs.length, ok };
      })(sq);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'map_100k' });
    expect(report.state).toBe('success');
    expect(report.tasks.filter((t) => t.taskId === 'square' && t.state === 'success')).toHaveLength(N);
    expect(await out(r, report, 'check')).toEqual({ n: N, ok: true });
  }, 120_000);

  it('a mapped task feeding a mapped task, partial + cross product, expandKwargs', async () => {
    const d = dag({ dagId: 'map_chain' }, ({ task }) => {
      const a = task('a', (_c, x: number) => x + 1).expand([1, 2, 3]);
      const b = task('b', (_c, y: number) => y * 10).expand(a);
      const c = task('c', (_c, i: { base: number; x: number; y: string }) => `${i.base}:${i.x}${i.y}`)
        .partial({ base: 7 })
        .expand({ x: [1, 2], y: ['a', 'b', 'c'] });
      const k = task('k', (_c, i: { p: number; q: number }) => i.p * i.q).partial({ p: 3 }).expandKwargs([{ q: 1 }, { q: 5 }]);
      task('all', (_c, v: { b: number[]; c: string[]; k: number[] }) => v)({ b, c, k });
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'map_chain' });
    expect(report.state).toBe('success');
    expect(await out(r, report, 'all')).toEqual({
      b: [20, 30, 40],
      c: ['7:1a', '7:1b', '7:1c', '7:2a', '7:2b', '7:2c'],
      k: [3, 15],
    });
    expect(Object.keys(states(report)).filter((k) => k.startsWith('c['))).toHaveLength(6);
  });

  it('mapping over something that is not a list fails that task, not the whole run', async () => {
    const d = dag({ dagId: 'map_bad' }, () => {
      const notList = task('not_list', () => ({ a: 1 }) as unknown as number[]);
      const m = task('m', (_c, x: number) => x).expand(notList);
      task('after_m', () => 1).after(m);
      task('independent', () => 'fine');
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'map_bad' });
    expect(states(report)).toEqual({ not_list: 'success', m: 'failed', after_m: 'upstream_failed', independent: 'success' });
    const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'm', mapIndex: -1 });
    expect(ti?.error && formatError(ti.error)).toBe("MappingError: task 'm' cannot map over its input: expected a list, got an object");
  });

  it('xcomPull by map index and key; xcomPush', async () => {
    const d = dag({ dagId: 'xcoms' }, () => {
      const m = task('m', async (ctx, x: number) => {
        await ctx.xcomPush('extra', { x });
        return x * 2;
      }).expand([5, 6]);
      task('pull', async (ctx) => ({
        one: await ctx.xcomPull<number>('m', { mapIndex: 1 }),
        all: await ctx.xcomPull<number[]>('m'),
        extra: await ctx.xcomPull('m', { mapIndex: 0, key: 'extra' }),
      })).after(m);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'xcoms' });
    expect(await out(r, report, 'pull')).toEqual({ one: 12, all: [10, 12], extra: { x: 5 } });
  });
});

describe('dynamic task iteration', () => {
  it('runs every item in one instance with bounded concurrency; a retry reruns only failed items', async () => {
    const calls = new Map<number, number>();
    let running = 0;
    let maxRunning = 0;
    const d = dag({ dagId: 'iter', defaultArgs: { retries: 1, retryDelay: '1s' } }, () => {
      const items = task('items', () => Array.from({ length: 20 }, (_, i) => i));
      const it = task('work', async (ctx, x: number) => {
        calls.set(x, (calls.get(x) ?? 0) + 1);
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setImmediate(r));
        running--;
        if (x % 7 === 3 && ctx.tryNumber === 1) throw new Error(`item ${x} flaked`);
        return x * 3;
      }).iterate(items, { concurrency: 4 });
      task('sum', (_c, xs: number[]) => xs)(it);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'iter' });
    expect(report.state).toBe('success');
    expect(states(report)).toEqual({ items: 'success', work: 'success', sum: 'success' });
    expect(tries(report).work).toBe(2);
    expect(maxRunning).toBe(4);
    // Items 3, 10, 17 failed on try 1 and ran again; the 17 others ran once.
    for (let x = 0; x < 20; x++) expect([x, calls.get(x)]).toEqual([x, x % 7 === 3 ? 2 : 1]);
    expect(await out(r, report, 'sum')).toEqual(Array.from({ length: 20 }, (_, i) => i * 3));
    const log1 = await r.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'work', mapIndex: -1 }, 1);
    expect(log1.at(-1)?.message).toBe('Error: 3 of 20 items failed (first: item 3: Error: item 3 flaked); 17 done are kept for the next try');
  });

  it('itemRetries retries an item inside the same try; a NonRetriableError ends the task', async () => {
    let n = 0;
    const d = dag({ dagId: 'iter2', defaultArgs: { retries: 3 } }, () => {
      task('ok', (ctx, x: number) => {
        if (x === 1 && ctx.item!.tryNumber === 1) throw new Error('once');
        return x;
      }).iterate([0, 1, 2], { itemRetries: 1 });
      task('fatal', (_c, _x: number) => {
        n++;
        throw new NonRetriableError('never');
      }).iterate([0], {});
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'iter2' });
    expect(states(report)).toEqual({ ok: 'success', fatal: 'failed' });
    expect(tries(report)).toEqual({ ok: 1, fatal: 1 });
    expect(n).toBe(1);
    expect(await out(r, report, 'ok')).toEqual([0, 1, 2]);
  });
});
