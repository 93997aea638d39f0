/** Marking runs and task instances, and their notes (Airflow 3's PATCH dagRun and PATCH taskInstance). */
import type { Dag } from '../../authoring/dag.ts';
import { markRunState, markTaskInstances, OperationError, setRunNote, setTaskInstanceNote, type RunMarkState, type TiMarkState } from '../../scheduler/operations.ts';
import type { DagRunRecord } from '../../store/records.ts';
import type { ApiBackend } from '../backend.ts';
import { HttpError } from '../http-error.ts';
import { findDag, findRun, findTask } from '../lookup.ts';
import { noInstance, toDagRun, toTaskInstance, type TaskInstanceResponse } from '../mappers.ts';
import { B, P, R, responses } from '../schemas.ts';
import type { RouteContext } from './context.ts';

interface RunParams {
  dag_id: string;
  dag_run_id: string;
}
interface TiParams extends RunParams {
  task_id: string;
  map_index?: number;
}
interface PatchRunBody {
  state?: RunMarkState;
  note?: string | null;
}
interface PatchTiBody {
  new_state?: TiMarkState;
  note?: string | null;
  include_upstream: boolean;
  include_downstream: boolean;
  include_future: boolean;
  include_past: boolean;
  dry_run: boolean;
}

/** The run, and its DAG as the run knows it (the version it runs, else the latest). */
async function runOf(backend: ApiBackend, p: RunParams): Promise<{ dag: Dag; run: DagRunRecord }> {
  const latest = findDag(backend, p.dag_id);
  const run = await findRun(backend, latest, p.dag_run_id);
  return { dag: backend.dags.getDag(run.dagId, run.dagVersion) ?? latest, run };
}

export function markRoutes({ app, backend }: RouteContext): void {
  app.patch<{ Params: RunParams; Body: PatchRunBody }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id',
    {
      schema: {
        summary: 'Mark a DAG run (success, failed: stop it; queued) or set its note',
        description: 'state failed stops a queued or running run: its running tries are aborted and fail, its other unfinished instances and undecided tasks are skipped. success ends it with every unfinished instance success. 409 when the run cannot take the state (a running run cannot be queued).',
        tags: ['DagRun'],
        operationId: 'patch_dag_run',
        params: P.run,
        body: B.patchDagRun,
        response: responses(R.dagRun),
      },
    },
    async (request) => {
      const { run } = await runOf(backend, request.params);
      const { state, note } = request.body;
      const ref = { dagId: run.dagId, runId: run.runId };
      await backend.withScheduler(async ({ scheduler, run: step }) => {
        if (note !== undefined) await step(setRunNote(scheduler, ref, note));
        if (state !== undefined) {
          await step(markRunState(scheduler, { ...ref, state })).catch((e: unknown) => {
            // The run's state does not allow it (a running run queued): a conflict, as Airflow answers.
            throw e instanceof OperationError ? new HttpError(409, e.message, 'body.state', { dagId: run.dagId }) : e;
          });
        }
      });
      return toDagRun((await backend.store.getRun(ref)) ?? run);
    },
  );

  const patchTi = async (params: TiParams, body: PatchTiBody): Promise<{ task_instances: TaskInstanceResponse[]; total_entries: number }> => {
    const { dag, run } = await runOf(backend, params);
    const t = findTask(dag, params.task_id);
    if (body.new_state === undefined && body.note === undefined) {
      throw new HttpError(400, 'nothing to change: give new_state, note, or both', 'body', { dagId: dag.dagId, taskId: t.taskId });
    }
    const mapIndex = params.map_index;
    const found: TaskInstanceResponse[] = [];
    await backend.withScheduler(async ({ scheduler, run: step }) => {
      if (body.note !== undefined && !body.dry_run) {
        const tis = mapIndex === undefined ? await backend.store.listTaskInstances(run, t.taskId) : [await backend.store.getTaskInstance({ dagId: run.dagId, runId: run.runId, taskId: t.taskId, mapIndex })].filter((x) => x !== undefined);
        if (tis.length === 0) {
          throw new HttpError(404, `task '${t.taskId}'${mapIndex !== undefined && mapIndex >= 0 ? ` [map index ${mapIndex}]` : ''} has no instance in DAG run '${run.runId}' yet: there is nothing to write a note on`, 'params.task_id', { dagId: dag.dagId, taskId: t.taskId });
        }
        for (const ti of tis) await step(setTaskInstanceNote(scheduler, ti, body.note));
      }
      if (body.new_state === undefined) return;
      const res = await step(
        markTaskInstances(scheduler, {
          dagId: dag.dagId,
          runId: run.runId,
          taskId: t.taskId,
          ...(mapIndex !== undefined ? { mapIndex } : {}),
          state: body.new_state,
          upstream: body.include_upstream,
          downstream: body.include_downstream,
          future: body.include_future,
          past: body.include_past,
          dryRun: body.dry_run,
        }),
      );
      for (const m of res.marked) {
        const mDag = m.runId === run.runId ? dag : (backend.dags.getDag(m.dagId, (await backend.store.getRun(m))?.dagVersion) ?? dag);
        const spec = mDag.task(m.taskId);
        const ti = await backend.store.getTaskInstance(m);
        if (ti) found.push(toTaskInstance(ti, spec));
        else found.push(noInstance((await backend.store.getRun(m)) ?? run, spec));
      }
    });
    if (body.new_state === undefined) {
      const tis = mapIndex === undefined ? await backend.store.listTaskInstances(run, t.taskId) : [await backend.store.getTaskInstance({ dagId: run.dagId, runId: run.runId, taskId: t.taskId, mapIndex })].filter((x) => x !== undefined);
      found.push(...tis.map((ti) => toTaskInstance(ti, t)));
    }
    return { task_instances: found, total_entries: found.length };
  };

  const tiSchema = (mapped: boolean) => ({
    summary: mapped ? 'Mark one map index of a task instance, or set its note' : 'Mark a task instance (every map index), or set its note',
    description:
      "new_state marks the instance and, with include_upstream/include_downstream/include_past/include_future, the same or related tasks; an unfinished one finishes (a running try is aborted), a finished one changes state with the downstream tallies kept right, a task not decided yet is settled; in a running run the downstream tasks then decide as after any finish. dry_run lists what would be marked. The response lists the instances marked (dry_run: as they are now).",
    tags: ['TaskInstance'],
    operationId: mapped ? 'patch_mapped_task_instance' : 'patch_task_instance',
    params: mapped ? P.tiMapped : P.ti,
    body: B.patchTaskInstance,
    response: responses(R.taskInstances),
  });

  app.patch<{ Params: TiParams; Body: PatchTiBody }>('/api/v2/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id', { schema: tiSchema(false) }, (request) => patchTi(request.params, request.body));
  app.patch<{ Params: TiParams & { map_index: number }; Body: PatchTiBody }>('/api/v2/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/:map_index', { schema: tiSchema(true) }, (request) => patchTi(request.params, request.body));
}
