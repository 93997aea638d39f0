// A state store that another process holds locked: the API answers 503 with Retry-After (never a 500,
// never a frozen event loop), and serves the request once the lock is gone.
import { mkdtempSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiApp } from '../../lib/api/app.ts';
import type { ApiBackend } from '../../lib/api/backend.ts';
import { dag, FakeClock, LocalRunner } from '../../lib/index.ts';
import { DagBag } from '../../lib/dagbag/dag-bag.ts';
import { SqliteStateStore } from '../../lib/store/sqlite-store.ts';

const TOKEN = 'busy-token-0123456789';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the API on a SQLite store that another process holds locked', () => {
  it('answers 503 with Retry-After and { detail, field: null }; health still answers; after the lock goes, the same request succeeds', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'airless-busy-'));
    dirs.push(dir);
    const file = path.join(dir, 'airless.db');
    const store = new SqliteStateStore({ path: file, busyRetry: { attempts: 3, baseMs: 2, maxMs: 5 } });
    const d = dag({ dagId: 'busy' }, ({ task }) => {
      task('t', () => 1);
    });
    const runner = new LocalRunner({ dags: [d], store, clock: new FakeClock(Date.parse('2026-05-01T00:00:00Z')), captureConsole: false });
    const backend: ApiBackend = { store, dags: new DagBag(dir, [d], [], []), withScheduler: (fn) => fn(runner.driven), now: () => new Date(runner.clock.now()) };
    const app = await createApiApp({ backend, auth: { mode: 'token', token: TOKEN } });
    const auth = { authorization: `Bearer ${TOKEN}` };
    try {
      const other = new DatabaseSync(file, { timeout: 0 });
      other.exec('BEGIN IMMEDIATE');
      const refused = await app.inject({ method: 'POST', url: '/api/v2/dags/busy/dagRuns', headers: auth, payload: { dag_run_id: 'r1' } });
      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.json()).toStrictEqual({ detail: 'the state store is busy (another process holds it, or it is throttled): try again later', field: null });
      const health = await app.inject({ method: 'GET', url: '/api/v2/monitor/health' });
      expect(health.statusCode).toBe(200);
      other.exec('COMMIT');
      other.close();
      const ok = await app.inject({ method: 'POST', url: '/api/v2/dags/busy/dagRuns', headers: auth, payload: { dag_run_id: 'r1' } });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().dag_run_id).toBe('r1');
    } finally {
      await app.close();
      runner.close();
      store.close();
    }
  });
});
