// Partitioned iteration: `.expand(partitions).iterate(items)` maps over partitions, and each instance
// iterates its own partition's items (bounded concurrency, item retries, kept item results).

import { describe, expect, it } from 'vitest';
import { batchJob, dag, task, DagDefinitionError } from '../lib/index.ts';
import type { TaskContext } from '../lib/authoring/context.ts';
import { clearTaskInstances } from '../lib/scheduler/operations.ts';
import type { RunRef } from '../lib/store/records.ts';
import { errorText, fakeRunner, states, tries } from './helpers.ts';
import { partitionedIteration, type FileStats } from '../dags/partitioned_iteration.ts';

const out = async (r: ReturnType<typeof fakeRunner>, run: RunRef, taskId: string, mapIndex = -1) => (await r.store.getXCom(run, taskId, mapIndex, 'return_value'))?.value;
const errorOf = async (r: ReturnType<typeof fakeRunner>, run: RunRef, taskId: string, mapIndex: number) =>
  errorText((await r.store.getTaskInstance({ ...run, taskId, mapIndex }))?.error);

describe('partitioned iteration: authoring', () => {
  it('refuses .expand() after .iterate(): the partitions come first', () => {
    expect(() =>
      dag({ dagId: 'p_order' }, () => {
        task('t', (_c, x: number) => x)
          .iterate([1, 2])
          // @ts-expect-error the handle of an iterated task has no expand left (runtime refusal checked here)
          .expand([[1]]);
      }),
    ).toThrow(
      new DagDefinitionError(
        "task 't' already iterates; .expand() cannot come after .iterate(): a partitioned task maps over its partitions first, .expand(partitions).iterate(items)",
        { dagId: 'p_order', taskId: 't' },
      ),
    );
    expect(() =>
      dag({ dagId: 'p_order2' }, () => {
        const t = task('t', (_c, x: { a: number; b: number }) => x.a);
        t.iterateKwargs([{ a: 1, b: 2 }]);
        t.partial({ a: 1 }).expandKwargs([{ b: 2 }]);
      }),
    ).toThrow(/task 't' already iterates; \.partial\(\)\.expandKwargs\(\) cannot come after \.iterate\(\)/);
  });

  it('refuses items as a function of the partition without partitions, a second .iterate(), another kind, bad sources and options', () => {
    const fails = (build: () => void) => {
      try {
        dag({ dagId: 'p_bad' }, build);
      } catch (e) {
        expect(e).toBeInstanceOf(DagDefinitionError);
        return (e as Error).message;
      }
      throw new Error('expected a DagDefinitionError');
    };
    expect(fails(() => void task('t', (_c, x: number) => x).iterate((() => [1]) as never))).toBe(
      "DAG 'p_bad', task 't': t.iterate: items given as a function of the partition need partitions first: .expand(partitions).iterate(items)",
    );
    expect(
      fails(() => {
        const t = task('t', (_c, x: number) => x);
        t.expand<string>(['a']).iterate(() => [1]);
        t.iterate([1]);
      }),
    ).toBe("DAG 'p_bad', task 't': task 't' already has its input; .iterate() can be given once (declare another task for another call)");
    expect(fails(() => void (batchJob('b', { jobQueue: 'q' }) as any).expand(['a']).iterate(() => [{}]))).toBe(
      "DAG 'p_bad', task 'b': b.iterate: only a task() can iterate over its partitions' items, not a batch",
    );
    expect(fails(() => void task('t', (_c, x: number) => x).expand<string>(['a']).iterate({ x: 3 } as never))).toBe(
      "DAG 'p_bad', task 't': t.iterate.x: expected a function of the partition, a list of lists (one per partition) or an upstream result, got number",
    );
    expect(fails(() => void task('t', (_c, x: number) => x).expand<string>(['a']).iterate(() => [1], { concurency: 2 } as never))).toBe(
      "DAG 'p_bad', task 't': unknown option 'concurency' for t.iterate (known: concurrency, itemRetries)",
    );
    expect(fails(() => void task('t', (_c, x: number) => x).expand<string>(['a']).iterate(() => [1], { concurrency: 0 }))).toBe(
      "DAG 'p_bad', task 't': iterate concurrency must be an integer >= 1, got 0",
    );
  });

  it('keeps the items functions out of the spec: a marker names them', () => {
    const d = dag({ dagId: 'p_spec' }, () => {
      task('t', (_c, x: number) => x)
        .expand<string>(['a', 'b'])
        .iterate((night) => [night.length], { concurrency: 3, itemRetries: 2 });
    });
    const t = d.task('t');
    expect(t.mapping).toEqual({ mode: 'single', source: ['a', 'b'], partial: null });
    expect(t.iterate).toEqual({ mapping: { mode: 'single', source: { $partitionItems: '' }, partial: null }, concurrency: 3, itemRetries: 2, partitioned: true });
    expect(typeof d.runtime.get('t')!.partitionItems!['']).toBe('function');
  });
});

describe('partitioned iteration: running', () => {
  it("each instance runs its own partition's items with ctx.partition and ctx.mapIndex; the downstream gets one list per partition", async () => {
    const seen: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const d = dag({ dagId: 'p_run' }, () => {
      const nights = task('nights', () => ['n1', 'n2', 'n3']);
      const files = task('files', (ctx: TaskContext, file: string) => {
        seen.push(`${String(ctx.partition)}/${ctx.mapIndex}/${file}/${ctx.item!.index}`);
        return `${file}@${String(ctx.partition)}`;
      })
        .expand<string>(nights)
        .iterate(async (night, ctx) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await new Promise((r) => setImmediate(r));
          running--;
          expect(ctx.partition).toBe(night);
          return Array.from({ length: Number(night.slice(1)) }, (_, i) => `${night}-f${i}`);
        }, { concurrency: 2 });
      task('collect', (_c, xs: string[][]) => xs)(files);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'p_run' });
    expect(report.state).toBe('success');
    expect(states(report)).toEqual({ nights: 'success', 'files[0]': 'success', 'files[1]': 'success', 'files[2]': 'success', collect: 'success' });
    expect(await out(r, report, 'collect')).toEqual([['n1-f0@n1'], ['n2-f0@n2', 'n2-f1@n2'], ['n3-f0@n3', 'n3-f1@n3', 'n3-f2@n3']]);
    expect(seen.sort()).toEqual(['n1/0/n1-f0/0', 'n2/1/n2-f0/0', 'n2/1/n2-f1/1', 'n3/2/n3-f0/0', 'n3/2/n3-f1/1', 'n3/2/n3-f2/2']);
    // Instances ran at once (their items functions overlapped).
    expect(maxRunning).toBeGreaterThan(1);
    // What the items function gave is kept with the instance.
    expect((await r.store.getXCom(report, 'files', 2, 'partition_items'))?.value).toEqual(['n3-f0', 'n3-f1', 'n3-f2']);
  });

  it('a list of lists from upstream: items[mapIndex] is instance mapIndex\'s list; an empty partition succeeds with []', async () => {
    const d = dag({ dagId: 'p_lists' }, () => {
      const parts = task('parts', () => [10, 20, 30]);
      const items = task('items', () => [[1, 2], [], [3]]);
      const sums = task('add', (ctx: TaskContext, x: number) => x + (ctx.partition as number)).expand<number>(parts).iterate(items);
      task('collect', (_c, xs: number[][]) => xs)(sums);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'p_lists' });
    expect(report.state).toBe('success');
    expect(await out(r, report, 'collect')).toEqual([[11, 12], [], [33]]);
    expect(await out(r, report, 'add', 1)).toEqual([]);
  });

  it('an empty partitions list skips the task', async () => {
    const d = dag({ dagId: 'p_none' }, () => {
      const parts = task('parts', (): string[] => []);
      const t = task('t', (_c, x: number) => x).expand<string>(parts).iterate(() => [1]);
      task('collect', (_c, xs: number[][]) => xs)(t);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'p_none' });
    expect(states(report)).toEqual({ parts: 'success', t: 'skipped', collect: 'skipped' });
  });

  it('a MappingError names both lengths, a non-list partition, and an items function that returns no list', async () => {
    const d = dag({ dagId: 'p_errors' }, () => {
      task('short', (_c, x: number) => x).expand<string>(['a', 'b', 'c']).iterate([[1], [2]]);
      task('notlist', (_c, x: number) => x).expand<string>(['a', 'b']).iterate([[1], 'x' as never]);
      task('badfn', (_c, x: number) => x).expand<string>(['a']).iterate(() => 5 as never);
      task('notlists', (_c, x: number) => x).expand<string>(['a']).iterate(task('obj', () => ({ a: 1 })) as never);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'p_errors' });
    expect(report.state).toBe('failed');
    expect(await errorOf(r, report, 'short', 0)).toBe("MappingError: task 'short' has 3 partitions but 2 lists of items: items[i] must be partition i's items, one list per partition");
    expect(await errorOf(r, report, 'notlist', 0)).toBe(null);
    expect(await errorOf(r, report, 'notlist', 1)).toBe("MappingError: task 'notlist' partition 1's items are not a list: got a string (\"x\")");
    expect(await errorOf(r, report, 'badfn', 0)).toBe("MappingError: task 'badfn' partition 0's items function returned a number (5): expected a list of items");
    expect(await errorOf(r, report, 'notlists', 0)).toBe("MappingError: task 'notlists' cannot iterate over its partitions' items: expected a list with one list of items per partition, got an object");
  });

  it("a retry of an instance reruns only its failed items; itemRetries retries an item alone; the items function runs once per instance", async () => {
    const ledger = new Map<string, number>();
    const fnCalls = new Map<number, number>();
    const d = dag({ dagId: 'p_retry', defaultArgs: { retries: 1, retryDelay: '1m' } }, () => {
      const t = task('work', (ctx: TaskContext, x: number) => {
        const k = `${ctx.mapIndex}:${x}`;
        const n = (ledger.get(k) ?? 0) + 1;
        ledger.set(k, n);
        // Item 3 of each partition fails its first try's both attempts; item 5 its first attempt only.
        if (x === 3 && ctx.tryNumber === 1) throw new Error(`item ${x} of ${String(ctx.partition)} failed`);
        if (x === 5 && ctx.item!.tryNumber === 1) throw new Error('flaky');
        return x * 10;
      })
        .expand<number>([0, 1])
        .iterate(
          (p) => {
            fnCalls.set(p, (fnCalls.get(p) ?? 0) + 1);
            return Array.from({ length: 8 }, (_, i) => i);
          },
          { itemRetries: 1, concurrency: 3 },
        );
      task('collect', (_c, xs: number[][]) => xs)(t);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'p_retry' });
    expect(report.state).toBe('success');
    expect(tries(report)).toMatchObject({ 'work[0]': 2, 'work[1]': 2 });
    for (const m of [0, 1]) {
      for (let x = 0; x < 8; x++) expect([m, x, ledger.get(`${m}:${x}`)]).toEqual([m, x, x === 3 ? 3 : x === 5 ? 2 : 1]);
    }
    expect([...fnCalls.entries()].sort()).toEqual([[0, 1], [1, 1]]);
    const row = Array.from({ length: 8 }, (_, i) => i * 10);
    expect(await out(r, report, 'collect')).toEqual([row, row]);
    const log1 = await r.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'work', mapIndex: 1 }, 1);
    expect(log1.at(-1)?.message).toBe('Error: 1 of 8 items failed (first: item 3: Error: item 3 of 1 failed); 7 done are kept for the next try');
  });

  it('an items function that throws fails its instance; the retry calls it again (nothing was kept)', async () => {
    let calls = 0;
    const d = dag({ dagId: 'p_fn_throws', defaultArgs: { retries: 1, retryDelay: '1m' } }, () => {
      task('t', (_c: TaskContext, x: number) => x * 2)
        .expand<string>(['a', 'b'])
        .iterate((p) => {
          calls++;
          if (p === 'b' && calls <= 2) throw new Error(`listing ${p} failed`);
          return [1, 2];
        });
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'p_fn_throws' });
    expect(report.state).toBe('success');
    expect(tries(report)).toEqual({ 't[0]': 1, 't[1]': 2 });
    expect(calls).toBe(3);
    const log1 = await r.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 't', mapIndex: 1 }, 1);
    expect(log1.at(-1)?.message).toMatch(/^Error: listing b failed\n    at /);
    expect(await out(r, report, 't', 1)).toEqual([2, 4]);
  });

  it('clearing one instance runs that partition again (its items function too) and leaves the others', async () => {
    const ledger = new Map<string, number>();
    const d = dag({ dagId: 'p_clear' }, () => {
      const t = task('work', (ctx: TaskContext, x: string) => {
        ledger.set(`${ctx.mapIndex}:${x}`, (ledger.get(`${ctx.mapIndex}:${x}`) ?? 0) + 1);
        return x;
      })
        .expand<string>(['a', 'b', 'c'])
        .iterate((p) => [`${p}1`, `${p}2`]);
      task('collect', (_c, xs: string[][]) => xs)(t);
    });
    const r = fakeRunner([d]);
    const first = await r.run({ dagId: 'p_clear' });
    expect(first.state).toBe('success');
    await r.drive((s) => clearTaskInstances(s, { dagId: 'p_clear', runId: first.runId, taskIds: ['work'], mapIndexes: [1], downstream: true }));
    const again = await r.waitForRun(first);
    expect(again.state).toBe('success');
    expect(Object.fromEntries(ledger)).toEqual({ '0:a1': 1, '0:a2': 1, '1:b1': 2, '1:b2': 2, '2:c1': 1, '2:c2': 1 });
    expect(tries(await r.report(first))).toMatchObject({ 'work[0]': 1, 'work[1]': 2, 'work[2]': 1 });
    expect(await out(r, first, 'collect')).toEqual([['a1', 'a2'], ['b1', 'b2'], ['c1', 'c2']]);
  });

  it('kwargs variants: expandKwargs + iterateKwargs, partial, and named lists give {...partition, ...item}', async () => {
    type In = { site: string; night: string; file: string };
    const d = dag({ dagId: 'p_kwargs' }, () => {
      const f = (_c: TaskContext, i: In) => `${i.site}/${i.night}/${i.file}`;
      const a = task('a', f)
        .partial({ site: 'alma' })
        .expandKwargs<{ night: string }>([{ night: 'n1' }, { night: 'n2' }])
        .iterateKwargs((p) => [{ file: `${p.night}.ms` }]);
      const b = task('b', f)
        .expandKwargs<{ site: string; night: string }>([{ site: 's', night: 'n1' }])
        .iterate({ file: (p) => [`${p.night}-x`, `${p.night}-y`] });
      const c = task('c', (_c: TaskContext, i: { n: number; x: number; y: string }) => `${i.n}${i.x}${i.y}`)
        .expandKwargs<{ n: number }>([{ n: 1 }, { n: 2 }])
        .iterate({ x: [[1, 2], [3]], y: (p) => (p.n === 1 ? ['a'] : ['b', 'c']) });
      task('collect', (_c, xs: unknown[]) => xs)([a, b, c]);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'p_kwargs' });
    expect(report.state).toBe('success');
    expect(await out(r, report, 'collect')).toEqual([
      [['alma/n1/n1.ms'], ['alma/n2/n2.ms']],
      [['s/n1/n1-x', 's/n1/n1-y']],
      [['11a', '12a'], ['23b', '23c']],
    ]);
  });

  it('named lists of partitions (cross product, fixed fields too) iterate named lists of items', async () => {
    type In = { site: string; night: string; band: string; file: string };
    const d = dag({ dagId: 'p_named' }, () => {
      const t = task('t', (ctx: TaskContext, i: In) => `${ctx.mapIndex}:${i.site}/${i.night}/${i.band}/${i.file}`)
        .partial({ site: 'alma' })
        .expand<{ night: string; band: string }>({ night: ['n1', 'n2'], band: ['L'] })
        .iterate({ file: (p) => [`${p.night}${p.band}.ms`, 'x.ms'] });
      task('collect', (_c, xs: string[][]) => xs)(t);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'p_named' });
    expect(report.state).toBe('success');
    expect(await out(r, report, 'collect')).toEqual([
      ['0:alma/n1/L/n1L.ms', '0:alma/n1/L/x.ms'],
      ['1:alma/n2/L/n2L.ms', '1:alma/n2/L/x.ms'],
    ]);
  });

  it('100 partitions x 1,000 items: failing items retried alone, every result in order', async () => {
    const P = 100;
    const N = 1_000;
    const ledger = new Uint8Array(P * N);
    const d = dag({ dagId: 'p_100k', maxActiveTasks: 64, defaultArgs: { retries: 2, retryDelay: '10s' } }, () => {
      const t = task('item', (ctx: TaskContext, x: number) => {
        const m = ctx.mapIndex!;
        ledger[m * N + x]!++;
        // Every 97th item fails its instance's first try; every 89th fails its first attempt (itemRetries).
        if ((m * N + x) % 97 === 0 && ctx.tryNumber === 1) throw new Error('flaked');
        if ((m * N + x) % 89 === 0 && ctx.item!.tryNumber === 1) throw new Error('flaky');
        return m * N + x;
      })
        .expand<number>(task('parts', () => Array.from({ length: P }, (_, i) => i)))
        .iterate(() => Array.from({ length: N }, (_, i) => i), { concurrency: 32, itemRetries: 1 });
      task('check', (_c, xs: number[][]) => {
        let ok = xs.length === P;
        for (let m = 0; m < P && ok; m++) for (let i = 0; i < N && ok; i++) ok = xs[m]![i] === m * N + i;
        return ok;
      })(t);
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'p_100k' });
    expect(report.state).toBe('success');
    expect(await out(r, report, 'check')).toBe(true);
    const counts = [0, 0, 0, 0, 0];
    for (let k = 0; k < P * N; k++) {
      const expected = (k % 97 === 0 ? 3 : 1) + (k % 89 === 0 ? 1 : 0);
      if (ledger[k] !== expected) throw new Error(`item ${k % N} of partition ${Math.floor(k / N)} ran ${ledger[k]} times, expected ${expected}`);
      counts[ledger[k]!]!++;
    }
    expect(counts[1]! + counts[2]! + counts[3]! + counts[4]!).toBe(P * N);
    expect(counts[4]).toBeGreaterThan(0);
    // An instance with a failing item took 2 tries; the others 1.
    const t = tries(report);
    for (let m = 0; m < P; m++) {
      let fails = false;
      for (let i = 0; i < N; i++) if ((m * N + i) % 97 === 0) fails = true;
      expect([m, t[`item[${m}]`]]).toEqual([m, fails ? 2 : 1]);
    }
  });
});

describe('partitioned_iteration (dags/)', () => {
  it("flags each night's files inside the night's instance, retrying the flaky file in place", async () => {
    const r = fakeRunner([partitionedIteration], { captureConsole: false });
    const report = await r.run({ dagId: 'partitioned_iteration', conf: { nights: 3, filesPerNight: 5 } });
    expect(report.state).toBe('success');
    expect(states(report)).toEqual({ list_nights: 'success', 'flag_files[0]': 'success', 'flag_files[1]': 'success', 'flag_files[2]': 'success', summarise: 'success' });
    expect(tries(report)).toMatchObject({ 'flag_files[0]': 1, 'flag_files[1]': 1, 'flag_files[2]': 1 });
    const night1 = (await out(r, report, 'flag_files', 1)) as FileStats[];
    expect(night1.map((f) => f.file)).toEqual([0, 1, 2, 3, 4].map((i) => `2026-01-02/scan00${i}.ms`));
    const log = await r.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'flag_files', mapIndex: 1 }, 1);
    expect(log.map((l) => l.message)).toContain('item 2 try 1 failed: Error: reading 2026-01-02/scan002.ms timed out (simulated); retrying');
    expect(await out(r, report, 'summarise')).toMatchObject({ nights: 3, files: 15 });
  });
});
