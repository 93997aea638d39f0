// The asset watchers' CDK construct (cdk/asset-watchers.ts): one EventBridge rule per S3 watcher (source
// aws.s3, detail-type Object Created, the bucket, the key prefix) and per EventBridge watcher (its pattern, on
// its bus), each targeting the asset-events function with a retry policy and the dead-letter queue; one SQS
// event source mapping per queue with ReportBatchItemFailures and least-privilege consume rights; the
// function's failed invocations to the same queue; bad watcher input refused naming the asset; cdk-nag clean.
import { App, Aspects, Stack, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, NagSuppressions } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { AssetWatchers, hasDeployedWatchers, type WatcherSpecs } from '../cdk/asset-watchers.ts';
import type { AssetSpec } from '../lib/model/asset.ts';

const QUEUE = 'arn:aws:sqs:eu-west-1:123456789012:observations';
const PATTERN = { source: ['telescope.control'], 'detail-type': ['Scan Finished'], detail: { band: [{ prefix: 'L' }], quality: [{ numeric: ['>=', 0.8] }] } };

const asset = (uri: string, watchers: AssetSpec['watchers']): AssetSpec => ({ uri, name: uri, group: 'asset', extra: {}, ...(watchers ? { watchers } : {}) });

const SPECS: WatcherSpecs = [
  {
    dagId: 'producer',
    assets: [
      asset('s3://raw-data/incoming/', [{ kind: 's3', bucket: 'raw-data', prefix: 'incoming/' }]),
      asset('s3://raw-data/', [{ kind: 's3', bucket: 'raw-data', prefix: '' }]),
      asset('queue://observations', [{ kind: 'sqs', queueArn: QUEUE }]),
      asset('scan://finished', [{ kind: 'eventbridge', eventPattern: PATTERN, eventBusName: 'telescope' }]),
      asset('file:///tmp/local.csv', [{ kind: 'file', path: '/tmp/local.csv' }]),
    ],
  },
  // The same asset and watcher named by a second DAG: deployed once.
  { dagId: 'consumer', assets: [asset('s3://raw-data/incoming/', [{ kind: 's3', bucket: 'raw-data', prefix: 'incoming/' }])] },
];

function fixture(specs: WatcherSpecs = SPECS, buckets?: (stack: Stack) => s3.IBucket[]) {
  const app = new App();
  const stack = new Stack(app, 'WatchersTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const handler = new lambda.Function(stack, 'AssetEvents', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('export const handler = async () => null;') });
  NagSuppressions.addResourceSuppressions(handler, [{ id: 'AwsSolutions-IAM4', reason: 'test function' }, { id: 'AwsSolutions-L1', reason: 'test function' }], true);
  const watchers = new AssetWatchers(stack, 'Watchers', { specs, handler, ...(buckets ? { buckets: buckets(stack) } : {}) });
  Aspects.of(app).add(new AwsSolutionsChecks());
  const template = Template.fromStack(stack);
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnElement);
  return { app, stack, template, watchers, handler, id };
}

type Rule = { Properties: { EventPattern: unknown; EventBusName?: unknown; Targets: Record<string, unknown>[]; State?: string } };

describe('asset watchers construct', () => {
  it('makes one rule per S3 watcher: Object Created events of the bucket under the prefix (none for an empty prefix)', () => {
    const { template } = fixture();
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as Rule[];
    const patterns = rules.map((r) => r.Properties.EventPattern);
    expect(rules).toHaveLength(3);
    expect(patterns).toContainEqual({ source: ['aws.s3'], 'detail-type': ['Object Created'], detail: { bucket: { name: ['raw-data'] }, object: { key: [{ prefix: 'incoming/' }] } } });
    expect(patterns).toContainEqual({ source: ['aws.s3'], 'detail-type': ['Object Created'], detail: { bucket: { name: ['raw-data'] } } });
  });

  it("makes one rule per EventBridge watcher with its pattern as written, on its bus", () => {
    const { template } = fixture();
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as Rule[];
    const own = rules.filter((r) => JSON.stringify(r.Properties.EventPattern).includes('telescope.control'));
    expect(own).toHaveLength(1);
    expect(own[0]!.Properties.EventPattern).toStrictEqual(PATTERN);
    expect(own[0]!.Properties.EventBusName).toBe('telescope');
    // The S3 rules are on the default bus (S3 sends there).
    expect(rules.filter((r) => r.Properties.EventBusName === undefined)).toHaveLength(2);
  });

  it('targets the function from every rule with a retry policy and the dead-letter queue, which lets only those rules send', () => {
    const { template, watchers, id, handler } = fixture();
    const dlq = id(watchers.deadLetterQueue);
    for (const r of Object.values(template.findResources('AWS::Events::Rule')) as Rule[]) {
      expect(r.Properties.Targets).toStrictEqual([
        {
          Arn: { 'Fn::GetAtt': [id(handler), 'Arn'] },
          Id: 'Target0',
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400 },
        },
      ]);
    }
    template.resourceCountIs('AWS::Lambda::Permission', 3);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'sqs:SendMessage', Principal: { Service: 'events.amazonaws.com' }, Condition: { ArnEquals: { 'aws:SourceArn': Match.anyValue() } } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
  });

  it("sends the function's failed invocations (after Lambda's retries) to the dead-letter queue", () => {
    const { template, watchers, id, handler } = fixture();
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: id(handler) },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [id(watchers.deadLetterQueue), 'Arn'] } } },
    });
  });

  it('maps each SQS watcher queue to the function with partial batch responses, allowed to consume that queue only', () => {
    const { template, handler, id } = fixture();
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: QUEUE, FunctionName: { Ref: id(handler) }, FunctionResponseTypes: ['ReportBatchItemFailures'], BatchSize: 10 });
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement);
    const sqsStatements = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('sqs:Receive')));
    expect(sqsStatements).toStrictEqual([
      { Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], Effect: 'Allow', Resource: QUEUE },
    ]);
  });

  it('deploys nothing for file watchers, and says when the DAGs have deployed watchers', () => {
    expect(hasDeployedWatchers(SPECS)).toBe(true);
    expect(hasDeployedWatchers([{ dagId: 'local', assets: [asset('file:///x', [{ kind: 'file', path: '/x' }])] }, { dagId: 'none' }])).toBe(false);
  });

  it('warns about a watched bucket not given to it, and turns EventBridge notifications on for one given', () => {
    const warned = fixture();
    const warnings = Annotations.fromStack(warned.stack).findWarning('*', Match.stringLikeRegexp("bucket 'raw-data' must send its events to EventBridge"));
    expect(warnings.length).toBeGreaterThan(0);
    const given = fixture(SPECS, (stack) => [s3.Bucket.fromBucketName(stack, 'Raw', 'raw-data')]);
    expect(Annotations.fromStack(given.stack).findWarning('*', Match.stringLikeRegexp('must send its events to EventBridge'))).toStrictEqual([]);
    given.template.hasResourceProperties('Custom::S3BucketNotifications', { NotificationConfiguration: { EventBridgeConfiguration: {} } });
  });

  it('refuses a bad queue ARN, bucket name, bus name or event pattern, naming the asset', () => {
    const one = (w: NonNullable<AssetSpec['watchers']>[number]) => () => fixture([{ dagId: 'd', assets: [asset('x://a', [w])] }]);
    expect(one({ kind: 'sqs', queueArn: 'observations' })).toThrow("asset 'x://a': SQS watcher's queueArn 'observations' is not an SQS queue ARN (arn:<partition>:sqs:<region>:<account>:<queue name>)");
    expect(one({ kind: 's3', bucket: 'Bad_Bucket', prefix: '' })).toThrow("asset 'x://a': S3 watcher's bucket 'Bad_Bucket' is not a bucket name");
    expect(one({ kind: 'eventbridge', eventPattern: { source: ['x'] }, eventBusName: 'no spaces allowed' })).toThrow("asset 'x://a': EventBridge watcher's bus name 'no spaces allowed' is not a bus name");
    expect(one({ kind: 'eventbridge', eventPattern: { detail: { ip: [{ cidr: '10.0.0.0/24' }] } }, eventBusName: null })).toThrow(
      "DAG 'd', asset 'x://a': its EventBridge watcher's event pattern field 'detail.ip': operator 'cidr' is not supported",
    );
    expect(one({ kind: 'eventbridge', eventPattern: { source: 'x' }, eventBusName: null })).toThrow("event pattern field 'source': must be a non-empty list of values or an object, got \"x\"");
  });

  it('has no cdk-nag AwsSolutions error', () => {
    const { stack } = fixture(SPECS, (s) => [s3.Bucket.fromBucketName(s, 'Raw', 'raw-data')]);
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${JSON.stringify(e.entry.data).slice(0, 300)}`)).toStrictEqual([]);
  });
});

describe('the Airless construct with asset watchers', () => {
  it('makes the asset-events function only when a DAG has a deployed watcher, with the trigger\'s grants, arming the reconciler, cdk-nag clean', async () => {
    const { Airless } = await import('../cdk/airless.ts');
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Watched', { env: { account: '123456789012', region: 'eu-west-1' } });
    const airless = new Airless(stack, 'Airless', { dagsFolder: 'test/fixtures/cdk-assets', batch: { mode: 'existing' } });
    Aspects.of(app).add(new AwsSolutionsChecks());
    const template = Template.fromStack(stack);
    const fn = airless.assetWatchers!.function;
    const fnId = stack.getLogicalId(fn.node.defaultChild as CfnElement);
    const roleId = stack.getLogicalId(fn.role!.node.defaultChild as CfnElement);
    // The watchers of the fixture: an S3 rule, an EventBridge rule on its bus, an SQS mapping.
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as Rule[];
    expect(rules.map((r) => r.Properties.EventBusName ?? 'default').sort()).toStrictEqual(['default', 'telescope']);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: 'arn:aws:sqs:eu-west-1:123456789012:instrument-alerts', FunctionName: { Ref: fnId } });
    const fnResource = template.findResources('AWS::Lambda::Function')[fnId] as { Properties: { Timeout: number; Environment: { Variables: Record<string, unknown> } } };
    expect(fnResource.Properties.Timeout).toBe(30);
    expect(Object.keys(fnResource.Properties.Environment.Variables)).toEqual(expect.arrayContaining(['TABLE_NAME', 'BUCKET_NAME', 'STATE_MACHINE_NAME_PREFIX', 'RECONCILER_ARN']));
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => {
      const props = (p as { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties;
      return props.Roles.some((r) => r.Ref === roleId) ? props.PolicyDocument.Statement : [];
    });
    const actions = new Set(statements.flatMap((s) => [s.Action].flat()));
    for (const a of ['dynamodb:PutItem', 'dynamodb:Query', 's3:GetObject', 'states:StartExecution', 'states:DescribeExecution', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:SendMessage']) expect(actions.has(a), a).toBe(true);
    for (const a of ['states:StopExecution', 's3:DeleteObject', 'batch:SubmitJob', 'batch:TerminateJob', 'dynamodb:Scan']) expect(actions.has(a), a).toBe(false);
    const started = statements.filter((s) => [s.Action].flat().includes('states:StartExecution')).flatMap((s) => [s.Resource].flat()).map((r) => JSON.stringify(r));
    expect(started.some((r) => r.includes('Reconciler'))).toBe(true);
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${JSON.stringify(e.entry.data).slice(0, 300)}`)).toStrictEqual([]);

    const plainApp = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const plainStack = new Stack(plainApp, 'Plain', { env: { account: '123456789012', region: 'eu-west-1' } });
    const plain = new Airless(plainStack, 'Airless', { dagsFolder: 'test/fixtures/cdk', batch: { mode: 'existing' } });
    expect(plain.assetWatchers).toBeUndefined();
    const plainTemplate = Template.fromStack(plainStack);
    plainTemplate.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    plainTemplate.resourceCountIs('AWS::SQS::Queue', 0);
  }, 180_000);
});
