// The asset-events function's core (lib/aws/asset-events.ts handleAssetEvents) on the real scheduler and the
// memory store: an EventBridge or SQS delivery records its events through Scheduler.recordAssetEvent and
// dispatches the consumer runs' first tasks in the same invocation (the dispatcher stands in for Step
// Functions); a delivery seen again starts nothing more; a bad SQS message fails alone; an event no watcher
// takes fails the invocation with an error naming it.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { asset, dag, s3Watcher, sqsWatcher } from '../lib/index.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import { AssetEventError, handleAssetEvents, type AssetEventsReport, type EventBridgeEnvelope } from '../lib/aws/asset-events.ts';
import type { AwsServices } from '../lib/aws/handlers.ts';
import type { Dispatcher } from '../lib/aws/invocation-host.ts';
import { LocalBatch } from '../lib/executor/local-batch.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import type { TaskInstanceRecord } from '../lib/store/records.ts';

const QUEUE = 'arn:aws:sqs:eu-west-1:123456789012:alerts';
const raw = asset('s3://raw/incoming/', { watchers: [s3Watcher()] });
const alerts = asset('sqs://alerts', { watchers: [sqsWatcher({ queueArn: QUEUE })] });
const consumer = dag({ dagId: 'consumer', schedule: raw.and(alerts) }, ({ task }) => {
  task('first', () => 1);
});

function world(dags: Dag[]) {
  const started: TaskInstanceRecord[] = [];
  const dispatcher: Dispatcher = {
    async startLifecycle(ti) {
      started.push(ti);
    },
    async startTimer() {},
    async startArrayWaves() {},
  };
  const now = Date.UTC(2026, 11, 7, 10);
  const byId = new Map(dags.map((d) => [d.dagId, d]));
  const svc: AwsServices = {
    store: new MemoryStateStore(),
    dags: { getDag: (id) => byId.get(id), dags },
    dispatcher,
    batch: new LocalBatch({ now: () => now, setTimer: () => undefined, onDone: () => undefined }),
    now: () => now,
  };
  return { svc, started };
}

const s3Event = (key: string, sequencer = '01'): EventBridgeEnvelope => ({
  version: '0',
  id: `ev-${key}-${sequencer}`,
  'detail-type': 'Object Created',
  source: 'aws.s3',
  time: '2026-12-07T10:00:00Z',
  detail: { bucket: { name: 'raw' }, object: { key, size: 3, etag: 'e', sequencer } },
});

const sqsBatch = (...messages: [string, string][]): SQSEvent => ({
  Records: messages.map(([messageId, body]) => ({
    messageId,
    receiptHandle: 'r',
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.UTC(2026, 11, 7, 10, 1)), SenderId: 's', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: QUEUE,
    awsRegion: 'eu-west-1',
  })),
});

describe('the asset-events function core', () => {
  it('records an S3 event, then an SQS message completes the condition: the consumer run is created and its first task dispatched', async () => {
    const { svc, started } = world([consumer]);
    const r1 = (await handleAssetEvents(s3Event('incoming/a'), svc)) as AssetEventsReport;
    expect(r1.recorded.map((r) => [r.uri, r.duplicate, r.runs])).toStrictEqual([['s3://raw/incoming/', false, []]]);
    expect(started).toStrictEqual([]);
    const r2 = (await handleAssetEvents(sqsBatch(['m-1', '{"level": 3}']), svc)) as SQSBatchResponse;
    expect(r2).toStrictEqual({ batchItemFailures: [] });
    const runs = await svc.store.listRuns({ dagId: 'consumer' });
    expect(runs.map((r) => [r.runType, r.state])).toStrictEqual([['asset_triggered', 'running']]);
    expect(runs[0]!.triggeringAssetEvents!.map((e) => [e.uri, e.extra])).toStrictEqual([
      ['s3://raw/incoming/', { bucket: 'raw', key: 'incoming/a', size: 3, etag: 'e', sequencer: '01' }],
      ['sqs://alerts', { level: 3 }],
    ]);
    expect(started.map((t) => [t.dagId, t.runId, t.taskId, t.state])).toStrictEqual([['consumer', runs[0]!.runId, 'first', 'queued']]);
  });

  it('a delivery seen again records nothing new and starts nothing more', async () => {
    const { svc, started } = world([consumer]);
    await handleAssetEvents(s3Event('incoming/a'), svc);
    await handleAssetEvents(sqsBatch(['m-1', '{}']), svc);
    const again = (await handleAssetEvents(s3Event('incoming/a'), svc)) as AssetEventsReport;
    expect(again.recorded.map((r) => r.duplicate)).toStrictEqual([true]);
    expect(await handleAssetEvents(sqsBatch(['m-1', '{}']), svc)).toStrictEqual({ batchItemFailures: [] });
    expect(await svc.store.listRuns({ dagId: 'consumer' })).toHaveLength(1);
    expect(started).toHaveLength(1);
    expect((await svc.store.listAssetEvents({ limit: 10 })).total).toBe(2);
  });

  it('fails a bad SQS message alone, and every message of a batch that has only bad ones, without throwing', async () => {
    const { svc } = world([consumer]);
    expect(await handleAssetEvents(sqsBatch(['m-1', '{"ok": true}'], ['m-2', 'nope'], ['m-3', '7']), svc)).toStrictEqual({ batchItemFailures: [{ itemIdentifier: 'm-2' }, { itemIdentifier: 'm-3' }] });
    expect(await handleAssetEvents(sqsBatch(['m-4', 'nope']), svc)).toStrictEqual({ batchItemFailures: [{ itemIdentifier: 'm-4' }] });
    expect((await svc.store.listAssetEvents({ limit: 10 })).events.map((e) => e.dedupeKey)).toStrictEqual(['m-1']);
  });

  it('refuses an event no watcher takes, and a payload that is neither EventBridge nor SQS, naming them', async () => {
    const { svc } = world([consumer]);
    await expect(handleAssetEvents(s3Event('outgoing/a'), svc)).rejects.toThrow(AssetEventError);
    await expect(handleAssetEvents(s3Event('outgoing/a'), svc)).rejects.toThrow(
      "event ev-outgoing/a-01 (source 'aws.s3', detail-type 'Object Created', s3://raw/outgoing/a) is no asset watcher's",
    );
    await expect(handleAssetEvents({ hello: 'world' }, svc)).rejects.toThrow('the asset-events function takes EventBridge events and SQS batches, got {"hello":"world"}');
    expect((await svc.store.listAssetEvents({ limit: 10 })).total).toBe(0);
  });
});
