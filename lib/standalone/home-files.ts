// What a standalone server keeps in its home folder for others to find it: light (no server code), so
// the CLI can read it on every command.
import { readFileSync } from 'node:fs';
import path from 'node:path';

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
