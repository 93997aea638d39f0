import type { InputTemplate, IterateSpec, MappingSpec, PartitionItemsRef } from '../model/spec.ts';
import type { DagBuilder, IterateOptions, TaskDraft, TaskNode } from './builder.ts';
import type { TaskContext } from './context.ts';
import { isXComArg, type Resolvable } from './xcom-arg.ts';

/**
 * The items of one partition, computed when the instance prepares its items (locally at the start of its
 * first try, deployed in `iterate_prepare`). What it returns is kept with the instance, so a retry runs the
 * same items (it is not called again).
 */
export type PartitionItemsFunction<P = any, T = unknown> = (partition: P, ctx: TaskContext) => readonly T[] | Promise<readonly T[]>;

/**
 * A partitioned iteration's items: a function of the partition, or a list (literal or an upstream result)
 * holding one list of items per partition: `items[mapIndex]` is instance `mapIndex`'s list.
 */
export type PartitionItems<P, T> = PartitionItemsFunction<P, T> | Resolvable<T[][]>;

/** The fields of the input an item gives, when the partition (an object) gives the fields `M`. */
type ItemFields<I, M> = I extends Record<string, unknown> ? Omit<I, keyof M & keyof I> : never;

/**
 * A task mapped over partitions that still needs its items: `.iterate(...)` or `.iterateKwargs(...)` gives
 * each partition's items, iterated inside the partition's instance. The result is one list per partition
 * (its items' results, in item order), in map-index order.
 */
export interface PartitionedTask<P, I, R, M = Record<never, never>> {
  /** Each item is the task's whole input. */
  iterate(items: PartitionItems<P, I>, options?: IterateOptions): TaskNode<R[][]>;
  /** Named lists of items per partition (cross product within the partition); the input is `{...partition, ...fields}`. */
  iterate(kwargs: I extends Record<string, unknown> ? { [K in keyof ItemFields<I, M>]: PartitionItems<P, ItemFields<I, M>[K]> } : never, options?: IterateOptions): TaskNode<R[][]>;
  /** Each item is an object of input fields; the input is `{...partition, ...item}` (the partition's fields when it is an object of them). */
  iterateKwargs(items: PartitionItems<P, ItemFields<I, M>>, options?: IterateOptions): TaskNode<R[][]>;
}

/** The `$partitionItems` marker standing for a function in the spec. */
export function isPartitionItemsRef(t: unknown): t is PartitionItemsRef {
  return typeof t === 'object' && t !== null && !Array.isArray(t) && Object.keys(t).length === 1 && typeof (t as Record<string, unknown>)['$partitionItems'] === 'string';
}

/**
 * `.expand(partitions).iterate(items)`: the iteration of each partition's items. Functions are kept in
 * `draft.partitionItems` (the DAG's runtime) and named in the spec by a {@link PartitionItemsRef}.
 */
export function partitionedIterate(builder: DagBuilder, draft: TaskDraft, arg: unknown, kwargsList: boolean, options: IterateOptions | undefined, path: string): IterateSpec {
  const id = draft.taskId;
  if (draft.own.kind !== 'task') builder.fail(`${path}: only a task() can iterate over its partitions' items, not a ${draft.own.kind}`, id);
  const functions: Record<string, PartitionItemsFunction> = {};
  const source = (v: unknown, field: string, at: string): InputTemplate => {
    // A task handle is a function too, and an XComArg: an upstream result, not an items function.
    if (typeof v === 'function' && !isXComArg(v)) {
      functions[field] = v as PartitionItemsFunction;
      return { $partitionItems: field } satisfies PartitionItemsRef;
    }
    if (!isXComArg(v) && !Array.isArray(v)) {
      builder.fail(`${at}: expected a function of the partition, a list of lists (one per partition) or an upstream result, got ${v === null ? 'null' : typeof v}`, id);
    }
    return builder.template(draft, v, at);
  };
  let mapping: MappingSpec;
  if (kwargsList) mapping = { mode: 'kwargs', source: source(arg, '', path), partial: null };
  else if (typeof arg === 'function' || isXComArg(arg) || Array.isArray(arg)) mapping = { mode: 'single', source: source(arg, '', path), partial: null };
  else {
    if (typeof arg !== 'object' || arg === null || Object.keys(arg).length === 0) {
      builder.fail(`${path}: expected a function of the partition, a list of lists (one per partition), an upstream result, or an object of them`, id);
    }
    const expand: Record<string, InputTemplate> = {};
    for (const [k, v] of Object.entries(arg)) expand[k] = source(v, k, `${path}.${k}`);
    mapping = { mode: 'product', expand, partial: null };
  }
  const concurrency = options?.concurrency ?? 16;
  const itemRetries = options?.itemRetries ?? 0;
  if (options !== undefined && (typeof options !== 'object' || options === null)) builder.fail(`${path}: expected an options object`, id);
  for (const k of Object.keys(options ?? {})) {
    if (k !== 'concurrency' && k !== 'itemRetries') builder.fail(`unknown option '${k}' for ${path} (known: concurrency, itemRetries)`, id);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) builder.fail(`iterate concurrency must be an integer >= 1, got ${concurrency}`, id);
  if (!Number.isInteger(itemRetries) || itemRetries < 0) builder.fail(`iterate itemRetries must be an integer >= 0, got ${itemRetries}`, id);
  if (Object.keys(functions).length > 0) draft.partitionItems = functions;
  return { mapping, concurrency, itemRetries, partitioned: true };
}
