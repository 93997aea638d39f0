/**
 * Human-in-the-loop requests (Airflow 3.1's `hitlDetails`): list (pending or answered), get one, answer one
 * (`PATCH`, through `Scheduler.respondHitl`: 400 a bad option or field, 403 a user not assigned, 409 answered
 * already). The user who answers is the API's caller (`callerOf`).
 */
import type { FastifyRequest } from 'fastify';
import { closeStaleHitlRequests, HitlResponseError } from '../../scheduler/hitl.ts';
import type { HitlRecord } from '../../store/hitl-records.ts';
import type { ApiAuth } from '../backend.ts';
import { hitlDetailList, hitlDetailRef, hitlDetailSchema, hitlListParams, hitlListQuery, hitlPatchBody, hitlTiMappedParams, hitlTiParams } from '../hitl-schemas.ts';
import { HttpError } from '../http-error.ts';
import { findDag, findRun, findTask } from '../lookup.ts';
import { responses } from '../schemas.ts';
import type { RouteContext } from './context.ts';

/** The API's HITLDetail object. */
export function toHitlDetail(r: HitlRecord) {
  const a = r.response;
  return {
    dag_id: r.dagId,
    dag_run_id: r.runId,
    task_id: r.taskId,
    map_index: r.mapIndex,
    try_number: r.tryNumber,
    subject: r.subject,
    body: r.body,
    options: r.options,
    multiple: r.multiple,
    defaults: r.defaults,
    params: r.params,
    assigned_users: r.assignedTo.map((id) => ({ id })),
    created_at: r.createdAt,
    timeout_at: r.timeoutAt,
    response_received: a !== null && a.closed === undefined,
    chosen_options: a?.chosenOptions ?? null,
    params_input: a?.paramsInput ?? null,
    responded_by_user: a?.respondedBy ? { id: a.respondedBy } : null,
    responded_at: a?.respondedAt ?? null,
    timed_out: a?.timedOut ?? false,
    closed_reason: a?.closed ?? null,
  };
}

/**
 * Who calls: with a token, the user the token stands for (`auth.user`); deployed (IAM), the principal AWS
 * checked (the Function URL's `requestContext.authorizer.iam.userArn`); null when unknown.
 */
export function callerOf(request: FastifyRequest, auth: ApiAuth): string | null {
  if (auth.mode === 'token') return auth.user ?? null;
  const event = (request as unknown as { awsLambda?: { event?: { requestContext?: { authorizer?: { iam?: { userArn?: unknown } } } } } }).awsLambda?.event;
  const arn = event?.requestContext?.authorizer?.iam?.userArn;
  return typeof arn === 'string' && arn !== '' ? arn : null;
}

interface ListParams {
  dag_id: string;
  dag_run_id: string;
}
interface TiParams extends ListParams {
  task_id: string;
  map_index?: number;
}

/** HitlResponseError's field as the request path at fault. */
function bodyField(field: string | null): string | null {
  if (field === null) return null;
  return field.startsWith('chosen_options') || field.startsWith('params_input') ? `body.${field}` : field;
}

export function hitlRoutes({ app, backend }: RouteContext, auth: ApiAuth): void {
  app.addSchema(hitlDetailSchema);
  const tag = ['HumanInTheLoop'];

  app.get<{ Params: ListParams; Querystring: { limit: number; offset: number; state?: 'pending' | 'responded' } }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id/hitlDetails',
    {
      schema: {
        summary: 'List human-in-the-loop requests',
        description: "Newest first. '~' as dag_id or dag_run_id lists every DAG's or every run's; state=pending lists those waiting for an answer.",
        tags: tag,
        operationId: 'get_hitl_details',
        params: hitlListParams,
        querystring: hitlListQuery,
        response: responses(hitlDetailList),
      },
    },
    async (request) => {
      const { dag_id: dagId, dag_run_id: runId } = request.params;
      const q = request.query;
      const pending = q.state === undefined ? {} : { pending: q.state === 'pending' };
      if (dagId !== '~') {
        const dag = findDag(backend, dagId);
        if (runId !== '~') await findRun(backend, dag, runId);
      }
      // Requests whose instances stopped waiting are closed as they are listed, then listed again (they
      // leave the pending list); a few rounds at most, since each round closes what its page showed.
      const list = async () => {
        if (dagId === '~' && runId !== '~') {
          // One run id in every DAG: the store lists by DAG, so filter (run ids are per DAG).
          const all = (await backend.store.listHitlRequests({ ...pending, limit: Number.MAX_SAFE_INTEGER })).records.filter((r) => r.runId === runId);
          return { records: all.slice(q.offset, q.offset + q.limit), total: all.length };
        }
        return backend.store.listHitlRequests({
          ...pending,
          ...(dagId !== '~' ? { dagId } : {}),
          ...(dagId !== '~' && runId !== '~' ? { runId } : {}),
          limit: q.limit,
          offset: q.offset,
        });
      };
      let page = await list();
      for (let round = 0; round < 5 && (await closeStaleHitlRequests(backend.store, page.records, backend.now?.().getTime() ?? Date.now())) > 0; round++) page = await list();
      return { hitl_details: page.records.map(toHitlDetail), total_entries: page.total };
    },
  );

  const one = async (p: TiParams): Promise<HitlRecord> => {
    const dag = findDag(backend, p.dag_id);
    const run = await findRun(backend, dag, p.dag_run_id);
    findTask(backend.dags.getDag(run.dagId, run.dagVersion) ?? dag, p.task_id);
    const mapIndex = p.map_index ?? -1;
    const rec = await backend.store.getHitlRequest({ dagId: run.dagId, runId: run.runId, taskId: p.task_id, mapIndex });
    if (!rec) throw new HttpError(404, `task '${p.task_id}'${mapIndex >= 0 ? ` [${mapIndex}]` : ''} of run '${run.runId}' of DAG '${run.dagId}' has no human-in-the-loop request`, 'params.task_id', { dagId: run.dagId, taskId: p.task_id });
    if ((await closeStaleHitlRequests(backend.store, [rec], backend.now?.().getTime() ?? Date.now())) > 0) return (await backend.store.getHitlRequest(rec)) ?? rec;
    return rec;
  };

  const answer = async (request: FastifyRequest<{ Params: TiParams; Body: { chosen_options: string[]; params_input?: Record<string, unknown> } }>) => {
    const rec = await one(request.params);
    const b = request.body;
    try {
      const answered = await backend.withScheduler(({ scheduler, run }) =>
        run(scheduler.respondHitl(rec, { chosenOptions: b.chosen_options, ...(b.params_input !== undefined ? { paramsInput: b.params_input } : {}), user: callerOf(request, auth) })),
      );
      return toHitlDetail(answered);
    } catch (e) {
      if (e instanceof HitlResponseError) throw new HttpError(e.status, e.message, bodyField(e.field) ?? (e.status === 404 ? 'params.task_id' : null));
      throw e;
    }
  };

  for (const [suffix, params] of [['', hitlTiParams], ['/:map_index', hitlTiMappedParams]] as const) {
    const url = `/api/v2/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id${suffix}/hitlDetails`;
    const mapped = suffix !== '';
    app.get<{ Params: TiParams }>(
      url,
      { schema: { summary: `Get the human-in-the-loop request of a task instance${mapped ? ' (by map index)' : ''}`, description: "The latest try's request.", tags: tag, operationId: mapped ? 'get_mapped_ti_hitl_detail' : 'get_hitl_detail', params, response: responses(hitlDetailRef) } },
      async (request) => toHitlDetail(await one(request.params)),
    );
    app.patch<{ Params: TiParams; Body: { chosen_options: string[]; params_input?: Record<string, unknown> } }>(
      url,
      {
        schema: {
          summary: `Answer the human-in-the-loop request of a task instance${mapped ? ' (by map index)' : ''}`,
          description: "The caller is who answers. 400 names a bad option or field (body.chosen_options, body.params_input.<field>); 403: the caller is not among the assigned users; 409: answered already (saying by whom and when) or no longer waiting.",
          tags: tag,
          operationId: mapped ? 'update_mapped_ti_hitl_detail' : 'update_hitl_detail',
          params,
          body: hitlPatchBody,
          response: { ...responses(hitlDetailRef), 403: { description: 'The caller may not answer this request.', $ref: 'HTTPError#' } },
        },
      },
      answer,
    );
  }
}
