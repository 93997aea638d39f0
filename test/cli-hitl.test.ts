import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// `airless dags test` of DAGs with human-in-the-loop tasks, as users run it (bin/airless.js, Node 22): the
// request printed with how to answer, `--respond` answering it, `--skip-waits` taking a timeout's default.
const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const HOME = mkdtempSync(path.join(os.tmpdir(), 'airless-cli-hitl-'));
afterAll(() => rmSync(HOME, { recursive: true, force: true }));

function airless(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, AIRLESS_HOME: HOME, NO_COLOR: '1', AIRLESS_API_USER: 'tester' };
  delete env['FORCE_COLOR'];
  delete env['AIRLESS_DAGS_FOLDER'];
  return new Promise((resolve) => {
    execFile(NODE, ['bin/airless.js', ...args], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

const states = (json: string) => Object.fromEntries((JSON.parse(json) as { tasks: { taskId: string; state: string }[] }).tasks.map((t) => [t.taskId, t.state]));

describe('airless dags test with human-in-the-loop tasks', () => {
  it('--respond answers the approval and --respond-input fills the form; the answers reach the downstream task', async () => {
    const r = await airless(['dags', 'test', 'release_approval', '--dags-folder', 'dags', '--json', '--respond', 'approve_release=Approve', '--respond-input', 'release_notes.title="Spring release"', '--respond-input', 'release_notes.embargoDays=7']);
    expect(r.stderr).toContain('human-in-the-loop: approve_release answered Approve as tester (--respond)');
    expect(r.code).toBe(0);
    expect(states(r.stdout)).toStrictEqual({ build_release: 'success', approve_release: 'success', release_notes: 'success', publish: 'success' });
  });

  it('--skip-waits: nobody answers, the timeout takes the default (Reject) at once and publishing is skipped', async () => {
    const r = await airless(['dags', 'test', 'release_approval', '--dags-folder', 'dags', '--json', '--skip-waits']);
    expect(r.stderr).toContain('human-in-the-loop: approve_release asks "Publish release dr-2026-04?"');
    expect(r.stderr).toContain('answer with: --respond approve_release=Approve');
    expect(r.stderr).toMatch(/times out at \S+, then takes Reject/);
    expect(r.code).toBe(0);
    expect(states(r.stdout)).toStrictEqual({ build_release: 'success', approve_release: 'success', release_notes: 'skipped', publish: 'skipped' });
  });

  it('a request nothing can answer (no --respond, no terminal, no timeout) fails the run, saying how to answer', async () => {
    const r = await airless(['dags', 'test', 'cli_wait_forever', '--dags-folder', 'test/fixtures/cli-hitl', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("'sign_off' waits for an answer and nothing can give it here (no --respond sign_off=OPTION, no terminal, no timeout)");
  });

  it('a refused answer fails the run with why', async () => {
    const r = await airless(['dags', 'test', 'cli_wait_forever', '--dags-folder', 'test/fixtures/cli-hitl', '--json', '--respond', 'sign_off=Maybe']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the answer to 'sign_off' was refused: HitlResponseError: task 'sign_off'`);
  });
});
