import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { AirlessError } from '../errors.ts';

/** The DAGs folder does not exist or is not a directory. */
export class DagsFolderError extends AirlessError {
  override name = 'DagsFolderError';
}

/** Name of the environment variable that sets the DAGs folder. */
export const DAGS_FOLDER_ENV = 'AIRLESS_DAGS_FOLDER';

/**
 * The DAGs folder, as an absolute path: `explicit` (the `--dags-folder` option) if given, else the
 * `AIRLESS_DAGS_FOLDER` environment variable, else `dags/`. Relative paths are taken from `cwd`.
 */
export function resolveDagsFolder(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): string {
  const fromEnv = env[DAGS_FOLDER_ENV];
  const chosen = explicit ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : 'dags');
  return path.resolve(cwd, chosen);
}

/** Throw a DagsFolderError unless `folder` is an existing directory. */
export function checkDagsFolder(folder: string): void {
  if (!existsSync(folder)) {
    throw new DagsFolderError(
      `DAGs folder '${folder}' does not exist (set it with --dags-folder or ${DAGS_FOLDER_ENV}; the default is ./dags)`,
      { field: 'dagsFolder' },
    );
  }
  if (!statSync(folder).isDirectory()) throw new DagsFolderError(`DAGs folder '${folder}' is not a directory`, { field: 'dagsFolder' });
}
