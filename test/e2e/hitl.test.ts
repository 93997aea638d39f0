// Human-in-the-loop tasks in the deployed shape: the `hitl` machine (Prepare → a
// lambda:invoke.waitForTaskToken wait → Complete, or TimedOut) on the local Step Functions, the real
// handlers on DynamoDB Local, and the answer through the real API function behind a signed Function URL:
// its PATCH stores the answer and sends the wait's token back (SendTaskSuccess through the real client-sfn),
// and the machine goes on. The execution waits holding nothing; a second answer is refused before any
// SendTaskSuccess; a timeout takes the default, or fails the task without one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalFunctionUrl } from '../../e2e/function-url.ts';
import type { SkippingClock } from '../../e2e/clock.ts';
import { unwrap, type ApiClient } from '../../lib/api/client.ts';
import { startDeployedApi } from './deployed-api.ts';
import { useHarness } from './use-harness.ts';

const h = useHarness();

const REGION = 'eu-west-1';
const CALLER = { accessKeyId: 'AKIDHITLE2E', secretAccessKey: 'hitl-e2e-secret' };

describe('human-in-the-loop tasks on the local cloud, answered through the deployed API', () => {
  let url: LocalFunctionUrl;
  let api: ApiClient;

  beforeAll(async () => {
    ({ url, api } = await startDeployedApi(CALLER, REGION));
  });
  afterAll(async () => {
    await url?.close();
  });

  const ti = (dagId: string, runId: string, taskId: string) => ({ dag_id: dagId, dag_run_id: runId, task_id: taskId, map_index: -1 });
  const hitlPath = '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails' as const;

  /** Trigger a run of `dagId` and wait until its approval's execution waits for its token (the clock held: nothing times out meanwhile). */
  async function waitingRun(dagId: string, runId: string): Promise<{ token: string; executionArn: string; release: () => void }> {
    const release = h().clock.hold();
    const waiting = h().sfn.nextTaskWaiting('WaitForAnswer');
    await h().trigger({ dagId, runId });
    const w = await waiting;
    return { ...w, release };
  }

  const successCalls = (token: string) => h().sfn.taskTokenCalls.filter((c) => c.op === 'SendTaskSuccess' && c.taskToken === token);

  it('approved: the request is listed as pending, the execution waits holding no Lambda, the answer sends its token back once and the run goes on', async () => {
    const { token, executionArn, release } = await waitingRun('e2e_hitl_approval', 'approved');
    try {
      // Nothing runs while the person thinks: the clock's only holder is this test (no execution step, no invocation).
      expect((h().clock as SkippingClock).inFlight).toBe(1);
      expect(h().sfn.tasksWaiting()).toStrictEqual([{ token, executionArn, stateName: 'WaitForAnswer' }]);
      const instance = await h().store.getTaskInstance({ dagId: 'e2e_hitl_approval', runId: 'approved', taskId: 'approve', mapIndex: -1 });
      expect([instance?.state, instance?.tryNumber]).toStrictEqual(['deferred', 1]);
      // The wait's token is on the request (the API answers through it).
      expect((await h().store.getHitlRequest({ dagId: 'e2e_hitl_approval', runId: 'approved', taskId: 'approve', mapIndex: -1 }))?.taskToken).toBe(token);
      const pending = unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/hitlDetails', { params: { path: { dag_id: '~', dag_run_id: '~' }, query: { state: 'pending' } } }));
      const mine = pending.hitl_details.find((d) => d.dag_id === 'e2e_hitl_approval' && d.dag_run_id === 'approved');
      expect(mine).toMatchObject({ task_id: 'approve', try_number: 1, subject: 'Ship run approved?', body: 'The calibration passed QA.', options: ['Approve', 'Reject'], response_received: false });
      const answered = unwrap(await api.PATCH(hitlPath, { params: { path: ti('e2e_hitl_approval', 'approved', 'approve') }, body: { chosen_options: ['Approve'] } }));
      expect(answered).toMatchObject({ response_received: true, chosen_options: ['Approve'], timed_out: false });
      expect(successCalls(token).map((c) => c.refused)).toStrictEqual([null]);
    } finally {
      release();
    }
    await h().settle();
    expect((await h().store.getRun({ dagId: 'e2e_hitl_approval', runId: 'approved' }))?.state).toBe('success');
    const ship = await h().store.getTaskInstance({ dagId: 'e2e_hitl_approval', runId: 'approved', taskId: 'ship', mapIndex: -1 });
    expect(ship?.state).toBe('success');
    const approve = await h().store.getTaskInstance({ dagId: 'e2e_hitl_approval', runId: 'approved', taskId: 'approve', mapIndex: -1 });
    expect([approve?.state, approve?.tryNumber]).toStrictEqual(['success', 1]);
    // One execution, through the wait to Complete.
    expect(h().sfn.executions.get(executionArn)?.path).toStrictEqual(['Prepare', 'CheckPrepared', 'WaitForAnswer', 'Complete']);
    expect(h().sfn.executions.get(executionArn)?.status).toBe('SUCCEEDED');
    // The answer is the approval's result.
    const xcom = await h().store.getXCom({ dagId: 'e2e_hitl_approval', runId: 'approved' }, 'approve', -1, 'return_value');
    expect(xcom?.value).toMatchObject({ chosenOptions: ['Approve'], timedOut: false });
  });

  it('rejected: the approval succeeds and the task after it is skipped', async () => {
    const { release } = await waitingRun('e2e_hitl_approval', 'rejected');
    try {
      unwrap(await api.PATCH(hitlPath, { params: { path: ti('e2e_hitl_approval', 'rejected', 'approve') }, body: { chosen_options: ['Reject'] } }));
    } finally {
      release();
    }
    await h().settle();
    const state = async (taskId: string) => (await h().store.getTaskInstance({ dagId: 'e2e_hitl_approval', runId: 'rejected', taskId, mapIndex: -1 }))?.state;
    expect([await state('approve'), await state('ship')]).toStrictEqual(['success', 'skipped']);
  });

  it('answered twice: the second answer is refused (409, naming who answered) before any SendTaskSuccess; a bad option is a 400 naming the field', async () => {
    const { token, release } = await waitingRun('e2e_hitl_approval', 'twice');
    try {
      const bad = await api.PATCH(hitlPath, { params: { path: ti('e2e_hitl_approval', 'twice', 'approve') }, body: { chosen_options: ['Maybe'] } });
      expect(bad.response.status).toBe(400);
      expect(bad.error).toMatchObject({ field: 'body.chosen_options' });
      expect(successCalls(token)).toStrictEqual([]);
      unwrap(await api.PATCH(hitlPath, { params: { path: ti('e2e_hitl_approval', 'twice', 'approve') }, body: { chosen_options: ['Approve'] } }));
      const second = await api.PATCH(hitlPath, { params: { path: ti('e2e_hitl_approval', 'twice', 'approve') }, body: { chosen_options: ['Reject'] } });
      expect(second.response.status).toBe(409);
      expect(JSON.stringify(second.error)).toContain('answered by');
      expect(successCalls(token).map((c) => c.refused)).toStrictEqual([null]);
    } finally {
      release();
    }
    await h().settle();
    expect(successCalls(token)).toHaveLength(1);
    expect((await h().store.getTaskInstance({ dagId: 'e2e_hitl_approval', runId: 'twice', taskId: 'ship', mapIndex: -1 }))?.state).toBe('success');
  });

  it('timed out with a default: the wait times out on the clock (States.Timeout → TimedOut), the default is taken and the run goes on', async () => {
    const before = h().clock.now();
    const run = await h().run({ dagId: 'e2e_hitl_approval', runId: 'timed_out' });
    expect(run.state).toBe('success');
    expect(h().clock.now() - before).toBeGreaterThanOrEqual(3_600_000);
    const execution = h().sfn.executionsOf(h().naming.lifecycle('hitl')).find((e) => e.input.includes('"timed_out"'));
    expect(execution?.path).toStrictEqual(['Prepare', 'CheckPrepared', 'WaitForAnswer', 'TimedOut']);
    const detail = unwrap(await api.GET(hitlPath, { params: { path: ti('e2e_hitl_approval', 'timed_out', 'approve') } }));
    expect(detail).toMatchObject({ response_received: true, chosen_options: ['Approve'], timed_out: true, responded_by_user: null });
    expect((await h().store.getTaskInstance({ dagId: 'e2e_hitl_approval', runId: 'timed_out', taskId: 'ship', mapIndex: -1 }))?.state).toBe('success');
  });

  it('timed out without a default: the approval fails with a HitlTimeoutError and the run fails', async () => {
    const run = await h().run({ dagId: 'e2e_hitl_strict', runId: 'strict' });
    expect(run.state).toBe('failed');
    const approve = await h().store.getTaskInstance({ dagId: 'e2e_hitl_strict', runId: 'strict', taskId: 'approve', mapIndex: -1 });
    expect(approve?.state).toBe('failed');
    expect(approve?.error?.name).toBe('HitlTimeoutError');
    expect((await h().store.getTaskInstance({ dagId: 'e2e_hitl_strict', runId: 'strict', taskId: 'after', mapIndex: -1 }))?.state).toBe('upstream_failed');
  });

  it('a form: its values (defaults filled) reach the task after it', async () => {
    const { release } = await waitingRun('e2e_hitl_form', 'form');
    try {
      const bad = await api.PATCH(hitlPath, { params: { path: ti('e2e_hitl_form', 'form', 'details') }, body: { chosen_options: ['OK'], params_input: { channels: 0 } } });
      expect(bad.response.status).toBe(400);
      expect(bad.error).toMatchObject({ field: 'body.params_input.channels' });
      unwrap(await api.PATCH(hitlPath, { params: { path: ti('e2e_hitl_form', 'form', 'details') }, body: { chosen_options: ['OK'], params_input: { channels: 128 } } }));
    } finally {
      release();
    }
    await h().settle();
    const xcom = await h().store.getXCom({ dagId: 'e2e_hitl_form', runId: 'form' }, 'use', -1, 'return_value');
    expect(xcom?.value).toBe('imaging 128 channels');
  });

  it('nothing went wrong in the scheduler along the way', () => {
    expect(h().errors).toStrictEqual([]);
  });
});
