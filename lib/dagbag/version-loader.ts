import { isDag, type Dag } from '../authoring/dag.ts';
import { DagVersionUnavailableError, errorMessage } from '../errors.ts';
import type { LocalBundleStore } from './bundle-store.ts';
import { candidates } from './dag-bag.ts';
import { importSnapshot } from './snapshot-import.ts';

/** Where a DAG version's code is, as its version record says. */
export interface VersionLocation {
  /** The bundle hash; null for a DAG built in code (no code is kept). */
  bundle: string | null;
  fileloc: string | null;
  /** When its code was pruned; null while kept. */
  prunedAt: string | null;
}

export interface VersionLoaderOptions {
  /** The version's record (`StateStore.getDagVersion`); undefined when the version was never registered. */
  locate(dagId: string, version: string): Promise<VersionLocation | undefined>;
  /** Import a kept bundle's DAG file; undefined when the bundle is not kept. */
  importBundle(bundle: string): Promise<Record<string, unknown> | undefined>;
}

/**
 * Loads DAG versions that are not in memory from their kept bundles: the version's record names its bundle,
 * the bundle's DAG file is imported, and the DAG it defines must be that version (its structure hashes as
 * it did). Every way this can fail is a DagVersionUnavailableError saying why. Loads of one version are
 * shared; a loaded version is kept (`loaded`).
 */
export class VersionLoader {
  private readonly loading = new Map<string, Promise<Dag>>();

  constructor(private readonly options: VersionLoaderOptions) {}

  load(dagId: string, version: string): Promise<Dag> {
    const key = `${dagId}\u0000${version}`;
    let p = this.loading.get(key);
    if (!p) {
      p = this.loadOnce(dagId, version);
      this.loading.set(key, p);
      // A failure is not kept: the next call tries again (its code may be kept by then).
      p.catch(() => this.loading.delete(key));
    }
    return p;
  }

  private async loadOnce(dagId: string, version: string): Promise<Dag> {
    const unavailable = (why: string) => new DagVersionUnavailableError(`version ${version} cannot be loaded: ${why}`, { dagId });
    const at = await this.options.locate(dagId, version);
    if (!at) throw unavailable('no such version was ever registered');
    if (at.bundle === null) throw unavailable('it was not loaded from a file, so none of its code is kept');
    let ns: Record<string, unknown> | undefined;
    try {
      ns = await this.options.importBundle(at.bundle);
    } catch (e) {
      throw unavailable(`its code (bundle ${at.bundle.slice(0, 12)}) failed to import: ${errorMessage(e)}`);
    }
    if (!ns) throw unavailable(`its code (bundle ${at.bundle.slice(0, 12)}) is not kept${at.prunedAt ? ` (pruned at ${at.prunedAt})` : ''}`);
    const found = candidates(ns).map((c) => c.value).find((v): v is Dag => isDag(v) && v.dagId === dagId);
    if (!found) throw unavailable(`its code (bundle ${at.bundle.slice(0, 12)}) defines no DAG '${dagId}' when imported now`);
    const dag = (at.fileloc !== null ? found.withFileloc(at.fileloc) : found).withBundle(at.bundle);
    if (dag.spec.version !== version) {
      throw unavailable(`its code (bundle ${at.bundle.slice(0, 12)}) builds version ${dag.spec.version} when imported now (its structure depends on something outside its code, such as an environment variable)`);
    }
    return dag;
  }
}

/**
 * The loader of a local home: version records from `store` (anything with `getDagVersion`), code from the
 * home's kept bundles, imported where they are kept.
 */
export function localVersionLoader(
  store: { getDagVersion(dagId: string, version: string): Promise<VersionLocation | undefined> },
  bundles: LocalBundleStore,
): VersionLoader {
  return new VersionLoader({
    locate: (dagId, version) => store.getDagVersion(dagId, version),
    importBundle: async (bundle) => {
      const url = bundles.entryUrl(bundle);
      return url === undefined ? undefined : importSnapshot(url, bundle);
    },
  });
}
