import { resolveTemplate, templateRefs } from '../authoring/xcom-arg.ts';
import type { Dag } from '../authoring/dag.ts';
import { MappingError } from '../errors.ts';
import type { InputTemplate, MappingSpec, XComRefSpec } from '../model/spec.ts';
import { runKeyText, type RunRef } from '../store/records.ts';
import { retryTransient, type RetryOptions } from '../store/retry.ts';
import type { StateStore } from '../store/state-store.ts';

/**
 * Resolves input templates against XCom. Upstream values never change during a run, so they are cached
 * per run: a task mapped over 100,000 items reads its source list once, not once per item.
 */
export class InputResolver {
  private readonly cache = new Map<string, Map<string, Promise<unknown>>>();
  constructor(
    private readonly store: StateStore,
    /** XCom reads are retried while the store fails transiently (`retryTransient`). */
    private readonly retry?: RetryOptions,
  ) {}

  /** Forget a run's cached values (when it ends, or when task instances are cleared). */
  forget(run: RunRef): void {
    this.cache.delete(runKeyText(run));
  }

  /** The value a reference stands for: a mapped task's results in map-index order, else its value. */
  value(dag: Dag, run: RunRef, ref: XComRefSpec): Promise<unknown> {
    const id = runKeyText(run);
    let m = this.cache.get(id);
    if (!m) this.cache.set(id, (m = new Map<string, Promise<unknown>>()));
    const k = `${ref.taskId}\u0000${ref.key}`;
    let v = m.get(k);
    if (!v) {
      v = this.fetch(dag, { dagId: run.dagId, runId: run.runId }, ref);
      m.set(k, v);
      v.catch(() => m.delete(k));
    }
    return v;
  }

  private async fetch(dag: Dag, run: RunRef, ref: XComRefSpec): Promise<unknown> {
    const up = dag.taskIndex.get(ref.taskId);
    if (up?.mapping) return (await retryTransient(() => this.store.listXComs(run, ref.taskId, ref.key), this.retry)).map((x) => x.value);
    return (await retryTransient(() => this.store.getXCom(run, ref.taskId, -1, ref.key), this.retry))?.value ?? null;
  }

  async resolve(dag: Dag, run: RunRef, t: InputTemplate): Promise<unknown> {
    const refs = templateRefs(t);
    if (refs.length === 0) return t === null ? undefined : resolveTemplate(t, () => null);
    const values = new Map<string, unknown>();
    for (const r of refs) values.set(`${r.taskId}\u0000${r.key}`, await this.value(dag, run, r));
    return resolveTemplate(t, (r) => values.get(`${r.taskId}\u0000${r.key}`));
  }

  /** Resolve the lists a mapping runs over; throws MappingError naming the task and the culprit. */
  async mappingLists(dag: Dag, run: RunRef, taskId: string, m: MappingSpec): Promise<ResolvedMapping> {
    const list = (v: unknown, what: string): unknown[] => {
      if (!Array.isArray(v)) {
        const got = v === null ? 'null' : typeof v === 'object' ? 'an object' : `a ${typeof v} (${JSON.stringify(v)})`;
        throw new MappingError(`task '${taskId}' cannot map over ${what}: expected a list, got ${got}`);
      }
      return v;
    };
    const partial = m.partial === null ? {} : ((await this.resolve(dag, run, m.partial)) as Record<string, unknown>);
    if (m.mode === 'single') return { mode: 'single', lists: [list(await this.resolve(dag, run, m.source), 'its input')], keys: [], partial };
    if (m.mode === 'kwargs') {
      const items = list(await this.resolve(dag, run, m.source), 'its kwargs');
      items.forEach((it, i) => {
        if (typeof it !== 'object' || it === null || Array.isArray(it)) {
          throw new MappingError(`task '${taskId}' expandKwargs item ${i} is not an object: ${JSON.stringify(it)}`);
        }
      });
      return { mode: 'kwargs', lists: [items], keys: [], partial };
    }
    const keys = Object.keys(m.expand);
    const lists: unknown[][] = [];
    for (const k of keys) lists.push(list(await this.resolve(dag, run, m.expand[k]), `'${k}'`));
    return { mode: 'product', lists, keys, partial };
  }
}

export interface ResolvedMapping {
  mode: MappingSpec['mode'];
  lists: unknown[][];
  keys: string[];
  partial: Record<string, unknown>;
  /** A partitioned iteration's items: the instance's partition (lib/executor/partition-items.ts). */
  partition?: unknown;
}

/** Number of items: the list's length, or the product of the lists' lengths. */
export function mappingLength(r: ResolvedMapping): number {
  return r.lists.reduce((n, l) => n * l.length, 1);
}

/** The input of item `i` (cross products vary the last list fastest, like itertools.product). */
export function mappingItem(r: ResolvedMapping, i: number): unknown {
  if (r.mode === 'single') return r.lists[0]![i];
  if (r.mode === 'kwargs') return { ...r.partial, ...(r.lists[0]![i] as Record<string, unknown>) };
  const out: Record<string, unknown> = { ...r.partial };
  let rest = i;
  for (let k = r.lists.length - 1; k >= 0; k--) {
    const l = r.lists[k]!;
    out[r.keys[k]!] = l[rest % l.length];
    rest = Math.floor(rest / l.length);
  }
  return out;
}
