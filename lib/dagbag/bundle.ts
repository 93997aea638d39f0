import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { DagImportError, errorMessage } from '../errors.ts';
import { canonicalJson, sha256, sha256Bytes } from '../model/hash.ts';

/** One source file of a bundle. */
export interface BundleFile {
  /** The file, relative to the bundle's root, with '/' separators. */
  path: string;
  /** sha256 of its bytes (hex). */
  sha256: string;
  bytes: number;
}

/**
 * A DAG file's code: the file, every local module it imports (transitively), and the packages those
 * import, each at the version installed. Its `hash` is the content address of all of it: a change of the
 * DAG file, of a helper it imports however deep, or of a package's installed version is a new bundle.
 */
export interface BundleManifest {
  /** sha256 (hex) of the canonical JSON of `entry`, `files` (path and sha256) and `packages`. */
  hash: string;
  /** The DAG file, relative to the root. */
  entry: string;
  /** The DAGs folder, relative to the root ('' when it is the root). */
  dagsFolder: string;
  /** Every local file, sorted by path; the entry is one of them. */
  files: BundleFile[];
  /** Each package imported by a file of the bundle (bare specifier's package name) → its installed version (null: not found). */
  packages: Record<string, string | null>;
  /** The nearest package.json's `type` above the DAG file ('commonjs' when none says 'module'): how `.ts`/`.js` files of it load. */
  moduleType: 'module' | 'commonjs';
}

/** A bundle and the files' bytes, as read when it was collected. */
export interface CollectedBundle {
  manifest: BundleManifest;
  /** The root (absolute) the manifest's paths are relative to. */
  root: string;
  /** path (as in the manifest) → bytes. */
  contents: Map<string, Buffer>;
}

const BUILTINS = new Set(builtinModules);

/** The library's package name. */
const LIBRARY = 'airless';

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`, `name/sub` → `name`), or null for a builtin or a path. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || /^[a-z]+:/i.test(specifier)) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return BUILTINS.has(name) ? null : name;
}

/** The installed version of `name` as seen from `dir`: node_modules folders up the tree, then a package.json naming itself (a self-reference). */
export function installedVersion(name: string, dir: string): string | null {
  for (let d = dir; ; d = path.dirname(d)) {
    for (const pkgFile of [path.join(d, 'node_modules', ...name.split('/'), 'package.json'), path.join(d, 'package.json')]) {
      if (!existsSync(pkgFile)) continue;
      try {
        const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === name) return typeof pkg.version === 'string' ? pkg.version : null;
      } catch {
        // an unreadable package.json names no version
      }
    }
    if (path.dirname(d) === d) return null;
  }
}

/** The directory of the nearest package.json at or above `dir`, or null. */
function nearestPackageDir(dir: string): string | null {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return null;
  }
}

function moduleTypeAt(dir: string): 'module' | 'commonjs' {
  const pkgDir = nearestPackageDir(dir);
  if (pkgDir === null) return 'commonjs';
  try {
    return (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { type?: unknown }).type === 'module' ? 'module' : 'commonjs';
  } catch {
    return 'commonjs';
  }
}

/** The deepest folder that holds every path. */
function commonAncestor(paths: readonly string[]): string {
  let common = paths[0]!;
  for (const p of paths.slice(1)) {
    while (path.relative(common, p).startsWith('..') || path.isAbsolute(path.relative(common, p))) common = path.dirname(common);
  }
  return common;
}

const toPosix = (p: string) => p.split(path.sep).join('/');

/**
 * The files esbuild finds a DAG file imports, local and external, without writing anything: the inputs of
 * a bundle of it whose packages stay external.
 */
async function importGraph(absFile: string): Promise<{ inputs: string[]; externals: { specifier: string; importer: string }[] }> {
  let metafile: Metafile;
  try {
    const result = await build({
      entryPoints: [absFile],
      bundle: true,
      write: false,
      metafile: true,
      packages: 'external',
      // The library itself is the engine a version runs on, not its code (in its own repository a tsconfig
      // path maps it to its sources).
      external: [LIBRARY, `${LIBRARY}/*`],
      platform: 'node',
      format: 'esm',
      logLevel: 'silent',
      absWorkingDir: path.dirname(absFile),
      outdir: path.dirname(absFile),
    });
    metafile = result.metafile;
  } catch (e) {
    // esbuild's message lists each error as file:line:col: text.
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors;
    const detail = errors?.length
      ? errors.map((m) => (m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text)).join('; ')
      : errorMessage(e);
    throw new DagImportError(`its imports could not be followed: ${detail}`, { file: absFile });
  }
  const base = path.dirname(absFile);
  const inputs = Object.keys(metafile.inputs).map((p) => path.resolve(base, p));
  const externals: { specifier: string; importer: string }[] = [];
  for (const [p, input] of Object.entries(metafile.inputs)) {
    for (const imp of input.imports) if (imp.external) externals.push({ specifier: imp.path, importer: path.resolve(base, p) });
  }
  return { inputs, externals };
}

/**
 * Collect the bundle of a DAG file (absolute path) in the DAGs folder `dagsFolder` (absolute): esbuild
 * follows its imports (TypeScript, tsconfig paths, JSON included; packages stay external), every local
 * file it reaches is read and hashed, and each package is named with the version installed where its
 * importer would find it. The root is the nearest folder with a package.json above the DAGs folder,
 * widened to hold every file. Throws a DagImportError naming the file when its imports cannot be followed
 * (a syntax error, a missing module).
 */
export async function collectBundle(absFile: string, dagsFolder: string): Promise<CollectedBundle> {
  const { inputs, externals } = await importGraph(absFile);
  const local = [...new Set(inputs.filter((p) => !p.includes(`${path.sep}node_modules${path.sep}`)))];
  const projectRoot = nearestPackageDir(dagsFolder) ?? dagsFolder;
  const root = commonAncestor([projectRoot, dagsFolder, ...local]);
  const contents = new Map<string, Buffer>();
  const files: BundleFile[] = [];
  for (const abs of local.sort()) {
    const rel = toPosix(path.relative(root, abs));
    const bytes = readFileSync(abs);
    contents.set(rel, bytes);
    files.push({ path: rel, sha256: sha256Bytes(bytes), bytes: bytes.length });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const packages: Record<string, string | null> = {};
  for (const { specifier, importer } of externals) {
    const name = packageOf(specifier);
    if (name !== null && !(name in packages)) packages[name] = installedVersion(name, path.dirname(importer));
  }
  const sortedPackages = Object.fromEntries(Object.keys(packages).sort().map((k) => [k, packages[k]!]));
  const entry = toPosix(path.relative(root, absFile));
  const dagsRel = toPosix(path.relative(root, dagsFolder));
  const moduleType = moduleTypeAt(path.dirname(absFile));
  const hash = bundleHash({ entry, files, packages: sortedPackages, moduleType });
  return { manifest: { hash, entry, dagsFolder: dagsRel, files, packages: sortedPackages, moduleType }, root, contents };
}

/** The content address of a bundle: what runs, not where it lies (the DAGs folder is not part of it). */
export function bundleHash(b: Pick<BundleManifest, 'entry' | 'files' | 'packages' | 'moduleType'>): string {
  return sha256(canonicalJson({ entry: b.entry, files: b.files.map((f) => [f.path, f.sha256]), packages: b.packages, moduleType: b.moduleType }));
}


/**
 * Whether the files of a bundle, read again from `root`, still hash as collected: a DAG file imported after
 * its bundle was collected ran the code of that bundle only when nothing changed in between.
 */
export function bundleUnchanged(b: CollectedBundle): boolean {
  for (const f of b.manifest.files) {
    try {
      if (sha256Bytes(readFileSync(path.join(b.root, ...f.path.split('/')))) !== f.sha256) return false;
    } catch {
      return false;
    }
  }
  return true;
}
