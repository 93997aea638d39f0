import { palette, useColor } from '../ansi.ts';
import { parseConf } from '../conf.ts';
import { paintState } from '../format.ts';
import { ok, requireRemote, type RemoteOptions } from '../remote.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT } from '../usage-error.ts';
import { failedTasks, renderWatchSummary, watchRun } from './run-watch.ts';

export interface TriggerOptions extends RemoteOptions {
  /** The run's conf, as JSON (checked by the server against the DAG's params). Default '{}'. */
  conf?: string;
  /** The run's id (unique in its DAG). Default: the server's (`manual__<logical date>` with a logical date, else `manual__<now>_<8 random letters and digits>`). */
  runId?: string;
  /** The run's logical date (ISO-8601). Default: now. */
  logicalDate?: string;
  /** Follow the run until it ends; exit 0 if it succeeded, 1 if it failed. Default false. */
  wait?: boolean;
  /** Print the API's DAGRun object (with --wait, the finished run). Default false. */
  json?: boolean;
}

/**
 * `airless dags trigger <dagId>`: create a run on the server. With `--wait`, follow it (the live view
 * on a terminal, a line per state change otherwise) and exit with its outcome.
 */
export async function dagsTrigger(term: Terminal, dagId: string, o: TriggerOptions): Promise<number> {
  const json = o.json === true;
  if (json) term.reserveStdout();
  const conf = parseConf(o.conf);
  const remote = await requireRemote(o);
  const body = { conf, ...(o.runId !== undefined ? { dag_run_id: o.runId } : {}), ...(o.logicalDate !== undefined ? { logical_date: o.logicalDate } : {}) };
  const run = await ok(remote, remote.api.POST('/api/v2/dags/{dag_id}/dagRuns', { params: { path: { dag_id: dagId } }, body }));
  const p = palette(!json && useColor(term.stdout));
  if (!o.wait) {
    await term.out(json ? `${JSON.stringify(run)}\n` : `Triggered DAG '${run.dag_id}': run ${p.bold(run.dag_run_id)} ${paintState(run.state, p)}\n`);
    return EXIT.ok;
  }
  if (!json) await term.out(`Triggered DAG '${run.dag_id}': run ${p.bold(run.dag_run_id)}; following it on ${remote.target.description}\n`);
  const result = await watchRun(term, remote, dagId, run.dag_run_id, p, json);
  if (json) {
    await term.out(`${JSON.stringify(result.run)}\n`);
    for (const line of await failedTasks(remote, result.tis, p)) await term.err(`${line}\n`);
  } else {
    await term.out(`\n${await renderWatchSummary(remote, result, p)}\n`);
  }
  return result.run.state === 'success' ? EXIT.ok : EXIT.failed;
}
