import { readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';

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

/**
 * DAG files under `folder`, recursively, as paths relative to it with '/' separators, sorted (so that
 * which of two files defining the same dagId is "second" does not depend on the file system).
 * Symbolic links are followed; a directory reached twice (a link loop) is scanned once.
 */
export function findDagFiles(folder: string): string[] {
  const out: string[] = [];
  const seenDirs = new Set<string>();
  const walk = (dir: string, rel: string): void => {
    const real = realpathSync(dir);
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
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
        } catch {
          continue; // a dangling link
        }
      }
      if (isDir && isScannedDirName(e.name)) walk(abs, relPath);
      else if (isFile && isDagFileName(e.name)) out.push(relPath);
    }
  };
  walk(folder, '');
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
