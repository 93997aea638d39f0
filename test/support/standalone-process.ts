// `airless standalone` as a user runs it (bin/airless.js in a process of its own), for the tests that
// drive a real server: started on a free port, resolved once it prints where it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface StandaloneProcess {
  child: ChildProcess;
  /** The `listening on` URL. */
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Its exit code once it has exited. */
  exit: Promise<number | null>;
}

export interface StandaloneProcessOptions {
  /** The DAGs folder (`--dags-folder`). */
  dags: string;
  /** `AIRLESS_HOME`. */
  home: string;
  /** `AIRLESS_API_TOKEN`. */
  token: string;
  /** More arguments of `standalone` (after `--port 0`). */
  args?: readonly string[];
  /** More environment variables. */
  env?: NodeJS.ProcessEnv;
  /** Where every child started is put, for the test's cleanup to kill. */
  children: ChildProcess[];
}

/** Start `airless standalone --port 0`; rejects, with its output, if it exits before listening. */
export function startStandaloneProcess(o: StandaloneProcessOptions): Promise<StandaloneProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/airless.js'), '--dags-folder', o.dags, 'standalone', '--port', '0', ...(o.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, AIRLESS_HOME: o.home, AIRLESS_API_TOKEN: o.token, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  o.children.push(child);
  let out = '';
  let err = '';
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /airless standalone: listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]!, stdout: () => out, stderr: () => err, exit });
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    void exit.then((code) => reject(new Error(`airless standalone exited with ${code} before listening:\n${out}\n${err}`)));
  });
}

/** Poll `probe` every 100 ms until it gives a value (not undefined); fails after `ms`, naming `what`. */
export async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
