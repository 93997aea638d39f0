/**
 * The service integrations the compiled state machines use, each as a Task state with the IAM statements
 * its role needs (iam.ts): `lambda:invoke` (request-response), `batch:submitJob.sync` (run a job) and
 * `states:startExecution` (continue as new), with the retries that belong to the integration itself
 * (infrastructure retries, never task retries); and the Map state, whose Distributed mode starts child
 * executions and reads its items (`ItemReader`) and writes its results (`ResultWriter`) in S3.
 */
import type { Catcher, MapState, PayloadTemplate, Retrier, TaskState } from './asl-types.ts';
import { AslCompileError } from './compile-error.ts';
import { accountArn, STATE_MACHINE_NAME, type PolicyStatement, type WithPolicy } from './iam.ts';
import { mapState, taskState, type MapProps, type Next, type TaskProps } from './states.ts';

/**
 * The partition in the integrations' ARNs: a definition substitution (`${Partition}`) the deployment
 * resolves (`aws`, `aws-cn`, `aws-us-gov`), so one compiled definition serves every partition. A local
 * engine substitutes `aws` ({@link withPartition}).
 */
export const PARTITION = '${Partition}';

export const LAMBDA_INVOKE = `arn:${PARTITION}:states:::lambda:invoke`;
/** Invoke a function with the state's task token (`$$.Task.Token`) and wait until someone sends it back. */
export const LAMBDA_INVOKE_WAIT_FOR_TASK_TOKEN = `arn:${PARTITION}:states:::lambda:invoke.waitForTaskToken`;
export const BATCH_SUBMIT_JOB_SYNC = `arn:${PARTITION}:states:::batch:submitJob.sync`;
/** A Distributed Map's `ItemReader` resource: a JSON array in an S3 object. */
export const S3_GET_OBJECT = `arn:${PARTITION}:states:::s3:getObject`;
/** A Distributed Map's `ResultWriter` resource. */
export const S3_PUT_OBJECT = `arn:${PARTITION}:states:::s3:putObject`;
/** Start an execution (request-response: its ARN comes back, not its result). */
export const START_EXECUTION = `arn:${PARTITION}:states:::states:startExecution`;

/** A definition (any JSON) with its `${Partition}` placeholders replaced by `partition`. */
export function withPartition<T>(definition: T, partition = 'aws'): T {
  return JSON.parse(JSON.stringify(definition).split(PARTITION).join(partition)) as T;
}

/** The state machine whose role gets the statement, and its executions (`:<id>`) and Map Runs' child executions (`/<id>`). */
const OWN_STATE_MACHINE = accountArn('states', `stateMachine:${STATE_MACHINE_NAME}`);
const OWN_EXECUTIONS = [accountArn('states', `execution:${STATE_MACHINE_NAME}:*`), accountArn('states', `execution:${STATE_MACHINE_NAME}/*`)];

/** Transient errors of the Lambda service (not of the function), as AWS recommends retrying them. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/**
 * Retry a Lambda invocation that the Lambda service failed: 2 s, then doubling, 6 times, with full jitter
 * so that a thousand executions throttled at once do not retry at once. The worst case adds
 * 2 + 4 + 8 + 16 + 32 + 64 = 126 s.
 */
export function lambdaServiceRetry(): Retrier {
  return { ErrorEquals: [...LAMBDA_SERVICE_ERRORS], IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, JitterStrategy: 'FULL' };
}

/** Worst-case seconds {@link lambdaServiceRetry} adds to one invocation (without jitter). */
export const LAMBDA_SERVICE_RETRY_WORST_SECONDS = 126;

/**
 * Retry the scheduler function when it fails (a throttled table, a conflict): its handlers are idempotent,
 * so replaying the event is safe. Three tries over about 7 s, then the execution fails and the
 * reconcile repairs the instance.
 */
export function idempotentHandlerRetry(): Retrier {
  return { ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' };
}

/**
 * The errors of `batch:submitJob.sync` that mean the job was not created: Batch throttled SubmitJob
 * (50 calls per second per account, HTTP 429 `TooManyRequestsException`). Step Functions names a Batch
 * API error `Batch.<exception>`; a 429 has been seen both as `Batch.TooManyRequestsException` and, the
 * exception not being one of SubmitJob's modelled errors, as `Batch.AWSBatchException` with
 * "Status Code: 429; Error Code: TooManyRequestsException" in its cause. Not retried:
 * `Batch.ClientException` (a bad request: retrying repeats it), `Batch.ServerException` (a 500 may come
 * after the job was created: a retry could start the array twice), `States.TaskFailed` (the job ran
 * and failed: the scheduler decides), `States.Timeout`.
 */
export const BATCH_THROTTLING_ERRORS = ['Batch.TooManyRequestsException', 'Batch.AWSBatchException'];

/**
 * Retry a submission Batch throttled: 5 s, doubling, at most 2 minutes apart, 8 times (about 8.5
 * minutes in all before the wave reports the error), with full jitter, so that the groups of a large
 * fan-out (all submitted at once) and other tasks' submissions spread out instead of retrying together.
 */
export function batchThrottlingRetry(): Retrier {
  return { ErrorEquals: [...BATCH_THROTTLING_ERRORS], IntervalSeconds: 5, MaxAttempts: 8, BackoffRate: 2, MaxDelaySeconds: 120, JitterStrategy: 'FULL' };
}

export interface InvokeProps {
  comment?: string;
  functionName: string;
  payload: PayloadTemplate;
  timeoutSeconds?: number | null;
  /** A path to the timeout in the state's input (a per-task setting). */
  timeoutSecondsPath?: string;
  /** The function's return value lands at `ResultPath` wrapped by this selector (`$.Payload` is the value). */
  resultSelector?: PayloadTemplate;
  resultPath?: string | null;
  outputPath?: string | null;
  /** Retriers after the Lambda service retry. */
  retry?: Retrier[];
  catch?: Catcher[];
  next: Next;
}

/** A `lambda:invoke` Task: `{FunctionName, Payload}`, retried on Lambda service errors. Needs `lambda:InvokeFunction` on the function. */
export function invokeLambda(p: InvokeProps): WithPolicy<TaskState> {
  const state = taskState({
    ...(p.comment !== undefined ? { comment: p.comment } : {}),
    resource: LAMBDA_INVOKE,
    parameters: { FunctionName: p.functionName, Payload: p.payload },
    ...(p.timeoutSeconds !== undefined ? { timeoutSeconds: p.timeoutSeconds } : {}),
    ...(p.timeoutSecondsPath !== undefined ? { timeoutSecondsPath: p.timeoutSecondsPath } : {}),
    ...(p.resultSelector !== undefined ? { resultSelector: p.resultSelector } : {}),
    ...(p.resultPath !== undefined ? { resultPath: p.resultPath } : {}),
    ...(p.outputPath !== undefined ? { outputPath: p.outputPath } : {}),
    retry: [lambdaServiceRetry(), ...(p.retry ?? [])],
    ...(p.catch !== undefined ? { catch: p.catch } : {}),
    next: p.next,
  });
  return { state, statements: [{ actions: ['lambda:InvokeFunction'], resources: [{ arn: p.functionName }] }] };
}

/**
 * A `lambda:invoke.waitForTaskToken` Task: invokes the function with `payload` (which must carry
 * `$$.Task.Token`), then waits, holding nothing, until `SendTaskSuccess` (its output is the state's
 * result), `SendTaskFailure` (the state fails with its error) or the state's timeout (`States.Timeout`).
 * Retried on Lambda service errors. The state machine's role needs only `lambda:InvokeFunction` on the
 * function: whoever sends the token back needs `states:SendTaskSuccess` / `states:SendTaskFailure`.
 */
export function invokeLambdaWaitForTaskToken(p: Omit<InvokeProps, 'resultSelector' | 'outputPath'>): WithPolicy<TaskState> {
  if (!JSON.stringify(p.payload).includes('"$$.Task.Token"')) throw new AslCompileError(`a waitForTaskToken invocation of '${p.functionName}' must carry $$.Task.Token in its payload, or nothing can send it back`);
  const state = taskState({
    ...(p.comment !== undefined ? { comment: p.comment } : {}),
    resource: LAMBDA_INVOKE_WAIT_FOR_TASK_TOKEN,
    parameters: { FunctionName: p.functionName, Payload: p.payload },
    ...(p.timeoutSeconds !== undefined ? { timeoutSeconds: p.timeoutSeconds } : {}),
    ...(p.timeoutSecondsPath !== undefined ? { timeoutSecondsPath: p.timeoutSecondsPath } : {}),
    ...(p.resultPath !== undefined ? { resultPath: p.resultPath } : {}),
    retry: [lambdaServiceRetry(), ...(p.retry ?? [])],
    ...(p.catch !== undefined ? { catch: p.catch } : {}),
    next: p.next,
  });
  return { state, statements: [{ actions: ['lambda:InvokeFunction'], resources: [{ arn: p.functionName }] }] };
}

/**
 * A `batch:submitJob.sync` Task (its Parameters from {@link submitJobParameters} and the like). Step
 * Functions submits the job, watches it through an EventBridge rule of its own and stops it when the
 * state is stopped or times out: SubmitJob on the queues and definitions, DescribeJobs (no resource-level
 * permission: `*`), TerminateJob on jobs (their ids are made at submission: `job/*`), and the rule.
 */
export function submitBatchJobSync(p: Omit<TaskProps, 'resource'>): WithPolicy<TaskState> {
  return {
    state: taskState({ ...p, resource: BATCH_SUBMIT_JOB_SYNC }),
    statements: [
      { actions: ['batch:SubmitJob'], resources: [{ deployment: 'batchJobQueuesAndDefinitions' }] },
      { actions: ['batch:DescribeJobs'], resources: [{ arn: '*' }] },
      { actions: ['batch:TerminateJob'], resources: [accountArn('batch', 'job/*')] },
      { actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'], resources: [accountArn('events', 'rule/StepFunctionsGetEventsForBatchJobsRule')] },
    ],
  };
}

/**
 * A `states:startExecution` Task that starts an execution of its own state machine (`$$.StateMachine.Id`).
 * `namePath`: where the state holds the new execution's name (default: none, Step Functions draws one).
 */
export function startOwnExecution(p: Omit<TaskProps, 'resource' | 'parameters'> & { input: PayloadTemplate; namePath?: string }): WithPolicy<TaskState> {
  const { input, namePath, ...rest } = p;
  return {
    state: taskState({ ...rest, resource: START_EXECUTION, parameters: { 'StateMachineArn.$': '$$.StateMachine.Id', ...(namePath !== undefined ? { 'Name.$': namePath } : {}), Input: input } }),
    statements: [{ actions: ['states:StartExecution'], resources: [OWN_STATE_MACHINE] }],
  };
}

/**
 * A `states:startExecution` Task that starts an execution of another state machine of the deployment
 * (request-response: it does not wait for it), named `name` (a path: the same name on a replay is the same
 * execution, Step Functions starting it once). Needs `states:StartExecution` on that machine.
 */
export function startExecution(p: Omit<TaskProps, 'resource' | 'parameters'> & { stateMachineArn: string; namePath: string; input: PayloadTemplate }): WithPolicy<TaskState> {
  const { input, namePath, stateMachineArn, ...rest } = p;
  return {
    state: taskState({ ...rest, resource: START_EXECUTION, parameters: { StateMachineArn: stateMachineArn, 'Name.$': namePath, Input: input } }),
    statements: [{ actions: ['states:StartExecution'], resources: [{ arn: stateMachineArn }] }],
  };
}

/**
 * A Map state. Its item processor's states declare their own statements (they are added to a nested
 * graph of the same definition). A Distributed Map starts its child executions as executions of its own
 * state machine and describes and stops them; an `ItemReader` reads its item list (`s3:GetObject`) and a
 * `ResultWriter` writes the results file (`s3:PutObject`, with what a multipart upload of a large one
 * needs), both in the large-value bucket.
 */
export function mapTask(p: MapProps): WithPolicy<MapState> {
  const statements: PolicyStatement[] = [];
  if (p.itemProcessor.ProcessorConfig.Mode === 'DISTRIBUTED') {
    statements.push({ actions: ['states:StartExecution'], resources: [OWN_STATE_MACHINE] }, { actions: ['states:DescribeExecution', 'states:StopExecution'], resources: OWN_EXECUTIONS });
  }
  if ('reader' in p.items) {
    if (p.items.reader.Resource !== S3_GET_OBJECT) throw new AslCompileError(`an ItemReader of '${p.items.reader.Resource}' has no IAM statements here (only '${S3_GET_OBJECT}')`);
    statements.push({ actions: ['s3:GetObject'], resources: [{ deployment: 'largeValueObjects' }] });
  }
  if (p.resultWriter !== undefined) {
    if (p.resultWriter.Resource !== S3_PUT_OBJECT) throw new AslCompileError(`a ResultWriter of '${p.resultWriter.Resource}' has no IAM statements here (only '${S3_PUT_OBJECT}')`);
    statements.push({ actions: ['s3:PutObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'], resources: [{ deployment: 'largeValueObjects' }] });
  }
  return { state: mapState(p), statements };
}

/** The `SubmitJob` parameters a `.sync` Task reads from `from` (a path to a SubmitJobParameters object). */
export function submitJobParameters(from: string): PayloadTemplate {
  return {
    'JobName.$': `${from}.JobName`,
    'JobQueue.$': `${from}.JobQueue`,
    'JobDefinition.$': `${from}.JobDefinition`,
    'ContainerOverrides.$': `${from}.ContainerOverrides`,
    'ArrayProperties.$': `${from}.ArrayProperties`,
  };
}
