/**
 * What the browser tests share: a real standalone server (`node bin/airless.js standalone --port 0`, a fresh
 * AIRLESS_HOME, the DAGs folder given), Debian's Chromium driven by playwright-core, and screenshots.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = path.join(import.meta.dirname, 'screenshots');

/** The flags Chromium needs here: headless, no sandbox (containers), nothing that phones home. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * A project of its own in a new temporary folder (`prefix`): ES modules, this checkout linked as its
 * `airless` package, and a `dags/` folder holding `files` (name → source). Returns the folder and its DAGs folder.
 */
export function tempProject(prefix: string, files: Record<string, string>): { dir: string; dags: string } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const dags = path.join(dir, 'dags');
  mkdirSync(dags);
  writeFileSync(path.join(dir, 'package.json'), '{ "private": true, "type": "module" }\n');
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(REPO, path.join(dir, 'node_modules', 'airless'));
  for (const [name, source] of Object.entries(files)) writeFileSync(path.join(dags, name), source);
  return { dir, dags };
}

export interface Standalone {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** The printed link, with `?token=`. */
  link: string;
  token: string;
  home: string;
  /** Everything the server printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `airless standalone --port 0` on a fresh home and waits for the link it prints. */
export async function startStandalone(options: { dagsFolder?: string } = {}): Promise<Standalone> {
  const home = mkdtempSync(path.join(tmpdir(), 'airless-browser-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AIRLESS_HOME: home,
    AIRLESS_DAGS_FOLDER: options.dagsFolder ?? path.join(REPO, 'dags'),
    NO_COLOR: '1',
  };
  delete env['AIRLESS_API_TOKEN']; // the server makes its own token and prints it
  const child = spawn(process.execPath, [path.join(REPO, 'bin/airless.js'), 'standalone', '--port', '0'], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const link = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /(https?:\/\/[^\s'"]+[?&]token=[^\s'"&]+)/.exec(out);
      if (m?.[1] !== undefined) resolve(m[1]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code, signal) => reject(new Error(`airless standalone exited (${code ?? signal}) before printing its ?token= link:\n${out}`)));
    child.on('error', reject);
  });
  const parsed = new URL(link);
  const token = parsed.searchParams.get('token') ?? '';
  return {
    url: parsed.origin,
    link,
    token,
    home,
    output: () => out,
    stop: () => stopChild(child).finally(() => rmSync(home, { recursive: true, force: true })),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Launches Debian's Chromium with a fresh profile. Fails (never skips) when it is not installed. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: the browser tests need it. Install it with \`apt-get install -y chromium\`.`);
  }
  const profile = mkdtempSync(path.join(tmpdir(), 'airless-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves numbered screenshots of one test file under test/browser/screenshots/. */
export function screenshots(prefix: string): (page: Page, step: string) => Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const f of readdirSync(SCREENSHOTS)) if (f.startsWith(`${prefix}-`)) rmSync(path.join(SCREENSHOTS, f)); // a previous run's
  let n = 0;
  return async (page, step) => {
    n += 1;
    await page.screenshot({ path: path.join(SCREENSHOTS, `${prefix}-${String(n).padStart(2, '0')}-${step}.png`), fullPage: true });
  };
}

/** A direct API call with the server's token (what the UI does, without the UI). */
export async function api(server: Standalone, method: string, route: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}${route}`, {
    method,
    headers: { Authorization: `Bearer ${server.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text) };
}

/**
 * Polls `probe` until it gives a value (the server works in its own process); past `ms`, fails naming
 * `what`, with the server's output.
 */
export async function until<T>(server: Standalone, what: string, probe: () => Promise<T | undefined>, options: { ms?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.ms ?? 60_000);
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; server output:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}
