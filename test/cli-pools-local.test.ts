import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// `airless dags test` and pools: --pool NAME=SLOTS limits one; a pool not given is unlimited, said on stderr.
const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const HOME = mkdtempSync(path.join(os.tmpdir(), 'airless-pools-home-'));
afterAll(() => rmSync(HOME, { recursive: true, force: true }));

function airless(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, AIRLESS_HOME: HOME, NO_COLOR: '1' };
  delete env['FORCE_COLOR'];
  delete env['AIRLESS_DAGS_FOLDER'];
  return new Promise((resolve) => {
    execFile(NODE, ['bin/airless.js', ...args, '--dags-folder', 'test/fixtures/pools', '--no-typecheck'], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

describe('dags test with pools', () => {
  it('--pool api_throttle=1 runs the pool one task at a time', async () => {
    // The DAG's last task fails when more than conf.max calls ran at once.
    const r = await airless(['dags', 'test', 'pools_local', '--json', '--pool', 'api_throttle=1', '--conf', '{"max": 1}']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'success' });
    expect(r.stderr).not.toContain('unlimited');
  });
  it('a pool not given is unlimited, and stderr says so naming the tasks', async () => {
    const r = await airless(['dags', 'test', 'pools_local', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("pool 'api_throttle' (pools_local.call_a, pools_local.call_b, pools_local.call_c, ...) is unlimited in this run; give --pool api_throttle=<slots> to run it with a limit\n");
  });
  it('a malformed --pool is a usage error', async () => {
    const r = await airless(['dags', 'test', 'pools_local', '--pool', 'api_throttle']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--pool: expected NAME=SLOTS, e.g. api_throttle=4, got 'api_throttle'");
  });
});
