import { Graph, layout } from '@dagrejs/dagre';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useNavigate, Outlet } from 'react-router';
import type { Task } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';
import { runPath, taskTree, tiPath, useDagId, useSelection, useViewBase } from '../dag-view.ts';
import { useRuns, useTaskInstances, useTasks } from '../queries.ts';
import { stateColor, summaryState } from '../states.ts';
import '../charts.css';
import { SetupTeardownTspan } from '../components/setup-teardown.tsx';

const NODE_W = 190;
const NODE_H = 40;
/** Room above a group's tasks for its label. */
const GROUP_LABEL_H = 20;
/** Margin around the drawing, so that edges, arrows and labels at its border stay inside. */
const MARGIN = 24;
const MIN_SCALE = 0.1;
const MAX_SCALE = 4;
const ZOOM_STEP = 1.25;

interface Laid {
  nodes: { task: Task; x: number; y: number }[];
  groups: { groupId: string; label: string; depth: number; x: number; y: number; width: number; height: number }[];
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

type NodeLabel = { width: number; height: number; x?: number; y?: number; paddingTop?: number };

/** Lays the tasks out left to right with dagre, each task group a cluster around its tasks (and sub-groups). */
function layOut(tasks: readonly Task[]): Laid {
  const g = new Graph<{ rankdir: string; nodesep: number; ranksep: number; marginx: number; marginy: number; width?: number; height?: number }, NodeLabel, { points?: { x: number; y: number }[] }>({
    compound: true,
  });
  const { groups } = taskTree(tasks);
  g.setGraph({ rankdir: 'LR', nodesep: groups.size > 0 ? 36 : 18, ranksep: 56, marginx: MARGIN, marginy: MARGIN + (groups.size > 0 ? GROUP_LABEL_H : 0) });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(tasks.map((t) => t.task_id));
  const groupKey = (id: string) => `group:${id}`;
  for (const group of groups.values()) g.setNode(groupKey(group.groupId), { width: 0, height: 0, paddingTop: GROUP_LABEL_H });
  for (const group of groups.values()) {
    for (const child of group.children) {
      if (!('task_id' in child)) g.setParent(groupKey(child.groupId), groupKey(group.groupId));
    }
  }
  for (const t of tasks) {
    g.setNode(t.task_id, { width: NODE_W, height: NODE_H });
    if (t.group_id !== null && groups.has(t.group_id)) g.setParent(t.task_id, groupKey(t.group_id));
  }
  for (const t of tasks) for (const d of t.downstream_task_ids) if (ids.has(d)) g.setEdge(t.task_id, d);
  layout(g);
  const laidGroups = [...groups.values()].map((group) => {
    const n = g.node(groupKey(group.groupId));
    const width = n.width ?? 0;
    const height = n.height ?? 0;
    // dagre's cluster bounds hug its tasks: grow each upward for its label, more for the outer groups.
    const extra = GROUP_LABEL_H;
    return { groupId: group.groupId, label: group.label, depth: group.depth, x: (n.x ?? 0) - width / 2, y: (n.y ?? 0) - height / 2 - extra, width, height: height + extra };
  });
  const nodes = tasks.map((task) => {
    const n = g.node(task.task_id);
    return { task, x: n.x ?? 0, y: n.y ?? 0 };
  });
  // The drawing's extent: everything laid out, with a margin (dagre's own size may miss the labels).
  const xs = [...nodes.map((n) => n.x + NODE_W / 2), ...laidGroups.map((b) => b.x + b.width)];
  const ys = [...nodes.map((n) => n.y + NODE_H / 2), ...laidGroups.map((b) => b.y + b.height)];
  return {
    nodes,
    groups: laidGroups.sort((a, b) => a.depth - b.depth),
    edges: g.edges().map((e) => ({ from: e.v, to: e.w, points: g.edge(e).points ?? [] })),
    width: Math.max(g.graph().width ?? 0, ...xs.map((x) => x + MARGIN)),
    height: Math.max(g.graph().height ?? 0, ...ys.map((y) => y + MARGIN)),
  };
}

interface View {
  scale: number;
  x: number;
  y: number;
}

/** The view that shows the whole drawing in a box of `w`×`h`, centred, never enlarged past 1. */
function fitView(laid: Laid, w: number, h: number): View {
  if (laid.width === 0 || laid.height === 0 || w === 0 || h === 0) return { scale: 1, x: 0, y: 0 };
  const scale = Math.max(MIN_SCALE, Math.min(1, w / laid.width, h / laid.height));
  return { scale, x: (w - laid.width * scale) / 2, y: (h - laid.height * scale) / 2 };
}

/** The view zoomed by `factor` about the point (px, py) of the box. */
function zoomAbout(v: View, factor: number, px: number, py: number): View {
  const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, v.scale * factor));
  const k = scale / v.scale;
  return { scale, x: px - (px - v.x) * k, y: py - (py - v.y) * k };
}

/**
 * The graph view: the DAG's tasks laid out by dagre inside their task groups' boxes, coloured by the
 * selected (or latest) run's states. It fits its box; the wheel and the +/− buttons zoom, dragging pans,
 * "Fit" shows it whole again.
 */
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

  const boxRef = useRef<HTMLDivElement>(null);
  const [box, setBox] = useState({ w: 0, h: 0 });
  const [view, setView] = useState<View>({ scale: 1, x: 0, y: 0 });
  // Until the user zooms or pans, the graph keeps fitting its box (as the box or the DAG changes).
  const [fitted, setFitted] = useState(true);
  const boxHeight = Math.round(Math.min(Math.max(320, laid.height + 2), 640));

  useLayoutEffect(() => {
    const el = boxRef.current;
    if (el === null) return undefined;
    const measure = () => setBox({ w: el.clientWidth, h: el.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  useLayoutEffect(() => {
    if (fitted) setView(fitView(laid, box.w, box.h));
  }, [fitted, laid, box]);

  const fit = useCallback(() => {
    setFitted(true);
    setView(fitView(laid, box.w, box.h));
  }, [laid, box]);
  const zoom = useCallback(
    (factor: number) => {
      setFitted(false);
      setView((v) => zoomAbout(v, factor, box.w / 2, box.h / 2));
    },
    [box],
  );

  // The wheel zooms about the pointer (a non-passive listener, to keep the page from scrolling).
  useEffect(() => {
    const el = boxRef.current;
    if (el === null) return undefined;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const rect = el.getBoundingClientRect();
      setFitted(false);
      setView((v) => zoomAbout(v, Math.exp(-e.deltaY * 0.002), e.clientX - rect.left, e.clientY - rect.top));
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, []);

  // Dragging pans; a press that does not move stays a click (on a task: open it).
  const drag = useRef<{ x: number; y: number; moved: boolean } | null>(null);
  const onPointerDown = (e: React.PointerEvent) => {
    if (e.button !== 0) return;
    drag.current = { x: e.clientX, y: e.clientY, moved: false };
    const move = (m: PointerEvent) => {
      const d = drag.current;
      if (d === null) return;
      const dx = m.clientX - d.x;
      const dy = m.clientY - d.y;
      if (!d.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      d.moved = true;
      d.x = m.clientX;
      d.y = m.clientY;
      setFitted(false);
      setView((v) => ({ ...v, x: v.x + dx, y: v.y + dy }));
    };
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      // Cleared after the click that follows this pointerup.
      setTimeout(() => {
        drag.current = null;
      }, 0);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };

  return (
    <div className="split">
      <div className="graph-wrap graph-wrap-zoom">
        <ErrorBox error={tasks.error ?? runs.error ?? (run === undefined ? null : tis.error)} />
        <div className="graph-toolbar">
          <span className="muted small" data-testid="graph-run">
            {run === undefined ? 'No run yet' : `Run ${run.dag_run_id} (${run.state})`}
          </span>
          <span className="spacer" />
          <button type="button" onClick={() => zoom(1 / ZOOM_STEP)} aria-label="zoom out" data-testid="graph-zoom-out">
            −
          </button>
          <span className="muted small graph-zoom-level" data-testid="graph-zoom-level">
            {Math.round(view.scale * 100)}%
          </span>
          <button type="button" onClick={() => zoom(ZOOM_STEP)} aria-label="zoom in" data-testid="graph-zoom-in">
            +
          </button>
          <button type="button" onClick={fit} aria-label="fit the graph to its box" data-testid="graph-fit">
            Fit
          </button>
        </div>
        <div ref={boxRef} className="graph-box" style={{ height: `${boxHeight}px` }} onPointerDown={onPointerDown} data-testid="graph-box">
          <svg width="100%" height="100%" className="graph" data-testid="graph" role="group" aria-label={`graph of ${dagId}`}>
            <defs>
              <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
                <path d="M 0 0 L 10 5 L 0 10 z" className="graph-arrow" />
              </marker>
            </defs>
            <g
              transform={`translate(${view.x},${view.y}) scale(${view.scale})`}
              data-testid="graph-viewport"
              data-scale={view.scale.toFixed(4)}
              data-x={view.x.toFixed(1)}
              data-y={view.y.toFixed(1)}
              data-width={laid.width.toFixed(1)}
              data-height={laid.height.toFixed(1)}
            >
              {laid.groups.map((b) => (
                <g key={b.groupId} className="graph-group" data-testid="graph-group" data-group-id={b.groupId}>
                  <rect x={b.x} y={b.y} width={b.width} height={b.height} rx={8} />
                  <text x={b.x + 8} y={b.y + 14} className="graph-group-label">
                    {b.label}
                  </text>
                </g>
              ))}
              {laid.edges.map((e) => (
                <polyline key={`${e.from}->${e.to}`} points={e.points.map((p) => `${p.x},${p.y}`).join(' ')} className="graph-edge" markerEnd="url(#arrow)" />
              ))}
              {laid.nodes.map(({ task, x, y }) => {
                const s = states.get(task.task_id) ?? { state: null, count: 0 };
                const open = () => {
                  if (run !== undefined) void navigate(s.count > 0 ? runPath(base, run.dag_run_id) : tiPath(base, run.dag_run_id, task.task_id, -1));
                };
                const label = task.group_id !== null && task.task_display_name.startsWith(`${task.group_id}.`) ? task.task_display_name.slice(task.group_id.length + 1) : task.task_display_name;
                return (
                  <g
                    key={task.task_id}
                    transform={`translate(${x - NODE_W / 2},${y - NODE_H / 2})`}
                    className="graph-node"
                    data-testid="graph-node"
                    data-task-id={task.task_id}
                    data-group-id={task.group_id ?? undefined}
                    data-state={s.state ?? 'none'}
                    onClick={() => {
                      if (drag.current?.moved !== true) open();
                    }}
                    role="button"
                    // Named by its content (its title, label and state), so the name is what is seen.
                    tabIndex={0}
                    onKeyDown={(e) => {
                      if (e.key === 'Enter') open();
                    }}
                  >
                    <title>{task.task_id}</title>
                    <rect width={NODE_W} height={NODE_H} rx={6} className="graph-node-box" stroke={s.state === null ? undefined : stateColor(s.state)} strokeWidth={selection.taskId === task.task_id ? 4 : 2} />
                    <rect width={8} height={NODE_H} rx={3} fill={stateColor(s.state)} stroke="none" />
                    <text x={16} y={17} className="graph-label">
                      {label}
                      {s.count > 0 ? ` [${s.count}]` : ''}
                      <SetupTeardownTspan task={task} />
                    </text>
                    <text x={16} y={32} className="graph-sub">
                      {task.operator_name}
                      {s.state !== null ? ` · ${s.state}` : ''}
                    </text>
                  </g>
                );
              })}
            </g>
          </svg>
        </div>
      </div>
      <aside className="side-panel">
        <Outlet />
      </aside>
    </div>
  );
}
