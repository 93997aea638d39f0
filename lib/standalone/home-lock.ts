// The lock that makes a standalone server the only one on its home folder.
import { closeSync, constants, fchmodSync, openSync } from 'node:fs';
import path from 'node:path';
import { PRIVATE_FILE_MODE } from './home-files.ts';

/** The lock file in the home folder (an empty SQLite database, mode 0600). */
export const LOCK_FILE = 'standalone.lock';

/** A held lock on a home folder. */
export interface HomeLock {
  readonly file: string;
  /** Let the lock go (idempotent). */
  release(): void;
}

function isBusy(e: unknown): boolean {
  const errcode = (e as { errcode?: unknown } | null)?.errcode;
  return (e as { code?: unknown } | null)?.code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number' && ((errcode & 0xff) === 5 || (errcode & 0xff) === 6);
}

/**
 * Take the home folder's lock, or return null when another connection holds it (another standalone
 * server, in this process or another one). The lock is SQLite's exclusive lock on `<home>/standalone.lock`
 * (`BEGIN EXCLUSIVE`, held until {@link HomeLock.release}): an OS file lock, so the OS lets it go when
 * the process ends however it ends (SIGKILL, a crash); SQLite keeps the connections of one process
 * apart too. Never open and close that file by other means while holding it: closing any descriptor of
 * a file drops the process's locks on it.
 */
export function lockHome(home: string): HomeLock | null {
  const file = path.join(home, LOCK_FILE);
  try {
    // O_EXCL: an existing file is not opened (see above).
    const fd = openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, PRIVATE_FILE_MODE);
    try {
      fchmodSync(fd, PRIVATE_FILE_MODE);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
  const db = new DatabaseSync(file, { timeout: 0 });
  try {
    // The rollback journal in memory: no `-journal` file next to the lock.
    db.exec('PRAGMA journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    db.close();
    if (isBusy(e)) return null;
    throw e;
  }
  return {
    file,
    release: () => {
      if (db.isOpen) db.close();
    },
  };
}
