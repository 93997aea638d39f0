// A DAG version is its code: a run in flight finishes on the code it started with, across an edit of a
// helper module and a restart of the server (SIGTERM, SIGKILL), as the ledger its task code writes shows.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startStandaloneProcess, until, type StandaloneProcess } from '../support/standalone-process.ts';
import { SqliteStateStore, sqliteDatabasePath } from '../../lib/store/sqlite-store.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TMP = mkdtempSync(path.join(tmpdir(), 'airless-versions-'));
const HOME = path.join(TMP, 'home');
const DAGS = path.join(TMP, 'dags');
const LEDGER = path.join(TMP, 'ledger.txt');
const TOKEN = 'test-token-versions-0123456789';
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(TMP, { recursive: true, force: true });
});

/** The helper module the DAG imports: the only file edited between versions. */
const helper = (code: string) => `export const CODE = '${code}';\n`;

// Every task (the sensor's every poke too) writes `<run> <task> <code>` to the ledger. The sensor holds
// the run until the run's gate file exists. A SIGKILL can land while a poke runs (a try cut short fails with
// StandaloneInterruptedError at the restart): the sensor's retries carry it on, on the same version.
const DAG = `import { appendFileSync, existsSync } from 'node:fs';
import { dag, task, sensor } from 'airless';
import { CODE } from './lib/_code.ts';
const mark = (run: string, t: string) => appendFileSync(${JSON.stringify(LEDGER)}, run + ' ' + t + ' ' + CODE + '\\n');
export const ledger = dag({ dagId: 'ledger', params: { gate: { type: 'string' } } }, () => {
  const first = task('first', ({ runId }) => { mark(runId, 'first'); return CODE; });
  const gate = sensor('gate', ({ runId, params }) => { mark(runId, 'gate'); return existsSync(params.gate); }, { pokeInterval: '1s', retries: 2, retryDelay: '1s' });
  const last = task('last', ({ runId }) => { mark(runId, 'last'); return CODE; });
  gate.after(first);
  last.after(gate);
});
`;

type Server = StandaloneProcess;

function start(...args: string[]): Promise<Server> {
  return startStandaloneProcess({ dags: DAGS, home: HOME, token: TOKEN, args, children });
}

async function api(s: Server, p: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.url}${p}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}


/** The ledger's lines of one run: `<task> <code>`. */
function ledgerOf(runId: string): string[] {
  if (!existsSync(LEDGER)) return [];
  return readFileSync(LEDGER, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${runId} `))
    .map((l) => l.slice(runId.length + 1));
}

async function trigger(s: Server, runId: string): Promise<void> {
  const res = await api(s, '/api/v2/dags/ledger/dagRuns', { method: 'POST', body: JSON.stringify({ dag_run_id: runId, conf: { gate: path.join(TMP, `${runId}.gate`) } }) });
  expect(res.status).toBe(200);
}

async function finished(s: Server, runId: string): Promise<{ state: string; dag_version: string }> {
  const state = await until(`run ${runId} to end`, async () => {
    const { body } = await api(s, `/api/v2/dags/ledger/dagRuns/${runId}`);
    return body.state === 'queued' || body.state === 'running' ? undefined : (body.state as string);
  });
  const store = new SqliteStateStore({ path: sqliteDatabasePath(HOME) });
  try {
    return { state, dag_version: (await store.getRun({ dagId: 'ledger', runId }))!.dagVersion };
  } finally {
    store.close();
  }
}

/** The versions the store holds for the DAG, oldest first. */
async function versions(): Promise<{ version: string; bundle: string | null }[]> {
  const store = new SqliteStateStore({ path: sqliteDatabasePath(HOME) });
  try {
    return (await store.listDagVersions('ledger')).map((v) => ({ version: v.version, bundle: v.bundle }));
  } finally {
    store.close();
  }
}

/** Run `runId` to its gate on the current code, edit the helper to `next`, restart with `signal`, open the gate. */
async function acrossRestart(runId: string, next: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<Server> {
  const before = await start();
  await trigger(before, runId);
  // The run is under way: its first task ran, its sensor poked at least once.
  await until('the sensor to poke', () => (ledgerOf(runId).some((l) => l.startsWith('gate ')) ? true : undefined));
  const known = (await versions()).length;
  writeFileSync(path.join(DAGS, 'lib', '_code.ts'), helper(next));
  // The server sees the edit of the helper alone as a new version of the DAG.
  await until('the new version', () => (/DAG 'ledger' changed \(version \w+→\w+\)/.test(before.stderr()) ? true : undefined));
  expect((await versions()).length).toBe(known + 1);
  before.child.kill(signal);
  await before.exit;
  const after = await start();
  writeFileSync(path.join(TMP, `${runId}.gate`), '');
  return after;
}

describe('a run keeps its DAG version (a helper module edited, the server restarted)', () => {
  it('finishes on its own code after a SIGTERM restart and after a SIGKILL restart; a new run runs the new code', async () => {
    // A project of its own: ESM, with the library installed (linked) as a package.
    mkdirSync(path.join(DAGS, 'lib'), { recursive: true });
    mkdirSync(path.join(TMP, 'node_modules'), { recursive: true });
    writeFileSync(path.join(TMP, 'package.json'), '{ "type": "module" }\n');
    symlinkSync(ROOT, path.join(TMP, 'node_modules', 'airless'));
    writeFileSync(path.join(DAGS, 'lib', '_code.ts'), helper('v1'));
    writeFileSync(path.join(DAGS, 'ledger.ts'), DAG);

    // SIGTERM: r1 started on v1; the helper becomes v2; the server stops and starts again.
    const s1 = await acrossRestart('r1', 'v2', 'SIGTERM');
    const r1 = await finished(s1, 'r1');
    expect(r1.state).toBe('success');
    expect(new Set(ledgerOf('r1'))).toEqual(new Set(['first v1', 'gate v1', 'last v1']));
    await trigger(s1, 'r2');
    writeFileSync(path.join(TMP, 'r2.gate'), '');
    const r2 = await finished(s1, 'r2');
    expect(r2.state).toBe('success');
    expect(new Set(ledgerOf('r2'))).toEqual(new Set(['first v2', 'gate v2', 'last v2']));
    expect(r2.dag_version).not.toBe(r1.dag_version);
    s1.child.kill('SIGTERM');
    await s1.exit;

    // SIGKILL: r3 started on v2; the helper becomes v3; the server is killed and started again.
    const s2 = await acrossRestart('r3', 'v3', 'SIGKILL');
    const r3 = await finished(s2, 'r3');
    expect(r3.state).toBe('success');
    expect(r3.dag_version).toBe(r2.dag_version);
    expect(new Set(ledgerOf('r3'))).toEqual(new Set(['first v2', 'gate v2', 'last v2']));

    // Three versions, differing only by the helper's code; each one's bundle kept under the home.
    const all = await versions();
    expect(all.map((v) => v.version)).toEqual([r1.dag_version, r2.dag_version, expect.any(String)]);
    expect(new Set(all.map((v) => v.bundle)).size).toBe(3);
    const kept = readdirSync(path.join(HOME, 'bundles')).filter((n) => /^[0-9a-f]{64}$/.test(n));
    for (const v of all) expect(kept).toContain(v.bundle);
    expect(readFileSync(path.join(HOME, 'bundles', all[0]!.bundle!, 'src', 'dags', 'lib', '_code.ts'), 'utf8')).toBe(helper('v1'));
    s2.child.kill('SIGTERM');
    await s2.exit;

    // Keeping no old versions: at start, the code of v1 and v2 (no run is active) is pruned, v3's is kept.
    const s3 = await start('--keep-versions', '0');
    await until('the pruning', () => (/pruned the code of 2 DAG versions no run uses/.test(s3.stderr()) ? true : undefined));
    const bundles = readdirSync(path.join(HOME, 'bundles')).filter((n) => /^[0-9a-f]{64}$/.test(n));
    expect(bundles).toEqual([all[2]!.bundle]);
    const store = new SqliteStateStore({ path: sqliteDatabasePath(HOME) });
    try {
      expect((await store.listDagVersions('ledger')).map((v) => v.prunedAt !== null)).toEqual([true, true, false]);
    } finally {
      store.close();
    }
    // Clearing r1 now cannot rerun it on v1: the API refuses and says how.
    const refused = await api(s3, '/api/v2/dags/ledger/clearTaskInstances', { method: 'POST', body: JSON.stringify({ dag_run_id: 'r1', dry_run: false }) });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('--run-on-latest-version');
    s3.child.kill('SIGTERM');
    await s3.exit;
  }, 120_000);
});
