/** Operations: clear task instances, import errors, backfills. */
import { clearTaskInstances, createBackfill, listBackfills, OperationError } from '../../scheduler/operations.ts';
import type { ReprocessBehavior } from '../../store/records.ts';
import { HttpError } from '../http-error.ts';
import { findDag, findRun, requireLoaded } from '../lookup.ts';
import { toBackfill, toBackfillDate, toClearResult } from '../mappers.ts';
import { B, P, Q, R, REQUIRED_DAG_ID_QUERY, responses } from '../schemas.ts';
import { paginate, type Page, type RouteContext } from './context.ts';

interface ClearBody {
  dag_run_id: string;
  task_ids?: string[];
  map_indexes?: number[];
  only_failed?: boolean;
  include_downstream?: boolean;
  include_upstream?: boolean;
  dry_run: boolean;
  run_on_latest_version: boolean;
}

interface BackfillBody {
  dag_id: string;
  from_date: string;
  to_date: string;
  reprocess_behavior: ReprocessBehavior;
  max_active_runs: number;
  dag_run_conf?: Record<string, unknown>;
}

export function operationRoutes({ app, backend }: RouteContext): void {
  app.post<{ Params: { dag_id: string }; Body: ClearBody }>(
    '/api/v2/dags/:dag_id/clearTaskInstances',
    {
      schema: {
        summary: 'Clear task instances of a run (rerun them)',
        description: "dry_run (default true, as Airflow) says what would be cleared and changes nothing; run_on_latest_version (default false) reruns them on the DAG's latest version.",
        tags: ['TaskInstance'],
        operationId: 'post_clear_task_instances',
        params: P.dag,
        body: B.clear,
        response: responses(R.clear),
      },
    },
    async (request) => {
      const dag = findDag(backend, request.params.dag_id);
      const b = request.body;
      const run = await findRun(backend, dag, b.dag_run_id).catch((e: unknown) => {
        throw e instanceof HttpError ? new HttpError(404, e.message, 'body.dag_run_id', e.location) : e;
      });
      const unknown = (b.task_ids ?? []).find((id) => !dag.taskIndex.has(id));
      if (unknown !== undefined) {
        const i = b.task_ids!.indexOf(unknown);
        throw new HttpError(404, `task '${unknown}' not found in DAG '${dag.dagId}' (tasks: ${[...dag.taskIndex.keys()].join(', ')})`, `body.task_ids[${i}]`, { dagId: dag.dagId, taskId: unknown });
      }
      const result = await backend.withScheduler(({ scheduler, run: step }) =>
        step(clearTaskInstances(scheduler, {
          dagId: dag.dagId,
          runId: run.runId,
          ...(b.task_ids ? { taskIds: b.task_ids } : {}),
          ...(b.map_indexes ? { mapIndexes: b.map_indexes } : {}),
          onlyFailed: b.only_failed ?? false,
          downstream: b.include_downstream ?? false,
          upstream: b.include_upstream ?? false,
          dryRun: b.dry_run,
          runOnLatestVersion: b.run_on_latest_version,
        })),
      );
      return toClearResult(result);
    },
  );

  app.get(
    '/api/v2/importErrors',
    { schema: { summary: 'DAG files that failed to import', tags: ['ImportError'], operationId: 'get_import_errors', querystring: Q.page, response: responses(R.importErrors) } },
    async (request) => {
      const all = backend.dags.importErrors.map((e, i) => ({ import_error_id: i + 1, filename: e.file, stack_trace: e.error, timestamp: null }));
      const { items, total } = paginate(all, request.query as Page);
      return { import_errors: items, total_entries: total };
    },
  );

  app.get<{ Querystring: Page & { dag_id: string } }>(
    '/api/v2/backfills',
    { schema: { summary: "A DAG's backfills", tags: ['Backfill'], operationId: 'list_backfills', querystring: { ...Q.backfills, required: ['dag_id'] }, response: responses(R.backfills) } },
    async (request) => {
      const dag = findDag(backend, request.query.dag_id, 'query.dag_id');
      const { items, total } = paginate(await listBackfills(backend.store, dag.dagId), request.query);
      return { backfills: items.map(toBackfill), total_entries: total };
    },
  );

  const backfillOptions = (b: BackfillBody, dryRun: boolean) => ({
    dagId: b.dag_id,
    fromDate: b.from_date,
    toDate: b.to_date,
    reprocessBehavior: b.reprocess_behavior,
    maxActiveRuns: b.max_active_runs,
    ...(b.dag_run_conf ? { conf: b.dag_run_conf } : {}),
    dryRun,
  });

  app.post<{ Body: BackfillBody }>(
    '/api/v2/backfills',
    { schema: { summary: 'Create a backfill', tags: ['Backfill'], operationId: 'create_backfill', body: B.backfill, response: responses(R.backfill) } },
    async (request) => {
      const dag = findDag(backend, request.body.dag_id, 'body.dag_id');
      requireLoaded(backend, dag);
      const result = await backend
        .withScheduler(({ scheduler, run }) => run(createBackfill(scheduler, backfillOptions(request.body, false))))
        .catch((e: unknown) => {
          // Only one running backfill per DAG: a conflict, not a malformed request.
          if (e instanceof OperationError && /backfill \S+ is running/.test(e.message)) throw new HttpError(409, e.message, null, { dagId: dag.dagId });
          throw e;
        });
      return toBackfill(result.backfill!);
    },
  );

  app.post<{ Body: BackfillBody }>(
    '/api/v2/backfills/dry_run',
    { schema: { summary: 'What a backfill would do, per logical date', tags: ['Backfill'], operationId: 'create_backfill_dry_run', body: B.backfill, response: responses(R.backfillDryRun) } },
    async (request) => {
      findDag(backend, request.body.dag_id, 'body.dag_id');
      const result = await backend.withScheduler(({ scheduler, run }) => run(createBackfill(scheduler, backfillOptions(request.body, true))));
      return { backfills: result.dates.map(toBackfillDate), total_entries: result.dates.length };
    },
  );

  app.get<{ Params: { backfill_id: string }; Querystring: { dag_id: string } }>(
    '/api/v2/backfills/:backfill_id',
    { schema: { summary: 'Get a backfill', tags: ['Backfill'], operationId: 'get_backfill', params: P.backfill, querystring: REQUIRED_DAG_ID_QUERY, response: responses(R.backfill) } },
    async (request) => {
      const dag = findDag(backend, request.query.dag_id, 'query.dag_id');
      const b = await backend.store.getBackfill(dag.dagId, request.params.backfill_id);
      if (!b) throw new HttpError(404, `backfill '${request.params.backfill_id}' of DAG '${dag.dagId}' not found`, 'params.backfill_id', { dagId: dag.dagId });
      return toBackfill(b);
    },
  );
}
