// Where an iteration try's item list goes: inline (the lifecycle's Map, in its own execution's history)
// or to S3 (a Distributed Map of child executions), by the bytes of the list AND by the history events
// its inline Map could spend; and which kind of child execution the Distributed Map runs an item in.
import { describe, expect, it } from 'vitest';
import { handleTaskRunnerRequest, handleTrigger, type AwsServices } from '../lib/aws/handlers.ts';
import { inlineItemsHistoryEvents, itemListPlacement, maxInlineItems } from '../lib/aws/item-list.ts';
import type { BlobStore } from '../lib/aws/services.ts';
import { ITEMS_INLINE_MAX_BYTES, ITEMS_INLINE_MAX_HISTORY_EVENTS, type IteratePrepareOutput } from '../lib/compiler/contract.ts';
import { estimateHistoryEvents, HISTORY_EVENT_LIMIT } from '../lib/compiler/workflow-type.ts';
import { LocalBatch } from '../lib/executor/local-batch.ts';
import { dag, task } from '../lib/index.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';

/** The JSON bytes of the list of indexes 0..n-1. */
const bytesOf = (n: number) => Buffer.byteLength(JSON.stringify(Array.from({ length: n }, (_, i) => i)), 'utf8');

describe('the history budget of an inline Map', () => {
  it('counts one try at its worst: every item retried itemRetries times, then failed for good', () => {
    // 27 + 7 per item as estimateHistoryEvents counts a try, + 2 per item (ItemFailed) + 3 per item retry.
    expect(inlineItemsHistoryEvents(0, 0)).toBe(estimateHistoryEvents('iterate'));
    expect(inlineItemsHistoryEvents(1000, 0)).toBe(estimateHistoryEvents('iterate', { items: 1000 }) + 2 * 1000);
    expect(inlineItemsHistoryEvents(1000, 2)).toBe(27 + 1000 * (7 + 2 + 3 * 2));
  });

  it('keeps at most 2,219 items inline without item retries, 1,331 with 2, well under the 25,000-event limit', () => {
    expect(ITEMS_INLINE_MAX_HISTORY_EVENTS).toBeLessThan(HISTORY_EVENT_LIMIT);
    expect(maxInlineItems(0)).toBe(2219);
    expect(maxInlineItems(2)).toBe(1331);
    for (const retries of [0, 1, 2, 5, 10]) {
      const n = maxInlineItems(retries);
      expect(inlineItemsHistoryEvents(n, retries)).toBeLessThanOrEqual(ITEMS_INLINE_MAX_HISTORY_EVENTS);
      expect(inlineItemsHistoryEvents(n + 1, retries)).toBeGreaterThan(ITEMS_INLINE_MAX_HISTORY_EVENTS);
    }
  });
});

describe('itemListPlacement', () => {
  it('at the history boundary: 2,219 items stay inline, 2,220 go to S3 (their JSON is far under the bytes limit)', () => {
    expect(bytesOf(2220)).toBeLessThan(ITEMS_INLINE_MAX_BYTES);
    expect(itemListPlacement({ items: 2219, bytes: bytesOf(2219), itemRetries: 0 })).toStrictEqual({ inline: true });
    expect(itemListPlacement({ items: 2220, bytes: bytesOf(2220), itemRetries: 0 })).toStrictEqual({
      inline: false,
      reason: 'an inline Map of 2220 items with itemRetries 0 could spend 20007 history events, over the 20000 a try may spend of its execution\'s history',
    });
    expect(itemListPlacement({ items: 1331, bytes: bytesOf(1331), itemRetries: 2 })).toStrictEqual({ inline: true });
    expect(itemListPlacement({ items: 1332, bytes: bytesOf(1332), itemRetries: 2 }).inline).toBe(false);
  });

  it('3,567 items (what the bytes limit alone kept inline, past what a Standard history holds) go to S3', () => {
    expect(inlineItemsHistoryEvents(3567, 0)).toBeGreaterThan(HISTORY_EVENT_LIMIT);
    expect(itemListPlacement({ items: 3567, bytes: bytesOf(3567), itemRetries: 0 }).inline).toBe(false);
  });

  it('at the bytes boundary: a list over the bytes goes to S3 whatever its history', () => {
    expect(itemListPlacement({ items: 10, bytes: ITEMS_INLINE_MAX_BYTES, itemRetries: 0 })).toStrictEqual({ inline: true });
    expect(itemListPlacement({ items: 10, bytes: ITEMS_INLINE_MAX_BYTES + 1, itemRetries: 0 })).toStrictEqual({
      inline: false,
      reason: `its JSON (${ITEMS_INLINE_MAX_BYTES + 1} bytes) is over the ${ITEMS_INLINE_MAX_BYTES} bytes a state may carry`,
    });
  });

  it('takes other limits', () => {
    expect(itemListPlacement({ items: 10, bytes: 30, itemRetries: 0 }, { maxBytes: 29 }).inline).toBe(false);
    expect(itemListPlacement({ items: 10, bytes: 30, itemRetries: 0 }, { maxHistoryEvents: inlineItemsHistoryEvents(10, 0) })).toStrictEqual({ inline: true });
    expect(itemListPlacement({ items: 10, bytes: 30, itemRetries: 0 }, { maxHistoryEvents: inlineItemsHistoryEvents(10, 0) - 1 }).inline).toBe(false);
  });
});

describe('iterate_prepare', () => {
  /** The task runner's answer to `iterate_prepare` for a fresh run of a task iterating over `n` items. */
  async function prepare(n: number, itemRetries: number, blobs: BlobStore | undefined): Promise<IteratePrepareOutput> {
    const d = dag({ dagId: 'iter_budget' }, () => {
      task('items', (_ctx, x: number) => x).iterate(Array.from({ length: n }, (_, i) => i), { concurrency: 10, itemRetries });
    });
    const svc: AwsServices = {
      store: new MemoryStateStore(),
      dags: { getDag: (id) => (id === d.dagId ? d : undefined) },
      dispatcher: { startLifecycle: async () => undefined, startTimer: async () => undefined, startArrayWaves: async () => undefined },
      batch: new LocalBatch({ now: () => 0, setTimer: () => undefined, onDone: () => undefined }),
      ...(blobs ? { blobs } : {}),
    };
    await handleTrigger({ dagId: 'iter_budget', runId: 'r' }, svc);
    return (await handleTaskRunnerRequest({ mode: 'iterate_prepare', key: { dagId: 'iter_budget', runId: 'r', taskId: 'items', mapIndex: -1 }, tryNumber: 1 }, svc)) as IteratePrepareOutput;
  }

  /** A bucket in memory. */
  function bucket(): BlobStore & { objects: Map<string, string> } {
    const objects = new Map<string, string>();
    return {
      objects,
      async put(key, body) {
        objects.set(key, body);
        return { Bucket: 'b', Key: `values/${key}` };
      },
    };
  }

  it('returns 2,219 items inline, and puts 2,220 in S3 for the Distributed Map', async () => {
    const inline = await prepare(2219, 0, bucket());
    expect(inline.items).toHaveLength(2219);
    expect(inline.itemsObject).toBeNull();

    const b = bucket();
    const s3 = await prepare(2220, 0, b);
    expect(s3.items).toBeNull();
    expect(s3.itemsObject).toStrictEqual({
      Bucket: 'b',
      Key: 'values/_item-lists/iter_budget/r/items/-1/try-1/items.json',
      ResultsPrefix: 'values/_item-lists/iter_budget/r/items/-1/try-1/results',
    });
    expect(JSON.parse(b.objects.get('_item-lists/iter_budget/r/items/-1/try-1/items.json')!)).toStrictEqual(Array.from({ length: 2220 }, (_, i) => i));
  });

  it("counts the task's itemRetries", async () => {
    expect((await prepare(1331, 2, bucket())).items).toHaveLength(1331);
    expect((await prepare(1332, 2, bucket())).itemsObject).not.toBeNull();
  });

  it('refuses a list that must go to S3 when there is no bucket, saying why', async () => {
    await expect(prepare(2220, 0, undefined)).rejects.toThrow(
      "task 'items' of DAG 'iter_budget' (run 'r', try 1): its 2220 items cannot run inline (an inline Map of 2220 items with itemRetries 0 could spend 20007 history events, over the 20000 a try may spend of its execution's history) and no bucket is configured for their list (BUCKET_NAME)",
    );
  });
});
