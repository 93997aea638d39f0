// The code of a deployed stack's DAG versions, in its bucket: `<prefix><hash>/bundle.mjs` (the version
// bundle, cdk/version-bundles.ts), `<prefix><hash>/manifest.json` (its BundleManifest) and
// `<prefix><hash>/src/<path>` (its sources, for the API).
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BundleManifest } from '../dagbag/bundle.ts';
import type { BundleSource } from '../dagbag/bundle-source.ts';
import { installDagLibrary } from './dag-library-global.ts';

/** The file of a version bundle (the DAG file and everything it imports, the library aside). */
export const BUNDLE_ENTRY = 'bundle.mjs';
/** The manifest beside it. */
export const BUNDLE_MANIFEST = 'manifest.json';
/** The folder of its sources. */
export const BUNDLE_SOURCES = 'src/';

/** Where a container writes the bundles it imports. */
export const DEFAULT_BUNDLE_CACHE_DIR = '/tmp/airless-bundles';

const HASH = /^[0-9a-f]{64}$/;

export interface BundleBucketOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix of the bundles, ending in '/' (e.g. `airless/bundles/`). */
  prefix: string;
  /**
   * Where imported bundles are written.
   * @default DEFAULT_BUNDLE_CACHE_DIR (`/tmp/airless-bundles`)
   */
  cacheDir?: string;
}

/** The code of a stack's DAG versions as the functions use it: served (a BundleSource), imported, pruned. */
export interface VersionCode extends BundleSource {
  /** Import a kept bundle's DAG module; undefined when it is not kept. */
  importBundle(bundle: string): Promise<Record<string, unknown> | undefined>;
  /** Delete a bundle's code; false when it was gone already. */
  deleteBundle(bundle: string): Promise<boolean>;
}

function isMissing(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
}

/**
 * The bundles of a stack's bucket: a {@link BundleSource} (the API serves a version's files from it), the
 * importer of a version loader (a bundle is downloaded once per container and imported from there), and
 * the deleter of pruning.
 */
export class BundleBucket implements VersionCode {
  private readonly imports = new Map<string, Promise<Record<string, unknown> | undefined>>();
  /** Bundles this container deleted or found gone: the bucket need not answer for them again. */
  private readonly gone = new Set<string>();
  readonly cacheDir: string;

  constructor(private readonly options: BundleBucketOptions) {
    this.cacheDir = options.cacheDir ?? DEFAULT_BUNDLE_CACHE_DIR;
  }

  /** The key of a bundle's object. */
  key(bundle: string, file: string): string {
    return `${this.options.prefix}${bundle}/${file}`;
  }

  private async get(key: string): Promise<Buffer | undefined> {
    try {
      const out = await this.options.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return out.Body ? Buffer.from(await out.Body.transformToByteArray()) : Buffer.alloc(0);
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async manifest(bundle: string): Promise<BundleManifest | undefined> {
    if (!HASH.test(bundle)) return undefined;
    const body = await this.get(this.key(bundle, BUNDLE_MANIFEST));
    return body === undefined ? undefined : (JSON.parse(body.toString('utf8')) as BundleManifest);
  }

  async readFile(bundle: string, file: string): Promise<Buffer | undefined> {
    if (!HASH.test(bundle)) return undefined;
    const m = await this.manifest(bundle);
    if (!m?.files.some((f) => f.path === file)) return undefined;
    return this.get(this.key(bundle, `${BUNDLE_SOURCES}${file}`));
  }

  /**
   * Import a bundle's DAG file: download `bundle.mjs` to `<cacheDir>/<hash>.mjs` (once per container) and
   * import it, the library published first ({@link installDagLibrary}). Undefined when the bucket does not
   * hold it. Imports of one bundle are shared; a failure is not kept.
   */
  importBundle(bundle: string): Promise<Record<string, unknown> | undefined> {
    let p = this.imports.get(bundle);
    if (!p) {
      p = this.importOnce(bundle);
      this.imports.set(bundle, p);
      p.then(
        (ns) => ns === undefined && this.imports.delete(bundle),
        () => this.imports.delete(bundle),
      );
    }
    return p;
  }

  private async importOnce(bundle: string): Promise<Record<string, unknown> | undefined> {
    if (!HASH.test(bundle)) return undefined;
    const file = path.join(this.cacheDir, `${bundle}.mjs`);
    if (!existsSync(file)) {
      const body = await this.get(this.key(bundle, BUNDLE_ENTRY));
      if (body === undefined) return undefined;
      await mkdir(this.cacheDir, { recursive: true });
      // Written whole, then renamed: a concurrent import never reads half a file.
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      await writeFile(tmp, body);
      await rename(tmp, file);
    }
    installDagLibrary();
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  }

  /**
   * Delete a bundle's objects: its sources and bundle file, its manifest last (a failure half-way leaves the
   * manifest, so the bundle still reads as kept, whole or not). False when it was gone already.
   */
  async deleteBundle(bundle: string): Promise<boolean> {
    if (this.gone.has(bundle)) return false;
    const m = await this.manifest(bundle);
    if (!m) {
      this.gone.add(bundle);
      return false;
    }
    const del = (key: string) => this.options.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
    await Promise.all([...m.files.map((f) => del(this.key(bundle, `${BUNDLE_SOURCES}${f.path}`))), del(this.key(bundle, BUNDLE_ENTRY))]);
    await del(this.key(bundle, BUNDLE_MANIFEST));
    this.imports.delete(bundle);
    this.gone.add(bundle);
    return true;
  }
}
