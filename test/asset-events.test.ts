// The asset-events function's translation (lib/aws/asset-events.ts): S3 Object Created events to the assets
// whose bucket and prefix take the key, EventBridge events to the assets whose watcher's pattern matches,
// SQS messages to the assets watching their queue; dedupe keys as the contract names them; bad events refused
// with an error naming the delivery and what was wrong.
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { AssetEventError, eventBridgeAssetEvents, sqsAssetEvents, watchedAssets, type EventBridgeEnvelope } from '../lib/aws/asset-events.ts';
import type { AssetSpec } from '../lib/model/asset.ts';

const QUEUE = 'arn:aws:sqs:eu-west-1:123456789012:observations';
const asset = (uri: string, watchers: AssetSpec['watchers']): AssetSpec => ({ uri, name: uri, group: 'asset', extra: {}, ...(watchers ? { watchers } : {}) });

const WATCHED = watchedAssets([
  {
    dagId: 'd',
    assets: [
      asset('s3://raw-data/incoming/', [{ kind: 's3', bucket: 'raw-data', prefix: 'incoming/' }]),
      asset('s3://raw-data/incoming/vis/', [{ kind: 's3', bucket: 'raw-data', prefix: 'incoming/vis/' }]),
      asset('queue://observations', [{ kind: 'sqs', queueArn: QUEUE }]),
      asset('scan://finished', [{ kind: 'eventbridge', eventPattern: { source: ['telescope.control'], detail: { band: [{ prefix: 'L' }] } }, eventBusName: null }]),
    ],
  },
]);

function s3Event(key: string, over: Partial<EventBridgeEnvelope> = {}): EventBridgeEnvelope {
  return {
    version: '0',
    id: 'ev-1',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '123456789012',
    time: '2026-12-07T10:00:00Z',
    region: 'eu-west-1',
    resources: ['arn:aws:s3:::raw-data'],
    detail: { version: '0', bucket: { name: 'raw-data' }, object: { key, size: 12, etag: 'abc', sequencer: '0055AED6DCD90281E5' }, reason: 'PutObject' },
    ...over,
  };
}

function sqsRecord(body: string, messageId = 'm-1', queue = QUEUE): SQSRecord {
  return {
    messageId,
    receiptHandle: 'r',
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.parse('2026-12-07T10:00:01Z')), SenderId: 's', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: queue,
    awsRegion: 'eu-west-1',
  };
}

describe('asset events of AWS deliveries', () => {
  it('turns an S3 Object Created event into an event of the asset whose prefix takes the key', () => {
    expect(eventBridgeAssetEvents(s3Event('incoming/scan-1.ms'), WATCHED)).toStrictEqual([
      {
        uri: 's3://raw-data/incoming/',
        extra: { bucket: 'raw-data', key: 'incoming/scan-1.ms', size: 12, etag: 'abc', sequencer: '0055AED6DCD90281E5' },
        source: { kind: 'watcher', watcher: 's3', detail: { eventId: 'ev-1', bucket: 'raw-data', key: 'incoming/scan-1.ms', size: 12, etag: 'abc', sequencer: '0055AED6DCD90281E5', reason: 'PutObject' } },
        dedupeKey: 'raw-data/incoming/scan-1.ms/0055AED6DCD90281E5',
        timestamp: '2026-12-07T10:00:00.000Z',
      },
    ]);
  });

  it('gives each asset of a key under two prefixes its event, with a dedupe key of its own', () => {
    const events = eventBridgeAssetEvents(s3Event('incoming/vis/a.ms'), WATCHED);
    expect(events.map((e) => [e.uri, e.dedupeKey])).toStrictEqual([
      ['s3://raw-data/incoming/', 'raw-data/incoming/vis/a.ms/0055AED6DCD90281E5#s3://raw-data/incoming/'],
      ['s3://raw-data/incoming/vis/', 'raw-data/incoming/vis/a.ms/0055AED6DCD90281E5#s3://raw-data/incoming/vis/'],
    ]);
  });

  it('finds no asset for a key outside every prefix or another bucket, and refuses an S3 event without bucket or key', () => {
    expect(eventBridgeAssetEvents(s3Event('outgoing/x'), WATCHED)).toStrictEqual([]);
    expect(eventBridgeAssetEvents(s3Event('incoming/x', { detail: { bucket: { name: 'other' }, object: { key: 'incoming/x' } } }), WATCHED)).toStrictEqual([]);
    expect(() => eventBridgeAssetEvents(s3Event('x', { detail: { bucket: {} } }), WATCHED)).toThrow(AssetEventError);
    expect(() => eventBridgeAssetEvents(s3Event('x', { detail: { bucket: {} } }), WATCHED)).toThrow("S3 'Object Created' event ev-1 has no detail.bucket.name and detail.object.key");
  });

  it("turns an event matching an EventBridge watcher's pattern into an event, extra its detail, dedupe key its id", () => {
    const ev: EventBridgeEnvelope = { version: '0', id: 'e-77', 'detail-type': 'Scan Finished', source: 'telescope.control', time: '2026-12-07T11:00:00Z', detail: { band: 'L', scan: 7 } };
    expect(eventBridgeAssetEvents(ev, WATCHED)).toStrictEqual([
      {
        uri: 'scan://finished',
        extra: { band: 'L', scan: 7 },
        source: { kind: 'watcher', watcher: 'eventbridge', detail: { eventId: 'e-77', source: 'telescope.control', detailType: 'Scan Finished' } },
        dedupeKey: 'e-77',
        timestamp: '2026-12-07T11:00:00.000Z',
      },
    ]);
    expect(eventBridgeAssetEvents({ ...ev, detail: { band: 'C' } }, WATCHED)).toStrictEqual([]);
  });

  it('turns an SQS message into an event of the asset watching its queue, extra its body, dedupe key its id', () => {
    expect(sqsAssetEvents(sqsRecord('{"scan": 3}'), WATCHED)).toStrictEqual([
      {
        uri: 'queue://observations',
        extra: { scan: 3 },
        source: { kind: 'watcher', watcher: 'sqs', detail: { messageId: 'm-1', queueArn: QUEUE } },
        dedupeKey: 'm-1',
        timestamp: '2026-12-07T10:00:01.000Z',
      },
    ]);
  });

  it('refuses an SQS message that is not a JSON object, or from a queue no asset watches, naming it', () => {
    expect(() => sqsAssetEvents(sqsRecord('not json', 'm-2'), WATCHED)).toThrow(`SQS message m-2 from ${QUEUE}: its body is not JSON`);
    expect(() => sqsAssetEvents(sqsRecord('[1, 2]', 'm-3'), WATCHED)).toThrow(`SQS message m-3 from ${QUEUE}: its body must be a JSON object (the event's extra), got [1,2]`);
    expect(() => sqsAssetEvents(sqsRecord('{}', 'm-4', 'arn:aws:sqs:eu-west-1:123456789012:other'), WATCHED)).toThrow(
      'SQS message m-4: no asset of the deployed DAGs watches queue arn:aws:sqs:eu-west-1:123456789012:other',
    );
  });

  it("refuses a DAG's EventBridge watcher whose pattern the matcher cannot evaluate, naming DAG and asset", () => {
    expect(() => watchedAssets([{ dagId: 'ingest', assets: [asset('x://y', [{ kind: 'eventbridge', eventPattern: { detail: { ip: [{ cidr: '10.0.0.0/8' }] } }, eventBusName: null }])] }])).toThrow(
      "DAG 'ingest', asset 'x://y': its EventBridge watcher's event pattern field 'detail.ip': operator 'cidr' is not supported",
    );
  });
});
