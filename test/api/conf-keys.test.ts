import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dag, triggerDag } from '../../lib/index.ts';
import { harness, type Harness } from './harness.ts';

// Conf keys that are not params: kept in the run's conf (Airflow's behaviour) unless the DAG has
// strictConf (the fixture api_flow has it: test/api/dag-runs.test.ts checks its refusal).
const loose = dag(
  { dagId: 'api_loose', schedule: '0 3 * * *', startDate: '2025-12-01', params: { n: { type: 'integer', minimum: 1, default: 2 } } },
  ({ task }) => {
    task('show', (ctx) => ({ params: ctx.params, conf: ctx.conf }));
  },
);
const parent = dag({ dagId: 'api_loose_parent' }, () => {
  triggerDag('go', { triggerDagId: 'api_loose', conf: { n: 3, band: 'L' }, waitForCompletion: true });
});

let h: Harness;
beforeAll(async () => {
  h = await harness([loose, parent]);
});
afterAll(async () => {
  await h.app.close();
});

const shown = async (runId: string) => (await h.call('GET', `/api/v2/dags/api_loose/dagRuns/${encodeURIComponent(runId)}/taskInstances/show/xcomEntries/return_value`)).json.value;

describe('conf keys that are not params', () => {
  it('POST dagRuns keeps them in the conf (ctx.conf); ctx.params holds the params; params are still checked', async () => {
    const r = await h.call('POST', '/api/v2/dags/api_loose/dagRuns', { dag_run_id: 'extra', conf: { n: 4, calibrator: '3C286' } });
    expect(r.status).toBe(200);
    expect(r.json.conf).toStrictEqual({ n: 4, calibrator: '3C286' });
    await h.idle();
    expect(await shown('extra')).toStrictEqual({ params: { n: 4 }, conf: { n: 4, calibrator: '3C286' } });
    const bad = await h.call('POST', '/api/v2/dags/api_loose/dagRuns', { conf: { n: 0, calibrator: 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe('body.conf.n');
  });

  it("the DAG's params_schema allows other keys (additionalProperties true); a strict DAG's does not", async () => {
    expect((await h.call('GET', '/api/v2/dags/api_loose')).json.params_schema.additionalProperties).toBe(true);
    expect((await h.call('GET', '/api/v2/dags/api_flow')).json.params_schema.additionalProperties).toBe(false);
  });

  it('a backfill keeps them in every run', async () => {
    const r = await h.call('POST', '/api/v2/backfills', { dag_id: 'api_loose', from_date: '2025-12-20T00:00:00Z', to_date: '2025-12-20T23:00:00Z', dag_run_conf: { band: 'C' } });
    expect(r.status).toBe(200);
    expect(r.json.dag_run_conf).toStrictEqual({ band: 'C' });
    await h.idle();
    expect(await shown('backfill__2025-12-20T03:00:00.000Z')).toStrictEqual({ params: { n: 2 }, conf: { band: 'C' } });
  });

  it('a triggerDag task passes them to the run it triggers', async () => {
    expect((await h.call('POST', '/api/v2/dags/api_loose_parent/dagRuns', { dag_run_id: 'p1' })).status).toBe(200);
    await h.idle();
    expect((await h.call('GET', '/api/v2/dags/api_loose_parent/dagRuns/p1')).json.state).toBe('success');
    const child = (await h.call('GET', '/api/v2/dags/api_loose/dagRuns?run_type=triggered')).json.dag_runs[0];
    expect(child.conf).toStrictEqual({ n: 3, band: 'L' });
    expect(await shown(child.dag_run_id)).toStrictEqual({ params: { n: 3 }, conf: { n: 3, band: 'L' } });
  });
});
