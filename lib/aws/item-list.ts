/**
 * Where an iteration try's item list goes (`iterate_prepare`): inline in the state, for the lifecycle's
 * inline Map, or in S3, for its Distributed Map (`ItemReader`), whose items are child executions.
 *
 * Two budgets decide. The state's size: a list whose JSON is over `ITEMS_INLINE_MAX_BYTES` cannot travel
 * in the state. And the execution's history: an inline Map's items are events of the lifecycle's own
 * Standard execution, which holds 25,000 events at most; past them the execution fails (and the try is
 * left running until the reconcile repairs it). A Distributed Map's items are child executions, each
 * with a history of its own, so it takes any number of items. The history budget binds first: about
 * 2,200 items, where the bytes allow some 30,000.
 */
import { ITEM_LISTS_FOLDER, ITEMS_INLINE_MAX_BYTES, ITEMS_INLINE_MAX_HISTORY_EVENTS, type IteratePrepareOutput } from '../compiler/contract.ts';
import { estimateHistoryEvents, HISTORY_EVENTS } from '../compiler/workflow-type.ts';
import type { TiKey } from '../store/records.ts';
import type { BlobStore } from './services.ts';

/**
 * History events of one retry of an item's `RunItem` task (TaskScheduled, TaskStarted, TaskFailed of the
 * attempt that failed).
 */
export const ITEM_RETRY_HISTORY_EVENTS = 3;

/**
 * The most history events one try of an iteration can spend with `items` items in its inline Map:
 * {@link estimateHistoryEvents} of one try (no loop: a retry of the try after its delay is counted by
 * the execution that runs it), with every item at its worst: each of its `itemRetries` used, then failed
 * for good (its `ItemFailed` Pass state).
 */
export function inlineItemsHistoryEvents(items: number, itemRetries: number): number {
  return estimateHistoryEvents('iterate', { items }) + items * (itemRetries * ITEM_RETRY_HISTORY_EVENTS + HISTORY_EVENTS.flow);
}

/** The limits an item list is held to (defaults from lib/compiler/contract.ts). */
export interface ItemListLimits {
  /** Largest JSON of a list kept inline. Default `ITEMS_INLINE_MAX_BYTES` (204,800). */
  maxBytes?: number;
  /** Most history events of a try's inline Map ({@link inlineItemsHistoryEvents}). Default `ITEMS_INLINE_MAX_HISTORY_EVENTS` (20,000). */
  maxHistoryEvents?: number;
}

/** Where a list goes: inline, or to S3 and why. */
export type ItemListPlacement = { inline: true } | { inline: false; reason: string };

/** Where a list of `items` indexes (`bytes` of JSON) of a task with `itemRetries` goes. */
export function itemListPlacement(list: { items: number; bytes: number; itemRetries: number }, limits: ItemListLimits = {}): ItemListPlacement {
  const maxBytes = limits.maxBytes ?? ITEMS_INLINE_MAX_BYTES;
  const maxEvents = limits.maxHistoryEvents ?? ITEMS_INLINE_MAX_HISTORY_EVENTS;
  if (list.bytes > maxBytes) return { inline: false, reason: `its JSON (${list.bytes} bytes) is over the ${maxBytes} bytes a state may carry` };
  const events = inlineItemsHistoryEvents(list.items, list.itemRetries);
  if (events > maxEvents) {
    return {
      inline: false,
      reason: `an inline Map of ${list.items} items with itemRetries ${list.itemRetries} could spend ${events} history events, over the ${maxEvents} a try may spend of its execution's history`,
    };
  }
  return { inline: true };
}

/** The most items kept inline with `itemRetries` (the history budget; the bytes may allow fewer). */
export function maxInlineItems(itemRetries: number, maxHistoryEvents: number = ITEMS_INLINE_MAX_HISTORY_EVENTS): number {
  const fixed = inlineItemsHistoryEvents(0, itemRetries);
  const perItem = inlineItemsHistoryEvents(1, itemRetries) - fixed;
  return Math.max(0, Math.floor((maxHistoryEvents - fixed) / perItem));
}

/**
 * `iterate_prepare`'s answer for the items a try still has to run: inline, or the list put in S3 at
 * `<ITEM_LISTS_FOLDER>/<dag>/<run>/<task>/<map index>/try-<n>/items.json`, with the results prefix its
 * Distributed Map's `ResultWriter` writes under. Throws when the list must go to S3 and there is no bucket.
 */
export async function itemListOutput(
  key: TiKey,
  tryNumber: number,
  prepared: { items: number[]; itemRetries: number },
  blobs: BlobStore | undefined,
): Promise<IteratePrepareOutput> {
  const list = JSON.stringify(prepared.items);
  const bytes = Buffer.byteLength(list, 'utf8');
  const placement = itemListPlacement(
    { items: prepared.items.length, bytes, itemRetries: prepared.itemRetries },
    {
      ...(blobs?.itemsInlineMaxBytes !== undefined ? { maxBytes: blobs.itemsInlineMaxBytes } : {}),
      ...(blobs?.itemsInlineMaxHistoryEvents !== undefined ? { maxHistoryEvents: blobs.itemsInlineMaxHistoryEvents } : {}),
    },
  );
  if (placement.inline) return { items: prepared.items, itemsObject: null };
  if (!blobs) {
    throw new Error(
      `task '${key.taskId}' of DAG '${key.dagId}' (run '${key.runId}', try ${tryNumber}): its ${prepared.items.length} items cannot run inline (${placement.reason}) and no bucket is configured for their list (BUCKET_NAME)`,
    );
  }
  const dir = `${ITEM_LISTS_FOLDER}/${key.dagId}/${key.runId}/${key.taskId}/${key.mapIndex}/try-${tryNumber}`;
  const at = await blobs.put(`${dir}/items.json`, list);
  return { items: null, itemsObject: { Bucket: at.Bucket, Key: at.Key, ResultsPrefix: `${at.Key.slice(0, -'items.json'.length)}results` } };
}
