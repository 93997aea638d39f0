import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAirlessApp, DagBagImportErrors } from '../cdk/airless-app.ts';
import type { AirlessStack } from '../cdk/airless.ts';
import { compileTimer } from '../cdk/timer-definition.ts';
import { functionUrlEvent } from '../e2e/function-url.ts';
import { loadDagBag } from '../lib/dagbag/dag-bag.ts';
import { createTable } from '../lib/store/create-table.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from './support/dynamodb-local.ts';
import { GSI_RUNS_BY_DAG_STATE, GSI_RUNS_BY_STATE, TTL_ATTRIBUTE } from '../lib/store/table-design.ts';

/**
 * The stack, as `cdk synth` builds it, checked with CDK's template assertions and cdk-nag's AwsSolutions
 * pack (applied by createAirlessApp, as in the app). Two stacks in all: the repo's dags/ (bundled: the
 * function code is checked too) and a fixture folder with a scheduled DAG (bundling skipped).
 */

/**
 * The Step Functions API as far as the functions use it (StartExecution), over HTTP: the bundled SDK
 * client talks to it through AWS_ENDPOINT_URL_SFN.
 */
async function startFakeStepFunctions(): Promise<{ endpoint: string; started: { stateMachineArn: string; name: string; input: string }[]; stop: () => Promise<void> }> {
  const started: { stateMachineArn: string; name: string; input: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      res.setHeader('content-type', 'application/x-amz-json-1.0');
      if (target !== 'AWSStepFunctions.StartExecution') {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'UnknownOperationException', message: target }));
        return;
      }
      const input = JSON.parse(body) as { stateMachineArn: string; name: string; input: string };
      started.push(input);
      res.end(JSON.stringify({ executionArn: `${input.stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.name}`, startDate: Date.now() / 1000 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, started, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** Every statement of the policies attached to a role (by its construct path in the Airless construct, e.g. `TaskRunner/ServiceRole`). */
function statementsOf(template: Template, stack: AirlessStack, rolePath: string): Statement[] {
  const role = rolePath.split('/').reduce<IConstruct>((c, id) => c.node.findChild(id), stack.airless);
  const roleId = stack.getLogicalId(role.node.defaultChild as CfnElement);
  const out: Statement[] = [];
  for (const p of [...Object.values(template.findResources('AWS::IAM::Policy')), ...Object.values(template.findResources('AWS::IAM::ManagedPolicy'))]) {
    const props = (p as { Properties: { Roles?: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } } }).Properties;
    if ((props.Roles ?? []).some((r) => r.Ref === roleId)) out.push(...props.PolicyDocument.Statement);
  }
  if (out.length === 0) throw new Error(`no policy of the role at ${rolePath} (${roleId})`);
  return out;
}

const allows = (statements: Statement[], action: string) => statements.filter((s) => s.Effect === 'Allow' && actionsOf(s).includes(action));
const text = (v: unknown) => JSON.stringify(v);

function nagErrors(stack: AirlessStack) {
  return Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
}

describe('the CDK stack of the repo\'s dags/ (bundled)', () => {
  let stack: AirlessStack;
  let template: Template;
  let outdir: string;

  beforeAll(async () => {
    outdir = mkdtempSync(path.join(tmpdir(), 'airless-cdk-test-'));
    ({ stack } = await createAirlessApp({ dagsFolder: 'dags', app: new App({ outdir }) }));
    template = Template.fromStack(stack);
  }, 180_000);

  it('has the single table: keys, both GSIs, on-demand billing, PITR, TTL, encryption', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'PK', KeyType: 'HASH' },
        { AttributeName: 'SK', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      SSESpecification: { SSEEnabled: true },
      GlobalSecondaryIndexes: [
        { IndexName: GSI_RUNS_BY_DAG_STATE, KeySchema: [{ AttributeName: 'GSI1PK', KeyType: 'HASH' }, { AttributeName: 'GSI1SK', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
        { IndexName: GSI_RUNS_BY_STATE, KeySchema: [{ AttributeName: 'GSI2PK', KeyType: 'HASH' }, { AttributeName: 'GSI2SK', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
      ],
    });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
  });

  it('has the bucket for large values: no public access, SSL only, encrypted, expiring finished runs', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ TagFilters: [{ Key: 'airless-expired', Value: 'true' }], ExpirationInDays: 30, Status: 'Enabled' }),
          // Iterations' item lists in S3 and their Distributed Maps' results: a try's only.
          Match.objectLike({ Prefix: 'airless/_item-lists/', ExpirationInDays: 30, Status: 'Enabled' }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  /** The stack's six functions (not the CDK's BucketDeployment handler, which carries the version bundles to the bucket). */
  const ownFunctions = () => {
    const ids = new Set(Object.values(stack.airless.functions).map((fn) => stack.getLogicalId(fn.node.defaultChild as CfnElement)));
    return Object.fromEntries(Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) => ids.has(id)));
  };

  it('has the six functions on Node.js 22, arm64, with their environment', () => {
    // Seven Lambda functions in all: the six, and the version bundles' BucketDeployment handler.
    expect(Object.keys(template.findResources('AWS::Lambda::Function'))).toHaveLength(7);
    const fns = ownFunctions();
    expect(Object.keys(fns)).toHaveLength(6);
    for (const fn of Object.values(fns)) {
      const p = (fn as { Properties: Record<string, any> }).Properties;
      expect(p.Runtime).toMatch(/^nodejs(2[2-9]|[3-9]\d)\.x$/);
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.Handler).toBe('index.handler');
      expect(Object.keys(p.Environment.Variables)).toEqual(expect.arrayContaining(['TABLE_NAME', 'BUCKET_NAME', 'STATE_MACHINE_ARN_PREFIX', 'STATE_MACHINE_NAME_PREFIX', 'XCOM_TTL_SECONDS']));
    }
  });

  it('bundles the DAGs into every function, and never aws-cdk-lib', async () => {
    const fns = ownFunctions();
    for (const fn of Object.values(fns)) {
      const key = (fn as { Properties: { Code: { S3Key: string } } }).Properties.Code.S3Key;
      const bundle = path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs');
      expect(existsSync(bundle), bundle).toBe(true);
      const code = readFileSync(bundle, 'utf8');
      expect(code).not.toContain('aws-cdk-lib');
      for (const dagId of ['example_workflow', 'stage_imaging', 'batch_fanout']) expect(code).toContain(dagId);
      const mod = (await import(pathToFileURL(bundle).href)) as { handler?: unknown };
      expect(typeof mod.handler).toBe('function');
    }
  });

  /** The environment a bundled function reads, pointed at DynamoDB Local (a new table) and the fake Step Functions. */
  async function bundleEnvironment(ddb: Awaited<ReturnType<typeof startDynamoDbLocal>>, sfn: Awaited<ReturnType<typeof startFakeStepFunctions>>, table: string): Promise<void> {
    await createTable(ddb.client, table);
    Object.assign(process.env, {
      TABLE_NAME: table,
      AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
      AWS_ENDPOINT_URL_SFN: sfn.endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_REGION: LOCAL_REGION,
      STATE_MACHINE_ARN_PREFIX: `arn:aws:states:${LOCAL_REGION}:123456789012:stateMachine:`,
      STATE_MACHINE_NAME_PREFIX: stack.airless.naming.prefix,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
  }

  it('the bundled trigger function runs: it creates a run in DynamoDB (Local) and starts its first lifecycles through the Step Functions API', async () => {
    const ddb = await startDynamoDbLocal();
    const sfn = await startFakeStepFunctions();
    try {
      await bundleEnvironment(ddb, sfn, 'airless-bundle-test');
      const trigger = Object.values(template.findResources('AWS::Lambda::Function')).find((f) => (f as { Properties: { Description: string } }).Properties.Description.startsWith('airless trigger'));
      const key = (trigger as { Properties: { Code: { S3Key: string } } }).Properties.Code.S3Key.replace(/\.zip$/, '');
      const { handler } = (await import(pathToFileURL(path.join(outdir, `asset.${key}`, 'index.mjs')).href)) as { handler: (e: unknown, c: unknown) => Promise<{ runs: { runId: string; state: string }[] }> };
      const context = { functionName: 'trigger', awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:trigger', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 60_000 };
      const out = await handler({ dagId: 'branching_join', runId: 'bundle-run-1' }, context);
      expect(out.runs.map((r) => [r.runId, r.state])).toEqual([['bundle-run-1', 'running']]);
      const bag = await loadDagBag('dags');
      const roots = bag.getDag('branching_join')!.spec.tasks.filter((t) => t.upstream.length === 0).map((t) => t.taskId);
      // Every root task starts on the shared try machine, its settings in the input.
      expect(sfn.started.map((s) => s.stateMachineArn)).toEqual(roots.map(() => `arn:aws:states:${LOCAL_REGION}:123456789012:stateMachine:${stack.airless.naming.lifecycle('try')}`));
      expect(sfn.started.map((s) => (JSON.parse(s.input) as { key: { taskId: string } }).key.taskId).sort()).toEqual([...roots].sort());
      expect(sfn.started.map((s) => JSON.parse(s.input) as unknown)).toContainEqual({
        key: { dagId: 'branching_join', runId: 'bundle-run-1', taskId: roots[0], mapIndex: -1 },
        dagId: 'branching_join',
        tryNumber: 1,
        settings: { concurrency: 0, itemRetries: 0, itemRetryDelays: [], maxConcurrency: 0 },
      });
    } finally {
      await sfn.stop();
      await ddb.stop();
    }
  }, 60_000);

  it('the bundled API function runs: it answers Function URL events from DynamoDB (Local) and a trigger starts the first lifecycles', async () => {
    const ddb = await startDynamoDbLocal();
    const sfn = await startFakeStepFunctions();
    try {
      await bundleEnvironment(ddb, sfn, 'airless-bundle-api-test');
      const key = (template.toJSON().Resources[stack.getLogicalId(stack.airless.functions.api.node.defaultChild as CfnElement)] as { Properties: { Code: { S3Key: string } } }).Properties.Code.S3Key.replace(/\.zip$/, '');
      const { handler } = (await import(pathToFileURL(path.join(outdir, `asset.${key}`, 'index.mjs')).href)) as { handler: (e: unknown, c: unknown) => Promise<{ statusCode: number; body: string }> };
      const context = { functionName: 'api', awsRequestId: 'req-api', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:api', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 60_000 };
      const call = async (method: string, url: string, body?: unknown) => {
        const bytes = body === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(body));
        const received = { method, url, headers: { host: 'abc.lambda-url.us-east-1.on.aws', ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: bytes };
        const res = await handler(functionUrlEvent(received, { region: LOCAL_REGION, accountId: '123456789012', accessKeyId: 'AKIDBUNDLE', sourceIp: '127.0.0.1' }), context);
        return { status: res.statusCode, json: JSON.parse(res.body) as Record<string, any> };
      };
      expect(await call('GET', '/api/v2/monitor/health')).toStrictEqual({ status: 200, json: { status: 'healthy' } });
      const dags = await call('GET', '/api/v2/dags?limit=100');
      expect(dags.status).toBe(200);
      expect(dags.json.dags.map((d: { dag_id: string }) => d.dag_id)).toEqual(expect.arrayContaining(['example_workflow', 'branching_join', 'batch_fanout']));
      const run = await call('POST', '/api/v2/dags/branching_join/dagRuns', { dag_run_id: 'bundle-api-1' });
      expect(run.status).toBe(200);
      expect(run.json).toMatchObject({ dag_run_id: 'bundle-api-1', dag_id: 'branching_join', state: 'running' });
      const bag = await loadDagBag('dags');
      const roots = bag.getDag('branching_join')!.spec.tasks.filter((t) => t.upstream.length === 0).map((t) => t.taskId);
      expect(sfn.started.map((s) => s.stateMachineArn)).toEqual(roots.map(() => `arn:aws:states:${LOCAL_REGION}:123456789012:stateMachine:${stack.airless.naming.lifecycle('try')}`));
      // A malformed body is a 400 naming the field, through the bundle's validator too.
      const bad = await call('PATCH', '/api/v2/dags/branching_join', { is_paused: 'yes' });
      expect(bad.status).toBe(400);
      expect(bad.json.field).toContain('is_paused');
    } finally {
      await sfn.stop();
      await ddb.stop();
    }
  }, 60_000);

  it('has the fixed set of state machines whatever the DAGs: one per lifecycle shape, the timer and the Batch watcher', async () => {
    const bag = await loadDagBag('dags');
    expect(bag.dags.flatMap((d) => d.spec.tasks).length).toBeGreaterThan(10);
    expect([...stack.airless.lifecycles.keys()]).toEqual(['try', 'sensor', 'batch', 'batch_job', 'iterate', 'batch_array', 'hitl', 'partitions']);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 8 + 3);
    // The definition is the compiler's, with the functions' ARNs and the partition substituted in.
    const { machine, compiled } = stack.airless.lifecycles.get('try')!;
    const id = stack.getLogicalId(machine.node.defaultChild as never);
    const sm = template.toJSON().Resources[id].Properties;
    expect(sm.StateMachineName).toBe(stack.airless.naming.lifecycle('try'));
    expect(sm.StateMachineType).toBe('EXPRESS');
    expect(JSON.parse(sm.DefinitionString)).toStrictEqual(compiled.definition);
    expect(sm.DefinitionString).toContain('arn:${Partition}:states:::lambda:invoke');
    expect(Object.keys(sm.DefinitionSubstitutions).sort()).toEqual(['BatchJobMachineArn', 'DescribeJobsArn', 'IterateMachineArn', 'Partition', 'SchedulerArn', 'SensorPokeArn', 'TaskRunnerArn']);
    expect(sm.DefinitionSubstitutions.Partition).toEqual({ Ref: 'AWS::Partition' });
    for (const [m, type] of [['sensor', 'STANDARD'], ['batch', 'EXPRESS'], ['batch_job', 'STANDARD'], ['iterate', 'STANDARD'], ['batch_array', 'STANDARD'], ['partitions', 'STANDARD']] as const) {
      const other = template.toJSON().Resources[stack.getLogicalId(stack.airless.lifecycles.get(m)!.machine.node.defaultChild as never)].Properties;
      expect([m, other.StateMachineType]).toEqual([m, type]);
    }
  });

  it('schedules the scheduled example DAGs in their timezones (an assets-or-time DAG on its time part), and no other; no periodic rule: the reconcile loop runs only while runs are active', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 2);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 6 * * ? *)',
      ScheduleExpressionTimezone: 'UTC',
      Target: Match.objectLike({ Input: JSON.stringify({ dagId: 'asset_or_time', logicalDate: '<aws.scheduler.scheduled-time>', runType: 'scheduled' }) }),
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 6 * * ? *)',
      ScheduleExpressionTimezone: 'Australia/Perth',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: Match.objectLike({
        Input: JSON.stringify({ dagId: 'nightly_calibrator_check', logicalDate: '<aws.scheduler.scheduled-time>', runType: 'scheduled' }),
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AirlessTrigger'), 'Arn'] },
      }),
    });
    template.resourceCountIs('AWS::Events::Rule', 0);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: stack.airless.naming.reconciler, StateMachineType: 'STANDARD' });
    // The functions that make runs active arm it (never the scheduler, which its loop invokes).
    for (const fn of ['Trigger', 'Api', 'TaskRunner']) {
      const starts = allows(statementsOf(template, stack, `${fn}/ServiceRole`), 'states:StartExecution').flatMap((st) => resourcesOf(st).map(text));
      expect([fn, starts.some((r) => r.includes('Reconciler'))]).toEqual([fn, true]);
    }
    expect(allows(statementsOf(template, stack, 'Scheduler/ServiceRole'), 'states:StartExecution').flatMap((st) => resourcesOf(st).map(text)).some((r) => r.includes('Reconciler'))).toBe(false);
  });

  it('lets the task runner start exactly the stack\'s lifecycle machines and the timer (it reports tries itself, dispatching what comes next)', () => {
    const started = allows(statementsOf(template, stack, 'TaskRunner/ServiceRole'), 'states:StartExecution').flatMap((st) => resourcesOf(st).map(text));
    const names = [...['try', 'sensor', 'batch', 'batch_job', 'iterate', 'batch_array', 'hitl', 'partitions'].map((m) => stack.airless.naming.lifecycle(m as never)), stack.airless.naming.timer];
    // The lifecycle machines and the timer by name, and the reconciler (it arms it: a triggerDag task starts a run).
    expect(started).toEqual([...names.map((n) => expect.stringContaining(`:stateMachine:${n}"`)), expect.stringMatching(/^\{"Ref":"AirlessReconciler/)]);
    for (const r of started) expect(r).not.toContain('*');
  });

  it("gives the partitions machine a role of its own: StartExecution on the iterate machine and its own, its own child executions, nothing else", () => {
    const name = stack.airless.naming.lifecycle('partitions');
    expect(stack.airless.lifecycles.get('partitions')!.compiled.workflowType.type).toBe('STANDARD');
    const st = statementsOf(template, stack, 'LifecycleRolePartitions');
    const starts = allows(st, 'states:StartExecution');
    const started = starts.flatMap((x) => resourcesOf(x).map(text));
    expect(started).toHaveLength(2);
    expect(started.filter((r) => r.includes(`:stateMachine:${stack.airless.naming.lifecycle('iterate')}"`))).toHaveLength(1);
    expect(started.filter((r) => r.includes(`:stateMachine:${name}"`))).toHaveLength(1);
    const describes = allows(st, 'states:DescribeExecution');
    expect(describes).toHaveLength(1);
    expect(resourcesOf(describes[0]!).map(text)).toEqual([expect.stringContaining(`:execution:${name}:*"`), expect.stringContaining(`:execution:${name}/*"`)]);
    expect(allows(st, 'lambda:InvokeFunction')).toEqual([]);
    expect(allows(st, 's3:GetObject')).toEqual([]);
  });

  it('gives the array fan-out machine a role of its own: its own child executions and Batch .sync', () => {
    const name = stack.airless.naming.lifecycle('batch_array');
    expect(stack.airless.lifecycles.get('batch_array')!.compiled.workflowType.type).toBe('STANDARD');
    const st = statementsOf(template, stack, 'LifecycleRoleBatchArray');
    const starts = allows(st, 'states:StartExecution');
    expect(starts).toHaveLength(1);
    expect(resourcesOf(starts[0]!).map(text)).toEqual([expect.stringContaining(`:stateMachine:${name}"`)]);
    const describes = allows(st, 'states:DescribeExecution');
    expect(describes).toHaveLength(1);
    expect(actionsOf(describes[0]!).sort()).toEqual(['states:DescribeExecution', 'states:StopExecution']);
    expect(resourcesOf(describes[0]!).map(text)).toEqual([expect.stringContaining(`:execution:${name}:*"`), expect.stringContaining(`:execution:${name}/*"`)]);
    // Sync mode: the children submit with batch:submitJob.sync.
    expect(allows(st, 'batch:SubmitJob')).toHaveLength(1);
    expect(allows(st, 'batch:DescribeJobs')).toHaveLength(1);
    expect(allows(st, 'batch:TerminateJob')).toHaveLength(1);
    expect(text(allows(st, 'events:PutRule')[0]!.Resource)).toContain('rule/StepFunctionsGetEventsForBatchJobsRule');
    // No item list in S3 for a fan-out.
    expect(allows(st, 's3:GetObject')).toEqual([]);
    const invoked = allows(st, 'lambda:InvokeFunction').flatMap((s) => resourcesOf(s).map(text)).join(' ');
    expect(invoked).toContain('TaskRunner');
    expect(invoked).toContain('Scheduler');
  });

  it('gives the iteration machine a role of its own: its Distributed Map over an S3 item list reads and writes only the store\'s prefix', () => {
    const name = stack.airless.naming.lifecycle('iterate');
    const st = statementsOf(template, stack, 'LifecycleRoleIterate');
    expect(resourcesOf(allows(st, 'states:StartExecution')[0]!).map(text)).toEqual([expect.stringContaining(`:stateMachine:${name}"`)]);
    const s3 = allows(st, 's3:GetObject');
    expect(s3).toHaveLength(1);
    expect(actionsOf(s3[0]!).sort()).toEqual(['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject']);
    expect(text(s3[0]!.Resource)).toMatch(/LargeValues.*\/airless\/\*/);
    expect(allows(st, 'batch:SubmitJob')).toEqual([]);
    // The try machine starts nothing itself: its functions do.
    expect(allows(statementsOf(template, stack, 'LifecycleRoleTry'), 'states:StartExecution')).toEqual([]);
  });

  it('lets the scheduler settle array waves: ListJobs, DescribeJobs, TerminateJob', () => {
    const st = statementsOf(template, stack, 'Scheduler/ServiceRole');
    expect(text(allows(st, 'batch:ListJobs')[0]!.Resource)).toBe('"*"');
    expect(actionsOf(allows(st, 'batch:ListJobs')[0]!)).toContain('batch:DescribeJobs');
    expect(text(allows(st, 'batch:TerminateJob')[0]!.Resource)).toContain(':job/*');
    expect(allows(st, 'batch:SubmitJob')).toEqual([]);
  });

  it('serves the API from a Function URL with AuthType AWS_IAM (never NONE), its URL in the ApiUrl output', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    const apiId = stack.getLogicalId(stack.airless.functions.api.node.defaultChild as CfnElement);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM', TargetFunctionArn: { 'Fn::GetAtt': [apiId, 'Arn'] } });
    const urlId = stack.getLogicalId(stack.airless.apiUrl.node.defaultChild as CfnElement);
    template.hasOutput('AirlessApiUrl', { Value: { 'Fn::GetAtt': [urlId, 'FunctionUrl'] } });
    // No resource policy opens the URL (or the function) to anyone: callers need IAM permission of their own.
    for (const p of Object.values(template.findResources('AWS::Lambda::Permission'))) {
      const props = (p as { Properties: { FunctionName: unknown; Principal: string; FunctionUrlAuthType?: string } }).Properties;
      expect(props.FunctionUrlAuthType).not.toBe('NONE');
      if (text(props.FunctionName).includes(apiId)) expect(props.Principal).not.toBe('*');
    }
  });

  it('gives the API function the table, the bucket\'s values, StartExecution on the lifecycles and the timer, and what stopping a run needs only', () => {
    const st = statementsOf(template, stack, 'Api/ServiceRole');
    const table = allows(st, 'dynamodb:PutItem');
    expect(table).toHaveLength(1);
    expect(actionsOf(table[0]!).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    expect(text(table[0]!.Resource)).toContain('Table');
    const s3 = allows(st, 's3:GetObject');
    expect(s3).toHaveLength(1);
    expect(actionsOf(s3[0]!).sort()).toEqual(['s3:GetObject', 's3:PutObject', 's3:PutObjectTagging']);
    expect(text(s3[0]!.Resource)).toMatch(/LargeValues.*\/airless\/\*/);
    const resources = allows(st, 'states:StartExecution').flatMap((x) => resourcesOf(x).map(text));
    const names = [...['try', 'sensor', 'batch', 'batch_job', 'iterate', 'batch_array', 'hitl', 'partitions'].map((m) => stack.airless.naming.lifecycle(m as never)), stack.airless.naming.timer];
    expect(resources).toEqual([...names.map((n) => expect.stringContaining(`:stateMachine:${n}"`)), expect.stringMatching(/^\{"Ref":"AirlessReconciler/)]);
    // The executions of the Standard lifecycle machines (the Express try machine's cannot be described).
    expect(resourcesOf(allows(st, 'states:DescribeExecution')[0]!).map(text)).toEqual(
      ['sensor', 'batch_job', 'iterate', 'batch_array', 'hitl', 'partitions'].map((m) => expect.stringContaining(`:execution:${stack.airless.naming.lifecycle(m as never)}:*"`)),
    );
    // sns:Publish on the topic of observation_alerts' notifiers (a callback or a deadline alert may run in any step).
    expect(allows(st, 'sns:Publish').flatMap((x) => resourcesOf(x).map(text))).toEqual(['"arn:aws:sns:us-east-1:123456789012:airless-alerts"']);
    // observation_alerts' deadline: schedules in the stack's deadline group, passing the Scheduler role (a trigger arms them).
    expect(allows(st, 'scheduler:CreateSchedule').flatMap((x) => [...actionsOf(x), ...resourcesOf(x).map(text)])).toEqual([
      'scheduler:CreateSchedule',
      'scheduler:DeleteSchedule',
      expect.stringMatching(/:scheduler:.*:schedule\/[A-Za-z0-9-]+-deadlines\/\*"/),
    ]);
    expect(allows(st, 'iam:PassRole').flatMap((x) => resourcesOf(x).map(text))).toEqual([expect.stringMatching(/^\{"Fn::GetAtt":\["AirlessDeadlineSchedulesRole[0-9A-F]{8}","Arn"\]\}$/)]);
    // Stopping a run (a mark): StopExecution on the lifecycle executions, and its Batch jobs terminated (ListJobs
    // finds a try's job by name and has no resource-level permission: its only wildcard resource).
    const actions = st.flatMap(actionsOf);
    expect([...new Set(actions.filter((a) => !/^(dynamodb|s3|states|scheduler):/.test(a)))].sort()).toEqual(['batch:ListJobs', 'batch:TerminateJob', 'iam:PassRole', 'sns:Publish']);
    expect([...new Set(actions.filter((a) => a.startsWith('states:')))].sort()).toEqual(['states:DescribeExecution', 'states:SendTaskSuccess', 'states:StartExecution', 'states:StopExecution']);
    for (const s of st) if (!actionsOf(s).every((a) => a === 'batch:ListJobs')) expect(resourcesOf(s).map(text)).not.toContain('"*"');
  });

  it('has no unsuppressed cdk-nag AwsSolutions error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});

describe('the CDK stack of the repo\'s dags/ with Batch in poll mode (bundling skipped)', () => {
  let stack: AirlessStack;
  let template: Template;

  beforeAll(async () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    ({ stack } = await createAirlessApp({ dagsFolder: 'dags', app, stackName: 'AirlessArraysPoll', props: { batchWatch: 'poll', batchWatchIntervalSeconds: 45 } }));
    template = Template.fromStack(stack);
  }, 120_000);

  it('the fan-out polls (WaitPoll of the stack\'s interval); its role starts its own children and submits nothing; the task runner submits and describes', () => {
    const { machine, compiled } = stack.airless.lifecycles.get('batch_array')!;
    const id = stack.getLogicalId(machine.node.defaultChild as never);
    const definition = JSON.parse(template.toJSON().Resources[id].Properties.DefinitionString) as { States: { Groups: { ItemProcessor: { States: Record<string, unknown> } } } };
    expect(definition).toStrictEqual(compiled.definition);
    expect(definition.States.Groups.ItemProcessor.States['WaitPoll']).toMatchObject({ Type: 'Wait', Seconds: 45 });
    const st = statementsOf(template, stack, 'LifecycleRoleBatchArray');
    expect(allows(st, 'states:StartExecution')).toHaveLength(1);
    expect(allows(st, 'batch:SubmitJob')).toEqual([]);
    expect(allows(st, 'events:PutRule')).toEqual([]);
    const runner = statementsOf(template, stack, 'TaskRunner/ServiceRole');
    expect(allows(runner, 'batch:SubmitJob')).toHaveLength(1);
    expect(actionsOf(allows(runner, 'batch:DescribeJobs')[0]!)).toEqual(['batch:ListJobs', 'batch:DescribeJobs']);
  });

  it('has no unsuppressed cdk-nag AwsSolutions error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});

describe('the CDK stack of a folder with scheduled DAGs (bundling skipped)', () => {
  let stack: AirlessStack;
  let template: Template;

  beforeAll(async () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    ({ stack } = await createAirlessApp({
      dagsFolder: 'test/fixtures/cdk',
      app,
      stackName: 'AirlessFixture',
      props: { batch: { mode: 'fargate', spot: true } },
    }));
    template = Template.fromStack(stack);
  }, 120_000);

  it('deploys the fixed set of lifecycle machines (the same as for any DAGs), the try machine Express with its logs', () => {
    expect([...stack.airless.lifecycles.keys()]).toEqual(['try', 'sensor', 'batch', 'batch_job', 'iterate', 'batch_array', 'hitl', 'partitions']);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 8 + 3);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: stack.airless.naming.lifecycle('try'),
      StateMachineType: 'EXPRESS',
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/aws/vendedlogs/states/${stack.airless.naming.prefix}-express` });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: stack.airless.naming.lifecycle('batch_job'),
      StateMachineType: 'STANDARD',
    });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: stack.airless.naming.timer,
      DefinitionString: JSON.stringify(compileTimer({ schedulerArn: '${SchedulerArn}' })),
    });
  });

  it('schedules the cron DAG in its timezone and the rate DAG, and not the unscheduled one', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 2);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(30 2 ? * 2,3,4,5,6 *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: Match.objectLike({
        Input: JSON.stringify({ dagId: 'nightly_report', logicalDate: '<aws.scheduler.scheduled-time>', runType: 'scheduled' }),
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AirlessTrigger'), 'Arn'] },
      }),
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(15 minutes)', ScheduleExpressionTimezone: 'UTC' });
    const inputs = Object.values(template.findResources('AWS::Scheduler::Schedule')).map((s) => text(s));
    expect(inputs.some((i) => i.includes('on_demand'))).toBe(false);
  });

  it('gives the task runner the table and StartExecution on the stack\'s machines only (it reports tries: what comes next starts from it)', () => {
    const st = statementsOf(template, stack, 'TaskRunner/ServiceRole');
    const table = allows(st, 'dynamodb:PutItem');
    expect(table).toHaveLength(1);
    expect(actionsOf(table[0]!)).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem']));
    expect(actionsOf(table[0]!)).not.toContain('dynamodb:Scan');
    expect(text(table[0]!.Resource)).toContain('Table');
    const started = allows(st, 'states:StartExecution').flatMap((x) => resourcesOf(x).map(text));
    expect(started.length).toBeGreaterThan(5);
    for (const r of started) expect(r).toMatch(new RegExp(`(:stateMachine:${stack.airless.naming.prefix}-[a-z-]+"|^\\{"Ref":"AirlessReconciler)`));
  });

  it('lets the scheduler start executions only on the stack\'s state machines, each named', () => {
    const starts = allows(statementsOf(template, stack, 'Scheduler/ServiceRole'), 'states:StartExecution');
    expect(starts).toHaveLength(1);
    const resources = resourcesOf(starts[0]!).map(text);
    expect(resources).toHaveLength(9);
    expect(resources.at(-1)).toContain(`:stateMachine:${stack.airless.naming.timer}"`);
    for (const r of resources) expect(r).not.toContain('*');
  });

  it('lets each lifecycle role invoke only its own functions', () => {
    const invoked = (role: string) => allows(statementsOf(template, stack, role), 'lambda:InvokeFunction').flatMap((s) => resourcesOf(s).map(text)).join(' ');
    const lambdaRole = invoked('LifecycleRoleTry');
    expect(lambdaRole).toContain('TaskRunner');
    expect(lambdaRole).toContain('Scheduler');
    expect(lambdaRole).not.toContain('SensorPoke');
    const sensorRole = invoked('LifecycleRoleSensor');
    expect(sensorRole).toContain('SensorPoke');
    expect(sensorRole).not.toContain('TaskRunner');
    expect(invoked('TimerRole')).not.toContain('TaskRunner');
  });

  it('gives the Batch lifecycle role SubmitJob on the created queue, DescribeJobs, TerminateJob and the events rule of .sync', () => {
    const st = statementsOf(template, stack, 'LifecycleRoleBatchJob');
    const submit = allows(st, 'batch:SubmitJob');
    expect(submit).toHaveLength(1);
    expect(text(submit[0]!.Resource)).toMatch(/JobQueue|job-queue/i);
    expect(text(submit[0]!.Resource)).toContain('job-definition/reduce');
    expect(allows(st, 'batch:DescribeJobs')).toHaveLength(1);
    expect(allows(st, 'batch:TerminateJob')).toHaveLength(1);
    const rule = allows(st, 'events:PutRule');
    expect(actionsOf(rule[0]!)).toEqual(expect.arrayContaining(['events:PutTargets', 'events:PutRule', 'events:DescribeRule']));
    expect(text(rule[0]!.Resource)).toContain('rule/StepFunctionsGetEventsForBatchJobsRule');
    // Only the Batch lifecycles submit jobs (sync mode): the task runner does not.
    expect(allows(statementsOf(template, stack, 'TaskRunner/ServiceRole'), 'batch:SubmitJob')).toEqual([]);
  });

  it('creates the Fargate compute environment and one queue per queue name the DAGs use', () => {
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', { ComputeResources: Match.objectLike({ Type: 'FARGATE_SPOT' }) });
    template.hasResourceProperties('AWS::Batch::JobQueue', { JobQueueName: 'nightly-queue' });
  });

  it('has no unsuppressed cdk-nag AwsSolutions error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});

describe('the CDK app', () => {
  it('refuses to synthesize a DAGs folder with broken files, naming each file', async () => {
    const err = await createAirlessApp({ dagsFolder: 'test/fixtures/dagbag', app: new App() }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DagBagImportErrors);
    const message = (err as Error).message;
    expect(message).toMatch(/failed to import; nothing was synthesized/);
    for (const file of ['bad-cycle.ts', 'bad-missing-module.ts', 'bad-throws.ts']) expect(message).toContain(file);
  });

});

describe('the CDK stack in an account and region, with Batch in poll mode, existing queues, a Distributed Map and tracing (bundling skipped)', () => {
  let stack: AirlessStack;
  let template: Template;

  beforeAll(async () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    ({ stack } = await createAirlessApp({
      dagsFolder: 'test/fixtures/cdk',
      app,
      stackName: 'AirlessPoll',
      props: {
        env: { account: '123456789012', region: 'eu-west-1' },
        batchWatch: 'poll',
        iterateMode: 'distributed',
        tracing: true,
        batch: { mode: 'existing', jobQueues: ['arn:aws:batch:eu-west-1:111122223333:job-queue/other'] },
        apiCallers: [new iam.ArnPrincipal('arn:aws:iam::123456789012:role/airless-operators')],
      },
    }));
    template = Template.fromStack(stack);
  }, 120_000);

  it('lets the task runner submit to the named queues and start only the Batch watcher', () => {
    const st = statementsOf(template, stack, 'TaskRunner/ServiceRole');
    const submit = allows(st, 'batch:SubmitJob');
    expect(submit).toHaveLength(1);
    expect(text(submit[0]!.Resource)).toContain('job-queue/nightly-queue');
    expect(text(submit[0]!.Resource)).toContain('arn:aws:batch:eu-west-1:111122223333:job-queue/other');
    expect(allows(st, 'batch:TagResource')).toHaveLength(1);
    const started = allows(st, 'states:StartExecution').flatMap((s) => resourcesOf(s).map(text));
    expect(started).toContainEqual(expect.stringContaining(`:stateMachine:${stack.airless.naming.batchWatcher}"`));
    expect(started).toContainEqual(expect.stringContaining(`:stateMachine:${stack.airless.naming.lifecycle('try')}"`));
    template.resourceCountIs('AWS::Batch::JobQueue', 0);
  });

  it('lets the given API callers invoke the Function URL (both permissions, IAM auth only), and outputs the API function', () => {
    const apiId = stack.getLogicalId(stack.airless.functions.api.node.defaultChild as CfnElement);
    const perms = Object.values(template.findResources('AWS::Lambda::Permission'))
      .map((p) => (p as { Properties: { Action: string; FunctionName: unknown; Principal: string; FunctionUrlAuthType?: string } }).Properties)
      .filter((p) => text(p.FunctionName).includes(apiId));
    expect(perms.map((p) => p.Action).sort()).toStrictEqual(['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl']);
    for (const p of perms) expect(p.Principal).toBe('arn:aws:iam::123456789012:role/airless-operators');
    expect(perms.find((p) => p.Action === 'lambda:InvokeFunctionUrl')!.FunctionUrlAuthType).toBe('AWS_IAM');
    template.hasOutput('AirlessApiFunctionArn', { Value: { 'Fn::GetAtt': [apiId, 'Arn'] } });
  });

  it('traces functions and state machines, and has no unsuppressed cdk-nag AwsSolutions error', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { TracingConfig: { Mode: 'Active' } });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true } });
    expect(nagErrors(stack)).toEqual([]);
  });
});
