/**
 * Assets (Airflow 3's `/api/v2/assets`): list and get the assets (declared by the loaded DAGs, or known to
 * the store), their events (list, create), materialize an asset (trigger the DAG that produces it), and the
 * asset events that triggered a run.
 */
import { randomUUID } from 'node:crypto';
import { resolveParams } from '../../core/params.ts';
import { DagDefinitionError } from '../../errors.ts';
import { checkAssetUri } from '../../model/asset.ts';
import type { AssetEventRecord } from '../../store/records.ts';
import type { ApiBackend } from '../backend.ts';
import { HttpError } from '../http-error.ts';
import { likeMatches } from '../like.ts';
import { findDag, findRun, requireLoaded } from '../lookup.ts';
import { toDagRun } from '../mappers.ts';
import { assetEventBody, assetEventList, assetEventListQuery, assetEventRef, assetEventSchema, assetList, assetListQuery, assetParams, assetRef, assetSchema, type ASSET_EVENT_ORDER } from '../asset-schemas.ts';
import { P, R, responses } from '../schemas.ts';
import { assetViews, type AssetView } from '../asset-view.ts';
import { paginate, type Page, type RouteContext } from './context.ts';

/** The dedupe key of an event the API records: the request's own key (namespaced, so it never matches a task's or a watcher's), else a new one. */
export function apiDedupeKey(given: string | undefined): string {
  return `api:${given ?? randomUUID()}`;
}

/** A watcher as the API shows it (snake_case fields). */
function toWatcher(w: AssetView['watchers'][number]): Record<string, unknown> & { kind: string } {
  switch (w.kind) {
    case 's3':
      return { kind: 's3', bucket: w.bucket, prefix: w.prefix };
    case 'sqs':
      return { kind: 'sqs', queue_arn: w.queueArn };
    case 'eventbridge':
      return { kind: 'eventbridge', event_pattern: w.eventPattern, event_bus_name: w.eventBusName };
    case 'file':
      return { kind: 'file', path: w.path };
  }
}

/** The API's Asset object. */
export async function toAsset(backend: ApiBackend, v: AssetView) {
  const lastId = v.record?.lastEventId ?? null;
  const last = lastId === null ? null : await backend.store.getAssetEvent(lastId);
  return {
    id: v.assetId,
    name: v.name,
    uri: v.uri,
    group: v.group,
    extra: v.extra,
    created_at: v.record?.createdAt ?? null,
    updated_at: v.record?.updatedAt ?? null,
    consuming_dags: v.consumingDags.map((dagId) => ({ dag_id: dagId })),
    producing_tasks: v.producingTasks.map((t) => ({ dag_id: t.dagId, task_id: t.taskId })),
    watchers: v.watchers.map(toWatcher),
    last_asset_event: last === null ? null : { id: last.id, timestamp: last.timestamp },
  };
}

/** Maps events to the API's AssetEvent objects, reading each created run's state once per request. */
export function eventMapper(backend: ApiBackend, views: readonly AssetView[]) {
  const byUri = new Map(views.map((v) => [v.uri, v]));
  const states = new Map<string, Promise<string | null>>();
  const stateOf = (dagId: string, runId: string) => {
    const key = JSON.stringify([dagId, runId]);
    let s = states.get(key);
    if (s === undefined) {
      s = backend.store.getRun({ dagId, runId }).then((r) => r?.state ?? null);
      states.set(key, s);
    }
    return s;
  };
  return async (e: AssetEventRecord) => {
    const v = byUri.get(e.uri);
    const src = e.source;
    const created = [];
    for (const r of e.createdRuns) created.push({ dag_id: r.dagId, run_id: r.runId, state: await stateOf(r.dagId, r.runId) });
    return {
      id: e.id,
      asset_id: e.assetId,
      uri: e.uri,
      name: v?.name ?? e.uri,
      group: v?.group ?? 'asset',
      extra: e.extra,
      source_kind: src.kind,
      source_dag_id: src.kind === 'task' ? src.dagId : null,
      source_run_id: src.kind === 'task' ? src.runId : null,
      source_task_id: src.kind === 'task' ? src.taskId : null,
      source_map_index: src.kind === 'task' ? src.mapIndex : -1,
      source_detail: src.kind === 'task' ? { try_number: src.tryNumber } : src.kind === 'api' ? { user: src.user } : { watcher: src.watcher, ...src.detail },
      created_dagruns: created,
      timestamp: e.timestamp,
    };
  };
}

/** The assets the API knows: the loaded DAGs' and the store's. */
async function allAssets(backend: ApiBackend): Promise<AssetView[]> {
  return assetViews(backend.dags.dags, await backend.store.listAssets());
}

/** The asset an id names, or a 404 naming it. */
function findAsset(views: readonly AssetView[], id: string, field: string): AssetView {
  const v = views.find((a) => a.assetId === id);
  if (v === undefined) {
    const known = views.slice(0, 20).map((a) => `${a.assetId} (${a.uri})`);
    throw new HttpError(404, `asset '${id}' not found (assets: ${known.join(', ') || 'none'}${views.length > known.length ? ', ...' : ''})`, field);
  }
  return v;
}

/** Airflow's rules for a uri given in a request (a reserved scheme...): a 400 naming body.uri. */
function checkUri(uri: string): void {
  try {
    checkAssetUri(uri, {});
  } catch (e) {
    if (e instanceof DagDefinitionError) throw new HttpError(400, `body.uri: ${e.message}`, 'body.uri');
    throw e;
  }
}

interface EventsQuery extends Page {
  asset_id?: string;
  source_dag_id?: string;
  source_run_id?: string;
  source_task_id?: string;
  order_by: (typeof ASSET_EVENT_ORDER)[number];
}

interface EventBody {
  asset_id?: string;
  uri?: string;
  extra?: Record<string, unknown>;
  dedupe_key?: string;
}

export function assetRoutes({ app, backend }: RouteContext): void {
  app.addSchema(assetSchema);
  app.addSchema(assetEventSchema);

  app.get<{ Querystring: Page & { uri_pattern?: string; name_pattern?: string; dag_ids?: string[] } }>(
    '/api/v2/assets',
    {
      schema: {
        summary: 'List assets',
        description: "The assets the loaded DAGs declare (their schedules and their tasks' outlets) and those the store knows by an event, by uri.",
        tags: ['Asset'],
        operationId: 'get_assets',
        querystring: assetListQuery,
        response: responses(assetList),
      },
    },
    async (request) => {
      const q = request.query;
      const dagIds = q.dag_ids?.length ? new Set(q.dag_ids) : null;
      const all = (await allAssets(backend)).filter(
        (v) =>
          (q.uri_pattern === undefined || likeMatches(q.uri_pattern, v.uri)) &&
          (q.name_pattern === undefined || likeMatches(q.name_pattern, v.name)) &&
          (dagIds === null || v.consumingDags.some((d) => dagIds.has(d)) || v.producingTasks.some((t) => dagIds.has(t.dagId))),
      );
      const { items, total } = paginate(all, q);
      const assets = [];
      for (const v of items) assets.push(await toAsset(backend, v));
      return { assets, total_entries: total };
    },
  );

  app.get<{ Querystring: EventsQuery }>(
    '/api/v2/assets/events',
    {
      schema: {
        summary: 'List asset events',
        description: 'Events of every asset, or of one (asset_id), or recorded by a DAG, run or task; oldest first unless order_by is -timestamp.',
        tags: ['Asset'],
        operationId: 'get_asset_events',
        querystring: assetEventListQuery,
        response: responses(assetEventList),
      },
    },
    async (request) => {
      const q = request.query;
      const views = await allAssets(backend);
      const uri = q.asset_id === undefined ? undefined : findAsset(views, q.asset_id, 'query.asset_id').uri;
      const { events, total } = await backend.store.listAssetEvents({
        ...(uri === undefined ? {} : { uri }),
        ...(q.source_dag_id === undefined ? {} : { sourceDagId: q.source_dag_id }),
        ...(q.source_run_id === undefined ? {} : { sourceRunId: q.source_run_id }),
        ...(q.source_task_id === undefined ? {} : { sourceTaskId: q.source_task_id }),
        limit: q.limit,
        offset: q.offset,
        newestFirst: q.order_by === '-timestamp',
      });
      const toEvent = eventMapper(backend, views);
      const asset_events = [];
      for (const e of events) asset_events.push(await toEvent(e));
      return { asset_events, total_entries: total };
    },
  );

  app.post<{ Body: EventBody }>(
    '/api/v2/assets/events',
    {
      schema: {
        summary: 'Create an asset event',
        description:
          'Records an event of the asset (asset_id, or uri: an asset no DAG declares is recorded too) as a task\'s success would: the DAGs scheduled on it whose condition it completes get a run (created_dagruns). 201; 200 with the first event when dedupe_key was seen before.',
        tags: ['Asset'],
        operationId: 'create_asset_event',
        body: assetEventBody,
        response: { ...responses(assetEventRef, 201, 'Created.'), 200: { description: 'An event with this dedupe_key was recorded before: that event, nothing recorded.', ...assetEventRef } },
      },
    },
    async (request, reply) => {
      const b = request.body;
      if (b.asset_id !== undefined && b.uri !== undefined) throw new HttpError(400, 'give body.asset_id or body.uri, not both', 'body.uri');
      if (b.asset_id === undefined && b.uri === undefined) throw new HttpError(400, 'give body.asset_id (an asset the server knows) or body.uri', 'body.asset_id');
      if (b.uri !== undefined) checkUri(b.uri);
      const views = await allAssets(backend);
      const uri = b.uri ?? findAsset(views, b.asset_id!, 'body.asset_id').uri;
      const { event, duplicate } = await backend.withScheduler(({ scheduler, run }) =>
        run(scheduler.recordAssetEvent({ uri, extra: b.extra ?? {}, source: { kind: 'api', user: null }, dedupeKey: apiDedupeKey(b.dedupe_key) })),
      );
      const out = await eventMapper(backend, await allAssets(backend))(event);
      return reply.code(duplicate ? 200 : 201).send(out);
    },
  );

  app.get<{ Params: { asset_id: string } }>(
    '/api/v2/assets/:asset_id',
    { schema: { summary: 'Get an asset', tags: ['Asset'], operationId: 'get_asset', params: assetParams, response: responses(assetRef) } },
    async (request) => toAsset(backend, findAsset(await allAssets(backend), request.params.asset_id, 'params.asset_id')),
  );

  app.post<{ Params: { asset_id: string } }>(
    '/api/v2/assets/:asset_id/materialize',
    {
      schema: {
        summary: 'Materialize an asset',
        description: "Triggers a run (manual, the params' defaults as conf) of the one DAG that produces the asset (a task of it has the asset among its outlets); 409 naming them when no DAG or several do.",
        tags: ['Asset'],
        operationId: 'materialize_asset',
        params: assetParams,
        response: responses(R.dagRun),
      },
    },
    async (request) => {
      const v = findAsset(await allAssets(backend), request.params.asset_id, 'params.asset_id');
      const producers = [...new Set(v.producingTasks.map((t) => t.dagId))];
      if (producers.length !== 1) {
        const which = producers.length === 0 ? 'no loaded DAG produces it (no task has it among its outlets)' : `several DAGs produce it (${producers.join(', ')}): trigger the one you mean`;
        throw new HttpError(409, `asset '${v.uri}' cannot be materialized: ${which}`, 'params.asset_id');
      }
      const dag = findDag(backend, producers[0]!);
      requireLoaded(backend, dag);
      resolveParams(dag.spec.params, {}, { dagId: dag.dagId }, dag.spec.strictConf === true);
      const run = await backend.withScheduler(({ scheduler, run: step }) => step(scheduler.triggerRun({ dagId: dag.dagId, conf: {}, runType: 'manual' })));
      return toDagRun(run);
    },
  );

  app.get<{ Params: { dag_id: string; dag_run_id: string } }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id/upstreamAssetEvents',
    {
      schema: {
        summary: 'The asset events that triggered a run',
        description: 'The events an asset-triggered run was created by (ctx.triggeringAssetEvents); empty for another run.',
        tags: ['DagRun'],
        operationId: 'get_upstream_asset_events',
        params: P.run,
        response: responses(assetEventList),
      },
    },
    async (request) => {
      const run = await findRun(backend, findDag(backend, request.params.dag_id), request.params.dag_run_id);
      const events = run.triggeringAssetEvents ?? [];
      const toEvent = eventMapper(backend, await allAssets(backend));
      const asset_events = [];
      // The run keeps copies made when it was created: the event as stored now also names the runs created since.
      for (const e of events) asset_events.push(await toEvent((await backend.store.getAssetEvent(e.id)) ?? e));
      return { asset_events, total_entries: events.length };
    },
  );
}
