/**
 * The service integrations the compiled state machines use, each as a Task state: `lambda:invoke`
 * (request-response) and `batch:submitJob.sync` (run a job), with the retries that belong to the
 * integration itself (infrastructure retries, never task retries); and the S3 actions a Distributed Map
 * reads its items with (`ItemReader`) and writes its results with (`ResultWriter`).
 */
import type { Catcher, PayloadTemplate, Retrier, TaskState } from './asl-types.ts';
import { taskState, type Next } from './states.ts';

export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
export const BATCH_SUBMIT_JOB_SYNC = 'arn:aws:states:::batch:submitJob.sync';
/** A Distributed Map's `ItemReader` resource: a JSON array in an S3 object. */
export const S3_GET_OBJECT = 'arn:aws:states:::s3:getObject';
/** A Distributed Map's `ResultWriter` resource. */
export const S3_PUT_OBJECT = 'arn:aws:states:::s3:putObject';

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
 * so replaying the event is safe. Three tries over about 7 s, then the execution fails and the periodic
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
  /** The function's return value lands at `ResultPath` wrapped by this selector (`$.Payload` is the value). */
  resultSelector?: PayloadTemplate;
  resultPath?: string | null;
  outputPath?: string | null;
  /** Retriers after the Lambda service retry. */
  retry?: Retrier[];
  catch?: Catcher[];
  next: Next;
}

/** A `lambda:invoke` Task: `{FunctionName, Payload}`, retried on Lambda service errors. */
export function invokeLambda(p: InvokeProps): TaskState {
  return taskState({
    ...(p.comment !== undefined ? { comment: p.comment } : {}),
    resource: LAMBDA_INVOKE,
    parameters: { FunctionName: p.functionName, Payload: p.payload },
    ...(p.timeoutSeconds !== undefined ? { timeoutSeconds: p.timeoutSeconds } : {}),
    ...(p.resultSelector !== undefined ? { resultSelector: p.resultSelector } : {}),
    ...(p.resultPath !== undefined ? { resultPath: p.resultPath } : {}),
    ...(p.outputPath !== undefined ? { outputPath: p.outputPath } : {}),
    retry: [lambdaServiceRetry(), ...(p.retry ?? [])],
    ...(p.catch !== undefined ? { catch: p.catch } : {}),
    next: p.next,
  });
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
