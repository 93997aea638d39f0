import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDagBag } from '../../lib/dagbag/dag-bag.ts';
import { startStandalone, type StandaloneServer } from '../../lib/standalone/server.ts';
import { SqliteStateStore, sqliteDatabasePath } from '../../lib/store/sqlite-store.ts';

// As in Airflow, a manual run of a paused DAG is queued until the DAG is unpaused.
const HOME = mkdtempSync(path.join(tmpdir(), 'airless-paused-trigger-'));
const TOKEN = 'paused-trigger-token-0123456789';
let server: StandaloneServer | undefined;

afterAll(async () => {
  await server?.stop();
  rmSync(HOME, { recursive: true, force: true });
});

async function api(p: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server!.url}${p}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

describe('a manual trigger of a paused DAG', () => {
  it('stays queued until the DAG is unpaused, then runs', async () => {
    const store = new SqliteStateStore({ path: sqliteDatabasePath(HOME) });
    await store.setDagPaused('home_logging', true, new Date().toISOString());
    store.close();
    const bag = await loadDagBag(path.join(import.meta.dirname, 'fixtures-home'));
    server = await startStandalone({ bag, home: HOME, port: 0, env: { AIRLESS_API_TOKEN: TOKEN }, uiDir: null, watch: false, warn: () => undefined });

    const trigger = await api('/api/v2/dags/home_logging/dagRuns', { method: 'POST', body: JSON.stringify({ dag_run_id: 'p1' }) });
    expect(trigger.status).toBe(200);
    expect(trigger.body.state).toBe('queued');
    expect((await api('/api/v2/dags/home_logging/dagRuns/p1')).body.state).toBe('queued');
    // Its task has not been scheduled (no state, no try).
    const tis = (await api('/api/v2/dags/home_logging/dagRuns/p1/taskInstances')).body.task_instances as { task_id: string; state: string | null; try_number: number }[];
    expect(tis.map((t) => [t.task_id, t.state, t.try_number])).toStrictEqual([['say', null, 0]]);

    expect((await api('/api/v2/dags/home_logging', { method: 'PATCH', body: JSON.stringify({ is_paused: false }) })).body.is_paused).toBe(false);
    let state = 'queued';
    for (let i = 0; i < 400 && (state === 'queued' || state === 'running'); i++) {
      state = (await api('/api/v2/dags/home_logging/dagRuns/p1')).body.state as string;
      if (state === 'queued' || state === 'running') await new Promise((r) => setTimeout(r, 25));
    }
    expect(state).toBe('success');
  });
});
