import { errorMessage, skipInfo } from '../../errors.ts';
import { LocalRunner, type TaskTestResult } from '../../runner/local-runner.ts';
import { errorNote } from '../../store/records.ts';
import { palette, useColor } from '../ansi.ts';
import { parseConf } from '../conf.ts';
import { loadBag, requireDag } from '../dag-lookup.ts';
import { ok, requireRemote, type RemoteOptions } from '../remote.ts';
import type { Dag } from '../../authoring/dag.ts';
import { airlessHome, formatLogLine, LogFileWriter, tryLogPath } from '../../standalone/log-files.ts';
import { RunTracker } from '../run-tracker.ts';
import { displayPath, paintError, paintState } from '../format.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export interface TasksTestOptions extends RemoteOptions {
  /** The run's conf, as JSON. Default '{}'. */
  conf?: string;
  /** Which instance of a mapped task. Default 0. */
  mapIndex?: number;
  /** Print only the result, as one JSON document. Default false. */
  json?: boolean;
  /** The task's input as JSON (its argument; a mapped instance's item), instead of its upstreams' results. */
  input?: string;
  /** A run on the server whose XComs the task reads (its upstreams' results). */
  fromRun?: string;
}

/** `--input`: a JSON value. */
function parseInput(text: string): { value: unknown } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    throw new UsageError(`invalid --input: not JSON (${errorMessage(e)}): give the task's input as a JSON value, e.g. --input '[1, 2]' or --input '"text"'`);
  }
}

/**
 * `--from-run`: every XCom of the run `runId` of the DAG on the server (the API the other commands talk to),
 * but the tested task's own: what its upstreams returned and pushed, for the test run to read.
 */
async function xcomsOfRun(o: TasksTestOptions, dag: Dag, runId: string, taskId: string): Promise<{ taskId: string; mapIndex: number; key: string; value: unknown }[]> {
  const remote = await requireRemote(o);
  const run = await remote.api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path: { dag_id: dag.dagId, dag_run_id: runId } } });
  if (run.response.status === 404) throw new UsageError(`--from-run: the server (${remote.target.baseUrl}) has no run '${runId}' of DAG '${dag.dagId}'`);
  await ok(remote, Promise.resolve(run));
  const out: { taskId: string; mapIndex: number; key: string; value: unknown }[] = [];
  for (const t of dag.spec.tasks) {
    if (t.taskId === taskId) continue;
    const entries = await ok(remote, remote.api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries', { params: { path: { dag_id: dag.dagId, dag_run_id: runId, task_id: t.taskId } } }));
    for (const x of entries.xcom_entries) out.push({ taskId: t.taskId, mapIndex: x.map_index, key: x.key, value: x.value });
  }
  return out;
}

/** The JSON document of `tasks test --json`. */
export interface TaskTestDocument {
  dagId: string;
  taskId: string;
  mapIndex: number | null;
  state: 'success' | 'failed' | 'skipped';
  /** The failure as text, `"Name: message"`, or the reason of the skip. */
  error: string | null;
  /** The failure with its name and message apart (a skip's: name `SkipTask`, the reason as message). */
  errorInfo: { name: string; message: string } | null;
  /** The task's result (its XCom return value), null if none. */
  result: unknown;
  log: TaskTestResult['log'];
}

function stateOf(outcome: TaskTestResult['outcome']): TaskTestDocument['state'] {
  return outcome.kind === 'success' ? 'success' : outcome.kind === 'skip' ? 'skipped' : 'failed';
}

/**
 * `airless tasks test <dagId> <taskId>`: run one task instance alone (no dependency checks; as
 * Airflow's `tasks test`) and print its log and its result. Exit 0 on success or skip, 1 on failure.
 */
export async function tasksTest(term: Terminal, dagId: string, taskId: string, o: TasksTestOptions): Promise<number> {
  const json = o.json === true;
  if (json) term.reserveStdout();
  const conf = parseConf(o.conf);
  const bag = await loadBag(term, o);
  const dag = requireDag(bag, dagId);
  const spec = dag.taskIndex.get(taskId);
  if (!spec) throw new UsageError(`DAG '${dagId}' has no task '${taskId}' (tasks: ${[...dag.taskIndex.keys()].join(', ')})`);
  if (o.mapIndex !== undefined && !spec.mapping) throw new UsageError(`task '${taskId}' of DAG '${dagId}' is not mapped: --map-index does not apply`);
  const mapIndex = spec.mapping ? (o.mapIndex ?? 0) : null;
  if (o.input !== undefined && o.fromRun !== undefined) throw new UsageError('--input and --from-run: give one (the input itself, or the run whose XComs the task reads)');
  const input = o.input !== undefined ? parseInput(o.input) : null;
  const xcoms = o.fromRun !== undefined ? await xcomsOfRun(o, dag, o.fromRun, taskId) : null;

  const home = airlessHome();
  const p = palette(!json && useColor(term.stdout));
  const tracker = new RunTracker();
  const logs = new LogFileWriter(home);
  const runner = new LocalRunner({ dags: bag });
  let testRunId: string | null = null;
  // Never `console` in here: a 'log' event is delivered inside the task's try, whose console is captured.
  runner.on((e) => {
    tracker.handle(e);
    if (e.type === 'log') {
      logs.add(e.key, e.tryNumber, e.line);
      if (!json && e.key.taskId === taskId && e.key.runId.startsWith('test__')) {
        testRunId = e.key.runId;
        term.stdout.write(`${formatLogLine(e.line)}\n`);
      }
    }
    if (e.type === 'error') term.stderr.write(`internal error in ${e.where}: ${errorMessage(e.error)}\n`);
  });

  let result: TaskTestResult;
  try {
    result = await runner.testTask({ dagId, taskId, conf, ...(mapIndex !== null ? { mapIndex } : {}), ...(input ? { input } : {}), ...(xcoms ? { xcoms } : {}) });
  } catch (e) {
    if (e instanceof Error && e.name === 'ParamValidationError') throw new UsageError(`invalid --conf: ${errorMessage(e)}`);
    throw e;
  } finally {
    runner.close();
    logs.close();
  }

  const state = stateOf(result.outcome);
  const info = result.outcome.kind === 'failure' ? result.outcome.error : result.outcome.kind === 'skip' ? skipInfo(result.outcome.reason) : null;
  if (json) {
    const errorInfo = info === null ? null : { name: info.name, message: info.message };
    const doc: TaskTestDocument = { dagId, taskId, mapIndex, state, error: errorNote(info), errorInfo, result: result.value, log: result.log };
    await term.out(`${JSON.stringify(doc)}\n`);
  } else {
    const id = mapIndex !== null ? `${taskId}[${mapIndex}]` : taskId;
    const lines = [`Task ${id} of DAG ${dagId}: ${paintState(state, p)}`];
    if (state === 'success') {
      const compact = JSON.stringify(result.value);
      lines.push(`Result: ${compact.length <= 100 ? compact : JSON.stringify(result.value, null, 2)}`);
    }
    else if (info !== null) lines.push(`${state === 'failed' ? 'Error' : 'Reason'}: ${paintError(info, p)}`);
    const runId = testRunId ?? (await runner.store.listRuns({ dagId })).find((r) => r.runId.startsWith('test__'))?.runId;
    if (runId) lines.push(`Log: ${displayPath(tryLogPath(home, { dagId, runId, taskId, mapIndex: mapIndex ?? -1 }, 1))}`);
    await term.out(`\n${lines.join('\n')}\n`);
  }
  return state === 'failed' ? EXIT.failed : EXIT.ok;
}
