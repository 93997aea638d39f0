import { randomUUID } from 'node:crypto';
import { BatchClient, DescribeJobsCommand, ListJobsCommand, SubmitJobCommand, type JobDetail, type SubmitJobCommandInput } from '@aws-sdk/client-batch';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TaskInstanceRecord, TiKey } from '../lib/store/records.ts';
import type { Dispatcher } from '../lib/aws/invocation-host.ts';
import type { LifecycleNext } from '../lib/aws/lifecycle.ts';
import type { TryResult } from '../lib/scheduler/host.ts';
import type { DescribeJobsOutput } from '../lib/compiler/contract.ts';
import { AwsBatchBackend } from '../lib/aws/batch-client.ts';
import type { ServiceOverrides } from '../lib/aws/services.ts';
import { createTable } from '../lib/store/create-table.ts';
import { DynamoDbStateStore } from '../lib/store/dynamodb-store.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, type DynamoDbLocal } from './support/dynamodb-local.ts';

/**
 * The real middy handlers of functions/ invoked in-process with a Lambda context, as Lambda would: the
 * DAGs come through the same generated `airless-dags` module the bundles alias (made here from a fixture
 * folder), the services are built from the environment (the DynamoDB store on DynamoDB Local), and only
 * the AWS boundary is stood in for: a recording Dispatcher instead of Step Functions, and a Batch client
 * whose `send` answers as AWS Batch would.
 */

// The bundle-time module, generated from the fixture folder by the CDK app's own generator.
vi.mock('airless-dags', async () => {
  const { loadDagBag } = await import('../lib/dagbag/dag-bag.ts');
  const { writeDagsModule } = await import('../cdk/dags-module.ts');
  const bag = await loadDagBag('test/fixtures/functions');
  if (bag.importErrors.length) throw new Error(JSON.stringify(bag.importErrors));
  return import(writeDagsModule(bag.folder, bag.files));
});

const TABLE = 'airless-functions-test';

type Handler<E, R> = (event: E, context: Context) => Promise<R>;

let ddb: DynamoDbLocal;
let store: DynamoDbStateStore;
let scheduler: Handler<unknown, LifecycleNext | { reconciled: { runId: string }[] }>;
let trigger: Handler<unknown, { runs: { runId: string; state: string; logicalDate: string }[]; skipped: string | null }>;
let taskRunner: Handler<unknown, unknown>;
let sensorPoke: Handler<unknown, unknown>;
let describeJobs: Handler<unknown, DescribeJobsOutput>;
let overrideServices: (o: ServiceOverrides) => void;

/** What the functions asked Step Functions to start. */
const started: TaskInstanceRecord[] = [];
const timers: { at: number; event: unknown }[] = [];
const dispatcher: Dispatcher = {
  async startLifecycle(ti) {
    started.push(ti);
  },
  async startTimer(at, event) {
    timers.push({ at, event });
  },
  async startArrayWaves() {
    throw new Error('no array waves in these tests');
  },
};
const takeStarted = () => started.splice(0).map((t) => `${t.taskId}#${t.tryNumber}`);

/** AWS Batch, as the SDK would see it: a Batch client whose `send` answers SubmitJob, ListJobs and DescribeJobs. */
const jobs = new Map<string, JobDetail>();
const batchCalls: string[] = [];
const batchClient = new BatchClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
vi.spyOn(batchClient, 'send').mockImplementation((async (command: unknown) => {
  if (command instanceof SubmitJobCommand) {
    const input: SubmitJobCommandInput = command.input;
    const jobId = `job-${jobs.size + 1}`;
    batchCalls.push(`SubmitJob ${input.jobName} ${JSON.stringify(input.containerOverrides)}`);
    jobs.set(jobId, { jobId, jobName: input.jobName, jobQueue: input.jobQueue, jobDefinition: input.jobDefinition, status: 'RUNNABLE', startedAt: undefined, tags: input.tags });
    return { jobId, jobName: input.jobName };
  }
  if (command instanceof ListJobsCommand) {
    batchCalls.push('ListJobs');
    const name = command.input.filters?.[0]?.values?.[0];
    return { jobSummaryList: [...jobs.values()].filter((j) => j.jobName === name).map((j) => ({ jobId: j.jobId, jobName: j.jobName })) };
  }
  if (command instanceof DescribeJobsCommand) {
    batchCalls.push(`DescribeJobs ${command.input.jobs?.join(',')}`);
    return { jobs: (command.input.jobs ?? []).map((id) => jobs.get(id)).filter((j) => j !== undefined) };
  }
  throw new Error(`unexpected Batch call ${String(command)}`);
}) as never);
const watchersStarted: string[] = [];

function lambdaContext(functionName: string, remainingMs = 60_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

beforeAll(async () => {
  ddb = await startDynamoDbLocal();
  await createTable(ddb.client, TABLE);
  Object.assign(process.env, {
    TABLE_NAME: TABLE,
    AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_REGION: LOCAL_REGION,
    STATE_MACHINE_ARN_PREFIX: `arn:aws:states:${LOCAL_REGION}:123456789012:stateMachine:`,
    STATE_MACHINE_NAME_PREFIX: 'AirlessTest',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    // The try's signal fires 2.5 s before the Lambda timeout; a try that ignores it gets 0.5 s more.
    AIRLESS_TIMEOUT_MARGIN_MS: '2500',
  });
  store = new DynamoDbStateStore({ tableName: TABLE, client: { endpoint: ddb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS } });
  ({ overrideServices } = await import('../functions/shared/runtime.ts'));
  overrideServices({
    dispatcher,
    batch: new AwsBatchBackend({
      client: batchClient,
      onSubmitted: async (jobId) => {
        watchersStarted.push(jobId);
      },
    }),
  });
  scheduler = (await import('../functions/scheduler.ts')).handler as never;
  trigger = (await import('../functions/trigger.ts')).handler as never;
  taskRunner = (await import('../functions/task-runner.ts')).handler as never;
  sensorPoke = (await import('../functions/sensor-poke.ts')).handler as never;
  describeJobs = (await import('../functions/describe-jobs.ts')).handler as never;
}, 60_000);

afterAll(async () => {
  await ddb?.stop();
});

/** The DAG of each run these tests trigger (run ids are per DAG). */
const DAG_OF: Record<string, string> = { 'basic-1': 'fn_basic', 'waits-1': 'fn_waits', 'slow-1': 'fn_slow' };
const run = (runId: string) => ({ dagId: DAG_OF[runId]!, runId });
const key = (runId: string, taskId: string, mapIndex = -1): TiKey => ({ ...run(runId), taskId, mapIndex });
const stateOf = async (k: TiKey) => {
  const ti = await store.getTaskInstance(k);
  return ti ? `${ti.state}#${ti.tryNumber}` : 'none';
};

describe('the functions, invoked as Lambda invokes them', () => {
  it('trigger creates a run; task-runner runs each try and reports it in the same invocation, starting what follows', async () => {
    const out = await trigger({ dagId: 'fn_basic', runId: 'basic-1' }, lambdaContext('trigger'));
    expect(out.runs.map((r) => [r.runId, r.state])).toEqual([['basic-1', 'running']]);
    expect(takeStarted()).toEqual(['a#1']);

    expect(await taskRunner({ mode: 'run', key: key('basic-1', 'a'), tryNumber: 1 }, lambdaContext('task-runner'))).toEqual({ action: 'done' });
    expect(await stateOf(key('basic-1', 'a'))).toBe('success#1');
    expect(takeStarted()).toEqual(['b#1']);
    // A duplicate start of the try runs nothing and starts nothing.
    expect(await taskRunner({ mode: 'run', key: key('basic-1', 'a'), tryNumber: 1 }, lambdaContext('task-runner'))).toEqual({ action: 'done' });
    expect(takeStarted()).toEqual([]);
    // A machine's Report of a failed invocation of a try already reported changes nothing.
    const failure: TryResult = { kind: 'failure', error: { name: 'Lambda.Unknown', message: 'the invocation failed' }, retriable: true };
    expect(await scheduler({ type: 'try_finished', key: key('basic-1', 'a'), tryNumber: 1, result: failure }, lambdaContext('scheduler'))).toEqual({ action: 'done' });
    expect(await stateOf(key('basic-1', 'a'))).toBe('success#1');
    expect(takeStarted()).toEqual([]);

    expect(await taskRunner({ mode: 'run', key: key('basic-1', 'b'), tryNumber: 1 }, lambdaContext('task-runner'))).toEqual({ action: 'done' });
    expect((await store.getXCom(run('basic-1'), 'b', -1, 'return_value'))?.value).toBe(21);
    expect((await store.getRun(run('basic-1')))?.state).toBe('success');
  });

  it('trigger, from a schedule with catchup, creates the missed runs, one running at a time (maxActiveRuns 1)', async () => {
    const first = await trigger({ dagId: 'fn_daily', logicalDate: '2026-01-04T00:00:00Z', runType: 'scheduled' }, lambdaContext('trigger'));
    expect(first.runs.map((r) => r.runId)).toEqual([
      'scheduled__2026-01-01T00:00:00.000Z',
      'scheduled__2026-01-02T00:00:00.000Z',
      'scheduled__2026-01-03T00:00:00.000Z',
      'scheduled__2026-01-04T00:00:00.000Z',
    ]);
    expect(first.runs.map((r) => r.state)).toEqual(['running', 'queued', 'queued', 'queued']);
    expect(takeStarted()).toEqual(['work#1']);
    // EventBridge Scheduler delivers at least once: the same delivery again creates nothing.
    const again = await trigger({ dagId: 'fn_daily', logicalDate: '2026-01-04T00:00:00Z', runType: 'scheduled' }, lambdaContext('trigger'));
    expect(again.runs.map((r) => r.runId)).toEqual(['scheduled__2026-01-04T00:00:00.000Z']);
    expect(await store.listRuns({ dagId: 'fn_daily' })).toHaveLength(4);
    expect(takeStarted()).toEqual([]);
    // The next day catches up from the latest run: one more.
    const next = await trigger({ dagId: 'fn_daily', logicalDate: '2026-01-05T00:00:00Z', runType: 'scheduled' }, lambdaContext('trigger'));
    expect(next.runs.map((r) => r.runId)).toEqual(['scheduled__2026-01-05T00:00:00.000Z']);
    expect((await store.listRuns({ dagId: 'fn_daily' })).map((r) => r.state)).toEqual(['running', 'queued', 'queued', 'queued', 'queued']);
    // Before the DAG's startDate nothing runs.
    const early = await trigger({ dagId: 'fn_daily', logicalDate: '2025-12-31T00:00:00Z', runType: 'scheduled' }, lambdaContext('trigger'));
    expect(early).toMatchObject({ runs: [], skipped: expect.stringMatching(/before the DAG's startDate/) });
  });

  it('sensor-poke pokes and reports the poke; not yet is a wait it replies; the timer brings the next poke', async () => {
    await trigger({ dagId: 'fn_waits', runId: 'waits-1' }, lambdaContext('trigger'));
    expect(takeStarted().sort()).toEqual(['job#1', 'ready#1']);
    const k = key('waits-1', 'ready');
    const next = (await sensorPoke({ mode: 'poke', key: k, tryNumber: 1 }, lambdaContext('sensor-poke'))) as LifecycleNext;
    expect(next).toMatchObject({ action: 'wait', event: { type: 'resume', key: k, tryNumber: 1 } });
    expect(await stateOf(k)).toBe('deferred#1');
    if (next.action !== 'wait') throw new Error('expected a wait');
    expect(await scheduler({ type: 'timer', event: next.event }, lambdaContext('scheduler'))).toEqual({ action: 'run', tryNumber: 1 });
    expect(await sensorPoke({ mode: 'poke', key: k, tryNumber: 1 }, lambdaContext('sensor-poke'))).toEqual({ action: 'done' });
    expect(await stateOf(k)).toBe('success#1');
    await expect(sensorPoke({ mode: 'run', key: k, tryNumber: 1 }, lambdaContext('sensor-poke'))).rejects.toThrow(/only pokes/);
  });

  it('a Batch job in poll mode: task-runner submits and defers, describe-jobs resumes it when the job ends', async () => {
    const k = key('waits-1', 'job');
    // The try submits the job and reports its deferral in the same invocation.
    expect(await taskRunner({ mode: 'run', key: k, tryNumber: 1 }, lambdaContext('task-runner'))).toEqual({ action: 'done' });
    expect(await stateOf(k)).toBe('deferred#1');
    expect(batchCalls.splice(0)).toEqual(['ListJobs', 'SubmitJob fn_waits-job-waits-1-try1 {"command":["solve"],"environment":[{"name":"MODE","value":"fast"}]}']);
    expect(watchersStarted).toEqual(['job-1']);

    // A round while the job runs keeps it for the next; once it ended, the round resumes the try.
    const running = await describeJobs({ jobIds: ['job-1'], intervalSeconds: 30, startedAt: new Date().toISOString() }, lambdaContext('describe-jobs'));
    expect(running).toEqual({ pending: ['job-1'], finished: [], intervalSeconds: 30, continueAsNew: false });
    jobs.get('job-1')!.status = 'SUCCEEDED';
    const round = await describeJobs({ jobIds: ['job-1'], intervalSeconds: 30, startedAt: new Date().toISOString() }, lambdaContext('describe-jobs'));
    expect(round).toEqual({ pending: [], finished: [{ jobId: 'job-1', status: 'SUCCEEDED' }], intervalSeconds: 30, continueAsNew: false });
    expect(batchCalls.splice(0)).toEqual(['DescribeJobs job-1', 'DescribeJobs job-1']);
    // Resumed: a new lifecycle continues the same try, which reads the job's outcome.
    expect(takeStarted()).toEqual(['job#1']);
    expect(await taskRunner({ mode: 'run', key: k, tryNumber: 1 }, lambdaContext('task-runner'))).toEqual({ action: 'done' });
    expect((await store.getXCom(run('waits-1'), 'job', -1, 'return_value'))?.value).toMatchObject({ jobId: 'job-1', status: 'SUCCEEDED' });
    expect((await store.getRun(run('waits-1')))?.state).toBe('success');
  });

  it('the try\'s signal fires before the Lambda timeout: a task that stops reports a TaskTimeoutError, one that does not is cut off', async () => {
    await trigger({ dagId: 'fn_slow', runId: 'slow-1' }, lambdaContext('trigger'));
    expect(takeStarted().sort()).toEqual(['respectful#1', 'stubborn#1']);
    // Reported in the same invocation: the instance holds the TaskTimeoutError.
    expect(await taskRunner({ mode: 'run', key: key('slow-1', 'respectful'), tryNumber: 1 }, lambdaContext('task-runner', 2_700))).toEqual({ action: 'done' });
    expect((await store.getTaskInstance(key('slow-1', 'respectful')))?.error).toMatchObject({ name: 'TaskTimeoutError', message: expect.stringMatching(/^the function reached its timeout/) });
    expect((await store.getLog(key('slow-1', 'respectful'), 1)).map((l) => l.message).join('\n')).toMatch(/TaskTimeoutError/);
    // Answered with the TaskTimeoutError itself (the lifecycle's Catch fails the try with it) before Lambda would kill it.
    await expect(taskRunner({ mode: 'run', key: key('slow-1', 'stubborn'), tryNumber: 1 }, lambdaContext('task-runner', 2_700))).rejects.toMatchObject({ name: 'TaskTimeoutError' });
  });

  it('scheduler reconcile goes over the queued and running runs', async () => {
    const out = (await scheduler({ type: 'reconcile' }, lambdaContext('scheduler'))) as { reconciled: { runId: string }[] };
    const runIds = out.reconciled.map((r) => r.runId);
    expect(runIds).toEqual(expect.arrayContaining(['slow-1', 'scheduled__2026-01-01T00:00:00.000Z', 'scheduled__2026-01-05T00:00:00.000Z']));
    expect(runIds).not.toContain('basic-1');
  });
});
