import type { Dag } from '../authoring/dag.ts';
import type { TaskContext } from '../authoring/context.ts';
import { isPartitionItemsRef } from '../authoring/partitions.ts';
import { MappingError, NonRetriableError } from '../errors.ts';
import type { InputTemplate, IterateSpec, MappingSpec, TaskSpec } from '../model/spec.ts';
import type { TaskInstanceRecord } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import { checkJson } from './json-value.ts';
import { mappingItem, mappingLength, type ResolvedMapping } from './resolve.ts';

/** The XCom key under which an instance keeps what its items function returned (`<key>` or `<key>:<field>`). */
export const PARTITION_ITEMS_KEY = 'partition_items';

/** What resolving one instance's partition and items takes (the task runner's means, bound to the try). */
export interface PartitionMeans {
  dag: Dag;
  spec: TaskSpec & { iterate: IterateSpec; mapping: MappingSpec | null };
  ti: TaskInstanceRecord;
  io: StateStore;
  mappingLists(m: MappingSpec): Promise<ResolvedMapping>;
  resolve(t: InputTemplate): Promise<unknown>;
  /** A context for the items function (its `partition` is set here). */
  context(): TaskContext;
}

/** Give a context its partition (TaskContextImpl's field; readonly to task code). */
export function withPartition<C extends TaskContext>(ctx: C, partition: unknown): C {
  (ctx as { partition?: unknown }).partition = partition;
  return ctx;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v} (${JSON.stringify(v)})`;
}

/**
 * The items of instance `ti.mapIndex` of a partitioned iteration, as a mapping over them, with the
 * instance's partition (`partition`). Each source of the iteration's mapping is a function of the
 * partition (called once; what it returns is kept as the instance's `partition_items` XCom, so every try
 * and every item sees the same list) or a list of one list per partition (`items[mapIndex]`). In the kwargs
 * and product modes, an object partition's fields come first in each item's input.
 */
export async function partitionMapping(m: PartitionMeans): Promise<ResolvedMapping> {
  const { spec, ti } = m;
  const taskId = spec.taskId;
  if (!spec.mapping) throw new NonRetriableError(`task '${taskId}' iterates over partitions but is not mapped over any`);
  const parts = await m.mappingLists(spec.mapping);
  const n = mappingLength(parts);
  const at = ti.mapIndex;
  if (at < 0 || at >= n) throw new NonRetriableError(`map index ${at} of task '${taskId}' is out of range (${n} partitions)`);
  const partition = mappingItem(parts, at);
  const listOf = async (template: InputTemplate, field: string): Promise<unknown[]> => {
    const named = field === '' ? '' : ` '${field}'`;
    if (isPartitionItemsRef(template)) {
      const key = field === '' ? PARTITION_ITEMS_KEY : `${PARTITION_ITEMS_KEY}:${field}`;
      const kept = await m.io.getXCom(ti, taskId, at, key);
      if (kept) return kept.value as unknown[];
      const fn = m.dag.runtime.get(taskId)?.partitionItems?.[template.$partitionItems];
      if (!fn) throw new NonRetriableError(`task '${taskId}' of DAG '${m.dag.dagId}' has no items function${named} to run`);
      const v = await fn(partition, withPartition(m.context(), partition));
      if (!Array.isArray(v)) throw new MappingError(`task '${taskId}' partition ${at}'s items function${named} returned ${describe(v)}: expected a list of items`);
      checkJson(v, `partition ${at}'s items${named}`);
      await m.io.putXCom({ dagId: ti.dagId, runId: ti.runId, taskId, mapIndex: at, key, value: v });
      return v as unknown[];
    }
    const lists = await m.resolve(template);
    if (!Array.isArray(lists)) {
      throw new MappingError(`task '${taskId}' cannot iterate over its partitions' items${named}: expected a list with one list of items per partition, got ${describe(lists)}`);
    }
    if (lists.length !== n) {
      throw new MappingError(`task '${taskId}' has ${n} partitions but ${lists.length} lists of items${named}: items[i] must be partition i's items, one list per partition`);
    }
    const own: unknown = lists[at];
    if (!Array.isArray(own)) throw new MappingError(`task '${taskId}' partition ${at}'s items${named} are not a list: got ${describe(own)}`);
    return own as unknown[];
  };
  const it = spec.iterate.mapping;
  const partial = spec.mapping.mode !== 'single' && typeof partition === 'object' && partition !== null && !Array.isArray(partition) ? { ...(partition as Record<string, unknown>) } : {};
  let r: ResolvedMapping;
  if (it.mode === 'single') r = { mode: 'single', lists: [await listOf(it.source, '')], keys: [], partial: {} };
  else if (it.mode === 'kwargs') {
    const items = await listOf(it.source, '');
    items.forEach((x, i) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) {
        throw new MappingError(`task '${taskId}' partition ${at}'s iterateKwargs item ${i} is not an object: ${JSON.stringify(x)}`);
      }
    });
    r = { mode: 'kwargs', lists: [items], keys: [], partial };
  } else {
    const keys = Object.keys(it.expand);
    const lists: unknown[][] = [];
    for (const k of keys) lists.push(await listOf(it.expand[k], k));
    r = { mode: 'product', lists, keys, partial };
  }
  r.partition = partition;
  return r;
}
