import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchJob, dag, task, triggerDag } from '../../lib/index.ts';
import { harness, type Harness } from './harness.ts';

let h: Harness;
const FLOW = '/api/v2/dags/api_flow/dagRuns/flow_run';
const FLAKY = '/api/v2/dags/api_flaky/dagRuns/flaky_run';

beforeAll(async () => {
  h = await harness();
  expect((await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { dag_run_id: 'flow_run', conf: { n: 3 } })).status).toBe(200);
  expect((await h.call('POST', '/api/v2/dags/api_flaky/dagRuns', { dag_run_id: 'flaky_run' })).status).toBe(200);
  await h.idle();
});
afterAll(async () => {
  await h.app.close();
});

describe('taskInstances', () => {
  it('lists every task of the run, each map index of a mapped one', async () => {
    const r = await h.call('GET', `${FLOW}/taskInstances`);
    expect(r.status).toBe(200);
    expect(r.json.total_entries).toBe(5);
    expect(r.json.task_instances.map((t: any) => [t.task_id, t.map_index, t.state])).toEqual([
      ['make_list', -1, 'success'],
      ['square', 0, 'success'],
      ['square', 1, 'success'],
      ['square', 2, 'success'],
      ['total', -1, 'success'],
    ]);
    expect(r.json.task_instances[0]).toStrictEqual({
      task_id: 'make_list',
      dag_id: 'api_flow',
      dag_run_id: 'flow_run',
      map_index: -1,
      state: 'success',
      try_number: 1,
      max_tries: 1,
      start_date: '2026-01-01T00:00:00.000Z',
      end_date: '2026-01-01T00:00:00.000Z',
      queued_when: '2026-01-01T00:00:00.000Z',
      duration: 0,
      operator_name: 'task',
      pool: 'default_pool',
      note: null,
      error: null,
      next_at: null,
      external_id: null,
    });
  });

  it('shows a task with no instance yet as state null, map index -1', async () => {
    const r = await h.call('GET', `${FLAKY}/taskInstances`);
    expect(r.json.task_instances.map((t: any) => [t.task_id, t.map_index, t.state, t.try_number])).toEqual([
      ['solve', -1, 'failed', 2],
      ['report', -1, 'upstream_failed', 0],
    ]);
    expect(r.json.task_instances[0].note).toBe('Error: calibration diverged');
    // Its stack as thrown, source-mapped to the DAG file's line that threw.
    expect(r.json.task_instances[0].error).toStrictEqual({ name: 'Error', message: 'calibration diverged', stack: expect.stringMatching(/^Error: calibration diverged\n\s+at .*fixtures\/flaky\.ts:9:\d+/) });
    expect(r.json.task_instances[1]).toMatchObject({ note: null, error: null });
  });

  it('gets an instance with its tries, and a mapped one by map index', async () => {
    const r = await h.call('GET', `${FLAKY}/taskInstances/solve`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ task_id: 'solve', state: 'failed', try_number: 2, max_tries: 2 });
    // Try 1 went up for retry: it ended failed, with its own dates and error.
    expect(r.json.tries).toStrictEqual([
      { try_number: 1, state: 'failed', start_date: expect.any(String), end_date: expect.any(String), duration: expect.any(Number), note: 'Error: calibration diverged', error: { name: 'Error', message: 'calibration diverged', stack: expect.stringMatching(/flaky\.ts:9:/) } },
      { try_number: 2, state: 'failed', start_date: r.json.start_date, end_date: r.json.end_date, duration: r.json.duration, note: 'Error: calibration diverged', error: { name: 'Error', message: 'calibration diverged', stack: expect.stringMatching(/flaky\.ts:9:/) } },
    ]);
    // The instance's error, its name and message apart (its stack stays in the store).
    expect(r.json.error).toStrictEqual({ name: 'Error', message: 'calibration diverged', stack: expect.stringMatching(/flaky\.ts:9:/) });
    expect(Date.parse(r.json.tries[0].end_date)).toBeLessThan(Date.parse(r.json.tries[1].start_date));
    const mapped = await h.call('GET', `${FLOW}/taskInstances/square/2`);
    expect(mapped.json).toMatchObject({ task_id: 'square', map_index: 2, state: 'success', tries: [{ try_number: 1, state: 'success' }] });
  });

  it('answers 404 naming a missing task, map index or run', async () => {
    expect(await h.call('GET', `${FLOW}/taskInstances/square`)).toMatchObject({ status: 404, json: { field: 'params.task_id' } });
    expect(await h.call('GET', `${FLOW}/taskInstances/square/7`)).toStrictEqual({
      status: 404,
      json: { detail: "task instance 'square' [map index 7] of DAG run 'flow_run' (DAG 'api_flow') not found", field: 'params.map_index' },
    });
    expect(await h.call('GET', `${FLOW}/taskInstances/nope`)).toMatchObject({ status: 404, json: { field: 'params.task_id' } });
    expect(await h.call('GET', '/api/v2/dags/api_flow/dagRuns/nope/taskInstances')).toMatchObject({ status: 404, json: { field: 'params.dag_run_id' } });
    expect(await h.call('GET', `${FLOW}/taskInstances/square/x`)).toStrictEqual({ status: 400, json: { detail: 'params.map_index must be integer', field: 'params.map_index' } });
  });

  it('lists the instances of a mapped task', async () => {
    const r = await h.call('GET', `${FLOW}/taskInstances/square/listMapped`);
    expect(r.json.total_entries).toBe(3);
    expect(r.json.task_instances.map((t: any) => t.map_index)).toEqual([0, 1, 2]);
    expect((await h.call('GET', `${FLOW}/taskInstances/make_list/listMapped`)).json).toStrictEqual({ task_instances: [], total_entries: 0 });
  });
});

describe('logs', () => {
  it("gives each try's log", async () => {
    const one = await h.call('GET', `${FLAKY}/taskInstances/solve/logs/1`);
    expect(one.status).toBe(200);
    expect(one.json.continuation_token).toBeNull();
    expect(one.json.content.map((l: any) => [l.level, l.event])).toContainEqual(['warn', 'attempt 1']);
    expect(one.json.content.some((l: any) => l.event.includes('attempt 2'))).toBe(false);
    const two = await h.call('GET', `${FLAKY}/taskInstances/solve/logs/2?map_index=-1`);
    expect(two.json.content.map((l: any) => l.event)).toContainEqual('attempt 2');
    expect(two.json.content.every((l: any) => typeof l.timestamp === 'string')).toBe(true);
  });

  it('answers 404 for a try that did not happen, 400 for a bad try number', async () => {
    expect(await h.call('GET', `${FLAKY}/taskInstances/solve/logs/3`)).toStrictEqual({
      status: 404,
      json: { detail: "task instance 'solve' [map index -1] of DAG run 'flaky_run' has no try 3 (tries so far: 2)", field: 'params.try_number' },
    });
    expect((await h.call('GET', `${FLAKY}/taskInstances/solve/logs/0`)).json.field).toBe('params.try_number');
    expect((await h.call('GET', `${FLAKY}/taskInstances/solve/logs/1?map_index=a`)).json.field).toBe('query.map_index');
    expect((await h.call('GET', `${FLAKY}/taskInstances/report/logs/1`)).status).toBe(404);
  });
});

describe('xcomEntries', () => {
  it("lists a task's results, every map index or one", async () => {
    const r = await h.call('GET', `${FLOW}/taskInstances/square/xcomEntries`);
    expect(r.status).toBe(200);
    expect(r.json.total_entries).toBe(3);
    expect(r.json.xcom_entries[1]).toStrictEqual({ key: 'return_value', timestamp: null, map_index: 1, task_id: 'square', dag_id: 'api_flow', run_id: 'flow_run', value: 4 });
    expect((await h.call('GET', `${FLOW}/taskInstances/square/xcomEntries?map_index=2`)).json.xcom_entries.map((x: any) => x.value)).toEqual([9]);
    expect((await h.call('GET', `${FLOW}/taskInstances/make_list/xcomEntries`)).json.xcom_entries[0].value).toEqual([1, 2, 3]);
  });

  it('lists pushed keys beside the result, by key', async () => {
    const r = await h.call('GET', `${FLOW}/taskInstances/total/xcomEntries`);
    expect(r.json.xcom_entries.map((x: any) => [x.key, x.map_index, x.value])).toStrictEqual([
      ['count', -1, 3],
      ['return_value', -1, 14],
    ]);
    expect(r.json.total_entries).toBe(2);
    expect((await h.call('GET', `${FLOW}/taskInstances/total/xcomEntries/count`)).json.value).toBe(3);
  });

  it('gets one entry, or 404 naming the key', async () => {
    expect((await h.call('GET', `${FLOW}/taskInstances/total/xcomEntries/return_value`)).json).toMatchObject({ key: 'return_value', map_index: -1, value: 14 });
    expect((await h.call('GET', `${FLOW}/taskInstances/square/xcomEntries/return_value?map_index=0`)).json.value).toBe(1);
    expect(await h.call('GET', `${FLOW}/taskInstances/total/xcomEntries/other`)).toMatchObject({ status: 404, json: { field: 'params.xcom_key' } });
    expect((await h.call('GET', `${FLOW}/taskInstances/nope/xcomEntries`)).status).toBe(404);
  });
});

describe('clearTaskInstances', () => {
  it('says what a dry run would clear (the default), then clears, and the task reruns', async () => {
    const dry = await h.call('POST', '/api/v2/dags/api_flaky/clearTaskInstances', { dag_run_id: 'flaky_run', task_ids: ['solve'], include_downstream: true, only_failed: true });
    expect(dry.status).toBe(200);
    expect(dry.json).toStrictEqual({
      task_instances: [
        { task_id: 'solve', map_index: -1, state: 'failed', try_number: 2, next_try: 3, mode: 'redecide' },
        { task_id: 'report', map_index: -1, state: 'upstream_failed', try_number: 0, next_try: 1, mode: 'redecide' },
      ],
      skipped: [],
      // What the run's state would become; a dry run changes nothing.
      dag_run_state: 'queued',
    });
    expect((await h.call('GET', FLAKY)).json.state).toBe('failed');

    const real = await h.call('POST', '/api/v2/dags/api_flaky/clearTaskInstances', { dag_run_id: 'flaky_run', task_ids: ['solve'], include_downstream: true, dry_run: false });
    expect(real.status).toBe(200);
    expect(real.json.task_instances.map((t: any) => t.task_id)).toEqual(['solve', 'report']);
    expect(['queued', 'running']).toContain(real.json.dag_run_state);
    await h.idle();
    expect((await h.call('GET', FLAKY)).json.state).toBe('success');
    const solve = (await h.call('GET', `${FLAKY}/taskInstances/solve`)).json;
    expect(solve).toMatchObject({ state: 'success', try_number: 3 });
    // The tries before the clear keep how they ended: try 1 up for retry (failed), try 2 failed.
    expect(solve.tries.map((t: any) => [t.try_number, t.state, t.note])).toEqual([
      [1, 'failed', 'Error: calibration diverged'],
      [2, 'failed', 'Error: calibration diverged'],
      [3, 'success', null],
    ]);
    expect(solve.tries.every((t: any) => t.start_date !== null && t.end_date !== null)).toBe(true);
    // report had not run (upstream_failed, try 0): it has just its new try.
    expect((await h.call('GET', `${FLAKY}/taskInstances/report`)).json.tries.map((t: any) => [t.try_number, t.state])).toEqual([[1, 'success']]);
    expect((await h.call('GET', `${FLAKY}/taskInstances/solve/logs/3`)).json.content.map((l: any) => l.event)).toContainEqual('attempt 3');
    // The logs of the earlier tries stay.
    expect((await h.call('GET', `${FLAKY}/taskInstances/solve/logs/1`)).json.content.map((l: any) => l.event)).toContainEqual('attempt 1');
  });

  it('refuses unknown runs, tasks and fields, naming them', async () => {
    expect(await h.call('POST', '/api/v2/dags/api_flaky/clearTaskInstances', { dag_run_id: 'nope' })).toMatchObject({ status: 404, json: { field: 'body.dag_run_id' } });
    expect(await h.call('POST', '/api/v2/dags/api_flaky/clearTaskInstances', { dag_run_id: 'flaky_run', task_ids: ['solve', 'nope'] })).toMatchObject({ status: 404, json: { field: 'body.task_ids[1]' } });
    expect(await h.call('POST', '/api/v2/dags/api_flaky/clearTaskInstances', { task_ids: ['solve'] })).toStrictEqual({ status: 400, json: { detail: 'body.dag_run_id is required', field: 'body.dag_run_id' } });
    expect((await h.call('POST', '/api/v2/dags/api_flaky/clearTaskInstances', { dag_run_id: 'flaky_run', dry_run: 'no' })).json.field).toBe('body.dry_run');
    expect((await h.call('POST', '/api/v2/dags/api_flaky/clearTaskInstances', { dag_run_id: 'flaky_run', map_indexes: [-2] })).json.field).toBe('body.map_indexes[0]');
    expect((await h.call('POST', '/api/v2/dags/nope/clearTaskInstances', { dag_run_id: 'flaky_run' })).status).toBe(404);
  });
});

describe('triggerDag tasks', () => {
  const child = dag({ dagId: 'api_child' }, () => {
    task('work', () => 'done');
  });
  const parent = dag({ dagId: 'api_parent' }, () => {
    triggerDag('run_child', { triggerDagId: 'api_child', conf: {}, waitForCompletion: true });
    task('after', () => 'after');
  });
  let t: Harness;
  beforeAll(async () => {
    t = await harness([child, parent]);
  });
  afterAll(async () => {
    await t.app.close();
  });

  it("a triggerDag task names the DAG it triggers; its instance's external_id is the triggered run, of that DAG", async () => {
    const tasks = (await t.call('GET', '/api/v2/dags/api_parent/tasks')).json.tasks;
    expect(tasks.map((x: any) => [x.task_id, x.operator_name, x.trigger_dag_id])).toEqual([
      ['run_child', 'triggerDag', 'api_child'],
      ['after', 'task', null],
    ]);
    expect((await t.call('GET', '/api/v2/dags/api_parent/tasks/run_child')).json.trigger_dag_id).toBe('api_child');
    expect((await t.call('POST', '/api/v2/dags/api_parent/dagRuns', { dag_run_id: 'parent_run' })).status).toBe(200);
    await t.idle();
    const ti = (await t.call('GET', '/api/v2/dags/api_parent/dagRuns/parent_run/taskInstances/run_child')).json;
    expect(ti).toMatchObject({ state: 'success', operator_name: 'triggerDag' });
    expect(ti.external_id).toEqual(expect.any(String));
    const triggered = await t.call('GET', `/api/v2/dags/api_child/dagRuns/${encodeURIComponent(ti.external_id)}`);
    expect(triggered.status).toBe(200);
    expect(triggered.json).toMatchObject({ dag_id: 'api_child', state: 'success', triggered_by_parent: { dag_id: 'api_parent', dag_run_id: 'parent_run', task_id: 'run_child' } });
  });
});

describe('tries of array children', () => {
  // Child 1 fails every try: its first try goes up for retry with the wave, its second fails.
  const arrays = dag({ dagId: 'api_arrays', defaultArgs: { retries: 1, retryDelay: '10s' } }, () => {
    const items = task('items', () => [0, 1, 2].map((i) => ({ environment: { ITEM: String(i) } })));
    batchJob('job', { command: ['sh', '-c', '[ "$ITEM" != 1 ] || exit 7'] }).expandKwargs(items);
  });
  let t: Harness;
  beforeAll(async () => {
    t = await harness([arrays]);
  });
  afterAll(async () => {
    await t.app.close();
  });

  it('a child that went up for retry with its wave has that try failed, with its error; one that passed has one try', async () => {
    expect((await t.call('POST', '/api/v2/dags/api_arrays/dagRuns', { dag_run_id: 'arrays_run' })).status).toBe(200);
    await t.idle();
    const base = '/api/v2/dags/api_arrays/dagRuns/arrays_run/taskInstances/job';
    const failed = (await t.call('GET', `${base}/1`)).json;
    expect(failed).toMatchObject({ state: 'failed', try_number: 2 });
    expect(failed.tries.map((x: any) => [x.try_number, x.state])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
    ]);
    // An error airless makes to describe the job's end keeps no stack: it would name airless's code.
    expect(failed.tries[0].error).toStrictEqual({ name: 'BatchJobFailedError', message: expect.stringMatching(/^Batch job api_arrays-job-[0-9a-f]{12}-g0-try1 child .* failed: .*exit code 7/), stack: null });
    expect(failed.tries[0].note).toBe(`BatchJobFailedError: ${failed.tries[0].error.message}`);
    expect(failed.tries[0].end_date).toEqual(expect.any(String));
    expect((await t.call('GET', `${base}/0`)).json.tries.map((x: any) => [x.try_number, x.state])).toEqual([[1, 'success']]);
  });
});
