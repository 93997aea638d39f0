import type { Dag } from '../authoring/dag.ts';
import { bundlesDir, LocalBundleStore } from '../dagbag/bundle-store.ts';
import { loadDagBag, type DagBag } from '../dagbag/dag-bag.ts';
import { resolveDagsFolder } from '../dagbag/dags-folder.ts';
import path from 'node:path';
import { airlessHome } from '../standalone/log-files.ts';
import { displayPath } from './format.ts';
import type { Terminal } from './terminal.ts';
import { UsageError } from './usage-error.ts';

/** Options every command takes. */
export interface GlobalOptions {
  dagsFolder?: string;
  /** `--no-typecheck` (false): load the DAG files without type checking them. Default: check, unless `AIRLESS_NO_TYPECHECK=1`. */
  typecheck?: boolean;
}

/**
 * Load the DAG bag of `--dags-folder`, `AIRLESS_DAGS_FOLDER` or `./dags`; what DAG files print goes to
 * stderr. The DAG files are type checked unless `--no-typecheck` (or `AIRLESS_NO_TYPECHECK=1`), but not
 * again when their code checked clean before (`<home>/typecheck-clean.json`). With `home`, each DAG file's
 * bundle is kept under `<home>/bundles` (what runs then run on).
 */
export function loadBag(term: Terminal, options: GlobalOptions, home?: string): Promise<DagBag> {
  const bundles = home === undefined ? undefined : new LocalBundleStore(bundlesDir(home));
  const warn = (line: string) => void term.stderr.write(`${line}\n`);
  return term.divertStdout(() => loadDagBag(resolveDagsFolder(options.dagsFolder), { ...(bundles ? { bundles } : {}), ...(options.typecheck === false ? { typecheck: false } : {}), typecheckCache: path.join(home ?? airlessHome(), 'typecheck-clean.json'), warn }));
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

/**
 * The DAG `dagId` of the bag, or a UsageError that says why not: its file failed to import (the error
 * is shown), another file defines the same dagId, or no file defines it (the DAGs are listed, and the
 * files that failed to import, since one of them may be the one).
 */
export function requireDag(bag: DagBag, dagId: string): Dag {
  const dag = bag.getDag(dagId);
  const own = bag.importErrorsFor(dagId);
  if (dag && !own.length) return dag;
  if (own.length) {
    const what = dag ? `DAG '${dagId}' is defined more than once` : `DAG '${dagId}' failed to import`;
    throw new UsageError(`${what}:\n${own.map((e) => indent(e.error)).join('\n')}`);
  }
  const folder = displayPath(bag.folder) || '.';
  const known = bag.dagIds.length ? `DAGs: ${bag.dagIds.join(', ')}` : 'it has no DAGs';
  let msg = `no DAG '${dagId}' in ${folder} (${known})`;
  if (bag.importErrors.length) {
    const n = bag.importErrors.length;
    // In full (its place and code frame) when there are few, or when a file is named as the DAG.
    const stem = (file: string) => file.replace(/^.*\//, '').replace(/\.[^.]+$/, '');
    const likely = (e: { file: string }) => n <= 3 || stem(e.file) === dagId;
    const shown = bag.importErrors.map((e) => indent(likely(e) ? e.error : (e.error.split('\n')[0] ?? '')));
    msg += `\n${n} file${n > 1 ? 's' : ''} failed to import (one may define it; see airless dags list-import-errors):\n${shown.join('\n')}`;
  }
  throw new UsageError(msg);
}
