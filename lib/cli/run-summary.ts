import type { RunReport } from '../runner/local-runner.ts';
import type { DagResolver } from '../scheduler/host.ts';
import type { TaskInstanceRecord } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import type { Palette } from './ansi.ts';
import { displayPath, formatDuration, formatIndexes, formatRange, paintError, paintState } from './format.ts';
import { formatLogLine, runLogDir, tryLogPath } from '../standalone/log-files.ts';
import { renderTable } from './table.ts';

/** One row of the summary: a task, or the instances of a mapped task that share a state. */
export interface SummaryRow {
  taskId: string;
  /** '' for a task that is not mapped; else the map indexes as ranges ('0-3,7'). */
  mapIndexes: string;
  state: string | null;
  /** The try (or the range of tries) the instances are at. */
  tries: string;
  /** The duration (or the range of durations) of the last try. */
  duration: string;
}

export interface SummaryContext {
  store: StateStore;
  dags: DagResolver;
  /** AIRLESS_HOME, where the log files are. */
  home: string;
  p: Palette;
  /** Lines of a failed try's log to show. Default 20. */
  tailLines?: number;
  /** Failed instances per run whose log is shown. Default 5. */
  maxFailedLogs?: number;
}

function durationOf(ti: TaskInstanceRecord): number | null {
  if (ti.durationMs !== null) return ti.durationMs;
  if (ti.startDate && ti.endDate) return Date.parse(ti.endDate) - Date.parse(ti.startDate);
  return null;
}

/** The rows of a run: tasks in definition order; a mapped task's instances grouped by state. */
export function summaryRows(taskIds: readonly string[], tis: readonly TaskInstanceRecord[]): SummaryRow[] {
  const byTask = new Map<string, TaskInstanceRecord[]>();
  for (const ti of tis) {
    const l = byTask.get(ti.taskId) ?? [];
    l.push(ti);
    byTask.set(ti.taskId, l);
  }
  const rows: SummaryRow[] = [];
  for (const taskId of taskIds) {
    const list = byTask.get(taskId) ?? [];
    if (!list.length) {
      rows.push({ taskId, mapIndexes: '', state: null, tries: '0', duration: '-' });
      continue;
    }
    const unmapped = list.filter((t) => t.mapIndex < 0);
    for (const ti of unmapped) rows.push({ taskId, mapIndexes: '', state: ti.state, tries: `${ti.tryNumber}`, duration: formatDuration(ti.tryNumber > 0 ? durationOf(ti) : null) });
    const mapped = list.filter((t) => t.mapIndex >= 0);
    const states = [...new Set(mapped.map((t) => t.state))];
    for (const state of states) {
      const group = mapped.filter((t) => t.state === state);
      const durations = group.map((t) => (t.tryNumber > 0 ? durationOf(t) : null)).filter((d): d is number => d !== null);
      const duration = !durations.length
        ? '-'
        : Math.min(...durations) === Math.max(...durations)
          ? formatDuration(durations[0])
          : `${formatDuration(Math.min(...durations))}-${formatDuration(Math.max(...durations))}`;
      rows.push({ taskId, mapIndexes: formatIndexes(group.map((t) => t.mapIndex)), state, tries: formatRange(group.map((t) => t.tryNumber)), duration });
    }
  }
  return rows;
}

/** The summary of a run and of the runs it triggered: a table each, then the log tails of failed tries. */
export async function renderRunSummary(ctx: SummaryContext, report: RunReport): Promise<string> {
  const out: string[] = [];
  const visit = async (r: RunReport) => {
    out.push(await renderOneRun(ctx, r));
    for (const child of r.triggeredRuns ?? []) await visit(child);
  };
  await visit(report);
  return out.join('\n\n');
}

async function renderOneRun(ctx: SummaryContext, report: RunReport): Promise<string> {
  const { store, p } = ctx;
  const run = await store.getRun(report);
  const tis = await store.listTaskInstances(report);
  const taskIds = ctx.dags.getDag(report.dagId)?.spec.tasks.map((t) => t.taskId) ?? [...new Set(tis.map((t) => t.taskId))];
  const elapsed = run?.startDate && run.endDate ? Date.parse(run.endDate) - Date.parse(run.startDate) : null;
  const by = run?.parent ? `  (triggered by ${run.parent.dagId}.${run.parent.taskId}${run.parent.mapIndex >= 0 ? `[${run.parent.mapIndex}]` : ''})` : '';
  const lines = [`${p.bold(`DAG ${report.dagId}`)}  run ${report.runId}  ${paintState(report.state, p)}  in ${formatDuration(elapsed)}${by}`];
  if (run?.note) lines.push(p.red(`note: ${run.note}`));
  const rows = summaryRows(taskIds, tis);
  lines.push(
    renderTable(
      ['task', 'map index', 'state', 'tries', 'duration'],
      rows.map((r) => [r.taskId, r.mapIndexes, paintState(r.state, p), r.tries, r.duration]),
      { alignRight: [3, 4] },
    ),
  );
  const failed = tis.filter((t) => t.state === 'failed');
  const max = ctx.maxFailedLogs ?? 5;
  for (const ti of failed.slice(0, max)) {
    const key = { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex };
    const log = await store.getLog(key, ti.tryNumber);
    const n = ctx.tailLines ?? 20;
    const file = displayPath(tryLogPath(ctx.home, key, ti.tryNumber));
    const id = ti.mapIndex >= 0 ? `${ti.taskId}[${ti.mapIndex}]` : ti.taskId;
    lines.push('');
    lines.push(p.red(`${id} failed on try ${ti.tryNumber}/${ti.maxTries}; ${log.length > n ? `last ${n} of ${log.length} lines` : 'its log'} (${file}):`));
    for (const l of log.slice(-n)) for (const part of formatLogLine(l).split('\n')) lines.push(`  ${part}`);
    if (!log.length && ti.error) lines.push(`  ${paintError(ti.error, p)}`);
  }
  if (failed.length > max) lines.push('', p.red(`… and ${failed.length - max} more failed instances; their logs are under ${displayPath(runLogDir(ctx.home, report.dagId, report.runId))}`));
  return lines.join('\n');
}
