// The standalone's file:// watcher: for each asset with a `fileWatcher()` among the loaded DAGs, the
// folder of its file is watched (`fs.watch`: the file itself may not exist yet), and when the file is
// created or changes (once it has been quiet for `debounceMs`) an asset event is recorded, its dedupe key
// the path, mtime and size, so a change seen twice (editors write in steps) is one event.

import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Dag } from '../authoring/dag.ts';
import { errorMessage } from '../errors.ts';
import type { AssetEventInput } from '../scheduler/assets.ts';

export interface AssetFileWatcherOptions {
  /** Records an event (the runner's `recordAssetEvent`). */
  record(input: AssetEventInput): Promise<unknown>;
  /** One line per problem (a folder that cannot be watched, an event that could not be recorded). */
  warn(line: string): void;
  /**
   * How long a file must stay unchanged before its event is recorded (ms).
   * @default 200
   */
  debounceMs?: number;
}

/** The file paths that `fileWatcher()` assets of `dags` watch, each with its asset's uri. */
export function watchedFiles(dags: readonly Dag[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of dags) {
    for (const a of d.spec.assets ?? []) {
      for (const w of a.watchers ?? []) if (w.kind === 'file') out.set(path.resolve(w.path), a.uri);
    }
  }
  return out;
}

export class AssetFileWatcher {
  /** Watched folders: the watcher and the files in it, by file name → uri. */
  private readonly folders = new Map<string, { watcher: FSWatcher; files: Map<string, string> }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly pending = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(private readonly options: AssetFileWatcherOptions) {}

  /** The paths watched now. */
  get paths(): string[] {
    return [...this.folders].flatMap(([dir, f]) => [...f.files.keys()].map((name) => path.join(dir, name))).sort();
  }

  /** Watch the files of the DAGs loaded now (called at start and after each reload): new ones start, gone ones stop. */
  setDags(dags: readonly Dag[]): void {
    if (this.stopped) return;
    const wanted = new Map<string, Map<string, string>>();
    for (const [file, uri] of watchedFiles(dags)) {
      const dir = path.dirname(file);
      let m = wanted.get(dir);
      if (!m) wanted.set(dir, (m = new Map<string, string>()));
      m.set(path.basename(file), uri);
    }
    for (const [dir, f] of this.folders) {
      if (wanted.has(dir)) continue;
      f.watcher.close();
      this.folders.delete(dir);
    }
    for (const [dir, files] of wanted) {
      const have = this.folders.get(dir);
      if (have) {
        have.files = files;
        continue;
      }
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          const f = this.folders.get(dir);
          if (name === null || !f) return;
          const uri = f.files.get(name.toString());
          if (uri !== undefined) this.changed(path.join(dir, name.toString()), uri);
        });
        watcher.on('error', (e) => this.options.warn(`airless standalone: watching ${dir} for file assets failed: ${errorMessage(e)}`));
        this.folders.set(dir, { watcher, files });
      } catch (e) {
        this.options.warn(`airless standalone: cannot watch ${dir} for the file assets ${[...files.values()].join(', ')}: ${errorMessage(e)}`);
      }
    }
  }

  private changed(file: string, uri: string): void {
    const old = this.timers.get(file);
    if (old) clearTimeout(old);
    this.timers.set(
      file,
      setTimeout(() => {
        this.timers.delete(file);
        const p = this.fire(file, uri).finally(() => this.pending.delete(p));
        this.pending.add(p);
      }, this.options.debounceMs ?? 200),
    );
  }

  private async fire(file: string, uri: string): Promise<void> {
    if (this.stopped) return;
    let st: { mtimeMs: number; size: number; isFile(): boolean };
    try {
      st = await stat(file);
    } catch {
      return; // deleted (or renamed away): no event
    }
    if (!st.isFile()) return;
    const mtime = new Date(st.mtimeMs).toISOString();
    try {
      await this.options.record({
        uri,
        extra: { path: file, size: st.size, mtime },
        source: { kind: 'watcher', watcher: 'file', detail: { path: file, size: st.size, mtime } },
        dedupeKey: `file:${file}:${st.mtimeMs}:${st.size}`,
      });
    } catch (e) {
      this.options.warn(`airless standalone: recording an event of ${uri} (${file} changed) failed: ${errorMessage(e)}`);
    }
  }

  /** Stop watching; events being recorded finish first. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const f of this.folders.values()) f.watcher.close();
    this.folders.clear();
    await Promise.allSettled([...this.pending]);
  }
}
