import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadDagBag } from '../lib/dagbag/dag-bag.ts';
import { resolveDagsFolder } from '../lib/dagbag/dags-folder.ts';
import { AirlessError } from '../lib/errors.ts';
import type { PreparedDags } from './airless.ts';
import { writeDagsModule } from './dags-module.ts';
import { buildVersionBundles } from './version-bundles.ts';

/** DAG files failed to import: nothing is synthesized (nothing broken gets deployed). */
export class DagBagImportErrors extends AirlessError {
  override name = 'DagBagImportErrors';
}

/** The DAGs of a folder, ready for the construct, and the files they came from. */
export interface PreparedFolder extends PreparedDags {
  readonly folder: string;
  /** The DAG files (relative to the folder). */
  readonly files: readonly string[];
  readonly versionBundles: string;
}

/**
 * Load a DAGs folder in this process and prepare what the {@link Airless} construct deploys of it: the DAGs'
 * specs, each file's version bundle (cdk/version-bundles.ts) and the `airless-dags` module the functions'
 * bundles import them from (cdk/dags-module.ts), written under `outDir`. Fails with every import error of the
 * folder, each naming its file. Importing TypeScript DAG files needs a loader in this process (tsx, vitest).
 * @param dagsFolder default `AIRLESS_DAGS_FOLDER`, else `dags`
 * @param outDir default the system's temporary folder
 */
export async function prepareDags(dagsFolder?: string, outDir?: string): Promise<PreparedFolder> {
  const folder = resolveDagsFolder(dagsFolder);
  const bag = await loadDagBag(folder);
  if (bag.importErrors.length) {
    throw new DagBagImportErrors(
      `${bag.importErrors.length} DAG file(s) in ${folder} failed to import; nothing was synthesized:\n${bag.importErrors.map((e) => `  - ${e.error}`).join('\n')}`,
    );
  }
  // Each file's code as its versions will load it (the bucket's bundles), and the hash that names them.
  const built = await buildVersionBundles(bag.folder, bag.files, outDir);
  const bundles = new Map(built.bundles.map((b) => [b.file, b.bundle]));
  return {
    folder: bag.folder,
    files: bag.files,
    specs: bag.dags.map((d) => d.spec),
    dagsModule: writeDagsModule(bag.folder, bag.files, outDir, bundles),
    versionBundles: built.dir,
  };
}

/** The child process's entry: this module's sibling, of the same kind (.ts in the repository, .js built). */
const MAIN = fileURLToPath(new URL(`./prepare-dags-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

/** What the child process writes to its result file. */
export type PrepareResult = { ok: true; dags: PreparedFolder } | { ok: false; error: { name: string; message: string } };

/**
 * `prepareDags` for a construct's constructor, which cannot wait for a promise: it runs in a child process
 * (Node with tsx, which loads TypeScript DAG files; their `'airless'` is this library) and this one waits
 * for it. The DAG files' own output goes to this process's stderr. Throws the child's DagBagImportErrors
 * (or DagsFolderError) as one of the same name and message.
 */
export function prepareDagsSync(dagsFolder?: string, outDir?: string): PreparedFolder {
  const folder = resolveDagsFolder(dagsFolder);
  const dir = mkdtempSync(path.join(tmpdir(), 'airless-prepare-'));
  const resultFile = path.join(dir, 'result.json');
  try {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href;
    const child = spawnSync(process.execPath, ['--import', tsx, MAIN, folder, resultFile, ...(outDir !== undefined ? [outDir] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (child.error) throw new Error(`could not load the DAGs folder ${folder} in a child process: ${child.error.message}`, { cause: child.error });
    const output = `${child.stdout}${child.stderr}`.trim();
    let result: PrepareResult;
    try {
      result = JSON.parse(readFileSync(resultFile, 'utf8')) as PrepareResult;
    } catch {
      throw new Error(`loading the DAGs folder ${folder} failed (exit code ${child.status ?? child.signal})${output ? `:\n${output}` : ''}`);
    }
    if (output) process.stderr.write(`${output}\n`);
    if (result.ok) return result.dags;
    const error = result.error.name === 'DagBagImportErrors' ? new DagBagImportErrors(result.error.message) : new AirlessError(result.error.message);
    if (result.error.name !== 'DagBagImportErrors') error.name = result.error.name;
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
