import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Dag } from '../authoring/dag.ts';
import type { LocalBundleStore } from '../dagbag/bundle-store.ts';
import { candidates, loadDagBag, type DagBag } from '../dagbag/dag-bag.ts';
import { importSnapshot } from '../dagbag/snapshot-import.ts';
import { DagTypeChecker } from '../dagbag/typecheck.ts';
import type { VersionLoader } from '../dagbag/version-loader.ts';
import { versionEntryOf } from '../scheduler/runs.ts';
import type { DagFileImportError } from '../dagbag/import-error.ts';
import { errorMessage } from '../errors.ts';
import type { DagResolver } from '../scheduler/host.ts';
import type { StateStore } from '../store/state-store.ts';
import { freshImporter } from './fresh-import.ts';
import type { ScheduleLoop } from './schedule-loop.ts';

/** How a reload changed a DAG. */
export type DagChange =
  | { kind: 'added'; dagId: string; version: string }
  | { kind: 'changed'; dagId: string; from: string; to: string }
  | { kind: 'removed'; dagId: string };

/**
 * The DAGs of a folder that is loaded again as it changes: the latest bag (what the API lists and new runs
 * use) and every version of every DAG loaded by this process, so that a run goes on with the version it
 * started with (`getDag(dagId, run.dagVersion)`), and, with a {@link VersionLoader}, any version whose
 * bundle is kept (`loadVersion`: after a restart, or a change this process never loaded). Serves as the runner's DagResolver and the API's `dags`.
 */
export class VersionedDags implements DagResolver {
  private bag: DagBag;
  /**
   * DAGs whose file fails to import now, as they were last loaded, with their file's errors: they stay
   * listed (with their runs and the error) as Airflow keeps a broken DAG, and cannot be triggered.
   */
  private readonly brokenDags = new Map<string, { dag: Dag; errors: readonly DagFileImportError[] }>();
  /** dagId → version → the DAG. */
  private readonly versions = new Map<string, Map<string, Dag>>();

  constructor(
    bag: DagBag,
    /** Loads versions this process has not loaded (from the kept bundles). Absent: only those in memory exist. */
    private readonly loader?: VersionLoader,
  ) {
    this.bag = bag;
    this.remember(bag);
  }

  /** A version not in memory, loaded from its kept bundle (and kept in memory from then on). */
  async loadVersion(dagId: string, version: string): Promise<Dag | undefined> {
    const kept = this.versions.get(dagId)?.get(version);
    if (kept) return kept;
    if (!this.loader) return undefined;
    const dag = await this.loader.load(dagId, version);
    this.keep(dag);
    return dag;
  }

  /** The latest bag loaded. */
  get current(): DagBag {
    return this.bag;
  }

  /** The DAGs folder (absolute). */
  get folder(): string {
    return this.bag.folder;
  }

  /** The DAGs of the latest bag, sorted by dagId. */
  get dags(): readonly Dag[] {
    return this.bag.dags;
  }

  get dagIds(): string[] {
    return this.bag.dagIds;
  }

  get importErrors(): readonly DagFileImportError[] {
    return this.bag.importErrors;
  }

  importErrorsFor(dagId: string): DagFileImportError[] {
    return [...this.bag.importErrorsFor(dagId), ...(this.brokenDags.get(dagId)?.errors ?? [])];
  }

  /** The DAGs whose file fails to import now, as last loaded (sorted by dagId). */
  broken(): readonly Dag[] {
    return [...this.brokenDags.values()].map((b) => b.dag).sort((a, b) => (a.dagId < b.dagId ? -1 : a.dagId > b.dagId ? 1 : 0));
  }

  /**
   * At a start, the DAGs whose file fails to import were never loaded by this process: take each broken
   * file's newest kept bundle (its code when it last loaded, under the home's bundle store) and keep its DAGs
   * as broken, those `known` says have a history here (runs, a registry record). A bundle that fails to
   * import too is passed over.
   */
  async recoverBroken(bundles: LocalBundleStore, known: (dagId: string) => Promise<boolean>): Promise<void> {
    const files = new Set(this.bag.importErrors.map((e) => e.file));
    if (files.size === 0) return;
    const newest = new Map<string, { hash: string; storedAt: string; manifest: NonNullable<ReturnType<LocalBundleStore['manifestSync']>> }>();
    for (const hash of bundles.list()) {
      const m = bundles.manifestSync(hash);
      if (!m || m.origin !== this.bag.folder || !files.has(m.entry)) continue;
      const seen = newest.get(m.entry);
      if (!seen || seen.storedAt < m.storedAt) newest.set(m.entry, { hash, storedAt: m.storedAt, manifest: m });
    }
    for (const [file, { hash, manifest }] of newest) {
      const url = bundles.entryUrl(hash);
      if (url === undefined) continue;
      let ns: Record<string, unknown>;
      try {
        ns = await importSnapshot(url, hash);
      } catch {
        continue;
      }
      const code = manifest.files.map((f) => ({ file: path.join(manifest.origin, ...f.path.split('/')), sha256: f.sha256 }));
      const errors = this.bag.importErrors.filter((e) => e.file === file);
      for (const { value } of candidates(ns)) {
        const dag = value as Dag;
        if (this.bag.getDag(dag.dagId) || this.brokenDags.has(dag.dagId) || !(await known(dag.dagId))) continue;
        const located = dag.withFileloc(file).withBundle(hash, code);
        this.keep(located);
        this.brokenDags.set(located.dagId, { dag: located, errors });
      }
    }
  }

  /** A DAG whose file fails to import now, as last loaded; undefined if it is not broken. */
  brokenDag(dagId: string): Dag | undefined {
    return this.brokenDags.get(dagId)?.dag;
  }

  /** The DAG at `version` if this process loaded it, else the latest one (undefined if its file is gone). */
  getDag(dagId: string, version?: string): Dag | undefined {
    if (version !== undefined) {
      const kept = this.versions.get(dagId)?.get(version);
      if (kept) return kept;
    }
    return this.bag.getDag(dagId);
  }

  /** The versions of a DAG this process has loaded (oldest first). */
  versionsOf(dagId: string): string[] {
    return [...(this.versions.get(dagId)?.keys() ?? [])];
  }

  /** Make `next` the latest bag; returns how its DAGs differ from the previous bag's. */
  swap(next: DagBag): DagChange[] {
    const before = this.bag;
    this.remember(next);
    this.bag = next;
    // A DAG gone because its file fails to import stays, broken, as last loaded; one whose file loads (or
    // is gone) again is no longer broken.
    const lastLoaded = new Map<string, Dag>([...[...this.brokenDags.values()].map((b) => [b.dag.dagId, b.dag] as const), ...before.dags.map((d) => [d.dagId, d] as const)]);
    this.brokenDags.clear();
    for (const [dagId, dag] of lastLoaded) {
      if (next.getDag(dagId)) continue;
      const errors = next.importErrors.filter((e) => dag.spec.fileloc !== null && e.file === dag.spec.fileloc);
      if (errors.length) this.brokenDags.set(dagId, { dag, errors });
    }
    const changes: DagChange[] = [];
    for (const dag of next.dags) {
      const old = before.getDag(dag.dagId);
      if (!old) changes.push({ kind: 'added', dagId: dag.dagId, version: dag.spec.version });
      else if (old.spec.version !== dag.spec.version) changes.push({ kind: 'changed', dagId: dag.dagId, from: old.spec.version, to: dag.spec.version });
    }
    for (const dag of before.dags) if (!next.getDag(dag.dagId)) changes.push({ kind: 'removed', dagId: dag.dagId });
    return changes;
  }

  private remember(bag: DagBag): void {
    for (const dag of bag.dags) this.keep(dag);
  }

  private keep(dag: Dag): void {
    let byVersion = this.versions.get(dag.dagId);
    if (!byVersion) this.versions.set(dag.dagId, (byVersion = new Map<string, Dag>()));
    byVersion.set(dag.spec.version, dag);
  }
}

export interface DagReloaderOptions {
  dags: VersionedDags;
  /** Where each new version is registered (`registerDagVersion`). */
  store: StateStore;
  /** Told of the new DAGs (a removed DAG stops firing, a new one starts, a changed schedule re-arms). */
  loop: ScheduleLoop;
  /** The time the versions are registered at (ms since the epoch). */
  now(): number;
  /** One line per change, and reload failures. */
  warn: (line: string) => void;
  /** How long the folder must stay quiet before it is loaded again (ms). Default 300. */
  debounceMs?: number;
  /** Loads the folder. Default: `loadDagBag` with a {@link freshImporter} per load, keeping bundles in `bundles`. */
  load?(folder: string): Promise<DagBag>;
  /** Where the default load keeps each file's bundle. Default: none. */
  bundles?: LocalBundleStore;
  /**
   * Whether the default load type checks the DAG files. It keeps one {@link DagTypeChecker} for the folder,
   * so a reload after an edit re-checks only the files the edit affects. Default: as the bag the server
   * started with was loaded (`DagBag.typechecked`).
   */
  typecheck?: boolean;
  /** Told of the DAGs after each reload (after the schedule loop): the file-asset watcher re-arms. Default: nothing. */
  onReload?(dags: readonly Dag[]): void;
}

/** A path changed under the DAGs folder that is not a DAG's concern: dot-files and folders (editors' swap files), packages. */
function ignored(rel: string): boolean {
  return rel.split(/[\\/]/).some((part) => part.startsWith('.') || part === 'node_modules');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Watches the DAGs folder (recursively) and loads it again once it has been quiet for `debounceMs` after a
 * change: the new bag becomes the latest in {@link VersionedDags}, new versions are registered in the store,
 * the schedule loop is told, and one line per change is written. A load that throws (the folder is gone)
 * is reported and the previous DAGs stay. Loads run one at a time.
 */
export class DagReloader {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly changed = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The warm type checker of the folder (its last program), made at the first load that checks. */
  private checker: DagTypeChecker | null = null;

  constructor(private readonly options: DagReloaderOptions) {}

  /** What the default load passes as `typecheck`: the folder's warm checker (the one of the bag the server started with, if any), or false. */
  private typecheck(folder: string): DagTypeChecker | false {
    const current = this.options.dags.current;
    if (!(this.options.typecheck ?? current.typechecked)) return false;
    const root = path.resolve(folder);
    if (this.checker?.folder !== root) this.checker = current.typeChecker?.folder === root ? current.typeChecker : new DagTypeChecker(root, { warn: this.options.warn });
    return this.checker;
  }

  /** Start watching. */
  start(): void {
    const folder = this.options.dags.folder;
    this.watcher = watch(folder, { recursive: true }, (_event, filename) => {
      const rel = filename === null ? '' : String(filename);
      if (rel !== '' && ignored(rel)) return;
      this.changed.add(rel);
      this.schedule();
    });
    this.watcher.on('error', (e) => {
      this.options.warn(`airless standalone: watching ${folder} failed: ${errorMessage(e)}; DAG files are no longer reloaded (restart the server)`);
      this.watcher?.close();
      this.watcher = null;
    });
  }

  /** Load the folder again now (after the loads already under way); `changed`: the paths named in the report. */
  reload(changed: readonly string[] = []): Promise<void> {
    this.chain = this.chain.then(() => this.load(changed));
    return this.chain;
  }

  /** Stop watching; waits for a load under way. Nothing is loaded after it. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
    await this.chain;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const changed = [...this.changed].sort();
      this.changed.clear();
      void this.reload(changed);
    }, this.options.debounceMs ?? 300);
  }

  private async load(changed: readonly string[]): Promise<void> {
    if (this.stopped) return;
    const { dags, warn } = this.options;
    const folder = dags.folder;
    const shown = changed.filter((c) => c !== '').map((c) => displayPath(path.join(folder, c)));
    const prefix = `airless standalone: reloaded ${shown.length === 0 ? displayPath(folder) : shown.length > 3 ? `${shown.slice(0, 3).join(', ')} and ${shown.length - 3} more` : shown.join(', ')}`;
    let bag: DagBag;
    try {
      const bundles = this.options.bundles;
      bag = this.options.load
        ? await this.options.load(folder)
        : await loadDagBag(folder, { importModule: freshImporter(), ...(bundles ? { bundles } : {}), now: () => this.options.now(), typecheck: this.typecheck(folder), warn });
    } catch (e) {
      warn(`airless standalone: reloading ${displayPath(folder)} failed: ${errorMessage(e)}; the DAGs loaded before are kept`);
      return;
    }
    if (this.stopped) return;
    const before = dags.current;
    const changes = dags.swap(bag);
    const at = new Date(this.options.now()).toISOString();
    const lines: string[] = [];
    try {
      for (const dag of bag.dags) {
        const old = before.getDag(dag.dagId);
        if (!old || old.spec.version !== dag.spec.version || old.spec.fileloc !== dag.spec.fileloc) {
          await this.options.store.registerDagVersion(versionEntryOf(dag), at);
        }
      }
    } catch (e) {
      warn(`${prefix}: registering the new DAG versions failed: ${errorMessage(e)}`);
    }
    await this.options.loop.setDags(bag.dags);
    this.options.onReload?.(bag.dags);
    for (const c of changes) {
      if (c.kind === 'added') lines.push(`DAG '${c.dagId}' added (version ${c.version})`);
      else if (c.kind === 'changed') lines.push(`DAG '${c.dagId}' changed (version ${c.from}→${c.to})`);
      else lines.push(`DAG '${c.dagId}' removed`);
    }
    const errorsBefore = before.importErrors.map((e) => `${e.file}\u0000${e.error}`).join('\n');
    const errorsNow = bag.importErrors.map((e) => `${e.file}\u0000${e.error}`).join('\n');
    if (errorsBefore !== errorsNow) lines.push(bag.importErrors.length === 0 ? 'no import errors' : `${plural(bag.importErrors.length, 'import error')} (airless dags list-import-errors)`);
    if (lines.length === 0) lines.push('no DAG version changed');
    for (const line of lines) warn(`${prefix}: ${line}`);
  }
}

/** A path as the user reads it: relative to the working directory when under it. */
function displayPath(abs: string): string {
  const rel = path.relative(process.cwd(), abs);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel;
}
