// The code of each DAG file as a version of it runs it later: built at synth (and by the local-cloud
// harness), uploaded to the stack's bucket, loaded by the functions for runs on that version.
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { BUNDLE_ENTRY, BUNDLE_MANIFEST, BUNDLE_SOURCES } from '../lib/aws/bundle-bucket.ts';
import { DAG_LIBRARY_NAMES } from '../lib/aws/dag-library-global.ts';
import { collectBundle, type CollectedBundle } from '../lib/dagbag/bundle.ts';
import { DagImportError, errorMessage } from '../lib/errors.ts';
import { sha256 } from '../lib/model/hash.ts';

/** The library's package name, as DAG files import it. */
const LIBRARY = 'airless';

/**
 * The module a version bundle gets for `import ... from 'airless'`: the functions' own copy of the library
 * (lib/aws/dag-library.ts), which they publish under `Symbol.for('airless.library')` at init. One copy of
 * the library in the process: `instanceof SkipTask` holds, and `dag()`'s builder is the one the functions read.
 */
export function libraryShimSource(names: readonly string[] = DAG_LIBRARY_NAMES): string {
  const lines = [
    "const library = globalThis[Symbol.for('airless.library')];",
    "if (!library) throw new Error(\"this DAG version's code imports 'airless' from the function that loads it, and none was published (globalThis[Symbol.for('airless.library')])\");",
    ...names.map((n) => `export const ${n} = library.${n};`),
  ];
  return `${lines.join('\n')}\n`;
}

function libraryShim(source: string): Plugin {
  return {
    name: 'airless-library',
    setup(b) {
      b.onResolve({ filter: /^airless$/ }, () => ({ path: LIBRARY, namespace: 'airless-library' }));
      b.onLoad({ filter: /.*/, namespace: 'airless-library' }, () => ({ contents: source, loader: 'js' }));
    },
  };
}

/** One DAG file's built version bundle. */
export interface BuiltBundle {
  /** The DAG file, relative to the DAGs folder. */
  file: string;
  /** Its bundle's hash (`collectBundle`): the folder of its objects, and what its DAGs' versions name. */
  bundle: string;
  /** Size of `bundle.mjs` in bytes. */
  bytes: number;
}

export interface BuiltBundles {
  /** The folder holding `<hash>/bundle.mjs`, `<hash>/manifest.json` and `<hash>/src/<path>` of every file: what goes under the bucket's bundle prefix. */
  dir: string;
  bundles: BuiltBundle[];
}

/**
 * The self-contained ESM module of a collected bundle: the DAG file and everything it imports, npm
 * packages included, bundled by esbuild; `airless` is the library shim ({@link libraryShimSource}).
 */
export async function buildBundleModule(collected: CollectedBundle, absFile: string, shim: string = libraryShimSource()): Promise<string> {
  try {
    const result = await build({
      entryPoints: [absFile],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node22',
      logLevel: 'silent',
      absWorkingDir: path.dirname(absFile),
      plugins: [libraryShim(shim)],
      // CommonJS packages bundled in may require Node's builtins.
      banner: { js: "import { createRequire as __airlessRequire } from 'node:module'; const require = __airlessRequire(import.meta.url);" },
    });
    return result.outputFiles[0]!.text;
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors;
    const detail = errors?.length ? errors.map((m) => (m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text)).join('; ') : errorMessage(e);
    throw new DagImportError(`its version bundle could not be built (bundle ${collected.manifest.hash.slice(0, 12)}): ${detail}`, { file: absFile });
  }
}

/**
 * Build the version bundle of every DAG file of `folder` (`files` relative to it): its manifest
 * (`collectBundle`), its sources, and its module ({@link buildBundleModule}), under `<outRoot>/<name>/<hash>/`,
 * where `<name>` is a hash of the set (equal folders share one, unchanged bundles are not rebuilt).
 * Throws a DagImportError naming the file when one cannot be built.
 */
export async function buildVersionBundles(folder: string, files: readonly string[], outRoot: string = tmpdir()): Promise<BuiltBundles> {
  const absFolder = path.resolve(folder);
  const shim = libraryShimSource();
  const collected = await Promise.all(files.map(async (file) => {
    const abs = path.join(absFolder, ...file.split('/'));
    return { file, abs, c: await collectBundle(abs, absFolder) };
  }));
  // The shim is part of what the module is (the library's names), not of the bundle's identity.
  const dir = path.join(outRoot, `airless-bundles-${sha256(JSON.stringify([shim, collected.map((x) => x.c.manifest.hash).sort()])).slice(0, 16)}`);
  const bundles: BuiltBundle[] = [];
  for (const { file, abs, c } of collected) {
    const hash = c.manifest.hash;
    const at = path.join(dir, hash);
    const entry = path.join(at, BUNDLE_ENTRY);
    if (!existsSync(path.join(at, BUNDLE_MANIFEST))) {
      const code = await buildBundleModule(c, abs, shim);
      const tmp = `${at}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      for (const [rel, bytes] of c.contents) {
        const target = path.join(tmp, ...BUNDLE_SOURCES.split('/').filter(Boolean), ...rel.split('/'));
        mkdirSync(path.dirname(target), { recursive: true });
        writeFileSync(target, bytes);
      }
      writeFileSync(path.join(tmp, BUNDLE_ENTRY), code);
      writeFileSync(path.join(tmp, BUNDLE_MANIFEST), `${JSON.stringify(c.manifest, null, 2)}\n`);
      rmSync(at, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      renameSync(tmp, at);
    }
    bundles.push({ file, bundle: hash, bytes: statSync(entry).size });
  }
  return { dir, bundles };
}
