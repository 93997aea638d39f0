import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, useStandalone, until } from './harness.ts';

// `airless dags set-run-state` and `airless tasks set-state` against a real standalone process whose
// tries run in their worker: a stop must reach the running try (its AbortSignal fires).
const suite = useStandalone({ dagsFolder: path.join(import.meta.dirname, 'marks-dags') });
const remote = (...args: string[]) => cli([...args, '--endpoint', suite.server().url]);

async function api(urlPath: string): Promise<any> {
  const r = await fetch(`${suite.server().url}${urlPath}`, { headers: { authorization: `Bearer ${suite.server().token}` } });
  return r.json();
}

const ti = (runId: string, taskId: string) => api(`/api/v2/dags/remote_stoppable/dagRuns/${runId}/taskInstances/${taskId}`);
const logText = async (runId: string) => ((await api(`/api/v2/dags/remote_stoppable/dagRuns/${runId}/taskInstances/long/logs/1`)).content as { event: string }[]).map((l) => l.event).join('\n');

async function triggerRunning(runId: string): Promise<void> {
  expect((await remote('dags', 'trigger', 'remote_stoppable', '--run-id', runId)).code).toBe(0);
  await until(() => ti(runId, 'long'), (x: { state: string | null }) => x.state === 'running');
  // Running is set before the try's worker runs its code: a stop before then finds no code to abort. The
  // code says it listens for the abort with a file in the server's home.
  await until(async () => existsSync(path.join(suite.server().home, `started-${runId}`)), (x) => x);
}

describe('dags set-run-state', () => {
  it('failed stops a running run: the running try sees its abort signal, the instance fails, the rest is skipped', async () => {
    await triggerRunning('stop_1');
    const refused = await remote('dags', 'set-run-state', 'remote_stoppable', 'stop_1', 'failed');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/Stop run stop_1 \(running\): mark it failed, abort its running tries: not a terminal.*--yes/);
    const r = await remote('dags', 'set-run-state', 'remote_stoppable', 'stop_1', 'failed', '--note', 'stopped: wrong input', '--yes', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dag_run_id: 'stop_1', state: 'failed', note: 'stopped: wrong input' });
    await until(() => logText('stop_1'), (t) => t.includes('aborted: the run was marked failed'));
    expect((await ti('stop_1', 'long')).state).toBe('failed');
    expect((await ti('stop_1', 'after')).state).toBe('skipped');
    const bad = await remote('dags', 'set-run-state', 'remote_stoppable', 'stop_1', 'running', '--yes');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/state 'running' is not one of success, failed, queued/);
  });
});

describe('tasks set-state', () => {
  it('--dry-run lists what would be marked; marking the running instance success aborts its try and its downstream runs', async () => {
    await triggerRunning('ti_1');
    const dry = await remote('tasks', 'set-state', 'remote_stoppable', 'ti_1', 'long', 'success', '--downstream', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^Would mark success \(dry run, nothing changed\):\ndag_run_id +task_id +map_index +state\n-+.*\nti_1 +long +running\nti_1 +after +no state\n$/);
    expect((await ti('ti_1', 'long')).state).toBe('running');
    const r = await remote('tasks', 'set-state', 'remote_stoppable', 'ti_1', 'long', 'success', '--note', 'checked by hand', '--yes', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).task_instances).toMatchObject([{ task_id: 'long', state: 'success', note: 'checked by hand' }]);
    await until(() => logText('ti_1'), (t) => t.includes('aborted: the task instance was marked success'));
    const run = await until(() => api('/api/v2/dags/remote_stoppable/dagRuns/ti_1'), (x: { state: string }) => x.state === 'success' || x.state === 'failed');
    expect(run.state).toBe('success');
    expect((await ti('ti_1', 'after')).state).toBe('success');
    expect((await ti('ti_1', 'long')).state).toBe('success');
  });
});
