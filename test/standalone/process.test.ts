import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startStandaloneProcess, type StandaloneProcess } from '../support/standalone-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DAGS = path.join(ROOT, 'test/fixtures/standalone');
const HOME = mkdtempSync(path.join(tmpdir(), 'airless-standalone-'));
const TOKEN = 'test-token-0123456789';
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(HOME, { recursive: true, force: true });
});

type Started = StandaloneProcess;

/** `airless standalone --port 0` as a user runs it; resolves once it prints where it listens. */
function start(env: NodeJS.ProcessEnv = {}): Promise<Started> {
  return startStandaloneProcess({ dags: DAGS, home: HOME, token: TOKEN, env, children });
}

async function api(url: string, p: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}${p}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** The run's state once it is no longer queued or running (the server runs it on its own). */
async function finished(url: string, runId: string): Promise<string> {
  for (;;) {
    const { body } = await api(url, `/api/v2/dags/standalone_hello/dagRuns/${runId}`);
    const state = (body as { state: string }).state;
    if (state !== 'queued' && state !== 'running') return state;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('airless standalone (a real process)', () => {
  it('serves the API, runs a triggered run, stops cleanly on SIGINT and keeps the run for the next start', async () => {
    const first = await start();
    expect(first.stdout()).toContain(`${first.url}/?token=${TOKEN}`);
    expect(first.stdout()).toContain(`home:        ${HOME}`);
    expect(first.stdout()).toMatch(/DAGs: +1 from/);
    expect(first.stderr()).not.toContain('ExperimentalWarning');
    const health = await fetch(`${first.url}/api/v2/monitor/health`);
    expect(await health.json()).toEqual({ status: 'healthy' });
    const info = JSON.parse(readFileSync(path.join(HOME, 'standalone.json'), 'utf8')) as { url: string; pid: number };
    expect(info.url).toBe(first.url);

    // A second server on the same home refuses to start.
    const second = spawn(process.execPath, [path.join(ROOT, 'bin/airless.js'), '--dags-folder', DAGS, 'standalone', '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, AIRLESS_HOME: HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(second);
    let secondErr = '';
    second.stderr.on('data', (b: Buffer) => (secondErr += b.toString()));
    expect(await new Promise((r) => second.on('exit', r))).toBe(2);
    expect(secondErr).toMatch(/a standalone server already runs on/);

    const trigger = await api(first.url, '/api/v2/dags/standalone_hello/dagRuns', { method: 'POST', body: JSON.stringify({ dag_run_id: 'p1', conf: { name: 'sky' } }) });
    expect(trigger.status).toBe(200);
    expect(await finished(first.url, 'p1')).toBe('success');

    first.child.kill('SIGINT');
    expect(await first.exit).toBe(0);
    expect(existsSync(path.join(HOME, 'standalone.json'))).toBe(false);
    expect(first.stderr()).toContain('airless standalone: stopped');

    const again = await start();
    const run = await api(again.url, '/api/v2/dags/standalone_hello/dagRuns/p1');
    expect(run.body).toMatchObject({ dag_run_id: 'p1', state: 'success', conf: { name: 'sky' } });
    const xcom = await api(again.url, '/api/v2/dags/standalone_hello/dagRuns/p1/taskInstances/shout/xcomEntries/return_value');
    expect(xcom.body).toMatchObject({ value: 'HELLO SKY' });
    again.child.kill('SIGTERM');
    expect(await again.exit).toBe(0);
  }, 60_000);
});
