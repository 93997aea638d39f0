import { inspect } from 'node:util';
import { DagDefinitionError } from '../errors.ts';
import type { InputTemplate, IterateSpec, MappingSpec, TaskKindFields } from '../model/spec.ts';
import type { GraphNode } from '../core/setup-teardown.ts';
import type { TaskOptions } from './options.ts';
import { partitionedIterate, type PartitionedTask, type PartitionItemsFunction } from './partitions.ts';
import { isXComArg, toTemplate, XCOM_ARG, type Resolvable, type XComArg } from './xcom-arg.ts';

/** A task as it is being declared, before the DAG is finished. */
export interface TaskDraft {
  taskId: string;
  /** The kind, with the kind's own field (a sensor's `sensor`, a Batch job's `batch`, ...). */
  own: TaskKindFields;
  groupId: string | null;
  options: TaskOptions;
  upstream: Set<string>;
  downstream: Set<string>;
  /** null when the task has no input. */
  input: InputTemplate;
  bound: boolean;
  mapping: MappingSpec | null;
  iterate: IterateSpec | null;
  callable: ((ctx: any, input: any) => unknown) | null;
  /** The callable declares an input parameter, so the task must be given one. */
  expectsInput: boolean;
  /** A partitioned iteration's item functions, by field ('' for a single list); absent when none. */
  partitionItems?: Record<string, PartitionItemsFunction>;
}

export interface GroupDraft {
  groupId: string;
  parentGroupId: string | null;
  tooltip: string | null;
  prefixGroupId: boolean;
  defaultArgs: TaskOptions;
  taskIds: string[];
}

export class DagBuilder {
  readonly tasks = new Map<string, TaskDraft>();
  readonly groups: GroupDraft[] = [];
  readonly groupStack: GroupDraft[] = [];
  constructor(
    readonly dagId: string,
    readonly defaultArgs: TaskOptions,
  ) {}

  fail(detail: string, taskId?: string): never {
    throw new DagDefinitionError(detail, taskId === undefined ? { dagId: this.dagId } : { dagId: this.dagId, taskId });
  }

  /** Full task id, with group prefixes. */
  qualify(id: string): string {
    const g = this.groupStack.at(-1);
    return g && g.prefixGroupId ? `${g.groupId}.${id}` : id;
  }

  effectiveOptions(own: TaskOptions): TaskOptions {
    const merged: TaskOptions = { ...this.defaultArgs };
    for (const g of this.groupStack) Object.assign(merged, g.defaultArgs);
    for (const [k, v] of Object.entries(own)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
    return merged;
  }

  addTask(draft: Omit<TaskDraft, 'groupId' | 'upstream' | 'downstream' | 'bound' | 'input' | 'mapping' | 'iterate'>): TaskDraft {
    if (typeof draft.taskId !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(draft.taskId)) {
      this.fail(`task id ${JSON.stringify(draft.taskId)} is invalid: use letters, digits, '_', '-' and '.'`);
    }
    if (this.tasks.has(draft.taskId)) this.fail(`duplicate task id '${draft.taskId}'`, draft.taskId);
    const group = this.groupStack.at(-1) ?? null;
    const full: TaskDraft = {
      ...draft,
      groupId: group?.groupId ?? null,
      upstream: new Set(),
      downstream: new Set(),
      bound: false,
      input: null,
      mapping: null,
      iterate: null,
    };
    this.tasks.set(full.taskId, full);
    for (const g of this.groupStack) g.taskIds.push(full.taskId);
    return full;
  }

  addEdge(up: string, down: string): void {
    const u = this.tasks.get(up);
    const d = this.tasks.get(down);
    if (!u) this.fail(`'${down}' depends on '${up}', which is not a task of this DAG`, down);
    if (!d) this.fail(`'${up}' is upstream of '${down}', which is not a task of this DAG`, up);
    if (up === down) this.fail(`task '${up}' cannot depend on itself`, up);
    u.downstream.add(down);
    d.upstream.add(up);
  }

  /** A declared task as the graph rules of lib/core/setup-teardown.ts read it. */
  graphNode(id: string): GraphNode {
    const d = this.tasks.get(id)!;
    return {
      taskId: id,
      upstream: [...d.upstream],
      downstream: [...d.downstream],
      ...(d.options.setup ? { setup: true as const } : {}),
      ...(d.options.teardown ? { teardown: true as const } : {}),
    };
  }

  /** Turn an input value into a template and add an edge from every upstream it references. */
  template(draft: TaskDraft, value: unknown, path: string): InputTemplate {
    const refs = new Set<string>();
    let t: InputTemplate;
    try {
      t = toTemplate(value, refs, path);
    } catch (e) {
      this.fail((e as Error).message, draft.taskId);
    }
    for (const r of refs) this.addEdge(r, draft.taskId);
    return t;
  }
}

const STACK_KEY = Symbol.for('airless.dagBuilderStack');
type GlobalWithStack = typeof globalThis & { [STACK_KEY]?: DagBuilder[] };

/** Builders of the dag() definitions under way (kept on globalThis so that two copies of the library agree). */
export function builderStack(): DagBuilder[] {
  const g = globalThis as GlobalWithStack;
  return (g[STACK_KEY] ??= []);
}

export function currentBuilder(what: string): DagBuilder {
  const b = builderStack().at(-1);
  if (!b) throw new DagDefinitionError(`${what} must be called inside a dag() definition`);
  return b;
}

// ---------------------------------------------------------------------------------------------------
// Handles: what task(), sensor(), ... return.

/** Anything an edge can be drawn to or from: a task, a task group, or a list of them. */
export type DependencyTarget = TaskNode<unknown> | TaskGroupRef | readonly DependencyTarget[];

export interface TaskGroupRef {
  readonly groupId: string;
  /** Tasks of the group with no upstream inside the group. */
  roots(): string[];
  /** Tasks of the group with no downstream inside the group. */
  leaves(): string[];
}

/** A declared task: its result as an XComArg, plus edges that carry no data. */
export interface TaskNode<R> extends XComArg<R> {
  /** Make this task run after the given ones. */
  after(...upstream: DependencyTarget[]): this;
  /** Make the given tasks run after this one. */
  before(...downstream: DependencyTarget[]): this;
  /** Reference a value this task pushed under another key with `ctx.xcomPush`. */
  xcom<T = unknown>(key: string): XComArg<T>;
  /** Make this a setup task (Airflow's `as_setup()`; same as the option `setup: true`). */
  asSetup(): this;
  /**
   * Make this a teardown task (Airflow's `as_teardown()`; same as the option `teardown: true`), drawing an
   * edge from each of `setups` to it.
   */
  asTeardown(options?: AsTeardownOptions): this;
}

export interface AsTeardownOptions {
  /**
   * The setup tasks this teardown tears down: each is made a setup and drawn upstream of the teardown.
   * @default none (only the edges drawn otherwise)
   */
  setups?: DependencyTarget;
  /**
   * The teardown's failure fails the run.
   * @default false
   */
  onFailureFailDagrun?: boolean;
}

export interface IterateOptions {
  /**
   * Items run at once.
   * @default 16
   */
  concurrency?: number;
  /**
   * Extra tries for a failing item within one try of the task.
   * @default 0
   */
  itemRetries?: number;
}

export interface PartialTask<Rest, R> {
  /**
   * Partitioned iteration over named lists: one instance per combination (a partition: the fixed fields
   * and one value of each list), then `.iterate(...)` gives each partition's items. Name the partition
   * type: `.partial({ site }).expand<{ night: string }>({ night: nights })`.
   */
  expand<P extends Record<string, unknown> = never>(kwargs: NoInfer<{ [K in keyof P]: Resolvable<P[K][]> }>): PartitionedTask<P, Rest, R, P>;
  /** One task instance per combination of the lists' items (cross product). */
  expand(kwargs: { [K in keyof Rest]: Resolvable<Rest[K][]> }): TaskNode<R[]>;
  /** One task instance per object in the list; its fields complete the input. */
  expandKwargs(items: Resolvable<Rest[]>): TaskNode<R[]>;
  /**
   * Partitioned iteration: one instance per partition (an object of input fields, with the fixed ones),
   * then `.iterate(...)` / `.iterateKwargs(...)` gives each partition's items. Name the partition type:
   * `.partial({ ... }).expandKwargs<Night>(nights)`.
   */
  expandKwargs<P = never>(partitions: Resolvable<NoInfer<P>[]>): PartitionedTask<P, Rest, R, P>;
  /** Every combination inside one task instance, `concurrency` at a time. */
  iterate(kwargs: { [K in keyof Rest]: Resolvable<Rest[K][]> }, options?: IterateOptions): TaskNode<R[]>;
  iterateKwargs(items: Resolvable<Rest[]>, options?: IterateOptions): TaskNode<R[]>;
}


/** A task that takes an input `I` and returns `R`. */
export interface TaskHandle<I, R> extends TaskNode<R> {
  /** Give the task its input: literal values and upstream results (XComArgs), at any depth. */
  (input: Resolvable<I>): TaskNode<R>;
  /** Dynamic task mapping: one task instance per item of the list. */
  expand(items: Resolvable<I[]>): TaskNode<R[]>;
  /**
   * Partitioned iteration: one task instance per partition, each iterating its own partition's items
   * (then `.iterate(items)`, a function of the partition or one list of items per partition). Name the
   * partition type: `.expand<Night>(nights).iterate((night) => filesOf(night))`.
   */
  expand<P = never>(partitions: Resolvable<NoInfer<P>[]>): PartitionedTask<P, I, R>;
  /** Partitioned iteration over named lists (cross product): each partition is an object of one value of each. */
  expand<P extends Record<string, unknown> = never>(kwargs: NoInfer<{ [K in keyof P]: Resolvable<P[K][]> }>): PartitionedTask<P, I, R, P>;
  /** Dynamic task mapping over named lists (cross product); the input is an object of them. */
  expand(kwargs: I extends Record<string, unknown> ? { [K in keyof I]: Resolvable<I[K][]> } : never): TaskNode<R[]>;
  expandKwargs(items: Resolvable<I[]>): TaskNode<R[]>;
  /**
   * Partitioned iteration over objects of input fields: each item's input is `{...partition, ...item}`.
   * Name the partition type: `.expandKwargs<{ night: string }>(nights).iterateKwargs(...)`.
   */
  expandKwargs<P = never>(partitions: Resolvable<NoInfer<P>[]>): PartitionedTask<P, I, R, P>;
  /** Fix some fields of the input; map over the rest. */
  partial<const P extends Partial<I>>(fixed: { [K in keyof P]: Resolvable<P[K]> }): PartialTask<Omit<I, keyof P>, R>;
  /** Dynamic task iteration: every item inside this one task instance. */
  iterate(items: Resolvable<I[]>, options?: IterateOptions): TaskNode<R[]>;
  iterate(
    kwargs: I extends Record<string, unknown> ? { [K in keyof I]: Resolvable<I[K][]> } : never,
    options?: IterateOptions,
  ): TaskNode<R[]>;
  iterateKwargs(items: Resolvable<I[]>, options?: IterateOptions): TaskNode<R[]>;
}

export function targetIds(builder: DagBuilder, targets: readonly DependencyTarget[], side: 'roots' | 'leaves'): string[] {
  const out: string[] = [];
  for (const t of targets) {
    if (Array.isArray(t)) out.push(...targetIds(builder, t, side));
    else if (isXComArg(t)) out.push(t.taskId);
    else if (typeof t === 'object' && t !== null && 'groupId' in t) out.push(...t[side]());
    else builder.fail(`cannot draw an edge to ${inspect(t, { depth: 0 })}: expected a task, a task group or a list of them`);
  }
  return out;
}

function bindOnce(builder: DagBuilder, draft: TaskDraft, how: string): void {
  if (draft.bound) {
    builder.fail(`task '${draft.taskId}' already has its input; ${how} can be given once (declare another task for another call)`, draft.taskId);
  }
  draft.bound = true;
}

function mappingOf(builder: DagBuilder, draft: TaskDraft, arg: unknown, partial: Record<string, unknown> | null, kwargsList: boolean, path: string): MappingSpec {
  const partialT = partial === null ? null : (builder.template(draft, partial, `${path}.partial`) as Record<string, InputTemplate>);
  if (kwargsList) return { mode: 'kwargs', source: builder.template(draft, arg, path), partial: partialT };
  if (isXComArg(arg) || Array.isArray(arg)) {
    if (partialT !== null) builder.fail(`${path}: after .partial(), expand over named lists: .expand({ name: list })`, draft.taskId);
    return { mode: 'single', source: builder.template(draft, arg, path), partial: null };
  }
  if (typeof arg !== 'object' || arg === null || Object.keys(arg).length === 0) {
    builder.fail(`${path}: expected a list, an upstream result, or an object of named lists`, draft.taskId);
  }
  const expand: Record<string, InputTemplate> = {};
  for (const [k, v] of Object.entries(arg)) {
    if (!isXComArg(v) && !Array.isArray(v)) {
      builder.fail(`${path}: '${k}' must be a list or an upstream result, got ${typeof v}`, draft.taskId);
    }
    if (partial && k in partial) builder.fail(`${path}: '${k}' is given both in partial() and in expand()`, draft.taskId);
    expand[k] = builder.template(draft, v, `${path}.${k}`);
  }
  return { mode: 'product', expand, partial: partialT };
}

/** `.expand()` after `.iterate()`: the partitions come first. */
function expandAfterIterate(builder: DagBuilder, draft: TaskDraft, how: string): void {
  if (draft.iterate !== null) {
    builder.fail(`task '${draft.taskId}' already iterates; ${how} cannot come after .iterate(): a partitioned task maps over its partitions first, .expand(partitions).iterate(items)`, draft.taskId);
  }
}

/** `.iterate()` on a task mapped by `.expand()` (and not iterating yet): each instance iterates its partition. */
function partitioned(draft: TaskDraft): boolean {
  return draft.mapping !== null && draft.iterate === null && draft.input === null;
}

function noFunctionItems(builder: DagBuilder, draft: TaskDraft, arg: unknown, path: string): void {
  const isFn = (v: unknown) => typeof v === 'function' && !isXComArg(v);
  const fns = isFn(arg) || (typeof arg === 'object' && arg !== null && !isXComArg(arg) && Object.values(arg).some(isFn));
  if (fns && draft.mapping === null && !draft.bound) {
    builder.fail(`${path}: items given as a function of the partition need partitions first: .expand(partitions).iterate(items)`, draft.taskId);
  }
}

function iterateOf(builder: DagBuilder, draft: TaskDraft, mapping: MappingSpec, options: IterateOptions | undefined): IterateSpec {
  const concurrency = options?.concurrency ?? 16;
  const itemRetries = options?.itemRetries ?? 0;
  if (!Number.isInteger(concurrency) || concurrency < 1) builder.fail(`iterate concurrency must be an integer >= 1, got ${concurrency}`, draft.taskId);
  if (!Number.isInteger(itemRetries) || itemRetries < 0) builder.fail(`iterate itemRetries must be an integer >= 0, got ${itemRetries}`, draft.taskId);
  return { mapping, concurrency, itemRetries };
}

/** Build the callable handle for a declared task. */
export function makeHandle<I, R>(builder: DagBuilder, draft: TaskDraft): TaskHandle<I, R> {
  const id = draft.taskId;
  const handle = function (input: unknown) {
    bindOnce(builder, draft, 'its input');
    draft.input = builder.template(draft, input, `${id}(input)`);
    return handle;
  } as unknown as TaskHandle<I, R> & Record<string | symbol, unknown>;
  Object.defineProperty(handle, 'name', { value: id });
  Object.assign(handle, {
    [XCOM_ARG]: true,
    taskId: id,
    key: 'return_value',
    after(...ups: DependencyTarget[]) {
      for (const u of targetIds(builder, ups, 'leaves')) builder.addEdge(u, id);
      return handle;
    },
    before(...downs: DependencyTarget[]) {
      for (const d of targetIds(builder, downs, 'roots')) builder.addEdge(id, d);
      return handle;
    },
    xcom(key: string) {
      return { [XCOM_ARG]: true, taskId: id, key };
    },
    asSetup() {
      draft.options = { ...draft.options, setup: true };
      return handle;
    },
    asTeardown(options: AsTeardownOptions = {}) {
      if (typeof options !== 'object' || options === null) builder.fail(`${id}.asTeardown: expected an options object`, id);
      for (const k of Object.keys(options)) {
        if (k !== 'setups' && k !== 'onFailureFailDagrun') builder.fail(`unknown option '${k}' for asTeardown (known: setups, onFailureFailDagrun)`, id);
      }
      draft.options = { ...draft.options, teardown: true, ...(options.onFailureFailDagrun !== undefined ? { onFailureFailDagrun: options.onFailureFailDagrun } : {}) };
      if (options.setups !== undefined) {
        for (const u of targetIds(builder, [options.setups], 'leaves')) {
          const up = builder.tasks.get(u);
          if (up) up.options = { ...up.options, setup: true };
          builder.addEdge(u, id);
        }
      }
      return handle;
    },
    expand(arg: unknown) {
      expandAfterIterate(builder, draft, '.expand()');
      bindOnce(builder, draft, '.expand()');
      draft.mapping = mappingOf(builder, draft, arg, null, false, `${id}.expand`);
      return handle;
    },
    expandKwargs(arg: unknown) {
      expandAfterIterate(builder, draft, '.expandKwargs()');
      bindOnce(builder, draft, '.expandKwargs()');
      draft.mapping = mappingOf(builder, draft, arg, null, true, `${id}.expandKwargs`);
      return handle;
    },
    iterate(arg: unknown, options?: IterateOptions) {
      if (partitioned(draft)) {
        draft.iterate = partitionedIterate(builder, draft, arg, false, options, `${id}.iterate`);
        return handle;
      }
      noFunctionItems(builder, draft, arg, `${id}.iterate`);
      bindOnce(builder, draft, '.iterate()');
      draft.iterate = iterateOf(builder, draft, mappingOf(builder, draft, arg, null, false, `${id}.iterate`), options);
      return handle;
    },
    iterateKwargs(arg: unknown, options?: IterateOptions) {
      if (partitioned(draft)) {
        draft.iterate = partitionedIterate(builder, draft, arg, true, options, `${id}.iterateKwargs`);
        return handle;
      }
      noFunctionItems(builder, draft, arg, `${id}.iterateKwargs`);
      bindOnce(builder, draft, '.iterateKwargs()');
      draft.iterate = iterateOf(builder, draft, mappingOf(builder, draft, arg, null, true, `${id}.iterateKwargs`), options);
      return handle;
    },
    partial(fixed: Record<string, unknown>) {
      if (typeof fixed !== 'object' || fixed === null || Array.isArray(fixed) || isXComArg(fixed)) {
        builder.fail(`${id}.partial: expected an object of fixed input fields`, id);
      }
      return {
        expand(arg: unknown) {
          expandAfterIterate(builder, draft, '.partial().expand()');
          bindOnce(builder, draft, '.partial().expand()');
          draft.mapping = mappingOf(builder, draft, arg, fixed, false, `${id}.expand`);
          return handle;
        },
        expandKwargs(arg: unknown) {
          expandAfterIterate(builder, draft, '.partial().expandKwargs()');
          bindOnce(builder, draft, '.partial().expandKwargs()');
          draft.mapping = mappingOf(builder, draft, arg, fixed, true, `${id}.expandKwargs`);
          return handle;
        },
        iterate(arg: unknown, options?: IterateOptions) {
          bindOnce(builder, draft, '.partial().iterate()');
          draft.iterate = iterateOf(builder, draft, mappingOf(builder, draft, arg, fixed, false, `${id}.iterate`), options);
          return handle;
        },
        iterateKwargs(arg: unknown, options?: IterateOptions) {
          bindOnce(builder, draft, '.partial().iterateKwargs()');
          draft.iterate = iterateOf(builder, draft, mappingOf(builder, draft, arg, fixed, true, `${id}.iterateKwargs`), options);
          return handle;
        },
      };
    },
  });
  return handle;
}
