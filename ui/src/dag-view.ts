/** Where the DAG page is: its DAG, its view (grid or graph) and the run/task selected in its side panel. */
import { createContext, useContext } from 'react';
import { useLocation, useMatches, useParams } from 'react-router';
import type { Task } from './api.ts';

export function useDagId(): string {
  const { dagId } = useParams();
  if (dagId === undefined) throw new Error('the DAG page needs a :dagId route parameter');
  return dagId;
}

/** The base path of the current view: `/dags/<id>` (grid) or `/dags/<id>/graph`; side-panel links extend it. */
export function useViewBase(): string {
  const dagId = useDagId();
  const { pathname } = useLocation();
  const base = `/dags/${encodeURIComponent(dagId)}`;
  return pathname.startsWith(`${base}/graph`) ? `${base}/graph` : base;
}

/** The run and task instance selected in the side panel, from any level of the route. */
export function useSelection(): { runId: string | null; taskId: string | null; mapIndex: number | null } {
  const matches = useMatches();
  const params = matches.at(-1)?.params ?? {};
  return {
    runId: params['runId'] ?? null,
    taskId: params['taskId'] ?? null,
    mapIndex: params['mapIndex'] === undefined ? null : Number(params['mapIndex']),
  };
}

/** The base path of a DAG's grid or graph view (a link to another DAG keeps the view it is shown in). */
export function dagViewBase(dagId: string, graph: boolean): string {
  const base = `/dags/${encodeURIComponent(dagId)}`;
  return graph ? `${base}/graph` : base;
}

export function runPath(base: string, runId: string): string {
  return `${base}/runs/${encodeURIComponent(runId)}`;
}

export function tiPath(base: string, runId: string, taskId: string, mapIndex: number): string {
  return `${runPath(base, runId)}/tasks/${encodeURIComponent(taskId)}/${mapIndex}`;
}

/** Tasks in topological order (upstream before downstream), ties kept in the API's order. */
export function topologicalOrder(tasks: readonly Task[]): Task[] {
  const byId = new Map(tasks.map((t) => [t.task_id, t]));
  const pending = new Map(tasks.map((t) => [t.task_id, t.upstream_task_ids.filter((u) => byId.has(u)).length]));
  const out: Task[] = [];
  const done = new Set<string>();
  while (out.length < tasks.length) {
    const next = tasks.find((t) => !done.has(t.task_id) && pending.get(t.task_id) === 0) ?? tasks.find((t) => !done.has(t.task_id));
    if (next === undefined) break;
    out.push(next);
    done.add(next.task_id);
    for (const d of next.downstream_task_ids) {
      const n = pending.get(d);
      if (n !== undefined) pending.set(d, n - 1);
    }
  }
  return out;
}

/** A task group of the DAG (from its tasks' `group_id`), nested by its dotted id, with its tasks. */
export interface TaskGroupNode {
  groupId: string;
  /** The last segment of the id (the id itself when the group is not prefixed by its parent's). */
  label: string;
  /** Nesting depth: 0 for a top-level group. */
  depth: number;
  /** Its own tasks and sub-groups, in the order the grid shows them. */
  children: (TaskGroupNode | Task)[];
  /** Every task inside, at any depth. */
  taskIds: string[];
}

/** A row of the grid (or a line of the Gantt's task list): a group header or a task, with its depth. */
export type TreeRow = { kind: 'group'; group: TaskGroupNode; depth: number } | { kind: 'task'; task: Task; depth: number };

/** The parent of a group: the longest other group whose id prefixes it with a dot (null: top level). */
function parentGroup(groupId: string, known: ReadonlySet<string>): string | null {
  let cut = groupId.lastIndexOf('.');
  while (cut > 0) {
    const candidate = groupId.slice(0, cut);
    if (known.has(candidate)) return candidate;
    cut = groupId.lastIndexOf('.', cut - 1);
  }
  return null;
}

/**
 * The DAG's tasks as a tree of groups, in topological order: a group takes the place of its first task in
 * that order, and keeps all its members together. Returns the top-level items and every group by id.
 */
export function taskTree(tasks: readonly Task[]): { roots: (TaskGroupNode | Task)[]; groups: Map<string, TaskGroupNode> } {
  const known = new Set<string>();
  for (const t of tasks) {
    // A group declared inside another (prefixed ids) also implies its parents.
    let g = t.group_id;
    while (g !== null && g !== '' && !known.has(g)) {
      known.add(g);
      const cut = g.lastIndexOf('.');
      g = cut > 0 ? g.slice(0, cut) : null;
    }
  }
  const groups = new Map<string, TaskGroupNode>();
  const nodeOf = (groupId: string): TaskGroupNode => {
    let node = groups.get(groupId);
    if (node === undefined) {
      const parent = parentGroup(groupId, known);
      const depth = parent === null ? 0 : nodeOf(parent).depth + 1;
      node = { groupId, label: parent === null ? groupId : groupId.slice(parent.length + 1), depth, children: [], taskIds: [] };
      groups.set(groupId, node);
    }
    return node;
  };
  const roots: (TaskGroupNode | Task)[] = [];
  const placed = new Set<string>();
  for (const task of topologicalOrder(tasks)) {
    let child: TaskGroupNode | Task = task;
    let groupId = task.group_id;
    while (groupId !== null && groupId !== '') {
      const node = nodeOf(groupId);
      node.taskIds.push(task.task_id);
      if (!node.children.includes(child)) node.children.push(child);
      child = node;
      groupId = parentGroup(groupId, known);
    }
    const key = 'task_id' in child ? `t:${child.task_id}` : `g:${child.groupId}`;
    if (!placed.has(key)) {
      placed.add(key);
      roots.push(child);
    }
  }
  return { roots, groups };
}

/** The visible rows of a task tree: a collapsed group shows as its header only. */
export function visibleRows(roots: readonly (TaskGroupNode | Task)[], collapsed: ReadonlySet<string>): TreeRow[] {
  const out: TreeRow[] = [];
  const walk = (items: readonly (TaskGroupNode | Task)[], depth: number) => {
    for (const item of items) {
      if ('task_id' in item) out.push({ kind: 'task', task: item, depth });
      else {
        out.push({ kind: 'group', group: item, depth });
        if (!collapsed.has(item.groupId)) walk(item.children, depth + 1);
      }
    }
  };
  walk(roots, 0);
  return out;
}

/** A compact local date for a column header: `12-07 14:03`. */
export function compactDate(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** Which page of a DAG's runs the grid and the duration chart show, and the filters on them. */
export interface RunsView {
  /** How many runs a page holds. */
  pageSize: number;
  /** Runs skipped from the newest: 0 is the newest page. */
  offset: number;
  /** Only runs in this state ('' for every state). */
  state: string;
  /** Only runs of this type ('' for every type). */
  runType: string;
}

export const DEFAULT_RUNS_VIEW: RunsView = { pageSize: 25, offset: 0, state: '', runType: '' };

/** The DAG page's runs view, shared by its grid and duration chart (set by DagPage). */
export const RunsViewContext = createContext<{ view: RunsView; setView: (next: RunsView) => void }>({ view: DEFAULT_RUNS_VIEW, setView: () => undefined });

export function useRunsView(): { view: RunsView; setView: (next: RunsView) => void } {
  return useContext(RunsViewContext);
}
