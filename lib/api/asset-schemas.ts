/**
 * The JSON Schemas of the assets routes (Airflow 3's Asset and AssetEvent objects, `/api/v2/assets`), beside
 * the others (schemas.ts) but in their own module.
 */
import { CONF_MAX_DEPTH, ID_MAX_LENGTH, MAX_DEPTH_KEYWORD } from './schemas.ts';

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
const jsonObject = { type: 'object', additionalProperties: true } as const;
const namedId = { type: 'string', minLength: 1, maxLength: ID_MAX_LENGTH } as const;

/** The longest asset uri (Airflow's). */
export const ASSET_URI_MAX_LENGTH = 1500;
/** An asset's id as the API names it: the first 16 hex characters of sha256(uri). */
export const ASSET_ID_PATTERN = '^[0-9a-f]{16}$';
/** What an asset uri must look like (Airflow's rule, lib/model/asset.ts checkAssetUri): a scheme and '://', no whitespace. */
export const ASSET_URI_PATTERN = '^[A-Za-z][A-Za-z0-9+.-]*://\\S*$';
/** The longest dedupe key a request may give. */
export const DEDUPE_KEY_MAX_LENGTH = 1024;

const assetId = { type: 'string', pattern: ASSET_ID_PATTERN, description: "The asset's id: the first 16 hex characters of the sha256 of its uri." } as const;
const assetUri = { type: 'string', minLength: 1, maxLength: ASSET_URI_MAX_LENGTH, pattern: ASSET_URI_PATTERN, description: "The asset's uri: a scheme and '://', no whitespace (s3://bucket/key, file:///data/x.csv)." } as const;

function object(properties: Record<string, unknown>, options: { optional?: readonly string[]; id?: string; description?: string } = {}) {
  const optional = new Set(options.optional ?? []);
  return {
    ...(options.id !== undefined ? { $id: options.id } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
    type: 'object',
    properties,
    required: Object.keys(properties).filter((k) => !optional.has(k)),
    additionalProperties: false,
  } as const;
}

const watcher = {
  type: 'object',
  description: "A watcher that records the asset's events: {kind: 's3', bucket, prefix}, {kind: 'sqs', queue_arn}, {kind: 'eventbridge', event_pattern, event_bus_name}, {kind: 'file', path}.",
  properties: { kind: { type: 'string', enum: ['s3', 'sqs', 'eventbridge', 'file'] } },
  required: ['kind'],
  additionalProperties: true,
} as const;

/** The Asset object (a shared component). */
export const assetSchema = object(
  {
    id: assetId,
    name: str,
    uri: str,
    group: str,
    extra: jsonObject,
    created_at: { ...nullableDateTime, description: 'When the store first recorded the asset (its first event); null while only a loaded DAG declares it.' },
    updated_at: { ...nullableDateTime, description: 'When the store last changed the asset; null while only a loaded DAG declares it.' },
    consuming_dags: { type: 'array', description: 'The loaded DAGs whose schedule names the asset.', items: object({ dag_id: str }) },
    producing_tasks: { type: 'array', description: 'The tasks of loaded DAGs that have the asset among their outlets (their success records an event).', items: object({ dag_id: str, task_id: str }) },
    watchers: { type: 'array', items: watcher },
    last_asset_event: { anyOf: [object({ id: str, timestamp: dateTime }), { type: 'null' }], description: 'Its latest event; null when it has none.' },
  },
  { id: 'Asset', description: 'An asset: declared by the loaded DAGs (a schedule or a task\'s outlets name it), or known to the store by an event.' },
);

/** A run an asset event created, or triggered. */
const createdRun = object({ dag_id: str, run_id: str, state: { ...nullableStr, description: 'The run\'s state now; null when the run was deleted.' } });

/** The AssetEvent object (a shared component). */
export const assetEventSchema = object(
  {
    id: { ...str, description: 'Unique; sorts by time.' },
    asset_id: str,
    uri: str,
    name: str,
    group: str,
    extra: jsonObject,
    source_kind: { type: 'string', enum: ['task', 'api', 'watcher'], description: 'What recorded it: a task\'s success (its outlets), a request to the API, or a watcher (s3, sqs, eventbridge, file).' },
    source_dag_id: { ...nullableStr, description: 'The DAG of the task that recorded it; null for another source.' },
    source_run_id: nullableStr,
    source_task_id: nullableStr,
    source_map_index: { ...int, description: '-1 for a task that is not mapped, or another source.' },
    source_detail: { ...jsonObject, description: "More about the source: the API's {user}, a watcher's {watcher, ...} (bucket and key, message id, event id, path), a task's {try_number}." },
    created_dagruns: { type: 'array', items: createdRun, description: 'The runs of consuming DAGs this event completed the condition of.' },
    timestamp: dateTime,
  },
  { id: 'AssetEvent' },
);

export const assetRef = { $ref: 'Asset#' } as const;
export const assetEventRef = { $ref: 'AssetEvent#' } as const;

export const assetList = object({ assets: { type: 'array', items: assetRef }, total_entries: int });
export const assetEventList = object({ asset_events: { type: 'array', items: assetEventRef }, total_entries: int });

const page = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  offset: { type: 'integer', minimum: 0, default: 0 },
};

export const ASSET_EVENT_ORDER = ['timestamp', '-timestamp'] as const;

export const assetParams = object({ asset_id: assetId });

export const assetListQuery = {
  type: 'object',
  properties: {
    ...page,
    uri_pattern: { type: 'string', maxLength: ASSET_URI_MAX_LENGTH, description: "Part of the uri; '%' matches any text and '_' one character (SQL LIKE, as Airflow), case-insensitively." },
    name_pattern: { type: 'string', maxLength: ASSET_URI_MAX_LENGTH, description: 'Part of the name, as uri_pattern.' },
    dag_ids: { type: 'array', items: namedId, description: 'Only assets these DAGs consume or produce.' },
  },
  additionalProperties: false,
} as const;

export const assetEventListQuery = {
  type: 'object',
  properties: {
    ...page,
    asset_id: assetId,
    source_dag_id: namedId,
    source_run_id: namedId,
    source_task_id: namedId,
    order_by: { type: 'string', enum: ASSET_EVENT_ORDER, default: 'timestamp', description: "'timestamp': oldest first (Airflow's default); '-timestamp': newest first." },
  },
  additionalProperties: false,
} as const;

export const assetEventBody = object(
  {
    asset_id: { ...assetId, description: 'The asset (one the server knows); give this or uri.' },
    uri: { ...assetUri, description: "The asset's uri (one no DAG declares is recorded too, and starts nothing); give this or asset_id." },
    extra: { ...jsonObject, [MAX_DEPTH_KEYWORD]: CONF_MAX_DEPTH, description: 'Metadata of the event (a consumer run reads it in ctx.triggeringAssetEvents).' },
    dedupe_key: { type: 'string', minLength: 1, maxLength: DEDUPE_KEY_MAX_LENGTH, description: 'An event sent again with the same key records nothing more (the first is answered, 200 instead of 201). Default: a new key per request.' },
  },
  { optional: ['asset_id', 'uri', 'extra', 'dedupe_key'] },
);
