import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadDagBag } from '../../lib/dagbag/dag-bag.ts';
import { startStandalone, type StandaloneServer } from '../../lib/standalone/server.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures-home');
const ROOT = mkdtempSync(path.join(tmpdir(), 'airless-home-'));
const servers: StandaloneServer[] = [];
let homes = 0;

afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

const newHome = () => path.join(ROOT, `home${homes++}`);

async function start(home: string, env: NodeJS.ProcessEnv = {}): Promise<StandaloneServer> {
  const bag = await loadDagBag(FIXTURES);
  const server = await startStandalone({ bag, home, port: 0, env, uiDir: null, watch: false, warn: () => undefined });
  servers.push(server);
  return server;
}

async function runToEnd(server: StandaloneServer, runId: string): Promise<string> {
  const headers = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
  const res = await fetch(`${server.url}/api/v2/dags/home_logging/dagRuns`, { method: 'POST', headers, body: JSON.stringify({ dag_run_id: runId }) });
  expect(res.status).toBe(200);
  for (let i = 0; i < 400; i++) {
    const run = (await (await fetch(`${server.url}/api/v2/dags/home_logging/dagRuns/${runId}`, { headers })).json()) as { state: string };
    if (run.state !== 'queued' && run.state !== 'running') return run.state;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`run ${runId} did not end`);
}

/** A log file's lines without their times. */
const logLines = (file: string) => readFileSync(file, 'utf8').replace(/\n$/, '').split('\n').map((l) => l.replace(/^\[[^\]]+\] /, ''));
const SAY_LOG = ['INFO  - starting try 1 of 1', 'INFO  - line one', 'INFO  - line two', 'INFO  - done: success'];

/** Every folder and file under `dir` (itself included), relative, with its permission bits in octal. */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string) => {
    const st = lstatSync(p);
    out[rel] = `${st.isDirectory() ? 'd' : '-'}${(st.mode & 0o777).toString(8)}`;
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(path.join(p, name), rel === '.' ? name : `${rel}/${name}`);
  };
  walk(dir, '.');
  return out;
}

describe('the standalone home folder', () => {
  it('is the owner’s only: folders 0700 and files 0600 (database, -wal, -shm, token, logs), existing ones too, whatever the umask', async () => {
    const home = newHome();
    // A home of an earlier airless: world-readable.
    mkdirSync(path.join(home, 'logs', 'old'), { recursive: true, mode: 0o755 });
    writeFileSync(path.join(home, 'logs', 'old', 'attempt=1.log'), 'old\n', { mode: 0o644 });
    writeFileSync(path.join(home, 'notes.txt'), 'mine\n', { mode: 0o666 });
    chmodSync(home, 0o755);
    const umask = process.umask(0o022);
    try {
      const server = await start(home);
      expect(await runToEnd(server, 'r1')).toBe('success');
      const log = path.join(home, 'logs', 'dag_id=home_logging', 'run_id=r1', 'task_id=say', 'attempt=1.log');
      expect(logLines(log)).toStrictEqual(SAY_LOG);
      const running = modes(home);
      // While it runs: the database with its WAL files, the token, standalone.json, the lock.
      for (const f of ['airless.db', 'airless.db-wal', 'airless.db-shm', 'api-token', 'standalone.json', 'standalone.lock']) expect(running[f]).toBe('-600');
      expect(Object.entries(running).filter(([, m]) => m !== 'd700' && m !== '-600')).toStrictEqual([]);
      expect(running['logs/dag_id=home_logging/run_id=r1/task_id=say/attempt=1.log']).toBe('-600');
      expect(running['logs/old/attempt=1.log']).toBe('-600');
      expect(running['notes.txt']).toBe('-600');
      expect(running['.']).toBe('d700');
      await server.stop();
      expect(Object.entries(modes(home)).filter(([, m]) => m !== 'd700' && m !== '-600')).toStrictEqual([]);
    } finally {
      process.umask(umask);
    }
  });

  it('has one server at a time: two started at the same moment, one runs and the other fails naming it', async () => {
    const home = newHome();
    const both = await Promise.allSettled([start(home), start(home)]);
    const ran = both.filter((r): r is PromiseFulfilledResult<StandaloneServer> => r.status === 'fulfilled');
    const refused = both.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect([ran.length, refused.length]).toStrictEqual([1, 1]);
    const error = refused[0]!.reason as Error;
    expect(error.name).toBe('StandaloneStartError');
    expect(error.message).toBe(`a standalone server already runs on ${home} (pid ${process.pid}, ${ran[0]!.value.url}); stop it first`);
    // Stopped, it lets the home go.
    await ran[0]!.value.stop();
    const next = await start(home);
    expect(next.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('forgets its running tries and their log files once they end', async () => {
    const server = await start(newHome());
    expect(await runToEnd(server, 'r1')).toBe('success');
    expect(await runToEnd(server, 'r2')).toBe('success');
    expect({ runningTries: server.tracked.runningTries, tryLogs: server.tracked.tryLogs }).toStrictEqual({ runningTries: 0, tryLogs: 0 });
    const logs = path.join(server.home, 'logs', 'dag_id=home_logging');
    for (const r of ['r1', 'r2']) expect(logLines(path.join(logs, `run_id=${r}`, 'task_id=say', 'attempt=1.log'))).toStrictEqual(SAY_LOG);
  });
});
