/**
 * The assets' watchers in the local cloud, delivering events as AWS would:
 * - the asset-events function (functions/asset-events.ts, with the harness's services) registered with the
 *   harness's Lambda;
 * - the watchers' rules and event source mappings **synthesized** by the construct (cdk/asset-watchers.ts)
 *   from the deployed DAGs' specs: each rule's EventPattern and bus, each mapping's queue, read from the
 *   CloudFormation template;
 * - S3: an object is put to s3rver through the real client; its `Object Created` event (the shape S3 sends
 *   to EventBridge, the object's size and ETag from HeadObject, a sequencer growing per key) goes to the
 *   function once per synthesized rule whose pattern matches it (lib/core/event-pattern.ts), as EventBridge
 *   invokes each matching rule's target;
 * - EventBridge: an event put on a bus goes to the function once per rule on that bus that matches it;
 * - SQS: messages of a queue go to the function as the event source mapping sends them (an SQS event
 *   batch of at most the mapping's batch size), and the batch's failed messages come back.
 */
import { randomUUID } from 'node:crypto';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { AssetWatchers, type WatcherSpecs } from '../cdk/asset-watchers.ts';
import type { EventBridgeEnvelope } from '../lib/aws/asset-events.ts';
import { checkEventPattern, matchesEventPattern, type EventPattern } from '../lib/core/event-pattern.ts';
import type { Harness } from './harness.ts';
import type { LambdaHandler } from './local-lambda.ts';

/** The name the harness deploys the asset-events function under. */
export const ASSET_EVENTS_FUNCTION = 'airless-e2e-asset-events';

const ACCOUNT = '000000000000';

/** A rule of the synthesized template. */
export interface SynthesizedRule {
  logicalId: string;
  eventPattern: EventPattern;
  /** The bus name; `default` when the rule names none. */
  eventBusName: string;
}

/** An SQS event source mapping of the synthesized template. */
export interface SynthesizedQueueMapping {
  queueArn: string;
  batchSize: number;
  reportBatchItemFailures: boolean;
}

/** One delivery of an event to the function: which rule, and what the function answered (or the error it threw). */
export interface RuleDelivery {
  rule: string;
  reply?: unknown;
  error?: Error;
}

/** Synthesize the watchers' construct for `specs` and read its rules and event source mappings. */
export function synthesizeWatchers(specs: WatcherSpecs): { rules: SynthesizedRule[]; queues: SynthesizedQueueMapping[] } {
  const app = new App();
  const stack = new Stack(app, 'E2eAssetWatchers', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const handler = new lambda.Function(stack, 'AssetEvents', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('export const handler = async () => null;') });
  new AssetWatchers(stack, 'Watchers', { specs, handler });
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const rules: SynthesizedRule[] = [];
  const queues: SynthesizedQueueMapping[] = [];
  for (const [logicalId, r] of Object.entries(template.Resources)) {
    if (r.Type === 'AWS::Events::Rule') {
      const pattern = r.Properties['EventPattern'];
      checkEventPattern(pattern);
      const bus = r.Properties['EventBusName'];
      rules.push({ logicalId, eventPattern: pattern, eventBusName: typeof bus === 'string' ? bus : 'default' });
    } else if (r.Type === 'AWS::Lambda::EventSourceMapping') {
      queues.push({
        queueArn: String(r.Properties['EventSourceArn']),
        batchSize: Number(r.Properties['BatchSize'] ?? 10),
        reportBatchItemFailures: ((r.Properties['FunctionResponseTypes'] as string[] | undefined) ?? []).includes('ReportBatchItemFailures'),
      });
    }
  }
  return { rules, queues };
}

/** The watchers of a harness's deployed DAGs, delivering as AWS would. */
export class LocalAssetWatchers {
  readonly rules: SynthesizedRule[];
  readonly queues: SynthesizedQueueMapping[];
  /** Every event put on a bus, in order, with the rules it was delivered through. */
  readonly deliveries: { event: EventBridgeEnvelope; deliveries: RuleDelivery[] }[] = [];
  private readonly sequencers = new Map<string, number>();
  private readonly buckets = new Set<string>();

  private constructor(
    private readonly h: Harness,
    synthesized: { rules: SynthesizedRule[]; queues: SynthesizedQueueMapping[] },
  ) {
    this.rules = synthesized.rules;
    this.queues = synthesized.queues;
  }

  /** Register the asset-events function (the handler of functions/, on the harness's services) and synthesize the watchers. */
  static async start(h: Harness): Promise<LocalAssetWatchers> {
    if (h.handlerMode !== 'functions') throw new Error('the asset watchers run the asset-events function of functions/: the harness needs handlers: functions (the e2e config)');
    const { handler } = await import('../functions/asset-events.ts');
    h.lambda.register(ASSET_EVENTS_FUNCTION, handler as LambdaHandler);
    return new LocalAssetWatchers(h, synthesizeWatchers(h.dags.dags.map((d) => d.spec)));
  }

  /** Create a bucket on the S3 emulator (a user's bucket, EventBridge notifications on). */
  async createBucket(bucket: string): Promise<void> {
    if (this.buckets.has(bucket)) return;
    await this.h.s3.client.send(new CreateBucketCommand({ Bucket: bucket }));
    this.buckets.add(bucket);
  }

  /**
   * Put an object through the real S3 client, then send its `Object Created` event as S3 sends it to
   * EventBridge (the default bus). Returns the event (deliver it again with {@link putEvent}).
   */
  async putObject(bucket: string, key: string, body: string): Promise<{ event: EventBridgeEnvelope; deliveries: RuleDelivery[] }> {
    await this.createBucket(bucket);
    await this.h.s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    const head = await this.h.s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const n = (this.sequencers.get(`${bucket}/${key}`) ?? 0) + 1;
    this.sequencers.set(`${bucket}/${key}`, n);
    const event: EventBridgeEnvelope = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: ACCOUNT,
      time: new Date(this.h.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: 'us-east-1',
      resources: [`arn:aws:s3:::${bucket}`],
      detail: {
        version: '0',
        bucket: { name: bucket },
        object: { key, size: head.ContentLength ?? body.length, etag: (head.ETag ?? '').replace(/"/g, ''), sequencer: n.toString(16).toUpperCase().padStart(18, '0') },
        'request-id': randomUUID(),
        requester: ACCOUNT,
        reason: 'PutObject',
      },
    };
    return { event, deliveries: await this.putEvent(event) };
  }

  /**
   * Put an event on a bus: EventBridge invokes the target of each rule on that bus whose pattern matches,
   * once per rule (a function error is kept in the delivery, as EventBridge's retries and dead-letter queue
   * would take it).
   */
  async putEvent(event: EventBridgeEnvelope, eventBusName = 'default'): Promise<RuleDelivery[]> {
    const out: RuleDelivery[] = [];
    for (const rule of this.rules) {
      if (rule.eventBusName !== eventBusName || !matchesEventPattern(rule.eventPattern, event)) continue;
      try {
        out.push({ rule: rule.logicalId, reply: await this.h.lambda.invoke(ASSET_EVENTS_FUNCTION, event) });
      } catch (error) {
        out.push({ rule: rule.logicalId, error: error as Error });
      }
    }
    this.deliveries.push({ event, deliveries: out });
    return out;
  }

  /**
   * Deliver messages of a queue as its event source mapping does: batches of at most the mapping's batch size.
   * Returns the ids of the messages the function reported failed (they would be received again).
   */
  async sendMessages(queueArn: string, messages: readonly { body: string; messageId?: string }[]): Promise<string[]> {
    const mapping = this.queues.find((q) => q.queueArn === queueArn);
    if (!mapping) throw new Error(`no event source mapping of the synthesized watchers reads ${queueArn} (mapped: ${this.queues.map((q) => q.queueArn).join(', ') || 'none'})`);
    const records: SQSRecord[] = messages.map((m) => ({
      messageId: m.messageId ?? randomUUID(),
      receiptHandle: randomUUID(),
      body: m.body,
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(this.h.clock.now()), SenderId: ACCOUNT, ApproximateFirstReceiveTimestamp: String(this.h.clock.now()) },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: 'us-east-1',
    }));
    const failed: string[] = [];
    for (let i = 0; i < records.length; i += mapping.batchSize) {
      const batch: SQSEvent = { Records: records.slice(i, i + mapping.batchSize) };
      const reply = (await this.h.lambda.invoke(ASSET_EVENTS_FUNCTION, batch)) as SQSBatchResponse | null;
      if (!mapping.reportBatchItemFailures) throw new Error(`the mapping of ${queueArn} does not report batch item failures`);
      failed.push(...(reply?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    }
    return failed;
  }
}
