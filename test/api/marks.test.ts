import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dag, task } from '../../lib/index.ts';
import { harness, type Harness } from './harness.ts';

/** The reasons the `long` tries were aborted with (their signal's reason). */
const aborted: string[] = [];
/** How many `long` tries have started. */
let started = 0;
const stoppable = dag({ dagId: 'api_stop' }, () => {
  const long = task('long', (ctx) => (started++, new Promise<never>((_, reject) => ctx.signal.addEventListener('abort', () => (aborted.push((ctx.signal.reason as Error).message), reject(ctx.signal.reason as Error))))));
  task('after', () => 'after').after(long);
});
const chain = dag({ dagId: 'api_chain' }, () => {
  const a = task('a', () => {
    throw new Error('a fails');
  });
  const b = task('b', () => 'b').after(a);
  task('c', () => 'c').after(b);
});

let h: Harness;
beforeAll(async () => {
  h = await harness([stoppable, chain]);
});
afterAll(async () => {
  await h.idle();
  await h.app.close();
});

/** A run triggered; for api_stop, waited for until its `long` try runs (turn by turn of the event loop, no timer). */
async function trigger(dagId: string, runId: string): Promise<void> {
  expect((await h.call('POST', `/api/v2/dags/${dagId}/dagRuns`, { dag_run_id: runId })).status).toBe(200);
  if (dagId !== 'api_stop') return;
  const before = started;
  while (started === before) await new Promise((resolve) => setImmediate(resolve));
}

const tiStates = async (dagId: string, runId: string) =>
  Object.fromEntries(((await h.call('GET', `/api/v2/dags/${dagId}/dagRuns/${runId}/taskInstances`)).json.task_instances as { task_id: string; state: string | null }[]).map((t) => [t.task_id, t.state]));

describe('PATCH /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', () => {
  it('state failed stops a running run: its running try is aborted, the instance fails, the rest is skipped', async () => {
    await trigger('api_stop', 'stop1');
    expect((await h.call('GET', '/api/v2/dags/api_stop/dagRuns/stop1/taskInstances/long')).json.state).toBe('running');
    const r = await h.call('PATCH', '/api/v2/dags/api_stop/dagRuns/stop1', { state: 'failed' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ dag_run_id: 'stop1', state: 'failed' });
    await h.idle();
    expect(aborted).toEqual(['the run was marked failed']);
    expect(await tiStates('api_stop', 'stop1')).toEqual({ long: 'failed', after: 'skipped' });
    expect((await h.call('GET', '/api/v2/dags/api_stop/dagRuns/stop1')).json.state).toBe('failed');
  });

  it('state success, then a note; queued on a running run is a 409 naming why; bad bodies are 400 naming the field', async () => {
    await trigger('api_stop', 'ok1');
    const refused = await h.call('PATCH', '/api/v2/dags/api_stop/dagRuns/ok1', { state: 'queued' });
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toMatch(/is running: it cannot be queued again/);
    expect((await h.call('PATCH', '/api/v2/dags/api_stop/dagRuns/ok1', { state: 'success', note: 'done by hand' })).json).toMatchObject({ state: 'success', note: 'done by hand' });
    await h.idle();
    expect(await tiStates('api_stop', 'ok1')).toEqual({ long: 'success', after: 'success' });
    expect((await h.call('PATCH', '/api/v2/dags/api_stop/dagRuns/ok1', { note: null })).json.note).toBeNull();
    expect(await h.call('PATCH', '/api/v2/dags/api_stop/dagRuns/ok1', { state: 'running' })).toMatchObject({ status: 400, json: { field: 'body.state' } });
    expect(await h.call('PATCH', '/api/v2/dags/api_stop/dagRuns/ok1', { stat: 'failed' })).toMatchObject({ status: 400, json: { field: 'body.stat' } });
    expect((await h.call('PATCH', '/api/v2/dags/api_stop/dagRuns/ok1', {})).status).toBe(400);
    expect((await h.call('PATCH', '/api/v2/dags/api_stop/dagRuns/nope', { state: 'failed' })).status).toBe(404);
  });
});

describe('PATCH /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', () => {
  it('dry_run lists what would be marked; new_state with include_downstream marks them; a note is kept', async () => {
    await trigger('api_chain', 'c1');
    await h.idle();
    expect(await tiStates('api_chain', 'c1')).toEqual({ a: 'failed', b: 'upstream_failed', c: 'upstream_failed' });
    const dry = await h.call('PATCH', '/api/v2/dags/api_chain/dagRuns/c1/taskInstances/a', { new_state: 'success', include_downstream: true, dry_run: true });
    expect(dry.status).toBe(200);
    expect(dry.json.task_instances.map((t: { task_id: string; state: string }) => [t.task_id, t.state])).toEqual([
      ['a', 'failed'],
      ['b', 'upstream_failed'],
      ['c', 'upstream_failed'],
    ]);
    expect(await tiStates('api_chain', 'c1')).toEqual({ a: 'failed', b: 'upstream_failed', c: 'upstream_failed' });
    const done = await h.call('PATCH', '/api/v2/dags/api_chain/dagRuns/c1/taskInstances/a', { new_state: 'success', include_downstream: true, note: 'input fixed upstream' });
    expect(done.json.total_entries).toBe(3);
    expect(await tiStates('api_chain', 'c1')).toEqual({ a: 'success', b: 'success', c: 'success' });
    expect((await h.call('GET', '/api/v2/dags/api_chain/dagRuns/c1/taskInstances/a')).json.note).toBe('input fixed upstream');
    // By map index (-1: not mapped), and a bad state or an unknown task named.
    expect((await h.call('PATCH', '/api/v2/dags/api_chain/dagRuns/c1/taskInstances/b/-1', { new_state: 'failed' })).json.task_instances).toMatchObject([{ task_id: 'b', state: 'failed' }]);
    expect(await h.call('PATCH', '/api/v2/dags/api_chain/dagRuns/c1/taskInstances/b', { new_state: 'running' })).toMatchObject({ status: 400, json: { field: 'body.new_state' } });
    expect((await h.call('PATCH', '/api/v2/dags/api_chain/dagRuns/c1/taskInstances/zz', { new_state: 'success' })).status).toBe(404);
  });

  it('a running instance marked success: its try is aborted and its downstream runs', async () => {
    aborted.length = 0;
    await trigger('api_stop', 'ti1');
    const r = await h.call('PATCH', '/api/v2/dags/api_stop/dagRuns/ti1/taskInstances/long', { new_state: 'success' });
    expect(r.json.task_instances).toMatchObject([{ task_id: 'long', state: 'success' }]);
    await h.idle();
    expect(aborted).toEqual(['the task instance was marked success']);
    expect(await tiStates('api_stop', 'ti1')).toEqual({ long: 'success', after: 'success' });
    expect((await h.call('GET', '/api/v2/dags/api_stop/dagRuns/ti1')).json.state).toBe('success');
  });
});
