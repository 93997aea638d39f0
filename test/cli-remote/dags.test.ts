import { describe, expect, it } from 'vitest';
import { cli, useStandalone } from './harness.ts';

// `airless dags ...` against a real standalone process, pointed at with --endpoint and AIRLESS_API_TOKEN.
const suite = useStandalone();
const remote = (...args: string[]) => cli([...args, '--endpoint', suite.server().url]);

interface Run {
  dag_run_id: string;
  dag_id: string;
  state: string;
  run_type: string;
  conf: Record<string, unknown>;
  logical_date: string;
}

describe('dags list, list-import-errors, show (from the server)', () => {
  it('dags list --json: the same entries as from the folder, with paused from the server', async () => {
    const r = await remote('dags', 'list', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toStrictEqual([
      { dagId: 'remote_daily', file: 'daily.ts', schedule: '0 0 * * *', tags: [], tasks: 1, paused: false },
      { dagId: 'remote_flaky', file: 'flaky.ts', schedule: null, tags: ['fixture'], tasks: 2, paused: false },
      { dagId: 'remote_greet', file: 'greet.ts', schedule: null, tags: ['fixture', 'remote'], tasks: 2, paused: false },
      { dagId: 'remote_parent', file: 'parent.ts', schedule: null, tags: [], tasks: 1, paused: false },
      { dagId: 'remote_scratch', file: 'scratch.ts', schedule: null, tags: [], tasks: 1, paused: false },
    ]);
    expect(r.stderr).toBe('1 file failed to import; see: airless dags list-import-errors\n');
  });

  it('dags list: a table', async () => {
    const r = await remote('dags', 'list');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^dag_id +file +schedule +tags +tasks +paused\n/);
    expect(r.stdout).toMatch(/\nremote_greet +greet\.ts +None +fixture, remote +2 +no\n/);
  });

  it('dags list-import-errors: the file and its error, --json each {file, error}', async () => {
    const json = await remote('dags', 'list-import-errors', '--json');
    expect(json.code).toBe(0);
    const errors = JSON.parse(json.stdout) as { file: string; error: string }[];
    expect(errors).toHaveLength(1);
    expect(Object.keys(errors[0]!)).toStrictEqual(['file', 'error']);
    expect(errors[0]!.file).toBe('broken.ts');
    expect(errors[0]!.error).toContain("DagCycleError: DAG 'remote_broken': cycle detected: a -> b -> a");
    const text = await remote('dags', 'list-import-errors');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^broken\.ts\n {2}file broken\.ts: DagCycleError/);
  });

  it('dags show: the Mermaid graph from the API', async () => {
    const r = await remote('dags', 'show', 'remote_flaky');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(['flowchart LR', '  t_solve["solve"]', '  t_report["report"]', '  t_solve --> t_report', ''].join('\n'));
  });

  it('an unknown DAG is a usage error naming it (exit 2)', async () => {
    for (const args of [['dags', 'show', 'nope'], ['dags', 'trigger', 'nope'], ['dags', 'list-runs', 'nope'], ['dags', 'pause', 'nope']]) {
      const r = await remote(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^error: .*'nope'/);
    }
  });
});

describe('dags trigger', () => {
  it('creates a run with the conf and the run id given; --json prints the API DAGRun', async () => {
    const r = await remote('dags', 'trigger', 'remote_greet', '--conf', '{"name": "radio"}', '--run-id', 'greet_1', '--json');
    expect(r.code).toBe(0);
    const run = JSON.parse(r.stdout) as Run;
    expect(run).toMatchObject({ dag_id: 'remote_greet', dag_run_id: 'greet_1', run_type: 'manual', conf: { name: 'radio' } });
    expect(['queued', 'running', 'success']).toContain(run.state);
  });

  it('without --json, one line naming the run', async () => {
    const r = await remote('dags', 'trigger', 'remote_greet', '--run-id', 'greet_2');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Triggered DAG 'remote_greet': run greet_2 (queued|running|success)\n$/);
  });

  it('an existing run id is refused (409, exit 2)', async () => {
    const r = await remote('dags', 'trigger', 'remote_greet', '--run-id', 'greet_1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*greet_1/);
  });

  it('a conf that breaks a param is refused by the server, naming the param (exit 2); other keys are kept', async () => {
    const bad = await remote('dags', 'trigger', 'remote_greet', '--conf', '{"count": 0}');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: .*'count'/);
    // A key that is not a param is kept in the run's conf (the DAG has no strictConf), the params still checked.
    const extra = await remote('dags', 'trigger', 'remote_greet', '--conf', '{"nme": "x"}', '--run-id', 'greet_extra_conf', '--json');
    expect(extra.code, extra.stderr).toBe(0);
    expect(JSON.parse(extra.stdout)).toMatchObject({ dag_run_id: 'greet_extra_conf', conf: { nme: 'x' } });
    const notJson = await remote('dags', 'trigger', 'remote_greet', '--conf', '{name}');
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/^error: --conf is not valid JSON/);
  });

  it('--wait follows a run that succeeds: a line per state change when not a terminal, the summary, exit 0', async () => {
    const r = await remote('dags', 'trigger', 'remote_greet', '--run-id', 'greet_wait', '--wait');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Triggered DAG 'remote_greet': run greet_wait; following it on --endpoint http:/);
    expect(r.stdout).toMatch(/\n\S+ {2}remote_greet {2}repeat {2}success {2}try 1\/1\n/);
    expect(r.stdout).toMatch(/\nDAG remote_greet {2}run greet_wait {2}success/);
    expect(r.stdout).toMatch(/\nhello +success +1 +\S+\nrepeat +success +1 +\S+\n$/);
  });

  it('--wait follows the runs its triggerDag tasks start, and their tasks', async () => {
    const r = await remote('dags', 'trigger', 'remote_parent', '--run-id', 'parent_wait', '--wait');
    expect(r.code).toBe(0);
    // The child run's own tasks, as they change, between the parent's lines.
    expect(r.stdout).toMatch(/\n\S+ {2}remote_greet {2}hello {2}success {2}try 1\/1\n/);
    expect(r.stdout).toMatch(/\n\S+ {2}remote_greet {2}repeat {2}success {2}try 1\/1\n/);
    expect(r.stdout).toMatch(/\n\S+ {2}remote_parent {2}greet_child {2}success {2}try 1\/1\n/);
    expect(r.stdout.indexOf('remote_greet  repeat  success')).toBeLessThan(r.stdout.indexOf('remote_parent  greet_child  success'));
    expect(r.stdout).toMatch(/\nDAG remote_parent {2}run parent_wait {2}success/);
  });

  it('--wait on a terminal draws the live view of dags test', async () => {
    const r = await cli(['dags', 'trigger', 'remote_greet', '--run-id', 'greet_tty', '--wait', '--endpoint', suite.server().url], { tty: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('\x1b[?25l'); // the cursor hidden while the view redraws
    expect(r.stdout).toMatch(/✓ remote_greet {2}success .* greet_tty/);
    expect(r.stdout).toMatch(/ {2}✓ hello +success +try 1\/1/);
  });

  it('--wait follows a run that fails: the failed task, its error and its log, exit 1', async () => {
    const r = await remote('dags', 'trigger', 'remote_flaky', '--run-id', 'flaky_wait', '--wait');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\nDAG remote_flaky {2}run flaky_wait {2}failed/);
    expect(r.stdout).toMatch(/\nreport +upstream_failed +0 +-\n/);
    expect(r.stdout).toContain('\nsolve failed on try 1/1: Error: calibration diverged\n');
    expect(r.stdout).toMatch(/\n {2}\[\S+\] ERROR - Error: calibration diverged\n/);
  });

  it('--wait --json prints only the finished run; the failed tasks go to stderr', async () => {
    const r = await remote('dags', 'trigger', 'remote_flaky', '--run-id', 'flaky_json', '--wait', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ dag_run_id: 'flaky_json', state: 'failed' });
    expect(r.stderr).toContain('solve failed on try 1/1: Error: calibration diverged');
  });
});

describe('dags list-runs', () => {
  it('--json: the API DAGRuns, newest first; --state and --limit filter', async () => {
    const all = await remote('dags', 'list-runs', 'remote_flaky', '--json');
    expect(all.code).toBe(0);
    const runs = JSON.parse(all.stdout) as Run[];
    expect(runs.map((r) => r.dag_run_id)).toStrictEqual(['flaky_json', 'flaky_wait']);
    const failed = JSON.parse((await remote('dags', 'list-runs', 'remote_greet', '--state', 'failed', '--json')).stdout) as Run[];
    expect(failed).toStrictEqual([]);
    const one = JSON.parse((await remote('dags', 'list-runs', 'remote_greet', '--limit', '1', '--json')).stdout) as Run[];
    expect(one).toHaveLength(1);
  });

  it('a table; a bad --state or --limit is a usage error', async () => {
    const r = await remote('dags', 'list-runs', 'remote_flaky');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^dag_id +run_id +state +run_type +logical_date +start_date +end_date\n/);
    expect(r.stdout).toMatch(/\nremote_flaky +flaky_wait +failed +manual +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    expect((await remote('dags', 'list-runs', 'remote_flaky', '--state', 'done')).code).toBe(2);
    expect((await remote('dags', 'list-runs', 'remote_flaky', '--limit', '0')).code).toBe(2);
  });
});

describe('dags pause, unpause', () => {
  it('show in dags list; --json prints the API DAG', async () => {
    const paused = await remote('dags', 'pause', 'remote_daily');
    expect(paused.code).toBe(0);
    expect(paused.stdout).toBe("DAG 'remote_daily' is paused\n");
    const list = JSON.parse((await remote('dags', 'list', '--json')).stdout) as { dagId: string; paused: boolean }[];
    expect(list.find((d) => d.dagId === 'remote_daily')?.paused).toBe(true);
    expect((await remote('dags', 'list')).stdout).toMatch(/\nremote_daily +daily\.ts +0 0 \* \* \* +1 +yes\n/);
    const unpaused = await remote('dags', 'unpause', 'remote_daily', '--json');
    expect(unpaused.code).toBe(0);
    expect(JSON.parse(unpaused.stdout)).toMatchObject({ dag_id: 'remote_daily', is_paused: false });
    const again = JSON.parse((await remote('dags', 'list', '--json')).stdout) as { dagId: string; paused: boolean }[];
    expect(again.find((d) => d.dagId === 'remote_daily')?.paused).toBe(false);
  });
});

describe('dags delete', () => {
  it('refuses without --yes when not on a terminal (exit 2); with --yes deletes the runs', async () => {
    expect((await remote('dags', 'trigger', 'remote_scratch', '--run-id', 'scratch_1', '--wait')).code).toBe(0);
    const refused = await remote('dags', 'delete', 'remote_scratch');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error: Delete every record of DAG 'remote_scratch' .*pass --yes/);
    expect(JSON.parse((await remote('dags', 'list-runs', 'remote_scratch', '--json')).stdout)).toHaveLength(1);
    const deleted = await remote('dags', 'delete', 'remote_scratch', '--yes');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toBe("Deleted the records of DAG 'remote_scratch'\n");
    expect(JSON.parse((await remote('dags', 'list-runs', 'remote_scratch', '--json')).stdout)).toStrictEqual([]);
    // The DAG itself stays: its file is in the DAGs folder.
    expect((await remote('dags', 'list', '--json')).stdout).toContain('"remote_scratch"');
  });
});
