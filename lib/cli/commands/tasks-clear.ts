import { palette, useColor, type Palette } from '../ansi.ts';
import { paintState } from '../format.ts';
import { ok, requireRemote, type Answer, type RemoteOptions } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';
import { confirm } from './confirm.ts';
import { remoteTasks } from './dags-show.ts';

export interface TasksClearOptions extends RemoteOptions {
  /** The run whose task instances to clear. Required. */
  runId: string;
  /** Clear the tasks whose id matches this regular expression. Default: every task. */
  taskRegex?: string;
  /** Clear these tasks (comma-separated ids). Default: every task. */
  taskIds?: string;
  /** Only instances that failed (failed or upstream_failed). Default false. */
  onlyFailed?: boolean;
  /** Also the tasks downstream of those chosen. Default false. */
  downstream?: boolean;
  /** Also the tasks upstream of those chosen. Default false. */
  upstream?: boolean;
  /** Show what would be cleared and change nothing. Default false. */
  dryRun?: boolean;
  /** Rerun the cleared tasks on the DAG's latest version (the run's version becomes it). Default false: on the run's own version. */
  runOnLatestVersion?: boolean;
  /** Do not ask for confirmation. Default false (ask on a terminal; refuse without one). */
  yes?: boolean;
  /** Print the API's clear result as JSON. Default false. */
  json?: boolean;
}

type ClearResult = Answer<'/api/v2/dags/{dag_id}/clearTaskInstances', 'post'>;

async function chosenTasks(o: TasksClearOptions, list: () => Promise<string[]>): Promise<string[] | undefined> {
  if (o.taskRegex !== undefined && o.taskIds !== undefined) throw new UsageError('give --task-regex or --task-ids, not both');
  if (o.taskIds !== undefined) {
    const ids = o.taskIds.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (!ids.length) throw new UsageError('--task-ids: no task id given');
    return ids;
  }
  if (o.taskRegex === undefined) return undefined;
  let re: RegExp;
  try {
    re = new RegExp(o.taskRegex);
  } catch (e) {
    throw new UsageError(`--task-regex is not a regular expression: ${(e as Error).message}`);
  }
  const all = await list();
  const ids = all.filter((id) => re.test(id));
  if (!ids.length) throw new UsageError(`--task-regex '${o.taskRegex}' matches no task (tasks: ${all.join(', ')})`);
  return ids;
}

function render(result: ClearResult, p: Palette, dryRun: boolean): string {
  const lines: string[] = [];
  if (!result.task_instances.length) lines.push('Nothing to clear');
  else {
    lines.push(dryRun ? 'Would clear (dry run, nothing changed):' : `Cleared; the run is ${paintState(result.dag_run_state, p)}:`);
    lines.push(
      renderTable(
        ['task_id', 'map_index', 'state', 'try', 'next_try', 'mode'],
        result.task_instances.map((t) => [p.bold(t.task_id), t.map_index >= 0 ? `${t.map_index}` : '', paintState(t.state, p), `${t.try_number}`, `${t.next_try}`, t.mode]),
        { alignRight: [1, 3, 4] },
      ),
    );
  }
  if (result.skipped.length) {
    lines.push('', 'Not cleared:');
    lines.push(renderTable(['task_id', 'map_index', 'state', 'reason'], result.skipped.map((t) => [t.task_id, t.map_index >= 0 ? `${t.map_index}` : '', paintState(t.state, p), t.reason])));
  }
  return lines.join('\n');
}

/**
 * `airless tasks clear <dagId> --run-id <id>`: clear task instances of a run so that they run again
 * (Airflow's clear: tries continue, retries count again). Shows what it would clear first; asks on a
 * terminal unless --yes; --dry-run changes nothing.
 */
export async function tasksClear(term: Terminal, dagId: string, o: TasksClearOptions): Promise<number> {
  const json = o.json === true;
  if (json) term.reserveStdout();
  const remote = await requireRemote(o);
  const taskIds = await chosenTasks(o, async () => (await remoteTasks(remote, dagId)).map((t) => t.task_id));
  const body = {
    dag_run_id: o.runId,
    ...(taskIds !== undefined ? { task_ids: taskIds } : {}),
    only_failed: o.onlyFailed === true,
    include_downstream: o.downstream === true,
    include_upstream: o.upstream === true,
    run_on_latest_version: o.runOnLatestVersion === true,
  };
  const clear = (dryRun: boolean) => ok(remote, remote.api.POST('/api/v2/dags/{dag_id}/clearTaskInstances', { params: { path: { dag_id: dagId } }, body: { ...body, dry_run: dryRun } }));
  const p = palette(!json && useColor(term.stdout));
  const preview = await clear(true);
  if (o.dryRun === true || !preview.task_instances.length) {
    await term.out(json ? `${JSON.stringify(preview)}\n` : `${render(preview, p, true)}\n`);
    return EXIT.ok;
  }
  if (o.yes !== true) {
    await term.err(`${render(preview, p, true)}\n`);
    const n = preview.task_instances.length;
    if (!(await confirm(term, `Clear these ${n} task instance${n > 1 ? 's' : ''} of run ${o.runId}${o.runOnLatestVersion === true ? " (to rerun on the DAG's latest version)" : ''}?`, o.yes))) {
      await term.err('Cancelled, nothing cleared\n');
      return EXIT.failed;
    }
  }
  const result = await clear(false);
  await term.out(json ? `${JSON.stringify(result)}\n` : `${render(result, p, false)}\n`);
  return EXIT.ok;
}
