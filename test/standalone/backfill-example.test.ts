import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cli } from '../cli-remote/harness.ts';
import { startStandaloneProcess, until, type StandaloneProcess } from '../support/standalone-process.ts';

// The README's backfill example, as a user runs it: `npx airless standalone` over the repo's dags/, then
// `npx airless backfill create ...` in the same AIRLESS_HOME (the CLI finds the standalone by itself).
const ROOT = path.resolve(import.meta.dirname, '../..');
const HOME = mkdtempSync(path.join(tmpdir(), 'airless-backfill-example-'));
const TOKEN = 'backfill-example-token-0123456789';
const children: ChildProcess[] = [];
let server: StandaloneProcess;

beforeAll(async () => {
  server = await startStandaloneProcess({ dags: path.join(ROOT, 'dags'), home: HOME, token: TOKEN, children, env: { NO_COLOR: '1' } });
}, 120_000);
afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGINT');
      await server.exit;
    }
  }
  rmSync(HOME, { recursive: true, force: true });
});

async function api(p: string): Promise<any> {
  const res = await fetch(`${server.url}${p}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status, p).toBe(200);
  return res.json();
}

describe("the README's backfill of the scheduled example DAG", () => {
  it('npx airless backfill create --dag-id nightly_calibrator_check --from-date 2026-03-01 --to-date 2026-03-03: two runs, one per Perth morning, that succeed', async () => {
    vi.stubEnv('AIRLESS_HOME', HOME);
    vi.stubEnv('AIRLESS_API_TOKEN', TOKEN);
    vi.stubEnv('NO_COLOR', '1');
    const r = await cli(['backfill', 'create', '--dag-id', 'nightly_calibrator_check', '--from-date', '2026-03-01', '--to-date', '2026-03-03']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('nightly_calibrator_check');

    const runs = await until('the backfill runs to end', async () => {
      const list = (await api('/api/v2/dags/nightly_calibrator_check/dagRuns?run_type=backfill&order_by=logical_date')).dag_runs as { dag_run_id: string; logical_date: string; state: string }[];
      return list.length === 2 && list.every((x) => x.state === 'success' || x.state === 'failed') ? list : undefined;
    }, 60_000);
    expect(runs.map((x) => [x.logical_date, x.state])).toStrictEqual([
      ['2026-03-01T22:00:00.000Z', 'success'],
      ['2026-03-02T22:00:00.000Z', 'success'],
    ]);
    const report = await api(`/api/v2/dags/nightly_calibrator_check/dagRuns/${encodeURIComponent(runs[1]!.dag_run_id)}/taskInstances/nightly_report/xcomEntries/return_value`);
    expect(report.value).toStrictEqual({ night: '2026-03-03', checked: 3, failed: [] });
    vi.unstubAllEnvs();
  }, 120_000);
});
