import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../../lib/standalone/home-files.ts';

// `airless standalone` as a user runs it (bin/airless.js), killed the hard way, and started twice at once.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DAGS = path.join(ROOT, 'test/fixtures/standalone');
const TMP = mkdtempSync(path.join(tmpdir(), 'airless-one-server-'));
const TOKEN = 'one-server-token-0123456789';
const children: ChildProcess[] = [];
const serverPids = new Set<number>();

afterAll(() => {
  // SIGTERM: a launcher passes it on to a server it started (SIGKILL would leave that one running).
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  // A server that outlived its launcher (what these tests check does not happen).
  for (const pid of serverPids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(TMP, { recursive: true, force: true });
});

interface Launched {
  child: ChildProcess;
  /** The `listening on` URL, or null when it exited first. */
  listening: Promise<string | null>;
  exit: Promise<number | null>;
  stderr: () => string;
}

function launch(home: string): Launched {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/airless.js'), '--dags-folder', DAGS, 'standalone', '--port', '0'], {
    cwd: ROOT,
    env: { ...process.env, AIRLESS_HOME: home, AIRLESS_API_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const listening = new Promise<string | null>((resolve) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /airless standalone: listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exit.then(() => resolve(null));
  });
  return { child, listening, exit, stderr: () => err };
}

function standaloneJson(home: string): { url: string; pid: number } {
  const info = JSON.parse(readFileSync(path.join(home, 'standalone.json'), 'utf8')) as { url: string; pid: number };
  serverPids.add(info.pid);
  return info;
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/v2/monitor/health`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

describe('one standalone server per home', () => {
  it('SIGKILL of the airless launcher leaves no server behind, and the next start on the home runs', async () => {
    const home = path.join(TMP, 'killed');
    const first = launch(home);
    const url = await first.listening;
    expect(url, first.stderr()).not.toBeNull();
    const info = standaloneJson(home);
    expect(info.url).toBe(url);

    first.child.kill('SIGKILL');
    await first.exit;
    // Whatever process served: it is gone (waited for with a bound, as the OS reaps it).
    for (let i = 0; i < 100 && pidAlive(info.pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(pidAlive(info.pid)).toBe(false);
    expect(await answers(info.url)).toBe(false);

    // Its lock went with it: a new server starts on the same home (and resumes from its database).
    const second = launch(home);
    const again = await second.listening;
    expect(again, second.stderr()).not.toBeNull();
    expect(await answers(again!)).toBe(true);
    expect(standaloneJson(home).pid).not.toBe(info.pid);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
  });

  it('two launched at the same moment on one home: exactly one runs, the other exits 2 naming it', async () => {
    const home = path.join(TMP, 'twice');
    const both = [launch(home), launch(home)];
    const urls = await Promise.all(both.map((l) => l.listening));
    const winner = urls.findIndex((u) => u !== null);
    expect(urls.filter((u) => u !== null)).toHaveLength(1);
    const loser = both[1 - winner]!;
    expect(await loser.exit).toBe(2);
    const info = standaloneJson(home);
    expect(info.url).toBe(urls[winner]);
    expect(loser.stderr()).toContain(`a standalone server already runs on ${home} (pid ${info.pid}, ${info.url}); stop it first`);
    expect(await answers(info.url)).toBe(true);
    both[winner]!.child.kill('SIGTERM');
    expect(await both[winner]!.exit).toBe(0);
  });
});
