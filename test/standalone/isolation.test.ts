// `airless standalone` runs each try in a worker thread of its own (LocalRunner isolation 'worker'): task
// code that crashes its thread (an unhandled rejection, an exception thrown in a timer) fails its own try
// with its error, and code that blocks its thread past its executionTimeout is terminated, while the
// server keeps serving and its other tries go on. (A crash used to end the server process, and the next
// start recorded StandaloneInterruptedError instead of the error; a blocked thread froze the server.)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TMP = mkdtempSync(path.join(tmpdir(), 'airless-standalone-isolation-'));
const HOME = path.join(TMP, 'home');
const DAGS = path.join(TMP, 'dags');
const TOKEN = 'test-token-isolation-0123456789';
let child: ChildProcess | null = null;
let url = '';
let stderr = '';
let exited: number | null | undefined;

const CRASHES = `import { dag, task } from 'airless';
export const crashes = dag({ dagId: 'sa_crashes' }, () => {
  task('rejects', () => {
    void Promise.reject(new Error('x'));
    return 1;
  });
  task('throws_in_timer', async () => {
    setTimeout(() => {
      throw new Error('thrown in a timer');
    }, 1);
    await new Promise((r) => setTimeout(r, 60_000));
    return 2;
  });
  const steady = task('steady', async () => {
    await new Promise((r) => setTimeout(r, 500));
    return 'steady';
  });
  task('after', (_ctx, s: string) => s + '!')(steady);
});
`;
const SPIN = `import { dag, task } from 'airless';
export const spin = dag({ dagId: 'sa_spin' }, () => {
  const spin = task('spin', () => {
    for (;;) {
      // never yields
    }
  }, { executionTimeout: '300ms' });
  task('next', () => 'ran', { triggerRule: 'all_done' }).after(spin);
});
`;
const HELLO = `import { dag, task } from 'airless';
export const hello = dag({ dagId: 'sa_hello' }, () => {
  task('greet', () => 'hello');
});
`;

/** A request to the server; one it does not answer within 10 s (its event loop is blocked) fails, saying so. */
async function api(p: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  let res: Response;
  try {
    res = await fetch(`${url}${p}`, {
      ...init,
      signal: AbortSignal.timeout(10_000),
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
  } catch (e) {
    if (exited !== undefined) throw new Error(`airless standalone exited (code ${exited}); its stderr:\n${stderr}`);
    throw new Error(`the server did not answer ${p} (${String(e)}): a task's code holds its process (are tries isolated? lib/standalone/server.ts gives LocalRunner isolation: 'worker')`);
  }
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** The run's state once it has ended (polled: the server runs it on its own). */
async function finished(dagId: string, runId: string): Promise<string> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`airless standalone exited (code ${exited}) while run ${runId} ran:\n${stderr}`);
    const state = (await api(`/api/v2/dags/${dagId}/dagRuns/${runId}`)).body.state as string;
    if (state !== 'queued' && state !== 'running') return state;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not end; server stderr:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  mkdirSync(path.join(DAGS, 'node_modules'), { recursive: true });
  writeFileSync(path.join(DAGS, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(ROOT, path.join(DAGS, 'node_modules', 'airless'));
  writeFileSync(path.join(DAGS, 'crashes.ts'), CRASHES);
  writeFileSync(path.join(DAGS, 'spin.ts'), SPIN);
  writeFileSync(path.join(DAGS, 'hello.ts'), HELLO);
  child = spawn(process.execPath, [path.join(ROOT, 'bin/airless.js'), '--dags-folder', DAGS, 'standalone', '--port', '0'], {
    cwd: ROOT,
    // No relaunch: this process is the server, so that a kill reaches it whatever its state.
    env: { ...process.env, AIRLESS_HOME: HOME, AIRLESS_API_TOKEN: TOKEN, AIRLESS_NO_REEXEC: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  child.on('exit', (code) => (exited = code));
  let out = '';
  url = await new Promise<string>((resolve, reject) => {
    child!.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /airless standalone: listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child!.on('exit', (code) => reject(new Error(`airless standalone exited with ${code}:\n${out}\n${stderr}`)));
  });
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const done = new Promise((r) => child!.on('exit', r));
    child.kill('SIGTERM');
    // A server whose thread a task holds cannot stop on SIGTERM.
    const kill = setTimeout(() => child!.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(kill);
  }
  rmSync(TMP, { recursive: true, force: true });
}, 30_000);

describe('airless standalone isolates each try', () => {
  it("a task's crash fails its own try with its error; the server, its API and the other tries go on", async () => {
    const r = await api('/api/v2/dags/sa_crashes/dagRuns', { method: 'POST', body: JSON.stringify({ dag_run_id: 'c1' }) });
    expect(r.status).toBe(200);
    expect(await finished('sa_crashes', 'c1')).toBe('failed');
    const tis = (await api('/api/v2/dags/sa_crashes/dagRuns/c1/taskInstances')).body.task_instances as { task_id: string; state: string; note: string | null }[];
    expect(Object.fromEntries(tis.map((t) => [t.task_id, [t.state, t.note]]))).toEqual({
      rejects: ['failed', 'Error: x'],
      throws_in_timer: ['failed', 'Error: thrown in a timer'],
      steady: ['success', null],
      after: ['success', null],
    });
    // Still serving, still running DAGs.
    expect((await api('/api/v2/monitor/health')).body).toEqual({ status: 'healthy' });
    await api('/api/v2/dags/sa_hello/dagRuns', { method: 'POST', body: JSON.stringify({ dag_run_id: 'h1' }) });
    expect(await finished('sa_hello', 'h1')).toBe('success');
    expect(exited).toBeUndefined();
  }, 60_000);

  it('a task that blocks its thread past its executionTimeout is terminated; the server never stops answering', async () => {
    await api('/api/v2/dags/sa_spin/dagRuns', { method: 'POST', body: JSON.stringify({ dag_run_id: 's1' }) });
    // Its leaf ('next', all_done) succeeded: so did the run.
    expect(await finished('sa_spin', 's1')).toBe('success');
    const tis = (await api('/api/v2/dags/sa_spin/dagRuns/s1/taskInstances')).body.task_instances as { task_id: string; state: string; note: string | null }[];
    expect(Object.fromEntries(tis.map((t) => [t.task_id, [t.state, t.note]]))).toEqual({
      spin: ['failed', expect.stringMatching(/^TaskTimeoutError: execution timeout: the try ran longer than 300 ms \(its worker thread did not end within \d+ ms more and was terminated\)$/)],
      next: ['success', null],
    });
    expect((await api('/api/v2/monitor/health')).body).toEqual({ status: 'healthy' });
    expect(exited).toBeUndefined();
  }, 60_000);
});
