import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, vi } from 'vitest';
import { runCli } from '../../lib/cli/program.ts';
import { Terminal } from '../../lib/cli/terminal.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** The Node 22 of the `node` devDependency, as `npm run` uses it. */
const NODE = path.join(ROOT, 'node_modules/.bin/node');
export const DAGS = path.join(ROOT, 'test/cli-remote/dags');

/** A real `airless standalone` process on a free port, with its own AIRLESS_HOME and the fixture DAGs. */
export interface Standalone {
  url: string;
  token: string;
  home: string;
  process: ChildProcess;
  /** Everything it printed. */
  output: () => string;
  /** Stop it (SIGINT, as Ctrl-C) and remove its home. */
  stop: () => Promise<void>;
}

export async function startStandalone(dagsFolder = DAGS): Promise<Standalone> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'airless-cli-remote-'));
  const env: NodeJS.ProcessEnv = { ...process.env, AIRLESS_HOME: home, NO_COLOR: '1', AIRLESS_NO_REEXEC: '1' };
  delete env['AIRLESS_API_TOKEN'];
  delete env['FORCE_COLOR'];
  const child = spawn(NODE, ['bin/airless.js', 'standalone', '--port', '0', '--dags-folder', dagsFolder], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        child.stdout.off('data', onData);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the standalone exited (${code}) before listening:\n${output}`)));
  });
  const token = readFileSync(path.join(home, 'api-token'), 'utf8').trim();
  return {
    url,
    token,
    home,
    process: child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await exited;
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** A stream that keeps what is written to it; `tty` makes it look like a terminal. */
function capture(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  Object.assign(stream, { isTTY: tty, columns: 120, rows: 40 });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in this process on `argv`, capturing stdout and stderr (stdout a terminal when `tty`). */
export async function cli(argv: readonly string[], options: { tty?: boolean } = {}): Promise<CliResult> {
  const out = capture(options.tty === true);
  const err = capture(false);
  const code = await runCli(argv, new Terminal(out.stream, err.stream));
  await new Promise((resolve) => setImmediate(resolve));
  return { code, stdout: out.text(), stderr: err.text() };
}

/**
 * The suite's server: a standalone started before the file's tests and stopped after them, and an empty
 * AIRLESS_HOME for the CLI (so nothing is found unless pointed at). Each test starts with
 * `AIRLESS_API_TOKEN` set to the server's token (`withToken`, the default) or unset, and without colours.
 */
export function useStandalone(options: { withToken?: boolean; env?: Record<string, string>; dagsFolder?: string } = {}): { server: () => Standalone; emptyHome: () => string } {
  let server: Standalone | undefined;
  let emptyHome: string | undefined;
  beforeAll(async () => {
    server = await startStandalone(options.dagsFolder);
    emptyHome = mkdtempSync(path.join(os.tmpdir(), 'airless-cli-empty-'));
  });
  afterAll(async () => {
    await server?.stop();
    if (emptyHome !== undefined) rmSync(emptyHome, { recursive: true, force: true });
  });
  beforeEach(() => {
    vi.stubEnv('AIRLESS_HOME', emptyHome);
    vi.stubEnv('AIRLESS_API_TOKEN', options.withToken === false ? undefined : server!.token);
    for (const [k, v] of Object.entries(options.env ?? {})) vi.stubEnv(k, v);
    vi.stubEnv('NO_COLOR', '1');
    vi.stubEnv('FORCE_COLOR', undefined);
  });
  return { server: () => server!, emptyHome: () => emptyHome! };
}

/** Ask again until `check` holds on what `read` gives (the standalone works in its own process): 30 s, every 50 ms. */
export async function until<T>(read: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  let last: T;
  for (let i = 0; i < 600; i++) {
    last = await read();
    if (check(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened; last seen: ${JSON.stringify(last!)}`);
}
