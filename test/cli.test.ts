import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { triggeredRunId } from '../lib/executor/task-runner.ts';

// The real CLI, as users run it: bin/airless.js under the Node 22 of the `node` devDependency.
const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const FIXTURES = 'test/fixtures/cli';
const HOME = mkdtempSync(path.join(os.tmpdir(), 'airless-cli-home-'));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function airless(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const base: NodeJS.ProcessEnv = { ...process.env, AIRLESS_HOME: HOME, NO_COLOR: '1', ...env };
  delete base['FORCE_COLOR'];
  if (!('AIRLESS_DAGS_FOLDER' in env)) delete base['AIRLESS_DAGS_FOLDER'];
  return new Promise((resolve) => {
    execFile(NODE, ['bin/airless.js', ...args], { cwd: ROOT, env: base, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const withFixtures = (...args: string[]) => airless([...args, '--dags-folder', FIXTURES]);

afterAll(() => rmSync(HOME, { recursive: true, force: true }));

describe('airless dags test --json', () => {
  it('prints exactly one JSON document, the run report, and exits 0', async () => {
    const r = await withFixtures('dags', 'test', 'cli_basic', '--conf', '{"n": 2}', '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { runId: string };
    expect(doc).toStrictEqual({
      dagId: 'cli_basic',
      runId: doc.runId,
      state: 'success',
      tasks: [
        { taskId: 'make-list', mapIndex: null, state: 'success', tryNumber: 1 },
        { taskId: 'stats.square', mapIndex: 0, state: 'success', tryNumber: 1 },
        { taskId: 'stats.square', mapIndex: 1, state: 'success', tryNumber: 1 },
        { taskId: 'stats.total', mapIndex: null, state: 'success', tryNumber: 1 },
      ],
    });
    expect(doc.runId).toMatch(/^manual__\d{4}-\d\d-\d\dT/);
    // What the DAG file printed at import went to stderr; task console output went to the try's log.
    expect(r.stdout).not.toContain('basic.ts imported');
    expect(r.stderr).toContain('basic.ts imported');
    const runDir = path.join(HOME, 'logs', 'dag_id=cli_basic', `run_id=${doc.runId}`);
    expect(readFileSync(path.join(runDir, 'task_id=make-list', 'attempt=1.log'), 'utf8')).toMatch(/INFO +- making 2 numbers\n/);
    expect(readFileSync(path.join(runDir, 'task_id=stats.total', 'attempt=1.log'), 'utf8')).toContain('adding 2 squares');
    expect(existsSync(path.join(runDir, 'task_id=stats.square', 'map_index=1', 'attempt=1.log'))).toBe(true);
  });

  it('a failing DAG exits 1; the report has the failed task at its last try and the upstream_failed one', async () => {
    const r = await withFixtures('dags', 'test', 'cli_failing', '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { runId: string };
    expect(doc).toStrictEqual({
      dagId: 'cli_failing',
      runId: doc.runId,
      state: 'failed',
      tasks: [
        { taskId: 'solve', mapIndex: null, state: 'failed', tryNumber: 2 },
        { taskId: 'report', mapIndex: null, state: 'upstream_failed', tryNumber: 0 },
      ],
    });
    const taskDir = path.join(HOME, 'logs', 'dag_id=cli_failing', `run_id=${doc.runId}`, 'task_id=solve');
    expect(readFileSync(path.join(taskDir, 'attempt=1.log'), 'utf8')).toContain('WARN  - attempt 1');
    const log = readFileSync(path.join(taskDir, 'attempt=2.log'), 'utf8');
    // The error with its traceback: the frame of the DAG file's line that threw (its TypeScript line), and none
    // of the runner's own frames or Node's internals.
    expect(log).toMatch(/ERROR - Error: calibration diverged\n {4}at .*test\/fixtures\/cli\/failing\.ts:6:11\)?\n/);
    expect(log).not.toMatch(/dist\/lib\/|node:internal/);
  });

  it('shows the runs the DAG triggered, recursively, with the conf they got', async () => {
    const r = await withFixtures('dags', 'test', 'cli_parent', '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { runId: string; triggeredRuns: { runId: string }[] };
    expect(doc).toStrictEqual({
      dagId: 'cli_parent',
      runId: doc.runId,
      state: 'success',
      tasks: [
        { taskId: 'pick_band', mapIndex: null, state: 'success', tryNumber: 1 },
        { taskId: 'run_child', mapIndex: null, state: 'success', tryNumber: 1 },
      ],
      triggeredRuns: [
        {
          dagId: 'cli_child',
          runId: triggeredRunId({ dagId: 'cli_parent', runId: doc.runId, taskId: 'run_child', mapIndex: -1, tryNumber: 1 }),
          state: 'success',
          tasks: [{ taskId: 'image', mapIndex: null, state: 'success', tryNumber: 1 }],
        },
      ],
    });
    const childLog = path.join(HOME, 'logs', 'dag_id=cli_child', `run_id=${doc.triggeredRuns[0]!.runId}`, 'task_id=image', 'attempt=1.log');
    expect(readFileSync(childLog, 'utf8')).toContain('done: success');
  });
});

describe('airless dags test (text)', () => {
  it('prints one line per state change, a summary table and where the logs are', async () => {
    const r = await withFixtures('dags', 'test', 'cli_basic');
    expect(r.code).toBe(0);
    const runId = /run (manual__\S+) {2}success/.exec(r.stdout)?.[1];
    expect(runId).toBeDefined();
    expect(r.stdout).toMatch(/ cli_basic {2}stats\.square\[2\] {2}queued {2}try 1\/1\n/);
    expect(r.stdout).toMatch(/ cli_basic {2}stats\.square\[2\] {2}success {2}try 1\/1\n/);
    expect(r.stdout).toMatch(/\nmake-list {16}success +1 +\S+\n/);
    expect(r.stdout).toMatch(/\nstats\.square +0-2 +success +1 +\S+\n/);
    expect(r.stdout).toContain(`Logs (one file per try):\n  ${path.join(HOME, 'logs', 'dag_id=cli_basic', `run_id=${runId}`)}\n`);
  });

  it('a failed run exits 1 and shows the tail of the failed try log', async () => {
    const r = await withFixtures('dags', 'test', 'cli_failing');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ cli_failing {2}solve {2}up_for_retry {2}try 1\/2 {2}Error: calibration diverged\n/);
    expect(r.stdout).toMatch(/\nsolve +failed +2 +\S+\nreport +upstream_failed +0 +-\n/);
    expect(r.stdout).toMatch(/solve failed on try 2\/2; its log \(.*task_id=solve\/attempt=2\.log\):\n.*INFO {2}- starting try 2 of 2\n.*WARN {2}- attempt 2\n.*ERROR - Error: calibration diverged\n +at .*failing\.ts:6:11/);
  });
});

describe('airless dags test: live log lines, --quiet, --skip-waits', () => {
  it("prints each try's log lines as they come, after the task, its map index and the try; --skip-waits skips the hour's retry delay", async () => {
    const r = await airless(['dags', 'test', 'hour_retry', '--skip-waits', '--dags-folder', 'test/fixtures/cli-live']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    // console.log of task code, attributed to its try; the traceback of the failed try under its error line.
    expect(at(/^\d\d:\d\d:\d\d\.\d{3} {2}hour_retry {2}flaky {2}try 1 {2}INFO {3}hello from try 1$/)).toBeGreaterThan(-1);
    const error = at(/ {2}flaky {2}try 1 {2}ERROR {2}Error: first try fails$/);
    expect(error).toBeGreaterThan(-1);
    expect(lines[error + 1]).toMatch(/^ {4}at .*cli-live\/hour_retry\.ts:7:\d+\)?$/);
    expect(at(/ {2}flaky {2}try 2 {2}INFO {3}hello from try 2$/)).toBeGreaterThan(error);
    expect(at(/ {2}mapped\[1\] {2}try 1 {2}INFO {3}item 2$/)).toBeGreaterThan(-1);
    // The hour passed on the run's clock: the second try started an hour after the first ended.
    const time = (l: string) => l.slice(0, 12);
    const firstEnd = time(lines[error]!);
    const secondStart = time(lines[at(/ {2}flaky {2}try 2 {2}INFO {3}starting try 2/)]!);
    const ms = (t: string) => Date.parse(`1970-01-01T${t}Z`);
    expect((ms(secondStart) - ms(firstEnd) + 86_400_000) % 86_400_000).toBeGreaterThanOrEqual(3_600_000);
    expect(r.stdout).toContain('(--skip-waits: 1h of waits skipped)');
  });

  it('--inspect waits for a debugger before loading the DAGs, says how to attach, and runs once one has attached', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, AIRLESS_HOME: HOME, NO_COLOR: '1' };
    delete env['AIRLESS_DAGS_FOLDER'];
    const child = spawn(NODE, ['bin/airless.js', 'dags', 'test', 'hour_retry', '--skip-waits', '--quiet', '--inspect', '127.0.0.1:0', '--dags-folder', 'test/fixtures/cli-live'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let socket: WebSocket | null = null;
    let answered = false;
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      const url = /^ {2}(ws:\/\/\S+)$/m.exec(stderr)?.[1];
      if (url !== undefined && socket === null) {
        // Nothing has run yet: the DAG's tasks start only after the debugger says "run".
        expect(stdout).toBe('');
        socket = new WebSocket(url);
        socket.onopen = () => socket!.send(JSON.stringify({ id: 1, method: 'Runtime.runIfWaitingForDebugger' }));
        socket.onmessage = (m) => {
          if (String(m.data).includes('"id":1')) answered = true;
        };
      }
      // At exit, Node waits for the attached debugger to go.
      if (stderr.includes('Waiting for the debugger to disconnect')) socket?.close();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, stderr).toBe(0);
    expect(answered).toBe(true);
    expect(stderr).toMatch(/Waiting for a debugger on 127\.0\.0\.1:\d+ \(the DAG's code loads once one is attached\):/);
    expect(stderr).toMatch(/VS Code: Run and Debug > "Attach" to port \d+/);
    expect(stderr).toMatch(/Chrome: {2}open chrome:\/\/inspect/);
    expect(stdout).toMatch(/DAG hour_retry {2}run \S+ {2}success/);
  }, 60_000);

  it('--quiet prints the state changes and the summary, not the log lines', async () => {
    const r = await airless(['dags', 'test', 'hour_retry', '--skip-waits', '--quiet', '--dags-folder', 'test/fixtures/cli-live']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/ {2}try \d {2}(INFO|ERROR) /);
    expect(r.stdout).toMatch(/ {2}hour_retry {2}flaky {2}success {2}try 2\/2\n/);
  });
});

describe('airless dags test: usage errors exit 2', () => {
  it('conf that fails the params schema names the param; nothing on stdout in --json mode', async () => {
    const r = await withFixtures('dags', 'test', 'cli_basic', '--conf', '{"n": 0}', '--json');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("error: invalid --conf: ParamValidationError: DAG 'cli_basic', field 'params.n': param 'n' = 0 is invalid: value must be >= 1");
  });

  it('conf keys that are not params are kept in the conf (the DAG has no strictConf), params still checked', async () => {
    const r = await withFixtures('dags', 'test', 'cli_basic', '--conf', '{"n": 1, "nchan": 4}', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dagId: 'cli_basic', state: 'success' });
  });

  it('conf that is not JSON, or not an object', async () => {
    const notJson = await withFixtures('dags', 'test', 'cli_basic', '--conf', '{n: 1}');
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('error: --conf is not valid JSON');
    const array = await withFixtures('dags', 'test', 'cli_basic', '--conf', '[1]');
    expect(array.code).toBe(2);
    expect(array.stderr).toContain('error: --conf must be a JSON object');
  });

  it('an unknown DAG lists the DAGs there are and the files that failed to import', async () => {
    const r = await withFixtures('dags', 'test', 'no_such_dag');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: no DAG 'no_such_dag' in ${FIXTURES} (DAGs: cli_basic, cli_child, cli_failing, cli_parent)`);
    expect(r.stderr).toContain('1 file failed to import (one may define it; see airless dags list-import-errors):\n  file broken.ts: DagCycleError');
  });

  it("a DAG whose file fails to import prints the file's error", async () => {
    const r = await withFixtures('dags', 'test', 'cli_broken');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: DAG 'cli_broken' failed to import:\n  file broken.ts: DagCycleError: DAG 'cli_broken': cycle detected: a -> b -> a");
  });

  it('unknown commands and options are commander errors, exit 2', async () => {
    const cmd = await airless(['dags', 'tset']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain("error: unknown command 'tset'");
    const opt = await withFixtures('dags', 'list', '--bogus');
    expect(opt.code).toBe(2);
    expect(opt.stderr).toContain("error: unknown option '--bogus'");
  });

  it('a DAGs folder that does not exist', async () => {
    const r = await airless(['dags', 'list'], { AIRLESS_DAGS_FOLDER: 'test/fixtures/no-such-folder' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`DAGs folder '${path.join(ROOT, 'test/fixtures/no-such-folder')}' does not exist`);
  });
});

describe('airless dags list, list-import-errors, show', () => {
  it('dags list --json: id, file, schedule, tags, number of tasks (the folder from AIRLESS_DAGS_FOLDER)', async () => {
    const r = await airless(['dags', 'list', '--json'], { AIRLESS_DAGS_FOLDER: FIXTURES });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toStrictEqual([
      { dagId: 'cli_basic', file: 'basic.ts', schedule: null, tags: ['fixture', 'cli'], tasks: 3, paused: null },
      { dagId: 'cli_child', file: 'parent.ts', schedule: null, tags: [], tasks: 1, paused: null },
      { dagId: 'cli_failing', file: 'failing.ts', schedule: '0 2 * * *', tags: [], tasks: 2, paused: null },
      { dagId: 'cli_parent', file: 'parent.ts', schedule: null, tags: [], tasks: 2, paused: null },
    ]);
    expect(r.stderr).toContain('1 file failed to import; see: airless dags list-import-errors');
  });

  it('dags list: a table', async () => {
    const r = await withFixtures('dags', 'list');
    expect(r.code).toBe(0);
    // What a DAG file prints at import is a diagnostic: stderr, never in the command's output.
    expect(r.stdout).toMatch(/^dag_id +file +schedule +tags +tasks +paused\n/);
    expect(r.stderr).toContain('basic.ts imported');
    expect(r.stdout).toMatch(/\ncli_failing +failing\.ts +0 2 \* \* \* +2 +-\n/);
  });

  it('dags list-import-errors --json: each {file, error}, exit 0', async () => {
    const r = await withFixtures('dags', 'list-import-errors', '--json');
    expect(r.code).toBe(0);
    const errors = JSON.parse(r.stdout) as { file: string; error: string }[];
    expect(errors).toHaveLength(1);
    expect(Object.keys(errors[0]!)).toStrictEqual(['file', 'error']);
    expect(errors[0]!.file).toBe('broken.ts');
    expect(errors[0]!.error).toMatch(/^file broken\.ts: DagCycleError: DAG 'cli_broken': cycle detected: a -> b -> a\n {4}at broken\.ts:3:16\n/);
    // A code frame of that line, the column marked.
    expect(errors[0]!.error).toContain("> 3 | export default dag({ dagId: 'cli_broken' }, () => {\n    |                ^\n");
  });

  it('a syntax error and an import of a name that is not exported: file:line:col and a code frame; dags test shows it whole', async () => {
    // Unchecked: the type check would report the missing export first (TS2305), as the next test shows.
    const r = await airless(['dags', 'list-import-errors', '--json', '--no-typecheck', '--dags-folder', 'test/fixtures/import-places']);
    expect(r.code).toBe(0);
    const errors = JSON.parse(r.stdout) as { file: string; error: string }[];
    expect(errors.map((e) => e.file)).toStrictEqual(['syntax.ts', 'wrong-import.ts']);
    expect(errors[0]!.error).toBe(
      [
        'file syntax.ts: SyntaxError: Unexpected ";"',
        '    at syntax.ts:5:33',
        '',
        '  3 |',
        "  4 | export default dag({ dagId: 'syntax_error' }, ({ task }) => {",
        "> 5 |   task('a', () => { return (1 + ; });",
        '    |                                 ^',
        '  6 | });',
        '  7 |',
      ].join('\n'),
    );
    expect(errors[1]!.error).toMatch(/^file wrong-import\.ts: SyntaxError: The requested module 'airless' does not provide an export named 'nosuch'\n {4}at wrong-import\.ts:2:15\n/);
    expect(errors[1]!.error).toContain("> 2 | import { dag, nosuch } from 'airless';\n    |               ^");
    // dags test of the DAG whose file it is: the whole error, not its first line.
    const test = await airless(['dags', 'test', 'syntax_error', '--dags-folder', 'test/fixtures/import-places']);
    expect(test.code).toBe(2);
    expect(test.stderr).toContain("> 5 |   task('a', () => { return (1 + ; });");
  });

  it('type checked, the import of a name that is not exported is a type error, with its place', async () => {
    const r = await airless(['dags', 'list-import-errors', '--json', '--dags-folder', 'test/fixtures/import-places']);
    expect(r.code).toBe(0);
    const errors = JSON.parse(r.stdout) as { file: string; error: string }[];
    expect(errors.find((e) => e.file === 'wrong-import.ts')!.error).toMatch(/^wrong-import\.ts:2:15 - error TS2305: Module '"airless"' has no exported member 'nosuch'\./);
  });

  it('dags show: Mermaid with groups as subgraphs, mapped tasks marked, Mermaid-safe ids and the edges', async () => {
    const r = await withFixtures('dags', 'show', 'cli_basic');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'flowchart LR',
        '  subgraph g_stats ["stats"]',
        '    t_stats_square["stats.square [ ]"]',
        '    t_stats_total["stats.total"]',
        '  end',
        '  t_make_list["make-list"]',
        '  t_make_list --> t_stats_square',
        '  t_stats_square --> t_stats_total',
        '',
      ].join('\n'),
    );
  });

  it('dags show: a trigger task says which DAG it triggers', async () => {
    const r = await withFixtures('dags', 'show', 'cli_parent');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      ['flowchart LR', '  t_pick_band["pick_band"]', '  t_run_child[["run_child (triggers cli_child)"]]', '  t_pick_band --> t_run_child', ''].join('\n'),
    );
  });
});

describe('airless tasks test', () => {
  it('runs one task alone and prints its log and its result', async () => {
    const r = await withFixtures('tasks', 'test', 'cli_basic', 'make-list', '--conf', '{"n": 4}');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/INFO {2}- making 4 numbers\n/);
    expect(r.stdout).toContain('\nTask make-list of DAG cli_basic: success\nResult: [1,2,3,4]\n');
    expect(r.stdout).toMatch(/\nLog: .*dag_id=cli_basic\/run_id=test__[^/]+__make-list\/task_id=make-list\/attempt=1\.log\n/);
  });

  it('--json: the outcome, the error and the log; exit 1 on failure', async () => {
    const r = await withFixtures('tasks', 'test', 'cli_failing', 'solve', '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { log: { level: string; message: string }[] };
    expect({ ...doc, log: doc.log.map((l) => `${l.level}: ${l.message}`) }).toStrictEqual({
      dagId: 'cli_failing',
      taskId: 'solve',
      mapIndex: null,
      state: 'failed',
      error: 'Error: calibration diverged',
      errorInfo: { name: 'Error', message: 'calibration diverged' },
      result: null,
      // The error's line carries its traceback: the DAG file's frame (its TypeScript line), not the runner's.
      log: ['info: starting try 1 of 1', 'warn: attempt 1', `error: Error: calibration diverged\n    at task.retries (${ROOT}/test/fixtures/cli/failing.ts:6:11)`],
    });
  });

  it('an unknown task, or --map-index on a task that is not mapped, is a usage error', async () => {
    const unknown = await withFixtures('tasks', 'test', 'cli_basic', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: DAG 'cli_basic' has no task 'nope' (tasks: make-list, stats.square, stats.total)");
    const notMapped = await withFixtures('tasks', 'test', 'cli_basic', 'make-list', '--map-index', '1');
    expect(notMapped.code).toBe(2);
    expect(notMapped.stderr).toContain("error: task 'make-list' of DAG 'cli_basic' is not mapped: --map-index does not apply");
  });
});
