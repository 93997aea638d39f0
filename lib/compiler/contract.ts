/**
 * The contract between the compiled state machines and the Lambda handlers they invoke. The state
 * machines hold no scheduling logic: the scheduler decides (retry or not, when, the next poke) and replies
 * with a {@link NextAction}; the state machine only invokes, waits until a timestamp it is given, and loops.
 *
 * ## A task lifecycle execution
 *
 * Input ({@link LifecycleInput}): `{ "key": {runId, taskId, mapIndex}, "dagId", "tryNumber", "settings" }`,
 * started by the scheduler when it dispatches a queued task instance, on the shared machine of the task's
 * lifecycle (`try`, `sensor`, `batch`, `iterate`, `hitl`), the task's own settings in `settings`.
 *
 * Its state data (JSONPath), which the handlers never see whole:
 * - `$.key`, `$.dagId`, `$.tryNumber`: the input; `$.tryNumber` is replaced by each `run` action.
 * - `$.try.result`: a failed {@link TryResult} built by the `TryFailed` state when an invocation itself
 *   failed (a step that ends a try reports its result to the scheduler in its own invocation).
 * - `$.try.submit` / `$.try.items` / `$.try.itemsObject`: what a prepare step returned (Batch /
 *   iteration); `$.try.results`: the `ResultWriter` manifest of an iteration whose items were in S3.
 * - `$.job`: a Batch job's `.sync` output, or the error that ended the wait for it.
 * - `$.error`: the last caught error, `{ "Error", "Cause" }`.
 * - `$.scheduler.next`: the scheduler's last reply.
 * - `$.try.wait` (`hitl`): how long to wait for the answer ({@link HitlPrepareOutput}); `$.answer`: what
 *   SendTaskSuccess sent back.
 *
 * ## A mapped Batch task's array fan-out execution
 *
 * Input ({@link ArrayFanoutInput}): `{ "waves": [ArrayLifecycleInput, ...] }`, one entry per group that
 * has a wave to start (right after expansion: every group). A Distributed Map runs each entry as a child
 * execution (the wave loop of its group), whose state data is:
 * - `$.array`, `$.dagId`, `$.tryNumber`: the entry; `$.tryNumber` is replaced by each `run` action.
 * - `$.wave`: what `array_prepare` returned ({@link ArrayPrepareOutput}).
 * - `$.submitted` (poll mode): `array_submit`'s reply; `$.poll`: the last `array_poll` reply.
 * - `$.job`: what `array_finished` receives as `job`.
 * - `$.scheduler.next`: the scheduler's last reply.
 *
 * ## Idempotency the handlers must provide
 * Step Functions retries an invocation after a Lambda service error (the function may have run), and a
 * Task that timed out may still be running. So every mode is idempotent per (key, tryNumber): a repeated
 * call returns the same answer and changes nothing. In particular the scheduler's reply is a function of
 * the task instance's state after handling the event, not of whether this call changed it (a replayed
 * `try_finished` for a try now `up_for_retry` replies the same `wait`).
 */
import type { ArrayRef } from '../core/arrays.ts';
import type { TimerEvent, TryResult } from '../core/events.ts';
import type { TiKey } from '../store/records.ts';
import type { LifecycleSettings } from './compile.ts';

export type { TryResult, TimerEvent, TiKey, ArrayRef };

/** Input of every task lifecycle execution. */
export interface LifecycleInput {
  key: TiKey;
  dagId: string;
  /** The try this execution starts (a resumed deferred try keeps its number). */
  tryNumber: number;
  /** The task's own settings (an iteration's concurrency and item retries, a fan-out's concurrency): the machine is shared. */
  settings: LifecycleSettings;
}

/**
 * The scheduler's reply: what the execution does next.
 * - `run`: start try `tryNumber` now (a new try after a retry delay, or the same try resumed after a poke
 *   interval) in this execution.
 * - `wait`: wait until `at` (a Wait state's `TimestampPath`), then deliver `event` back as a `timer`
 *   request. The state machine never looks inside `event`. Format `at` with {@link aslTimestamp}.
 * - `done`: end this execution. The instance is terminal, or it continues elsewhere: deferred until an
 *   external event (a triggered run, a watched Batch job), waiting for a pool slot (whoever frees the slot
 *   dispatches a new execution), or continued as new (see {@link MAX_LOOPS_PER_EXECUTION}).
 */
export type { NextAction } from '../core/lifecycle.ts';

/**
 * Input of a `batch_job` execution (a single Batch job's wait), started by the task's `batch` execution
 * under that execution's own name: the job it prepared, with its `Timeout`.
 */
export interface BatchJobInput {
  key: TiKey;
  dagId: string;
  tryNumber: number;
  submit: SubmitJobParameters & { Timeout: { AttemptDurationSeconds?: number } };
}

/**
 * Input of an array group's wave loop (a mapped Batch task submitted as array jobs; see
 * lib/core/arrays.ts): one child execution of the fan-out ({@link ArrayFanoutInput}) per group, started
 * for its first wave. Each wave runs `Prepare` (`array_prepare`) → `Submit` (sync: `batch:submitJob.sync`
 * of the array; poll: `array_submit`, then `array_poll` every `batchWatchIntervalSeconds` until done) →
 * `Report` (`array_finished`), then the scheduler's reply: `wait` (the failed children's retry delay)
 * then `timer` (`array_retry`), `run` (the next wave: `tryNumber` is its try), or `done`.
 */
export interface ArrayLifecycleInput {
  array: ArrayRef;
  dagId: string;
  /** The try of the wave this execution starts with. */
  tryNumber: number;
}

/**
 * Input of a mapped Batch task's array fan-out execution (lifecycle `batch_array`): the waves to start,
 * at most one per group. Its Distributed Map runs each as a child execution with the wave loop of
 * {@link ArrayLifecycleInput} (the child's input is the entry itself), `MaxConcurrency` groups at once
 * (the task's `maxActiveTisPerDag`, else unbounded); the execution ends when every group's loop is done.
 * The list is small (one entry per group of up to 10,000 map indexes: 10 entries for 100,000), so it
 * travels in the input, not in S3. A child execution fails only on a broken contract (an unknown
 * action) or an unreachable scheduler, and that fails the fan-out (`ToleratedFailurePercentage: 0`).
 */
export interface ArrayFanoutInput {
  waves: ArrayLifecycleInput[];
  /** The task's settings: `maxConcurrency` bounds the groups at once. */
  settings: LifecycleSettings;
}

/**
 * What `array_prepare` returns: the array job to submit for the wave's queued instances (marking them
 * running), or `submit: null` when the wave has no instance left to submit (a replay after they were
 * submitted and finished, or an instance whose input could not be resolved: it failed). `size` is the
 * number of children (1: a plain job). The children's items are in S3, named by the job's
 * `AIRLESS_ARRAY_MANIFEST` environment variable ({@link ArrayManifest}).
 */
export type ArrayPrepareOutput = { submit: ArraySubmitParameters; size: number } | { submit: null; size: 0 };

/**
 * The SubmitJob parameters of an array wave: {@link SubmitJobParameters} and the per-child timeout
 * (`{ AttemptDurationSeconds }` from the task's executionTimeout, at least Batch's 60 s; `{}` when none).
 */
export type ArraySubmitParameters = SubmitJobParameters & { Timeout: { AttemptDurationSeconds?: number } };

/** What `array_submit` returns (poll mode): the id of the wave's array job (the existing one on a replay). */
export interface ArraySubmitOutput {
  jobId: string;
}

/**
 * What `array_poll` returns (poll mode): `done: false, job: null` while the array job runs; once it has
 * ended, `done: true` and `job` as `batch:submitJob.sync` would have delivered it (the job detail when
 * it SUCCEEDED; `{ Error: "States.TaskFailed", Cause: <the detail as JSON> }` when it FAILED), so that
 * `array_finished` reads one shape in both watch modes. Neither watch mode has a timeout around the
 * wait: an array can queue for hours while its children each run minutes, so the task's
 * executionTimeout is each child's own (`Timeout.AttemptDurationSeconds` of the SubmitJob, which Batch
 * applies to every child), and a child past it fails as any child does.
 */
export type ArrayPollOutput = { done: false; job: null } | { done: true; job: BatchJobOutcome };

/** Environment variable of an array job's children: the `s3://` URI of its {@link ArrayManifest}. */
export const ARRAY_MANIFEST_ENV = 'AIRLESS_ARRAY_MANIFEST';

/**
 * The items of an array job, in S3: child `i` (`AWS_BATCH_JOB_ARRAY_INDEX`) runs `items[i]`, the input of
 * map index `mapIndexes[i]`. A child reads its own entry (its command and environment; fields all
 * children share are also in the job's container overrides).
 */
export interface ArrayManifest {
  version: 1;
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  mapIndexes: number[];
  items: { command: string[] | null; environment: Record<string, string> }[];
}

/** Requests to the scheduler function; each returns a {@link NextAction}. */
export type SchedulerRequest =
  /** A try ended (or the runner did nothing: `result: null`). */
  | { type: 'try_finished'; key: TiKey; tryNumber: number; result: TryResult | null }
  /**
   * An array wave ended: `job` is the `.sync` output of its array job, the caught error, or `null` when
   * `array_prepare` had nothing to submit. The scheduler function asks Batch which children failed (one
   * ListJobs page per 100 failed children, one DescribeJobs per 100 of them) and settles every child.
   */
  | { type: 'array_finished'; array: ArrayRef; tryNumber: number; job: BatchJobOutcome | null }
  /** A `wait` action's time has come. */
  | { type: 'timer'; event: TimerEvent };

/**
 * Requests to the task-runner function. The steps that end a try (`run`, `batch_complete`,
 * `iterate_complete`, and `batch_prepare` / `iterate_prepare` when they end it without work) report it to
 * the scheduler in the same invocation, and return the {@link NextAction} of the scheduler's reply (always
 * `done` for these machines: what comes next starts in new executions).
 * - `run`: one try of a Lambda task (task, branch, short_circuit, trigger_dag; a Batch task in poll mode
 *   submits its job and defers), reported.
 * - `batch_prepare` → {@link BatchPrepareOutput}.
 * - `batch_complete`: the try's result from the job's `.sync` output or the caught error, reported.
 * - `array_prepare` → {@link ArrayPrepareOutput}.
 * - `array_submit` → {@link ArraySubmitOutput} (poll mode): submit `submit` as the wave's array job, once:
 *   a replay (a retried invocation) finds the job by its deterministic name and returns its id.
 * - `array_poll` → {@link ArrayPollOutput} (poll mode): ONE DescribeJobs call, for the array's parent job
 *   (never one per child; the children are counted in its `ArrayProperties.StatusSummary`).
 * - `iterate_prepare` → {@link IteratePrepareOutput}.
 * - `item` → any JSON (discarded): runs item `index`. Throws when the item fails, so that the item's retry
 *   loop (itemRetries) applies; an error named `NonRetriableError` is not retried.
 * - `iterate_complete`: success with every item's result, or a failure naming the
 *   items without one.
 * - `hitl_prepare` → {@link HitlPrepareOutput}: the try of a human-in-the-loop task runs (its request
 *   written, the instance deferred), reported.
 * - `hitl_token` (invoked by `lambda:invoke.waitForTaskToken`): store `token` on the try's request; when
 *   the request was answered already, send it back at once (SendTaskSuccess). Returns `done`.
 * - `hitl_complete` / `hitl_timeout`: the deferred try resumes with the answer (the state got its
 *   token back) or with what the timeout takes (the defaults, or none: the try fails), and runs to its
 *   end, reported.
 */
export type TaskRunnerRequest =
  | { mode: 'run'; key: TiKey; tryNumber: number }
  | { mode: 'batch_prepare'; key: TiKey; tryNumber: number }
  | { mode: 'batch_complete'; key: TiKey; tryNumber: number; job: BatchJobOutcome }
  | { mode: 'array_prepare'; array: ArrayRef; tryNumber: number }
  | { mode: 'array_submit'; array: ArrayRef; tryNumber: number; submit: ArraySubmitParameters }
  | { mode: 'array_poll'; array: ArrayRef; tryNumber: number; jobId: string }
  | { mode: 'iterate_prepare'; key: TiKey; tryNumber: number }
  | { mode: 'item'; key: TiKey; tryNumber: number; index: number }
  | { mode: 'iterate_complete'; key: TiKey; tryNumber: number }
  | { mode: 'hitl_prepare'; key: TiKey; tryNumber: number }
  | { mode: 'hitl_token'; key: TiKey; tryNumber: number; token: string }
  | { mode: 'hitl_complete'; key: TiKey; tryNumber: number }
  | { mode: 'hitl_timeout'; key: TiKey; tryNumber: number };

/**
 * Request to the sensor-poke function: one poke (not yet → `defer`), reported to the scheduler in the same
 * invocation; returns the scheduler's {@link NextAction} for the sensor's loop.
 */
export interface SensorPokeRequest {
  mode: 'poke';
  key: TiKey;
  tryNumber: number;
}

/**
 * The parameters of `batch:submitJob.sync`, as Step Functions names them (PascalCase at every depth).
 * Every field is required, because a JSONPath to a missing field fails the execution: give
 * `ContainerOverrides: {}` and `ArrayProperties: {}` when there are none.
 */
export interface SubmitJobParameters {
  JobName: string;
  JobQueue: string;
  JobDefinition: string;
  ContainerOverrides: {
    Command?: string[];
    Environment?: { Name: string; Value: string }[];
    ResourceRequirements?: { Type: 'VCPU' | 'MEMORY' | 'GPU'; Value: string }[];
    [field: string]: unknown;
  };
  /** `{ Size: n }` (2 to 10,000) for an array job, else `{}`. */
  ArrayProperties: { Size?: number };
}

/**
 * What `batch_prepare` returns: the job to submit, or `submit: null` when there is none (the try failed
 * while resolving its input, and the runner reported it; or the try is not running here).
 */
export interface BatchPrepareOutput {
  /** With the job's `Timeout` (the task's executionTimeout, at least Batch's 60 s; `{}` when none), which Batch enforces. */
  submit: (SubmitJobParameters & { Timeout: { AttemptDurationSeconds?: number } }) | null;
}

/**
 * An S3 object a state machine reads: a Distributed Map's `ItemReader` reads `Bucket`/`Key`, a JSON
 * array of item indexes; its `ResultWriter` writes the child executions' results under
 * `ResultsPrefix` in the same bucket (`<ResultsPrefix>/<map run id>/manifest.json` and result files).
 */
export interface ItemsObject {
  Bucket: string;
  Key: string;
  ResultsPrefix: string;
}

/**
 * The folder of the large-value bucket (under the store's key prefix) where `iterate_prepare` puts item
 * lists, and their Distributed Map writes its results: `<folder>/<runId>/<taskId>/<mapIndex>/try-<n>/`
 * (`items.json`, `results/`). Only a try needs them: the stack expires the folder by prefix after the
 * XCom retention.
 */
export const ITEM_LISTS_FOLDER = '_item-lists';

/**
 * Largest item list (bytes of its JSON) that `iterate_prepare` returns inline. A state's input and
 * output are capped at 256 KB: 200 KB leaves room for the rest of the execution's state (key, try,
 * scheduler reply). A longer list goes to S3 as `itemsObject` and runs in a Distributed Map whose
 * `ItemReader` reads it (at about 6 bytes an index, from some 30,000 items on). The history budget
 * ({@link ITEMS_INLINE_MAX_HISTORY_EVENTS}) sends a list to S3 long before that.
 */
export const ITEMS_INLINE_MAX_BYTES = 200 * 1024;

/**
 * History events that one try of an iteration may spend in its lifecycle's own (Standard) execution
 * when its items run inline: 20,000 of the 25,000 a Standard execution holds, the rest a margin for what
 * the estimate leaves out (the Lambda service's retries of throttled invocations, 3 events each). The
 * estimate counts every item at its worst (all its `itemRetries` used, then failed for good): 27 events
 * plus 9 per item without item retries, 3 more per item retry, so at most 2,219 items inline with
 * `itemRetries: 0`, 1,331 with 2 (`itemListPlacement` in lib/aws/item-list.ts). More items go to S3 and
 * run in a Distributed Map, whose items are child executions with histories of their own.
 */
export const ITEMS_INLINE_MAX_HISTORY_EVENTS = 20_000;

/**
 * What `iterate_prepare` returns: the item indexes still to run (inline in `items`, or as a JSON array in
 * the S3 object `itemsObject` when their JSON is over {@link ITEMS_INLINE_MAX_BYTES} or their inline Map
 * would spend more than {@link ITEMS_INLINE_MAX_HISTORY_EVENTS} of the execution's history), or neither
 * when there is nothing to run (the runner reported the try's result, or the try is not running here).
 * Both fields present, at least one of them null.
 */
export type IteratePrepareOutput = { items: number[]; itemsObject: null } | { items: null; itemsObject: ItemsObject } | { items: null; itemsObject: null };

/**
 * What `hitl_prepare` returns: how long the `hitl` machine waits for the answer (`TimeoutSecondsPath`:
 * whole seconds until the request's timeout, rounded up; without one, or past it, `HITL_MAX_WAIT_SECONDS`,
 * an hour short of a Standard execution's year), or `wait: null` when there is nothing to wait for (the try
 * ended in that step, answered before it deferred or failed, and was reported).
 */
export interface HitlPrepareOutput {
  wait: { timeoutSeconds: number } | null;
}

/** An error as a `Catch` delivers it. */
export interface CaughtError {
  Error: string;
  Cause: string;
}

/** DescribeJobs' job detail, as `batch:submitJob.sync` returns it on success (PascalCase fields). */
export interface BatchJobDetail {
  JobId: string;
  JobName: string;
  Status: string;
  StatusReason?: string;
  Container?: { ExitCode?: number; Reason?: string; LogStreamName?: string; [field: string]: unknown };
  ArrayProperties?: { Size?: number; StatusSummary?: Record<string, number>; [field: string]: unknown };
  [field: string]: unknown;
}

/**
 * What `batch_complete` receives as `job`: the job detail when it succeeded, or the caught error. A job
 * that ran and failed arrives as `{ Error: "States.TaskFailed", Cause: "<the job detail as JSON>" }`; an
 * error submitting it as `{ Error: "Batch.<Code>", Cause }`; the try's timeout as `States.Timeout`
 * (terminate the job then: the handler should not rely on Step Functions to stop it).
 */
export type BatchJobOutcome = BatchJobDetail | CaughtError;

/** Whether a `job` is an error rather than a job detail. */
export function isCaughtError(job: BatchJobOutcome): job is CaughtError {
  return typeof (job as Partial<CaughtError>).Error === 'string' && (job as Partial<BatchJobDetail>).JobId === undefined;
}

/**
 * The job detail carried by a Batch outcome: the success output itself, or the detail that a failed job's
 * `States.TaskFailed` cause holds as JSON. `null` for other errors (submission refused, timeout).
 */
export function batchJobDetail(job: BatchJobOutcome): BatchJobDetail | null {
  if (!isCaughtError(job)) return job;
  if (job.Error !== 'States.TaskFailed') return null;
  try {
    const detail = JSON.parse(job.Cause) as unknown;
    if (detail !== null && typeof detail === 'object' && typeof (detail as Partial<BatchJobDetail>).JobId === 'string') return detail as BatchJobDetail;
  } catch {
    // Not a job detail: an error of the integration itself.
  }
  return null;
}

// -----------------------------------------------------------------------------------------------------
// The Batch watcher (poll mode)

/** DescribeJobs takes at most this many job ids: one watcher execution watches at most this many jobs. */
export const WATCHER_MAX_JOB_IDS = 100;

/** Input of a Batch watcher execution. */
export interface BatchWatcherInput {
  /** 1 to {@link WATCHER_MAX_JOB_IDS} job ids. */
  jobIds: string[];
  /** Seconds between two DescribeJobs calls. */
  intervalSeconds: number;
}

/** Request to the describe-jobs function: ONE DescribeJobs call for all `jobIds`. */
export interface DescribeJobsRequest {
  jobIds: string[];
  intervalSeconds: number;
  /** `$$.Execution.StartTime`: with the interval it bounds the rounds this execution has made. */
  startedAt: string;
}

/**
 * What the describe-jobs function returns. It delivers each finished job to the scheduler itself (the
 * deferred instance waiting on it resumes) before returning; `finished` is there for the history.
 */
export interface DescribeJobsOutput {
  /** Jobs not yet SUCCEEDED or FAILED: the next round's `jobIds`. Empty ends the execution. */
  pending: string[];
  finished: { jobId: string; status: 'SUCCEEDED' | 'FAILED' }[];
  /** Seconds before the next round (the request's interval, or longer). */
  intervalSeconds: number;
  /**
   * Start a fresh watcher execution for `pending` and end this one: set it when this execution nears
   * the 25,000-event history limit (a round is about 9 events: say after 2,500 rounds).
   */
  continueAsNew: boolean;
}

// -----------------------------------------------------------------------------------------------------
// Timestamps

/**
 * A time as a Wait state's `TimestampPath` wants it: RFC 3339 with `T` and `Z` and no fraction of a
 * second. Step Functions truncates milliseconds, which would wake a timer early: this rounds up instead.
 */
export { aslTimestamp } from '../core/lifecycle.ts';

/**
 * Loops (a retry or a poke: about 23 history events each) after which the scheduler should continue a
 * lifecycle as new, keeping a Standard execution under its 25,000-event history limit: when it would
 * reply `run` to a `timer` past this many loops in the current execution, it dispatches a fresh
 * execution for the same try instead (whose first state runs it) and replies `done`.
 */
export const MAX_LOOPS_PER_EXECUTION = 1000;
