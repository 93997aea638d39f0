// The API's fields for setup/teardown, depends_on_past and max_consecutive_failed_dag_runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, dag, task } from '../../lib/index.ts';
import { harness, type Harness } from './harness.ts';

// The teardown counts for the run's state (onFailureFailDagrun) and fails: every run fails.
const pausing = dag({ dagId: 'api_pausing', maxConsecutiveFailedDagRuns: 2 }, () => {
  const create = task('create', () => 1);
  const work = task('work', () => 1);
  const remove = task('remove', () => {
    throw new Error('remove fails');
  });
  chain(create, work, remove.asTeardown({ setups: create, onFailureFailDagrun: true }));
});

const past = dag({ dagId: 'api_past' }, () => {
  const a = task({ taskId: 'a', waitForDownstream: true }, () => 1);
  task({ taskId: 'b', dependsOnPast: true }, () => 1).after(a);
});

let h: Harness;
beforeAll(async () => {
  h = await harness([pausing, past]);
});
afterAll(async () => {
  await h.app.close();
});

describe('setup/teardown and depends_on_past task fields', () => {
  it('say which task is a setup, a teardown (and whether it fails the run), and which depends on its past', async () => {
    const r = await h.call('GET', '/api/v2/dags/api_pausing/tasks');
    expect(r.status).toBe(200);
    const fields = ['task_id', 'trigger_rule', 'is_setup', 'is_teardown', 'on_failure_fail_dagrun', 'depends_on_past', 'wait_for_downstream'] as const;
    expect(r.json.tasks.map((t: Record<string, unknown>) => fields.map((f) => t[f]))).toStrictEqual([
      ['create', 'all_success', true, false, false, false, false],
      ['work', 'all_success', false, false, false, false, false],
      ['remove', 'all_done_setup_success', false, true, true, false, false],
    ]);
    const p = await h.call('GET', '/api/v2/dags/api_past/tasks');
    expect(p.json.tasks.map((t: Record<string, unknown>) => fields.map((f) => t[f]))).toStrictEqual([
      ['a', 'all_success', false, false, false, true, true],
      ['b', 'all_success', false, false, false, true, false],
    ]);
  });
});

describe('max_consecutive_failed_dag_runs in the DAG fields', () => {
  it('shows the limit, and the reason once the DAG is auto-paused; PATCH is_paused false clears it', async () => {
    expect((await h.call('GET', '/api/v2/dags/api_pausing')).json).toMatchObject({ max_consecutive_failed_dag_runs: 2, is_paused: false, paused_reason: null });
    for (const [id, date] of [
      ['f1', '2026-01-01T00:00:00Z'],
      ['f2', '2026-01-02T00:00:00Z'],
    ] as const) {
      expect((await h.call('POST', '/api/v2/dags/api_pausing/dagRuns', { dag_run_id: id, logical_date: date })).status).toBe(200);
      await h.idle();
      expect((await h.call('GET', `/api/v2/dags/api_pausing/dagRuns/${id}`)).json.state).toBe('failed');
    }
    expect((await h.call('GET', '/api/v2/dags/api_pausing')).json).toMatchObject({ is_paused: true, paused_reason: 'auto-paused after 2 consecutive failed runs' });
    const listed = (await h.call('GET', '/api/v2/dags?paused=true')).json.dags.find((d: { dag_id: string }) => d.dag_id === 'api_pausing');
    expect(listed).toMatchObject({ paused_reason: 'auto-paused after 2 consecutive failed runs' });
    expect((await h.call('PATCH', '/api/v2/dags/api_pausing', { is_paused: false })).json).toMatchObject({ is_paused: false, paused_reason: null });
    // Paused again by a user: no reason.
    expect((await h.call('PATCH', '/api/v2/dags/api_pausing', { is_paused: true })).json).toMatchObject({ is_paused: true, paused_reason: null });
  });
});
