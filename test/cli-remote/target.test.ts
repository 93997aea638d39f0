import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { cli, DAGS, useStandalone } from './harness.ts';

// How the CLI finds its server: the running standalone of AIRLESS_HOME (standalone.json + api-token),
// --endpoint with AIRLESS_API_TOKEN, or none (the listings then read the DAGs folder).
const ROOT = path.resolve(import.meta.dirname, '../..');
const suite = useStandalone({ withToken: false, env: { AIRLESS_DAGS_FOLDER: DAGS } });

const HINT = 'start one with `npx airless standalone` (or name one with --endpoint URL or --stack NAME)';

describe('the running standalone of AIRLESS_HOME', () => {
  it('is found through standalone.json, with the token of <home>/api-token', async () => {
    vi.stubEnv('AIRLESS_HOME', suite.server().home);
    const trigger = await cli(['dags', 'trigger', 'remote_greet', '--run-id', 'found', '--wait']);
    expect(trigger.code).toBe(0);
    expect(trigger.stdout).toContain(`following it on the standalone at ${suite.server().url}`);
    const list = await cli(['dags', 'list', '--json']);
    expect(list.code).toBe(0);
    // From the server: paused is known, and nothing says the answer is the folder's.
    expect(JSON.parse(list.stdout)).toContainEqual({ dagId: 'remote_greet', file: 'greet.ts', schedule: null, tags: ['fixture', 'remote'], tasks: 2, paused: false });
    expect(list.stderr).not.toContain('no airless server');
  });

  it('is found by the CLI as users run it (bin/airless.js in its own process)', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, AIRLESS_HOME: suite.server().home, NO_COLOR: '1' };
    delete env['AIRLESS_API_TOKEN'];
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(path.join(ROOT, 'node_modules/.bin/node'), ['bin/airless.js', 'dags', 'list-runs', 'remote_greet', '--json'], { cwd: ROOT, env, timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
      );
    });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { dag_run_id: string }[]).map((x) => x.dag_run_id)).toContain('found');
  });

  it('AIRLESS_API_TOKEN wins over <home>/api-token: a wrong one is a 401, explained (exit 2)', async () => {
    vi.stubEnv('AIRLESS_HOME', suite.server().home);
    vi.stubEnv('AIRLESS_API_TOKEN', 'not-the-token');
    const r = await cli(['dags', 'list-runs', 'remote_greet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .+ \(the API token was refused by the standalone at http:\S+; the CLI sends \$AIRLESS_API_TOKEN, else the token in <AIRLESS_HOME>\/api-token/);
    expect(r.stdout).toBe('');
  });
});

describe('--endpoint', () => {
  it('with AIRLESS_API_TOKEN talks to that server', async () => {
    vi.stubEnv('AIRLESS_API_TOKEN', suite.server().token);
    const r = await cli(['dags', 'list-runs', 'remote_greet', '--json', '--endpoint', `${suite.server().url}/api/v2/`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toBeInstanceOf(Array);
  });

  it('without a token: 401 (exit 2); a listing does not fall back to the folder', async () => {
    const r = await cli(['dags', 'list', '--endpoint', suite.server().url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the API token was refused');
  });

  it('that does not answer: exit 2 with the hint', async () => {
    const port = await closedPort();
    const r = await cli(['dags', 'trigger', 'remote_greet', '--endpoint', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: no airless server to talk to: --endpoint http://127.0.0.1:${port} does not answer (ECONNREFUSED); ${HINT}\n`);
  });

  it('not a URL, or with --stack: usage errors', async () => {
    expect((await cli(['dags', 'list', '--endpoint', 'nowhere'])).stderr).toBe("error: --endpoint must be a URL such as http://127.0.0.1:8080, got 'nowhere'\n");
    const both = await cli(['dags', 'list', '--endpoint', suite.server().url, '--stack', 'prod']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("option '--endpoint <url>' cannot be used with option '--stack <name>'");
  });
});

describe('--stack', () => {
  it('a stack that CloudFormation cannot describe is a usage error naming the stack (exit 2)', async () => {
    const port = await closedPort();
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    vi.stubEnv('AWS_ENDPOINT_URL', `http://127.0.0.1:${port}`);
    vi.stubEnv('AWS_MAX_ATTEMPTS', '1');
    const r = await cli(['dags', 'list', '--stack', 'prod']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: StackEndpointError: stack 'prod': DescribeStacks failed: .*ECONNREFUSED/);
  });
});

describe('no server', () => {
  it('a command that needs one: exit 2, saying what was tried and how to start one', async () => {
    for (const args of [['dags', 'trigger', 'remote_greet'], ['dags', 'list-runs', 'remote_greet'], ['tasks', 'states-for-dag-run', 'remote_greet', 'r'], ['dags', 'pause', 'remote_greet'], ['backfill', 'create', '--dag-id', 'remote_daily', '--from-date', '2026-01-01', '--to-date', '2026-01-02']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toBe(`error: no airless server to talk to: ${path.join(suite.emptyHome(), 'standalone.json')} does not exist (no standalone has started with this AIRLESS_HOME); ${HINT}\n`);
    }
  });

  it('a standalone.json whose process is gone is named as such', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'airless-cli-stale-'));
    try {
      const dead = spawnSync(process.execPath, ['-e', '']).pid;
      writeFileSync(path.join(home, 'standalone.json'), JSON.stringify({ url: 'http://127.0.0.1:9', pid: dead, startedAt: new Date().toISOString() }));
      vi.stubEnv('AIRLESS_HOME', home);
      const r = await cli(['dags', 'list-runs', 'remote_greet']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`standalone.json names process ${dead} (http://127.0.0.1:9), which is not running; ${HINT}`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('the listings answer from the DAGs folder, in the same shapes, and say so on stderr', async () => {
    const note = `no airless server found (${path.join(suite.emptyHome(), 'standalone.json')} does not exist (no standalone has started with this AIRLESS_HOME)); answering from the DAGs folder\n`;
    const list = await cli(['dags', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toStrictEqual([
      { dagId: 'remote_daily', file: 'daily.ts', schedule: '0 0 * * *', tags: [], tasks: 1, paused: null },
      { dagId: 'remote_flaky', file: 'flaky.ts', schedule: null, tags: ['fixture'], tasks: 2, paused: null },
      { dagId: 'remote_greet', file: 'greet.ts', schedule: null, tags: ['fixture', 'remote'], tasks: 2, paused: null },
      { dagId: 'remote_parent', file: 'parent.ts', schedule: null, tags: [], tasks: 1, paused: null },
      { dagId: 'remote_scratch', file: 'scratch.ts', schedule: null, tags: [], tasks: 1, paused: null },
    ]);
    expect(list.stderr.startsWith(note)).toBe(true);
    const table = await cli(['dags', 'list']);
    expect(table.stdout).toMatch(/\nremote_greet +greet\.ts +None +fixture, remote +2 +-\n/);

    const errors = await cli(['dags', 'list-import-errors', '--json']);
    expect(errors.code).toBe(0);
    expect((JSON.parse(errors.stdout) as { file: string }[]).map((e) => e.file)).toStrictEqual(['broken.ts']);
    expect(errors.stderr).toBe(note);

    const show = await cli(['dags', 'show', 'remote_flaky']);
    expect(show.stdout).toBe(['flowchart LR', '  t_solve["solve"]', '  t_report["report"]', '  t_solve --> t_report', ''].join('\n'));

    // The same Task objects as the API's.
    vi.stubEnv('AIRLESS_API_TOKEN', suite.server().token);
    const fromServer = await cli(['tasks', 'list', 'remote_greet', '--json', '--endpoint', suite.server().url]);
    vi.stubEnv('AIRLESS_API_TOKEN', undefined);
    const fromFolder = await cli(['tasks', 'list', 'remote_greet', '--json']);
    expect(fromFolder.code).toBe(0);
    expect(fromFolder.stdout).toBe(fromServer.stdout);
    expect(fromFolder.stderr).toBe(note);
    const unknown = await cli(['tasks', 'list', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: no DAG 'nope' in");
  });
});

/** A port nothing listens on: one the OS gave and took back. */
async function closedPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
