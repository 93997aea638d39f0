// Fault cases on SQLite with real processes: each case runs in a child process (process-case.ts) on
// its own database file; a 'die' fault SIGKILLs that process right after the faulted write committed,
// and a second process resumes on the same file, as a restarted standalone server does.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStateStore } from '../../lib/store/sqlite-store.ts';
import type { FaultPlan } from './fault-store.ts';
import { inspectCase, proxyTarget, runCase, type CaseRunner, type Drive } from './sweep.ts';

const SCRIPT = fileURLToPath(new URL('./process-case.ts', import.meta.url));

function child(args: object, ledgerFile: string): Promise<{ killed: boolean; drive: Drive | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--no-warnings', '--import', 'tsx', SCRIPT, JSON.stringify(args)], {
      env: { ...process.env, AIRLESS_FAULT_LEDGER: ledgerFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') return resolve({ killed: true, drive: null, stderr: err });
      const line = out.split('\n').find((l) => l.startsWith('result '));
      if (code !== 0 || !line) return reject(new Error(`fault case process exited with ${signal ?? code}: ${err}`));
      resolve({ killed: false, drive: JSON.parse(line.slice(7)) as Drive, stderr: err });
    });
  });
}

/**
 * A CaseRunner on SQLite files under `dir`, one per case. A 'die' case runs in real processes (killed
 * right after the faulted write committed, then a new process resumes); the others run in this
 * process, on a store of their own file (a fault that does not kill needs no process of its own).
 */
export function sqliteProcessCases(parent: string): CaseRunner {
  const dir = mkdtempSync(path.join(parent, 'sqlite-cases-'));
  let n = 0;
  return async (dagId: string, plan: FaultPlan) => {
    const id = n++;
    const db = path.join(dir, `case-${id}.db`);
    if (plan.mode !== 'die') {
      const store = new SqliteStateStore({ path: db });
      try {
        return await runCase(proxyTarget(store), dagId, plan);
      } finally {
        store.close();
      }
    }
    const ledgerFile = path.join(dir, `case-${id}.ledger`);
    const first = await child({ db, dagId, plan }, ledgerFile);
    let drive = first.drive;
    if (first.killed) {
      const second = await child({ db, dagId, plan: { at: 0, mode: plan.mode }, resume: true }, ledgerFile);
      drive = { writes: 0, recovered: ['killed', ...(second.drive?.recovered ?? [])], errors: second.drive?.errors ?? [] };
    }
    const lines = existsSync(ledgerFile) ? readFileSync(ledgerFile, 'utf8').split('\n').filter(Boolean) : [];
    const store = new SqliteStateStore({ path: db });
    try {
      return { ...drive!, ...(await inspectCase(store, lines, dagId)) };
    } finally {
      store.close();
    }
  };
}
