/** DAG runs: list (of a DAG, or of every DAG with `~`), trigger, get; a run's pipeline context. */
import { resolveParams } from '../../core/params.ts';
import type { RunType } from '../../authoring/context.ts';
import type { RunState } from '../../model/states.ts';
import type { DagRunRecord } from '../../store/records.ts';
import { HttpError } from '../http-error.ts';
import { findDag, findRun, requireLoaded } from '../lookup.ts';
import { toDagRun, toPipelineSave } from '../mappers.ts';
import { runDeadlines } from '../../core/deadlines.ts';
import { B, P, Q, R, responses, type RUN_ORDER } from '../schemas.ts';
import { paginate, type Page, type RouteContext } from './context.ts';

type RunOrder = (typeof RUN_ORDER)[number];

const ORDER_FIELD = {
  logical_date: (r: DagRunRecord) => r.logicalDate,
  queued_at: (r: DagRunRecord) => r.queuedAt,
  start_date: (r: DagRunRecord) => r.startDate ?? '',
  end_date: (r: DagRunRecord) => r.endDate ?? '',
  dag_run_id: (r: DagRunRecord) => r.runId,
};

/** Sort runs by `order` ('-' first: descending), then by queued time and run id in the same direction. */
export function sortRuns(runs: DagRunRecord[], order: RunOrder): DagRunRecord[] {
  const desc = order.startsWith('-');
  const key = ORDER_FIELD[order.replace(/^-/, '') as keyof typeof ORDER_FIELD];
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return runs.sort((a, b) => {
    const c = cmp(key(a), key(b)) || cmp(a.queuedAt, b.queuedAt) || cmp(a.runId, b.runId);
    return desc ? -c : c;
  });
}

interface TriggerBody {
  dag_run_id?: string;
  logical_date?: string | null;
  conf?: Record<string, unknown>;
  note?: string | null;
}

export function dagRunRoutes({ app, backend }: RouteContext): void {
  app.get<{ Params: { dag_id: string }; Querystring: Page & { state?: RunState[]; run_type?: RunType[]; order_by: RunOrder } }>(
    '/api/v2/dags/:dag_id/dagRuns',
    {
      schema: {
        summary: 'List DAG runs',
        description: "Runs of a DAG, or of every DAG with dag_id '~'; newest logical date first by default; filtered by state and run_type (each repeatable).",
        tags: ['DagRun'],
        operationId: 'get_dag_runs',
        params: P.dag,
        querystring: Q.dagRuns,
        response: responses(R.dagRuns),
      },
    },
    async (request) => {
      const { dag_id } = request.params;
      const q = request.query;
      const dagIds = dag_id === '~' ? backend.dags.dagIds : [findDag(backend, dag_id).dagId];
      const runs: DagRunRecord[] = [];
      const types = q.run_type?.length ? new Set<RunType>(q.run_type) : null;
      for (const id of dagIds) {
        const found = await backend.store.listRuns({ dagId: id, ...(q.state?.length ? { states: q.state } : {}) });
        runs.push(...(types === null ? found : found.filter((r) => types.has(r.runType))));
      }
      const { items, total } = paginate(sortRuns(runs, q.order_by), q);
      return { dag_runs: items.map(toDagRun), total_entries: total };
    },
  );

  app.post<{ Params: { dag_id: string }; Body: TriggerBody }>(
    '/api/v2/dags/:dag_id/dagRuns',
    {
      schema: {
        summary: 'Trigger a DAG run',
        description: "conf is validated against the DAG's params (400 naming the param); 409 if dag_run_id exists.",
        tags: ['DagRun'],
        operationId: 'trigger_dag_run',
        params: P.dag,
        body: B.triggerRun,
        response: responses(R.dagRun),
      },
    },
    async (request) => {
      const dag = findDag(backend, request.params.dag_id);
      requireLoaded(backend, dag);
      const body = request.body;
      // Conf first: a bad conf is refused whatever the run id.
      resolveParams(dag.spec.params, body.conf ?? {}, { dagId: dag.dagId }, dag.spec.strictConf === true);
      const run = await backend.withScheduler(async ({ scheduler, run: step }) => {
        // Named by the request (its id, or `manual__<logical date>` from its logical date): 409 when the
        // DAG has a run with that id. Else the scheduler gives the run a new id.
        const logicalDate = body.logical_date ?? undefined;
        const runId = body.dag_run_id ?? (logicalDate === undefined ? undefined : `manual__${new Date(logicalDate).toISOString()}`);
        if (runId !== undefined) {
          const existing = await backend.store.getRun({ dagId: dag.dagId, runId });
          if (existing) {
            throw new HttpError(409, `DAG run '${runId}' of DAG '${dag.dagId}' already exists (${existing.state})`, body.dag_run_id === undefined ? null : 'body.dag_run_id', { dagId: dag.dagId });
          }
        }
        // exclusive: a run created with this id since the check above (a concurrent trigger) is a 409 too.
        return step(scheduler.triggerRun({ dagId: dag.dagId, ...(runId === undefined ? {} : { runId }), ...(logicalDate === undefined ? {} : { logicalDate }), conf: body.conf ?? {}, runType: 'manual', exclusive: true }));
      });
      if (body.note !== undefined && body.note !== null) return toDagRun((await backend.store.updateRun(run, null, { note: body.note })) ?? run);
      return toDagRun(run);
    },
  );

  app.get<{ Params: { dag_id: string; dag_run_id: string } }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id',
    { schema: { summary: 'Get a DAG run', tags: ['DagRun'], operationId: 'get_dag_run', params: P.run, response: responses(R.dagRun) } },
    async (request) => {
      const dag = findDag(backend, request.params.dag_id);
      const run = await findRun(backend, dag, request.params.dag_run_id);
      const now = backend.now?.().getTime() ?? Date.now();
      return { ...toDagRun(run), deadlines: runDeadlines(dag.spec.deadlines, run, now) };
    },
  );

  app.get<{ Params: { dag_id: string; dag_run_id: string } }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id/pipelineContext',
    {
      schema: {
        summary: "A run's pipeline context",
        description: "The saves of the run's pipeline scope (shared by a top-level run and the runs it triggered), oldest first.",
        tags: ['DagRun'],
        operationId: 'get_pipeline_context',
        params: P.run,
        response: responses(R.pipelineContext),
      },
    },
    async (request) => {
      const run = await findRun(backend, findDag(backend, request.params.dag_id), request.params.dag_run_id);
      const saves = await backend.store.listPipelineSaves(run.pipelineScope);
      return { scope: run.pipelineScope, saves: saves.map(toPipelineSave) };
    },
  );
}
