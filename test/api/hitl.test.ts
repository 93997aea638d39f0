// The hitlDetails routes (Airflow 3.1's shapes) on a fake-clock LocalRunner: list, get, answer; 400, 403,
// 404 and 409 naming what is wrong; the caller is the token's user.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../../lib/api/app.ts';
import type { ApiBackend } from '../../lib/api/backend.ts';
import { approval, dag, hitlForm, task, type HitlAnswer } from '../../lib/index.ts';
import { fakeRunner } from '../helpers.ts';

const TOKEN = 'hitl-token-0123456789';
const release = dag({ dagId: 'api_release' }, () => {
  const ok = approval('approve', { subject: 'Ship {{ run_id }}?', body: '**Notes**', assignedTo: ['ana'] });
  task('ship', (_ctx, a: HitlAnswer) => a.respondedBy)(ok);
});
const form = dag({ dagId: 'api_form' }, () => {
  const f = hitlForm('details', { subject: 'Details', params: { replicas: { type: 'integer', minimum: 1, default: 2 } } });
  task('use', (_ctx, a: HitlAnswer) => a.paramsInput)(f);
});

const runner = fakeRunner([release, form]);
const backend: ApiBackend = { store: runner.store, dags: { getDag: (id) => [release, form].find((d) => d.dagId === id), dagIds: ['api_form', 'api_release'] } as ApiBackend['dags'], withScheduler: (fn) => fn(runner.driven), now: () => new Date(Date.UTC(2026, 0, 1)) };
let ana: FastifyInstance;
let eve: FastifyInstance;
let nobody: FastifyInstance;

async function call(app: FastifyInstance, method: 'GET' | 'PATCH' | 'POST', url: string, body?: object): Promise<{ status: number; json: any }> {
  const r = await app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...(body ? { payload: body } : {}) });
  return { status: r.statusCode, json: r.body === '' ? null : JSON.parse(r.body) };
}

beforeAll(async () => {
  ana = await createApiApp({ backend, auth: { mode: 'token', token: TOKEN, user: 'ana' } });
  eve = await createApiApp({ backend, auth: { mode: 'token', token: TOKEN, user: 'eve' } });
  nobody = await createApiApp({ backend, auth: { mode: 'token', token: TOKEN } });
  for (const runId of ['r1', 'r2']) expect((await call(ana, 'POST', '/api/v2/dags/api_release/dagRuns', { dag_run_id: runId })).status).toBe(200);
  expect((await call(ana, 'POST', '/api/v2/dags/api_form/dagRuns', { dag_run_id: 'f1' })).status).toBe(200);
  await runner.idle();
});
afterAll(async () => {
  await Promise.all([ana.close(), eve.close(), nobody.close()]);
  runner.close();
});

const T0 = new Date(Date.UTC(2026, 0, 1)).toISOString();
const url = (dagId: string, runId: string, tail = '') => `/api/v2/dags/${dagId}/dagRuns/${runId}${tail}`;

describe('hitlDetails', () => {
  it('lists pending requests across DAGs and runs (~), newest first, in Airflow 3.1 shape', async () => {
    const all = await call(ana, 'GET', '/api/v2/dags/~/dagRuns/~/hitlDetails?state=pending');
    expect(all.status).toBe(200);
    expect(all.json.total_entries).toBe(3);
    expect(all.json.hitl_details.map((d: { dag_id: string; dag_run_id: string }) => `${d.dag_id}/${d.dag_run_id}`).sort()).toStrictEqual(['api_form/f1', 'api_release/r1', 'api_release/r2']);
    const one = await call(ana, 'GET', url('api_release', 'r1', '/hitlDetails'));
    expect(one.json).toStrictEqual({
      hitl_details: [
        {
          dag_id: 'api_release',
          dag_run_id: 'r1',
          task_id: 'approve',
          map_index: -1,
          try_number: 1,
          subject: 'Ship r1?',
          body: '**Notes**',
          options: ['Approve', 'Reject'],
          multiple: false,
          defaults: null,
          params: null,
          assigned_users: [{ id: 'ana' }],
          created_at: T0,
          timeout_at: null,
          response_received: false,
          chosen_options: null,
          params_input: null,
          responded_by_user: null,
          responded_at: null,
          timed_out: false,
          closed_reason: null,
        },
      ],
      total_entries: 1,
    });
    expect((await call(ana, 'GET', '/api/v2/dags/~/dagRuns/r2/hitlDetails')).json.hitl_details.map((d: { dag_run_id: string }) => d.dag_run_id)).toStrictEqual(['r2']);
    expect((await call(ana, 'GET', '/api/v2/dags/api_release/dagRuns/~/hitlDetails?limit=1&offset=1')).json.total_entries).toBe(2);
  });

  it('refuses a bad option (400 naming body.chosen_options), an unassigned or unknown user (403), a bad state filter (400)', async () => {
    const ti = url('api_release', 'r1', '/taskInstances/approve/hitlDetails');
    expect(await call(ana, 'PATCH', ti, { chosen_options: ['Maybe'] })).toStrictEqual({
      status: 400,
      json: { detail: `task 'approve' of run 'r1' of DAG 'api_release': "Maybe" is not an option (options: 'Approve', 'Reject')`, field: 'body.chosen_options' },
    });
    expect((await call(ana, 'PATCH', ti, { chosen_options: [] })).json.field).toBe('body.chosen_options');
    expect((await call(ana, 'PATCH', ti, { chosen_options: ['Approve'], extra: 1 })).json.field).toBe('body.extra');
    expect(await call(eve, 'PATCH', ti, { chosen_options: ['Approve'] })).toStrictEqual({
      status: 403,
      json: { detail: "user 'eve' may not answer task 'approve' of run 'r1' of DAG 'api_release' (assigned: ana)", field: null },
    });
    expect((await call(nobody, 'PATCH', ti, { chosen_options: ['Approve'] })).status).toBe(403);
    expect((await call(ana, 'GET', '/api/v2/dags/~/dagRuns/~/hitlDetails?state=done')).json.field).toBe('query.state');
    expect((await call(ana, 'GET', ti)).json.response_received).toBe(false);
  });

  it('an answer resumes the task (its result is the answer); a second answer is a 409 naming who answered and when', async () => {
    const ti = url('api_release', 'r1', '/taskInstances/approve/hitlDetails');
    const first = await call(ana, 'PATCH', ti, { chosen_options: ['Approve'] });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ response_received: true, chosen_options: ['Approve'], params_input: {}, responded_by_user: { id: 'ana' }, responded_at: T0, timed_out: false });
    await runner.waitForRun({ dagId: 'api_release', runId: 'r1' });
    expect((await call(ana, 'GET', url('api_release', 'r1', '/taskInstances/ship/xcomEntries/return_value'))).json.value).toBe('ana');
    expect(await call(ana, 'PATCH', ti, { chosen_options: ['Reject'] })).toStrictEqual({
      status: 409,
      json: { detail: `task 'approve' of run 'r1' of DAG 'api_release' was answered by ana at ${T0}`, field: null },
    });
    expect((await call(ana, 'GET', '/api/v2/dags/~/dagRuns/~/hitlDetails?state=responded')).json.hitl_details.map((d: { dag_run_id: string }) => d.dag_run_id)).toStrictEqual(['r1']);
  });

  it('a form: values checked against the fields (400 naming body.params_input.<field>), defaults filled in', async () => {
    const ti = url('api_form', 'f1', '/taskInstances/details/hitlDetails');
    expect(await call(nobody, 'PATCH', ti, { chosen_options: ['OK'], params_input: { replicas: 0 } })).toStrictEqual({
      status: 400,
      json: { detail: "task 'details' of run 'f1' of DAG 'api_form': field 'replicas' = 0 is invalid: value must be >= 1", field: 'body.params_input.replicas' },
    });
    const ok = await call(nobody, 'PATCH', ti, { chosen_options: ['OK'] });
    expect(ok.json).toMatchObject({ params_input: { replicas: 2 }, responded_by_user: null });
    await runner.waitForRun({ dagId: 'api_form', runId: 'f1' });
    expect((await call(ana, 'GET', url('api_form', 'f1', '/taskInstances/use/xcomEntries/return_value'))).json.value).toStrictEqual({ replicas: 2 });
  });

  it('404 for what is not there: a DAG, a run, a task, an instance without a request (the mapped route too)', async () => {
    expect((await call(ana, 'GET', url('nope', 'r1', '/hitlDetails'))).json.field).toBe('params.dag_id');
    expect((await call(ana, 'GET', url('api_release', 'nope', '/hitlDetails'))).json.field).toBe('params.dag_run_id');
    expect((await call(ana, 'GET', url('api_release', 'r1', '/taskInstances/nope/hitlDetails'))).json.field).toBe('params.task_id');
    const none = await call(ana, 'GET', url('api_release', 'r2', '/taskInstances/ship/hitlDetails'));
    expect(none).toStrictEqual({ status: 404, json: { detail: "task 'ship' of run 'r2' of DAG 'api_release' has no human-in-the-loop request", field: 'params.task_id' } });
    expect((await call(ana, 'GET', url('api_release', 'r2', '/taskInstances/approve/0/hitlDetails'))).status).toBe(404);
    expect((await call(ana, 'GET', url('api_release', 'r2', '/taskInstances/approve/-1/hitlDetails'))).json.task_id).toBe('approve');
  });

  it('a waiting instance marked success: its request closes (off the pending list, saying why) and an answer is a 409', async () => {
    expect((await call(ana, 'POST', '/api/v2/dags/api_release/dagRuns', { dag_run_id: 'r3' })).status).toBe(200);
    await runner.idle();
    const pending = async () => (await call(ana, 'GET', '/api/v2/dags/~/dagRuns/~/hitlDetails?state=pending')).json.hitl_details.map((d: { dag_run_id: string }) => d.dag_run_id).sort();
    expect(await pending()).toStrictEqual(['r2', 'r3']);
    const marked = await call(ana, 'PATCH', url('api_release', 'r3', '/taskInstances/approve'), { new_state: 'success' });
    expect(marked.status).toBe(200);
    // Listed, it is closed as it is seen: gone from the pending list, among the others with its reason.
    const listed = await call(ana, 'GET', '/api/v2/dags/~/dagRuns/~/hitlDetails?state=pending');
    expect(listed.json).toMatchObject({ total_entries: 1, hitl_details: [{ dag_run_id: 'r2' }] });
    const closed = await call(ana, 'GET', url('api_release', 'r3', '/taskInstances/approve/hitlDetails'));
    expect(closed.json).toMatchObject({ response_received: false, chosen_options: [], closed_reason: 'its task instance is success', responded_at: T0 });
    expect(await call(ana, 'PATCH', url('api_release', 'r3', '/taskInstances/approve/hitlDetails'), { chosen_options: ['Approve'] })).toStrictEqual({
      status: 409,
      json: { detail: `task 'approve' of run 'r3' of DAG 'api_release' was closed without an answer at ${T0} (its task instance is success)`, field: null },
    });
  });

  it('an answer to a request whose instance was marked (not yet listed) closes it and is a 409', async () => {
    expect((await call(ana, 'POST', '/api/v2/dags/api_release/dagRuns', { dag_run_id: 'r4' })).status).toBe(200);
    await runner.idle();
    expect((await call(ana, 'PATCH', url('api_release', 'r4', '/taskInstances/approve'), { new_state: 'failed' })).status).toBe(200);
    const ti = { dagId: 'api_release', runId: 'r4', taskId: 'approve', mapIndex: -1 };
    await expect(runner.respondHitl(ti, { chosenOptions: ['Approve'], user: 'ana' })).rejects.toMatchObject({ status: 409, message: "task 'approve' of run 'r4' of DAG 'api_release' is not waiting for an answer (it is failed, try 1; the request is try 1's)" });
    expect((await runner.store.getHitlRequest(ti))?.response).toStrictEqual({ chosenOptions: [], paramsInput: {}, respondedBy: null, respondedAt: T0, timedOut: false, closed: 'its task instance is failed' });
    expect((await runner.store.listHitlRequests({ pending: true, limit: 10 })).records.map((r) => r.runId)).toStrictEqual(['r2']);
  });
});
