/**
 * The dagRuns list's filters, in-process on the API's fixtures: `run_type` (repeatable) alone, with
 * `state`, and with paging (total_entries counts the filtered runs); an unknown run type is a 400 naming it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, type Harness } from './api/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await harness();
  // Two manual runs, one scheduled (as the schedule creates it), three of a backfill: every run succeeds.
  for (const id of ['manual_a', 'manual_b']) expect((await h.call('POST', '/api/v2/dags/api_daily/dagRuns', { dag_run_id: id, logical_date: id === 'manual_a' ? '2025-11-01T00:00:00Z' : '2025-11-02T00:00:00Z' })).status).toBe(200);
  await h.backend.withScheduler(({ scheduler, run }) => run(scheduler.triggerRun({ dagId: 'api_daily', runId: 'scheduled_1', logicalDate: '2025-11-03T02:00:00.000Z', runType: 'scheduled', conf: {} })));
  expect((await h.call('POST', '/api/v2/backfills', { dag_id: 'api_daily', from_date: '2025-12-20T00:00:00Z', to_date: '2025-12-22T23:00:00Z' })).status).toBe(200);
  await h.idle();
});
afterAll(async () => {
  await h.idle();
  await h.app.close();
});

async function runs(query: string): Promise<{ ids: string[]; types: string[]; total: number }> {
  const r = await h.call('GET', `/api/v2/dags/api_daily/dagRuns?${query}`);
  expect(r.status).toBe(200);
  return { ids: r.json.dag_runs.map((x: any) => x.dag_run_id), types: r.json.dag_runs.map((x: any) => x.run_type), total: r.json.total_entries };
}

describe('GET /api/v2/dags/{dag_id}/dagRuns?run_type=', () => {
  it('lists every run without a filter', async () => {
    expect((await runs('order_by=logical_date')).ids).toEqual([
      'manual_a',
      'manual_b',
      'scheduled_1',
      'backfill__2025-12-20T02:00:00.000Z',
      'backfill__2025-12-21T02:00:00.000Z',
      'backfill__2025-12-22T02:00:00.000Z',
    ]);
  });

  it('keeps only the runs of one type', async () => {
    expect(await runs('run_type=backfill&order_by=logical_date')).toEqual({
      ids: ['backfill__2025-12-20T02:00:00.000Z', 'backfill__2025-12-21T02:00:00.000Z', 'backfill__2025-12-22T02:00:00.000Z'],
      types: ['backfill', 'backfill', 'backfill'],
      total: 3,
    });
    expect(await runs('run_type=scheduled')).toEqual({ ids: ['scheduled_1'], types: ['scheduled'], total: 1 });
    expect(await runs('run_type=triggered')).toEqual({ ids: [], types: [], total: 0 });
  });

  it('keeps the runs of any of several types (the parameter repeated)', async () => {
    expect((await runs('run_type=manual&run_type=scheduled&order_by=logical_date')).ids).toEqual(['manual_a', 'manual_b', 'scheduled_1']);
  });

  it('combines with the state filter and pages the filtered runs, total_entries counting them all', async () => {
    expect((await runs('run_type=manual&state=success')).total).toBe(2);
    expect((await runs('run_type=manual&state=failed')).total).toBe(0);
    const first = await runs('run_type=backfill&limit=2&offset=0');
    const second = await runs('run_type=backfill&limit=2&offset=2');
    expect(first).toEqual({ ids: ['backfill__2025-12-22T02:00:00.000Z', 'backfill__2025-12-21T02:00:00.000Z'], types: ['backfill', 'backfill'], total: 3 });
    expect(second).toEqual({ ids: ['backfill__2025-12-20T02:00:00.000Z'], types: ['backfill'], total: 3 });
  });

  it("refuses a run type that does not exist, naming the parameter", async () => {
    const r = await h.call('GET', '/api/v2/dags/api_daily/dagRuns?run_type=dataset_triggered');
    expect(r.status).toBe(400);
    expect(r.json.field).toBe('query.run_type[0]');
  });
});
