// What the items of an iteration try share across calls: read once per try, kept for the last few tries.
import { describe, expect, it } from 'vitest';
import { ItemTryCache } from '../lib/executor/item-try-cache.ts';
import type { ResolvedMapping } from '../lib/executor/resolve.ts';
import type { DagRunRecord, TiKey } from '../lib/store/records.ts';

const key = (taskId: string): TiKey => ({ dagId: 'd', runId: 'r', taskId, mapIndex: -1 });
const lists = (n: number): ResolvedMapping => ({ mode: 'single', lists: [Array.from({ length: n }, (_, i) => i)], keys: [], partial: {} });
const run = { dagId: 'd', runId: 'r' } as DagRunRecord;

describe('ItemTryCache', () => {
  it('reads the lists and the run of a try once, however many items ask at once', async () => {
    const cache = new ItemTryCache();
    let reads = 0;
    const read = async () => {
      reads++;
      return lists(3);
    };
    const got = await Promise.all(Array.from({ length: 100 }, () => cache.lists(key('t'), 1, read)));
    expect(reads).toBe(1);
    expect(got.every((g) => g === got[0])).toBe(true);
    let runReads = 0;
    await cache.run(key('t'), 1, async () => (runReads++, run));
    await cache.run(key('t'), 1, async () => (runReads++, run));
    expect(runReads).toBe(1);
  });

  it('reads again for another try, another instance, or another map index', async () => {
    const cache = new ItemTryCache();
    let reads = 0;
    const read = async () => lists(++reads);
    await cache.lists(key('t'), 1, read);
    expect((await cache.lists(key('t'), 2, read)).lists[0]).toHaveLength(2);
    expect((await cache.lists(key('u'), 1, read)).lists[0]).toHaveLength(3);
    expect((await cache.lists({ ...key('t'), mapIndex: 0 }, 1, read)).lists[0]).toHaveLength(4);
    expect((await cache.lists(key('t'), 1, read)).lists[0]).toHaveLength(1);
  });

  it('keeps no failed read and no missing run', async () => {
    const cache = new ItemTryCache();
    await expect(cache.lists(key('t'), 1, async () => Promise.reject(new Error('throttled')))).rejects.toThrow('throttled');
    expect((await cache.lists(key('t'), 1, async () => lists(2))).lists[0]).toHaveLength(2);
    expect(await cache.run(key('t'), 1, async () => undefined)).toBeUndefined();
    expect(await cache.run(key('t'), 1, async () => run)).toBe(run);
  });

  it('keeps the last `capacity` tries', async () => {
    const cache = new ItemTryCache(2);
    let reads = 0;
    const read = async () => lists(++reads);
    for (const t of [1, 2, 3]) await cache.lists(key('t'), t, read);
    expect(reads).toBe(3);
    await cache.lists(key('t'), 3, read);
    await cache.lists(key('t'), 2, read);
    expect(reads).toBe(3);
    await cache.lists(key('t'), 1, read);
    expect(reads).toBe(4);
  });
});
