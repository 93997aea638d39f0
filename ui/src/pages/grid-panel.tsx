import { useQueries } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, Outlet } from 'react-router';
import type { DagRun, TaskInstance } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';
import { StateSquare } from '../components/state-badge.tsx';
import { runPath, tiPath, topologicalOrder, useDagId, useSelection, useViewBase } from '../dag-view.ts';
import { durationBetween, formatDuration } from '../format.ts';
import { stateColor, summaryState } from '../states.ts';
import { taskInstancesQuery, useDagVersions, useRuns, useTasks } from '../queries.ts';
import { versionLabel } from '../versions.ts';

/** How many runs the grid shows (the newest, oldest on the left as Airflow's grid). */
const GRID_RUNS = 14;

/** The instances of one task in one run: the unmapped one (-1) or its map indexes. */
function instancesOf(tis: readonly TaskInstance[] | undefined, taskId: string): TaskInstance[] {
  return (tis ?? []).filter((ti) => ti.task_id === taskId);
}

function Cell({ run, taskId, instances, mapIndex, base, selected }: {
  run: DagRun;
  taskId: string;
  instances: TaskInstance[];
  mapIndex: number | null;
  base: string;
  selected: boolean;
}) {
  const mapped = instances.filter((ti) => ti.map_index >= 0);
  const one = mapIndex === null ? (mapped.length > 0 ? null : instances.find((ti) => ti.map_index === -1)) : mapped.find((ti) => ti.map_index === mapIndex);
  const state = one !== undefined && one !== null ? one.state : mapIndex === null && mapped.length > 0 ? summaryState(mapped.map((ti) => ti.state)) : null;
  const target = tiPath(base, run.dag_run_id, taskId, one?.map_index ?? (mapIndex ?? -1));
  const label = mapIndex === null && mapped.length > 0 ? `${taskId}: ${mapped.length} mapped, ${state ?? 'no status'}` : `${taskId}: ${state ?? 'no status'}`;
  return (
    <td className={`grid-cell${selected ? ' selected' : ''}`}>
      <Link
        to={mapIndex === null && mapped.length > 0 ? runPath(base, run.dag_run_id) : target}
        data-testid="grid-cell"
        data-task-id={taskId}
        data-run-id={run.dag_run_id}
        data-map-index={mapIndex ?? one?.map_index ?? -1}
        data-state={state ?? 'none'}
        aria-label={label}
        title={label}
      >
        <StateSquare state={state} />
      </Link>
    </td>
  );
}

/** The grid view: runs as columns, tasks as rows; a mapped task shows its count and expands to each index. */
export function GridPanel() {
  const dagId = useDagId();
  const base = useViewBase();
  const selection = useSelection();
  const tasks = useTasks(dagId);
  const runs = useRuns(dagId, GRID_RUNS);
  const versions = useDagVersions(dagId).data?.dag_versions;
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const columns = [...(runs.data?.dag_runs ?? [])].reverse();
  const tiQueries = useQueries({ queries: columns.map((r) => taskInstancesQuery(dagId, r.dag_run_id, r.state)) });
  const tisByRun = new Map(columns.map((r, i) => [r.dag_run_id, tiQueries[i]?.data?.task_instances]));
  const ordered = topologicalOrder(tasks.data?.tasks ?? []);
  // Run bars are as tall as the run is long, relative to the longest shown (as Airflow's grid).
  const durations = columns.map((r) => durationBetween(r.start_date, r.end_date) ?? 0);
  const longest = Math.max(1e-3, ...durations);

  const toggle = (taskId: string) => {
    const next = new Set(expanded);
    if (next.has(taskId)) next.delete(taskId);
    else next.add(taskId);
    setExpanded(next);
  };

  return (
    <div className="split">
      <div className="grid-wrap">
        <ErrorBox error={tasks.error ?? runs.error ?? tiQueries.find((q) => q.error)?.error} />
        {columns.length === 0 && runs.isSuccess && <p className="muted">No runs yet: trigger one.</p>}
        <table className="grid" data-testid="grid">
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
                      data-version={r.dag_version}
                      title={`${r.dag_run_id}\n${r.state} · ${formatDuration(durations[i])}\nversion ${version}`}
                      aria-label={`run ${r.dag_run_id}: ${r.state}, version ${version}`}
                    >
                      <span className="run-bar" style={{ background: stateColor(r.state), height: `${Math.max(6, Math.round((40 * (durations[i] ?? 0)) / longest))}px` }} />
                    </Link>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {ordered.map((task) => {
              const mapIndexes = new Set<number>();
              for (const r of columns) for (const ti of instancesOf(tisByRun.get(r.dag_run_id), task.task_id)) if (ti.map_index >= 0) mapIndexes.add(ti.map_index);
              const latest = columns.at(-1);
              const latestCount = latest === undefined ? 0 : instancesOf(tisByRun.get(latest.dag_run_id), task.task_id).filter((ti) => ti.map_index >= 0).length;
              const isOpen = expanded.has(task.task_id);
              // The task's cells in every run: all its instances (mapIndex null), or one map index's.
              const cells = (mapIndex: number | null) =>
                columns.map((r) => (
                  <Cell
                    key={r.dag_run_id}
                    run={r}
                    taskId={task.task_id}
                    instances={instancesOf(tisByRun.get(r.dag_run_id), task.task_id)}
                    mapIndex={mapIndex}
                    base={base}
                    selected={selection.runId === r.dag_run_id && selection.taskId === task.task_id && (mapIndex === null || selection.mapIndex === mapIndex)}
                  />
                ));
              const rows = [
                <tr key={task.task_id} data-testid="grid-row" data-task-id={task.task_id}>
                  <th className="grid-task">
                    {task.is_mapped || mapIndexes.size > 0 ? (
                      <button type="button" className="link-button" onClick={() => toggle(task.task_id)} aria-expanded={isOpen} data-testid="grid-expand" data-task-id={task.task_id}>
                        {isOpen ? '▾' : '▸'} {task.task_display_name} <span className="count">[{latestCount}]</span>
                      </button>
                    ) : (
                      task.task_display_name
                    )}
                  </th>
                  {cells(null)}
                </tr>,
              ];
              if (isOpen) {
                for (const mi of [...mapIndexes].sort((a, b) => a - b)) {
                  rows.push(
                    <tr key={`${task.task_id}[${mi}]`} className="grid-subrow" data-testid="grid-row" data-task-id={task.task_id} data-map-index={mi}>
                      <th className="grid-task mono small">[{mi}]</th>
                      {cells(mi)}
                    </tr>,
                  );
                }
              }
              return rows;
            })}
          </tbody>
        </table>
      </div>
      <aside className="side-panel">
        <Outlet />
      </aside>
    </div>
  );
}
