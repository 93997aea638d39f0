import { setTimeout as sleep } from 'node:timers/promises';
import { pipelineScopeOf, runKeyText, storedError, type DagRunRecord, type TaskInstanceRecord } from '../../store/records.ts';
import type { Palette } from '../ansi.ts';
import { paintError, paintState } from '../format.ts';
import { LiveView } from '../live-view.ts';
import { formatLogLine } from '../../standalone/log-files.ts';
import { ok, type Remote, type Schemas } from '../remote.ts';
import { summaryRows } from '../run-summary.ts';
import { RunTracker } from '../run-tracker.ts';
import { stateChangeLine } from '../state-lines.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';

/** How often `trigger --wait` asks the server for the run and its task instances. */
export const POLL_INTERVAL_MS = 500;

/** The API's run as the record the CLI's views read (fields the API does not give are neutral). */
export function runRecord(r: Schemas['DAGRun']): DagRunRecord {
  return {
    dagId: r.dag_id,
    runId: r.dag_run_id,
    state: r.state,
    runType: r.run_type,
    conf: r.conf,
    params: {},
    logicalDate: r.logical_date,
    queuedAt: r.queued_at,
    startDate: r.start_date,
    endDate: r.end_date,
    dagVersion: '',
    pending: 0,
    parent: r.triggered_by_parent ? { dagId: r.triggered_by_parent.dag_id, runId: r.triggered_by_parent.dag_run_id, taskId: r.triggered_by_parent.task_id, mapIndex: -1, tryNumber: 0 } : null,
    pipelineScope: pipelineScopeOf({ dagId: r.dag_id, runId: r.dag_run_id }),
    note: r.note,
    backfillId: r.backfill_id,
  };
}

/** The API's task instance as a record; null for a task with no instance yet. */
export function tiRecord(ti: Schemas['TaskInstance']): TaskInstanceRecord | null {
  if (ti.state === null) return null;
  return {
    dagId: ti.dag_id,
    runId: ti.dag_run_id,
    taskId: ti.task_id,
    mapIndex: ti.map_index,
    state: ti.state,
    tryNumber: ti.try_number,
    maxTries: ti.max_tries,
    queuedAt: ti.queued_when,
    startDate: ti.start_date,
    endDate: ti.end_date,
    nextAt: ti.next_at,
    firstPokeAt: null,
    pokeCount: 0,
    durationMs: ti.duration === null ? null : Math.round(ti.duration * 1000),
    error: ti.error ?? storedError(ti.note, ti.state),
    externalId: ti.external_id,
    resume: false,
  };
}

export interface WatchResult {
  run: Schemas['DAGRun'];
  tis: Schemas['TaskInstance'][];
}

async function poll(remote: Remote, dagId: string, runId: string): Promise<WatchResult> {
  const path = { dag_id: dagId, dag_run_id: runId };
  const [run, tis] = await Promise.all([
    ok(remote, remote.api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path } })),
    ok(remote, remote.api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances', { params: { path } })),
  ]);
  return { run, tis: tis.task_instances };
}

/** The DAG each `triggerDag` task of a DAG triggers, by task id (asked once per DAG). */
function triggerTargets(remote: Remote): (dagId: string) => Promise<Map<string, string>> {
  const cache = new Map<string, Promise<Map<string, string>>>();
  return (dagId) => {
    let targets = cache.get(dagId);
    if (!targets) {
      targets = ok(remote, remote.api.GET('/api/v2/dags/{dag_id}/tasks', { params: { path: { dag_id: dagId } } })).then(
        (r) => new Map(r.tasks.flatMap((t) => (t.trigger_dag_id ? [[t.task_id, t.trigger_dag_id] as const] : []))),
      );
      cache.set(dagId, targets);
    }
    return targets;
  };
}

/**
 * Follow a run on the server until it ends, with the runs its `triggerDag` tasks start (and theirs): on
 * a terminal, the live view of `dags test` (redrawn in place, triggered runs nested under their task);
 * otherwise one line per state change; nothing when `quiet`. A triggered run is asked for until it has
 * ended. Resolves with the final run and its task instances.
 */
export async function watchRun(term: Terminal, remote: Remote, dagId: string, runId: string, p: Palette, quiet: boolean): Promise<WatchResult> {
  const tracker = new RunTracker();
  const view = !quiet && term.interactive ? new LiveView(tracker, { getDag: () => undefined }, term.stdout, p) : null;
  const onSigint = () => {
    view?.stop();
    term.stderr.write(`\nstopped watching; run ${runId} goes on on ${remote.target.description}\n`, () => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  view?.start();
  const targetsOf = triggerTargets(remote);
  const ended = new Set<string>();
  try {
    for (;;) {
      let root: WatchResult | undefined;
      // Changes seen in one poll, printed in the order they happened (a child run's last task before the
      // parent's task that waited on it), whichever run they were read from first.
      const changes: { at: string; change: ReturnType<RunTracker['handle']> }[] = [];
      const queue = [{ dagId, runId }];
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const now = await poll(remote, next.dagId, next.runId);
        root ??= now;
        if (now.run.state === 'success' || now.run.state === 'failed') ended.add(runKeyText({ dagId: now.run.dag_id, runId: now.run.dag_run_id }));
        changes.push({ at: now.run.end_date ?? now.run.start_date ?? now.run.queued_at ?? '', change: tracker.handle({ type: 'run', run: runRecord(now.run) }) });
        const targets = await targetsOf(next.dagId);
        for (const ti of now.tis) {
          const rec = tiRecord(ti);
          if (rec) changes.push({ at: ti.end_date ?? ti.start_date ?? ti.queued_when ?? '', change: tracker.handle({ type: 'ti', ti: rec }) });
          const child = targets.get(ti.task_id);
          if (child !== undefined && ti.external_id !== null && !ended.has(runKeyText({ dagId: child, runId: ti.external_id }))) queue.push({ dagId: child, runId: ti.external_id });
        }
      }
      if (view) view.changed();
      else if (!quiet) {
        changes.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
        for (const { change } of changes) if (change) await term.out(`${stateChangeLine(change, p)}\n`);
      }
      if (root!.run.state === 'success' || root!.run.state === 'failed') return root!;
      await sleep(POLL_INTERVAL_MS);
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    view?.stop();
  }
}

/** The end of a watched run: a table of its tasks, then each failed task's error and the tail of its log. */
export async function renderWatchSummary(remote: Remote, result: WatchResult, p: Palette, tailLines = 20, maxFailed = 5): Promise<string> {
  const { run, tis } = result;
  const records = tis.map(tiRecord).filter((t): t is TaskInstanceRecord => t !== null);
  const taskIds = [...new Set(tis.map((t) => t.task_id))];
  const elapsed = run.start_date && run.end_date ? `  in ${((Date.parse(run.end_date) - Date.parse(run.start_date)) / 1000).toFixed(1)}s` : '';
  const lines = [`${p.bold(`DAG ${run.dag_id}`)}  run ${run.dag_run_id}  ${paintState(run.state, p)}${elapsed}`];
  if (run.note) lines.push(p.red(`note: ${run.note}`));
  lines.push(
    renderTable(
      ['task', 'map index', 'state', 'tries', 'duration'],
      summaryRows(taskIds, records).map((r) => [r.taskId, r.mapIndexes, paintState(r.state, p), r.tries, r.duration]),
      { alignRight: [3, 4] },
    ),
  );
  lines.push(...(await failedTasks(remote, tis, p, tailLines, maxFailed)));
  return lines.join('\n');
}

/** Each failed instance's error and the tail of its last try's log. */
export async function failedTasks(remote: Remote, tis: readonly Schemas['TaskInstance'][], p: Palette, tailLines = 20, maxFailed = 5): Promise<string[]> {
  const lines: string[] = [];
  const failed = tis.filter((t) => t.state === 'failed');
  for (const ti of failed.slice(0, maxFailed)) {
    const id = ti.map_index >= 0 ? `${ti.task_id}[${ti.map_index}]` : ti.task_id;
    lines.push('', p.red(`${id} failed on try ${ti.try_number}/${ti.max_tries}: ${ti.error ? paintError(ti.error, p) : (ti.note ?? 'no error recorded')}`));
    if (ti.try_number < 1) continue;
    const log = await ok(
      remote,
      remote.api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}', {
        params: { path: { dag_id: ti.dag_id, dag_run_id: ti.dag_run_id, task_id: ti.task_id, try_number: ti.try_number }, query: { map_index: ti.map_index } },
      }),
    );
    const content = log.content.slice(-tailLines);
    if (content.length) lines.push(p.dim(`  last ${content.length} of ${log.content.length} log lines:`));
    for (const l of content) for (const part of formatLogLine({ time: l.timestamp, level: l.level, message: l.event }).split('\n')) lines.push(`  ${part}`);
  }
  if (failed.length > maxFailed) lines.push('', p.red(`… and ${failed.length - maxFailed} more failed instances`));
  return lines;
}
