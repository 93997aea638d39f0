/**
 * The child process of `prepareDagsSync` (cdk/prepare-dags.ts), started with tsx registered:
 * `prepare-dags-main <dagsFolder> <resultFile> [outDir]`. Writes a PrepareResult to the result file; DAG
 * files' own output goes to stdout and stderr.
 */
import { writeFileSync } from 'node:fs';
import { registerLibraryResolution } from '../lib/dagbag/library-resolution.ts';
import { prepareDags, type PrepareResult } from './prepare-dags.ts';

registerLibraryResolution();
const [folder, resultFile, outDir] = process.argv.slice(2);
if (folder === undefined || resultFile === undefined) {
  process.stderr.write('usage: prepare-dags-main <dagsFolder> <resultFile> [outDir]\n');
  process.exit(2);
}
let result: PrepareResult;
try {
  result = { ok: true, dags: await prepareDags(folder, outDir) };
} catch (e) {
  result = { ok: false, error: e instanceof Error ? { name: e.name, message: e.name === 'DagBagImportErrors' || e.name === 'DagsFolderError' ? e.message : (e.stack ?? e.message) } : { name: 'Error', message: String(e) } };
}
writeFileSync(resultFile, JSON.stringify(result));
// A DAG file may leave a timer running: the result is written, so stop.
process.exit(result.ok ? 0 : 1);
