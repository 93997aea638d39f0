import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDagBag } from '../../lib/dagbag/dag-bag.ts';
import { startStandalone, type StandaloneServer } from '../../lib/standalone/server.ts';
import { SqliteStateStore, sqliteDatabasePath } from '../../lib/store/sqlite-store.ts';

// Pausing and unpausing through the API acts on the standalone's schedule at once.
const HOME = mkdtempSync(path.join(tmpdir(), 'airless-pause-'));
const TOKEN = 'pause-token-0123456789';
let server: StandaloneServer | undefined;

afterAll(async () => {
  await server?.stop();
  rmSync(HOME, { recursive: true, force: true });
});

async function api(p: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server!.url}${p}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

async function scheduledRuns(): Promise<string[]> {
  const { body } = await api('/api/v2/dags/pause_daily/dagRuns');
  return (body.dag_runs as { dag_run_id: string; run_type: string }[]).filter((r) => r.run_type === 'scheduled').map((r) => r.dag_run_id).sort();
}

describe('the standalone schedule and the API', () => {
  it('a DAG unpaused through the API catches up at once; paused again, it fires nothing more', async () => {
    // Paused before the server starts, as a DAG paused in an earlier session is.
    const store = new SqliteStateStore({ path: sqliteDatabasePath(HOME) });
    await store.setDagPaused('pause_daily', true, new Date().toISOString());
    store.close();

    const bag = await loadDagBag(path.join(import.meta.dirname, 'fixtures-pause'));
    server = await startStandalone({ bag, home: HOME, port: 0, env: { AIRLESS_API_TOKEN: TOKEN }, uiDir: null, watch: false, warn: () => undefined });
    expect(await scheduledRuns()).toStrictEqual([]);

    expect((await api('/api/v2/dags/pause_daily', { method: 'PATCH', body: JSON.stringify({ is_paused: false }) })).body.is_paused).toBe(false);
    let runs: string[] = [];
    for (let i = 0; i < 200 && runs.length < 4; i++) {
      runs = await scheduledRuns();
      if (runs.length < 4) await new Promise((r) => setTimeout(r, 50));
    }
    // The daily instants from the start date (three days ago) to today's midnight.
    expect(runs).toHaveLength(4);
    expect(runs.every((id) => id.startsWith('scheduled__'))).toBe(true);
    expect((await api('/api/v2/dags/pause_daily')).body.next_dagrun_logical_date).not.toBeNull();

    expect((await api('/api/v2/dags/pause_daily', { method: 'PATCH', body: JSON.stringify({ is_paused: true }) })).body.is_paused).toBe(true);
    expect(await scheduledRuns()).toStrictEqual(runs);
  });
});
