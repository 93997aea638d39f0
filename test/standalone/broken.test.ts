// A DAG whose file breaks stays listed under the standalone, with its runs and its import error, as Airflow
// keeps a broken DAG: the API (and so `dags list` and the UI) show it with has_import_errors; a trigger is
// refused naming the error; once the file is fixed it runs again.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { startStandaloneProcess, until } from '../support/standalone-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TMP = mkdtempSync(path.join(tmpdir(), 'airless-broken-'));
const DAGS = path.join(TMP, 'dags');
const TOKEN = 'test-token-broken-0123456789';
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(TMP, { recursive: true, force: true });
});

const GOOD = `import { dag } from 'airless';\nexport default dag({ dagId: 'fragile' }, ({ task }) => { task('work', () => 42); });\n`;
const BROKEN = `import { dag } from 'airless';\nexport default dag({ dagId: 'fragile' }, ({ task }) => { task('work', () => (42 + ); });\n`;


it('keeps a DAG whose file breaks, with its runs and its error; refuses to trigger it until the file is fixed', async () => {
  mkdirSync(path.join(DAGS, 'node_modules'), { recursive: true });
  writeFileSync(path.join(DAGS, 'package.json'), '{"type":"module"}\n');
  symlinkSync(ROOT, path.join(DAGS, 'node_modules', 'airless'));
  writeFileSync(path.join(DAGS, 'fragile.ts'), GOOD);
  const server = await startStandaloneProcess({ dags: DAGS, home: path.join(TMP, 'home'), token: TOKEN, children });
  let base = server.url;
  const api = async (p: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${p}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as any };
  };
  const trigger = (runId: string) => api('/api/v2/dags/fragile/dagRuns', { method: 'POST', body: JSON.stringify({ dag_run_id: runId }) });

  expect((await trigger('before')).status).toBe(200);
  await until('the run to succeed', async () => ((await api('/api/v2/dags/fragile/dagRuns/before')).body.state === 'success' ? true : undefined));

  writeFileSync(path.join(DAGS, 'fragile.ts'), BROKEN);
  const listed = await until('the DAG to be listed with its import error', async () => {
    const dags = (await api('/api/v2/dags')).body.dags as { dag_id: string; has_import_errors: boolean }[];
    return dags.find((d) => d.dag_id === 'fragile' && d.has_import_errors);
  });
  expect(listed).toMatchObject({ dag_id: 'fragile', has_import_errors: true });
  // Its details, tasks and runs are still served.
  expect((await api('/api/v2/dags/fragile')).status).toBe(200);
  expect((await api('/api/v2/dags/fragile/dagRuns')).body.dag_runs.map((r: { dag_run_id: string }) => r.dag_run_id)).toStrictEqual(['before']);
  expect((await api('/api/v2/importErrors')).body.import_errors.map((e: { filename: string }) => e.filename)).toStrictEqual(['fragile.ts']);
  // A trigger is refused with the file's error (its place and code frame).
  const refused = await trigger('during');
  expect(refused.status).toBe(409);
  expect(refused.body.detail).toMatch(/^DAG 'fragile' cannot run: its file fragile\.ts fails to import \(fix it; its runs are kept\):\nfile fragile\.ts: SyntaxError: Unexpected "\)"\n {4}at fragile\.ts:2:\d+/);

  // Across a restart too: the server starts with the file broken and shows the DAG from its last kept code.
  server.child.kill('SIGTERM');
  await server.exit;
  const again = await startStandaloneProcess({ dags: DAGS, home: path.join(TMP, 'home'), token: TOKEN, children });
  const apiAgain = async (p: string) => (await (await fetch(`${again.url}${p}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as any;
  expect((await apiAgain('/api/v2/dags')).dags.map((d: { dag_id: string; has_import_errors: boolean }) => [d.dag_id, d.has_import_errors])).toStrictEqual([['fragile', true]]);
  expect((await apiAgain('/api/v2/dags/fragile/dagRuns')).dag_runs.map((r: { dag_run_id: string }) => r.dag_run_id)).toStrictEqual(['before']);
  const refusedAgain = await fetch(`${again.url}/api/v2/dags/fragile/dagRuns`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ dag_run_id: 'during' }) });
  expect(refusedAgain.status).toBe(409);
  base = again.url;

  writeFileSync(path.join(DAGS, 'fragile.ts'), GOOD);
  await until('the DAG to load again', async () => {
    const dags = (await api('/api/v2/dags')).body.dags as { dag_id: string; has_import_errors: boolean }[];
    return dags.find((d) => d.dag_id === 'fragile' && !d.has_import_errors);
  });
  expect((await trigger('after')).status).toBe(200);
}, 120_000);
