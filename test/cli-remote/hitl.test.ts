import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, useStandalone, until } from './harness.ts';

// `airless tasks pending` and `airless tasks respond` against a real standalone process (SQLite store): the
// answer, given as the server's token user (AIRLESS_API_USER), resumes the deferred task.
process.env.AIRLESS_API_USER = 'ana';
const suite = useStandalone({ dagsFolder: path.join(import.meta.dirname, 'hitl-dags') });
const remote = (...args: string[]) => cli([...args, '--endpoint', suite.server().url]);

async function api(urlPath: string): Promise<any> {
  const r = await fetch(`${suite.server().url}${urlPath}`, { headers: { authorization: `Bearer ${suite.server().token}` } });
  return r.json();
}

const state = async (runId: string, taskId: string) => ((await api(`/api/v2/dags/remote_release/dagRuns/${runId}/taskInstances/${taskId}`)) as { state: string | null }).state;

describe('tasks pending / tasks respond', () => {
  it('lists the waiting request, refuses a wrong option, answers an approval then a form, and the run succeeds', async () => {
    expect((await remote('dags', 'trigger', 'remote_release', '--run-id', 'rel_1')).code).toBe(0);
    await until(() => state('rel_1', 'approve'), (s) => s === 'deferred');

    const pending = await remote('tasks', 'pending');
    expect(pending.code).toBe(0);
    expect(pending.stdout).toMatch(/remote_release +rel_1 +approve +Ship rel_1\? +Approve \| Reject +ana/);
    expect(pending.stdout).toContain('answer with: airless tasks respond remote_release rel_1 approve --option "Approve"');

    const wrong = await remote('tasks', 'respond', 'remote_release', 'rel_1', 'approve', '--option', 'Maybe');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain(`"Maybe" is not an option (options: 'Approve', 'Reject')`);

    const yes = await remote('tasks', 'respond', 'remote_release', 'rel_1', 'approve', '--option', 'Approve');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toBe('answered "Ship rel_1?" (approve of run rel_1 of remote_release): Approve as ana\n');

    const twice = await remote('tasks', 'respond', 'remote_release', 'rel_1', 'approve', '--option', 'Reject');
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toMatch(/was answered by ana at /);

    await until(() => state('rel_1', 'notes'), (s) => s === 'deferred');
    const form = await remote('tasks', 'respond', 'remote_release', 'rel_1', 'notes', '--input', 'version=v1.2', '--json');
    expect(form.code).toBe(0);
    expect(JSON.parse(form.stdout)).toMatchObject({ chosen_options: ['OK'], params_input: { version: 'v1.2', replicas: 2 }, responded_by_user: { id: 'ana' } });

    const run = await until(() => api('/api/v2/dags/remote_release/dagRuns/rel_1'), (r: { state: string }) => r.state === 'success' || r.state === 'failed');
    expect(run.state).toBe('success');
    expect((await api('/api/v2/dags/remote_release/dagRuns/rel_1/taskInstances/ship/xcomEntries/return_value')).value).toBe('Approve by ana: {"version":"v1.2","replicas":2}');
    expect((await remote('tasks', 'pending', '--json')).stdout).toBe('[]\n');
  });
});
