// The compiler's Distributed Maps: the batch_array machine, a mapped Batch task's array fan-out (one
// child execution per group of up to 10,000 map indexes, running its waves: `.sync` or polled), shared
// by every such task (its groups at once are the execution's `settings.maxConcurrency`), and the
// Distributed Map fields of the iterate machine. The full expected definitions are written out here,
// not derived from the compiler; asl-validator checks them; the fan-out's wave loop runs on
// aws-local-stepfunctions.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { StateMachine, type StateMachineDefinition as LocalDefinition } from 'aws-local-stepfunctions';
import { dag } from '../lib/index.ts';
import { taskSpec } from './support/task-spec.ts';
import {
  compileDag,
  compileLifecycleMachine,
  estimateHistoryEvents,
  lifecycleOf,
  lifecycleSettings,
  taskLifecycle,
  withPartition,
  type ArrayFanoutInput,
  type CompileOptions,
  type StateMachineDefinition,
} from '../lib/compiler/index.ts';

type AslValidator = (definition: unknown) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

/** asl-validator's verdict, with its errors when invalid (it mutates what it is given: pass a copy). */
function validate(definition: unknown): string {
  const r = aslValidator(structuredClone(definition));
  return r.isValid ? 'valid' : `invalid:\n${r.errorsText('\n')}`;
}

const RUNNER = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-task-runner';
const SCHEDULER = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-scheduler';
const POKE = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-sensor-poke';
const OPTIONS: CompileOptions = { taskRunnerArn: RUNNER, schedulerArn: SCHEDULER, sensorPokeArn: POKE };

/** A mapped Batch task submitted as array jobs (`batch.array`, the default of `batchJob().expand()`). */
const arrayTask = taskSpec({
  taskId: 'reduce_tiles',
  kind: 'batch',
  retries: 1,
  executionTimeoutMs: 3_600_000,
  mapping: { mode: 'kwargs', source: { $xcom: { taskId: 'plan', key: 'return_value' } }, partial: null },
  batch: {
    jobName: null,
    jobQueue: 'survey-spot',
    jobDefinition: 'reduce-tile:3',
    command: null,
    environment: null,
    containerOverrides: null,
    arraySize: null,
    array: true,
    runnableTimeoutMs: null,
    local: { mode: 'process' },
  },
});

// ---------------------------------------------------------------------------------------------------
// Expected ASL, written out. The integrations' ARNs hold the `${Partition}` substitution.

const LAMBDA_INVOKE = 'arn:${Partition}:states:::lambda:invoke';

const LAMBDA_SERVICE_RETRY = {
  ErrorEquals: [
    'Lambda.ClientExecutionTimeoutException',
    'Lambda.ServiceException',
    'Lambda.AWSLambdaException',
    'Lambda.SdkClientException',
    'Lambda.TooManyRequestsException',
  ],
  IntervalSeconds: 2,
  MaxAttempts: 6,
  BackoffRate: 2,
  JitterStrategy: 'FULL',
};

const HANDLER_RETRY = { ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' };

/** Batch throttled SubmitJob: the job was not created, so submitting again is safe. */
const BATCH_THROTTLING_RETRY = {
  ErrorEquals: ['Batch.TooManyRequestsException', 'Batch.AWSBatchException'],
  IntervalSeconds: 5,
  MaxAttempts: 8,
  BackoffRate: 2,
  MaxDelaySeconds: 120,
  JitterStrategy: 'FULL',
};

/** A wave step's error goes to the scheduler as the wave's job. */
const CATCH_TO_REPORT = { ErrorEquals: ['States.ALL'], ResultPath: '$.job', Next: 'Report' };

/** The shared scheduler loop, with the array report and a child output of `$.array` only. */
function waveLoop() {
  return {
    Report: {
      Type: 'Task',
      Comment: 'Tell the scheduler how the wave ended; it settles each child and replies what to do next',
      Resource: LAMBDA_INVOKE,
      Parameters: {
        FunctionName: SCHEDULER,
        Payload: { type: 'array_finished', 'array.$': '$.array', 'tryNumber.$': '$.tryNumber', 'job.$': '$.job' },
      },
      ResultSelector: { 'next.$': '$.Payload' },
      ResultPath: '$.scheduler',
      Retry: [LAMBDA_SERVICE_RETRY, HANDLER_RETRY],
      Next: 'Decide',
    },
    Decide: {
      Type: 'Choice',
      Comment: "Carry out the scheduler's reply",
      Choices: [
        { Variable: '$.scheduler.next.action', StringEquals: 'run', Next: 'NextTry' },
        { Variable: '$.scheduler.next.action', StringEquals: 'wait', Next: 'WaitUntil' },
        { Variable: '$.scheduler.next.action', StringEquals: 'done', Next: 'Done' },
      ],
      Default: 'UnknownAction',
    },
    NextTry: {
      Type: 'Pass',
      Comment: 'Run the try the scheduler named',
      InputPath: '$.scheduler.next.tryNumber',
      ResultPath: '$.tryNumber',
      Next: 'Prepare',
    },
    WaitUntil: { Type: 'Wait', Comment: 'Wait until the time the scheduler computed', TimestampPath: '$.scheduler.next.at', Next: 'Timer' },
    Timer: {
      Type: 'Task',
      Comment: 'The time has come: hand the event back to the scheduler',
      Resource: LAMBDA_INVOKE,
      Parameters: { FunctionName: SCHEDULER, Payload: { type: 'timer', 'event.$': '$.scheduler.next.event' } },
      ResultSelector: { 'next.$': '$.Payload' },
      ResultPath: '$.scheduler',
      Retry: [LAMBDA_SERVICE_RETRY, HANDLER_RETRY],
      Next: 'Decide',
    },
    Done: { Type: 'Succeed', OutputPath: '$.array' },
    UnknownAction: { Type: 'Fail', Error: 'AirlessContractError', Cause: "the scheduler's reply has no action run, wait or done" },
  };
}

/** Prepare, CheckPrepared, NoJob: the opening of every wave, in both watch modes. */
const WAVE_OPENING = {
  Prepare: {
    Type: 'Task',
    Comment: "List the wave's instances and the array job to submit for them",
    Resource: LAMBDA_INVOKE,
    Parameters: { FunctionName: RUNNER, Payload: { mode: 'array_prepare', 'array.$': '$.array', 'tryNumber.$': '$.tryNumber' } },
    ResultSelector: { 'submit.$': '$.Payload.submit', 'size.$': '$.Payload.size' },
    ResultPath: '$.wave',
    Retry: [LAMBDA_SERVICE_RETRY, HANDLER_RETRY],
    Catch: [CATCH_TO_REPORT],
    Next: 'CheckPrepared',
  },
  CheckPrepared: {
    Type: 'Choice',
    Comment: 'Nothing to submit: report the wave without a job',
    Choices: [{ Variable: '$.wave.submit', IsNull: true, Next: 'NoJob' }],
    Default: 'Submit',
  },
  NoJob: { Type: 'Pass', Comment: 'The wave had no job: report null', InputPath: '$.wave.submit', ResultPath: '$.job', Next: 'Report' },
};

/** The fan-out around a wave loop: its groups at once are the execution's settings, not the task's spec. */
function fanout(waveStates: Record<string, unknown>) {
  return {
    Comment: 'airless Batch array lifecycle: a Distributed Map over the groups of a mapped Batch task, each running its waves',
    StartAt: 'Groups',
    States: {
      Groups: {
        Type: 'Map',
        Comment: 'One child execution per group of up to 10,000 map indexes: its waves, one Batch array job each',
        ItemsPath: '$.waves',
        MaxConcurrencyPath: '$.settings.maxConcurrency',
        ToleratedFailurePercentage: 0,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
          StartAt: 'Prepare',
          States: waveStates,
        },
        ResultPath: null,
        End: true,
      },
    },
  };
}

const FANOUT_SYNC_EXPECTED = fanout({
  ...WAVE_OPENING,
  Submit: {
    Type: 'Task',
    Comment: 'Submit the array job and wait for it to end',
    Resource: 'arn:${Partition}:states:::batch:submitJob.sync',
    Parameters: {
      'JobName.$': '$.wave.submit.JobName',
      'JobQueue.$': '$.wave.submit.JobQueue',
      'JobDefinition.$': '$.wave.submit.JobDefinition',
      'ContainerOverrides.$': '$.wave.submit.ContainerOverrides',
      'ArrayProperties.$': '$.wave.submit.ArrayProperties',
      'Timeout.$': '$.wave.submit.Timeout',
    },
    ResultPath: '$.job',
    Retry: [BATCH_THROTTLING_RETRY],
    Catch: [CATCH_TO_REPORT],
    Next: 'Report',
  },
  ...waveLoop(),
});

/** Poll mode, `seconds` between two DescribeJobs calls. */
function fanoutPollExpected(seconds: number) {
  return fanout({
    ...WAVE_OPENING,
    Submit: {
      Type: 'Task',
      Comment: 'Submit the array job (once per wave)',
      Resource: LAMBDA_INVOKE,
      Parameters: {
        FunctionName: RUNNER,
        Payload: { mode: 'array_submit', 'array.$': '$.array', 'tryNumber.$': '$.tryNumber', 'submit.$': '$.wave.submit' },
      },
      ResultSelector: { 'jobId.$': '$.Payload.jobId' },
      ResultPath: '$.submitted',
      Retry: [LAMBDA_SERVICE_RETRY, HANDLER_RETRY],
      Catch: [CATCH_TO_REPORT],
      Next: 'WaitPoll',
    },
    WaitPoll: { Type: 'Wait', Comment: 'Wait before asking Batch again', Seconds: seconds, Next: 'Poll' },
    Poll: {
      Type: 'Task',
      Comment: "One DescribeJobs call for the array's parent job",
      Resource: LAMBDA_INVOKE,
      Parameters: {
        FunctionName: RUNNER,
        Payload: { mode: 'array_poll', 'array.$': '$.array', 'tryNumber.$': '$.tryNumber', 'jobId.$': '$.submitted.jobId' },
      },
      ResultSelector: { 'done.$': '$.Payload.done', 'job.$': '$.Payload.job' },
      ResultPath: '$.poll',
      Retry: [LAMBDA_SERVICE_RETRY, HANDLER_RETRY],
      Catch: [CATCH_TO_REPORT],
      Next: 'PollDone',
    },
    PollDone: {
      Type: 'Choice',
      Comment: 'The array job has ended: report it; else poll again',
      Choices: [{ Variable: '$.poll.done', BooleanEquals: true, Next: 'Polled' }],
      Default: 'WaitPoll',
    },
    Polled: { Type: 'Pass', Comment: 'The job as .sync would have given it', InputPath: '$.poll.job', ResultPath: '$.job', Next: 'Report' },
    ...waveLoop(),
  });
}

// ---------------------------------------------------------------------------------------------------

describe('the batch_array machine: a Distributed Map over the groups of a mapped Batch task', () => {
  it('sync: each group Prepare → CheckPrepared → Submit (.sync, the job\'s Timeout from the wave) → Report and the loop; groups at once from the settings', () => {
    const c = compileLifecycleMachine('batch_array', OPTIONS);
    expect(c.definition).toStrictEqual(FANOUT_SYNC_EXPECTED);
    // The same text, not only the same content: a stable key order.
    expect(JSON.stringify(c.definition)).toBe(JSON.stringify(FANOUT_SYNC_EXPECTED));
    expect(c.workflowType).toStrictEqual({ type: 'STANDARD', reason: 'array jobs are waited for with .sync or polled, for hours' });
    expect(compileLifecycleMachine('batch_array', { ...OPTIONS, batchWatch: 'sync' }).definition).toStrictEqual(FANOUT_SYNC_EXPECTED);
    expect(validate(withPartition(c.definition))).toBe('valid');
  });

  it('poll: the task runner submits once, then one DescribeJobs of the array per interval until it has ended', () => {
    const c = compileLifecycleMachine('batch_array', { ...OPTIONS, batchWatch: 'poll', batchWatchIntervalSeconds: 45 });
    expect(c.definition).toStrictEqual(fanoutPollExpected(45));
    expect(JSON.stringify(c.definition)).toBe(JSON.stringify(fanoutPollExpected(45)));
    expect(validate(withPartition(c.definition))).toBe('valid');
  });

  it('poll: WaitPoll waits the default 30 s without the option; an interval that is not a whole number of seconds from 1 to 86,400 is refused', () => {
    expect(compileLifecycleMachine('batch_array', { ...OPTIONS, batchWatch: 'poll' }).definition).toStrictEqual(fanoutPollExpected(30));
    expect(compileLifecycleMachine('batch_array', { ...OPTIONS, batchWatch: 'poll', batchWatchIntervalSeconds: 1 }).definition).toStrictEqual(fanoutPollExpected(1));
    expect(compileLifecycleMachine('batch_array', { ...OPTIONS, batchWatch: 'poll', batchWatchIntervalSeconds: 86_400 }).definition).toStrictEqual(fanoutPollExpected(86_400));
    // Sync mode has no WaitPoll: the interval changes nothing.
    expect(compileLifecycleMachine('batch_array', { ...OPTIONS, batchWatchIntervalSeconds: 45 }).definition).toStrictEqual(FANOUT_SYNC_EXPECTED);
    for (const bad of [0, 1.5, 86_401, Number.NaN]) {
      expect(() => compileLifecycleMachine('batch_array', { ...OPTIONS, batchWatch: 'poll', batchWatchIntervalSeconds: bad })).toThrowError(
        new RegExp(`^option 'batchWatchIntervalSeconds' must be a whole number of seconds from 1 to 86400, got ${bad}$`),
      );
    }
  });

  it('the task\'s groups at once reach the execution as settings.maxConcurrency: maxActiveTisPerDag (a wave holds one unit), at most 10,000; else 0 (unbounded)', () => {
    const max = (m: number | null) => taskLifecycle({ ...arrayTask, maxActiveTisPerDag: m }).settings.maxConcurrency;
    expect(max(null)).toBe(0);
    expect(max(1)).toBe(1);
    expect(max(16)).toBe(16);
    expect(max(50_000)).toBe(10_000);
    expect(taskLifecycle({ ...arrayTask, maxActiveTisPerDag: 16 }).settings).toStrictEqual({ concurrency: 0, itemRetries: 0, itemRetryDelays: [], maxConcurrency: 16 });
  });

  it('lifecycleOf: batch_array for a mapped array task in both watch modes; a plain or unmapped Batch task keeps its lifecycle', () => {
    expect(lifecycleOf(arrayTask)).toBe('batch_array');
    expect(lifecycleOf(arrayTask, { batchWatch: 'poll' })).toBe('batch_array');
    const perInstance = { ...arrayTask, batch: { ...arrayTask.batch, array: false } };
    expect(lifecycleOf(perInstance)).toBe('batch');
    expect(lifecycleOf(perInstance, { batchWatch: 'poll' })).toBe('batch_poll');
    expect(lifecycleOf({ ...arrayTask, mapping: null })).toBe('batch');
  });

  it('a DAG whose mapped batchJob has array: false runs each map index on the machine an unmapped Batch task gets (one job each)', () => {
    const d = dag({ dagId: 'array_off' }, ({ task, batchJob }) => {
      const inputs = task('plan', () => [{ command: ['run', '0'] }, { command: ['run', '1'] }]);
      batchJob('run_job', { jobQueue: 'q', jobDefinition: 'd:1', array: false, maxActiveTisPerDag: 3 }).expandKwargs(inputs);
      batchJob('run_arrays', { jobQueue: 'q', jobDefinition: 'd:1', maxActiveTisPerDag: 3 }).expandKwargs(inputs);
    });
    for (const batchWatch of ['sync', 'poll'] as const) {
      const compiled = compileDag(d.spec, { batchWatch });
      expect(compiled.map((c) => [c.taskId, c.lifecycle, c.machine])).toStrictEqual([
        ['plan', 'lambda', 'try'],
        ['run_job', batchWatch === 'sync' ? 'batch' : 'batch_poll', batchWatch === 'sync' ? 'batch' : 'try'],
        ['run_arrays', 'batch_array', 'batch_array'],
      ]);
      const unmapped = taskLifecycle({ ...d.task('run_job'), mapping: null }, { batchWatch });
      expect(compiled[1]?.machine).toBe(unmapped.machine);
      expect(compiled[2]?.settings.maxConcurrency).toBe(3);
    }
  });

  it('history: a group child execution holds 24 events and 31 per wave after a retry delay', () => {
    expect(estimateHistoryEvents('batch_array')).toBe(24);
    expect(estimateHistoryEvents('batch_array', { loops: 1 })).toBe(55);
  });
});

describe('asl-validator on the Distributed Map fields', () => {
  it('rejects what Step Functions would (so that "valid" means something)', () => {
    const fan = withPartition(compileLifecycleMachine('batch_array', OPTIONS).definition);
    const groups = fan.States['Groups'] as unknown as Record<string, unknown>;
    const broken = (patch: Record<string, unknown>) => ({ ...fan, States: { Groups: { ...groups, ...patch } } });
    expect(validate(fan)).toBe('valid');
    expect(validate(broken({ ToleratedFailurePercentage: 101 }))).toMatch(/^invalid:/);
    expect(validate(broken({ ItemProcessor: { ...(groups['ItemProcessor'] as object), ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'SOMETIMES' } } }))).toMatch(/^invalid:/);
    expect(validate(broken({ MaxConcurrency: 4 }))).toMatch(/^invalid:/);
    const it3 = withPartition(compileLifecycleMachine('iterate', OPTIONS).definition);
    const fromS3 = it3.States['ItemsFromS3'] as unknown as Record<string, unknown>;
    const { Resource: _r, ...readerWithoutResource } = fromS3['ItemReader'] as Record<string, unknown>;
    const { Resource: _w, ...writerWithoutResource } = fromS3['ResultWriter'] as Record<string, unknown>;
    expect(validate(it3)).toBe('valid');
    expect(validate({ ...it3, States: { ...it3.States, ItemsFromS3: { ...fromS3, ItemReader: readerWithoutResource } } })).toMatch(/^invalid:/);
    expect(validate({ ...it3, States: { ...it3.States, ItemsFromS3: { ...fromS3, ResultWriter: writerWithoutResource } } })).toMatch(/^invalid:/);
  });
});

// ---------------------------------------------------------------------------------------------------
// The fan-out on aws-local-stepfunctions (which runs a Distributed Map's children inline): its Task
// states call local functions that answer as the handlers would.

type Handler = (input: any) => unknown;

async function runLocally(definition: StateMachineDefinition, input: unknown, handlers: Record<string, Handler>) {
  const calls: { state: string; payload: any }[] = [];
  const local: Record<string, (input: any) => Promise<any>> = {};
  for (const [state, h] of Object.entries(handlers)) {
    local[state] = async (i: any) => {
      calls.push({ state, payload: i.Payload ?? i });
      return h(i.Payload ?? i);
    };
  }
  const sm = new StateMachine(withPartition(definition) as unknown as LocalDefinition, { validationOptions: { checkArn: false } });
  const ex = sm.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: local,
      waitTimeOverrides: { WaitUntil: 0, WaitPoll: 0 },
      retryIntervalOverrides: { Prepare: 0, Submit: 0, Poll: 0, Report: 0, Timer: 0 },
    },
  });
  const path: string[] = [];
  const events = (async () => {
    for await (const e of ex.eventLogs) if (e.type === 'StateEntered') path.push(e.index === undefined ? e.state.name : `${e.state.name}#${e.index}`);
  })();
  const output = await ex.result;
  await events;
  return { output, path, calls };
}

const RUN = 'manual__2026-01-01T00:00:00+00:00';
const group = (g: number) => ({ dagId: 'survey', runId: RUN, taskId: 'reduce_tiles', group: g });
const SUBMIT = { JobName: 'job', JobQueue: 'survey-spot', JobDefinition: 'reduce-tile:3', ContainerOverrides: {}, ArrayProperties: { Size: 3 }, Timeout: { AttemptDurationSeconds: 3600 } };

/** The fan-out's input as the dispatcher starts it: the waves, and the task's settings. */
function fanoutInput(groups: number, maxActiveTisPerDag: number | null = null): ArrayFanoutInput {
  return {
    waves: Array.from({ length: groups }, (_, g) => ({ array: group(g), dagId: 'survey', tryNumber: 1 })),
    settings: lifecycleSettings({ ...arrayTask, maxActiveTisPerDag }),
  };
}

describe('the fan-out runs on aws-local-stepfunctions', () => {
  it('sync: each group submits its array; a throttled submission is retried; a failed job is reported and its retry wave runs', async () => {
    const { definition } = compileLifecycleMachine('batch_array', OPTIONS);
    const input = fanoutInput(2);
    const submits: string[] = [];
    const run = await runLocally(definition, input, {
      // Group 1's second wave finds nothing left to submit (a replay): it reports job null.
      Prepare: (p) => ({ Payload: p.array.group === 1 && p.tryNumber === 2 ? { submit: null, size: 0 } : { submit: { ...SUBMIT, JobName: `g${p.array.group}-try${p.tryNumber}` }, size: 3 } }),
      Submit: (p) => {
        submits.push(p.JobName);
        if (p.JobName === 'g0-try1' && submits.filter((n) => n === 'g0-try1').length === 1) {
          throw Object.assign(new Error('Too Many Requests (Service: AWSBatch; Status Code: 429; Error Code: TooManyRequestsException)'), { name: 'Batch.AWSBatchException' });
        }
        if (p.JobName === 'g1-try1') throw Object.assign(new Error(JSON.stringify({ JobId: 'j-g1', JobName: p.JobName, Status: 'FAILED' })), { name: 'States.TaskFailed' });
        return { JobId: `j-${p.JobName}`, JobName: p.JobName, Status: 'SUCCEEDED' };
      },
      Report: (p) =>
        p.job !== null && 'Error' in p.job
          ? { Payload: { action: 'wait', at: '2026-01-01T00:05:00Z', event: { type: 'array_retry', array: p.array, tryNumber: p.tryNumber } } }
          : { Payload: { action: 'done' } },
      Timer: (p) => ({ Payload: { action: 'run', tryNumber: p.event.tryNumber + 1 } }),
    });
    // Each child's output is its group (Done's OutputPath); the Map's result is dropped (ResultPath null).
    expect(run.output).toStrictEqual(input);
    expect(submits.sort()).toStrictEqual(['g0-try1', 'g0-try1', 'g1-try1']);
    // The job's Timeout, from the wave, is submitted with it.
    expect(run.calls.find((c) => c.state === 'Submit')?.payload).toMatchObject({ Timeout: { AttemptDurationSeconds: 3600 } });
    const reports = run.calls.filter((c) => c.state === 'Report').map((c) => c.payload);
    expect(reports).toHaveLength(3);
    expect(reports).toContainEqual({ type: 'array_finished', array: group(0), tryNumber: 1, job: { JobId: 'j-g0-try1', JobName: 'g0-try1', Status: 'SUCCEEDED' } });
    expect(reports).toContainEqual({
      type: 'array_finished',
      array: group(1),
      tryNumber: 1,
      job: { Error: 'States.TaskFailed', Cause: JSON.stringify({ JobId: 'j-g1', JobName: 'g1-try1', Status: 'FAILED' }) },
    });
    expect(reports).toContainEqual({ type: 'array_finished', array: group(1), tryNumber: 2, job: null });
    const prepares = run.calls.filter((c) => c.state === 'Prepare').map((c) => c.payload);
    expect(prepares).toContainEqual({ mode: 'array_prepare', array: group(1), tryNumber: 2 });
    // Group 1: a wave, the retry delay, then a wave with nothing to submit.
    const g1 = run.path.filter((s) => s.endsWith('#1')).map((s) => s.slice(0, -2));
    expect(g1).toStrictEqual([
      'Prepare', 'CheckPrepared', 'Submit', 'Report', 'Decide', 'WaitUntil', 'Timer', 'Decide', 'NextTry',
      'Prepare', 'CheckPrepared', 'NoJob', 'Report', 'Decide', 'Done',
    ]);
  });

  it('poll: submit once, poll until done, report the job as .sync would have; a failed Prepare is reported, not fatal', async () => {
    const { definition } = compileLifecycleMachine('batch_array', { ...OPTIONS, batchWatch: 'poll' });
    const input = fanoutInput(2);
    let polls = 0;
    const run = await runLocally(definition, input, {
      Prepare: (p) => {
        if (p.array.group === 1) throw Object.assign(new Error('ProvisionedThroughputExceededException'), { name: 'Error' });
        return { Payload: { submit: SUBMIT, size: 3 } };
      },
      Submit: (p) => ({ Payload: { jobId: `job-${p.array.group}-${p.tryNumber}` } }),
      Poll: (p) => (++polls < 3 ? { Payload: { done: false, job: null } } : { Payload: { done: true, job: { JobId: p.jobId, JobName: 'job', Status: 'SUCCEEDED' } } }),
      Report: () => ({ Payload: { action: 'done' } }),
    });
    expect(run.output).toStrictEqual(input);
    expect(run.path.filter((s) => s.endsWith('#0')).map((s) => s.slice(0, -2))).toStrictEqual([
      'Prepare', 'CheckPrepared', 'Submit', 'WaitPoll', 'Poll', 'PollDone', 'WaitPoll', 'Poll', 'PollDone', 'WaitPoll', 'Poll', 'PollDone', 'Polled', 'Report', 'Decide', 'Done',
    ]);
    const submit = run.calls.find((c) => c.state === 'Submit')?.payload;
    expect(submit).toStrictEqual({ mode: 'array_submit', array: group(0), tryNumber: 1, submit: SUBMIT });
    expect(run.calls.filter((c) => c.state === 'Poll').map((c) => c.payload)).toStrictEqual(
      Array.from({ length: 3 }, () => ({ mode: 'array_poll', array: group(0), tryNumber: 1, jobId: 'job-0-1' })),
    );
    const reports = run.calls.filter((c) => c.state === 'Report').map((c) => c.payload);
    expect(reports).toContainEqual({ type: 'array_finished', array: group(0), tryNumber: 1, job: { JobId: 'job-0-1', JobName: 'job', Status: 'SUCCEEDED' } });
    // Prepare's error (after its retries) is the wave's job: the scheduler decides.
    expect(reports).toContainEqual({ type: 'array_finished', array: group(1), tryNumber: 1, job: { Error: 'Error', Cause: 'ProvisionedThroughputExceededException' } });
  });

  it("MaxConcurrencyPath: at most the settings' maxConcurrency groups at once (0: all of them)", async () => {
    const { definition } = compileLifecycleMachine('batch_array', OPTIONS);
    const widest = async (maxActiveTisPerDag: number | null) => {
      let running = 0;
      let most = 0;
      await runLocally(definition, fanoutInput(4, maxActiveTisPerDag), {
        Prepare: async () => {
          most = Math.max(most, ++running);
          // Let the other groups start while this one prepares.
          await new Promise((resolve) => setTimeout(resolve, 100));
          running--;
          return { Payload: { submit: null, size: 0 } };
        },
        Report: () => ({ Payload: { action: 'done' } }),
      });
      return most;
    };
    expect(await widest(1)).toBe(1);
    expect(await widest(3)).toBe(3);
    expect(await widest(null)).toBe(4);
  });

  it('an unknown action fails the child, and so the fan-out (no tolerated failure)', async () => {
    const { definition } = compileLifecycleMachine('batch_array', OPTIONS);
    await expect(
      runLocally(definition, fanoutInput(2), {
        Prepare: () => ({ Payload: { submit: null, size: 0 } }),
        Report: (p) => ({ Payload: p.array.group === 1 ? { action: 'dance' } : { action: 'done' } }),
      }),
    ).rejects.toThrow();
  });
});
