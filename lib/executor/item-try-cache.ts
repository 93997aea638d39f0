import type { DagRunRecord, TiKey } from '../store/records.ts';
import type { ResolvedMapping } from './resolve.ts';

/**
 * What every item of one iteration try reads and what cannot change while the try runs: the run record
 * (its conf, params and DAG version) and the resolved lists the items come from. Kept per process (a
 * Lambda container), so that a try of 100,000 items reads its list once per container instead of once
 * per item (a list of 100,000 is ~600 KB, held in S3 as a large value: read per item, 60 GB).
 *
 * Keyed by try: the upstream values of a running try never change (clearing an upstream task clears
 * this one too, whose next try has a new number). Only successful reads are kept, and only the last
 * `capacity` tries.
 */
export class ItemTryCache {
  private readonly tries = new Map<string, { run?: Promise<DagRunRecord | undefined>; lists?: Promise<ResolvedMapping> }>();

  /** @param capacity Tries kept (the oldest goes first). Default 8. */
  constructor(private readonly capacity = 8) {}

  /** The run record of the try, read by `read` once. */
  run(key: TiKey, tryNumber: number, read: () => Promise<DagRunRecord | undefined>): Promise<DagRunRecord | undefined> {
    return this.once(key, tryNumber, 'run', read, (v) => v !== undefined);
  }

  /** The item lists of the try, resolved by `read` once. */
  lists(key: TiKey, tryNumber: number, read: () => Promise<ResolvedMapping>): Promise<ResolvedMapping> {
    return this.once(key, tryNumber, 'lists', read, () => true);
  }

  private once<F extends 'run' | 'lists', T>(key: TiKey, tryNumber: number, field: F, read: () => Promise<T>, keep: (v: T) => boolean): Promise<T> {
    const id = `${key.dagId}\u0000${key.runId}\u0000${key.taskId}\u0000${key.mapIndex}\u0000${tryNumber}`;
    let entry = this.tries.get(id);
    if (!entry) {
      entry = {};
      this.tries.set(id, entry);
      while (this.tries.size > this.capacity) this.tries.delete(this.tries.keys().next().value!);
    }
    const cached = entry[field] as Promise<T> | undefined;
    if (cached) return cached;
    const e = entry;
    const p = read();
    (e as Record<F, Promise<T> | undefined>)[field] = p;
    const forget = () => {
      if (e[field] === (p as unknown)) delete e[field];
    };
    p.then((v) => (keep(v) ? undefined : forget()), forget);
    return p;
  }
}
