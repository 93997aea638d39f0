import { Graph, layout } from '@dagrejs/dagre';
import { useMemo } from 'react';
import { useNavigate, Outlet } from 'react-router';
import type { Task } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';
import { runPath, tiPath, useDagId, useSelection, useViewBase } from '../dag-view.ts';
import { useRuns, useTaskInstances, useTasks } from '../queries.ts';
import { stateColor, summaryState } from '../states.ts';

const NODE_W = 190;
const NODE_H = 40;

interface Laid {
  nodes: { task: Task; x: number; y: number }[];
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

/** Lays the tasks out left to right with dagre. */
function layOut(tasks: readonly Task[]): Laid {
  const g = new Graph<{ rankdir: string; nodesep: number; ranksep: number; width?: number; height?: number }, { width: number; height: number; x?: number; y?: number }, { points?: { x: number; y: number }[] }>();
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 48 });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(tasks.map((t) => t.task_id));
  for (const t of tasks) g.setNode(t.task_id, { width: NODE_W, height: NODE_H });
  for (const t of tasks) for (const d of t.downstream_task_ids) if (ids.has(d)) g.setEdge(t.task_id, d);
  layout(g);
  return {
    nodes: tasks.map((task) => {
      const n = g.node(task.task_id);
      return { task, x: n.x ?? 0, y: n.y ?? 0 };
    }),
    edges: g.edges().map((e) => ({ from: e.v, to: e.w, points: g.edge(e).points ?? [] })),
    width: (g.graph().width ?? 0) + 20,
    height: (g.graph().height ?? 0) + 20,
  };
}

/** The graph view: the DAG's tasks laid out by dagre, coloured by the selected (or latest) run's states. */
export function GraphPanel() {
  const dagId = useDagId();
  const base = useViewBase();
  const selection = useSelection();
  const navigate = useNavigate();
  const tasks = useTasks(dagId);
  const runs = useRuns(dagId, 25);
  const run = runs.data?.dag_runs.find((r) => r.dag_run_id === selection.runId) ?? runs.data?.dag_runs[0];
  const tis = useTaskInstances(dagId, run?.dag_run_id ?? '', run?.state);
  const laid = useMemo(() => layOut(tasks.data?.tasks ?? []), [tasks.data]);
  const states = new Map<string, { state: string | null; count: number }>();
  if (run !== undefined && tis.data !== undefined) {
    for (const t of tasks.data?.tasks ?? []) {
      const own = tis.data.task_instances.filter((ti) => ti.task_id === t.task_id);
      const mapped = own.filter((ti) => ti.map_index >= 0);
      states.set(t.task_id, mapped.length > 0 ? { state: summaryState(mapped.map((ti) => ti.state)), count: mapped.length } : { state: own[0]?.state ?? null, count: 0 });
    }
  }
  return (
    <div className="split">
      <div className="graph-wrap">
        <ErrorBox error={tasks.error ?? runs.error ?? (run === undefined ? null : tis.error)} />
        <div className="muted small" data-testid="graph-run">
          {run === undefined ? 'No run yet' : `Run ${run.dag_run_id} (${run.state})`}
        </div>
        <svg width={laid.width} height={laid.height} className="graph" data-testid="graph" role="img" aria-label={`graph of ${dagId}`}>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" fill="#888" />
            </marker>
          </defs>
          {laid.edges.map((e) => (
            <polyline
              key={`${e.from}->${e.to}`}
              points={e.points.map((p) => `${p.x + 10},${p.y + 10}`).join(' ')}
              fill="none"
              stroke="#999"
              markerEnd="url(#arrow)"
            />
          ))}
          {laid.nodes.map(({ task, x, y }) => {
            const s = states.get(task.task_id) ?? { state: null, count: 0 };
            const open = () => {
              if (run !== undefined) void navigate(s.count > 0 ? runPath(base, run.dag_run_id) : tiPath(base, run.dag_run_id, task.task_id, -1));
            };
            return (
              <g
                key={task.task_id}
                transform={`translate(${x + 10 - NODE_W / 2},${y + 10 - NODE_H / 2})`}
                className="graph-node"
                data-testid="graph-node"
                data-task-id={task.task_id}
                data-state={s.state ?? 'none'}
                onClick={open}
                role="button"
                tabIndex={0}
                onKeyDown={(e) => {
                  if (e.key === 'Enter') open();
                }}
              >
                <rect width={NODE_W} height={NODE_H} rx={6} fill="white" stroke={s.state === null ? '#bbb' : stateColor(s.state)} strokeWidth={selection.taskId === task.task_id ? 4 : 2} />
                <rect width={8} height={NODE_H} rx={3} fill={stateColor(s.state)} stroke="none" />
                <text x={16} y={17} className="graph-label">
                  {task.task_display_name}
                  {s.count > 0 ? ` [${s.count}]` : ''}
                </text>
                <text x={16} y={32} className="graph-sub">
                  {task.operator_name}
                  {s.state !== null ? ` · ${s.state}` : ''}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
      <aside className="side-panel">
        <Outlet />
      </aside>
    </div>
  );
}
