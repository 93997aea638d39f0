/** DAGs: list, get (details), pause/unpause, delete; their tasks. */
import { DagNotFoundError } from '../../errors.ts';
import { deleteDag, OperationError, setDagPaused } from '../../scheduler/operations.ts';
import { HttpError } from '../http-error.ts';
import { likeMatches } from '../like.ts';
import { dagState, findDag, findTask } from '../lookup.ts';
import { toDag, toDagDetail, toTask } from '../mappers.ts';
import { B, noContent, P, Q, R, responses } from '../schemas.ts';
import { paginate, type Page, type RouteContext } from './context.ts';


export function dagRoutes({ app, backend }: RouteContext): void {
  app.get<{ Querystring: Page & { paused?: boolean; dag_id_pattern?: string; tags?: string[] } }>(
    '/api/v2/dags',
    { schema: { summary: 'List DAGs', tags: ['DAG'], operationId: 'get_dags', querystring: Q.dags, response: responses(R.dags) } },
    async (request) => {
      const q = request.query;
      const pattern = q.dag_id_pattern;
      const dags = [];
      const all = [...backend.dags.dags, ...(backend.dags.broken?.() ?? [])].sort((a, b) => (a.dagId < b.dagId ? -1 : a.dagId > b.dagId ? 1 : 0));
      for (const dag of all) {
        if (pattern !== undefined && !likeMatches(pattern, dag.dagId)) continue;
        if (q.tags?.length && !dag.spec.tags.some((t) => q.tags!.includes(t))) continue;
        const d = toDag(dag, await dagState(backend, dag));
        if (q.paused !== undefined && d.is_paused !== q.paused) continue;
        dags.push(d);
      }
      const { items, total } = paginate(dags, q);
      return { dags: items, total_entries: total };
    },
  );

  app.get<{ Params: { dag_id: string } }>(
    '/api/v2/dags/:dag_id',
    { schema: { summary: 'Get a DAG with its params', tags: ['DAG'], operationId: 'get_dag_details', params: P.dag, response: responses(R.dagDetail) } },
    async (request) => {
      const dag = findDag(backend, request.params.dag_id);
      return toDagDetail(dag, await dagState(backend, dag));
    },
  );

  app.patch<{ Params: { dag_id: string }; Body: { is_paused: boolean } }>(
    '/api/v2/dags/:dag_id',
    { schema: { summary: 'Pause or unpause a DAG', tags: ['DAG'], operationId: 'patch_dag', params: P.dag, body: B.patchDag, response: responses(R.dag) } },
    async (request) => {
      const dag = findDag(backend, request.params.dag_id);
      await backend.withScheduler(({ scheduler, run }) => run(setDagPaused(scheduler, dag.dagId, request.body.is_paused)));
      await backend.dagChanged?.(dag.dagId);
      return toDag(dag, await dagState(backend, dag));
    },
  );

  app.delete<{ Params: { dag_id: string } }>(
    '/api/v2/dags/:dag_id',
    {
      schema: {
        summary: "Delete a DAG's runs and records",
        description: 'Every run with its task instances, XComs, logs and pipeline context, its backfills and its registry record. 409 while a run is queued or running. The DAG file stays: a DAG still loaded is listed again.',
        tags: ['DAG'],
        operationId: 'delete_dag',
        params: P.dag,
        response: responses(noContent, 204, 'Deleted.'),
      },
    },
    async (request, reply) => {
      const dagId = request.params.dag_id;
      const known = backend.dags.getDag(dagId) !== undefined;
      try {
        await deleteDag(backend.store, dagId);
      } catch (e) {
        if (e instanceof OperationError) throw new HttpError(409, e.message, null, { dagId });
        // A loaded DAG with nothing in the store yet: nothing to delete, which is not an error.
        if (!(known && e instanceof DagNotFoundError)) throw e;
      }
      await backend.dagChanged?.(dagId);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { dag_id: string } }>(
    '/api/v2/dags/:dag_id/tasks',
    { schema: { summary: "List a DAG's tasks", tags: ['Task'], operationId: 'get_tasks', params: P.dag, response: responses(R.tasks) } },
    async (request) => {
      const dag = findDag(backend, request.params.dag_id);
      return { tasks: dag.spec.tasks.map(toTask), total_entries: dag.spec.tasks.length };
    },
  );

  app.get<{ Params: { dag_id: string; task_id: string } }>(
    '/api/v2/dags/:dag_id/tasks/:task_id',
    { schema: { summary: 'Get a task', tags: ['Task'], operationId: 'get_task', params: P.task, response: responses(R.task) } },
    async (request) => toTask(findTask(findDag(backend, request.params.dag_id), request.params.task_id)),
  );
}
