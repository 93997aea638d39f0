import { beforeAll, describe, expect, it, vi } from 'vitest';
import { cli, DAGS, useStandalone } from './harness.ts';

// `airless tasks ...` and `airless backfill create` against a real standalone process.
const suite = useStandalone();
const remote = (...args: string[]) => cli([...args, '--endpoint', suite.server().url]);

interface Ti {
  task_id: string;
  map_index: number;
  state: string | null;
  try_number: number;
  note: string | null;
}
interface Cleared {
  task_instances: { task_id: string; map_index: number; state: string; try_number: number; next_try: number; mode: string }[];
  skipped: unknown[];
  dag_run_state: string;
}

const states = async (runId: string) => JSON.parse((await remote('tasks', 'states-for-dag-run', 'remote_flaky', runId, '--json')).stdout) as Ti[];

describe('tasks list', () => {
  it('--json: the API Tasks, in definition order; a table otherwise', async () => {
    const json = await remote('tasks', 'list', 'remote_greet', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toStrictEqual([
      { task_id: 'hello', task_display_name: 'hello', operator_name: 'task', trigger_rule: 'all_success', retries: 0, downstream_task_ids: ['repeat'], upstream_task_ids: [], is_mapped: false, group_id: null, pool: 'default_pool', doc_md: null, trigger_dag_id: null, is_setup: false, is_teardown: false, on_failure_fail_dagrun: false, depends_on_past: false, wait_for_downstream: false },
      { task_id: 'repeat', task_display_name: 'repeat', operator_name: 'task', trigger_rule: 'all_success', retries: 0, downstream_task_ids: [], upstream_task_ids: ['hello'], is_mapped: false, group_id: null, pool: 'default_pool', doc_md: null, trigger_dag_id: null, is_setup: false, is_teardown: false, on_failure_fail_dagrun: false, depends_on_past: false, wait_for_downstream: false },
    ]);
    const text = await remote('tasks', 'list', 'remote_flaky');
    expect(text.stdout).toBe(
      ['task_id  operator  trigger_rule  retries  downstream', '-------  --------  ------------  -------  ----------', 'solve    task      all_success         0  report', 'report   task      all_success         0', ''].join('\n'),
    );
    const unknown = await remote('tasks', 'list', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: .*'nope'/);
  });
});

describe('tasks states-for-dag-run, clear', () => {
  beforeAll(async () => {
    vi.stubEnv('AIRLESS_API_TOKEN', suite.server().token);
    const r = await cli(['dags', 'trigger', 'remote_flaky', '--run-id', 'flaky_1', '--wait', '--endpoint', suite.server().url]);
    expect(r.code).toBe(1);
    await cli(['dags', 'trigger', 'remote_flaky', '--run-id', 'flaky_2', '--wait', '--endpoint', suite.server().url]);
  });

  it('states-for-dag-run --json: every task instance of the run; a table with the error otherwise', async () => {
    const tis = await states('flaky_1');
    expect(tis.map((t) => [t.task_id, t.map_index, t.state, t.try_number, t.note])).toStrictEqual([
      ['solve', -1, 'failed', 1, 'Error: calibration diverged'],
      ['report', -1, 'upstream_failed', 0, null],
    ]);
    const text = await remote('tasks', 'states-for-dag-run', 'remote_flaky', 'flaky_1');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^task_id +map_index +state +try +start_date +end_date +duration +error\n/);
    expect(text.stdout).toMatch(/\nsolve +failed +1 +\S+ \S+ +\S+ \S+ +\S+ +Error: calibration diverged\n/);
    const unknown = await remote('tasks', 'states-for-dag-run', 'remote_flaky', 'no_such_run');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: .*no_such_run/);
  });

  it('clear --dry-run shows what would be cleared and changes nothing', async () => {
    const r = await remote('tasks', 'clear', 'remote_flaky', '--run-id', 'flaky_1', '--only-failed', '--dry-run', '--json');
    expect(r.code).toBe(0);
    const preview = JSON.parse(r.stdout) as Cleared;
    expect(preview.task_instances.map((t) => [t.task_id, t.state, t.next_try])).toStrictEqual([
      ['solve', 'failed', 2],
      ['report', 'upstream_failed', 1],
    ]);
    const text = await remote('tasks', 'clear', 'remote_flaky', '--run-id', 'flaky_1', '-t', 'solve', '--dry-run');
    expect(text.stdout).toMatch(/^Would clear \(dry run, nothing changed\):\ntask_id +map_index +state +try +next_try +mode\n-+.*\nsolve +failed +1 +2 +\w+\n$/);
    expect((await states('flaky_1')).map((t) => t.state)).toStrictEqual(['failed', 'upstream_failed']);
  });

  it('clear without --yes and without a terminal refuses (exit 2) and changes nothing', async () => {
    const r = await remote('tasks', 'clear', 'remote_flaky', '--run-id', 'flaky_1', '--only-failed');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pass --yes');
    expect((await states('flaky_1')).map((t) => t.state)).toStrictEqual(['failed', 'upstream_failed']);
  });

  it('clear --only-failed --yes reruns the failed task (its second try succeeds) and its downstream', async () => {
    const r = await remote('tasks', 'clear', 'remote_flaky', '--run-id', 'flaky_1', '--only-failed', '--yes');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Cleared; the run is (queued|running|success):\n/);
    expect(r.stdout).toMatch(/\nsolve +failed +1 +2 /);
    await vi.waitFor(async () => expect((await remote('dags', 'list-runs', 'remote_flaky', '--state', 'success', '--json')).stdout).toContain('"flaky_1"'), { timeout: 20_000, interval: 200 });
    expect((await states('flaky_1')).map((t) => [t.task_id, t.state, t.try_number])).toStrictEqual([
      ['solve', 'success', 2],
      ['report', 'success', 1],
    ]);
  });

  it('clear --task-regex with --downstream picks the tasks by id; a regex that matches nothing is a usage error', async () => {
    const r = await remote('tasks', 'clear', 'remote_flaky', '--run-id', 'flaky_2', '--task-regex', '^sol', '--downstream', '--dry-run', '--json');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Cleared).task_instances.map((t) => t.task_id)).toStrictEqual(['solve', 'report']);
    const none = await remote('tasks', 'clear', 'remote_flaky', '--run-id', 'flaky_2', '--task-regex', '^zzz', '--dry-run');
    expect(none.code).toBe(2);
    expect(none.stderr).toBe("error: --task-regex '^zzz' matches no task (tasks: solve, report)\n");
    const both = await remote('tasks', 'clear', 'remote_flaky', '--run-id', 'flaky_2', '--task-regex', 'a', '-t', 'solve');
    expect(both.code).toBe(2);
    const noRun = await remote('tasks', 'clear', 'remote_flaky', '-t', 'solve');
    expect(noRun.code).toBe(2);
    expect(noRun.stderr).toContain("required option '--run-id <id>' not specified");
  });
});

describe('backfill create', () => {
  const DAY = 86_400_000;
  const day = (n: number) => new Date(Math.floor(Date.now() / DAY) * DAY - n * DAY).toISOString().slice(0, 10);

  it('--dry-run lists the logical dates and what would happen to each; creates nothing', async () => {
    const r = await remote('backfill', 'create', '--dag-id', 'remote_daily', '--from-date', day(3), '--to-date', day(1), '--dry-run', '--json');
    expect(r.code).toBe(0);
    const dates = JSON.parse(r.stdout) as { logical_date: string; action: string; reason: string | null }[];
    expect(dates.map((d) => d.logical_date)).toStrictEqual([3, 2, 1].map((n) => `${day(n)}T00:00:00.000Z`));
    // catchup created these runs when the server started: reprocess 'none' skips them.
    expect(dates.map((d) => d.action)).toStrictEqual(['skip', 'skip', 'skip']);
    const text = await remote('backfill', 'create', '--dag-id', 'remote_daily', '--from-date', day(3), '--to-date', day(1), '--dry-run', '--reprocess-behavior', 'completed');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Dry run, nothing created: 3 logical dates\nlogical_date +action +run_id +existing_state +reason\n/);
    expect(text.stdout).toMatch(new RegExp(`\\n${day(1)} 00:00:00 +clear +scheduled__${day(1)}T00:00:00.000Z +success`));
  });

  it('creates a backfill that reruns the completed dates, with its own max active runs and conf; --json the API Backfill', async () => {
    await vi.waitFor(async () => {
      const runs = JSON.parse((await remote('dags', 'list-runs', 'remote_daily', '--json')).stdout) as { state: string }[];
      expect(runs.length && runs.every((x) => x.state === 'success')).toBe(true);
    }, { timeout: 20_000, interval: 200 });
    const r = await remote('backfill', 'create', '--dag-id', 'remote_daily', '--from-date', day(3), '--to-date', day(2), '--reprocess-behavior', 'completed', '--max-active-runs', '1', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dag_id: 'remote_daily', reprocess_behavior: 'completed', max_active_runs: 1, counts: { dates: 2, created: 0, cleared: 2, skipped: 0 } });
  });

  it('text output; bad dates, options and conf are usage errors (exit 2)', async () => {
    await vi.waitFor(async () => {
      const runs = JSON.parse((await remote('dags', 'list-runs', 'remote_daily', '--json')).stdout) as { state: string }[];
      expect(runs.every((x) => x.state === 'success')).toBe(true);
    }, { timeout: 20_000, interval: 200 });
    const r = await remote('backfill', 'create', '--dag-id', 'remote_daily', '--from-date', day(1), '--to-date', day(1), '--reprocess-behavior', 'completed');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Backfill \S+ of DAG 'remote_daily' (running|completed)\n.*\n {2}1 logical dates: 0 runs created, 1 cleared to run again, 0 skipped\n/);
    const badDate = await remote('backfill', 'create', '--dag-id', 'remote_daily', '--from-date', 'yesterday', '--to-date', day(1));
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toContain("--from-date 'yesterday' is not a date");
    expect((await remote('backfill', 'create', '--dag-id', 'remote_daily', '--from-date', day(2), '--to-date', day(1), '--reprocess-behavior', 'all')).code).toBe(2);
    const unscheduled = await remote('backfill', 'create', '--dag-id', 'remote_greet', '--from-date', day(2), '--to-date', day(1));
    expect(unscheduled.code).toBe(2);
    expect(unscheduled.stderr).toMatch(/^error: .*schedule/);
    const badConf = await remote('backfill', 'create', '--dag-id', 'remote_daily', '--from-date', day(2), '--to-date', day(1), '--conf', '{"x": 1}', '--dry-run');
    expect(badConf.code).toBe(2);
    expect(badConf.stderr).toMatch(/^error: .*'x'/);
  });
});

describe('tasks test: its input given (--input), or its upstreams\' results read from a run on the server (--from-run)', () => {
  beforeAll(async () => {
    vi.stubEnv('AIRLESS_API_TOKEN', suite.server().token);
    const r = await remote('dags', 'trigger', 'remote_greet', '--run-id', 'greet_ada', '--conf', '{"name": "Ada"}', '--wait');
    expect(r.code).toBe(0);
  });
  const test = (...args: string[]) => cli(['tasks', 'test', 'remote_greet', 'repeat', '--json', '--dags-folder', DAGS, ...args]);

  it("--from-run: the task reads what its upstream returned in that run; alone, it reads nothing", async () => {
    const from = await test('--from-run', 'greet_ada', '--endpoint', suite.server().url);
    expect(from.code, from.stderr).toBe(0);
    expect(JSON.parse(from.stdout)).toMatchObject({ state: 'success', result: ['hello Ada', 'hello Ada'] });
    const alone = await test();
    expect(JSON.parse(alone.stdout)).toMatchObject({ state: 'success', result: [null, null] });
  });

  it('--input: the task gets that value as its input', async () => {
    const r = await test('--input', '"hi there"');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'success', result: ['hi there', 'hi there'] });
  });

  it('refuses input that is not JSON, a run the server does not have, and both options at once', async () => {
    const bad = await test('--input', 'hi');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid --input: not JSON/);
    const missing = await test('--from-run', 'no_such_run', '--endpoint', suite.server().url);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--from-run: the server (");
    expect(missing.stderr).toContain("has no run 'no_such_run' of DAG 'remote_greet'");
    const both = await test('--input', '1', '--from-run', 'greet_ada');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--input and --from-run: give one');
  });
});
