/** Where the DAG page is: its DAG, its view (grid or graph) and the run/task selected in its side panel. */
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
