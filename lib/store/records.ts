import type { PipelineSave, RunType } from '../authoring/context.ts';
import { errorInfoOf, formatError, summarizeError, type ErrorInfo } from '../error-info.ts';
import type { RunState, TerminalTiState, TiState } from '../model/states.ts';

/** A DAG run. */
export interface DagRunRecord {
  dagId: string;
  runId: string;
  state: RunState;
  runType: RunType;
  conf: Record<string, unknown>;
  /** Params after conf overrides, validated. */
  params: Record<string, unknown>;
  /** ISO-8601. */
  logicalDate: string;
  queuedAt: string;
  startDate: string | null;
  endDate: string | null;
  dagVersion: string;
  /** Task instances (and not-yet-decided tasks) that have not reached a terminal state. 0 = finished. */
  pending: number;
  /** The task that triggered this run and waits for it, if any. */
  parent: ParentRef | null;
  /**
   * The pipeline-context scope this run shares: a top-level run's own (`pipelineScopeOf(run)`), which the
   * runs it triggers inherit.
   */
  pipelineScope: string;
  /** Why the run failed, when not a task (e.g. dagrun timeout). */
  note: string | null;
  /**
   * The backfill this run belongs to (its `backfill:<id>` semaphore, not the DAG's `runs:<dagId>`, limits
   * it, as in Airflow). Absent (or null) for any other run.
   */
  backfillId?: string | null;
  /**
   * How many times task instances of this run were cleared (absent: never). A cleared run re-decides its
   * undecided tasks when it starts again, and re-checks branch and short-circuit skips.
   */
  clearNumber?: number;
  /**
   * The versions the runs its triggerDag tasks start run on: each DAG reachable from this run's DAG through
   * triggerDag tasks (transitively) → its version when the top-level run was created (a child run inherits
   * its parent's). Absent (or null): none pinned, a child runs on its DAG's current version.
   */
  pinnedVersions?: Record<string, string> | null;
  /** The asset events that created this run (an `asset_triggered` run), copies, oldest first. Absent: none. */
  triggeringAssetEvents?: AssetEventRecord[] | null;
}

export type { AssetEventRecord, AssetRecord, AssetEventSource } from '../model/asset.ts';
import type { AssetEventRecord } from '../model/asset.ts';

export { pipelineScopeOf, runKeyText, runRefOf, sameRun, sameTi, tiKeyOf, type ParentRef, type RunRef, type TiKey } from '../model/keys.ts';
import type { ParentRef, RunRef, TiKey } from '../model/keys.ts';

export interface TaskInstanceRecord extends TiKey {
  state: TiState;
  /** The current (or last) try; 0 before the first try starts. */
  tryNumber: number;
  maxTries: number;
  queuedAt: string | null;
  startDate: string | null;
  endDate: string | null;
  /** When an up_for_retry or deferred instance is due (ISO-8601). */
  nextAt: string | null;
  /** First poke of the current try (sensors): the timeout counts from here. */
  firstPokeAt: string | null;
  pokeCount: number;
  durationMs: number | null;
  /**
   * How the current (or last) try ended, when not in success: its error (failed, up for retry), or why
   * it was skipped (name `SkipTask`) or settled without running (`SchedulerNote`).
   */
  error: ErrorInfo | null;
  /** A triggered run's id or a Batch job's id. */
  externalId: string | null;
  /** Set when a deferred instance is put back in the queue: its next start continues the same try. */
  resume: boolean;
  /**
   * The tries before the current one, oldest first: appended when a try goes up for retry and when a
   * clear resets the instance; at most {@link TRY_HISTORY_MAX} (the latest). Absent: none.
   */
  history?: TrySummary[];
  /**
   * A note someone wrote on the instance (Airflow's task instance note: the UI's and the API's `note`),
   * kept across tries and clears. Absent (or null): none.
   */
  note?: string | null;
}

/** How one earlier try of a task instance ended. */
export interface TrySummary {
  tryNumber: number;
  /** The terminal state it ended in (`failed` for a try that went up for retry). */
  state: TerminalTiState;
  startDate: string | null;
  endDate: string | null;
  durationMs: number | null;
  /**
   * Its error, summarised: name, the first {@link TRY_ERROR_MAX} characters of its message and
   * {@link TRY_STACK_MAX} of its stack (no cause chain); the try's log has the message whole.
   */
  error: ErrorInfo | null;
}

/** The name of a skipped instance's error: its message is why it was skipped (`SkipTask`'s name). */
export const SKIP_NAME = 'SkipTask';

/**
 * A task instance's (or a try summary's) stored error field as an {@link ErrorInfo}: one already, or JSON
 * text of one (SQLite's column), or the text an older version stored: `"Name: message"`, or for a
 * skipped instance the reason it was skipped. Refuses anything else (a corrupt record).
 */
export function storedError(value: unknown, state: TiState | null): ErrorInfo | null {
  if (value === null || value === undefined) return null;
  if (state === 'skipped' && typeof value === 'string' && !value.startsWith('{')) return { name: SKIP_NAME, message: value };
  return errorInfoOf(value);
}

/** A history as stored (its summaries' errors possibly in an older version's text) with each error read. */
export function storedHistory(history: readonly TrySummary[]): TrySummary[] {
  return history.map((h) => ({ ...h, error: storedError(h.error, h.state) }));
}

/**
 * An instance's error as one line of text, as it was shown before errors were structured: `"Name:
 * message"`, or a skip's reason alone.
 */
export function errorNote(error: ErrorInfo | null): string | null {
  if (error === null) return null;
  return error.name === SKIP_NAME ? error.message : formatError(error);
}

/** Tries kept in a task instance's history (the latest ones). */
export const TRY_HISTORY_MAX = 100;
/** Characters of a try's error message kept in its summary, so a history stays well inside a DynamoDB item. */
export const TRY_ERROR_MAX = 1000;
/** Characters of a try's error stack kept in its summary. */
export const TRY_STACK_MAX = 500;

/** The summary of the try `ti` is at, ended in `state`. */
export function trySummary(ti: TaskInstanceRecord, state: TerminalTiState): TrySummary {
  const error = ti.error === null ? null : summarizeError(ti.error, TRY_ERROR_MAX, TRY_STACK_MAX);
  return { tryNumber: ti.tryNumber, state, startDate: ti.startDate, endDate: ti.endDate, durationMs: ti.durationMs, error };
}

/**
 * `ti`'s history with the try it is at appended as ended in `state` (bounded to the latest
 * {@link TRY_HISTORY_MAX}); unchanged when it has not run a try (try 0) or that try is already there
 * (a task settled without running after a clear keeps the try number of the try before).
 */
export function historyWithCurrentTry(ti: TaskInstanceRecord, state: TerminalTiState): TrySummary[] | undefined {
  const history = ti.history;
  const last = history?.[history.length - 1];
  if (ti.tryNumber <= 0 || (last && last.tryNumber >= ti.tryNumber)) return history;
  return [...(history ?? []), trySummary(ti, state)].slice(-TRY_HISTORY_MAX);
}

/** What a task instance's try fields are before a try starts (a new instance, or one cleared to run again). */
export function notStarted(): Pick<TaskInstanceRecord, 'queuedAt' | 'startDate' | 'endDate' | 'nextAt' | 'firstPokeAt' | 'pokeCount' | 'durationMs' | 'error' | 'externalId' | 'resume'> {
  return { queuedAt: null, startDate: null, endDate: null, nextAt: null, firstPokeAt: null, pokeCount: 0, durationMs: null, error: null, externalId: null, resume: false };
}

/** A task instance that has not started: scheduled, before its first try (fields given override). */
export function newTaskInstance(
  fields: TiKey & Pick<TaskInstanceRecord, 'dagId' | 'maxTries'> & Partial<TaskInstanceRecord>,
): TaskInstanceRecord {
  return { state: 'scheduled', tryNumber: 0, ...notStarted(), ...fields };
}

/** Terminal-state tally. */
export interface StateTally {
  success: number;
  failed: number;
  skipped: number;
  upstream_failed: number;
  removed: number;
}

export function emptyTally(): StateTally {
  return { success: 0, failed: 0, skipped: 0, upstream_failed: 0, removed: 0 };
}

/**
 * Per (run, task) state, created lazily: the deltas that the DAG spec's static shape does not give.
 * - `upstream`: terminal upstream instances seen, by state.
 * - `upstreamAddedTotal` / `upstreamExpanded`: instances announced by expanded mapped upstreams.
 * - `self`: this task's own instances that ended, by state (the run outcome reads the leaves').
 * - `decision`: set exactly once, when the trigger rule settled (conditional write).
 */
export interface TaskStateRecord extends RunRef {
  taskId: string;
  upstream: StateTally;
  upstreamAddedTotal: number;
  upstreamExpanded: number;
  self: StateTally;
  decision: TaskDecision | null;
  /** Instances of a mapped task (null until expanded, or when not mapped). */
  mapCount: number | null;
  /**
   * Set when the task was cleared back to undecided: the try number its instances had (the highest, for a
   * mapped task), so that the next instances continue counting from it. Absent (0) otherwise.
   */
  priorTries?: number;
  /**
   * Set with `priorTries` when an unmapped task was cleared back to undecided: its instance's history,
   * the cleared try included, which its next instance carries on. Absent: none.
   */
  priorHistory?: TrySummary[];
}

export type TaskDecision = 'scheduled' | 'expanded' | TerminalTiState;

export interface XComRecord extends RunRef {
  taskId: string;
  mapIndex: number;
  key: string;
  value: unknown;
}

export interface LogLine {
  /** ISO-8601. */
  time: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** A DAG as the deployment knows it: its current version and whether it is paused. */
export interface DagRecord {
  dagId: string;
  /** The DAG's current version (the latest loaded or deployed; DagSpec.version). */
  version: string;
  paused: boolean;
  /**
   * Why airless paused the DAG (e.g. `auto-paused after 3 consecutive failed runs`); absent or null when
   * it is not paused or a user paused it. Unpausing clears it.
   */
  pausedReason?: string | null;
  fileloc: string | null;
  /** ISO-8601 of the last change. */
  updatedAt: string;
}

/**
 * One version of a DAG (DagSpec.version), as first registered: what a run records as its `dagVersion` and
 * runs on. Its code is the bundle `bundle` (lib/dagbag/bundle.ts), kept while a run may need it.
 */
export interface DagVersionRecord {
  dagId: string;
  version: string;
  /** The structure's identity (DagSpec.structureHash). */
  structureHash: string;
  /** The content hash of its code (DagSpec.bundle); null for a DAG built in code. */
  bundle: string | null;
  /** Its file, relative to the DAGs folder. */
  fileloc: string | null;
  /** ISO-8601 of when it was first registered. */
  createdAt: string;
  /** ISO-8601 of when its code was pruned (no run can load it any more); null while it is kept. */
  prunedAt: string | null;
}

/** What registering a version gives: a {@link DagVersionRecord} but its times. */
export type DagVersionEntry = Pick<DagVersionRecord, 'dagId' | 'version' | 'structureHash' | 'bundle' | 'fileloc'>;

/** What a backfill does with a logical date that already has a run (Airflow's reprocess behaviour). */
export type ReprocessBehavior = 'none' | 'failed' | 'completed';

/** A backfill: runs of type `backfill` over the logical dates of a DAG's schedule in a range. */
export interface BackfillRecord {
  backfillId: string;
  dagId: string;
  /** ISO-8601: the range of logical dates, both ends included. */
  fromDate: string;
  toDate: string;
  reprocessBehavior: ReprocessBehavior;
  /** Runs of this backfill that may run at once (its `backfill:<id>` semaphore). */
  maxActiveRuns: number;
  conf: Record<string, unknown>;
  /** `running` while any of its runs is queued or running; `completed` once they have all ended. */
  state: 'running' | 'completed';
  createdAt: string;
  completedAt: string | null;
  /** Logical dates in the range, and what the backfill did with each. */
  counts: { dates: number; created: number; cleared: number; skipped: number };
}

/** Backfills oldest first (ids are numbers as text: by number when they are). */
export function backfillOrder(a: BackfillRecord, b: BackfillRecord): number {
  return a.createdAt.localeCompare(b.createdAt) || Number(a.backfillId) - Number(b.backfillId) || a.backfillId.localeCompare(b.backfillId);
}

export interface PoolRecord {
  name: string;
  slots: number;
  description: string;
}

export type { PipelineSave };
