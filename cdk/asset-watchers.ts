// Assets' watchers deployed (lib/aws/asset-events.ts): AWS delivers the events to the asset-events
// function, nothing polls.
// - One EventBridge rule per S3 watcher, on the default bus: source `aws.s3`, detail-type `Object Created`,
//   the bucket's name and the key's prefix. S3 sends those events only for a bucket with EventBridge
//   notifications on (CDK: `new s3.Bucket(..., { eventBridgeEnabled: true })`; or give the bucket in
//   `buckets` and this construct turns them on).
// - One rule per EventBridge watcher: its pattern, on its bus (the default bus when it names none).
// - Every rule targets the function with a retry policy and a dead-letter queue (an event EventBridge could
//   not deliver); the function's own failures (an event no watcher takes) are retried by Lambda, then go
//   to the same queue with the error.
// - One event source mapping per SQS watcher's queue, with `reportBatchItemFailures` (a bad message is
//   redelivered alone, then goes to its queue's own dead-letter queue, if it has one).

import { createHash } from 'node:crypto';
import { Annotations, Duration, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { watchedAssets, type EventBridgeWatch, type S3Watch, type SqsWatch, type WatchedAssets } from '../lib/aws/asset-events.ts';
import type { AssetSpec } from '../lib/model/asset.ts';

/** The DAGs' specs as the watchers read them. */
export type WatcherSpecs = readonly { dagId: string; assets?: readonly AssetSpec[] }[];

export interface AssetWatchersProps {
  /** The deployed DAGs' specs: their assets' watchers. */
  specs: WatcherSpecs;
  /** The asset-events function (functions/asset-events.ts): every rule's target, every queue's consumer. */
  handler: lambda.Function;
  /**
   * Buckets of your stack that S3 watchers watch: EventBridge notifications are turned on for each
   * (`enableEventBridgeNotification()`). A watched bucket not given here must have them on already
   * (`eventBridgeEnabled: true`): the synth warns naming it.
   * @default []
   */
  buckets?: readonly s3.IBucket[];
  /**
   * How long EventBridge keeps trying to deliver an event to the function before it goes to the dead-letter queue.
   * @default 24 hours
   */
  maxEventAge?: Duration;
  /**
   * How many times EventBridge retries a delivery to the function (and Lambda an invocation that failed)
   * before the event goes to the dead-letter queue.
   * @default 185 deliveries (EventBridge's own default), 2 invocation retries (Lambda's)
   */
  retryAttempts?: number;
  /**
   * Messages per invocation of each SQS watcher's event source mapping (1 to 10,000; above 10 a batching window applies).
   * @default 10
   */
  sqsBatchSize?: number;
}

/** Whether the DAGs have watchers to deploy (S3, SQS or EventBridge; `file` watchers are local only). */
export function hasDeployedWatchers(specs: WatcherSpecs): boolean {
  const w = watchedAssets(specs);
  return w.s3.length + w.sqs.length + w.eventbridge.length > 0;
}

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 10);

/** `arn:<partition>:sqs:<region>:<account>:<queue>` */
const SQS_ARN = /^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$/;
/** An S3 bucket name (S3's rules, loosely: 3 to 63 of lowercase letters, digits, '.' and '-'). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** An EventBridge bus name. */
const BUS_NAME = /^[/.\-_A-Za-z0-9]{1,256}$/;

/** The rules, the event source mappings and the dead-letter queue of the DAGs' asset watchers. */
export class AssetWatchers extends Construct {
  /** What the rules could not deliver, and the function's invocations that failed after their retries. */
  readonly deadLetterQueue: sqs.Queue;
  /** One rule per S3 and EventBridge watcher, by `s3://<bucket>/<prefix>` or `eventbridge:<uri>`. */
  readonly rules = new Map<string, events.Rule>();
  /** One event source per SQS watcher's queue, by queue ARN. */
  readonly queues = new Map<string, SqsEventSource>();
  /** The watchers deployed. */
  readonly watched: WatchedAssets;

  constructor(scope: Construct, id: string, props: AssetWatchersProps) {
    super(scope, id);
    this.watched = watchedAssets(props.specs);
    const fn = props.handler;
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.deadLetterQueue, [
      { id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the asset watchers\' rules and of the asset-events function: it needs none of its own.' },
    ]);
    const maxEventAge = props.maxEventAge ?? Duration.hours(24);
    fn.configureAsyncInvoke({
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      retryAttempts: Math.min(props.retryAttempts ?? 2, 2),
      maxEventAge: Duration.seconds(Math.min(maxEventAge.toSeconds(), 21_600)),
    });
    const target = new targets.LambdaFunction(fn, {
      deadLetterQueue: this.deadLetterQueue,
      maxEventAge,
      ...(props.retryAttempts !== undefined ? { retryAttempts: props.retryAttempts } : {}),
    });

    const bucketNames = new Set((props.buckets ?? []).map((b) => b.bucketName).filter((n) => !Token.isUnresolved(n)));
    for (const b of props.buckets ?? []) b.enableEventBridgeNotification();
    // An imported bucket's notifications are set by CDK's BucketNotifications handler, a singleton of the stack.
    if ((props.buckets ?? []).length > 0) {
      for (const child of Stack.of(this).node.children) {
        if (!child.node.id.startsWith('BucketNotificationsHandler')) continue;
        NagSuppressions.addResourceSuppressions(
          child,
          [
            { id: 'AwsSolutions-IAM4', reason: 'CDK\'s BucketNotifications handler (it turns EventBridge notifications on for the watched buckets) writes its own CloudWatch logs (AWSLambdaBasicExecutionRole).' },
            { id: 'AwsSolutions-IAM5', reason: 'CDK\'s BucketNotifications handler: the grants aws-cdk-lib makes for it (s3:PutBucketNotification on the watched buckets).' },
            { id: 'AwsSolutions-L1', reason: 'CDK\'s BucketNotifications handler: its runtime is the one aws-cdk-lib ships it with.' },
          ],
          true,
        );
      }
    }
    const givenTokens = (props.buckets ?? []).some((b) => Token.isUnresolved(b.bucketName));
    for (const w of this.watched.s3) this.s3Rule(w, target, bucketNames, givenTokens);
    for (const w of this.watched.eventbridge) this.eventBridgeRule(w, target);
    for (const w of this.watched.sqs) this.sqsSource(w, fn, props.sqsBatchSize ?? 10);
  }

  private s3Rule(w: S3Watch, target: events.IRuleTarget, bucketNames: ReadonlySet<string>, givenTokens: boolean): void {
    const key = `s3://${w.bucket}/${w.prefix}`;
    if (this.rules.has(key)) return;
    if (!BUCKET_NAME.test(w.bucket)) throw new Error(`asset '${w.uri}': S3 watcher's bucket '${w.bucket}' is not a bucket name (3 to 63 of a-z, 0-9, '.', '-')`);
    const rule = new events.Rule(this, `S3-${short(key)}`, {
      description: `airless asset watcher: objects created under ${key}`.slice(0, 512),
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [w.bucket] }, ...(w.prefix ? { object: { key: [{ prefix: w.prefix }] } } : {}) },
      },
      targets: [target],
    });
    this.rules.set(key, rule);
    if (!bucketNames.has(w.bucket) && !givenTokens) {
      Annotations.of(this).addWarningV2(
        `airless:asset-watchers:${w.bucket}`,
        `S3 watcher of '${w.uri}': bucket '${w.bucket}' must send its events to EventBridge (eventBridgeEnabled: true, or give it in the construct's assetBuckets), else no 'Object Created' event reaches the rule`,
      );
    }
  }

  private eventBridgeRule(w: EventBridgeWatch, target: events.IRuleTarget): void {
    const key = `eventbridge:${w.uri}:${JSON.stringify(w.eventPattern)}:${w.eventBusName ?? ''}`;
    if (this.rules.has(key)) return;
    if (w.eventBusName !== null && !BUS_NAME.test(w.eventBusName)) throw new Error(`asset '${w.uri}': EventBridge watcher's bus name '${w.eventBusName}' is not a bus name`);
    const id = short(key);
    const bus = w.eventBusName === null || w.eventBusName === 'default' ? undefined : events.EventBus.fromEventBusName(this, `Bus-${id}`, w.eventBusName);
    // The pattern as EventBridge takes it: CDK's EventPattern names `detail-type` detailType, and passes the rest on.
    const { ['detail-type']: detailType, ...rest } = w.eventPattern;
    const rule = new events.Rule(this, `EventBridge-${id}`, {
      description: `airless asset watcher: events for ${w.uri}`.slice(0, 512),
      ...(bus ? { eventBus: bus } : {}),
      eventPattern: { ...rest, ...(detailType !== undefined ? { detailType } : {}) } as events.EventPattern,
      targets: [target],
    });
    this.rules.set(key, rule);
  }

  private sqsSource(w: SqsWatch, fn: lambda.Function, batchSize: number): void {
    if (this.queues.has(w.queueArn)) return;
    if (!SQS_ARN.test(w.queueArn)) throw new Error(`asset '${w.uri}': SQS watcher's queueArn '${w.queueArn}' is not an SQS queue ARN (arn:<partition>:sqs:<region>:<account>:<queue name>)`);
    const queue = sqs.Queue.fromQueueArn(this, `Queue-${short(w.queueArn)}`, w.queueArn);
    const source = new SqsEventSource(queue, { reportBatchItemFailures: true, batchSize, ...(batchSize > 10 ? { maxBatchingWindow: Duration.seconds(1) } : {}) });
    fn.addEventSource(source);
    this.queues.set(w.queueArn, source);
  }
}
