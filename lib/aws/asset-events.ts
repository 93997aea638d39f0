// Assets' watchers deployed: AWS delivers the events, nothing polls. The asset-events function
// (functions/asset-events.ts) receives
// - EventBridge `Object Created` events of S3 (one rule per S3 watcher: cdk/asset-watchers.ts), which name
//   the bucket and the key: each asset `s3://<bucket>/<prefix>` whose prefix the key is under gets an event;
// - events of a user's EventBridge rule (one rule per EventBridge watcher, its pattern): each asset whose
//   watcher's pattern the event matches gets one, its extra the event's `detail`;
// - SQS batches (one event source mapping per SQS watcher's queue): each message is an event of the assets
//   watching its queue, its extra the body's JSON; a bad message fails alone (a partial batch response), so
//   the others are not delivered again.
// Each becomes a `Scheduler.recordAssetEvent` step on the store through an InvocationHost, as the other
// handlers run steps, so the consumer runs it starts get their first tasks dispatched in this invocation.
// A delivery seen again (its dedupe key: S3 `<bucket>/<key>/<sequencer>`, EventBridge's event id, SQS's
// message id) records nothing twice and finishes what an interrupted first delivery left. A bad event (no
// asset, a bad body) is an AssetEventError naming what was wrong: never dropped in silence.

import { BatchProcessor, EventType, processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { checkEventPattern, matchesEventPattern, type EventPattern } from '../core/event-pattern.ts';
import type { AssetSpec } from '../model/asset.ts';
import type { AssetEventInput } from '../scheduler/assets.ts';
import type { RunRef } from '../store/records.ts';
import { scheduler } from './handlers.ts';
import type { AwsServices } from './services.ts';

/** An event the asset-events function cannot turn into asset events: it names the delivery and why. */
export class AssetEventError extends Error {
  override name = 'AssetEventError';
}

/** An asset's S3 watcher: objects created under `s3://bucket/prefix`. */
export interface S3Watch {
  uri: string;
  bucket: string;
  prefix: string;
}
/** An asset's SQS watcher: every message of the queue. */
export interface SqsWatch {
  uri: string;
  queueArn: string;
}
/** An asset's EventBridge watcher: the events matching the pattern on the bus (the default bus when null). */
export interface EventBridgeWatch {
  uri: string;
  eventPattern: EventPattern;
  eventBusName: string | null;
}

/** The watchers of the deployed DAGs' assets, by kind (each asset's watcher once, whichever DAGs name it). */
export interface WatchedAssets {
  s3: S3Watch[];
  sqs: SqsWatch[];
  eventbridge: EventBridgeWatch[];
}

/**
 * The watchers of every asset the DAGs declare (`DagSpec.assets`), each (asset, watcher) once, in uri
 * order. `file` watchers are the standalone's (lib/standalone): none deployed. An EventBridge watcher's
 * pattern must be one {@link checkEventPattern} accepts (an `EventPatternError` naming the asset otherwise).
 */
export function watchedAssets(specs: readonly { dagId: string; assets?: readonly AssetSpec[] }[]): WatchedAssets {
  const out: WatchedAssets = { s3: [], sqs: [], eventbridge: [] };
  const seen = new Set<string>();
  const assets = specs.flatMap((s) => (s.assets ?? []).map((a) => ({ dagId: s.dagId, asset: a })));
  assets.sort((a, b) => (a.asset.uri < b.asset.uri ? -1 : a.asset.uri > b.asset.uri ? 1 : 0));
  for (const { dagId, asset } of assets) {
    for (const w of asset.watchers ?? []) {
      const key = JSON.stringify([asset.uri, w]);
      if (seen.has(key)) continue;
      seen.add(key);
      switch (w.kind) {
        case 's3':
          out.s3.push({ uri: asset.uri, bucket: w.bucket, prefix: w.prefix });
          break;
        case 'sqs':
          out.sqs.push({ uri: asset.uri, queueArn: w.queueArn });
          break;
        case 'eventbridge':
          try {
            checkEventPattern(w.eventPattern);
          } catch (e) {
            throw new AssetEventError(`DAG '${dagId}', asset '${asset.uri}': its EventBridge watcher's ${(e as Error).message}`);
          }
          out.eventbridge.push({ uri: asset.uri, eventPattern: w.eventPattern, eventBusName: w.eventBusName });
          break;
        case 'file':
          break;
      }
    }
  }
  return out;
}

export type { AssetEventInput } from '../scheduler/assets.ts';

/** An EventBridge event as a rule's Lambda target receives it. */
export interface EventBridgeEnvelope {
  version?: string;
  id: string;
  'detail-type': string;
  source: string;
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: unknown;
}

/** What S3 puts in the `detail` of an `Object Created` event sent to EventBridge (keys are not URL-encoded there). */
interface S3ObjectCreatedDetail {
  bucket: { name: string };
  object: { key: string; size?: number; etag?: string; sequencer?: string; 'version-id'?: string };
  reason?: string;
  'request-id'?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Whether `e` has the shape of an EventBridge event. */
export function isEventBridgeEnvelope(e: unknown): e is EventBridgeEnvelope {
  return isObject(e) && typeof e['id'] === 'string' && typeof e['detail-type'] === 'string' && typeof e['source'] === 'string' && 'detail' in e;
}

/** Whether `e` is an SQS batch (an event source mapping's). */
export function isSqsEvent(e: unknown): e is SQSEvent {
  return isObject(e) && Array.isArray(e['Records']) && e['Records'].every((r) => isObject(r) && r['eventSource'] === 'aws:sqs');
}

/** A dedupe key per asset when one delivery names several (a dedupe key records one event, whatever its asset). */
function keysFor(base: string, uris: readonly string[]): (uri: string) => string {
  return uris.length > 1 ? (uri) => `${base}#${uri}` : () => base;
}

function timestampOf(time: string | undefined): { timestamp?: string } {
  if (time === undefined) return {};
  const t = Date.parse(time);
  return Number.isNaN(t) ? {} : { timestamp: new Date(t).toISOString() };
}

function s3Detail(event: EventBridgeEnvelope): S3ObjectCreatedDetail | null {
  if (event.source !== 'aws.s3' || event['detail-type'] !== 'Object Created') return null;
  const d = event.detail;
  if (!isObject(d) || !isObject(d['bucket']) || typeof d['bucket']['name'] !== 'string' || !isObject(d['object']) || typeof d['object']['key'] !== 'string') {
    throw new AssetEventError(`S3 'Object Created' event ${event.id} has no detail.bucket.name and detail.object.key: ${JSON.stringify(d).slice(0, 300)}`);
  }
  return d as unknown as S3ObjectCreatedDetail;
}

/**
 * The asset events of an EventBridge event: for an S3 `Object Created` event, one per asset whose S3
 * watcher's bucket is the event's and whose prefix its key is under (extra `{bucket, key, size, etag,
 * sequencer}`, dedupe key `<bucket>/<key>/<sequencer>`); and one per asset whose EventBridge watcher's pattern
 * the event matches (extra the event's `detail`, dedupe key the event's id). A dedupe key gets `#<uri>` when
 * the event is several assets'. Empty when the event is no watcher's.
 */
export function eventBridgeAssetEvents(event: EventBridgeEnvelope, watched: WatchedAssets): AssetEventInput[] {
  const out: AssetEventInput[] = [];
  const at = timestampOf(event.time);
  const s3 = s3Detail(event);
  if (s3) {
    const { name: bucket } = s3.bucket;
    const { key, size, etag, sequencer } = s3.object;
    const uris = [...new Set(watched.s3.filter((w) => w.bucket === bucket && key.startsWith(w.prefix)).map((w) => w.uri))];
    // The sequencer orders the writes of one key: a new object under the same key is a new event.
    const keyOf = keysFor(`${bucket}/${key}/${sequencer ?? event.id}`, uris);
    const extra = { bucket, key, size: size ?? null, etag: etag ?? null, sequencer: sequencer ?? null };
    for (const uri of uris) out.push({ uri, extra, source: { kind: 'watcher', watcher: 's3', detail: { eventId: event.id, ...extra, ...(s3.reason ? { reason: s3.reason } : {}) } }, dedupeKey: keyOf(uri), ...at });
  }
  const matching = [...new Set(watched.eventbridge.filter((w) => matchesEventPattern(w.eventPattern, event)).map((w) => w.uri))];
  const keyOf = keysFor(event.id, matching);
  const extra = isObject(event.detail) ? event.detail : { detail: event.detail };
  for (const uri of matching) {
    out.push({
      uri,
      extra,
      source: { kind: 'watcher', watcher: 'eventbridge', detail: { eventId: event.id, source: event.source, detailType: event['detail-type'], ...(event.account ? { account: event.account } : {}), ...(event.region ? { region: event.region } : {}) } },
      dedupeKey: keyOf(uri),
      ...at,
    });
  }
  return out;
}

/**
 * The asset events of one SQS message: one per asset watching the message's queue (its `eventSourceARN`),
 * extra the body's JSON object, dedupe key the message id (`#<uri>` added when the queue is several assets').
 * Throws an AssetEventError when no asset watches the queue or the body is not a JSON object.
 */
export function sqsAssetEvents(record: SQSRecord, watched: WatchedAssets): AssetEventInput[] {
  const uris = [...new Set(watched.sqs.filter((w) => w.queueArn === record.eventSourceARN).map((w) => w.uri))];
  if (uris.length === 0) throw new AssetEventError(`SQS message ${record.messageId}: no asset of the deployed DAGs watches queue ${record.eventSourceARN}`);
  let extra: unknown;
  try {
    extra = JSON.parse(record.body);
  } catch (e) {
    throw new AssetEventError(`SQS message ${record.messageId} from ${record.eventSourceARN}: its body is not JSON (${(e as Error).message}): ${JSON.stringify(record.body.slice(0, 200))}`);
  }
  if (!isObject(extra)) throw new AssetEventError(`SQS message ${record.messageId} from ${record.eventSourceARN}: its body must be a JSON object (the event's extra), got ${JSON.stringify(extra).slice(0, 200)}`);
  const sent = Number(record.attributes.SentTimestamp);
  const at = Number.isFinite(sent) && sent > 0 ? { timestamp: new Date(sent).toISOString() } : {};
  const keyOf = keysFor(record.messageId, uris);
  return uris.map((uri) => ({
    uri,
    extra,
    source: { kind: 'watcher', watcher: 'sqs', detail: { messageId: record.messageId, queueArn: record.eventSourceARN, ...(record.attributes.MessageGroupId ? { messageGroupId: record.attributes.MessageGroupId } : {}) } },
    dedupeKey: keyOf(uri),
    ...at,
  }));
}

/** What the function did with an EventBridge event. */
export interface AssetEventsReport {
  /** Each asset event, recorded now or found recorded (`duplicate`), with the runs it started. */
  recorded: { uri: string; eventId: string; duplicate: boolean; runs: RunRef[] }[];
}

export interface AssetEventsOptions {
  /** Told of each bad SQS message (its batch item failure follows): the function's logger. */
  onRejected?: (messageId: string, error: unknown) => void;
  /** Told of each event recorded. */
  onRecorded?: (r: AssetEventsReport['recorded'][number]) => void;
  /** The Lambda context, for the batch processor. */
  context?: Context;
}

/**
 * The asset-events function's core: an EventBridge event (S3's, or a user rule's) or an SQS batch
 * becomes `Scheduler.recordAssetEvent` steps, whose effects (the consumer runs' first tasks) are carried
 * out before it returns. An EventBridge event no watcher takes throws an {@link AssetEventError} (the
 * function fails: Lambda's retries, then the stack's dead-letter queue keep it). An SQS batch answers with
 * the messages that failed (`batchItemFailures`: a bad message is redelivered, then goes to its queue's
 * dead-letter queue, and the others are not); a FIFO queue's batch stops at its first failure, as FIFO
 * order requires.
 */
export async function handleAssetEvents(event: unknown, svc: AwsServices, options: AssetEventsOptions = {}): Promise<AssetEventsReport | SQSBatchResponse> {
  const watched = watchedAssets((svc.dags.dags ?? []).map((d) => d.spec));
  const { scheduler: s, host } = scheduler(svc, null);
  const recorded: AssetEventsReport['recorded'] = [];
  const record = async (input: AssetEventInput) => {
    const r = await host.run(s.recordAssetEvent(input));
    // A replay may find its runs made by a first delivery that died before arming the reconciler.
    if (r.runs.length > 0) host.runActive();
    const entry = { uri: input.uri, eventId: r.event.id, duplicate: r.duplicate, runs: r.runs };
    recorded.push(entry);
    options.onRecorded?.(entry);
  };
  try {
    if (isSqsEvent(event)) {
      const fifo = event.Records.some((r) => r.eventSourceARN.endsWith('.fifo'));
      const handleRecord = async (r: SQSRecord) => {
        try {
          for (const input of sqsAssetEvents(r, watched)) await record(input);
        } catch (error) {
          options.onRejected?.(r.messageId, error);
          throw error;
        }
      };
      const opts = { throwOnFullBatchFailure: false, ...(options.context ? { context: options.context } : {}) };
      if (fifo) return await processPartialResponse(event, handleRecord, new SqsFifoPartialProcessorAsync(), opts);
      return await processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), { ...opts, processInParallel: false });
    }
    if (isEventBridgeEnvelope(event)) {
      const inputs = eventBridgeAssetEvents(event, watched);
      if (inputs.length === 0) {
        throw new AssetEventError(
          `event ${event.id} (source '${event.source}', detail-type '${event['detail-type']}'${event.source === 'aws.s3' ? `, ${s3Where(event)}` : ''}) is no asset watcher's: no S3 watcher's bucket and prefix, no EventBridge watcher's pattern of the deployed DAGs takes it`,
        );
      }
      for (const input of inputs) await record(input);
      return { recorded };
    }
    throw new AssetEventError(`the asset-events function takes EventBridge events and SQS batches, got ${JSON.stringify(event).slice(0, 300)}`);
  } finally {
    await host.flush();
  }
}

function s3Where(event: EventBridgeEnvelope): string {
  const d = event.detail as { bucket?: { name?: unknown }; object?: { key?: unknown } } | null;
  return `s3://${String(d?.bucket?.name)}/${String(d?.object?.key)}`;
}
