import { errorMessage, skipInfo } from '../../errors.ts';
import { LocalRunner, type TaskTestResult } from '../../runner/local-runner.ts';
import { errorNote } from '../../store/records.ts';
import { palette, useColor } from '../ansi.ts';
import { parseConf } from '../conf.ts';
import { loadBag, requireDag, type GlobalOptions } from '../dag-lookup.ts';
import { airlessHome, formatLogLine, LogFileWriter, tryLogPath } from '../../standalone/log-files.ts';
import { RunTracker } from '../run-tracker.ts';
import { displayPath, paintError, paintState } from '../format.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export interface TasksTestOptions extends GlobalOptions {
  /** The run's conf, as JSON. Default '{}'. */
  conf?: string;
  /** Which instance of a mapped task. Default 0. */
  mapIndex?: number;
  /** Print only the result, as one JSON document. Default false. */
  json?: boolean;
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
    result = await runner.testTask({ dagId, taskId, conf, ...(mapIndex !== null ? { mapIndex } : {}) });
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
