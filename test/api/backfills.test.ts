import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.app.close();
});

const RANGE = { dag_id: 'api_daily', from_date: '2025-12-20T00:00:00Z', to_date: '2025-12-22T23:00:00Z' };

describe('backfills', () => {
  it('says per logical date what a backfill would do (dry run), changing nothing', async () => {
    const r = await h.call('POST', '/api/v2/backfills/dry_run', RANGE);
    expect(r.status).toBe(200);
    expect(r.json).toStrictEqual({
      total_entries: 3,
      backfills: ['2025-12-20', '2025-12-21', '2025-12-22'].map((d) => ({
        logical_date: `${d}T02:00:00.000Z`,
        action: 'create',
        dag_run_id: `backfill__${d}T02:00:00.000Z`,
        existing_state: null,
        reason: null,
      })),
    });
    expect((await h.call('GET', '/api/v2/dags/api_daily/dagRuns')).json.total_entries).toBe(0);
    expect((await h.call('GET', '/api/v2/backfills?dag_id=api_daily')).json.total_entries).toBe(0);
  });

  it('creates a backfill whose runs complete; lists and gets it', async () => {
    const r = await h.call('POST', '/api/v2/backfills', { ...RANGE, max_active_runs: 2 });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      id: '1',
      dag_id: 'api_daily',
      from_date: '2025-12-20T00:00:00.000Z',
      to_date: '2025-12-22T23:00:00.000Z',
      reprocess_behavior: 'none',
      max_active_runs: 2,
      dag_run_conf: {},
      state: 'running',
      completed_at: null,
      counts: { dates: 3, created: 3, cleared: 0, skipped: 0 },
    });
    await h.idle();
    const runs = (await h.call('GET', '/api/v2/dags/api_daily/dagRuns?order_by=logical_date')).json.dag_runs;
    expect(runs.map((x: any) => [x.dag_run_id, x.run_type, x.backfill_id, x.state])).toEqual([
      ['backfill__2025-12-20T02:00:00.000Z', 'backfill', '1', 'success'],
      ['backfill__2025-12-21T02:00:00.000Z', 'backfill', '1', 'success'],
      ['backfill__2025-12-22T02:00:00.000Z', 'backfill', '1', 'success'],
    ]);
    const list = await h.call('GET', '/api/v2/backfills?dag_id=api_daily');
    expect(list.json.total_entries).toBe(1);
    expect(list.json.backfills[0]).toMatchObject({ id: '1', state: 'completed' });
    const one = await h.call('GET', '/api/v2/backfills/1?dag_id=api_daily');
    expect(one.json).toMatchObject({ id: '1', state: 'completed', completed_at: expect.any(String) });
  });

  it('skips dates that have runs unless told to reprocess them', async () => {
    const r = await h.call('POST', '/api/v2/backfills/dry_run', { ...RANGE, reprocess_behavior: 'none' });
    expect(r.json.backfills.map((d: any) => [d.action, d.existing_state, d.reason])).toEqual([
      ['skip', 'success', 'already exists'],
      ['skip', 'success', 'already exists'],
      ['skip', 'success', 'already exists'],
    ]);
    const again = await h.call('POST', '/api/v2/backfills/dry_run', { ...RANGE, reprocess_behavior: 'completed' });
    expect(again.json.backfills.map((d: any) => d.action)).toEqual(['clear', 'clear', 'clear']);
  });

  it('refuses malformed requests naming the field', async () => {
    expect(await h.call('POST', '/api/v2/backfills', { ...RANGE, from_date: 'soon' })).toStrictEqual({ status: 400, json: { detail: 'body.from_date must match format "date-time"', field: 'body.from_date' } });
    expect((await h.call('POST', '/api/v2/backfills', { ...RANGE, reprocess_behavior: 'all' })).json).toStrictEqual({ detail: 'body.reprocess_behavior must be one of "none", "failed", "completed"', field: 'body.reprocess_behavior' });
    expect((await h.call('POST', '/api/v2/backfills', { ...RANGE, max_active_runs: 0 })).json.field).toBe('body.max_active_runs');
    expect((await h.call('POST', '/api/v2/backfills', { ...RANGE, dag_run_conf: { x: 1 } })).json).toMatchObject({ field: 'body.dag_run_conf.x' });
    expect((await h.call('POST', '/api/v2/backfills', { dag_id: 'api_daily', to_date: RANGE.to_date })).json.field).toBe('body.from_date');
    expect((await h.call('POST', '/api/v2/backfills', { ...RANGE, extra: 1 })).json.field).toBe('body.extra');
    const reversed = await h.call('POST', '/api/v2/backfills/dry_run', { ...RANGE, from_date: RANGE.to_date, to_date: RANGE.from_date });
    expect(reversed.status).toBe(400);
    expect(reversed.json.detail).toContain('must not be after toDate');
    // A DAG without a schedule cannot be backfilled.
    const unscheduled = await h.call('POST', '/api/v2/backfills/dry_run', { ...RANGE, dag_id: 'api_flow' });
    expect(unscheduled).toMatchObject({ status: 400, json: { detail: expect.stringContaining('a backfill needs a periodic schedule') } });
    expect((await h.call('GET', '/api/v2/backfills')).json).toStrictEqual({ detail: 'query.dag_id is required', field: 'query.dag_id' });
  });

  it('answers 404 for an unknown DAG or backfill', async () => {
    expect(await h.call('POST', '/api/v2/backfills', { ...RANGE, dag_id: 'nope' })).toMatchObject({ status: 404, json: { field: 'body.dag_id' } });
    expect(await h.call('GET', '/api/v2/backfills?dag_id=nope')).toMatchObject({ status: 404, json: { field: 'query.dag_id' } });
    expect(await h.call('GET', '/api/v2/backfills/9?dag_id=api_daily')).toStrictEqual({ status: 404, json: { detail: "backfill '9' of DAG 'api_daily' not found", field: 'params.backfill_id' } });
  });

  it('answers 409 while another backfill of the DAG is running', async () => {
    await h.call('PATCH', '/api/v2/dags/api_daily', { is_paused: true });
    const first = await h.call('POST', '/api/v2/backfills', { ...RANGE, from_date: '2025-12-10T00:00:00Z', to_date: '2025-12-11T00:00:00Z' });
    expect(first.json).toMatchObject({ id: '2', state: 'running' });
    const second = await h.call('POST', '/api/v2/backfills', { ...RANGE, from_date: '2025-12-12T00:00:00Z', to_date: '2025-12-13T00:00:00Z' });
    expect(second.status).toBe(409);
    expect(second.json.detail).toContain('backfill 2 is running');
    await h.call('PATCH', '/api/v2/dags/api_daily', { is_paused: false });
    await h.idle();
    expect((await h.call('GET', '/api/v2/backfills/2?dag_id=api_daily')).json.state).toBe('completed');
  });
});
