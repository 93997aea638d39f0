// The compiler from task specs to Amazon States Language: the full expected definition of every
// lifecycle kind (written out here, not derived from the compiler), the Standard/Express choice, the
// graph builder's errors, asl-validator on every compiled definition (every task of every DAG in dags/),
// and compiled lifecycles run on aws-local-stepfunctions with their Task states overridden by local
// functions that play the task runner and the scheduler.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { StateMachine, type StateMachineDefinition as LocalDefinition } from 'aws-local-stepfunctions';
import type { DagSpec, TaskSpec } from '../lib/model/spec.ts';
import { taskSpec } from './support/task-spec.ts';
import {
  aslTimestamp,
  batchJobDetail,
  chooseWorkflowType,
  compileBatchWatcher,
  compileDag,
  compileTaskLifecycle,
  estimateHistoryEvents,
  lifecycleOf,
  StateGraph,
  type CompileOptions,
  type StateMachineDefinition,
} from '../lib/compiler/index.ts';
import { batchFanout } from '../dags/batch_fanout.ts';
import { branchingJoin } from '../dags/branching_join.ts';
import { exampleWorkflow } from '../dags/example_workflow.ts';
import { iterationVsMapping } from '../dags/iteration_vs_mapping.ts';
import { solver } from '../dags/solver.ts';
import { stageCalibration } from '../dags/stage_calibration.ts';
import { stageImaging } from '../dags/stage_imaging.ts';
import { stageImportPrep } from '../dags/stage_import_prep.ts';

// asl-validator is CommonJS without types: `validator(definition) → {isValid, errors, errorsText}`.
type AslValidator = (definition: unknown) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

/** asl-validator's verdict, with its errors when invalid (it mutates what it is given: pass a copy). */
function validate(definition: StateMachineDefinition): string {
  const r = aslValidator(structuredClone(definition));
  return r.isValid ? 'valid' : `invalid:\n${r.errorsText('\n')}`;
}

const RUNNER = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-task-runner';
const SCHEDULER = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-scheduler';
const POKE = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-sensor-poke';
const DESCRIBE = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-describe-jobs';
const OPTIONS: CompileOptions = { taskRunnerArn: RUNNER, schedulerArn: SCHEDULER, sensorPokeArn: POKE };

// ---------------------------------------------------------------------------------------------------
// Expected ASL, written out.

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

const TRY_FAILED = {
  Type: 'Pass',
  Comment: 'The invocation failed: the try failed with "<Error>: <Cause>"',
  Parameters: { result: { kind: 'failure', 'error.$': "States.Format('{}: {}', $.error.Error, $.error.Cause)", retriable: true } },
  ResultPath: '$.try',
  Next: 'Report',
};

const CATCH_ALL_TO_TRY_FAILED = { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'TryFailed' };

/** Report, Decide and what carries out the reply; `run` goes to `runState`. */
function schedulerLoop(runState: string) {
  return {
    Report: {
      Type: 'Task',
      Comment: 'Tell the scheduler how the try ended; it replies what to do next',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: SCHEDULER,
        Payload: { type: 'try_finished', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'result.$': '$.try.result' },
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
      Next: runState,
    },
    WaitUntil: {
      Type: 'Wait',
      Comment: 'Wait until the time the scheduler computed',
      TimestampPath: '$.scheduler.next.at',
      Next: 'Timer',
    },
    Timer: {
      Type: 'Task',
      Comment: 'The time has come: hand the event back to the scheduler',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: SCHEDULER, Payload: { type: 'timer', 'event.$': '$.scheduler.next.event' } },
      ResultSelector: { 'next.$': '$.Payload' },
      ResultPath: '$.scheduler',
      Retry: [LAMBDA_SERVICE_RETRY, HANDLER_RETRY],
      Next: 'Decide',
    },
    Done: { Type: 'Succeed' },
    UnknownAction: { Type: 'Fail', Error: 'AirlessContractError', Cause: "the scheduler's reply has no action run, wait or done" },
  };
}

const LAMBDA_EXPECTED = {
  Comment: "airless task 'extract' (task): lambda lifecycle",
  StartAt: 'RunTry',
  States: {
    RunTry: {
      Type: 'Task',
      Comment: 'Run one try of the task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'run', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
      TimeoutSeconds: 30,
      ResultSelector: { 'result.$': '$.Payload' },
      ResultPath: '$.try',
      Retry: [LAMBDA_SERVICE_RETRY],
      Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'TryTimedOut' }, CATCH_ALL_TO_TRY_FAILED],
      Next: 'Report',
    },
    TryFailed: TRY_FAILED,
    TryTimedOut: {
      Type: 'Pass',
      Comment: 'TimeoutSeconds elapsed: the try failed with a TaskTimeoutError',
      Parameters: {
        result: { kind: 'failure', error: 'TaskTimeoutError: execution timeout: the try ran longer than 30 s (States.Timeout)', retriable: true },
      },
      ResultPath: '$.try',
      Next: 'Report',
    },
    ...schedulerLoop('RunTry'),
  },
};

const SENSOR_EXPECTED = {
  Comment: "airless task 'wait_for_file' (sensor): sensor lifecycle",
  StartAt: 'RunTry',
  States: {
    RunTry: {
      Type: 'Task',
      Comment: 'Poke the sensor once',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: POKE, Payload: { mode: 'poke', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
      ResultSelector: { 'result.$': '$.Payload' },
      ResultPath: '$.try',
      Retry: [LAMBDA_SERVICE_RETRY],
      Catch: [CATCH_ALL_TO_TRY_FAILED],
      Next: 'Report',
    },
    TryFailed: TRY_FAILED,
    ...schedulerLoop('RunTry'),
  },
};

const BATCH_EXPECTED = {
  Comment: "airless task 'reduce' (batch): batch lifecycle",
  StartAt: 'Prepare',
  States: {
    Prepare: {
      Type: 'Task',
      Comment: 'Resolve the job to submit for this try',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'batch_prepare', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
      ResultSelector: { 'submit.$': '$.Payload.submit', 'result.$': '$.Payload.result' },
      ResultPath: '$.try',
      Retry: [LAMBDA_SERVICE_RETRY],
      Catch: [CATCH_ALL_TO_TRY_FAILED],
      Next: 'CheckPrepared',
    },
    CheckPrepared: {
      Type: 'Choice',
      Comment: 'Nothing to submit: report the result the runner gave',
      Choices: [{ Variable: '$.try.submit', IsNull: true, Next: 'Report' }],
      Default: 'Submit',
    },
    Submit: {
      Type: 'Task',
      Comment: 'Submit the job and wait for it to end',
      Resource: 'arn:aws:states:::batch:submitJob.sync',
      Parameters: {
        'JobName.$': '$.try.submit.JobName',
        'JobQueue.$': '$.try.submit.JobQueue',
        'JobDefinition.$': '$.try.submit.JobDefinition',
        'ContainerOverrides.$': '$.try.submit.ContainerOverrides',
        'ArrayProperties.$': '$.try.submit.ArrayProperties',
      },
      TimeoutSeconds: 3600,
      ResultPath: '$.job',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.job', Next: 'Complete' }],
      Next: 'Complete',
    },
    Complete: {
      Type: 'Task',
      Comment: 'Turn what Batch said into the try result',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'batch_complete', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'job.$': '$.job' } },
      ResultSelector: { 'result.$': '$.Payload' },
      ResultPath: '$.try',
      Retry: [LAMBDA_SERVICE_RETRY],
      Catch: [CATCH_ALL_TO_TRY_FAILED],
      Next: 'Report',
    },
    TryFailed: TRY_FAILED,
    ...schedulerLoop('Prepare'),
  },
};

/** The states of one item of an iteration's Map: `run` (the item) and `failed` (recorded for good). */
function itemProcessor(mode: 'INLINE' | 'DISTRIBUTED', run: string, failed: string) {
  return {
    ProcessorConfig: mode === 'INLINE' ? { Mode: 'INLINE' } : { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
    StartAt: run,
    States: {
      [run]: {
        Type: 'Task',
        Comment: 'Run one item; throws when it fails',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: RUNNER, Payload: { mode: 'item', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'index.$': '$.index' } },
        TimeoutSeconds: 60,
        ResultPath: null,
        OutputPath: '$.index',
        Retry: [
          LAMBDA_SERVICE_RETRY,
          { ErrorEquals: ['NonRetriableError'], MaxAttempts: 0 },
          { ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, MaxDelaySeconds: 60 },
        ],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: failed }],
        End: true,
      },
      [failed]: {
        Type: 'Pass',
        Comment: 'The item failed for good: record it and let the other items run',
        Parameters: { 'index.$': '$.index', 'error.$': '$.error.Error' },
        End: true,
      },
    },
  };
}

const ITERATE_EXPECTED = {
  Comment: "airless task 'solve_channels' (task): iterate lifecycle",
  StartAt: 'Prepare',
  States: {
    Prepare: {
      Type: 'Task',
      Comment: 'List the items this try still has to run',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'iterate_prepare', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
      ResultSelector: { 'items.$': '$.Payload.items', 'itemsObject.$': '$.Payload.itemsObject', 'result.$': '$.Payload.result' },
      ResultPath: '$.try',
      Retry: [LAMBDA_SERVICE_RETRY],
      Catch: [CATCH_ALL_TO_TRY_FAILED],
      Next: 'CheckPrepared',
    },
    CheckPrepared: {
      Type: 'Choice',
      Comment: 'Run the items listed inline, or those listed in S3; none: report the result the runner gave',
      Choices: [
        { Not: { Variable: '$.try.items', IsNull: true }, Next: 'Items' },
        { Not: { Variable: '$.try.itemsObject', IsNull: true }, Next: 'ItemsFromS3' },
      ],
      Default: 'Report',
    },
    Items: {
      Type: 'Map',
      Comment: 'Run the items, at most `concurrency` at once',
      ItemsPath: '$.try.items',
      ItemSelector: { 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'index.$': '$$.Map.Item.Value' },
      MaxConcurrency: 8,
      ItemProcessor: itemProcessor('INLINE', 'RunItem', 'ItemFailed'),
      ResultPath: null,
      Catch: [CATCH_ALL_TO_TRY_FAILED],
      Next: 'Complete',
    },
    ItemsFromS3: {
      Type: 'Map',
      Comment: 'Run the items listed in S3 (too many for the state) as child executions, at most `concurrency` at once',
      ItemReader: {
        Resource: 'arn:aws:states:::s3:getObject',
        ReaderConfig: { InputType: 'JSON' },
        Parameters: { 'Bucket.$': '$.try.itemsObject.Bucket', 'Key.$': '$.try.itemsObject.Key' },
      },
      ItemSelector: { 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'index.$': '$$.Map.Item.Value' },
      MaxConcurrency: 8,
      ItemProcessor: itemProcessor('DISTRIBUTED', 'RunS3Item', 'S3ItemFailed'),
      ResultWriter: {
        Resource: 'arn:aws:states:::s3:putObject',
        Parameters: { 'Bucket.$': '$.try.itemsObject.Bucket', 'Prefix.$': '$.try.itemsObject.ResultsPrefix' },
      },
      ResultSelector: { 'manifest.$': '$.ResultWriterDetails' },
      ResultPath: '$.try.results',
      Catch: [CATCH_ALL_TO_TRY_FAILED],
      Next: 'Complete',
    },
    Complete: {
      Type: 'Task',
      Comment: 'Collect the items: the try succeeds when every item has a result',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'iterate_complete', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
      ResultSelector: { 'result.$': '$.Payload' },
      ResultPath: '$.try',
      Retry: [LAMBDA_SERVICE_RETRY],
      Catch: [CATCH_ALL_TO_TRY_FAILED],
      Next: 'Report',
    },
    TryFailed: TRY_FAILED,
    ...schedulerLoop('Prepare'),
  },
};

const WATCHER_EXPECTED = {
  Comment: 'airless Batch watcher: one DescribeJobs call per round for up to 100 jobs',
  StartAt: 'Describe',
  States: {
    Describe: {
      Type: 'Task',
      Comment: 'One DescribeJobs call for every job still running',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: DESCRIBE,
        Payload: { 'jobIds.$': '$.jobIds', 'intervalSeconds.$': '$.intervalSeconds', 'startedAt.$': '$$.Execution.StartTime' },
      },
      ResultSelector: {
        'jobIds.$': '$.Payload.pending',
        'intervalSeconds.$': '$.Payload.intervalSeconds',
        'continueAsNew.$': '$.Payload.continueAsNew',
        'finished.$': '$.Payload.finished',
      },
      Retry: [LAMBDA_SERVICE_RETRY, HANDLER_RETRY],
      Next: 'AnyPending',
    },
    AnyPending: {
      Type: 'Choice',
      Choices: [
        { Not: { Variable: '$.jobIds[0]', IsPresent: true }, Next: 'Done' },
        { Variable: '$.continueAsNew', BooleanEquals: true, Next: 'ContinueAsNew' },
      ],
      Default: 'Sleep',
    },
    Sleep: { Type: 'Wait', Comment: 'Wait before the next round', SecondsPath: '$.intervalSeconds', Next: 'Describe' },
    ContinueAsNew: {
      Type: 'Task',
      Comment: 'Hand the pending jobs to a fresh execution (25,000-event history limit)',
      Resource: 'arn:aws:states:::states:startExecution',
      Parameters: {
        'StateMachineArn.$': '$$.StateMachine.Id',
        Input: { 'jobIds.$': '$.jobIds', 'intervalSeconds.$': '$.intervalSeconds', 'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id' },
      },
      ResultPath: null,
      Retry: [HANDLER_RETRY],
      Next: 'Done',
    },
    Done: { Type: 'Succeed' },
  },
};

/** The own field of the kinds that share the Lambda lifecycle. */
const OWN_FIELDS = {
  branch: {},
  short_circuit: { shortCircuit: { ignoreDownstreamTriggerRules: true } },
  trigger_dag: { triggerDag: { triggerDagId: 'other', conf: {}, waitForCompletion: true, allowedStates: ['success' as const], failedStates: ['failed' as const] } },
};
const extract = taskSpec({ taskId: 'extract', kind: 'task', retries: 2, executionTimeoutMs: 30_000 });
const sensor = taskSpec({
  taskId: 'wait_for_file',
  kind: 'sensor',
  sensor: { pokeIntervalMs: 60_000, timeoutMs: 604_800_000, softFail: false, exponentialBackoff: false },
});
const batchTask = taskSpec({
  taskId: 'reduce',
  kind: 'batch',
  executionTimeoutMs: 3_600_000,
  batch: { jobName: 'reduce', jobQueue: 'q', jobDefinition: 'd', command: null, environment: null, containerOverrides: null, arraySize: null, array: true, runnableTimeoutMs: null, local: { mode: 'process' } },
});
const iterated = taskSpec({
  taskId: 'solve_channels',
  kind: 'task',
  retries: 1,
  executionTimeoutMs: 59_001,
  iterate: { mapping: { mode: 'single', source: [1, 2, 3], partial: null }, concurrency: 8, itemRetries: 3 },
});

// ---------------------------------------------------------------------------------------------------

describe('compiled lifecycles: the full ASL of each kind', () => {
  it('a Lambda task: RunTry with TimeoutSeconds, Catch to TryTimedOut/TryFailed, Report, Decide and the wait loop', () => {
    const c = compileTaskLifecycle(extract, OPTIONS);
    expect(c.definition).toStrictEqual(LAMBDA_EXPECTED);
    expect(c.lifecycle).toBe('lambda');
    expect(c.workflowType).toStrictEqual({ type: 'STANDARD', reason: 'retries (2) wait for their delay in the execution' });
    // Stable key order, not only equal content: the JSON text is the same.
    expect(JSON.stringify(c.definition)).toBe(JSON.stringify(LAMBDA_EXPECTED));
    expect(JSON.stringify(compileTaskLifecycle(extract, OPTIONS))).toBe(JSON.stringify(c));
  });

  it('branch, short_circuit and trigger_dag tasks get the Lambda lifecycle too', () => {
    for (const kind of ['branch', 'short_circuit', 'trigger_dag'] as const) {
      const c = compileTaskLifecycle(taskSpec({ ...extract, kind, ...OWN_FIELDS[kind] }), OPTIONS);
      expect(c.lifecycle).toBe('lambda');
      expect(c.definition).toStrictEqual({ ...LAMBDA_EXPECTED, Comment: `airless task 'extract' (${kind}): lambda lifecycle` });
    }
  });

  it('a sensor: the same loop invoking the sensor-poke function; no executionTimeout, so no TimeoutSeconds', () => {
    const c = compileTaskLifecycle(sensor, OPTIONS);
    expect(c.definition).toStrictEqual(SENSOR_EXPECTED);
    expect(c.lifecycle).toBe('sensor');
    expect(c.workflowType).toStrictEqual({ type: 'STANDARD', reason: 'a sensor waits between pokes, up to its timeout' });
  });

  it('a Batch task (.sync): Prepare, CheckPrepared, Submit with TimeoutSeconds, Complete, and the loop back to Prepare', () => {
    const c = compileTaskLifecycle(batchTask, OPTIONS);
    expect(c.definition).toStrictEqual(BATCH_EXPECTED);
    expect(c.lifecycle).toBe('batch');
    expect(c.workflowType.type).toBe('STANDARD');
  });

  it('a Batch task in poll mode: the Lambda lifecycle on the task runner (the runner submits, a watcher polls)', () => {
    const c = compileTaskLifecycle({ ...batchTask, executionTimeoutMs: 30_000 }, { ...OPTIONS, batchWatch: 'poll' });
    expect(c.lifecycle).toBe('batch_poll');
    expect(c.definition).toStrictEqual({ ...LAMBDA_EXPECTED, Comment: "airless task 'reduce' (batch): batch_poll lifecycle" });
  });

  it('an iteration: Prepare, a Map with MaxConcurrency and per-item Retry/Catch, Complete, and the loop', () => {
    const c = compileTaskLifecycle(iterated, OPTIONS);
    expect(c.definition).toStrictEqual(ITERATE_EXPECTED);
    expect(c.lifecycle).toBe('iterate');
  });

  it('an iteration in distributed mode runs each item as a child Standard execution', () => {
    const c = compileTaskLifecycle(iterated, { ...OPTIONS, iterateMode: 'distributed' });
    const items = c.definition.States['Items'];
    expect(items?.Type === 'Map' && items.ItemProcessor.ProcessorConfig).toStrictEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(validate(c.definition)).toBe('valid');
  });

  it('the Batch watcher: one Describe per round for all jobs, Sleep on SecondsPath, continue-as-new when asked', () => {
    const w = compileBatchWatcher({ describeJobsArn: DESCRIBE });
    expect(w.definition).toStrictEqual(WATCHER_EXPECTED);
    expect(w.workflowType).toStrictEqual({ type: 'STANDARD', reason: 'the watcher waits between rounds for as long as its jobs run' });
  });
});

describe('task options in the ASL', () => {
  it('executionTimeout becomes TimeoutSeconds, rounded up to whole seconds; none without one', () => {
    const runTry = (ms: number | null) => {
      const s = compileTaskLifecycle(taskSpec({ taskId: 't', kind: 'task', executionTimeoutMs: ms }), OPTIONS).definition.States['RunTry'];
      return s?.Type === 'Task' ? s.TimeoutSeconds : 'not a task';
    };
    expect(runTry(1500)).toBe(2);
    expect(runTry(120_000)).toBe(120);
    expect(runTry(1)).toBe(1);
    expect(runTry(null)).toBeUndefined();
  });

  it('an iteration: MaxConcurrency is concurrency and the item Retry has MaxAttempts = itemRetries', () => {
    for (const [concurrency, itemRetries] of [
      [1, 0],
      [16, 5],
    ] as const) {
      const spec = { ...iterated, iterate: { ...iterated.iterate!, concurrency, itemRetries } };
      const map = compileTaskLifecycle(spec, OPTIONS).definition.States['Items'];
      if (map?.Type !== 'Map') throw new Error('no Map state');
      expect(map.MaxConcurrency).toBe(concurrency);
      const runItem = map.ItemProcessor.States['RunItem'];
      if (runItem?.Type !== 'Task') throw new Error('no RunItem task');
      expect(runItem.Retry?.find((r) => r.ErrorEquals.includes('States.TaskFailed'))?.MaxAttempts).toBe(itemRetries);
    }
  });

  it('lifecycleOf picks the shape from the kind, iterate and the Batch watch mode', () => {
    expect(lifecycleOf(taskSpec({ taskId: 'e', kind: 'empty' }))).toBe('none');
    expect(lifecycleOf(extract)).toBe('lambda');
    expect(lifecycleOf(iterated)).toBe('iterate');
    expect(lifecycleOf(sensor)).toBe('sensor');
    expect(lifecycleOf(batchTask)).toBe('batch');
    expect(lifecycleOf(batchTask, { batchWatch: 'poll' })).toBe('batch_poll');
  });
});

describe('Standard or Express', () => {
  const cases: [string, TaskSpec, string, string][] = [
    ['short, no retries', taskSpec({ taskId: 'a', kind: 'task', executionTimeoutMs: 10_000 }), 'EXPRESS', 'one try of at most 10 s, no retries and no waits'],
    ['at the limit', taskSpec({ taskId: 'a', kind: 'branch', executionTimeoutMs: 120_000 }), 'EXPRESS', 'one try of at most 120 s, no retries and no waits'],
    ['trigger_dag', taskSpec({ taskId: 'a', kind: 'trigger_dag', executionTimeoutMs: 5_000, ...OWN_FIELDS.trigger_dag }), 'EXPRESS', 'one try of at most 5 s, no retries and no waits'],
    [
      'over the limit',
      taskSpec({ taskId: 'a', kind: 'task', executionTimeoutMs: 120_001 }),
      'STANDARD',
      'executionTimeout 121 s is over the 120 s an Express execution leaves a try',
    ],
    ['no executionTimeout', taskSpec({ taskId: 'a', kind: 'task' }), 'STANDARD', 'no executionTimeout: a try may outlast an Express execution'],
    ['retries', taskSpec({ taskId: 'a', kind: 'task', retries: 1, executionTimeoutMs: 1000 }), 'STANDARD', 'retries (1) wait for their delay in the execution'],
    ['sensor', { ...sensor, executionTimeoutMs: 1000 }, 'STANDARD', 'a sensor waits between pokes, up to its timeout'],
    ['batch', { ...batchTask, executionTimeoutMs: 1000 }, 'STANDARD', 'a Batch job is waited for with .sync or a watcher, which Express does not support'],
    ['iteration', { ...iterated, retries: 0, executionTimeoutMs: 1000 }, 'STANDARD', 'an iteration runs its items for as long as they take'],
  ];
  it.each(cases)('%s', (_name, spec, type, reason) => {
    expect(chooseWorkflowType(spec)).toStrictEqual({ type, reason });
  });

  it('history estimates: 16 events for a Lambda try, 23 per wait-then-run loop; the limit after ~1,086 loops', () => {
    expect(estimateHistoryEvents('lambda')).toBe(16);
    expect(estimateHistoryEvents('sensor', { loops: 1 })).toBe(39);
    expect(estimateHistoryEvents('sensor', { loops: 1086 })).toBeLessThanOrEqual(25_000);
    expect(estimateHistoryEvents('sensor', { loops: 1087 })).toBeGreaterThan(25_000);
    expect(estimateHistoryEvents('batch')).toBe(29);
    expect(estimateHistoryEvents('iterate', { items: 3000 })).toBe(21_027);
  });
});

describe('asl-validator', () => {
  it('rejects a broken definition (so that "valid" below means something)', () => {
    const broken = { Comment: 'x', StartAt: 'A', States: { A: { Type: 'Pass', Next: 'Nowhere' } } } as unknown as StateMachineDefinition;
    expect(validate(broken)).toMatch(/^invalid:/);
  });

  it('accepts every lifecycle kind and the watcher', () => {
    const defs = [
      compileTaskLifecycle(extract, OPTIONS),
      compileTaskLifecycle(sensor, OPTIONS),
      compileTaskLifecycle(batchTask, OPTIONS),
      compileTaskLifecycle(batchTask, { ...OPTIONS, batchWatch: 'poll' }),
      compileTaskLifecycle(iterated, OPTIONS),
      compileTaskLifecycle(iterated, { ...OPTIONS, iterateMode: 'distributed' }),
    ].map((c) => [c.taskId, c.definition] as const);
    defs.push(['watcher', compileBatchWatcher({ describeJobsArn: DESCRIBE }).definition]);
    for (const [id, d] of defs) expect(`${id}: ${validate(d)}`).toBe(`${id}: valid`);
  });

  it('accepts every task of every DAG in dags/, in every mode', () => {
    const dags: DagSpec[] = [exampleWorkflow, stageImportPrep, stageCalibration, stageImaging, solver, batchFanout, iterationVsMapping, branchingJoin].map(
      (d) => d.spec,
    );
    const seen = new Set<string>();
    let count = 0;
    for (const dag of dags) {
      for (const mode of [OPTIONS, { ...OPTIONS, batchWatch: 'poll' as const, iterateMode: 'distributed' as const }]) {
        const compiled = compileDag(dag, mode);
        expect(compiled.map((c) => c.taskId)).toStrictEqual(dag.tasks.filter((t) => t.kind !== 'empty').map((t) => t.taskId));
        for (const c of compiled) {
          expect(`${dag.dagId}.${c.taskId}: ${validate(c.definition)}`).toBe(`${dag.dagId}.${c.taskId}: valid`);
          expect(c.definition.Comment).toBe(`airless DAG '${dag.dagId}', task '${c.taskId}' (${c.kind}): ${c.lifecycle} lifecycle`);
          seen.add(c.lifecycle);
          count++;
        }
      }
    }
    expect(count).toBeGreaterThan(40);
    // dags/ has one Batch task, batch_fanout's run_job: mapped, submitted as array jobs in both watch modes.
    expect([...seen].sort()).toStrictEqual(['batch_array', 'iterate', 'lambda']);
  });
});

describe('errors', () => {
  it('the graph refuses a duplicate state id', () => {
    const g = new StateGraph({ dagId: 'etl', taskId: 'extract' }).add('A', { Type: 'Succeed' });
    expect(() => g.add('A', { Type: 'Succeed' })).toThrow("DAG 'etl', task 'extract': duplicate state id 'A'");
  });

  it('ids are unique across a Map ItemProcessor and its enclosing machine', () => {
    const g = new StateGraph({ taskId: 't' }).add('Run', { Type: 'Succeed' });
    expect(() => g.nested().add('Run', { Type: 'Succeed' })).toThrow("task 't': duplicate state id 'Run'");
  });

  it('the graph refuses a dangling Next, Default or Catch, an unknown StartAt and an unreachable state', () => {
    const at = { dagId: 'etl', taskId: 'extract' };
    expect(() => new StateGraph(at).add('A', { Type: 'Pass', Next: 'B' }).render('A')).toThrow(
      "DAG 'etl', task 'extract': state 'A' goes to 'B' (Next), which is not a defined state",
    );
    expect(() =>
      new StateGraph(at)
        .add('A', { Type: 'Choice', Choices: [{ Variable: '$.x', IsPresent: true, Next: 'A' }], Default: 'Z' })
        .render('A'),
    ).toThrow("DAG 'etl', task 'extract': state 'A' goes to 'Z' (Default), which is not a defined state");
    expect(() =>
      new StateGraph(at)
        .add('A', { state: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Gone' }], End: true }, statements: [] })
        .render('A'),
    ).toThrow("DAG 'etl', task 'extract': state 'A' goes to 'Gone' (Catch[0].Next), which is not a defined state");
    expect(() => new StateGraph(at).add('A', { Type: 'Succeed' }).render('Start')).toThrow("DAG 'etl', task 'extract': StartAt 'Start' is not a defined state");
    expect(() => new StateGraph(at).add('A', { Type: 'Succeed' }).add('B', { Type: 'Succeed' }).render('A')).toThrow(
      "DAG 'etl', task 'extract': state 'B' cannot be reached from StartAt 'A'",
    );
    expect(() => new StateGraph(at).add('x'.repeat(81), { Type: 'Succeed' })).toThrow(
      `DAG 'etl', task 'extract': state id '${'x'.repeat(81)}' must have 1 to 80 characters`,
    );
  });

  it('errors carry the name AslCompileError', () => {
    try {
      new StateGraph({}).add('A', { Type: 'Succeed' }).add('A', { Type: 'Succeed' });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).name).toBe('AslCompileError');
      expect((e as Error).message).toBe("duplicate state id 'A'");
    }
  });

  it('an empty task has no state machine; a missing function ARN is refused', () => {
    expect(() => compileTaskLifecycle(taskSpec({ taskId: 'noop', kind: 'empty' }), OPTIONS)).toThrow(
      "task 'noop': an empty task has no state machine: the scheduler settles it without running anything",
    );
    expect(() => compileTaskLifecycle(extract, { ...OPTIONS, schedulerArn: '' })).toThrow("task 'extract': option 'schedulerArn' must be a non-empty string");
    expect(() => compileBatchWatcher({ describeJobsArn: '' })).toThrow("option 'describeJobsArn' must be a non-empty string");
  });
});

describe('contract helpers', () => {
  it('aslTimestamp rounds up to whole seconds (Step Functions truncates milliseconds) and drops the fraction', () => {
    expect(aslTimestamp(Date.UTC(2026, 0, 1, 12, 0, 0))).toBe('2026-01-01T12:00:00Z');
    expect(aslTimestamp(Date.UTC(2026, 0, 1, 12, 0, 0, 1))).toBe('2026-01-01T12:00:01Z');
    expect(aslTimestamp(Date.UTC(2026, 0, 1, 23, 59, 59, 999))).toBe('2026-01-02T00:00:00Z');
  });

  it('batchJobDetail reads the job from a .sync output or from a failed job\'s cause', () => {
    const detail = { JobId: 'j-1', JobName: 'reduce', Status: 'FAILED', Container: { ExitCode: 3 } };
    expect(batchJobDetail({ ...detail, Status: 'SUCCEEDED' })).toStrictEqual({ ...detail, Status: 'SUCCEEDED' });
    expect(batchJobDetail({ Error: 'States.TaskFailed', Cause: JSON.stringify(detail) })).toStrictEqual(detail);
    expect(batchJobDetail({ Error: 'States.Timeout', Cause: '' })).toBeNull();
    expect(batchJobDetail({ Error: 'States.TaskFailed', Cause: 'not json' })).toBeNull();
    expect(batchJobDetail({ Error: 'Batch.ClientException', Cause: 'queue not found' })).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------------
// Running the compiled ASL: aws-local-stepfunctions executes the definition; its Task states call local
// functions that answer as the handlers would (a lambda:invoke result is `{ Payload: <return value> }`).

type Handler = (input: any) => unknown;

interface Run {
  output: unknown;
  /** States entered, in order; `Name#i` inside Map iteration i. */
  path: string[];
  /** Payloads the Task states sent, by state. */
  calls: { state: string; payload: any }[];
}

async function runLocally(
  definition: StateMachineDefinition,
  input: unknown,
  handlers: Record<string, Handler>,
  overrides: object = {},
  context?: Record<string, unknown>,
): Promise<Run> {
  const calls: Run['calls'] = [];
  const local: Record<string, (input: any) => Promise<any>> = {};
  for (const [state, h] of Object.entries(handlers)) {
    local[state] = async (i: any) => {
      calls.push({ state, payload: i.Payload ?? i });
      return h(i.Payload ?? i);
    };
  }
  const sm = new StateMachine(definition as unknown as LocalDefinition, { validationOptions: { checkArn: false } });
  const ex = sm.run(input as never, { overrides: { taskResourceLocalHandlers: local, ...overrides }, ...(context ? { context } : {}) });
  const path: string[] = [];
  const events = (async () => {
    for await (const e of ex.eventLogs) if (e.type === 'StateEntered') path.push(e.index === undefined ? e.state.name : `${e.state.name}#${e.index}`);
  })();
  const output = await ex.result;
  await events;
  return { output, path, calls };
}

const KEY = { runId: 'manual__2026-01-01T00:00:00+00:00', taskId: 'extract', mapIndex: -1 };

function lambdaError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

describe('compiled lifecycles run on aws-local-stepfunctions', () => {
  it('a Lambda task: try 1 crashes, the scheduler waits then reruns it as try 2, which succeeds', async () => {
    const { definition } = compileTaskLifecycle(extract, OPTIONS);
    const run = await runLocally(
      definition,
      { key: KEY, dagId: 'etl', tryNumber: 1 },
      {
        RunTry: (p) => {
          if (p.tryNumber === 1) throw lambdaError('Lambda.Unknown', 'Runtime exited with error: signal: killed');
          return { Payload: { kind: 'success' } };
        },
        Report: (p) =>
          p.result.kind === 'failure'
            ? { Payload: { action: 'wait', at: '2026-01-01T00:05:00Z', event: { type: 'retry', key: p.key, tryNumber: p.tryNumber } } }
            : { Payload: { action: 'done' } },
        Timer: (p) => ({ Payload: { action: 'run', tryNumber: p.event.tryNumber + 1 } }),
      },
      { waitTimeOverrides: { WaitUntil: 0 } },
    );
    expect(run.path).toStrictEqual(['RunTry', 'TryFailed', 'Report', 'Decide', 'WaitUntil', 'Timer', 'Decide', 'NextTry', 'RunTry', 'Report', 'Decide', 'Done']);
    expect(run.calls).toStrictEqual([
      { state: 'RunTry', payload: { mode: 'run', key: KEY, tryNumber: 1 } },
      {
        state: 'Report',
        payload: {
          type: 'try_finished',
          key: KEY,
          tryNumber: 1,
          result: { kind: 'failure', error: 'Lambda.Unknown: Runtime exited with error: signal: killed', retriable: true },
        },
      },
      { state: 'Timer', payload: { type: 'timer', event: { type: 'retry', key: KEY, tryNumber: 1 } } },
      { state: 'RunTry', payload: { mode: 'run', key: KEY, tryNumber: 2 } },
      { state: 'Report', payload: { type: 'try_finished', key: KEY, tryNumber: 2, result: { kind: 'success' } } },
    ]);
    expect(run.output).toMatchObject({ key: KEY, dagId: 'etl', tryNumber: 2, try: { result: { kind: 'success' } }, scheduler: { next: { action: 'done' } } });
  });

  it('a Lambda task past its TimeoutSeconds reports a TaskTimeoutError', async () => {
    const { definition } = compileTaskLifecycle({ ...extract, executionTimeoutMs: 1000 }, OPTIONS);
    const run = await runLocally(
      definition,
      { key: KEY, dagId: 'etl', tryNumber: 1 },
      {
        RunTry: () => new Promise((resolve) => setTimeout(() => resolve({ Payload: { kind: 'success' } }), 5000)),
        Report: () => ({ Payload: { action: 'done' } }),
      },
    );
    expect(run.path).toStrictEqual(['RunTry', 'TryTimedOut', 'Report', 'Decide', 'Done']);
    expect(run.calls[1]?.payload.result).toStrictEqual({
      kind: 'failure',
      error: 'TaskTimeoutError: execution timeout: the try ran longer than 1 s (States.Timeout)',
      retriable: true,
    });
  });

  it('a sensor: pokes until the condition holds, each wait computed by the scheduler (a defer is a wait)', async () => {
    const { definition } = compileTaskLifecycle(sensor, OPTIONS);
    let pokes = 0;
    const run = await runLocally(
      definition,
      { key: { ...KEY, taskId: 'wait_for_file' }, dagId: 'etl', tryNumber: 1 },
      {
        RunTry: () => (++pokes < 3 ? { Payload: { kind: 'defer', until: 1767225660000 } } : { Payload: { kind: 'success' } }),
        Report: (p) =>
          p.result.kind === 'defer'
            ? { Payload: { action: 'wait', at: '2026-01-01T00:01:00Z', event: { type: 'resume', key: p.key, tryNumber: p.tryNumber } } }
            : { Payload: { action: 'done' } },
        // The same try resumes: tryNumber stays 1.
        Timer: (p) => ({ Payload: { action: 'run', tryNumber: p.event.tryNumber } }),
      },
      { waitTimeOverrides: { WaitUntil: 0 } },
    );
    const loop = ['Report', 'Decide', 'WaitUntil', 'Timer', 'Decide', 'NextTry', 'RunTry'];
    expect(run.path).toStrictEqual(['RunTry', ...loop, ...loop, 'Report', 'Decide', 'Done']);
    expect(run.calls.filter((c) => c.state === 'RunTry').map((c) => c.payload)).toStrictEqual([
      { mode: 'poke', key: { ...KEY, taskId: 'wait_for_file' }, tryNumber: 1 },
      { mode: 'poke', key: { ...KEY, taskId: 'wait_for_file' }, tryNumber: 1 },
      { mode: 'poke', key: { ...KEY, taskId: 'wait_for_file' }, tryNumber: 1 },
    ]);
  });

  it('a Batch task: a failed job reaches Complete as the caught error; a retry prepares again', async () => {
    const { definition } = compileTaskLifecycle(batchTask, OPTIONS);
    const job = { JobName: 'reduce-1', JobQueue: 'q', JobDefinition: 'd', ContainerOverrides: { Command: ['run'] }, ArrayProperties: {} };
    let submits = 0;
    const run = await runLocally(
      definition,
      { key: { ...KEY, taskId: 'reduce' }, dagId: 'etl', tryNumber: 1 },
      {
        Prepare: (p) => ({ Payload: { submit: { ...job, JobName: `reduce-${p.tryNumber}` }, result: null } }),
        Submit: (p) => {
          if (++submits === 1) throw lambdaError('States.TaskFailed', JSON.stringify({ JobId: 'j-1', JobName: p.JobName, Status: 'FAILED' }));
          return { JobId: 'j-2', JobName: p.JobName, Status: 'SUCCEEDED' };
        },
        Complete: (p) => ({ Payload: 'Error' in p.job ? { kind: 'failure', error: 'BatchJobFailed: j-1', retriable: true } : { kind: 'success' } }),
        Report: (p) => ({ Payload: p.result.kind === 'failure' ? { action: 'wait', at: '2026-01-01T00:05:00Z', event: { type: 'retry', key: p.key, tryNumber: 1 } } : { action: 'done' } }),
        Timer: () => ({ Payload: { action: 'run', tryNumber: 2 } }),
      },
      { waitTimeOverrides: { WaitUntil: 0 } },
    );
    const aTry = ['Prepare', 'CheckPrepared', 'Submit', 'Complete', 'Report', 'Decide'];
    expect(run.path).toStrictEqual([...aTry, 'WaitUntil', 'Timer', 'Decide', 'NextTry', ...aTry, 'Done']);
    const submitted = run.calls.filter((c) => c.state === 'Submit').map((c) => c.payload);
    expect(submitted).toStrictEqual([
      { ...job, JobName: 'reduce-1' },
      { ...job, JobName: 'reduce-2' },
    ]);
    const completes = run.calls.filter((c) => c.state === 'Complete').map((c) => c.payload.job);
    expect(completes).toStrictEqual([
      { Error: 'States.TaskFailed', Cause: JSON.stringify({ JobId: 'j-1', JobName: 'reduce-1', Status: 'FAILED' }) },
      { JobId: 'j-2', JobName: 'reduce-2', Status: 'SUCCEEDED' },
    ]);
  });

  it('a Batch task whose prepare step fails reports without submitting', async () => {
    const { definition } = compileTaskLifecycle(batchTask, OPTIONS);
    const run = await runLocally(
      definition,
      { key: { ...KEY, taskId: 'reduce' }, dagId: 'etl', tryNumber: 1 },
      {
        Prepare: () => ({ Payload: { submit: null, result: { kind: 'failure', error: 'NonRetriableError: no job queue', retriable: false } } }),
        Report: () => ({ Payload: { action: 'done' } }),
      },
    );
    expect(run.path).toStrictEqual(['Prepare', 'CheckPrepared', 'Report', 'Decide', 'Done']);
  });

  it('an iteration: items retried up to itemRetries, a NonRetriableError never; failures recorded, the Map completes', async () => {
    const { definition } = compileTaskLifecycle(iterated, OPTIONS);
    const attempts = new Map<number, number>();
    const run = await runLocally(
      definition,
      { key: { ...KEY, taskId: 'solve_channels' }, dagId: 'etl', tryNumber: 1 },
      {
        Prepare: () => ({ Payload: { items: [0, 1, 2, 3], itemsObject: null, result: null } }),
        RunItem: (p) => {
          const n = (attempts.get(p.index) ?? 0) + 1;
          attempts.set(p.index, n);
          if (p.index === 1 && n === 1) throw lambdaError('Error', 'flaky');
          if (p.index === 2) throw lambdaError('NonRetriableError', 'bad input');
          if (p.index === 3) throw lambdaError('Error', 'always fails');
          return { Payload: null };
        },
        Complete: () => ({ Payload: { kind: 'failure', error: 'Error: 2 of 4 items failed', retriable: true } }),
        Report: () => ({ Payload: { action: 'done' } }),
      },
      { retryIntervalOverrides: { RunItem: 0 } },
    );
    expect(Object.fromEntries(attempts)).toStrictEqual({ 0: 1, 1: 2, 2: 1, 3: 4 });
    expect(run.path.filter((s) => s.startsWith('ItemFailed')).sort()).toStrictEqual(['ItemFailed#2', 'ItemFailed#3']);
    expect(run.path.filter((s) => !s.includes('#'))).toStrictEqual(['Prepare', 'CheckPrepared', 'Items', 'Complete', 'Report', 'Decide', 'Done']);
    expect(run.calls.find((c) => c.state === 'RunItem')?.payload).toStrictEqual({ mode: 'item', key: { ...KEY, taskId: 'solve_channels' }, tryNumber: 1, index: 0 });
  });

  it('the Batch watcher: one Describe per round for all pending jobs, until none is left', async () => {
    const { definition } = compileBatchWatcher({ describeJobsArn: DESCRIBE });
    const run = await runLocally(
      definition,
      { jobIds: ['j-1', 'j-2', 'j-3'], intervalSeconds: 30 },
      {
        Describe: (p) => {
          if (p.jobIds.length === 0) throw new Error('Describe called with no job ids');
          return {
          Payload: { pending: p.jobIds.slice(1), finished: [{ jobId: p.jobIds[0], status: 'SUCCEEDED' }], intervalSeconds: p.intervalSeconds, continueAsNew: false },
          };
        },
      },
      { waitTimeOverrides: { Sleep: 0 } },
    );
    expect(run.path).toStrictEqual(['Describe', 'AnyPending', 'Sleep', 'Describe', 'AnyPending', 'Sleep', 'Describe', 'AnyPending', 'Done']);
    expect(run.calls.map((c) => c.payload.jobIds)).toStrictEqual([['j-1', 'j-2', 'j-3'], ['j-2', 'j-3'], ['j-3']]);
  });

  it('the Batch watcher hands its pending jobs to a fresh execution when the describe function says so', async () => {
    const { definition } = compileBatchWatcher({ describeJobsArn: DESCRIBE });
    const run = await runLocally(
      definition,
      { jobIds: ['j-1', 'j-2'], intervalSeconds: 60 },
      {
        Describe: (p) => ({ Payload: { pending: p.jobIds, finished: [], intervalSeconds: 60, continueAsNew: true } }),
        ContinueAsNew: () => ({ ExecutionArn: 'arn:aws:states:eu-west-1:123456789012:execution:watcher:2', StartDate: '2026-01-01T00:00:00Z' }),
      },
      {},
      {
        Execution: { Id: 'arn:aws:states:eu-west-1:123456789012:execution:watcher:1', Input: {}, StartTime: '2026-01-01T00:00:00Z' },
        StateMachine: { Id: 'arn:aws:states:eu-west-1:123456789012:stateMachine:watcher' },
      },
    );
    expect(run.path).toStrictEqual(['Describe', 'AnyPending', 'ContinueAsNew', 'Done']);
    // aws-local-stepfunctions sets StartTime itself.
    expect(run.calls[0]?.payload).toStrictEqual({ jobIds: ['j-1', 'j-2'], intervalSeconds: 60, startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(run.calls[1]?.payload).toStrictEqual({
      StateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:watcher',
      Input: { jobIds: ['j-1', 'j-2'], intervalSeconds: 60, AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: 'arn:aws:states:eu-west-1:123456789012:execution:watcher:1' },
    });
  });
});
