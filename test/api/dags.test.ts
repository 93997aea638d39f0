import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.app.close();
});

describe('GET /api/v2/dags', () => {
  it('lists every loaded DAG with its schedule, tags and state', async () => {
    const r = await h.call('GET', '/api/v2/dags');
    expect(r.status).toBe(200);
    expect(r.json.total_entries).toBe(3);
    expect(r.json.dags.map((d: any) => d.dag_id)).toEqual(['api_daily', 'api_flaky', 'api_flow']);
    const daily = r.json.dags[0];
    expect(daily).toStrictEqual({
      dag_id: 'api_daily',
      dag_display_name: 'api_daily',
      description: null,
      fileloc: 'daily.ts',
      is_paused: false,
      tags: [],
      timetable_summary: '0 2 * * *',
      timetable_description: "Cron '0 2 * * *' (UTC)",
      max_active_runs: 16,
      max_active_tasks: 16,
      // duplicate-daily.ts defines api_daily again: an import error naming it.
      has_import_errors: true,
      next_dagrun_logical_date: null,
      last_parsed_time: null,
      dag_version: expect.any(String),
      max_consecutive_failed_dag_runs: 0,
      paused_reason: null,
      asset_expression: null,
    });
  });

  it('filters by dag_id_pattern, tags and paused, and pages', async () => {
    expect((await h.call('GET', '/api/v2/dags?dag_id_pattern=fl%25')).json.dags.map((d: any) => d.dag_id)).toEqual(['api_flaky', 'api_flow']);
    expect((await h.call('GET', '/api/v2/dags?tags=mapped')).json.dags.map((d: any) => d.dag_id)).toEqual(['api_flow']);
    expect((await h.call('GET', '/api/v2/dags?tags=mapped&tags=api')).json.total_entries).toBe(2);
    const page = await h.call('GET', '/api/v2/dags?limit=1&offset=1');
    expect(page.json).toMatchObject({ total_entries: 3, dags: [{ dag_id: 'api_flaky' }] });
    expect((await h.call('GET', '/api/v2/dags?paused=true')).json.total_entries).toBe(0);
  });

  it('refuses malformed queries naming the field', async () => {
    expect(await h.call('GET', '/api/v2/dags?limit=abc')).toStrictEqual({ status: 400, json: { detail: 'query.limit must be integer', field: 'query.limit' } });
    expect((await h.call('GET', '/api/v2/dags?limit=0')).json.field).toBe('query.limit');
    expect((await h.call('GET', '/api/v2/dags?paused=maybe')).json).toMatchObject({ field: 'query.paused' });
    expect(await h.call('GET', '/api/v2/dags?limt=5')).toStrictEqual({ status: 400, json: { detail: 'query.limt is not a known field', field: 'query.limt' } });
  });
});

describe('GET /api/v2/dags/{dag_id}', () => {
  it('gives the params and their JSON Schema', async () => {
    const r = await h.call('GET', '/api/v2/dags/api_flow');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      dag_id: 'api_flow',
      description: 'Squares and their total',
      tags: ['api', 'mapped'],
      params: { n: { type: 'integer', minimum: 1, maximum: 50, default: 3 }, label: { type: 'string', default: 'run' } },
      params_schema: {
        type: 'object',
        properties: { n: { type: 'integer', minimum: 1, maximum: 50, default: 3 }, label: { type: 'string', default: 'run' } },
        additionalProperties: false,
      },
      catchup: false,
      start_date: null,
      doc_md: '# Flow\nSquares.',
    });
  });

  it('answers 404 naming an unknown DAG', async () => {
    const r = await h.call('GET', '/api/v2/dags/nope');
    expect(r.status).toBe(404);
    expect(r.json.field).toBe('params.dag_id');
    expect(r.json.detail).toContain("DAG 'nope' not found");
  });
});

describe('PATCH /api/v2/dags/{dag_id}', () => {
  it('pauses and unpauses', async () => {
    const paused = await h.call('PATCH', '/api/v2/dags/api_daily', { is_paused: true });
    expect(paused).toMatchObject({ status: 200, json: { dag_id: 'api_daily', is_paused: true } });
    expect((await h.call('GET', '/api/v2/dags?paused=true')).json.dags.map((d: any) => d.dag_id)).toEqual(['api_daily']);
    expect((await h.call('GET', '/api/v2/dags/api_daily')).json.is_paused).toBe(true);
    const unpaused = await h.call('PATCH', '/api/v2/dags/api_daily', { is_paused: false });
    expect(unpaused.json.is_paused).toBe(false);
  });

  it('refuses a body that is not { is_paused: boolean }', async () => {
    expect(await h.call('PATCH', '/api/v2/dags/api_daily', { is_paused: 'yes' })).toStrictEqual({ status: 400, json: { detail: 'body.is_paused must be boolean', field: 'body.is_paused' } });
    expect((await h.call('PATCH', '/api/v2/dags/api_daily', {})).json).toStrictEqual({ detail: 'body.is_paused is required', field: 'body.is_paused' });
    expect((await h.call('PATCH', '/api/v2/dags/api_daily', { is_paused: true, paused: true })).json.field).toBe('body.paused');
    expect((await h.call('PATCH', '/api/v2/dags/nope', { is_paused: true })).status).toBe(404);
  });
});

describe('tasks', () => {
  it('lists the tasks of a DAG with their edges', async () => {
    const r = await h.call('GET', '/api/v2/dags/api_flow/tasks');
    expect(r.status).toBe(200);
    expect(r.json.total_entries).toBe(3);
    expect(r.json.tasks[1]).toStrictEqual({
      task_id: 'square',
      task_display_name: 'square',
      operator_name: 'task',
      trigger_rule: 'all_success',
      retries: 0,
      downstream_task_ids: ['total'],
      upstream_task_ids: ['make_list'],
      is_mapped: true,
      group_id: null,
      pool: 'default_pool',
      doc_md: null,
      trigger_dag_id: null,
      is_setup: false,
      is_teardown: false,
      on_failure_fail_dagrun: false,
      depends_on_past: false,
      wait_for_downstream: false,
    });
  });

  it('gets one task, or 404 naming it', async () => {
    expect((await h.call('GET', '/api/v2/dags/api_flaky/tasks/solve')).json).toMatchObject({ task_id: 'solve', retries: 1, downstream_task_ids: ['report'] });
    const r = await h.call('GET', '/api/v2/dags/api_flaky/tasks/nope');
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ field: 'params.task_id' });
    expect(r.json.detail).toContain("task 'nope' not found in DAG 'api_flaky'");
    expect((await h.call('GET', '/api/v2/dags/nope/tasks')).status).toBe(404);
  });
});

describe('GET /api/v2/importErrors', () => {
  it('lists the files that failed to import', async () => {
    const r = await h.call('GET', '/api/v2/importErrors');
    expect(r.status).toBe(200);
    expect(r.json.total_entries).toBe(2);
    expect(r.json.import_errors[0]).toMatchObject({ import_error_id: 1, filename: 'broken.ts', timestamp: null });
    expect(r.json.import_errors[0].stack_trace).toContain("DAG 'api_broken': cycle detected: a -> b -> a");
    expect(r.json.import_errors[1]).toMatchObject({ import_error_id: 2, filename: 'duplicate-daily.ts' });
    expect(r.json.import_errors[1].stack_trace).toContain("DAG 'api_daily': already defined in file daily.ts");
    expect((await h.call('GET', '/api/v2/importErrors?limit=1&offset=1')).json).toMatchObject({ total_entries: 2, import_errors: [{ import_error_id: 2 }] });
    expect((await h.call('GET', '/api/v2/dags/api_flow')).json.has_import_errors).toBe(false);
  });
});
