import { palette, useColor, type Palette } from '../ansi.ts';
import { paintState } from '../format.ts';
import { ok, requireRemote, type Answer, type RemoteOptions } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';
import { confirm } from './confirm.ts';

/** The states `dags set-run-state` takes. */
export const RUN_MARK_STATES = ['success', 'failed', 'queued'] as const;
/** The states `tasks set-state` takes. */
export const TI_MARK_STATES = ['success', 'failed', 'skipped'] as const;

export interface SetRunStateOptions extends RemoteOptions {
  /** Also set the run's note to this text. Default: the note is left as it is. */
  note?: string;
  /** Do not ask for confirmation. Default false (ask on a terminal; refuse without one). */
  yes?: boolean;
  /** Print the API's DAGRun object. Default false. */
  json?: boolean;
}

/**
 * `airless dags set-run-state <dagId> <runId> <state>`: mark a run success or failed (failed stops a
 * running one: its running tries are aborted), or queue a finished one again. Asks on a terminal unless --yes.
 */
export async function dagsSetRunState(term: Terminal, dagId: string, runId: string, state: string, o: SetRunStateOptions): Promise<number> {
  if (!(RUN_MARK_STATES as readonly string[]).includes(state)) throw new UsageError(`state '${state}' is not one of ${RUN_MARK_STATES.join(', ')}`);
  const json = o.json === true;
  if (json) term.reserveStdout();
  const remote = await requireRemote(o);
  const path = { dag_id: dagId, dag_run_id: runId };
  const before = await ok(remote, remote.api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path } }));
  const p = palette(!json && useColor(term.stdout));
  const what = state === 'failed' && (before.state === 'running' || before.state === 'queued') ? `Stop run ${runId} (${before.state}): mark it failed, abort its running tries` : `Mark run ${runId} (${before.state}) ${state}`;
  if (!(await confirm(term, `${what}?`, o.yes))) {
    await term.err('Cancelled, nothing changed\n');
    return EXIT.failed;
  }
  const body = { state: state as (typeof RUN_MARK_STATES)[number], ...(o.note !== undefined ? { note: o.note } : {}) };
  const run = await ok(remote, remote.api.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path }, body }));
  await term.out(json ? `${JSON.stringify(run)}\n` : `Run ${p.bold(run.dag_run_id)} of ${dagId}: ${paintState(before.state, p)} -> ${paintState(run.state, p)}\n`);
  return EXIT.ok;
}

export interface TasksSetStateOptions extends RemoteOptions {
  /** Only this map index of the task. Default: every instance of the task. */
  mapIndex?: number;
  /** Also the tasks upstream of it. Default false. */
  upstream?: boolean;
  /** Also the tasks downstream of it. Default false. */
  downstream?: boolean;
  /** Also the same tasks in later runs. Default false. */
  future?: boolean;
  /** Also the same tasks in earlier runs. Default false. */
  past?: boolean;
  /** Show what would be marked and change nothing. Default false. */
  dryRun?: boolean;
  /** Also set the instance's note to this text. Default: left as it is. */
  note?: string;
  /** Do not ask for confirmation. Default false (ask on a terminal; refuse without one). */
  yes?: boolean;
  /** Print the API's list of task instances marked (with --dry-run, as they are now). Default false. */
  json?: boolean;
}

type Marked = Answer<'/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', 'patch'>;

function render(res: Marked, p: Palette, title: string): string {
  if (!res.task_instances.length) return 'Nothing to mark';
  return [
    title,
    renderTable(
      ['dag_run_id', 'task_id', 'map_index', 'state'],
      res.task_instances.map((t) => [t.dag_run_id, p.bold(t.task_id), t.map_index >= 0 ? `${t.map_index}` : '', t.state === null ? 'no state' : paintState(t.state, p)]),
      { alignRight: [2] },
    ),
  ].join('\n');
}

/**
 * `airless tasks set-state <dagId> <runId> <taskId> <state>`: mark a task instance (and, with the
 * include options, related ones) success, failed or skipped. Shows what it would mark first; asks on a
 * terminal unless --yes; --dry-run changes nothing.
 */
export async function tasksSetState(term: Terminal, dagId: string, runId: string, taskId: string, state: string, o: TasksSetStateOptions): Promise<number> {
  if (!(TI_MARK_STATES as readonly string[]).includes(state)) throw new UsageError(`state '${state}' is not one of ${TI_MARK_STATES.join(', ')}`);
  const json = o.json === true;
  if (json) term.reserveStdout();
  const remote = await requireRemote(o);
  const body = {
    new_state: state as (typeof TI_MARK_STATES)[number],
    include_upstream: o.upstream === true,
    include_downstream: o.downstream === true,
    include_future: o.future === true,
    include_past: o.past === true,
  };
  const patch = (dryRun: boolean) => {
    const b = { ...body, dry_run: dryRun, ...(!dryRun && o.note !== undefined ? { note: o.note } : {}) };
    return o.mapIndex === undefined
      ? ok(remote, remote.api.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', { params: { path: { dag_id: dagId, dag_run_id: runId, task_id: taskId } }, body: b }))
      : ok(remote, remote.api.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}', { params: { path: { dag_id: dagId, dag_run_id: runId, task_id: taskId, map_index: o.mapIndex } }, body: b }));
  };
  const p = palette(!json && useColor(term.stdout));
  const preview = await patch(true);
  if (o.dryRun === true || !preview.task_instances.length) {
    await term.out(json ? `${JSON.stringify(preview)}\n` : `${render(preview, p, `Would mark ${state} (dry run, nothing changed):`)}\n`);
    return EXIT.ok;
  }
  if (o.yes !== true) {
    await term.err(`${render(preview, p, `Would mark ${state}:`)}\n`);
    const n = preview.task_instances.length;
    if (!(await confirm(term, `Mark these ${n} task instance${n > 1 ? 's' : ''} ${state}?`, o.yes))) {
      await term.err('Cancelled, nothing changed\n');
      return EXIT.failed;
    }
  }
  const result = await patch(false);
  await term.out(json ? `${JSON.stringify(result)}\n` : `${render(result, p, `Marked ${state}:`)}\n`);
  return EXIT.ok;
}
