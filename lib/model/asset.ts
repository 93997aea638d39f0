// Assets (Airflow 3's data-aware scheduling): what a DAG declares of them (AssetSpec, the condition its
// schedule waits for), what the store keeps of them (AssetRecord, AssetEventRecord), and the pure rules
// over them: uri validation, the stable id, the condition evaluated over a set of uris, Airflow's
// `asset_expression` JSON.

import { DagDefinitionError, type ErrorLocation } from '../errors.ts';
import { sha256 } from './hash.ts';

/** An asset as a DAG declares it. `uri` is its identity (Airflow's rules: a scheme, no spaces). */
export interface AssetSpec {
  uri: string;
  name: string;
  group: string;
  extra: Record<string, unknown>;
  /** What turns changes outside airless into events of this asset; absent: none. */
  watchers?: AssetWatcherSpec[];
}

/** A condition over assets: true once each asset it needs has had an event (Airflow's `&` and `|`). */
export type AssetConditionSpec = { asset: string } | { and: AssetConditionSpec[] } | { or: AssetConditionSpec[] };

export type AssetWatcherKind = AssetWatcherSpec['kind'];

/** Where an asset's events come from outside airless. */
export type AssetWatcherSpec =
  /** Objects created under s3://bucket/prefix (S3 -> EventBridge). */
  | { kind: 's3'; bucket: string; prefix: string }
  /** Each message of the queue is an event (its body's JSON is the event's extra). */
  | { kind: 'sqs'; queueArn: string }
  /** Events matching the pattern on the bus (the default bus when null). */
  | { kind: 'eventbridge'; eventPattern: Record<string, unknown>; eventBusName: string | null }
  /** Locally: the file at a file:// uri created or changed on disk. */
  | { kind: 'file'; path: string };

/** Where an asset event came from. */
export type AssetEventSource =
  | { kind: 'task'; dagId: string; runId: string; taskId: string; mapIndex: number; tryNumber: number }
  | { kind: 'api'; user: string | null }
  | { kind: 'watcher'; watcher: AssetWatcherKind; detail: Record<string, unknown> };

/** One event of an asset: it was updated (by a task's success, through the API, or seen by a watcher). */
export interface AssetEventRecord {
  /** Unique, sorts by time: `<ISO timestamp>_<8 hex of sha256(dedupeKey)>`. */
  id: string;
  uri: string;
  assetId: string;
  extra: Record<string, unknown>;
  /** ISO-8601. */
  timestamp: string;
  source: AssetEventSource;
  /**
   * A delivery seen twice (same key) records one event: S3 `<bucket>/<key>/<sequencer>`, EventBridge event
   * id, SQS message id, a task's `ti:<dag>/<run>/<task>/<mapIndex>/<try>/<uri>`.
   */
  dedupeKey: string;
  /** The consumer runs this event completed (the runs whose condition it made true). */
  createdRuns: { dagId: string; runId: string }[];
}

/** What the store keeps of an asset (created at its first event, or when a DAG naming it is registered). */
export interface AssetRecord {
  uri: string;
  assetId: string;
  name: string;
  group: string;
  extra: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  /** The id of its latest event; null before the first. */
  lastEventId: string | null;
}

/** What task code reads of the events that triggered its run (`ctx.triggeringAssetEvents`). */
export type AssetEvent = AssetEventRecord;

/** Stable id of an asset: first 16 hex chars of sha256(uri). Used in API paths. */
export function assetId(uri: string): string {
  return sha256(uri).slice(0, 16);
}

/** The id of an event recorded at `timestamp` with `dedupeKey`: sorts by time, unique per key. */
export function assetEventId(timestamp: string, dedupeKey: string): string {
  return `${timestamp}_${sha256(dedupeKey).slice(0, 8)}`;
}

/** The dedupe key of the event a task's success records for one of its outlets. */
export function taskOutletDedupeKey(ti: { dagId: string; runId: string; taskId: string; mapIndex: number }, tryNumber: number, uri: string): string {
  return `ti:${ti.dagId}/${ti.runId}/${ti.taskId}/${ti.mapIndex}/${tryNumber}/${uri}`;
}

/** The scheme of a uri (lower case), or null when it has none. */
export function uriScheme(uri: string): string | null {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(uri);
  return m ? m[1]!.toLowerCase() : null;
}

/**
 * Check an asset uri as Airflow does: a non-empty string of at most 1500 characters, with a scheme
 * (`s3://`, `file://`, `postgres://`...), no whitespace, not the reserved `airflow://` scheme. Returns it.
 */
export function checkAssetUri(uri: unknown, loc: ErrorLocation): string {
  if (typeof uri !== 'string' || uri.length === 0) throw new DagDefinitionError(`an asset uri must be a non-empty string, got ${JSON.stringify(uri)}`, loc);
  if (uri.length > 1500) throw new DagDefinitionError(`asset uri '${uri.slice(0, 40)}...' is longer than 1500 characters`, loc);
  if (/\s/.test(uri)) throw new DagDefinitionError(`asset uri '${uri}' contains whitespace`, loc);
  const scheme = uriScheme(uri);
  if (scheme === null) throw new DagDefinitionError(`asset uri '${uri}' has no scheme: write it as <scheme>://<path>, e.g. s3://bucket/key or file:///data/x.csv`, loc);
  if (scheme === 'airflow') throw new DagDefinitionError(`asset uri '${uri}': the scheme 'airflow' is reserved`, loc);
  return uri;
}

/** Every uri a condition names, each once, in the order they appear. */
export function conditionUris(c: AssetConditionSpec): string[] {
  const out = new Set<string>();
  const visit = (x: AssetConditionSpec) => {
    if ('asset' in x) out.add(x.asset);
    else for (const y of 'and' in x ? x.and : x.or) visit(y);
  };
  visit(c);
  return [...out];
}

/**
 * Whether a condition holds when the assets in `seen` have had an event (Airflow's evaluation of an
 * asset expression over its AssetDagRunQueue: `and` needs each part, `or` any; an empty `and` would be
 * vacuously true and an empty `or` false, which authoring refuses).
 */
export function evaluateAssetCondition(c: AssetConditionSpec, seen: ReadonlySet<string>): boolean {
  if ('asset' in c) return seen.has(c.asset);
  if ('and' in c) return c.and.every((x) => evaluateAssetCondition(x, seen));
  return c.or.some((x) => evaluateAssetCondition(x, seen));
}

/** Airflow's `asset_expression` JSON of a condition: `{"all": [...]}`, `{"any": [...]}`, `{"asset": {"uri", "name"}}`. */
export type AssetExpression = { all: AssetExpression[] } | { any: AssetExpression[] } | { asset: { uri: string; name: string } };

/** The `asset_expression` of a condition; names come from `assets` (the DAG's), else the uri. */
export function assetExpression(c: AssetConditionSpec, assets: readonly AssetSpec[] = []): AssetExpression {
  if ('asset' in c) return { asset: { uri: c.asset, name: assets.find((a) => a.uri === c.asset)?.name ?? c.asset } };
  if ('and' in c) return { all: c.and.map((x) => assetExpression(x, assets)) };
  return { any: c.or.map((x) => assetExpression(x, assets)) };
}

/** The condition as text, Airflow's way: `a & (b | c)`. */
export function assetConditionText(c: AssetConditionSpec): string {
  if ('asset' in c) return c.asset;
  const parts = ('and' in c ? c.and : c.or).map((x) => ('asset' in x ? x.asset : `(${assetConditionText(x)})`));
  return parts.join('and' in c ? ' & ' : ' | ');
}
