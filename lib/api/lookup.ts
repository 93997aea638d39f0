/** Finding what a request names, or answering 404 naming it. */
import type { Dag } from '../authoring/dag.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { DagRunRecord, TaskInstanceRecord } from '../store/records.ts';
import type { ApiBackend } from './backend.ts';
import { HttpError } from './http-error.ts';
import type { DagState } from './mappers.ts';

export function findDag(backend: ApiBackend, dagId: string, field = 'params.dag_id'): Dag {
  // A DAG whose file fails to import now is found as last loaded (its runs, tasks and error are served).
  const dag = backend.dags.getDag(dagId) ?? backend.dags.brokenDag?.(dagId);
  if (!dag) throw new HttpError(404, `DAG '${dagId}' not found (DAGs: ${backend.dags.dagIds.join(', ') || 'none'})`, field, { dagId });
  return dag;
}

export function findTask(dag: Dag, taskId: string): TaskSpec {
  const t = dag.taskIndex.get(taskId);
  if (!t) throw new HttpError(404, `task '${taskId}' not found in DAG '${dag.dagId}' (tasks: ${[...dag.taskIndex.keys()].join(', ')})`, 'params.task_id', { dagId: dag.dagId, taskId });
  return t;
}

export async function findRun(backend: ApiBackend, dag: Dag, runId: string): Promise<DagRunRecord> {
  const run = await backend.store.getRun({ dagId: dag.dagId, runId });
  if (!run) throw new HttpError(404, `DAG run '${runId}' of DAG '${dag.dagId}' not found`, 'params.dag_run_id', { dagId: dag.dagId });
  return run;
}

export async function findTaskInstance(backend: ApiBackend, run: DagRunRecord, t: TaskSpec, mapIndex: number): Promise<TaskInstanceRecord> {
  const ti = await backend.store.getTaskInstance({ dagId: run.dagId, runId: run.runId, taskId: t.taskId, mapIndex });
  if (!ti) {
    const field = mapIndex === -1 ? 'params.task_id' : 'params.map_index';
    throw new HttpError(404, `task instance '${t.taskId}' [map index ${mapIndex}] of DAG run '${run.runId}' (DAG '${run.dagId}') not found`, field, { dagId: run.dagId, taskId: t.taskId });
  }
  return ti;
}

/** What a DAG's response needs beyond its spec: its registry record, import errors, next run. */
export async function dagState(backend: ApiBackend, dag: Dag): Promise<DagState> {
  const [record, nextRun] = await Promise.all([backend.store.getDagRecord(dag.dagId), backend.nextRun ? backend.nextRun(dag.dagId) : Promise.resolve(null)]);
  return { record, nextRun, hasImportErrors: (backend.dags.importErrorsFor?.(dag.dagId).length ?? 0) > 0 };
}

/**
 * Refuse to act (trigger, backfill) on a DAG whose file fails to import now: 409, naming the file's error.
 */
export function requireLoaded(backend: ApiBackend, dag: Dag): void {
  if (backend.dags.getDag(dag.dagId)) return;
  const errors = backend.dags.importErrorsFor?.(dag.dagId) ?? [];
  throw new HttpError(
    409,
    `DAG '${dag.dagId}' cannot run: its file ${dag.spec.fileloc ?? '?'} fails to import (fix it; its runs are kept):\n${errors.map((e) => e.error).join('\n')}`,
    'params.dag_id',
    { dagId: dag.dagId },
  );
}
