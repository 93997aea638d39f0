// The compiler to Amazon States Language: the fixed set of shared lifecycle machines (the full expected
// definition of each, written out here, not derived from the compiler), how each task runs on them
// (`taskLifecycle`: its machine, workflow type and settings), that nothing of a task or DAG is in a
// definition, the graph builder's errors, asl-validator on every machine, and the machines run on
// aws-local-stepfunctions with their Task states overridden by local functions that play the task
// runner, the sensor-poke function and the scheduler.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { StateMachine, type StateMachineDefinition as LocalDefinition } from 'aws-local-stepfunctions';
import type { DagSpec, TaskSpec } from '../lib/model/spec.ts';
import { dag } from '../lib/index.ts';
import { taskSpec } from './support/task-spec.ts';
import {
  AslCompileError,
  aslTimestamp,
  batchJobDetail,
  chooseWorkflowType,
  compileBatchWatcher,
  compileDag,
  compileLifecycleMachine,
  compileLifecycleMachines,
  deployedMachines,
  estimateHistoryEvents,
  LIFECYCLE_MACHINES,
  lifecycleOf,
  lifecycleSettings,
  MACHINE_WORKFLOW_TYPE,
  machineOf,
  PARTITION,
  StateGraph,
  taskLifecycle,
  withPartition,
  type CompileOptions,
  type LifecycleInput,
  type LifecycleKind,
  type LifecycleMachine,
  type LifecycleSettings,
  type StateMachineDefinition,
} from '../lib/compiler/index.ts';

// asl-validator is CommonJS without types: `validator(definition) → {isValid, errors, errorsText}`.
type AslValidator = (definition: unknown) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

/** asl-validator's verdict, with its errors when invalid (it mutates what it is given: pass a copy). */
function validate(definition: StateMachineDefinition): string {
  const r = aslValidator(structuredClone(definition));
  return r.isValid ? 'valid' : `invalid:\n${r.errorsText('\n')}`;
}

/**
 * The DAGs of dags/, imported when asked: the test that the definitions do not depend on the DAGs
 * compiles the machines once before any DAG module is loaded.
 */
async function exampleDags(): Promise<DagSpec[]> {
  const modules = await Promise.all([
    import('../dags/example_workflow.ts').then((m) => m.exampleWorkflow),
    import('../dags/stage_import_prep.ts').then((m) => m.stageImportPrep),
    import('../dags/stage_calibration.ts').then((m) => m.stageCalibration),
    import('../dags/stage_imaging.ts').then((m) => m.stageImaging),
    import('../dags/solver.ts').then((m) => m.solver),
    import('../dags/batch_fanout.ts').then((m) => m.batchFanout),
    import('../dags/iteration_vs_mapping.ts').then((m) => m.iterationVsMapping),
    import('../dags/branching_join.ts').then((m) => m.branchingJoin),
  ]);
  return modules.map((d) => d.spec);
}

const RUNNER = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-task-runner';
const SCHEDULER = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-scheduler';
const POKE = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-sensor-poke';
const DESCRIBE = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-describe-jobs';
const OPTIONS: CompileOptions = { taskRunnerArn: RUNNER, schedulerArn: SCHEDULER, sensorPokeArn: POKE };

/** Every combination of the options that change a definition. */
const EVERY_MODE: CompileOptions[] = [
  OPTIONS,
  { ...OPTIONS, batchWatch: 'poll' },
  { ...OPTIONS, iterateMode: 'distributed' },
  { ...OPTIONS, batchWatch: 'poll', batchWatchIntervalSeconds: 45, iterateMode: 'distributed' },
];

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

const START_EXECUTION_RETRY = {
  ErrorEquals: ['StepFunctions.SdkClientException', 'StepFunctions.AWSStepFunctionsException', 'StepFunctions.ThrottlingException'],
  IntervalSeconds: 1,
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

const TRY_FAILED = {
  Type: 'Pass',
  Comment: 'The invocation failed: the try failed with "<Error>: <Cause>"',
  Parameters: { result: { kind: 'failure', 'error.$': "States.Format('{}: {}', $.error.Error, $.error.Cause)", retriable: true } },
  ResultPath: '$.try',
  Next: 'Report',
};

const CATCH_ALL_TO_TRY_FAILED = { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'TryFailed' };

const TRY_FINISHED_PAYLOAD = { type: 'try_finished', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'result.$': '$.try.result' };

/** `Report` of the machines whose steps report their own try: it reports a failed invocation and ends. */
const FINAL_REPORT = {
  Type: 'Task',
  Comment: 'Tell the scheduler the try failed; whatever comes next starts in a new execution',
  Resource: LAMBDA_INVOKE,
  Parameters: { FunctionName: SCHEDULER, Payload: TRY_FINISHED_PAYLOAD },
  ResultPath: null,
  Retry: [LAMBDA_SERVICE_RETRY, HANDLER_RETRY],
  End: true,
};

const TRY_EXPECTED = {
  Comment: 'airless try lifecycle: one invocation runs a try of a task (task, branch, short_circuit, trigger_dag, a polled Batch job) and reports it',
  StartAt: 'RunTry',
  States: {
    RunTry: {
      Type: 'Task',
      Comment: 'Run one try of the task and report it to the scheduler',
      Resource: LAMBDA_INVOKE,
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'run', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
      ResultPath: null,
      Retry: [LAMBDA_SERVICE_RETRY],
      Catch: [CATCH_ALL_TO_TRY_FAILED],
      End: true,
    },
    TryFailed: TRY_FAILED,
    Report: FINAL_REPORT,
  },
};

const SENSOR_EXPECTED = {
  Comment: 'airless sensor lifecycle: poke, wait until the next poke, poke again',
  StartAt: 'RunTry',
  States: {
    RunTry: {
      Type: 'Task',
      Comment: 'Poke the sensor once and report the poke; the reply says what comes next',
      Resource: LAMBDA_INVOKE,
      Parameters: { FunctionName: POKE, Payload: { mode: 'poke', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
      ResultSelector: { 'next.$': '$.Payload' },
      ResultPath: '$.scheduler',
      Retry: [LAMBDA_SERVICE_RETRY],
      Catch: [CATCH_ALL_TO_TRY_FAILED],
      Next: 'Decide',
    },
    TryFailed: TRY_FAILED,
    Report: {
      Type: 'Task',
      Comment: 'Tell the scheduler how the try ended; it replies what to do next',
      Resource: LAMBDA_INVOKE,
      Parameters: { FunctionName: SCHEDULER, Payload: TRY_FINISHED_PAYLOAD },
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
    NextTry: { Type: 'Pass', Comment: 'Run the try the scheduler named', InputPath: '$.scheduler.next.tryNumber', ResultPath: '$.tryNumber', Next: 'RunTry' },
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
    Done: { Type: 'Succeed' },
    UnknownAction: { Type: 'Fail', Error: 'AirlessContractError', Cause: "the scheduler's reply has no action run, wait or done" },
  },
};

const START_EXECUTION = 'arn:${Partition}:states:::states:startExecution';

/** Express: prepares the job and starts the `batch_job` execution, named as this one, that waits for it. */
const BATCH_EXPECTED = {
  Comment: 'airless Batch lifecycle: prepare the job, start the batch_job execution that waits for it',
  StartAt: 'Prepare',
  States: {
    Prepare: {
      Type: 'Task',
      Comment: 'Resolve the job to submit for this try',
      Resource: LAMBDA_INVOKE,
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'batch_prepare', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
      ResultSelector: { 'submit.$': '$.Payload.submit' },
      ResultPath: '$.try',
      Retry: [LAMBDA_SERVICE_RETRY],
      Catch: [CATCH_ALL_TO_TRY_FAILED],
      Next: 'CheckPrepared',
    },
    CheckPrepared: {
      Type: 'Choice',
      Comment: 'Nothing to submit (the runner reported the try): done',
      Choices: [{ Variable: '$.try.submit', IsNull: true, Next: 'Done' }],
      Default: 'StartJob',
    },
    Done: { Type: 'Succeed' },
    StartJob: {
      Type: 'Task',
      Comment: 'Start the Standard execution that submits the job and waits for it',
      Resource: START_EXECUTION,
      Parameters: {
        StateMachineArn: '${BatchJobMachineArn}',
        'Name.$': '$$.Execution.Name',
        Input: { 'key.$': '$.key', 'dagId.$': '$.dagId', 'tryNumber.$': '$.tryNumber', 'submit.$': '$.try.submit' },
      },
      ResultPath: null,
      Catch: [{ ErrorEquals: ['StepFunctions.ExecutionAlreadyExistsException'], ResultPath: null, Next: 'Done' }, CATCH_ALL_TO_TRY_FAILED],
      End: true,
    },
    TryFailed: TRY_FAILED,
    Report: FINAL_REPORT,
  },
};

/** Standard: started by `batch` with `{ key, dagId, tryNumber, submit }`; submits the job, waits for it (.sync), completes the try. */
const BATCH_JOB_EXPECTED = {
  Comment: 'airless Batch job: batch:submitJob.sync, then complete and report the try',
  StartAt: 'Submit',
  States: {
    Submit: {
      Type: 'Task',
      Comment: 'Submit the job and wait for it to end',
      Resource: 'arn:${Partition}:states:::batch:submitJob.sync',
      Parameters: {
        'JobName.$': '$.submit.JobName',
        'JobQueue.$': '$.submit.JobQueue',
        'JobDefinition.$': '$.submit.JobDefinition',
        'ContainerOverrides.$': '$.submit.ContainerOverrides',
        'ArrayProperties.$': '$.submit.ArrayProperties',
        'Timeout.$': '$.submit.Timeout',
      },
      ResultPath: '$.job',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.job', Next: 'Complete' }],
      Next: 'Complete',
    },
    Complete: {
      Type: 'Task',
      Comment: 'Turn what Batch said into the try result and report it',
      Resource: LAMBDA_INVOKE,
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'batch_complete', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'job.$': '$.job' } },
      ResultPath: null,
      Retry: [LAMBDA_SERVICE_RETRY],
      Catch: [CATCH_ALL_TO_TRY_FAILED],
      End: true,
    },
    TryFailed: TRY_FAILED,
    Report: FINAL_REPORT,
  },
};

/** The ids of one item's states (the inline Map's and the S3 Map's items have their own). */
const INLINE_ITEM = { run: 'RunItem', canRetry: 'CanRetryItem', nextAttempt: 'NextItemAttempt', waitRetry: 'WaitItemRetry', failed: 'ItemFailed' };
const S3_ITEM = { run: 'RunS3Item', canRetry: 'CanRetryS3Item', nextAttempt: 'NextS3ItemAttempt', waitRetry: 'WaitS3ItemRetry', failed: 'S3ItemFailed' };

/** One item of an iteration: run it; retry while `attempt` < `itemRetries`, after `itemRetryDelays[attempt]`; else record it failed. */
function itemProcessor(mode: 'INLINE' | 'DISTRIBUTED', ids: typeof INLINE_ITEM) {
  return {
    ProcessorConfig: mode === 'INLINE' ? { Mode: 'INLINE' } : { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
    StartAt: ids.run,
    States: {
      [ids.run]: {
        Type: 'Task',
        Comment: 'Run one item; throws when it fails',
        Resource: LAMBDA_INVOKE,
        Parameters: { FunctionName: RUNNER, Payload: { mode: 'item', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'index.$': '$.index' } },
        ResultPath: null,
        OutputPath: '$.index',
        Retry: [LAMBDA_SERVICE_RETRY],
        Catch: [
          { ErrorEquals: ['NonRetriableError', 'States.Timeout'], ResultPath: '$.error', Next: ids.failed },
          { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: ids.canRetry },
        ],
        End: true,
      },
      [ids.canRetry]: {
        Type: 'Choice',
        Comment: 'Retry the item while it has retries left',
        Choices: [{ Variable: '$.attempt', NumericLessThanPath: '$.itemRetries', Next: ids.nextAttempt }],
        Default: ids.failed,
      },
      [ids.nextAttempt]: {
        Type: 'Pass',
        Comment: 'Count the attempt and take its delay',
        Parameters: {
          'key.$': '$.key',
          'tryNumber.$': '$.tryNumber',
          'index.$': '$.index',
          'itemRetries.$': '$.itemRetries',
          'itemRetryDelays.$': '$.itemRetryDelays',
          'attempt.$': 'States.MathAdd($.attempt, 1)',
          'delay.$': 'States.ArrayGetItem($.itemRetryDelays, $.attempt)',
        },
        Next: ids.waitRetry,
      },
      [ids.waitRetry]: { Type: 'Wait', Comment: "Wait the retry's delay", SecondsPath: '$.delay', Next: ids.run },
      [ids.failed]: {
        Type: 'Pass',
        Comment: 'The item failed for good: record it and let the other items run',
        Parameters: { 'index.$': '$.index', 'error.$': '$.error.Error' },
        End: true,
      },
    },
  };
}

/** An item's input: the instance, the try, the index, and the task's item settings from the execution's input. */
const ITEM_SELECTOR = {
  'key.$': '$.key',
  'tryNumber.$': '$.tryNumber',
  'index.$': '$$.Map.Item.Value',
  'itemRetries.$': '$.settings.itemRetries',
  'itemRetryDelays.$': '$.settings.itemRetryDelays',
  attempt: 0,
};

function iterateExpected(itemsMode: 'INLINE' | 'DISTRIBUTED') {
  return {
    Comment: 'airless iteration lifecycle: prepare, a Map over the items, complete',
    StartAt: 'Prepare',
    States: {
      Prepare: {
        Type: 'Task',
        Comment: 'List the items this try still has to run',
        Resource: LAMBDA_INVOKE,
        Parameters: { FunctionName: RUNNER, Payload: { mode: 'iterate_prepare', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
        ResultSelector: { 'items.$': '$.Payload.items', 'itemsObject.$': '$.Payload.itemsObject' },
        ResultPath: '$.try',
        Retry: [LAMBDA_SERVICE_RETRY],
        Catch: [CATCH_ALL_TO_TRY_FAILED],
        Next: 'CheckPrepared',
      },
      CheckPrepared: {
        Type: 'Choice',
        Comment: 'Run the items listed inline, or those listed in S3; none (the runner reported the try): done',
        Choices: [
          { Not: { Variable: '$.try.items', IsNull: true }, Next: 'Items' },
          { Not: { Variable: '$.try.itemsObject', IsNull: true }, Next: 'ItemsFromS3' },
        ],
        Default: 'Done',
      },
      Done: { Type: 'Succeed' },
      Items: {
        Type: 'Map',
        Comment: 'Run the items, at most `concurrency` at once',
        ItemsPath: '$.try.items',
        ItemSelector: ITEM_SELECTOR,
        MaxConcurrencyPath: '$.settings.concurrency',
        ItemProcessor: itemProcessor(itemsMode, INLINE_ITEM),
        ResultPath: null,
        Catch: [CATCH_ALL_TO_TRY_FAILED],
        Next: 'Complete',
      },
      ItemsFromS3: {
        Type: 'Map',
        Comment: 'Run the items listed in S3 (too many for the state) as child executions, at most `concurrency` at once',
        ItemReader: {
          Resource: 'arn:${Partition}:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { 'Bucket.$': '$.try.itemsObject.Bucket', 'Key.$': '$.try.itemsObject.Key' },
        },
        ItemSelector: ITEM_SELECTOR,
        MaxConcurrencyPath: '$.settings.concurrency',
        ItemProcessor: itemProcessor('DISTRIBUTED', S3_ITEM),
        ResultWriter: {
          Resource: 'arn:${Partition}:states:::s3:putObject',
          Parameters: { 'Bucket.$': '$.try.itemsObject.Bucket', 'Prefix.$': '$.try.itemsObject.ResultsPrefix' },
        },
        ResultSelector: { 'manifest.$': '$.ResultWriterDetails' },
        ResultPath: '$.try.results',
        Catch: [CATCH_ALL_TO_TRY_FAILED],
        Next: 'Complete',
      },
      Complete: {
        Type: 'Task',
        Comment: 'Collect the items and report the try: it succeeds when every item has a result',
        Resource: LAMBDA_INVOKE,
        Parameters: { FunctionName: RUNNER, Payload: { mode: 'iterate_complete', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
        ResultPath: null,
        Retry: [LAMBDA_SERVICE_RETRY],
        Catch: [CATCH_ALL_TO_TRY_FAILED],
        End: true,
      },
      TryFailed: TRY_FAILED,
      Report: FINAL_REPORT,
    },
  };
}

const WATCHER_EXPECTED = {
  Comment: 'airless Batch watcher: one DescribeJobs call per round for up to 100 jobs',
  StartAt: 'Describe',
  States: {
    Describe: {
      Type: 'Task',
      Comment: 'One DescribeJobs call for every job still running',
      Resource: LAMBDA_INVOKE,
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
      Resource: 'arn:${Partition}:states:::states:startExecution',
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

// ---------------------------------------------------------------------------------------------------
// Task specs of every kind.

/** The own field of the kinds that run on the try machine besides `task`. */
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
const arrayTask = taskSpec({ ...batchTask, taskId: 'reduce_tiles', maxActiveTisPerDag: 4, mapping: { mode: 'single', source: [1, 2, 3], partial: null } });
const iterated = taskSpec({
  taskId: 'solve_channels',
  kind: 'task',
  retries: 1,
  executionTimeoutMs: 59_001,
  iterate: { mapping: { mode: 'single', source: [1, 2, 3], partial: null }, concurrency: 8, itemRetries: 3 },
});

/** The settings of a task that does not iterate and is not an array fan-out: every field present, all zero. */
const NO_SETTINGS: LifecycleSettings = { concurrency: 0, itemRetries: 0, itemRetryDelays: [], maxConcurrency: 0 };

// ---------------------------------------------------------------------------------------------------

describe('the shared lifecycle machines: the full ASL of each', () => {
  it('try (Express): RunTry runs and reports the try and ends the execution; a failed invocation goes TryFailed → Report (End)', () => {
    const c = compileLifecycleMachine('try', OPTIONS);
    expect(c.definition).toStrictEqual(TRY_EXPECTED);
    // Stable key order, not only equal content: the JSON text is the same.
    expect(JSON.stringify(c.definition)).toBe(JSON.stringify(TRY_EXPECTED));
    expect(c.machine).toBe('try');
    expect(c.workflowType).toStrictEqual({ type: 'EXPRESS', reason: 'one invocation runs the try and reports it; nothing waits in the execution' });
  });

  it('sensor (Standard): RunTry pokes and reports, its reply at $.scheduler; Decide loops through WaitUntil/Timer/NextTry; TryFailed → Report → Decide', () => {
    const c = compileLifecycleMachine('sensor', OPTIONS);
    expect(c.definition).toStrictEqual(SENSOR_EXPECTED);
    expect(JSON.stringify(c.definition)).toBe(JSON.stringify(SENSOR_EXPECTED));
    expect(c.workflowType).toStrictEqual({ type: 'STANDARD', reason: 'a sensor waits between pokes, up to its timeout' });
  });

  it('batch (Express): Prepare → CheckPrepared (nothing to submit: Done) → StartJob (the batch_job execution, named as this one, with the job) (End)', () => {
    const c = compileLifecycleMachine('batch', OPTIONS);
    expect(c.definition).toStrictEqual(BATCH_EXPECTED);
    expect(JSON.stringify(c.definition)).toBe(JSON.stringify(BATCH_EXPECTED));
    expect(c.workflowType).toStrictEqual({ type: 'EXPRESS', reason: 'it prepares a Batch job and starts the batch_job execution that waits for it: nothing waits here' });
    // The deployment may name the batch_job machine itself; nothing else changes.
    const named = compileLifecycleMachine('batch', { ...OPTIONS, batchJobMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:BatchJob' });
    expect(named.definition).toStrictEqual(
      JSON.parse(JSON.stringify(BATCH_EXPECTED).replace('${BatchJobMachineArn}', 'arn:aws:states:eu-west-1:123456789012:stateMachine:BatchJob')),
    );
  });

  it('batch_job (Standard): Submit (.sync, the job\'s Timeout from the input; any error to Complete) → Complete (End)', () => {
    const c = compileLifecycleMachine('batch_job', OPTIONS);
    expect(c.definition).toStrictEqual(BATCH_JOB_EXPECTED);
    expect(JSON.stringify(c.definition)).toBe(JSON.stringify(BATCH_JOB_EXPECTED));
    expect(c.machine).toBe('batch_job');
    expect(c.workflowType).toStrictEqual({ type: 'STANDARD', reason: 'a Batch job is waited for with .sync, which Express does not support' });
  });

  it('iterate (Standard): Prepare → CheckPrepared → Items or ItemsFromS3 (MaxConcurrencyPath, the item retry loop from the settings) → Complete (End)', () => {
    const c = compileLifecycleMachine('iterate', OPTIONS);
    expect(c.definition).toStrictEqual(iterateExpected('INLINE'));
    expect(JSON.stringify(c.definition)).toBe(JSON.stringify(iterateExpected('INLINE')));
    expect(c.workflowType).toStrictEqual({ type: 'STANDARD', reason: 'an iteration runs its items for as long as they take' });
  });

  it('iterate in distributed mode: only the inline Map changes, its items then child Standard executions', () => {
    expect(compileLifecycleMachine('iterate', { ...OPTIONS, iterateMode: 'distributed' }).definition).toStrictEqual(iterateExpected('DISTRIBUTED'));
  });

  it('the Batch options change only the batch_array machine, the iteration mode only the iterate machine', () => {
    const plain = compileLifecycleMachines(OPTIONS);
    for (const options of EVERY_MODE) {
      for (const c of compileLifecycleMachines(options)) {
        if (c.machine === 'batch_array' && options.batchWatch !== undefined) continue;
        if (c.machine === 'iterate' && options.iterateMode !== undefined) continue;
        expect(c, `${c.machine} with ${JSON.stringify(options)}`).toStrictEqual(plain.find((p) => p.machine === c.machine));
      }
    }
  });

  it('the Batch watcher: one Describe per round for all jobs, Sleep on SecondsPath, continue-as-new when asked', () => {
    const w = compileBatchWatcher({ describeJobsArn: DESCRIBE });
    expect(w.definition).toStrictEqual(WATCHER_EXPECTED);
    expect(w.workflowType).toStrictEqual({ type: 'STANDARD', reason: 'the watcher waits between rounds for as long as its jobs run' });
  });

  it('compileLifecycleMachines: the fixed set, in LIFECYCLE_MACHINES order (no .sync Batch machine in poll mode), each as compileLifecycleMachine gives it', () => {
    expect(LIFECYCLE_MACHINES).toStrictEqual(['try', 'sensor', 'batch', 'batch_job', 'iterate', 'batch_array', 'hitl', 'partitions']);
    // Poll mode runs a single Batch job on the try machine: neither `batch` nor the `batch_job` it starts is deployed.
    expect(deployedMachines({ batchWatch: 'poll' })).toStrictEqual(['try', 'sensor', 'iterate', 'batch_array', 'hitl', 'partitions']);
    expect(deployedMachines({ batchWatch: 'sync' })).toStrictEqual(LIFECYCLE_MACHINES);
    expect(deployedMachines()).toStrictEqual(LIFECYCLE_MACHINES);
    for (const options of EVERY_MODE) {
      const all = compileLifecycleMachines(options);
      expect(all.map((c) => c.machine)).toStrictEqual(options.batchWatch === 'poll' ? ['try', 'sensor', 'iterate', 'batch_array', 'hitl', 'partitions'] : LIFECYCLE_MACHINES);
      for (const c of all) expect(c).toStrictEqual(compileLifecycleMachine(c.machine, options));
    }
  });
});

describe('the partition', () => {
  /** Every `Resource` of a definition, nested ones (Map item processors, readers, writers) included. */
  function resources(value: unknown, out: string[] = []): string[] {
    if (Array.isArray(value)) for (const v of value) resources(v, out);
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'Resource' && typeof v === 'string') out.push(v);
        else resources(v, out);
      }
    }
    return out;
  }

  it('every integration ARN of every machine and of the watcher is in the `${Partition}` substitution, never a fixed partition', () => {
    const definitions = [...EVERY_MODE.flatMap((o) => compileLifecycleMachines(o).map((c) => c.definition)), compileBatchWatcher({ describeJobsArn: DESCRIBE }).definition];
    const all = new Set(definitions.flatMap((d) => resources(d)));
    expect([...all].sort()).toStrictEqual([
      'arn:${Partition}:states:::batch:submitJob.sync',
      'arn:${Partition}:states:::lambda:invoke',
      'arn:${Partition}:states:::lambda:invoke.waitForTaskToken',
      'arn:${Partition}:states:::s3:getObject',
      'arn:${Partition}:states:::s3:putObject',
      'arn:${Partition}:states:::states:startExecution',
    ]);
    expect(PARTITION).toBe('${Partition}');
  });

  it('withPartition substitutes every placeholder (aws unless told), and leaves the rest, the function ARNs and the batch_job machine\'s ARN included, as they were', () => {
    const toAws = (expected: unknown): unknown => JSON.parse(JSON.stringify(expected).replaceAll('arn:${Partition}:', 'arn:aws:'));
    const batch = compileLifecycleMachine('batch', OPTIONS);
    const aws = withPartition(batch.definition);
    expect(JSON.stringify(aws)).not.toContain('${Partition}');
    expect(aws).toStrictEqual(toAws(BATCH_EXPECTED));
    // `${BatchJobMachineArn}` is another substitution, the deployment's: withPartition leaves it.
    expect(aws.States['StartJob']).toMatchObject({ Resource: 'arn:aws:states:::states:startExecution', Parameters: { StateMachineArn: '${BatchJobMachineArn}' } });
    expect(withPartition(batch.definition, 'aws-cn').States['Prepare']).toMatchObject({ Resource: 'arn:aws-cn:states:::lambda:invoke', Parameters: { FunctionName: RUNNER } });
    const job = compileLifecycleMachine('batch_job', OPTIONS);
    expect(withPartition(job.definition)).toStrictEqual(toAws(BATCH_JOB_EXPECTED));
    expect(withPartition(job.definition, 'aws-us-gov').States['Submit']).toMatchObject({ Resource: 'arn:aws-us-gov:states:::batch:submitJob.sync' });
    // The compiled definitions themselves are left as they were.
    expect(batch.definition).toStrictEqual(BATCH_EXPECTED);
    expect(job.definition).toStrictEqual(BATCH_JOB_EXPECTED);
  });
});

describe('nothing of a task or a DAG is in a definition', () => {
  it('compiling the machines gives the same definitions whatever DAGs exist', async () => {
    // Before any DAG module is loaded (dags/ is imported only below).
    const before = EVERY_MODE.map((o) => JSON.stringify(compileLifecycleMachines(o)));
    const specs = await exampleDags();
    for (const spec of specs) for (const o of EVERY_MODE) compileDag(spec, o);
    // A DAG with settings unlike any other: its iteration, its fan-out, its timeouts.
    const odd = dag({ dagId: 'odd_settings' }, ({ task, batchJob }) => {
      const plan = task('plan', () => [1, 2], { executionTimeout: '7s', retries: 9 });
      task('solve', (_ctx, x: number) => x, { executionTimeout: '13s' }).iterate(plan, { concurrency: 3, itemRetries: 11 });
      const kwargs = task('kwargs', () => [{ command: ['x'] }]);
      batchJob('tiles', { jobQueue: 'q', jobDefinition: 'd:1', maxActiveTisPerDag: 5, executionTimeout: '17m' }).expandKwargs(kwargs);
    });
    for (const o of EVERY_MODE) expect(compileDag(odd.spec, o).map((t) => t.machine)).toStrictEqual(['try', 'iterate', 'try', 'batch_array']);
    expect(EVERY_MODE.map((o) => JSON.stringify(compileLifecycleMachines(o)))).toStrictEqual(before);
    // Nor does a definition name any DAG or task.
    const text = before.join('\n');
    for (const spec of [...specs, odd.spec]) {
      for (const id of [spec.dagId, ...spec.tasks.map((t) => t.taskId)]) expect(text, id).not.toContain(`'${id}'`);
      expect(text).not.toContain(`"${spec.dagId}"`);
    }
  });

  /** Every key of a JSON value, at any depth, and every string value. */
  function walk(value: unknown, keys: Set<string>, strings: Set<string>): void {
    if (Array.isArray(value)) for (const v of value) walk(v, keys, strings);
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        keys.add(k);
        walk(v, keys, strings);
      }
    } else if (typeof value === 'string') strings.add(value);
  }

  it('no per-task value is written into a state: no TimeoutSeconds or HeartbeatSeconds, no fixed MaxConcurrency, no retry but the integrations\' own', () => {
    const keys = new Set<string>();
    const retriers = new Set<string>();
    const collect = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(collect);
      else if (value !== null && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) {
          if (k === 'Retry') for (const r of v as unknown[]) retriers.add(JSON.stringify(r));
          collect(v);
        }
      }
    };
    for (const o of EVERY_MODE) {
      for (const c of compileLifecycleMachines(o)) {
        walk(c.definition, keys, new Set());
        collect(c.definition);
      }
    }
    for (const fixed of ['TimeoutSeconds', 'HeartbeatSeconds', 'HeartbeatSecondsPath', 'MaxConcurrency']) expect(keys.has(fixed), fixed).toBe(false);
    expect(keys.has('MaxConcurrencyPath')).toBe(true);
    // The one timeout is a try's own data: how long the hitl machine waits for an answer, from its Prepare's reply.
    expect(keys.has('TimeoutSecondsPath')).toBe(true);
    // A task's retries are the scheduler's: the only Retry fields are those of the Lambda service, of an
    // idempotent handler and of a throttled Batch submission.
    // (and of a throttled StartExecution: the partitions machine's).
    expect([...retriers].map((r) => JSON.parse(r))).toStrictEqual([LAMBDA_SERVICE_RETRY, HANDLER_RETRY, BATCH_THROTTLING_RETRY, START_EXECUTION_RETRY]);
  });

  it('the settings the machines read ($.settings.<field>) are exactly the fields every task\'s settings have (a path to a missing field fails the execution)', () => {
    const strings = new Set<string>();
    for (const o of EVERY_MODE) for (const c of compileLifecycleMachines(o)) walk(c.definition, new Set(), strings);
    // The partitions machine passes the whole settings on to each partition's iterate execution ('$.settings').
    const read = [...strings].filter((s) => s.startsWith('$.settings.')).sort();
    expect(read).toStrictEqual(['$.settings.concurrency', '$.settings.itemRetries', '$.settings.itemRetryDelays', '$.settings.maxConcurrency']);
    for (const spec of [extract, sensor, batchTask, arrayTask, iterated, taskSpec({ taskId: 'e', kind: 'empty' })]) {
      expect(Object.keys(lifecycleSettings(spec)).map((f) => `$.settings.${f}`).sort(), spec.taskId).toStrictEqual(read);
    }
  });
});

describe('how a task runs: taskLifecycle and lifecycleSettings', () => {
  it('a task: the try machine (Express), no settings of its own; its executionTimeout and retries are not in them', () => {
    expect(taskLifecycle(extract)).toStrictEqual({
      taskId: 'extract',
      kind: 'task',
      lifecycle: 'lambda',
      machine: 'try',
      workflowType: MACHINE_WORKFLOW_TYPE.try,
      settings: NO_SETTINGS,
    });
  });

  it('branch, short_circuit and trigger_dag run on the try machine too', () => {
    for (const kind of ['branch', 'short_circuit', 'trigger_dag'] as const) {
      const t = taskLifecycle(taskSpec({ ...extract, kind, ...OWN_FIELDS[kind] }));
      expect(t).toStrictEqual({ taskId: 'extract', kind, lifecycle: 'lambda', machine: 'try', workflowType: MACHINE_WORKFLOW_TYPE.try, settings: NO_SETTINGS });
    }
  });

  it('a sensor: the sensor machine (Standard)', () => {
    expect(taskLifecycle(sensor)).toStrictEqual({
      taskId: 'wait_for_file',
      kind: 'sensor',
      lifecycle: 'sensor',
      machine: 'sensor',
      workflowType: MACHINE_WORKFLOW_TYPE.sensor,
      settings: NO_SETTINGS,
    });
  });

  it('a Batch task: the batch machine with .sync; in poll mode the try machine (the runner submits, a watcher polls)', () => {
    expect(taskLifecycle(batchTask)).toStrictEqual({ taskId: 'reduce', kind: 'batch', lifecycle: 'batch', machine: 'batch', workflowType: MACHINE_WORKFLOW_TYPE.batch, settings: NO_SETTINGS });
    expect(taskLifecycle(batchTask, { batchWatch: 'sync' }).machine).toBe('batch');
    expect(taskLifecycle(batchTask, { batchWatch: 'poll' })).toStrictEqual({
      taskId: 'reduce',
      kind: 'batch',
      lifecycle: 'batch_poll',
      machine: 'try',
      workflowType: { type: 'EXPRESS', reason: 'one invocation runs the try and reports it; nothing waits in the execution' },
      settings: NO_SETTINGS,
    });
  });

  it('a mapped Batch task submitted as arrays: the batch_array machine in both watch modes, maxConcurrency its maxActiveTisPerDag', () => {
    for (const batchWatch of ['sync', 'poll'] as const) {
      expect(taskLifecycle(arrayTask, { batchWatch })).toStrictEqual({
        taskId: 'reduce_tiles',
        kind: 'batch',
        lifecycle: 'batch_array',
        machine: 'batch_array',
        workflowType: { type: 'STANDARD', reason: 'array jobs are waited for with .sync or polled, for hours' },
        settings: { ...NO_SETTINGS, maxConcurrency: 4 },
      });
    }
  });

  it('an iteration: the iterate machine, its concurrency and item retries with their delays in the settings', () => {
    expect(taskLifecycle(iterated)).toStrictEqual({
      taskId: 'solve_channels',
      kind: 'task',
      lifecycle: 'iterate',
      machine: 'iterate',
      workflowType: MACHINE_WORKFLOW_TYPE.iterate,
      settings: { concurrency: 8, itemRetries: 3, itemRetryDelays: [1, 2, 4], maxConcurrency: 0 },
    });
    // The machine does not depend on the iteration mode, only the definition of its machine does.
    expect(taskLifecycle(iterated, {})).toStrictEqual(taskLifecycle(iterated, { batchWatch: 'poll' }));
  });

  it('itemRetryDelays: 1 s, doubling, at most 60 s, one per item retry', () => {
    const delays = (itemRetries: number, concurrency = 0) => lifecycleSettings({ ...iterated, iterate: { ...iterated.iterate!, itemRetries, concurrency } });
    expect(delays(0).itemRetryDelays).toStrictEqual([]);
    expect(delays(1).itemRetryDelays).toStrictEqual([1]);
    expect(delays(6).itemRetryDelays).toStrictEqual([1, 2, 4, 8, 16, 32]);
    expect(delays(9)).toStrictEqual({ concurrency: 0, itemRetries: 9, itemRetryDelays: [1, 2, 4, 8, 16, 32, 60, 60, 60], maxConcurrency: 0 });
    expect(delays(40).itemRetryDelays).toHaveLength(40);
    expect(Math.max(...delays(40).itemRetryDelays)).toBe(60);
    expect(delays(2, 1)).toStrictEqual({ concurrency: 1, itemRetries: 2, itemRetryDelays: [1, 2], maxConcurrency: 0 });
  });

  it('an array fan-out\'s maxConcurrency: maxActiveTisPerDag (a wave holds one unit), at most 10,000; else 0 (unbounded)', () => {
    const max = (m: number | null) => lifecycleSettings({ ...arrayTask, maxActiveTisPerDag: m }).maxConcurrency;
    expect(max(null)).toBe(0);
    expect(max(1)).toBe(1);
    expect(max(16)).toBe(16);
    expect(max(10_000)).toBe(10_000);
    expect(max(50_000)).toBe(10_000);
  });

  it('an empty task has no lifecycle: taskLifecycle refuses it, naming the task (and the DAG when given)', () => {
    const noop = taskSpec({ taskId: 'noop', kind: 'empty' });
    expect(() => taskLifecycle(noop)).toThrowError(/^task 'noop': an empty task has no lifecycle: the scheduler settles it without running anything$/);
    expect(() => taskLifecycle(noop, {}, 'etl')).toThrowError(/^DAG 'etl', task 'noop': an empty task has no lifecycle: the scheduler settles it without running anything$/);
    try {
      taskLifecycle(noop, {}, 'etl');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AslCompileError);
      expect((e as AslCompileError).location).toStrictEqual({ dagId: 'etl', taskId: 'noop' });
      expect((e as AslCompileError).detail).toBe('an empty task has no lifecycle: the scheduler settles it without running anything');
    }
  });

  it('lifecycleOf picks the shape from the kind, iterate, mapping and the Batch watch mode; machineOf the machine of each shape', () => {
    expect(lifecycleOf(taskSpec({ taskId: 'e', kind: 'empty' }))).toBe('none');
    expect(lifecycleOf(extract)).toBe('lambda');
    expect(lifecycleOf(iterated)).toBe('iterate');
    expect(lifecycleOf(sensor)).toBe('sensor');
    expect(lifecycleOf(batchTask)).toBe('batch');
    expect(lifecycleOf(batchTask, { batchWatch: 'poll' })).toBe('batch_poll');
    expect(lifecycleOf(arrayTask, { batchWatch: 'poll' })).toBe('batch_array');
    const shapes: LifecycleKind[] = ['lambda', 'sensor', 'batch', 'batch_poll', 'batch_array', 'iterate', 'none'];
    expect(Object.fromEntries(shapes.map((l) => [l, machineOf(l)]))).toStrictEqual({
      lambda: 'try',
      sensor: 'sensor',
      batch: 'batch',
      batch_poll: 'try',
      batch_array: 'batch_array',
      iterate: 'iterate',
      none: null,
    });
  });
});

describe('Standard or Express', () => {
  it('each machine\'s type, with its reason', () => {
    expect(MACHINE_WORKFLOW_TYPE).toStrictEqual({
      try: { type: 'EXPRESS', reason: 'one invocation runs the try and reports it; nothing waits in the execution' },
      sensor: { type: 'STANDARD', reason: 'a sensor waits between pokes, up to its timeout' },
      batch: { type: 'EXPRESS', reason: 'it prepares a Batch job and starts the batch_job execution that waits for it: nothing waits here' },
      batch_job: { type: 'STANDARD', reason: 'a Batch job is waited for with .sync, which Express does not support' },
      iterate: { type: 'STANDARD', reason: 'an iteration runs its items for as long as they take' },
      batch_array: { type: 'STANDARD', reason: 'array jobs are waited for with .sync or polled, for hours' },
      hitl: { type: 'STANDARD', reason: "a person's answer is waited for with .waitForTaskToken (which Express does not support), for up to a year" },
      partitions: { type: 'STANDARD', reason: "its Distributed Map, which starts each partition's iterate execution, runs only in a Standard workflow" },
    });
  });

  // A task's type is its machine's: neither its retries nor its timeout change it any more.
  const cases: [string, TaskSpec, CompileOptions | undefined, LifecycleMachine | null][] = [
    ['a task with retries and no timeout', taskSpec({ taskId: 'a', kind: 'task', retries: 5 }), undefined, 'try'],
    ['a task longer than an Express execution', taskSpec({ taskId: 'a', kind: 'task', executionTimeoutMs: 900_000 }), undefined, 'try'],
    ['a branch', taskSpec({ taskId: 'a', kind: 'branch', retries: 1 }), undefined, 'try'],
    ['a trigger_dag', taskSpec({ taskId: 'a', kind: 'trigger_dag', ...OWN_FIELDS.trigger_dag }), undefined, 'try'],
    ['a sensor', sensor, undefined, 'sensor'],
    ['a Batch task (.sync)', batchTask, undefined, 'batch'],
    ['a Batch task (poll)', batchTask, { ...OPTIONS, batchWatch: 'poll' }, 'try'],
    ['a mapped Batch task as arrays', arrayTask, undefined, 'batch_array'],
    ['an iteration', { ...iterated, retries: 0, executionTimeoutMs: 1000 }, undefined, 'iterate'],
  ];
  it.each(cases)('%s', (_name, spec, options, machine) => {
    expect(chooseWorkflowType(spec, options)).toStrictEqual(MACHINE_WORKFLOW_TYPE[machine!]);
    expect(chooseWorkflowType(spec, options)).toStrictEqual(taskLifecycle(spec, options).workflowType);
  });

  it('an empty task runs no lifecycle', () => {
    expect(chooseWorkflowType(taskSpec({ taskId: 'e', kind: 'empty' }))).toStrictEqual({ type: 'EXPRESS', reason: 'an empty task runs no lifecycle' });
  });

  it('history estimates: 16 events for a try, 23 per wait-then-run loop; the limit after ~1,086 loops', () => {
    expect(estimateHistoryEvents('none')).toBe(0);
    expect(estimateHistoryEvents('lambda')).toBe(16);
    expect(estimateHistoryEvents('sensor', { loops: 1 })).toBe(39);
    expect(estimateHistoryEvents('sensor', { loops: 1086 })).toBeLessThanOrEqual(25_000);
    expect(estimateHistoryEvents('sensor', { loops: 1087 })).toBeGreaterThan(25_000);
    expect(estimateHistoryEvents('batch')).toBe(13);
    expect(estimateHistoryEvents('iterate', { items: 3000 })).toBe(21_027);
  });
});

describe('compileDag', () => {
  it('every task of a DAG that runs anything, in definition order: empty tasks are skipped', () => {
    const d = dag({ dagId: 'mixed' }, ({ task, empty, sensor: sense, batchJob }) => {
      const start = empty('start');
      const a = task('a', () => 1);
      const s = sense('s', () => true, { pokeInterval: '5s' });
      const b = batchJob('b', { jobQueue: 'q', jobDefinition: 'd', command: ['echo'] });
      const end = empty('end');
      start.before(a);
      a.before(s, b);
      end.after(s, b);
    });
    expect(compileDag(d.spec).map((t) => [t.taskId, t.machine])).toStrictEqual([
      ['a', 'try'],
      ['s', 'sensor'],
      ['b', 'batch'],
    ]);
    expect(compileDag(d.spec, { batchWatch: 'poll' }).map((t) => [t.taskId, t.machine])).toStrictEqual([
      ['a', 'try'],
      ['s', 'sensor'],
      ['b', 'try'],
    ]);
    expect(compileDag(d.spec)).toStrictEqual(d.spec.tasks.filter((t) => t.kind !== 'empty').map((t) => taskLifecycle(t)));
  });

  it('every task of every DAG in dags/ runs on one of the machines, with its settings', async () => {
    const seen = new Set<LifecycleMachine>();
    let count = 0;
    for (const spec of await exampleDags()) {
      for (const options of EVERY_MODE) {
        const compiled = compileDag(spec, options);
        expect(compiled.map((c) => c.taskId)).toStrictEqual(spec.tasks.filter((t) => t.kind !== 'empty').map((t) => t.taskId));
        for (const c of compiled) {
          const t = spec.tasks.find((x) => x.taskId === c.taskId)!;
          expect(LIFECYCLE_MACHINES).toContain(c.machine);
          expect(c.workflowType).toStrictEqual(MACHINE_WORKFLOW_TYPE[c.machine]);
          expect(c.settings).toStrictEqual(lifecycleSettings(t));
          seen.add(c.machine);
          count++;
        }
      }
    }
    expect(count).toBeGreaterThan(80);
    // dags/ has one Batch task, batch_fanout's run_job: mapped, submitted as array jobs in both watch modes.
    expect([...seen].sort()).toStrictEqual(['batch_array', 'iterate', 'try']);
  });
});

describe('asl-validator', () => {
  it('rejects a broken definition (so that "valid" below means something)', () => {
    const broken = { Comment: 'x', StartAt: 'A', States: { A: { Type: 'Pass', Next: 'Nowhere' } } } as unknown as StateMachineDefinition;
    expect(validate(broken)).toMatch(/^invalid:/);
  });

  it('accepts every machine in every mode, and the watcher, once the partition is substituted', () => {
    const defs: [string, StateMachineDefinition][] = EVERY_MODE.flatMap((o) => compileLifecycleMachines(o).map((c) => [`${c.machine} ${JSON.stringify(o)}`, c.definition] as [string, StateMachineDefinition]));
    defs.push(['watcher', compileBatchWatcher({ describeJobsArn: DESCRIBE }).definition]);
    expect(defs).toHaveLength(EVERY_MODE.reduce((n, o) => n + deployedMachines(o).length, 1));
    for (const [id, d] of defs) expect(`${id}: ${validate(withPartition(d))}`).toBe(`${id}: valid`);
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

  it('a missing function ARN is refused, by name, for every machine', () => {
    for (const machine of LIFECYCLE_MACHINES) {
      for (const name of ['taskRunnerArn', 'schedulerArn', 'sensorPokeArn'] as const) {
        expect(() => compileLifecycleMachine(machine, { ...OPTIONS, [name]: '' })).toThrowError(new RegExp(`^option '${name}' must be a non-empty string$`));
      }
    }
    expect(() => compileLifecycleMachines({ ...OPTIONS, schedulerArn: undefined as unknown as string })).toThrow("option 'schedulerArn' must be a non-empty string");
    expect(() => compileBatchWatcher({ describeJobsArn: '' })).toThrow("option 'describeJobsArn' must be a non-empty string");
  });
});

describe('contract helpers', () => {
  it('aslTimestamp rounds up to whole seconds (Step Functions truncates milliseconds) and drops the fraction', () => {
    expect(aslTimestamp(Date.UTC(2026, 0, 1, 12, 0, 0))).toBe('2026-01-01T12:00:00Z');
    expect(aslTimestamp(Date.UTC(2026, 0, 1, 12, 0, 0, 1))).toBe('2026-01-01T12:00:01Z');
    expect(aslTimestamp(Date.UTC(2026, 0, 1, 23, 59, 59, 999))).toBe('2026-01-02T00:00:00Z');
  });

  it("batchJobDetail reads the job from a .sync output or from a failed job's cause", () => {
    const detail = { JobId: 'j-1', JobName: 'reduce', Status: 'FAILED', Container: { ExitCode: 3 } };
    expect(batchJobDetail({ ...detail, Status: 'SUCCEEDED' })).toStrictEqual({ ...detail, Status: 'SUCCEEDED' });
    expect(batchJobDetail({ Error: 'States.TaskFailed', Cause: JSON.stringify(detail) })).toStrictEqual(detail);
    expect(batchJobDetail({ Error: 'States.Timeout', Cause: '' })).toBeNull();
    expect(batchJobDetail({ Error: 'States.TaskFailed', Cause: 'not json' })).toBeNull();
    expect(batchJobDetail({ Error: 'Batch.ClientException', Cause: 'queue not found' })).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------------
// Running the machines: aws-local-stepfunctions executes a definition (its partition substituted, as the
// local engine does); its Task states call local functions that answer as the handlers would (a
// lambda:invoke result is `{ Payload: <return value> }`).

type Handler = (input: any) => unknown;

interface Run {
  output: unknown;
  /** States entered, in order; `Name#i` inside Map iteration i. */
  path: string[];
  /** The input of each state entered, in the same order. */
  inputs: { state: string; input: any }[];
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
  const sm = new StateMachine(withPartition(definition) as unknown as LocalDefinition, { validationOptions: { checkArn: false } });
  const ex = sm.run(input as never, { overrides: { taskResourceLocalHandlers: local, ...overrides }, ...(context ? { context } : {}) });
  const path: string[] = [];
  const inputs: Run['inputs'] = [];
  const events = (async () => {
    for await (const e of ex.eventLogs) {
      if (e.type !== 'StateEntered') continue;
      const name = e.index === undefined ? e.state.name : `${e.state.name}#${e.index}`;
      path.push(name);
      inputs.push({ state: name, input: e.state.input });
    }
  })();
  const output = await ex.result;
  await events;
  return { output, path, inputs, calls };
}

const KEY = { dagId: 'etl', runId: 'manual__2026-01-01T00:00:00+00:00', taskId: 'extract', mapIndex: -1 };

/** A lifecycle execution's input, as the dispatcher starts it: the task's settings in it. */
function lifecycleInput(spec: TaskSpec, tryNumber = 1): LifecycleInput {
  return { key: { ...KEY, taskId: spec.taskId }, dagId: 'etl', tryNumber, settings: lifecycleSettings(spec) };
}

function lambdaError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

const DONE = { Payload: { action: 'done' } };

/**
 * aws-local-stepfunctions forwards the events of a Map's iterations to the execution's log
 * asynchronously, and closes the log when the execution ends: a step after the Map gives them a moment
 * to arrive, so that the path shows every iteration's states.
 */
async function afterMapEvents<T>(value: T): Promise<T> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return value;
}

describe('the machines run on aws-local-stepfunctions', () => {
  it('try: one invocation runs and reports the try; the execution ends with it', async () => {
    const { definition } = compileLifecycleMachine('try', OPTIONS);
    const input = lifecycleInput(extract, 2);
    const run = await runLocally(definition, input, { RunTry: () => DONE });
    expect(run.path).toStrictEqual(['RunTry']);
    expect(run.calls).toStrictEqual([{ state: 'RunTry', payload: { mode: 'run', key: input.key, tryNumber: 2 } }]);
    // ResultPath null: the reply is dropped, the output is the input.
    expect(run.output).toStrictEqual(input);
  });

  it('try: a failed invocation (the function crashed) is reported as a retriable failure, and the execution ends', async () => {
    const { definition } = compileLifecycleMachine('try', OPTIONS);
    const input = lifecycleInput(extract);
    const run = await runLocally(definition, input, {
      RunTry: () => {
        throw lambdaError('Lambda.Unknown', 'Runtime exited with error: signal: killed');
      },
      Report: () => ({ Payload: { action: 'wait', at: '2026-01-01T00:05:00Z', event: { type: 'retry', key: input.key, tryNumber: 1 } } }),
    });
    expect(run.path).toStrictEqual(['RunTry', 'TryFailed', 'Report']);
    expect(run.calls[1]).toStrictEqual({
      state: 'Report',
      payload: {
        type: 'try_finished',
        key: input.key,
        tryNumber: 1,
        result: { kind: 'failure', error: 'Lambda.Unknown: Runtime exited with error: signal: killed', retriable: true },
      },
    });
    // The scheduler's reply is not read: a retry after its delay starts elsewhere.
    expect(run.output).toStrictEqual({
      ...input,
      error: { Error: 'Lambda.Unknown', Cause: 'Runtime exited with error: signal: killed' },
      try: { result: { kind: 'failure', error: 'Lambda.Unknown: Runtime exited with error: signal: killed', retriable: true } },
    });
  });

  it('sensor: pokes until the condition holds, each wait the poke function\'s reply; a failed poke is reported and the loop goes on', async () => {
    const { definition } = compileLifecycleMachine('sensor', OPTIONS);
    const input = lifecycleInput(sensor);
    let pokes = 0;
    const wait = { action: 'wait', at: '2026-01-01T00:01:00Z', event: { type: 'resume', key: input.key, tryNumber: 1 } };
    const run = await runLocally(
      definition,
      input,
      {
        RunTry: () => {
          pokes++;
          if (pokes === 2) throw lambdaError('Lambda.Unknown', 'Runtime exited with error: signal: killed');
          return { Payload: pokes < 3 ? wait : { action: 'done' } };
        },
        Report: (p) => ({ Payload: { ...wait, event: { ...wait.event, tryNumber: p.tryNumber } } }),
        // The same try resumes: tryNumber stays 1.
        Timer: (p) => ({ Payload: { action: 'run', tryNumber: p.event.tryNumber } }),
      },
      { waitTimeOverrides: { WaitUntil: 0 } },
    );
    expect(pokes).toBe(3);
    const loop = ['Decide', 'WaitUntil', 'Timer', 'Decide', 'NextTry', 'RunTry'];
    expect(run.path).toStrictEqual(['RunTry', ...loop, 'TryFailed', 'Report', ...loop, 'Decide', 'Done']);
    expect(run.calls.filter((c) => c.state === 'RunTry').map((c) => c.payload)).toStrictEqual(Array.from({ length: 3 }, () => ({ mode: 'poke', key: input.key, tryNumber: 1 })));
    expect(run.calls.find((c) => c.state === 'Report')?.payload).toStrictEqual({
      type: 'try_finished',
      key: input.key,
      tryNumber: 1,
      result: { kind: 'failure', error: 'Lambda.Unknown: Runtime exited with error: signal: killed', retriable: true },
    });
  });

  const JOB = { JobName: 'reduce-1', JobQueue: 'q', JobDefinition: 'd', ContainerOverrides: { Command: ['run'] }, ArrayProperties: {}, Timeout: { AttemptDurationSeconds: 3600 } };

  /** The name the scheduler gave the `batch` execution (the dispatch's name), in its context object. */
  const DISPATCH = { Execution: { Name: 'etl-reduce-1-abc123' } };

  it('batch: the job is prepared and the batch_job execution started, named as this execution, with the key, the try and the job; nothing waits here', async () => {
    const { definition } = compileLifecycleMachine('batch', OPTIONS);
    const input = lifecycleInput(batchTask);
    const run = await runLocally(
      definition,
      input,
      { Prepare: () => ({ Payload: { submit: JOB } }), StartJob: () => ({ ExecutionArn: 'arn:aws:states:eu-west-1:123456789012:execution:BatchJob:etl-reduce-1-abc123', StartDate: '2026-01-01T00:00:00Z' }) },
      {},
      DISPATCH,
    );
    expect(run.path).toStrictEqual(['Prepare', 'CheckPrepared', 'StartJob']);
    expect(run.calls).toStrictEqual([
      { state: 'Prepare', payload: { mode: 'batch_prepare', key: input.key, tryNumber: 1 } },
      {
        state: 'StartJob',
        payload: { StateMachineArn: '${BatchJobMachineArn}', Name: 'etl-reduce-1-abc123', Input: { key: input.key, dagId: 'etl', tryNumber: 1, submit: JOB } },
      },
    ]);
    // ResultPath null: the started execution's ARN is dropped; the execution ends with the start.
    expect(run.output).toStrictEqual({ ...input, try: { submit: JOB } });
  });

  it('batch: nothing to submit (the runner reported the try) ends at Done and starts nothing; a failed Prepare or StartJob is reported', async () => {
    const { definition } = compileLifecycleMachine('batch', OPTIONS);
    const input = lifecycleInput(batchTask);
    const none = await runLocally(definition, input, { Prepare: () => ({ Payload: { submit: null } }) }, {}, DISPATCH);
    expect(none.path).toStrictEqual(['Prepare', 'CheckPrepared', 'Done']);
    expect(none.calls.map((c) => c.state)).toStrictEqual(['Prepare']);
    const failures: [string, Record<string, Handler>, string[], string][] = [
      [
        'Prepare',
        {
          Prepare: () => {
            throw lambdaError('Error', 'store unreachable');
          },
        },
        ['Prepare', 'TryFailed', 'Report'],
        'Error: store unreachable',
      ],
      [
        'StartJob',
        {
          Prepare: () => ({ Payload: { submit: JOB } }),
          StartJob: () => {
            throw lambdaError('StepFunctions.StateMachineDoesNotExistException', 'State Machine Does Not Exist');
          },
        },
        ['Prepare', 'CheckPrepared', 'StartJob', 'TryFailed', 'Report'],
        'StepFunctions.StateMachineDoesNotExistException: State Machine Does Not Exist',
      ],
    ];
    for (const [failing, handlers, path, error] of failures) {
      const run = await runLocally(definition, input, { ...handlers, Report: () => DONE }, {}, DISPATCH);
      expect(run.path, failing).toStrictEqual(path);
      expect(run.calls.at(-1), failing).toStrictEqual({ state: 'Report', payload: { type: 'try_finished', key: input.key, tryNumber: 1, result: { kind: 'failure', error, retriable: true } } });
    }
  });

  /** The input the `batch` execution starts `batch_job` with (its StartJob's `Input`, as run above). */
  async function batchJobInput(): Promise<any> {
    const { definition } = compileLifecycleMachine('batch', OPTIONS);
    const run = await runLocally(definition, lifecycleInput(batchTask), { Prepare: () => ({ Payload: { submit: JOB } }), StartJob: () => ({}) }, {}, DISPATCH);
    const started = run.calls.find((c) => c.state === 'StartJob')?.payload;
    return started.Input;
  }

  it('batch_job: the job with its Timeout is submitted and waited for; Complete gets the job (or the caught error) and ends the execution', async () => {
    const { definition } = compileLifecycleMachine('batch_job', OPTIONS);
    const input = await batchJobInput();
    expect(input).toStrictEqual({ key: { ...KEY, taskId: 'reduce' }, dagId: 'etl', tryNumber: 1, submit: JOB });
    for (const outcome of ['SUCCEEDED', 'FAILED'] as const) {
      const run = await runLocally(definition, input, {
        Submit: (p) => {
          if (outcome === 'FAILED') throw lambdaError('States.TaskFailed', JSON.stringify({ JobId: 'j-1', JobName: p.JobName, Status: 'FAILED' }));
          return { JobId: 'j-1', JobName: p.JobName, Status: 'SUCCEEDED' };
        },
        Complete: () => DONE,
      });
      expect(run.path).toStrictEqual(['Submit', 'Complete']);
      expect(run.calls.map((c) => c.state)).toStrictEqual(['Submit', 'Complete']);
      expect(run.calls[0]?.payload).toStrictEqual(JOB);
      const job =
        outcome === 'SUCCEEDED'
          ? { JobId: 'j-1', JobName: 'reduce-1', Status: 'SUCCEEDED' }
          : { Error: 'States.TaskFailed', Cause: JSON.stringify({ JobId: 'j-1', JobName: 'reduce-1', Status: 'FAILED' }) };
      expect(run.calls[1]?.payload).toStrictEqual({ mode: 'batch_complete', key: input.key, tryNumber: 1, job });
      expect(run.output).toStrictEqual({ ...input, job });
    }
  });

  it('batch_job: a failed Complete invocation is reported, and the execution ends', async () => {
    const { definition } = compileLifecycleMachine('batch_job', OPTIONS);
    const input = await batchJobInput();
    const crashed = await runLocally(definition, input, {
      Submit: () => ({ JobId: 'j-1', JobName: 'reduce-1', Status: 'SUCCEEDED' }),
      Complete: () => {
        throw lambdaError('Error', 'store unreachable');
      },
      Report: () => DONE,
    });
    expect(crashed.path).toStrictEqual(['Submit', 'Complete', 'TryFailed', 'Report']);
    expect(crashed.calls.at(-1)?.payload).toStrictEqual({
      type: 'try_finished',
      key: input.key,
      tryNumber: 1,
      result: { kind: 'failure', error: 'Error: store unreachable', retriable: true },
    });
  });

  it("iterate: an item is retried up to the settings' itemRetries after the settings' delays, a NonRetriableError never; failures recorded, the Map completes", async () => {
    const { definition } = compileLifecycleMachine('iterate', OPTIONS);
    const input = lifecycleInput(iterated);
    const attempts = new Map<number, number>();
    const run = await runLocally(
      definition,
      input,
      {
        Prepare: () => ({ Payload: { items: [0, 1, 2, 3], itemsObject: null } }),
        RunItem: (p) => {
          const n = (attempts.get(p.index) ?? 0) + 1;
          attempts.set(p.index, n);
          if (p.index === 1 && n === 1) throw lambdaError('Error', 'flaky');
          if (p.index === 2) throw lambdaError('NonRetriableError', 'bad input');
          if (p.index === 3) throw lambdaError('Error', 'always fails');
          return { Payload: { index: p.index } };
        },
        Complete: () => afterMapEvents(DONE),
      },
      { waitTimeOverrides: { WaitItemRetry: 0 } },
    );
    // itemRetries 3: item 3 runs 4 times; item 1 succeeds on its retry; item 2 is not retried.
    expect(Object.fromEntries(attempts)).toStrictEqual({ 0: 1, 1: 2, 2: 1, 3: 4 });
    expect(run.path.filter((s) => s.startsWith('ItemFailed')).sort()).toStrictEqual(['ItemFailed#2', 'ItemFailed#3']);
    expect(run.path.filter((s) => !s.includes('#'))).toStrictEqual(['Prepare', 'CheckPrepared', 'Items', 'Complete']);
    // Each retry waits the delay the settings give for that attempt.
    expect(run.inputs.filter((i) => i.state === 'WaitItemRetry#3').map((i) => [i.input.attempt, i.input.delay])).toStrictEqual([
      [1, 1],
      [2, 2],
      [3, 4],
    ]);
    expect(run.inputs.find((i) => i.state === 'RunItem#0')?.input).toStrictEqual({ key: input.key, tryNumber: 1, index: 0, itemRetries: 3, itemRetryDelays: [1, 2, 4], attempt: 0 });
    expect(run.calls.find((c) => c.state === 'RunItem')?.payload).toStrictEqual({ mode: 'item', key: input.key, tryNumber: 1, index: 0 });
    expect(run.calls.at(-1)).toStrictEqual({ state: 'Complete', payload: { mode: 'iterate_complete', key: input.key, tryNumber: 1 } });
  });

  it("iterate: the same machine serves a task without item retries (its settings say 0): a failed item is recorded at once", async () => {
    const { definition } = compileLifecycleMachine('iterate', OPTIONS);
    const input = lifecycleInput({ ...iterated, iterate: { ...iterated.iterate!, itemRetries: 0 } });
    let runs = 0;
    const run = await runLocally(definition, input, {
      Prepare: () => ({ Payload: { items: [5], itemsObject: null } }),
      RunItem: () => {
        runs++;
        throw lambdaError('Error', 'always fails');
      },
      Complete: () => afterMapEvents(DONE),
    });
    expect(runs).toBe(1);
    expect(run.path).toStrictEqual(['Prepare', 'CheckPrepared', 'Items', 'RunItem#0', 'CanRetryItem#0', 'ItemFailed#0', 'Complete']);
  });

  it('iterate: MaxConcurrencyPath bounds the items at once by the settings\' concurrency', async () => {
    const { definition } = compileLifecycleMachine('iterate', OPTIONS);
    const widest = async (concurrency: number) => {
      let running = 0;
      let most = 0;
      await runLocally(definition, lifecycleInput({ ...iterated, iterate: { ...iterated.iterate!, concurrency } }), {
        Prepare: () => ({ Payload: { items: [0, 1, 2, 3, 4, 5], itemsObject: null } }),
        RunItem: async (p) => {
          most = Math.max(most, ++running);
          // Let the other iterations start while this one runs.
          await new Promise((resolve) => setTimeout(resolve, 100));
          running--;
          return { Payload: p.index };
        },
        Complete: () => DONE,
      });
      return most;
    };
    expect(await widest(1)).toBe(1);
    expect(await widest(2)).toBe(2);
    expect(await widest(16)).toBe(6);
  });

  it('iterate: nothing to run (the runner reported the try) ends at Done; a failed Prepare invocation is reported', async () => {
    const { definition } = compileLifecycleMachine('iterate', OPTIONS);
    const input = lifecycleInput(iterated);
    const none = await runLocally(definition, input, { Prepare: () => ({ Payload: { items: null, itemsObject: null } }) });
    expect(none.path).toStrictEqual(['Prepare', 'CheckPrepared', 'Done']);
    const crashed = await runLocally(definition, input, {
      Prepare: () => {
        throw lambdaError('Error', 'no such run');
      },
      Report: () => DONE,
    });
    expect(crashed.path).toStrictEqual(['Prepare', 'TryFailed', 'Report']);
    expect(crashed.calls.at(-1)?.payload.result).toStrictEqual({ kind: 'failure', error: 'Error: no such run', retriable: true });
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
