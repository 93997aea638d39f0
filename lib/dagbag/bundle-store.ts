import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BundleManifest, CollectedBundle } from './bundle.ts';
import type { BundleSource } from './bundle-source.ts';

/** A bundle's manifest as a bundle store keeps it: where its files came from too. */
export interface StoredManifest extends BundleManifest {
  /** The root (absolute) the files were read from: packages a file imports are found from there. */
  origin: string;
  /** ISO-8601 of when this store first kept it. */
  storedAt: string;
}

/** Where a home folder keeps its bundles: `<home>/bundles`. */
export function bundlesDir(home: string): string {
  return path.join(home, 'bundles');
}

/** A bundle's folder name: its full hash. */
const HASH = /^[0-9a-f]{64}$/;

/**
 * Bundles kept on disk, content-addressed: `<dir>/<hash>/manifest.json` and `<dir>/<hash>/src/<path>` for
 * each file (laid out as under the root), plus `src/package.json` giving the files' module type. A run
 * of a version whose DAG file has changed since imports its DAG file from there
 * (`registerSnapshotResolution` resolves the packages it imports from the origin). A bundle is written
 * into a folder of its own, then renamed into place: a bundle folder is whole or absent.
 */
export class LocalBundleStore implements BundleSource {
  constructor(
    /** The folder (absolute); created on the first write. */
    readonly dir: string,
  ) {}

  private folder(hash: string): string {
    if (!HASH.test(hash)) throw new Error(`not a bundle hash: '${hash}'`);
    return path.join(this.dir, hash);
  }

  has(hash: string): boolean {
    return HASH.test(hash) && existsSync(path.join(this.dir, hash, 'manifest.json'));
  }

  /** Keep a bundle (nothing is written when it is kept already, but its origin is brought up to date). Returns its manifest. */
  put(b: CollectedBundle, at: string): StoredManifest {
    const dest = this.folder(b.manifest.hash);
    const kept = this.manifestSync(b.manifest.hash);
    if (kept) {
      if (kept.origin !== b.root) {
        const moved = { ...kept, origin: b.root };
        writeAtomically(path.join(dest, 'manifest.json'), JSON.stringify(moved, null, 2));
        return moved;
      }
      return kept;
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(this.dir, `.tmp-${b.manifest.hash.slice(0, 12)}-${process.pid}-${Date.now()}`);
    const manifest: StoredManifest = { ...b.manifest, origin: b.root, storedAt: at };
    try {
      for (const f of b.manifest.files) {
        const file = path.join(tmp, 'src', ...f.path.split('/'));
        mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(file, b.contents.get(f.path)!, { mode: 0o600 });
      }
      writeFileSync(path.join(tmp, 'src', 'package.json'), `${JSON.stringify({ private: true, type: b.manifest.moduleType })}\n`, { mode: 0o600 });
      writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2), { mode: 0o600 });
      try {
        renameSync(tmp, dest);
      } catch (e) {
        // Another process kept it first: the same content, by its address.
        if (!this.has(b.manifest.hash)) throw e;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return manifest;
  }

  manifest(hash: string): Promise<StoredManifest | undefined> {
    return Promise.resolve(this.manifestSync(hash));
  }

  readFile(hash: string, file: string): Promise<Buffer | undefined> {
    return Promise.resolve(this.readFileSync(hash, file));
  }

  manifestSync(hash: string): StoredManifest | undefined {
    if (!HASH.test(hash)) return undefined;
    try {
      return JSON.parse(readFileSync(path.join(this.dir, hash, 'manifest.json'), 'utf8')) as StoredManifest;
    } catch {
      return undefined;
    }
  }

  /** The `file:` URL of a kept bundle's DAG file. */
  entryUrl(hash: string): string | undefined {
    const m = this.manifestSync(hash);
    return m ? pathToFileURL(path.join(this.folder(hash), 'src', ...m.entry.split('/'))).href : undefined;
  }

  /** One source file of a kept bundle, by its path in the manifest; undefined when it is not one. */
  readFileSync(hash: string, file: string): Buffer | undefined {
    const m = this.manifestSync(hash);
    if (!m?.files.some((f) => f.path === file)) return undefined;
    return readFileSync(path.join(this.folder(hash), 'src', ...file.split('/')));
  }

  /** The hashes kept. */
  list(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((n) => HASH.test(n) && this.has(n)).sort();
  }

  /** Bytes a kept bundle takes on disk (its files, manifest included). */
  bytes(hash: string): number {
    let total = 0;
    const walk = (p: string) => {
      const st = statSync(p);
      if (st.isDirectory()) for (const n of readdirSync(p)) walk(path.join(p, n));
      else total += st.size;
    };
    if (this.has(hash)) walk(this.folder(hash));
    return total;
  }

  /** Forget a bundle (its folder is renamed away first, so a reader never sees half of it). */
  delete(hash: string): boolean {
    if (!this.has(hash)) return false;
    const gone = path.join(this.dir, `.deleted-${hash.slice(0, 12)}-${process.pid}-${Date.now()}`);
    renameSync(this.folder(hash), gone);
    rmSync(gone, { recursive: true, force: true });
    return true;
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}
