import { useMemo } from 'react';
import { Link } from 'react-router';
import type { Task, TaskInstance } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';
import { taskTree, tiPath, visibleRows } from '../dag-view.ts';
import { formatDuration } from '../format.ts';
import { useTaskInstances, useTasks } from '../queries.ts';
import { stateColor, summaryState } from '../states.ts';
import '../charts.css';

/** Above this many map indexes, a mapped task is one bar (first start to last end) rather than one per index. */
const MAX_INDEX_ROWS = 20;

interface Bar {
  key: string;
  taskId: string;
  mapIndex: number;
  label: string;
  depth: number;
  state: string | null;
  /** ms since the epoch; null when not started (no bar). */
  queued: number | null;
  start: number | null;
  end: number | null;
  /** How many instances the bar stands for (>1: a mapped task aggregated). */
  count: number;
}

const ms = (iso: string | null | undefined): number | null => (iso === null || iso === undefined ? null : new Date(iso).getTime());
const minOf = (xs: (number | null)[]): number | null => xs.reduce<number | null>((a, x) => (x === null ? a : a === null ? x : Math.min(a, x)), null);
const maxOf = (xs: (number | null)[]): number | null => xs.reduce<number | null>((a, x) => (x === null ? a : a === null ? x : Math.max(a, x)), null);

/**
 * Whether an instance ran: it has a start, and is not one decided without a try (upstream_failed or
 * skipped by the scheduler: no try, its start and end the moment of the decision).
 */
function ran(ti: TaskInstance): boolean {
  return ti.start_date !== null && !(ti.try_number === 0 && ti.start_date === ti.end_date);
}

function barOf(task: Task, all: readonly TaskInstance[], depth: number, now: number, key: string, label: string, mapIndex: number): Bar {
  const tis = all.filter(ran);
  const start = minOf(tis.map((ti) => ms(ti.start_date)));
  const running = tis.some((ti) => ti.end_date === null);
  return {
    key,
    taskId: task.task_id,
    mapIndex,
    label,
    depth,
    state: all.length === 1 ? (all[0]?.state ?? null) : summaryState(all.map((ti) => ti.state)),
    queued: minOf(tis.map((ti) => ms(ti.queued_when))),
    start,
    end: start === null ? null : running ? now : maxOf(tis.map((ti) => ms(ti.end_date))),
    count: all.length,
  };
}

/** Readable tick steps for the time axis, in ms. */
const STEPS = [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000];

function clock(t: number, span: number): string {
  const d = new Date(t);
  const two = (n: number) => String(n).padStart(2, '0');
  const hms = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return span < 5000 ? `${hms}.${String(d.getMilliseconds()).padStart(3, '0').slice(0, 1)}` : hms;
}

/**
 * The Gantt chart of a run: one bar per task instance (a mapped task's indexes each, or one bar when there
 * are many), from its start to its end (to now while running), its queued time before it lighter,
 * coloured by its state, over a time axis.
 */
export function GanttChart({ dagId, runId, runState, base }: { dagId: string; runId: string; runState: string | null | undefined; base: string }) {
  const tasks = useTasks(dagId);
  const tis = useTaskInstances(dagId, runId, runState);
  const data = tis.data?.task_instances;
  const bars = useMemo(() => {
    const now = Date.now();
    const byTask = new Map<string, TaskInstance[]>();
    for (const ti of data ?? []) byTask.set(ti.task_id, [...(byTask.get(ti.task_id) ?? []), ti]);
    const out: Bar[] = [];
    for (const row of visibleRows(taskTree(tasks.data?.tasks ?? []).roots, new Set())) {
      if (row.kind === 'group') continue;
      const task = row.task;
      const own = byTask.get(task.task_id) ?? [];
      const mapped = own.filter((ti) => ti.map_index >= 0).sort((a, b) => a.map_index - b.map_index);
      if (mapped.length === 0) out.push(barOf(task, own, row.depth, now, task.task_id, task.task_display_name, -1));
      else if (mapped.length > MAX_INDEX_ROWS) out.push(barOf(task, mapped, row.depth, now, task.task_id, `${task.task_display_name} [${mapped.length}]`, -1));
      else for (const ti of mapped) out.push(barOf(task, [ti], row.depth, now, `${task.task_id}[${ti.map_index}]`, `${task.task_display_name} [${ti.map_index}]`, ti.map_index));
    }
    return out;
  }, [data, tasks.data]);
  const from = minOf(bars.flatMap((b) => [b.queued, b.start]));
  const to = maxOf(bars.map((b) => b.end));
  const span = from === null || to === null ? 0 : Math.max(1, to - from);
  const pct = (t: number) => `${(((t - (from ?? 0)) / span) * 100).toFixed(3)}%`;
  const width = (a: number, b: number) => `${Math.max(0.3, ((b - a) / span) * 100).toFixed(3)}%`;
  const step = STEPS.find((s) => span / s <= 6) ?? STEPS.at(-1)!;
  const ticks: number[] = [];
  if (from !== null) for (let t = Math.ceil(from / step) * step; t <= from + span; t += step) ticks.push(t);

  return (
    <div className="gantt" data-testid="gantt" data-span-ms={span}>
      <ErrorBox error={tasks.error ?? tis.error} />
      {from === null && tis.isSuccess && <p className="muted">No task instance has started yet.</p>}
      <div className="gantt-row gantt-axis" aria-hidden="true">
        <span className="gantt-label" />
        <span className="gantt-track">
          {ticks.map((t) => (
            <span key={t} className="gantt-tick" style={{ left: pct(t) }} data-testid="gantt-tick">
              {clock(t, span)}
            </span>
          ))}
        </span>
      </div>
      {bars.map((b) => {
        const title = `${b.label}: ${b.state ?? 'no status'}${b.start !== null && b.end !== null ? `, ran ${formatDuration((b.end - b.start) / 1000)}` : ''}${b.queued !== null && b.start !== null ? `, queued ${formatDuration((b.start - b.queued) / 1000)}` : ''}`;
        return (
          <div key={b.key} className="gantt-row" data-testid="gantt-row" data-task-id={b.taskId} data-map-index={b.mapIndex} data-state={b.state ?? 'none'} data-count={b.count}>
            <Link to={tiPath(base, runId, b.taskId, b.mapIndex)} className="gantt-label" style={{ paddingLeft: `${b.depth * 0.8}rem` }} title={title}>
              {b.label}
            </Link>
            <span className="gantt-track">
              {ticks.map((t) => (
                <span key={t} className="gantt-gridline" style={{ left: pct(t) }} />
              ))}
              {b.queued !== null && b.start !== null && b.start > b.queued && (
                <span className="gantt-queued" data-testid="gantt-queued" style={{ left: pct(b.queued), width: width(b.queued, b.start), background: stateColor(b.state) }} />
              )}
              {b.start !== null && b.end !== null && (
                <span className="gantt-bar" data-testid="gantt-bar" title={title} style={{ left: pct(b.start), width: width(b.start, b.end), background: stateColor(b.state) }} />
              )}
            </span>
          </div>
        );
      })}
    </div>
  );
}
