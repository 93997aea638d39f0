import { readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { DagImportError } from '../errors.ts';
import type { DagFileImportError } from './import-error.ts';

const DAG_FILE = /\.(ts|mts|js|mjs)$/;
const NOT_DAG_FILE = /(\.d\.(ts|mts)|\.(test|spec)\.(ts|mts|js|mjs))$/;

/**
 * Whether a file name is a DAG file: `*.ts`, `*.mts`, `*.js`, `*.mjs`, but not declarations
 * (`*.d.ts`), tests (`*.test.*`, `*.spec.*`), or helpers: a file whose name starts with `_` is a helper
 * module that DAG files import; it is never imported on its own.
 */
export function isDagFileName(name: string): boolean {
  return DAG_FILE.test(name) && !NOT_DAG_FILE.test(name) && !name.startsWith('_');
}

/** Whether the scan descends into a directory: not `node_modules`, not a dot-directory. */
export function isScannedDirName(name: string): boolean {
  return name !== 'node_modules' && !name.startsWith('.');
}

/** What {@link scanDagsFolder} found. */
export interface DagsFolderScan {
  /** The DAG files, relative to the folder with '/' separators, sorted. */
  files: string[];
  /**
   * The folders (and linked files) that could not be read, one import error each, naming the path
   * (relative to the folder; '.' for the folder itself) and the OS error: their DAGs are missing from
   * the bag, and this says why.
   */
  errors: DagFileImportError[];
}

/**
 * DAG files under `folder`, recursively, as paths relative to it with '/' separators, sorted (so that
 * which of two files defining the same dagId is "second" does not depend on the file system).
 * Symbolic links are followed; a directory reached twice (a link loop) is scanned once. A folder that
 * cannot be read (permission denied...) is an import error, not a silent gap; so is a link that cannot
 * be followed for another reason than pointing nowhere (a dangling link is skipped).
 */
export function scanDagsFolder(folder: string): DagsFolderScan {
  const out: string[] = [];
  const errors: DagFileImportError[] = [];
  const seenDirs = new Set<string>();
  const fail = (rel: string, why: string, e: unknown) => {
    const file = rel || '.';
    errors.push({ file, error: new DagImportError(`${why}: ${(e as Error).message}`, { file }).message });
  };
  const walk = (dir: string, rel: string): void => {
    let entries: Dirent[];
    try {
      const real = realpathSync(dir);
      if (seenDirs.has(real)) return;
      seenDirs.add(real);
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      fail(rel, 'cannot read this folder (the DAG files in it are not loaded)', e);
      return;
    }
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        try {
          const st = statSync(abs);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch (err) {
          // A dangling link is skipped; one that cannot be followed (a loop, no permission) is reported
          // when it would be scanned.
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT' && code !== 'ENOTDIR' && (isScannedDirName(e.name) || isDagFileName(e.name))) fail(relPath, 'cannot follow this link (what it points to is not loaded)', err);
          continue;
        }
      }
      if (isDir && isScannedDirName(e.name)) walk(abs, relPath);
      else if (isFile && isDagFileName(e.name)) out.push(relPath);
    }
  };
  walk(folder, '');
  const byPath = (a: { file: string } | string, b: { file: string } | string) => {
    const x = typeof a === 'string' ? a : a.file;
    const y = typeof b === 'string' ? b : b.file;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  return { files: out.sort(byPath), errors: errors.sort(byPath) };
}

/** The DAG files of {@link scanDagsFolder} (without the folders that could not be read). */
export function findDagFiles(folder: string): string[] {
  return scanDagsFolder(folder).files;
}
