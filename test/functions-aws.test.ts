import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import { BatchClient, DescribeJobsCommand, ListJobsCommand, SubmitJobCommand } from '@aws-sdk/client-batch';
import { describe, expect, it, vi } from 'vitest';
import { dag } from '../lib/index.ts';
import { AwsBatchBackend, ownerFromTags, ownerTags, submitJobInput } from '../lib/aws/batch-client.ts';
import {
  executionArn,
  lifecycleExecutionName,
  MAX_REDISPATCHES,
  namePrefix,
  SfnDispatcher,
  StateMachineNaming,
  timerExecutionName,
} from '../lib/aws/sfn-dispatcher.ts';
import type { BatchSubmission } from '../lib/executor/batch-backend.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import type { Dispatcher } from '../lib/aws/invocation-host.ts';
import { handleTriggerEvent } from '../lib/aws/scheduled-trigger.ts';
import { LocalBatch } from '../lib/executor/local-batch.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import type { TaskInstanceRecord } from '../lib/store/records.ts';

/**
 * The AWS side of the functions' services: the Step Functions dispatcher and the AWS Batch backend,
 * with the SDK clients answered at their `send` (the only thing stood in for).
 */

const SAFE = /^[A-Za-z0-9_-]{1,80}$/;
const ARN_PREFIX = 'arn:aws:states:eu-west-1:123456789012:stateMachine:';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

function ti(over: Partial<TaskInstanceRecord> = {}): TaskInstanceRecord {
  return {
    runId: 'manual__2026-01-01T00:00:00.000Z',
    taskId: 'extract',
    mapIndex: -1,
    dagId: 'etl',
    state: 'queued',
    tryNumber: 1,
    maxTries: 3,
    queuedAt: '2026-01-01T00:00:01.000Z',
    startDate: null,
    endDate: null,
    nextAt: null,
    firstPokeAt: null,
    pokeCount: 0,
    durationMs: null,
    error: null,
    externalId: null,
    resume: false,
    ...over,
  };
}

// `extract` runs on a Standard machine (a sensor's poke loop), `quick` on the Express try machine.
const etl = dag({ dagId: 'etl' }, ({ task, sensor }) => {
  sensor('extract', () => true, { retries: 2 });
  task('quick', () => 1, { executionTimeout: '10s' });
});

/** An SFN client whose StartExecution / DescribeExecution answer from `executions` (name → status). */
function sfnWorld(executions = new Map<string, string>()) {
  const client = new SFNClient({ region: 'eu-west-1', credentials });
  const calls: string[] = [];
  const send = vi.spyOn(client, 'send').mockImplementation((async (command: unknown) => {
    if (command instanceof StartExecutionCommand) {
      const { stateMachineArn, name } = command.input;
      calls.push(`start ${stateMachineArn!.slice(ARN_PREFIX.length)} ${name}`);
      if (executions.has(name!)) throw new ExecutionAlreadyExists({ message: `Execution Already Exists: '${name}'`, $metadata: {} });
      executions.set(name!, 'RUNNING');
      return { executionArn: executionArn(stateMachineArn!, name!), startDate: new Date() };
    }
    if (command instanceof DescribeExecutionCommand) {
      const name = command.input.executionArn!.split(':').pop()!;
      calls.push(`describe ${name}`);
      const status = executions.get(name);
      if (!status) throw new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} });
      return { name, status, ...(status === 'FAILED' ? { error: 'Lambda.Unknown', cause: 'boom' } : {}) } as Partial<DescribeExecutionCommandOutput>;
    }
    throw new Error(`unexpected call ${String(command)}`);
  }) as never);
  const naming = new StateMachineNaming('Airless');
  let now = Date.parse('2026-01-01T00:10:00Z');
  const dispatcher = new SfnDispatcher({ client, dags: { getDag: (id) => (id === 'etl' ? etl : undefined) }, naming, stateMachineArnPrefix: ARN_PREFIX, now: () => now });
  return { client, send, calls, executions, dispatcher, naming, setNow: (ms: number) => (now = ms) };
}

describe('state machine and execution names', () => {
  it('names the fixed set of machines from a prefix unique to the stack, within Step Functions\' 80 characters', () => {
    const n = new StateMachineNaming('Airless-1a2b3c4d');
    expect(n.all()).toEqual([
      'Airless-1a2b3c4d-try',
      'Airless-1a2b3c4d-sensor',
      'Airless-1a2b3c4d-batch',
      'Airless-1a2b3c4d-batch-job',
      'Airless-1a2b3c4d-iterate',
      'Airless-1a2b3c4d-batch-array',
      'Airless-1a2b3c4d-hitl',
      'Airless-1a2b3c4d-partitions',
      'Airless-1a2b3c4d-timer',
      'Airless-1a2b3c4d-batch-watcher',
      'Airless-1a2b3c4d-reconciler',
    ]);
    for (const name of n.all()) expect(name).toMatch(SAFE);
    // A readable part of the stack's name and a hash of all of it (and of the construct's path): two stacks
    // whose names share their first 32 characters, or one stack twice in an app, never collide.
    expect(namePrefix('my stack/prod')).toMatch(/^my-stack-prod-[0-9a-f]{8}$/);
    const long = 'team-data-pipelines-production-eu-west-1';
    expect(namePrefix(`${long}-a`)).not.toBe(namePrefix(`${long}-b`));
    expect(namePrefix(`${long}-a`).startsWith(long.slice(0, 32))).toBe(true);
    expect(namePrefix('Airless', 'App/Airless')).not.toBe(namePrefix('Airless', 'App/Other'));
    expect(new StateMachineNaming(namePrefix('x'.repeat(200))).lifecycle('batch_array').length).toBeLessThanOrEqual(80);
    expect(() => new StateMachineNaming('bad_prefix')).toThrow(/letters, digits or '-'/);
  });

  it('names a dispatch by the queued version of the instance: a replay gets the same name, a new queueing another', () => {
    const a = lifecycleExecutionName(ti());
    expect(a).toMatch(SAFE);
    expect(lifecycleExecutionName(ti())).toBe(a);
    expect(lifecycleExecutionName(ti({ queuedAt: '2026-01-01T00:07:00.000Z' }))).not.toBe(a);
    expect(lifecycleExecutionName(ti({ tryNumber: 2 }))).not.toBe(a);
    // The same try queued again in the same millisecond to continue (a deferred try resumed after its
    // start, a sensor's next poke): a new execution, not the finished one's name.
    const started = lifecycleExecutionName(ti({ startDate: '2026-01-01T00:05:00.000Z' }));
    expect(started).not.toBe(a);
    expect(lifecycleExecutionName(ti({ startDate: '2026-01-01T00:05:00.000Z', pokeCount: 1 }))).not.toBe(started);
    expect(lifecycleExecutionName(ti({ mapIndex: 3 }))).toMatch(/^extract_3-t1-/);
    expect(lifecycleExecutionName(ti(), 2)).toBe(`${a}-r2`);
    expect(lifecycleExecutionName(ti({ taskId: 'x'.repeat(200) }), MAX_REDISPATCHES)).toMatch(SAFE);
    const event = { type: 'retry' as const, key: { dagId: 'etl', runId: 'r', taskId: 't', mapIndex: -1 }, tryNumber: 1 };
    expect(timerExecutionName(Date.parse('2026-01-01T00:05:00.200Z'), event)).toMatch(/^retry-20260101T000501Z-[0-9a-f]{24}$/);
  });
});

describe('SfnDispatcher', () => {
  it('starts a lifecycle on its task\'s state machine with the contract\'s input; a replay starts nothing more', async () => {
    const w = sfnWorld();
    await w.dispatcher.startLifecycle(ti(), etl);
    const sent = w.send.mock.calls[0]![0] as StartExecutionCommand;
    expect(sent.input.stateMachineArn).toBe(`${ARN_PREFIX}${w.naming.lifecycle('sensor')}`);
    expect(JSON.parse(sent.input.input!)).toStrictEqual({
      key: { dagId: 'etl', runId: 'manual__2026-01-01T00:00:00.000Z', taskId: 'extract', mapIndex: -1 },
      dagId: 'etl',
      tryNumber: 1,
      settings: { concurrency: 0, itemRetries: 0, itemRetryDelays: [], maxConcurrency: 0 },
    });
    await w.dispatcher.startLifecycle(ti(), etl);
    const name = lifecycleExecutionName(ti());
    expect(w.calls).toEqual([`start ${w.naming.lifecycle('sensor')} ${name}`, `start ${w.naming.lifecycle('sensor')} ${name}`, `describe ${name}`]);
  });

  it('re-dispatching an instance whose execution ended without running it starts a new execution', async () => {
    const w = sfnWorld();
    const name = lifecycleExecutionName(ti());
    w.executions.set(name, 'FAILED');
    await w.dispatcher.startLifecycle(ti(), etl);
    expect(w.executions.get(`${name}-r1`)).toBe('RUNNING');
  });

  it('an Express lifecycle\'s replay is a replay (Express executions cannot be described)', async () => {
    const w = sfnWorld();
    const quick = ti({ taskId: 'quick' });
    w.executions.set(lifecycleExecutionName(quick), 'RUNNING');
    await w.dispatcher.startLifecycle(quick, etl);
    expect(w.calls.filter((c) => c.startsWith('describe'))).toEqual([]);
  });

  it('starts a timer once per (time, event), and lets other errors through', async () => {
    const w = sfnWorld();
    const event = { type: 'retry' as const, key: { dagId: 'etl', runId: 'r', taskId: 'extract', mapIndex: -1 }, tryNumber: 1 };
    await w.dispatcher.startTimer(Date.parse('2026-01-01T00:05:00Z'), event);
    await w.dispatcher.startTimer(Date.parse('2026-01-01T00:05:00Z'), event);
    expect(w.calls).toHaveLength(2);
    const sent = w.send.mock.calls[0]![0] as StartExecutionCommand;
    expect(sent.input.stateMachineArn).toBe(`${ARN_PREFIX}Airless-timer`);
    expect(JSON.parse(sent.input.input!)).toStrictEqual({ at: '2026-01-01T00:05:00Z', event });
    w.send.mockRejectedValueOnce(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(w.dispatcher.startTimer(Date.parse('2026-01-01T00:06:00Z'), event)).rejects.toThrow('denied');
    await expect(w.dispatcher.startBatchWatcher(['j'], 30)).rejects.toThrow(/no Batch watcher/);
  });

  it('tells the reconcile whether a running try\'s lifecycle has stopped', async () => {
    const w = sfnWorld();
    const running = ti({ state: 'running', startDate: '2026-01-01T00:00:02.000Z' });
    expect(await w.dispatcher.tryStopped(running)).toBeNull();
    w.executions.set(lifecycleExecutionName(running), 'RUNNING');
    expect(await w.dispatcher.tryStopped(running)).toBeNull();
    w.executions.set(lifecycleExecutionName(running), 'FAILED');
    expect(await w.dispatcher.tryStopped(running)).toMatch(/ended FAILED \(Lambda\.Unknown: boom\) without reporting the try/);
    // A re-dispatch of the same version decides: the latest execution counts.
    w.executions.set(lifecycleExecutionName(running, 1), 'RUNNING');
    expect(await w.dispatcher.tryStopped(running)).toBeNull();
    // The Express try machine: its invocation reports the try itself, even past the execution's 5 minutes;
    // stopped once it has run longer than the task runner's timeout (900 s), its Lambda retries (126 s)
    // and a margin (60 s) allow.
    const quick = ti({ taskId: 'quick', state: 'running', startDate: '2026-01-01T00:00:02.000Z' });
    w.setNow(Date.parse('2026-01-01T00:07:00Z'));
    expect(await w.dispatcher.tryStopped(quick)).toBeNull();
    w.setNow(Date.parse('2026-01-01T00:18:00Z'));
    expect(await w.dispatcher.tryStopped(quick)).toBeNull();
    w.setNow(Date.parse('2026-01-01T00:18:10Z'));
    expect(await w.dispatcher.tryStopped(quick)).toMatch(/cannot still be running .* reports within 1086 s/);
  });
});

describe('AwsBatchBackend', () => {
  const job: BatchSubmission = {
    jobName: 'etl-extract-r1-try1',
    jobQueue: 'q',
    jobDefinition: 'jd:2',
    command: ['run', '--fast'],
    environment: { A: '1' },
    containerOverrides: { ResourceRequirements: [{ Type: 'VCPU', Value: '2' }] },
    arraySize: null,
    local: { mode: 'process' },
  };
  const owner = { key: { dagId: 'etl', runId: 'r'.repeat(300), taskId: 'extract', mapIndex: 4 }, tryNumber: 2 };

  it('carries the owner try in tags (split past 256 characters) and the SDK\'s field names', () => {
    const tags = ownerTags(owner);
    expect(Object.keys(tags).length).toBeGreaterThan(1);
    for (const v of Object.values(tags)) expect(v.length).toBeLessThanOrEqual(256);
    expect(ownerFromTags(tags)).toStrictEqual(owner);
    expect(ownerFromTags({ other: 'x' })).toBeNull();
    expect(submitJobInput(job, owner)).toMatchObject({
      jobName: 'etl-extract-r1-try1',
      jobQueue: 'q',
      jobDefinition: 'jd:2',
      containerOverrides: { resourceRequirements: [{ type: 'VCPU', value: '2' }], command: ['run', '--fast'], environment: [{ name: 'A', value: '1' }] },
    });
    expect(() => submitJobInput({ ...job, jobQueue: null }, owner)).toThrow(/needs a jobQueue/);
  });

  it('submits once per owner try (a resubmission finds the job), and describes up to 100 jobs in one call', async () => {
    const client = new BatchClient({ region: 'eu-west-1', credentials });
    const submitted: { jobId: string; jobName: string; tags: Record<string, string> }[] = [];
    const send = vi.spyOn(client, 'send').mockImplementation((async (command: unknown) => {
      if (command instanceof ListJobsCommand) return { jobSummaryList: submitted.map((j) => ({ jobId: j.jobId, jobName: j.jobName })) };
      if (command instanceof SubmitJobCommand) {
        const j = { jobId: `id-${submitted.length + 1}`, jobName: command.input.jobName!, tags: command.input.tags! };
        submitted.push(j);
        return { jobId: j.jobId };
      }
      if (command instanceof DescribeJobsCommand) {
        return { jobs: submitted.filter((j) => command.input.jobs!.includes(j.jobId)).map((j) => ({ ...j, status: 'FAILED', statusReason: 'Essential container exited', container: { exitCode: 3 } })) };
      }
      throw new Error('unexpected');
    }) as never);
    const onSubmitted = vi.fn(async () => undefined);
    const backend = new AwsBatchBackend({ client, onSubmitted });
    expect(await backend.submit(job, owner)).toBe('id-1');
    expect(await backend.submit(job, owner)).toBe('id-1');
    expect(await backend.submit(job, { ...owner, tryNumber: 3 })).toBe('id-2');
    expect(onSubmitted.mock.calls).toEqual([['id-1'], ['id-1'], ['id-2']]);
    expect(await backend.describe('id-2')).toStrictEqual({
      jobId: 'id-2',
      jobName: 'etl-extract-r1-try1',
      status: 'FAILED',
      exitCode: 3,
      reason: 'Essential container exited',
      childExitCodes: null,
      output: '',
    });
    send.mockClear();
    const many = await backend.describeJobs(Array.from({ length: 100 }, (_, i) => `id-${i + 1}`));
    expect(send).toHaveBeenCalledTimes(1);
    expect([...many.keys()]).toEqual(['id-1', 'id-2']);
    await expect(backend.describeJobs(Array.from({ length: 101 }, (_, i) => `x${i}`))).rejects.toThrow(/at most 100/);
  });
});

describe('the trigger function\'s core (handleTriggerEvent)', () => {
  const noDispatch: Dispatcher = { startLifecycle: async () => undefined, startTimer: async () => undefined, startArrayWaves: async () => undefined };
  const services = (d: Dag) => ({
    store: new MemoryStateStore(),
    dags: { getDag: (id: string) => (id === d.dagId ? d : undefined) },
    dispatcher: noDispatch,
    batch: new LocalBatch({ now: Date.now, setTimer: () => undefined, onDone: () => undefined }),
  });

  it('aligns a rate schedule\'s fire time to the DAG\'s grid from its startDate, and catches up on it', async () => {
    const d = dag({ dagId: 'every_quarter', schedule: 'rate(15 minutes)', startDate: '2026-01-01T00:05:00Z', endDate: '2026-01-02T00:00:00Z', catchup: true }, ({ task }) => {
      task('t', () => 1);
    });
    const svc = services(d);
    const first = await handleTriggerEvent({ dagId: 'every_quarter', logicalDate: '2026-01-01T00:37:42Z', runType: 'scheduled' }, svc);
    expect(first.runs.map((r) => r.logicalDate)).toEqual(['2026-01-01T00:05:00.000Z', '2026-01-01T00:20:00.000Z', '2026-01-01T00:35:00.000Z']);
    const next = await handleTriggerEvent({ dagId: 'every_quarter', logicalDate: '2026-01-01T00:51:03Z', runType: 'scheduled' }, svc);
    expect(next.runs.map((r) => r.runId)).toEqual(['scheduled__2026-01-01T00:50:00.000Z']);
    const late = await handleTriggerEvent({ dagId: 'every_quarter', logicalDate: '2026-01-02T00:20:00Z', runType: 'scheduled' }, svc);
    expect(late).toMatchObject({ runs: [], skipped: expect.stringMatching(/after the DAG's endDate/) });
  });

  it('honours the paused flag: a paused DAG gets no scheduled run; unpaused, it does; the registry keeps the version', async () => {
    const d = dag({ dagId: 'pausable', schedule: '@hourly', startDate: '2026-01-01T00:00:00Z' }, ({ task }) => {
      task('t', () => 1);
    });
    const svc = services(d);
    await svc.store.setDagPaused('pausable', true, '2026-01-01T00:00:00.000Z');
    const paused = await handleTriggerEvent({ dagId: 'pausable', logicalDate: '2026-01-01T01:00:00Z', runType: 'scheduled' }, svc);
    expect(paused).toEqual({ runs: [], skipped: "DAG 'pausable' is paused" });
    expect(await svc.store.listRuns({ dagId: 'pausable' })).toEqual([]);
    await svc.store.setDagPaused('pausable', false, '2026-01-01T01:30:00.000Z');
    const resumed = await handleTriggerEvent({ dagId: 'pausable', logicalDate: '2026-01-01T02:00:00Z', runType: 'scheduled' }, svc);
    expect(resumed.runs.map((r) => r.runId)).toEqual(['scheduled__2026-01-01T02:00:00.000Z']);
    expect(await svc.store.getDagRecord('pausable')).toMatchObject({ paused: false, version: d.spec.version });
  });

  it('without catchup creates only the run of the time it fired; a manual event is a manual run', async () => {
    const d = dag({ dagId: 'hourly', schedule: '@hourly', startDate: '2026-01-01T00:00:00Z' }, ({ task }) => {
      task('t', () => 1);
    });
    const svc = services(d);
    const out = await handleTriggerEvent({ dagId: 'hourly', logicalDate: '2026-01-03T05:00:00Z', runType: 'scheduled' }, svc);
    expect(out.runs.map((r) => r.runId)).toEqual(['scheduled__2026-01-03T05:00:00.000Z']);
    const manual = await handleTriggerEvent({ dagId: 'hourly', runId: 'by-hand', conf: {} }, svc);
    expect(manual.runs.map((r) => [r.runId, r.runType])).toEqual([['by-hand', 'manual']]);
    await expect(handleTriggerEvent({ dagId: 'nope', runType: 'scheduled' }, svc)).rejects.toThrow(/no DAG 'nope'/);
  });
});
