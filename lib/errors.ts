/**
 * Typed errors with stable `name`s. Every error that reaches a user names what was wrong:
 * the file, the DAG, the task and the field, as far as they are known.
 */
import { formatError, serializeError, type ErrorInfo } from './error-info.ts';

export interface ErrorLocation {
  file?: string;
  dagId?: string;
  taskId?: string;
  field?: string;
}

function where(loc: ErrorLocation): string {
  const parts: string[] = [];
  if (loc.file !== undefined) parts.push(`file ${loc.file}`);
  if (loc.dagId !== undefined) parts.push(`DAG '${loc.dagId}'`);
  if (loc.taskId !== undefined) parts.push(`task '${loc.taskId}'`);
  if (loc.field !== undefined) parts.push(`field '${loc.field}'`);
  return parts.length ? `${parts.join(', ')}: ` : '';
}

/** Base class for every error airless raises itself. */
export class AirlessError extends Error {
  override name = 'AirlessError';
  readonly location: ErrorLocation;
  readonly detail: string;
  constructor(detail: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super(`${where(location)}${detail}`, options);
    this.detail = detail;
    this.location = location;
  }
}

/** A DAG definition is invalid (cycle, duplicate id, bad option, bad schedule, bad param default...). */
export class DagDefinitionError extends AirlessError {
  override name = 'DagDefinitionError';
}

/** A DAG file could not be imported (syntax error, missing module, or a DagDefinitionError inside). */
export class DagImportError extends AirlessError {
  override name = 'DagImportError';
}

/** A cycle in the task graph; `cycle` lists the task ids, first repeated at the end. */
export class DagCycleError extends DagDefinitionError {
  override name = 'DagCycleError';
  constructor(readonly cycle: string[], location: ErrorLocation) {
    super(`cycle detected: ${cycle.join(' -> ')}`, location);
  }
}

/** Conf given at trigger time does not satisfy the DAG's params. */
export class ParamValidationError extends AirlessError {
  override name = 'ParamValidationError';
}

/** A run with that id exists already, and the trigger asked for a new one (`exclusive`). */
export class RunExistsError extends AirlessError {
  override name = 'RunExistsError';
}

/**
 * A run's DAG version is not loaded (its DAG file changed, or is gone, since the run started), so the
 * run cannot go on: it fails with this message as its note.
 */
export class DagVersionUnavailableError extends AirlessError {
  override name = 'DagVersionUnavailableError';
}

/** No DAG with that id in the DAG bag. */
export class DagNotFoundError extends AirlessError {
  override name = 'DagNotFoundError';
}

/**
 * The state store could not be reached or refused for a while (a lock held by another process, throttling,
 * a network error): an infrastructure failure, never a task's. `retryable` errors are retried with backoff
 * by the store's callers; the API answers 503 with `Retry-After` when one reaches it.
 */
export class StoreUnavailableError extends AirlessError {
  override name = 'StoreUnavailableError';
  /** False once the store has retried it for as long as it allows (`final`): callers do not retry it again. */
  readonly retryable: boolean;
  /** How long to wait before trying again, when the store knows (ms). */
  readonly retryAfterMs: number | undefined;
  constructor(detail: string, options?: { cause?: unknown; retryAfterMs?: number; final?: boolean }) {
    super(detail, {}, options);
    this.retryAfterMs = options?.retryAfterMs;
    this.retryable = !options?.final;
  }
}

/** Thrown by task code: fail this task now, with no further tries. */
export class NonRetriableError extends Error {
  override name = 'NonRetriableError';
}

/** Thrown by task code: mark this task instance skipped. */
export class SkipTask extends Error {
  override name = 'SkipTask';
  constructor(message = 'task skipped') {
    super(message);
  }
}

/** The task ran past its executionTimeout; its AbortSignal fired. Retryable. */
export class TaskTimeoutError extends Error {
  override name = 'TaskTimeoutError';
}

/** A sensor did not succeed within its timeout. Not retried (as in Airflow). */
export class SensorTimeoutError extends Error {
  override name = 'SensorTimeoutError';
}

/** A task's result could not be stored as XCom (not JSON-serialisable). */
export class XComSerializationError extends Error {
  override name = 'XComSerializationError';
}

/** Dynamic task mapping got something other than a list (or object) at run time. */
export class MappingError extends Error {
  override name = 'MappingError';
}

/** The triggered DAG run ended in one of the failed states. */
export class TriggeredRunFailedError extends Error {
  override name = 'TriggeredRunFailedError';
}

/** A task's slot limits cannot be met: its pool does not exist, or it asks more slots than the pool has. */
export class PoolError extends Error {
  override name = 'PoolError';
}

/**
 * A try stopped without reporting how it ended (its process, Lambda invocation or lifecycle execution
 * ended; its runner gave up on the store): it fails, retriable.
 */
export class LostTryError extends Error {
  override name = 'LostTryError';
}

/**
 * A Batch job (or array child) was still RUNNABLE when its task's `runnableTimeout` passed (no compute
 * environment could place it): it is stopped, with this as its reason.
 */
export class RunnableTimeoutError extends Error {
  override name = 'RunnableTimeoutError';
}

/** Something the deployment must provide is missing (e.g. the bucket an array job's manifest goes to). */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

/** A try that was to run did not start: its instance was not queued for it (`airless tasks test`). */
export class TryNotStartedError extends Error {
  override name = 'TryNotStartedError';
}

/** A Batch job (an array job's child) ended FAILED: its message names the job and says why. */
export class BatchJobFailedError extends Error {
  override name = 'BatchJobFailedError';
}

/** The error a try gets when the standalone server stopped (or was killed) while it ran. */
export class StandaloneInterruptedError extends Error {
  override name = 'StandaloneInterruptedError';
}

/** A run the standalone server cannot resume at start (its DAG is not loaded): the run's note. */
export class StandaloneResumeError extends Error {
  override name = 'StandaloneResumeError';
}

/** A try's worker thread reached its heap limit. */
export class TaskOutOfMemoryError extends Error {
  override name = 'TaskOutOfMemoryError';
}

/** A try's worker thread ended without saying how the try ended. */
export class TaskCrashedError extends Error {
  override name = 'TaskCrashedError';
}

/** An error of task code that could not be pinned on one of the tries running at the time. */
export class UnattributedCrashError extends Error {
  override name = 'UnattributedCrashError';
}

/**
 * Why the scheduler settled a task instance without running it, when that is not a skip (an instance
 * created again after a lost write): a note on the instance, not a failure of its code.
 */
export class SchedulerNote extends Error {
  override name = 'SchedulerNote';
}

/**
 * The structured failure of an error airless makes to describe how a try ended (not one thrown by task
 * code): name, message and cause chain, without the stack (it would name airless's code).
 */
export function failureInfo(e: Error): ErrorInfo {
  return serializeError(e, { stack: false });
}

/** Why a task instance was skipped, as its error field holds it: a `SkipTask` with the reason as message. */
export function skipInfo(reason: string): ErrorInfo {
  return failureInfo(new SkipTask(reason));
}

/** `"Name: message"` of any thrown value, never losing it (a value that is no Error: `NonError: <its JSON>`). */
export function errorMessage(e: unknown): string {
  return formatError(serializeError(e, { stack: false }));
}

/** A human-in-the-loop task's timeout passed with no answer and no defaults to take. */
export class HitlTimeoutError extends Error {
  override name = 'HitlTimeoutError';
}

/** An approval was rejected and its task fails on a reject (`failOnReject`). */
export class HitlRejectedError extends Error {
  override name = 'HitlRejectedError';
}
