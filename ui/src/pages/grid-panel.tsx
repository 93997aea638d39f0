import { useQueries } from '@tanstack/react-query';
import { memo, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { Link, Outlet } from 'react-router';
import type { DagRun, Task, TaskInstance } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';
import { StateSquare } from '../components/state-badge.tsx';
import { compactDate, runPath, taskTree, tiPath, useDagId, useRunsView, useSelection, useViewBase, visibleRows, type RunsView, type TaskGroupNode } from '../dag-view.ts';
import { durationBetween, formatDate, formatDuration } from '../format.ts';
import { stateColor, summaryState } from '../states.ts';
import { taskInstancesQuery, useDagVersions, useRunsPage, useTasks } from '../queries.ts';
import { versionLabel } from '../versions.ts';
import '../charts.css';
import { SetupTeardownMarker } from '../components/setup-teardown.tsx';

/** Every run state and run type the API knows, for the filters (a missing one fails to compile). */
const RUN_STATE_OPTIONS = Object.keys({ queued: 1, running: 1, success: 1, failed: 1 } satisfies Record<DagRun['state'], 1>);
const RUN_TYPE_OPTIONS = Object.keys({ manual: 1, scheduled: 1, backfill: 1, triggered: 1, asset_triggered: 1 } satisfies Record<DagRun['run_type'], 1>);
const PAGE_SIZES = [25, 50, 100];

/** The performance mark the grid sets each time it commits a complete page (bench/ui-grid.ts reads it). */
export const GRID_RENDERED_MARK = 'airless:grid-rendered';

/** A run's instances by task id (cached per response, so a refresh of one run re-indexes only that run). */
const indexCache = new WeakMap<readonly TaskInstance[], Map<string, TaskInstance[]>>();
function indexByTask(tis: readonly TaskInstance[] | undefined): Map<string, TaskInstance[]> | undefined {
  if (tis === undefined) return undefined;
  let index = indexCache.get(tis);
  if (index === undefined) {
    index = new Map();
    for (const ti of tis) {
      const list = index.get(ti.task_id);
      if (list === undefined) index.set(ti.task_id, [ti]);
      else list.push(ti);
    }
    indexCache.set(tis, index);
  }
  return index;
}

const NONE: readonly TaskInstance[] = [];

/** A filter of the runs: one of `options`, or any (''). */
function RunFilter({ label, value, options, onChange, testId }: { label: string; value: string; options: readonly string[]; onChange: (value: string) => void; testId: string }) {
  return (
    <label className="small">
      {label}{' '}
      <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        <option value="">any</option>
        {options.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The paging and filter controls over a DAG's runs (shared by the grid and the duration chart). */
export function RunsPager({ total, shown, loading }: { total: number | undefined; shown: number; loading: boolean }) {
  const { view, setView } = useRunsView();
  const set = (patch: Partial<RunsView>) => setView({ ...view, ...patch });
  const from = shown === 0 ? 0 : view.offset + 1;
  const to = view.offset + shown;
  return (
    <div className="runs-pager" data-testid="runs-pager">
      <button type="button" onClick={() => set({ offset: view.offset + view.pageSize })} disabled={total === undefined || to >= total} data-testid="runs-older">
        ◀ Older
      </button>
      <button type="button" onClick={() => set({ offset: Math.max(0, view.offset - view.pageSize) })} disabled={view.offset === 0} data-testid="runs-newer">
        Newer ▶
      </button>
      <span className="muted small" data-testid="runs-range" data-from={from} data-to={to} data-total={total ?? ''} aria-live="polite">
        {total === undefined ? 'loading…' : `runs ${from}–${to} of ${total}`}
        {loading ? ' …' : ''}
      </span>
      <RunFilter label="State" value={view.state} options={RUN_STATE_OPTIONS} onChange={(state) => set({ state, offset: 0 })} testId="filter-state" />
      <RunFilter label="Run type" value={view.runType} options={RUN_TYPE_OPTIONS} onChange={(runType) => set({ runType, offset: 0 })} testId="filter-run-type" />
      <label className="small">
        Per page{' '}
        <select value={view.pageSize} onChange={(e) => set({ pageSize: Number(e.target.value), offset: 0 })} data-testid="filter-page-size">
          {PAGE_SIZES.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

/** The current page of runs (newest first, as the API gives them), with the paging/filter state. */
export function useShownRuns(dagId: string) {
  const { view } = useRunsView();
  return useRunsPage(dagId, { limit: view.pageSize, offset: view.offset, state: view.state, runType: view.runType });
}

interface CellProps {
  run: DagRun;
  taskId: string;
  instances: readonly TaskInstance[];
  mapIndex: number | null;
  base: string;
  selected: boolean;
}

/**
 * A cell: a plain hash link rather than a router Link (thousands of Links would each re-render on every
 * navigation); memoised, so a run's instances arriving re-render only that run's cells.
 */
const Cell = memo(function Cell({ run, taskId, instances, mapIndex, base, selected }: CellProps) {
  const mapped = instances.filter((ti) => ti.map_index >= 0);
  const one = mapIndex === null ? (mapped.length > 0 ? null : instances.find((ti) => ti.map_index === -1)) : mapped.find((ti) => ti.map_index === mapIndex);
  const state = one !== undefined && one !== null ? one.state : mapIndex === null && mapped.length > 0 ? summaryState(mapped.map((ti) => ti.state)) : null;
  const target = tiPath(base, run.dag_run_id, taskId, one?.map_index ?? (mapIndex ?? -1));
  const label = mapIndex === null && mapped.length > 0 ? `${taskId}: ${mapped.length} mapped, ${state ?? 'no status'}` : `${taskId}: ${state ?? 'no status'}`;
  return (
    <td className={`grid-cell${selected ? ' selected' : ''}`}>
      <a
        href={`#${mapIndex === null && mapped.length > 0 ? runPath(base, run.dag_run_id) : target}`}
        data-testid="grid-cell"
        data-task-id={taskId}
        data-run-id={run.dag_run_id}
        data-map-index={mapIndex ?? one?.map_index ?? -1}
        data-state={state ?? 'none'}
        aria-label={label}
        title={label}
      >
        <StateSquare state={state} />
      </a>
    </td>
  );
});

interface RowProps {
  task: Task;
  depth: number;
  columns: readonly DagRun[];
  /** Per column: this task's instances in that run (NONE while loading or when it has none). */
  own: readonly (readonly TaskInstance[])[];
  base: string;
  /** The selected run when the selected instance is of this task (else null): only that row re-renders. */
  selectedRunId: string | null;
  selectedMapIndex: number | null;
  expanded: boolean;
  onToggle: (taskId: string) => void;
}

/** A task's row (and, expanded, one row per map index); re-renders only when its inputs change. */
const TaskRows = memo(function TaskRows({ task, depth, columns, own, base, selectedRunId, selectedMapIndex, expanded, onToggle }: RowProps) {
  const mapIndexes = new Set<number>();
  for (const list of own) for (const ti of list) if (ti.map_index >= 0) mapIndexes.add(ti.map_index);
  const latestCount = (own.at(-1) ?? NONE).filter((ti) => ti.map_index >= 0).length;
  const indent = { paddingLeft: `${depth * 1.1}rem` };
  const cells = (mapIndex: number | null) =>
    columns.map((r, i) => (
      <Cell
        key={r.dag_run_id}
        run={r}
        taskId={task.task_id}
        instances={own[i] ?? NONE}
        mapIndex={mapIndex}
        base={base}
        selected={selectedRunId === r.dag_run_id && (mapIndex === null || selectedMapIndex === mapIndex)}
      />
    ));
  const label = depth > 0 && task.group_id !== null && task.task_display_name.startsWith(`${task.group_id}.`) ? task.task_display_name.slice(task.group_id.length + 1) : task.task_display_name;
  return (
    <>
      <tr data-testid="grid-row" data-task-id={task.task_id}>
        <th className="grid-task" style={indent} title={task.task_id}>
          {task.is_mapped || mapIndexes.size > 0 ? (
            <button type="button" className="link-button" onClick={() => onToggle(task.task_id)} aria-expanded={expanded} data-testid="grid-expand" data-task-id={task.task_id}>
              {expanded ? '▾' : '▸'} {label} <span className="count">[{latestCount}]</span>
            </button>
          ) : (
            label
          )}
          <SetupTeardownMarker task={task} />
        </th>
        {cells(null)}
      </tr>
      {expanded &&
        [...mapIndexes]
          .sort((a, b) => a - b)
          .map((mi) => (
            <tr key={mi} className="grid-subrow" data-testid="grid-row" data-task-id={task.task_id} data-map-index={mi}>
              <th className="grid-task mono small" style={{ paddingLeft: `${depth * 1.1 + 1.4}rem` }}>
                [{mi}]
              </th>
              {cells(mi)}
            </tr>
          ))}
    </>
  );
}, sameProps);

interface GroupRowProps {
  group: TaskGroupNode;
  depth: number;
  columns: readonly DagRun[];
  /** Per column: the group's summary state in that run. */
  states: readonly (string | null)[];
  base: string;
  collapsed: boolean;
  onToggle: (groupId: string) => void;
}

/** A task group's row: its toggle, and per run the most telling state of all its tasks' instances. */
const GroupRow = memo(function GroupRow({ group, depth, columns, states, base, collapsed, onToggle }: GroupRowProps) {
  return (
    <tr className="grid-group-row" data-testid="grid-group-row" data-group-id={group.groupId}>
      <th className="grid-task grid-group" style={{ paddingLeft: `${depth * 1.1}rem` }}>
        <button type="button" className="link-button" onClick={() => onToggle(group.groupId)} aria-expanded={!collapsed} data-testid="grid-group-toggle" data-group-id={group.groupId}>
          {collapsed ? '▸' : '▾'} <span className="group-label">{group.label}</span> <span className="count">({group.taskIds.length})</span>
        </button>
      </th>
      {columns.map((r, i) => {
        const state = states[i] ?? null;
        const label = `group ${group.groupId}: ${state ?? 'no status'}`;
        return (
          <td key={r.dag_run_id} className="grid-cell">
            <a href={`#${runPath(base, r.dag_run_id)}`} data-testid="grid-group-cell" data-group-id={group.groupId} data-run-id={r.dag_run_id} data-state={state ?? 'none'} aria-label={label} title={label}>
              <StateSquare state={state} />
            </a>
          </td>
        );
      })}
    </tr>
  );
}, sameProps);

/** Why the grid (or the chart) has no column: no run at all, none matching the filters, or a page past the end. */
export function NoRuns({ total }: { total: number }) {
  const { view } = useRunsView();
  const filtered = view.state !== '' || view.runType !== '';
  return <p className="muted" data-testid="no-runs">{total > 0 ? 'No runs on this page.' : filtered ? 'No runs match the filters.' : 'No runs yet: trigger one.'}</p>;
}

/** Props equal prop by prop, arrays element by element (the rows' per-column lists are new arrays each render). */
function sameProps<P extends object>(a: P, b: P): boolean {
  for (const key of Object.keys(a) as (keyof P)[]) {
    const x = a[key];
    const y = b[key];
    if (x === y) continue;
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
  }
  return true;
}

/**
 * The grid view: runs as columns (a page of them, oldest on the left as Airflow's grid, with their dates),
 * tasks as rows under their collapsible groups; a mapped task shows its count and expands to each index.
 */
export function GridPanel() {
  const dagId = useDagId();
  const base = useViewBase();
  const selection = useSelection();
  const tasks = useTasks(dagId);
  const runs = useShownRuns(dagId);
  const versions = useDagVersions(dagId).data?.dag_versions;
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const columns = useMemo(() => [...(runs.data?.dag_runs ?? [])].reverse(), [runs.data]);
  const tiQueries = useQueries({ queries: columns.map((r) => taskInstancesQuery(dagId, r.dag_run_id, r.state)) });
  // A query's placeholder (its previous data) stands in only for the same run (its key changes with the
  // run's state), never for another run that took its place in the page.
  const indexes = tiQueries.map((q, i) => {
    const tis = q.data?.task_instances;
    const foreign = q.isPlaceholderData && tis !== undefined && tis.length > 0 && tis[0]?.dag_run_id !== columns[i]?.dag_run_id;
    return foreign ? undefined : indexByTask(tis);
  });
  const tree = useMemo(() => taskTree(tasks.data?.tasks ?? []), [tasks.data]);
  const rows = useMemo(() => visibleRows(tree.roots, collapsed), [tree, collapsed]);
  // Run bars are as tall as the run is long, relative to the longest shown (as Airflow's grid).
  const durations = columns.map((r) => durationBetween(r.start_date, r.end_date) ?? 0);
  const longest = Math.max(1e-3, ...durations);

  const toggleTask = useMemo(
    () => (taskId: string) =>
      setExpanded((prev) => {
        const next = new Set(prev);
        if (next.has(taskId)) next.delete(taskId);
        else next.add(taskId);
        return next;
      }),
    [],
  );
  const toggleGroup = useMemo(
    () => (groupId: string) =>
      setCollapsed((prev) => {
        const next = new Set(prev);
        if (next.has(groupId)) next.delete(groupId);
        else next.add(groupId);
        return next;
      }),
    [],
  );

  // Mark each commit of a complete page (every run's instances in), for the grid's benchmark.
  const complete = tasks.isSuccess && runs.isSuccess && !runs.isPlaceholderData && tiQueries.every((q) => !q.isPlaceholderData) && indexes.every((x) => x !== undefined);
  const renderedKey = useRef<unknown[]>([]);
  useLayoutEffect(() => {
    const key = [columns, rows, ...indexes];
    if (!complete || sameProps(key, renderedKey.current)) return;
    renderedKey.current = key;
    performance.mark(GRID_RENDERED_MARK, { detail: { runs: columns.length, rows: rows.length } });
  });

  return (
    <div className="split">
      <div className="grid-wrap">
        <RunsPager total={runs.data?.total_entries} shown={columns.length} loading={runs.isFetching && runs.isPlaceholderData} />
        <ErrorBox error={tasks.error ?? runs.error ?? tiQueries.find((q) => q.error)?.error} />
        {columns.length === 0 && runs.isSuccess && <NoRuns total={runs.data.total_entries} />}
        <table className="grid" data-testid="grid" data-runs={columns.length}>
          <thead>
            <tr>
              <th className="grid-task-head">Task</th>
              {columns.map((r, i) => {
                // A run on another version than the run before it (to its left) is marked.
                const previous = columns[i - 1];
                const changed = previous !== undefined && previous.dag_version !== r.dag_version;
                const version = versionLabel(r.dag_version, versions);
                return (
                  <th key={r.dag_run_id} className={`grid-run${selection.runId === r.dag_run_id ? ' selected' : ''}${changed ? ' version-changed' : ''}`}>
                    <span
                      className={`version-marker${changed ? ' changed' : ''}`}
                      data-testid={changed ? 'grid-version-change' : undefined}
                      data-run-id={r.dag_run_id}
                      title={changed ? `new version: ${version} (was ${versionLabel(previous.dag_version, versions)})` : version}
                    >
                      {changed ? '◆' : ''}
                    </span>
                    <Link
                      to={runPath(base, r.dag_run_id)}
                      data-testid="grid-run"
                      data-run-id={r.dag_run_id}
                      data-state={r.state}
                      data-run-type={r.run_type}
                      data-version={r.dag_version}
                      title={`${r.dag_run_id}\n${r.run_type} · ${formatDate(r.logical_date)}\n${r.state} · ${formatDuration(durations[i])}\nversion ${version}`}
                      aria-label={`${compactDate(r.logical_date)} run ${r.dag_run_id}: ${r.state}, version ${version}`}
                    >
                      <span className="run-date" data-testid="grid-run-date">
                        {compactDate(r.logical_date)}
                      </span>
                      <span className="run-bar" style={{ background: stateColor(r.state), height: `${Math.max(6, Math.round((40 * (durations[i] ?? 0)) / longest))}px` }} />
                    </Link>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) =>
              row.kind === 'group' ? (
                <GroupRow
                  key={`g:${row.group.groupId}`}
                  group={row.group}
                  depth={row.depth}
                  columns={columns}
                  states={indexes.map((index) => {
                    const states: (string | null)[] = [];
                    for (const id of row.group.taskIds) for (const ti of index?.get(id) ?? NONE) states.push(ti.state);
                    return summaryState(states);
                  })}
                  base={base}
                  collapsed={collapsed.has(row.group.groupId)}
                  onToggle={toggleGroup}
                />
              ) : (
                <TaskRows
                  key={`t:${row.task.task_id}`}
                  task={row.task}
                  depth={row.depth}
                  columns={columns}
                  own={indexes.map((index) => index?.get(row.task.task_id) ?? NONE)}
                  base={base}
                  selectedRunId={selection.taskId === row.task.task_id ? selection.runId : null}
                  selectedMapIndex={selection.taskId === row.task.task_id ? selection.mapIndex : null}
                  expanded={expanded.has(row.task.task_id)}
                  onToggle={toggleTask}
                />
              ),
            )}
          </tbody>
        </table>
      </div>
      <aside className="side-panel">
        <Outlet />
      </aside>
    </div>
  );
}
