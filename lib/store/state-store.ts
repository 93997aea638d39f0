import type { RunState, TerminalTiState, TiState } from '../model/states.ts';
import type {
  BackfillRecord,
  DagRecord,
  DagRunRecord,
  DagVersionEntry,
  DagVersionRecord,
  LogLine,
  PipelineSave,
  PoolRecord,
  RunRef,
  TaskInstanceRecord,
  TaskStateRecord,
  TiKey,
  XComRecord,
} from './records.ts';
import type { SecretsStore } from '../secrets/records.ts';
import type { HitlStore } from './hitl-records.ts';

/** Condition on a task instance for a transition: its current state (and try) must match. */
export interface TiExpectation {
  states: readonly TiState[];
  tryNumber?: number;
}

/** Units of a counting semaphore a holder gives back (see {@link StateStore.release}). */
export interface SlotRelease {
  name: string;
  n: number;
  holder: string;
}

export interface FinishRequest {
  /** The instance to finish. If `create` is set, it must not exist yet and is created in `state`. */
  key: TiKey;
  expect: TiExpectation | 'absent';
  create?: Omit<TaskInstanceRecord, 'state'>;
  state: TerminalTiState;
  patch: Partial<TaskInstanceRecord>;
  /** Direct downstream task ids whose upstream tally this outcome counts in. */
  downstream: readonly string[];
  /**
   * Units given back in the same step as the finish, each as {@link StateStore.release} (nothing for a
   * holder that holds none). Only `finishTaskInstance` takes them. Default: none.
   */
  release?: readonly SlotRelease[];
}

export interface FinishResult {
  ti: TaskInstanceRecord;
  /** The run's pending count after this instance finished (0: every instance has finished). */
  pending: number;
  /** Downstream task states after the tally was updated, in the order of `downstream`. */
  downstream: TaskStateRecord[];
  /** The run as read after the finish, when the store read it anyway (undefined: not read). */
  run?: DagRunRecord;
  /**
   * Of the request's `release` names, those that may have waiters queued (as `release` returns it);
   * undefined: not known, every one may.
   */
  waiters?: readonly string[];
}

/** One conditional transition of many (see {@link StateStore.updateTaskInstances}). */
export interface TiUpdate {
  key: TiKey;
  expect: TiExpectation;
  patch: Partial<TaskInstanceRecord>;
}

/** What finishing many instances of one task did. */
export interface BulkFinishResult {
  /** Per request, in order: whether it applied (false: its condition failed, nothing changed for it). */
  applied: boolean[];
  /** The run's pending count after them all. */
  pending: number;
  /** The task's downstream task states after them all, in the order of the requests' `downstream`. */
  downstream: TaskStateRecord[];
}

/**
 * Undo what finishing an instance did (clearing it): one of {@link StateStore.resetTaskInstances}.
 * The instance must still be in `expect.state` at `expect.tryNumber`; the reset uncounts that state from
 * its own task's tally and from each downstream task's upstream tally, and adds 1 to the run's pending
 * count.
 */
export interface ResetRequest {
  key: TiKey;
  expect: { state: TerminalTiState; tryNumber: number };
  /**
   * Where the instance goes: a patch moving it back to `scheduled` (it runs again; its task stays
   * decided), or 'absent': it is deleted (its task is decided again, or a mapped task expands again).
   */
  to: Partial<TaskInstanceRecord> | 'absent';
  /**
   * With `to: 'absent'`, for the one instance of a task that is not expanded: the task becomes
   * undecided again in the same step, its next instance continuing from try `priorTries`.
   */
  undecide?: { priorTries: number };
  /** Direct downstream task ids whose upstream tally counted this instance. */
  downstream: readonly string[];
}

/** What resetting instances of one task did. */
export interface BulkResetResult {
  /** Per request, in order: whether it applied (false: its condition failed, nothing changed for it). */
  applied: boolean[];
  /** The run's pending count after them all. */
  pending: number;
}

/** What deleting a run removed (counts of records). */
export interface DeletedRun {
  dagId: string;
  runId: string;
  taskInstances: number;
  xcoms: number;
  itemResults: number;
  /** Logs of tries (one per instance and try that logged). */
  logs: number;
  /** Pipeline-context saves of the scope this run owned (a top-level run). */
  pipelineSaves: number;
}

/**
 * Where run state lives. Shaped for DynamoDB: every method is one item read, one query by key, one
 * conditional write, or one small transaction; nothing on the hot path scans. Each method that changes a
 * task instance is conditional on its current state and try, so a replayed event changes nothing.
 *
 * A run is named by its DAG and run id (a {@link RunRef}: run ids are unique per DAG, as in Airflow, so
 * two DAGs can each have a run `scheduled__2026-01-01T00:00:00.000Z`); a task instance by its
 * {@link TiKey} (the run's identity, task and map index).
 */
/** Variables and connections are part of every store (lib/secrets/records.ts). */
export interface StateStore extends SecretsStore, HitlStore {
  // Runs -------------------------------------------------------------------------------------------
  /** Create a run; false if its DAG has a run with that id. */
  createRun(run: DagRunRecord): Promise<boolean>;
  getRun(run: RunRef): Promise<DagRunRecord | undefined>;
  /** Conditional update: applies only while the run is in one of `expect` (or always when null). */
  updateRun(run: RunRef, expect: readonly RunState[] | null, patch: Partial<DagRunRecord>): Promise<DagRunRecord | undefined>;
  /** Runs of a DAG (a query on dagId), optionally only in some states, oldest logical date first. */
  listRuns(query: { dagId: string; states?: readonly RunState[] }): Promise<DagRunRecord[]>;
  /** Runs waiting in a state for any DAG, e.g. queued (a query on a state index). */
  listRunsByState(state: RunState): Promise<DagRunRecord[]>;
  /**
   * A run ended: let its XCom, item results and logs expire after the store's retention (DynamoDB TTL;
   * large values in S3 by lifecycle). Optional: a store without retention keeps everything.
   */
  expireRun?(run: RunRef, endedAt: string): Promise<unknown>;

  // Task state (per run and task) --------------------------------------------------------------------
  getTaskStates(run: RunRef, taskIds: readonly string[]): Promise<(TaskStateRecord | undefined)[]>;
  /** Settle a task's decision exactly once; false if it was already settled. */
  claimDecision(run: RunRef, taskId: string, decision: 'scheduled' | TerminalTiState): Promise<boolean>;
  /**
   * `claimDecision` for many tasks of one run at once (in fewer requests): per task, in order, whether
   * this call settled it.
   */
  claimDecisions(run: RunRef, taskIds: readonly string[], decision: 'scheduled' | TerminalTiState): Promise<boolean[]>;
  /**
   * Settle a mapped task as expanded into `count` (>= 1) instances, exactly once: announce them to the
   * downstream tallies and add `count - 1` to the run's pending count. False if already settled.
   */
  claimExpansion(run: RunRef, taskId: string, count: number, downstream: readonly string[]): Promise<boolean>;

  // Task instances -----------------------------------------------------------------------------------
  /** Create instances that do not exist yet (existing ones are left as they are). */
  createTaskInstances(tis: readonly TaskInstanceRecord[]): Promise<void>;
  /** Records returned are the caller's to read, never to change: they may be shared (and frozen). */
  getTaskInstance(key: TiKey): Promise<TaskInstanceRecord | undefined>;
  /** An instance and its run, read together (one request where the store can). */
  getTaskInstanceAndRun(key: TiKey): Promise<{ ti: TaskInstanceRecord | undefined; run: DagRunRecord | undefined }>;
  /** Instances of a run (a query on the run), optionally of one task, by task then map index. */
  listTaskInstances(run: RunRef, taskId?: string): Promise<TaskInstanceRecord[]>;
  /** Conditional transition between non-terminal states; undefined if the condition failed. */
  updateTaskInstance(key: TiKey, expect: TiExpectation, patch: Partial<TaskInstanceRecord>): Promise<TaskInstanceRecord | undefined>;
  /**
   * Atomically: move an instance to a terminal state, count it in its own task's tally and in each
   * downstream task's upstream tally, and decrement the run's pending count. Undefined (and nothing
   * changed) if the condition failed: a replay or a late event.
   */
  finishTaskInstance(req: FinishRequest): Promise<FinishResult | undefined>;

  // Many instances at once (an array job's children): the same guarantees as one by one, in fewer requests.
  /** Instances of one task with map indexes `from` to `to - 1` (one key range), by map index. */
  listTaskInstanceRange(run: RunRef, taskId: string, from: number, to: number): Promise<TaskInstanceRecord[]>;
  /** Many conditional transitions, each as `updateTaskInstance`: each applies or not on its own condition. */
  updateTaskInstances(updates: readonly TiUpdate[]): Promise<boolean[]>;
  /**
   * `finishTaskInstance` for many instances of ONE task of one run (the same `downstream`; `expect` never
   * 'absent'): each applies or not on its own condition, exactly once, with the tallies and the run's
   * pending count changed by what applied.
   */
  finishTaskInstances(reqs: readonly FinishRequest[]): Promise<BulkFinishResult>;
  /** Put many XComs (overwriting: an XCom is a function of its try). */
  putXComs(xs: readonly XComRecord[]): Promise<void>;
  /** Append to the logs of many tries at once (short logs: an array job's children). */
  appendLogs(entries: readonly { key: TiKey; tryNumber: number; lines: readonly LogLine[] }[]): Promise<void>;
  /**
   * What a try leaves when it ends, in as few requests as the store can: `putXComs(xcoms)` and
   * `appendLogs(logs)` together (neither waits for the other; each is idempotent as those are).
   */
  putTryOutput(out: { xcoms: readonly XComRecord[]; logs: readonly { key: TiKey; tryNumber: number; lines: readonly LogLine[] }[] }): Promise<void>;

  // Clearing (undoing finishes) ----------------------------------------------------------------------
  /**
   * `finishTaskInstance` undone, for many instances of ONE task of one run (the same `downstream`): each
   * applies or not on its own condition (its state and try), exactly once, and the tallies and the run's
   * pending count change by what applied. A request with `undecide` settles its task as undecided in
   * the same step.
   */
  resetTaskInstances(reqs: readonly ResetRequest[]): Promise<BulkResetResult>;
  /**
   * `claimExpansion` undone, once every instance of the mapped task has been reset away: the task is
   * undecided again (its next instances continuing from try `priorTries`), its downstream tallies forget
   * the `count` instances it announced, and the run's pending count drops by `count - 1`. Conditional on
   * the task being expanded into `count` with no instance counted in its own tally; false otherwise.
   */
  withdrawExpansion(run: RunRef, taskId: string, count: number, downstream: readonly string[], priorTries: number): Promise<boolean>;
  /** Delete what the tries of these instances produced: their XComs (every key) and item results. */
  deleteTaskResults(keys: readonly TiKey[]): Promise<void>;
  /**
   * A finished run runs again: undo `expireRun` (its XCom, item results and logs no longer expire).
   * Optional, as `expireRun`.
   */
  reviveRun?(run: RunRef): Promise<unknown>;

  // Deleting ----------------------------------------------------------------------------------------------
  /**
   * Delete a run and everything of it: its task states and instances, XComs, item results, logs, and the
   * pipeline-context saves of the scope it owns (a top-level run). Undefined if there is no such run.
   */
  deleteRun(run: RunRef): Promise<DeletedRun | undefined>;
  /** Delete a DAG's registry record, its version records and its backfill records. */
  deleteDagRecord(dagId: string): Promise<{ dagRecord: boolean; backfills: number }>;
  /** Delete counting semaphores (and their waiter queues) outright, whatever units they hold. */
  deleteSemaphores(names: readonly string[]): Promise<void>;

  // Backfills ----------------------------------------------------------------------------------------------
  /** Create a backfill record; false if one with that id exists for the DAG. */
  createBackfill(b: BackfillRecord): Promise<boolean>;
  getBackfill(dagId: string, backfillId: string): Promise<BackfillRecord | undefined>;
  /** Conditional update: applies only while the backfill is in one of `expect` (or always when null). */
  updateBackfill(dagId: string, backfillId: string, expect: readonly BackfillRecord['state'][] | null, patch: Partial<BackfillRecord>): Promise<BackfillRecord | undefined>;
  /** A DAG's backfills, oldest first. */
  listBackfills(dagId: string): Promise<BackfillRecord[]>;

  // XCom and iteration results ----------------------------------------------------------------------
  putXCom(x: XComRecord): Promise<void>;
  getXCom(run: RunRef, taskId: string, mapIndex: number, key: string): Promise<XComRecord | undefined>;
  /** Every map index's value of a task under a key, in map-index order. */
  listXComs(run: RunRef, taskId: string, key: string): Promise<XComRecord[]>;
  /** Every XCom of a task in a run, whatever its key: by key, then map index. */
  listTaskXComs(run: RunRef, taskId: string): Promise<XComRecord[]>;
  putItemResult(key: TiKey, index: number, value: unknown): Promise<void>;
  listItemResults(key: TiKey): Promise<Map<number, unknown>>;

  // Pipeline context ---------------------------------------------------------------------------------
  appendPipelineSave(scope: string, save: PipelineSave): Promise<void>;
  listPipelineSaves(scope: string): Promise<PipelineSave[]>;

  // Logs -----------------------------------------------------------------------------------------------
  appendLog(key: TiKey, tryNumber: number, lines: readonly LogLine[]): Promise<void>;
  getLog(key: TiKey, tryNumber: number): Promise<LogLine[]>;

  // DAG registry ------------------------------------------------------------------------------------
  getDagRecord(dagId: string): Promise<DagRecord | undefined>;
  /**
   * Record the DAG's current version (its DAG record created unpaused if new; the paused flag is kept
   * otherwise), and the version's record if it has none yet (created at `at`; an existing one is kept as
   * it is, but a pruned version registered again is kept again: its `prunedAt` is cleared).
   */
  registerDagVersion(entry: DagVersionEntry, at: string): Promise<DagRecord>;
  /** One version of a DAG. */
  getDagVersion(dagId: string, version: string): Promise<DagVersionRecord | undefined>;
  /** Every version of a DAG ever registered, oldest first (by `createdAt`, then version). */
  listDagVersions(dagId: string): Promise<DagVersionRecord[]>;
  /** Mark a version's code pruned at `at` (a no-op for a version with no record). */
  markDagVersionPruned(dagId: string, version: string, at: string): Promise<void>;
  /**
   * Pause or unpause a DAG (creating its record if needed). `reason`: why airless paused it (kept while
   * paused; unpausing, or a pause without a reason, clears it).
   */
  setDagPaused(dagId: string, paused: boolean, at: string, reason?: string | null): Promise<DagRecord>;

  // Pools and concurrency limits ---------------------------------------------------------------------
  putPool(pool: PoolRecord): Promise<void>;
  getPool(name: string): Promise<PoolRecord | undefined>;
  listPools(): Promise<PoolRecord[]>;
  /** Delete a pool; whether it existed. Its semaphore, holders and waiters are not touched. */
  deletePool(name: string): Promise<boolean>;
  /**
   * Take `n` units of a counting semaphore for `holder` if `limit` allows; false otherwise. Idempotent per
   * holder: true, and nothing more taken, when `holder` holds units of it already (a retried call whose
   * first attempt applied).
   */
  tryAcquire(name: string, n: number, limit: number, holder: string): Promise<boolean>;
  /**
   * `tryAcquire` for many holders at once, all or nothing: their units (`n` each) are taken if `limit`
   * allows them all and none of them holds units of it yet; false otherwise, and nothing is taken (the
   * caller then takes them one by one, which finds those that hold units already).
   */
  tryAcquireMany(name: string, limit: number, takes: readonly { holder: string; n: number }[]): Promise<boolean>;
  /**
   * Give back the `n` units `holder` holds; nothing when it holds none (idempotent). Returns whether
   * the semaphore may have waiters queued (false only when none was queued as the call applied, so a
   * waiter queued before it is never missed).
   */
  release(name: string, n: number, holder: string): Promise<boolean>;
  /** Who holds units of a semaphore, and how many each (the reconcile frees a holder that is gone). */
  semaphoreHolders(name: string): Promise<Map<string, number>>;
  /** Add 1 to a named counter and return its new value (1 the first time): an attempt counter. */
  countUp(name: string): Promise<number>;
  /** Queue a task instance waiting on a semaphore (FIFO). */
  enqueueWaiter(name: string, key: TiKey): Promise<void>;
  /** Take the next waiter of a semaphore, if any. */
  dequeueWaiter(name: string): Promise<TiKey | undefined>;
}
