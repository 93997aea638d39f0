// Pruning the code of DAG versions no run can need any more.

import type { DagVersionRecord } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';

/** How many versions per DAG keep their code, however old, beside the current one and those runs use. */
export const DEFAULT_VERSIONS_RETAINED = 10;

export interface PruneVersionsOptions {
  store: StateStore;
  /** The DAGs to prune the versions of (the DAGs loaded or deployed now). */
  dagIds: readonly string[];
  /** dagId → its current version (never pruned). */
  current: ReadonlyMap<string, string>;
  /** Delete a bundle's code (a bundle no kept version uses any more); false when it was gone already. */
  deleteBundle(bundle: string): Promise<boolean>;
  /**
   * How many of each DAG's newest versions keep their code beside the current one, so that clearing a
   * recent run reruns it on its own version.
   * @default DEFAULT_VERSIONS_RETAINED
   */
  retain?: number;
  /** ISO-8601 time the pruned versions are marked with. */
  now: string;
}

export interface PruneReport {
  /** Versions whose code was pruned now. */
  pruned: { dagId: string; version: string; bundle: string | null }[];
  /** Bundles deleted (no kept version of any of the DAGs uses them). */
  bundlesDeleted: string[];
}

/**
 * Prune the code of the versions no run can need: a version is pruned when it is not its DAG's current
 * version, no queued or running run uses it (as its own version, or pinned for the runs its triggers
 * start), and it is not among its DAG's `retain` newest versions. Its record stays (marked `prunedAt`);
 * its bundle is deleted once no kept version of these DAGs uses it (DAGs of one file share one). The
 * record is marked before the bundle goes, so a run can never be started on a version whose code is gone
 * without its record saying so; a deletion that fails leaves the bundle's files behind (reported by the
 * caller), and later prunings do not try it again.
 */
export async function pruneVersions(options: PruneVersionsOptions): Promise<PruneReport> {
  const { store, now } = options;
  const retain = options.retain ?? DEFAULT_VERSIONS_RETAINED;
  if (!Number.isInteger(retain) || retain < 0) throw new RangeError(`retain must be a whole number >= 0, got ${retain}`);
  const inUse = new Set<string>();
  const use = (dagId: string, version: string) => inUse.add(`${dagId}\u0000${version}`);
  for (const state of ['queued', 'running'] as const) {
    for (const run of await store.listRunsByState(state)) {
      use(run.dagId, run.dagVersion);
      for (const [dagId, version] of Object.entries(run.pinnedVersions ?? {})) use(dagId, version);
    }
  }
  const report: PruneReport = { pruned: [], bundlesDeleted: [] };
  const all: DagVersionRecord[] = [];
  for (const dagId of options.dagIds) {
    const versions = await store.listDagVersions(dagId);
    const newest = new Set(versions.slice(Math.max(0, versions.length - retain)).map((v) => v.version));
    for (const v of versions) {
      const keep = v.prunedAt !== null || options.current.get(dagId) === v.version || newest.has(v.version) || inUse.has(`${dagId}\u0000${v.version}`);
      if (!keep) {
        await store.markDagVersionPruned(dagId, v.version, now);
        report.pruned.push({ dagId, version: v.version, bundle: v.bundle });
        all.push({ ...v, prunedAt: now });
      } else all.push(v);
    }
  }
  const keptBundles = new Set(all.filter((v) => v.prunedAt === null && v.bundle !== null).map((v) => v.bundle!));
  // Only the bundles of versions pruned now: those pruned before went then (a deletion that failed leaves
  // the bundle's files behind, never a kept version without code), so an old pruning costs nothing again.
  const gone = new Set(report.pruned.filter((v) => v.bundle !== null && !keptBundles.has(v.bundle)).map((v) => v.bundle!));
  for (const bundle of [...gone].sort()) {
    if (await options.deleteBundle(bundle)) report.bundlesDeleted.push(bundle);
  }
  return report;
}
