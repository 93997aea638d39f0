// What a standalone server keeps in its home folder for others to find it: light (no server code), so
// the CLI can read it on every command.
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Mode of the home folder and every folder in it: the owner's only. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of every file in the home folder (database, token, logs...): the owner's only. */
export const PRIVATE_FILE_MODE = 0o600;

/** The environment variable whose value, when set, is the API token (instead of `<home>/api-token`). */
export const API_TOKEN_ENV = 'AIRLESS_API_TOKEN';
/** The token file in the home folder (mode 0600), created on a standalone server's first start. */
export const API_TOKEN_FILE = 'api-token';
/** The file a running standalone server writes in its home folder: `{ url, pid, startedAt }` (mode 0600). */
export const STANDALONE_FILE = 'standalone.json';

/** What `<home>/standalone.json` holds while a server runs. */
export interface StandaloneInfo {
  url: string;
  pid: number;
  /** ISO-8601. */
  startedAt: string;
}

/** `<home>/standalone.json`. */
export function standaloneFile(home: string): string {
  return path.join(home, STANDALONE_FILE);
}

/** The token: `AIRLESS_API_TOKEN`, else `<home>/api-token`, else undefined (no file, or an empty one). */
export function readApiToken(home: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env[API_TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    const token = readFileSync(path.join(home, API_TOKEN_FILE), 'utf8').trim();
    return token === '' ? undefined : token;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Whether a process with this id exists (EPERM: it does, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Create a folder and its missing parents with mode 0700 (whatever the umask: each folder created is
 * given it explicitly). Existing folders are left as they are.
 */
export function mkdirPrivate(dir: string): void {
  const target = path.resolve(dir);
  const first = mkdirSync(target, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return;
  // The folders created: from `dir` up to the first one created.
  const top = path.resolve(first);
  for (let d = target; d === top || d.startsWith(top + path.sep); d = path.dirname(d)) chmodSync(d, PRIVATE_DIR_MODE);
}

/** Write a file, mode 0600 (set explicitly, whatever the umask and the mode of a file it replaces). */
export function writePrivateFile(file: string, data: string): void {
  writeFileSync(file, data, { mode: PRIVATE_FILE_MODE });
  chmodSync(file, PRIVATE_FILE_MODE);
}

/**
 * Make the home folder the owner's only: the folder and every folder under it 0700, every file 0600
 * (those a former airless, or the umask, left readable by others). Symbolic links are not followed.
 * Returns what could not be changed (a file owned by someone else), one line each.
 */
export function securePrivateTree(home: string): string[] {
  const problems: string[] = [];
  const fix = (p: string, mode: number, current: number) => {
    if ((current & 0o777) === mode) return;
    try {
      chmodSync(p, mode);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`cannot make ${p} private (mode ${mode.toString(8)}): ${(e as Error).message}`);
    }
  };
  const walk = (dir: string, mode: number) => {
    fix(dir, PRIVATE_DIR_MODE, mode);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`cannot read ${dir}: ${(e as Error).message}`);
      return;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue; // removed meanwhile
      }
      if (st.isDirectory()) walk(p, st.mode);
      else if (st.isFile()) fix(p, PRIVATE_FILE_MODE, st.mode);
    }
  };
  walk(home, lstatSync(home).mode);
  return problems;
}
