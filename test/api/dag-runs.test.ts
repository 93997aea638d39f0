import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dag, task } from '../../lib/index.ts';
import { harness, type Harness } from './harness.ts';

/** A task that waits for the test to open its gate: its run stays running meanwhile. */
let openGate: () => void = () => undefined;
const gate = new Promise<void>((resolve) => {
  openGate = resolve;
});
const gated = dag({ dagId: 'api_gated' }, () => {
  task('wait', async () => {
    await gate;
    return 'opened';
  });
});

let h: Harness;
beforeAll(async () => {
  h = await harness([gated]);
});
afterAll(async () => {
  openGate();
  await h.idle();
  await h.app.close();
});

describe('POST /api/v2/dags/{dag_id}/dagRuns', () => {
  it('triggers a run with conf, which reaches success', async () => {
    const r = await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { dag_run_id: 'first', conf: { n: 4, label: 'four' }, note: 'by the test' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ dag_run_id: 'first', dag_id: 'api_flow', run_type: 'manual', conf: { n: 4, label: 'four' }, note: 'by the test', backfill_id: null, triggered_by_parent: null });
    expect(['queued', 'running']).toContain(r.json.state);
    let state = r.json.state;
    while (state !== 'success' && state !== 'failed') {
      await h.idle();
      state = (await h.call('GET', '/api/v2/dags/api_flow/dagRuns/first')).json.state;
    }
    expect(state).toBe('success');
    const run = (await h.call('GET', '/api/v2/dags/api_flow/dagRuns/first')).json;
    expect(run.end_date).not.toBeNull();
    expect(run.logical_date).toBe('2026-01-01T00:00:00.000Z');
  });

  it('takes the default id manual__<logical date> and defaults the conf', async () => {
    const r = await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { logical_date: '2025-06-01T00:00:00Z' });
    expect(r.json).toMatchObject({ dag_run_id: 'manual__2025-06-01T00:00:00.000Z', logical_date: '2025-06-01T00:00:00.000Z', conf: {} });
    await h.idle();
  });

  it('answers 409 when the run id exists', async () => {
    const r = await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { dag_run_id: 'first' });
    expect(r.status).toBe(409);
    expect(r.json).toStrictEqual({ detail: "DAG run 'first' of DAG 'api_flow' already exists (success)", field: 'body.dag_run_id' });
  });

  it('refuses a conf that violates a param schema, naming the param', async () => {
    const r = await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { conf: { n: 0 } });
    expect(r.status).toBe(400);
    expect(r.json.field).toBe('body.conf.n');
    expect(r.json.detail).toContain("param 'n' = 0 is invalid");
    const wrongType = await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { conf: { n: 'three' } });
    expect(wrongType).toMatchObject({ status: 400, json: { field: 'body.conf.n' } });
  });

  it('refuses a conf key that is not a param', async () => {
    const r = await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { conf: { nn: 3 } });
    expect(r.status).toBe(400);
    expect(r.json.field).toBe('body.conf.nn');
    expect(r.json.detail).toContain("conf key 'nn' is not a param of this DAG (params: n, label)");
  });

  it('refuses a malformed body naming the field', async () => {
    expect(await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { conf: 'n=3' })).toStrictEqual({ status: 400, json: { detail: 'body.conf must be object', field: 'body.conf' } });
    expect(await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { confs: {} })).toStrictEqual({ status: 400, json: { detail: 'body.confs is not a known field', field: 'body.confs' } });
    expect((await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { dag_run_id: 5 })).json.field).toBe('body.dag_run_id');
    expect((await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { dag_run_id: 'a b' })).json.field).toBe('body.dag_run_id');
    expect((await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { logical_date: 'yesterday' })).json).toStrictEqual({ detail: 'body.logical_date must match format "date-time"', field: 'body.logical_date' });
    const notJson = await h.raw({ method: 'POST', url: '/api/v2/dags/api_flow/dagRuns', headers: { authorization: 'Bearer test-token-0123456789', 'content-type': 'application/json' }, payload: '{"conf":' });
    expect(notJson.status).toBe(400);
    expect(notJson.json.field).toBe('body');
  });

  it('answers 404 for an unknown DAG', async () => {
    expect(await h.call('POST', '/api/v2/dags/nope/dagRuns', {})).toMatchObject({ status: 404, json: { field: 'params.dag_id' } });
  });
});

describe('GET dagRuns', () => {
  it("lists a DAG's runs newest first, by state, ordered, paged", async () => {
    const r = await h.call('GET', '/api/v2/dags/api_flow/dagRuns');
    expect(r.status).toBe(200);
    expect(r.json.total_entries).toBe(2);
    expect(r.json.dag_runs.map((x: any) => x.dag_run_id)).toEqual(['first', 'manual__2025-06-01T00:00:00.000Z']);
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns?order_by=logical_date')).json.dag_runs.map((x: any) => x.dag_run_id)).toEqual(['manual__2025-06-01T00:00:00.000Z', 'first']);
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns?state=failed')).json.total_entries).toBe(0);
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns?state=failed&state=success')).json.total_entries).toBe(2);
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns?limit=1&offset=1')).json).toMatchObject({ total_entries: 2, dag_runs: [{ dag_run_id: 'manual__2025-06-01T00:00:00.000Z' }] });
  });

  it("lists every DAG's runs with ~", async () => {
    await h.call('POST', '/api/v2/dags/api_daily/dagRuns', { dag_run_id: 'daily_one' });
    await h.idle();
    const r = await h.call('GET', '/api/v2/dags/~/dagRuns');
    expect(r.json.dag_runs.map((x: any) => `${x.dag_id}/${x.dag_run_id}`).sort()).toEqual(['api_daily/daily_one', 'api_flow/first', 'api_flow/manual__2025-06-01T00:00:00.000Z']);
  });

  it('refuses bad query values naming the field', async () => {
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns?state=done')).json).toMatchObject({ field: 'query.state[0]' });
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns?order_by=date')).json).toMatchObject({ field: 'query.order_by' });
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns?offset=-1')).json).toMatchObject({ field: 'query.offset' });
  });

  it('gets one run, or 404 naming it', async () => {
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns/first')).json).toMatchObject({ dag_run_id: 'first', state: 'success' });
    const missing = await h.call('GET', '/api/v2/dags/api_flow/dagRuns/nope');
    expect(missing).toStrictEqual({ status: 404, json: { detail: "DAG run 'nope' of DAG 'api_flow' not found", field: 'params.dag_run_id' } });
    // A run of another DAG is not found under this one.
    expect((await h.call('GET', '/api/v2/dags/api_daily/dagRuns/first')).status).toBe(404);
  });
});

describe('pipelineContext', () => {
  it("gives the saves of the run's scope", async () => {
    const r = await h.call('GET', '/api/v2/dags/api_flow/dagRuns/first/pipelineContext');
    expect(r).toStrictEqual({
      status: 200,
      json: { scope: 'api_flow/first', saves: [{ stage: 'totals', dag_id: 'api_flow', run_id: 'first', task_id: 'total', saved_at: expect.any(String), data: { total: 30, label: 'four' } }] },
    });
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns/nope/pipelineContext')).status).toBe(404);
  });
});

describe('DELETE /api/v2/dags/{dag_id}', () => {
  it('answers 409 while a run is running, 204 once it has ended', async () => {
    await h.call('POST', '/api/v2/dags/api_gated/dagRuns', { dag_run_id: 'gated_one' });
    expect((await h.call('GET', '/api/v2/dags/api_gated/dagRuns/gated_one')).json.state).toBe('running');
    const refused = await h.call('DELETE', '/api/v2/dags/api_gated');
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toContain('gated_one (running)');
    openGate();
    await h.idle();
    expect((await h.call('GET', '/api/v2/dags/api_gated/dagRuns/gated_one')).json.state).toBe('success');
    expect(await h.call('DELETE', '/api/v2/dags/api_gated')).toStrictEqual({ status: 204, json: null });
    expect((await h.call('GET', '/api/v2/dags/api_gated/dagRuns')).json.total_entries).toBe(0);
    // The DAG is still loaded: it is listed, and deleting it again deletes nothing.
    expect((await h.call('GET', '/api/v2/dags/api_gated')).status).toBe(200);
    expect((await h.call('DELETE', '/api/v2/dags/api_gated')).status).toBe(204);
  });

  it('answers 404 for a DAG neither loaded nor stored', async () => {
    expect(await h.call('DELETE', '/api/v2/dags/nope')).toMatchObject({ status: 404, json: { field: 'params.dag_id' } });
  });
});

// Last: it adds a run that the listings above do not expect.
describe('POST dagRuns, concurrently', () => {
  it('two triggers of one new run id at once: one 200, one 409 naming the id', async () => {
    const both = await Promise.all([1, 2].map(() => h.call('POST', '/api/v2/dags/api_flow/dagRuns', { dag_run_id: 'raced' })));
    expect(both.map((r) => r.status).sort()).toStrictEqual([200, 409]);
    const refused = both.find((r) => r.status === 409)!;
    expect(refused.json.field).toBe('body.dag_run_id');
    expect(refused.json.detail).toContain("'raced'");
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns/raced')).status).toBe(200);
    await h.idle();
  });
});

describe('run ids are per DAG', () => {
  it('GET /dags/A/dagRuns/X and /dags/B/dagRuns/X are different runs, each with its own task instances', async () => {
    const a = await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { dag_run_id: 'shared_id', conf: { n: 2 } });
    const b = await h.call('POST', '/api/v2/dags/api_daily/dagRuns', { dag_run_id: 'shared_id' });
    expect([a.status, b.status]).toStrictEqual([200, 200]);
    await h.idle();
    const runA = await h.call('GET', '/api/v2/dags/api_flow/dagRuns/shared_id');
    const runB = await h.call('GET', '/api/v2/dags/api_daily/dagRuns/shared_id');
    expect(runA).toMatchObject({ status: 200, json: { dag_id: 'api_flow', dag_run_id: 'shared_id', conf: { n: 2 }, state: 'success' } });
    expect(runB).toMatchObject({ status: 200, json: { dag_id: 'api_daily', dag_run_id: 'shared_id', conf: {}, state: 'success' } });
    const tis = async (dagId: string) =>
      ((await h.call('GET', `/api/v2/dags/${dagId}/dagRuns/shared_id/taskInstances`)).json.task_instances as { dag_id: string; task_id: string }[]).map((t) => `${t.dag_id}.${t.task_id}`);
    const [tisA, tisB] = [await tis('api_flow'), await tis('api_daily')];
    expect(tisA.length).toBeGreaterThan(0);
    expect(tisA.every((t) => t.startsWith('api_flow.'))).toBe(true);
    expect(tisB.every((t) => t.startsWith('api_daily.'))).toBe(true);
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns/shared_id/pipelineContext')).json.scope).toBe('api_flow/shared_id');
    expect((await h.call('GET', '/api/v2/dags/api_daily/dagRuns/shared_id/pipelineContext')).json.scope).toBe('api_daily/shared_id');
    // The id is taken in each DAG, separately.
    expect((await h.call('POST', '/api/v2/dags/api_daily/dagRuns', { dag_run_id: 'shared_id' })).json).toStrictEqual({
      detail: "DAG run 'shared_id' of DAG 'api_daily' already exists (success)",
      field: 'body.dag_run_id',
    });
  });

  it('triggers without a run id or a logical date in the same instant make distinct runs, manual__<now>_<8 letters and digits>', async () => {
    const both = await Promise.all([1, 2].map(() => h.call('POST', '/api/v2/dags/api_flow/dagRuns', {})));
    expect(both.map((r) => r.status)).toStrictEqual([200, 200]);
    const ids = both.map((r) => r.json.dag_run_id as string);
    expect(ids[0]).not.toBe(ids[1]);
    for (const r of both) {
      expect(r.json.dag_run_id).toMatch(/^manual__2026-01-01T00:00:00\.000Z_[A-Za-z0-9]{8}$/);
      expect(r.json.logical_date).toBe('2026-01-01T00:00:00.000Z');
      expect((await h.call('GET', `/api/v2/dags/api_flow/dagRuns/${r.json.dag_run_id}`)).status).toBe(200);
    }
    await h.idle();
  });
});
