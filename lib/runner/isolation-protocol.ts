/**
 * What the runner and the worker of an isolated try say to each other (lib/runner/worker-isolation.ts and
 * lib/runner/try-worker.ts): structured-clone messages on the worker's port.
 */
import { NonRetriableError, SensorTimeoutError, SkipTask, StoreUnavailableError, TaskTimeoutError } from '../errors.ts';
import type { TryResult } from '../scheduler/host.ts';
import type { DagRunRecord, LogLine, TaskInstanceRecord } from '../store/records.ts';

/** What the worker gets at start (`workerData`). */
export interface TryWorkerData {
  /** The DAG file (absolute path), as the try's log names it. */
  file: string;
  /**
   * What the worker imports: the `file:` URL of the run's version's DAG file as its bundle was kept (the
   * code of that version, whatever the DAG file holds now), else of the DAG file.
   */
  url: string;
  /** The run's version's bundle (DagSpec.bundle); null for a DAG loaded with no bundle. */
  bundle: string | null;
  /** Whether `url` is the kept bundle's file; false: the DAG file, whose bundle's files must still hash as `code` says. */
  kept: boolean;
  /** The files of the version's bundle as they were loaded (Dag.code); null: unknown. */
  code: readonly { file: string; sha256: string }[] | null;
  dagId: string;
  /** The run's `dagVersion`: what is imported must define this version of the DAG. */
  version: string;
  taskId: string;
  run: DagRunRecord;
  ti: TaskInstanceRecord;
  /** The runner's time at dispatch when its clock is not the real one (a fake clock stands still while a try runs); null: `Date.now()`. */
  frozenNow: number | null;
  /** Route the code's console output into the try's log. */
  captureConsole: boolean;
  /** How store calls are retried (`retryTransient`'s numbers). */
  retry: { attempts?: number; baseMs?: number; maxMs?: number };
}

/** An error as it crosses the port: enough to rebuild it with its name, message and retry hints. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  retryable?: boolean;
  retryAfterMs?: number;
  /** A value thrown that is not an Error: its description. */
  nonError?: string;
}

/** Worker → runner. */
export type FromWorker =
  | { type: 'log'; level: LogLine['level']; message: string }
  | { type: 'store'; id: number; method: string; args: unknown[] }
  /** The file does not define the version the run uses (or cannot be loaded): the try runs in the runner's process. */
  | { type: 'unavailable'; reason: string; mismatch: boolean }
  /** The task's code is about to run: the executionTimeout's watch starts. */
  | { type: 'started' }
  | { type: 'result'; result: TryResult }
  /** A store call outside the task's code failed past its retries. */
  | { type: 'infrastructure'; where: string; cause: WireError; codeStarted: boolean };

/** Runner → worker. */
export type ToWorker =
  | { type: 'store'; id: number; ok: true; value: unknown }
  | { type: 'store'; id: number; ok: false; error: WireError }
  /** The try's signal fired (its run stopped, the runner closed): abort the try with this reason. */
  | { type: 'abort'; reason: WireError };

export function toWire(e: unknown): WireError {
  if (e instanceof Error) {
    const extra = e as { retryable?: unknown; retryAfterMs?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(typeof e.stack === 'string' ? { stack: e.stack } : {}),
      ...(typeof extra.retryable === 'boolean' ? { retryable: extra.retryable } : {}),
      ...(typeof extra.retryAfterMs === 'number' ? { retryAfterMs: extra.retryAfterMs } : {}),
    };
  }
  let text: string;
  try {
    text = JSON.stringify(e);
  } catch {
    text = String(e);
  }
  return { name: 'Error', message: text, nonError: text };
}

const KNOWN: Record<string, new (message: string) => Error> = {
  NonRetriableError,
  SkipTask,
  TaskTimeoutError,
  SensorTimeoutError,
};

/**
 * The error again, on the other side: the airless errors whose class matters (a NonRetriableError is not
 * retried) as their class, a StoreUnavailableError with its retry hint, anything else an Error with the
 * same name and message.
 */
export function fromWire(w: WireError): Error {
  let e: Error;
  if (w.name === 'StoreUnavailableError') {
    e = new StoreUnavailableError(w.message, { final: w.retryable === false, ...(w.retryAfterMs === undefined ? {} : { retryAfterMs: w.retryAfterMs }) });
    // AirlessError prefixes the location; there is none, so the message is the same.
  } else if (KNOWN[w.name]) {
    e = new KNOWN[w.name]!(w.message);
  } else {
    e = new Error(w.message);
    if (w.name !== 'Error') Object.defineProperty(e, 'name', { value: w.name, configurable: true, writable: true });
    if (w.retryable !== undefined) Object.defineProperty(e, 'retryable', { value: w.retryable });
  }
  if (w.stack) e.stack = w.stack;
  return e;
}

/** The store methods an isolated try may call (what its runner and its task's context use). */
export const ISOLATED_STORE_METHODS = new Set([
  'getRun',
  'getTaskInstance',
  'updateTaskInstance',
  'getXCom',
  'listXComs',
  'listTaskXComs',
  'putXCom',
  'putItemResult',
  'listItemResults',
  'appendPipelineSave',
  'listPipelineSaves',
  'getVariable',
  'getConnection',
]);
