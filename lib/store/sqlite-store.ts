import { closeSync, constants as fsConstants, fchmodSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type * as sqlite from 'node:sqlite';
import type { DatabaseSync, SQLInputValue, SQLOutputValue, StatementSync } from 'node:sqlite';
import { StoreUnavailableError } from '../errors.ts';
import type { RunState, TerminalTiState, TiState } from '../model/states.ts';
import { oneTaskOf } from './bulk-requests.ts';
import { retryTransient, type RetryOptions } from './retry.ts';
import {
  backfillOrder,
  historyWithCurrentTry,
  storedError,
  storedHistory,
  type BackfillRecord,
  type DagRecord,
  type DagRunRecord,
  type DagVersionEntry,
  type DagVersionRecord,
  type LogLine,
  pipelineScopeOf,
  runKeyText,
  type ParentRef,
  type PipelineSave,
  type PoolRecord,
  type RunRef,
  type StateTally,
  type TaskDecision,
  type TaskInstanceRecord,
  type TaskStateRecord,
  type TiKey,
  type TrySummary,
  type XComRecord,
} from './records.ts';
import type {
  BulkFinishResult,
  BulkResetResult,
  DeletedRun,
  FinishRequest,
  FinishResult,
  ResetRequest,
  StateStore,
  TiExpectation,
  TiUpdate,
} from './state-store.ts';
import type { ConnectionRecord, VariableRecord } from '../secrets/records.ts';
import { SECRETS_TABLES_SQL, SqliteSecrets } from '../secrets/sqlite-secrets.ts';
import { ASSET_CLAIMS_TABLE_SQL, ASSET_TABLES, ASSET_TABLES_SQL, SqliteAssets } from './sqlite-assets.ts';
import type { AssetClaim, AssetEventQuery, AssetQueueEntry } from './asset-store.ts';
import { pageAssetEvents } from './asset-store.ts';
import type { AssetEventRecord, AssetRecord } from '../model/asset.ts';
import type { HitlQuery, HitlRecord, HitlRespondResult, HitlResponse } from './hitl-records.ts';
import { HITL_TABLE_SQL, SqliteHitl } from './sqlite-hitl.ts';

/**
 * The durable local store of `airless standalone`: every record in one SQLite database file
 * (`<AIRLESS_HOME>/airless.db`), on `node:sqlite` (built into Node 22.5+; no native package).
 *
 * - One table per entity (runs, task states, task instances, XComs, item results, log lines, pipeline
 *   saves, DAGs, pools, semaphores, waiters, counters), keyed and indexed for the queries of
 *   {@link StateStore}; values (XCom, item results, conf, params, pipeline data) are JSON text.
 * - WAL journal: readers never block the writer nor the writer them, and several store instances (or
 *   processes: the scheduler, the API server, a CLI) can share the file.
 * - `synchronous = NORMAL`: in WAL mode a commit is atomic and survives the process crashing (killed,
 *   out of memory, an uncaught error) as soon as COMMIT returns; only a power cut or an OS crash can lose
 *   the last transactions before the next checkpoint, never half of one, and the database is never
 *   corrupted. `FULL` would fsync the WAL on every commit, i.e. on every task transition, which costs
 *   milliseconds each on a laptop disk. The scheduler is built for at-least-once delivery (reconcile
 *   repairs lost events), so losing the last instants before a power cut is acceptable; a torn state
 *   is not, and cannot happen.
 * - Every method that writes more than one row is one transaction (`BEGIN IMMEDIATE`: the write lock is
 *   taken up front, so two writers queue for it instead of failing on a stale snapshot),
 *   and every conditional write (state and try of an instance, a task's decision, a semaphore's units)
 *   is checked inside it, so a race between two instances or processes on the same file applies once.
 *   A transaction that throws midway is rolled back: nothing half-written is ever committed.
 * - Records returned are new objects on every call (rows are decoded per call), the caller's to keep.
 * - A database locked by another connection never blocks the event loop: once open, SQLite's busy
 *   timeout is 0, so a statement that needs the lock fails at once (SQLITE_BUSY), and the method is
 *   called again on timers (`retryTransient`, full-jitter backoff; {@link SQLITE_BUSY_RETRY}). A lock
 *   still held after that becomes a `StoreUnavailableError` (`retryAfterMs` set), which the API answers
 *   with 503. Retrying a whole method is safe: what failed to get the lock wrote nothing.
 * - The database file is created owner-only (0600; SQLite gives its `-wal` and `-shm` files the same
 *   mode), its folders 0700.
 *
 * `node:sqlite` is loaded when the first store is constructed (not when this module is imported), so
 * importing airless does not load it: Node prints its ExperimentalWarning then, once per process (the
 * CLI passes `--disable-warning=ExperimentalWarning`).
 */

/** The schema this code writes and reads. Bump it (and add a migration in `openSchema`) on any change. */
export const SQLITE_SCHEMA_VERSION = 9;

/** The database file's name in the airless home folder. */
export const SQLITE_DATABASE_FILE = 'airless.db';

/** The airless home folder: `AIRLESS_HOME` (resolved against `cwd`) or `<cwd>/.airless`. */
export function defaultAirlessHome(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const home = env.AIRLESS_HOME;
  return home ? resolve(cwd, home) : join(cwd, '.airless');
}

/** The database file of an airless home folder. */
export function sqliteDatabasePath(home: string = defaultAirlessHome()): string {
  return join(home, SQLITE_DATABASE_FILE);
}

export interface SqliteStateStoreOptions {
  /** The database file (its folders are created as needed), or `:memory:` for a private in-memory database. */
  path: string;
  /**
   * How long opening the database (the schema check, a migration) waits for another connection's
   * transaction to end (ms), blocking: it happens once, before the store serves anything. Default 10 s.
   */
  openTimeoutMs?: number;
  /**
   * How long a statement waits for another connection's lock once the store is open (ms), blocking the
   * event loop meanwhile. Default 0: it fails at once, and the call is retried on timers (`busyRetry`).
   */
  busyTimeoutMs?: number;
  /** How a call that found the database locked is retried (on timers) before it fails with a StoreUnavailableError. Default {@link SQLITE_BUSY_RETRY}. */
  busyRetry?: RetryOptions;
}

/**
 * The retries of a call that found the database locked by another connection: up to 30 calls, waits of
 * up to 5 ms doubling to 250 ms (about 6 s in all at most).
 */
export const SQLITE_BUSY_RETRY: Readonly<Required<Pick<RetryOptions, 'attempts' | 'baseMs' | 'maxMs'>>> = { attempts: 30, baseMs: 5, maxMs: 250 };

/** Create a database file owner-only (0600), and its folders (0700), unless it exists. */
function createPrivateFile(file: string): void {
  mkdirSync(dirname(resolve(file)), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    // O_EXCL: an existing file is not opened (closing a descriptor of a file would drop this process's
    // SQLite locks on it).
    fd = openSync(file, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw e;
  }
  try {
    fchmodSync(fd, 0o600); // whatever the umask
  } finally {
    closeSync(fd);
  }
}

// -------------------------------------------------------------------------------------------------
// Schema

/** Backfills (schema version 2): the record as JSON, keyed by DAG and id. */
/**
 * Who holds units of a semaphore (`semaphores.used` is their sum): taking and giving back are idempotent
 * per holder. Created when missing at every open, so a file of an earlier airless gets it too.
 */
const SEMAPHORE_HOLDERS_TABLE = `CREATE TABLE IF NOT EXISTS semaphore_holders (
  name TEXT NOT NULL,
  holder TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (name, holder)
) WITHOUT ROWID;`;

const BACKFILLS_TABLE = `CREATE TABLE backfills (
  dag_id TEXT NOT NULL,
  backfill_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (dag_id, backfill_id)
) WITHOUT ROWID;`;

/** From schema version 1 to 2: runs of backfills and cleared runs, tries kept across a clear, backfills. */
const MIGRATE_1_TO_2 = `
ALTER TABLE runs ADD COLUMN backfill_id TEXT;
ALTER TABLE runs ADD COLUMN clear_number INTEGER;
ALTER TABLE task_states ADD COLUMN prior_tries INTEGER NOT NULL DEFAULT 0;
${BACKFILLS_TABLE}
`;

/** From schema version 2 to 3: the earlier tries of a task instance, and of a task cleared back to undecided. */
const MIGRATE_2_TO_3 = `
ALTER TABLE task_instances ADD COLUMN history TEXT;
ALTER TABLE task_states ADD COLUMN prior_history TEXT;
`;

/**
 * The tables keyed by run, as schema version 4 has them: a run is named by its DAG and run id (run ids
 * are unique per DAG), so every key starts with `dag_id, run_id`.
 */
const RUN_TABLES = `
-- A rowid table: the rowid is the creation order, the last tie-breaker of the run listings.
CREATE TABLE runs (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  state TEXT NOT NULL,
  run_type TEXT NOT NULL,
  conf TEXT NOT NULL,
  params TEXT NOT NULL,
  logical_date TEXT NOT NULL,
  queued_at TEXT NOT NULL,
  start_date TEXT,
  end_date TEXT,
  dag_version TEXT NOT NULL,
  pending INTEGER NOT NULL,
  parent TEXT,
  pipeline_scope TEXT NOT NULL,
  note TEXT,
  backfill_id TEXT,
  clear_number INTEGER,
  PRIMARY KEY (dag_id, run_id)
);
CREATE INDEX runs_by_dag ON runs (dag_id, logical_date, queued_at);
CREATE INDEX runs_by_state ON runs (state, queued_at);

CREATE TABLE task_states (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  up_success INTEGER NOT NULL DEFAULT 0,
  up_failed INTEGER NOT NULL DEFAULT 0,
  up_skipped INTEGER NOT NULL DEFAULT 0,
  up_upstream_failed INTEGER NOT NULL DEFAULT 0,
  up_removed INTEGER NOT NULL DEFAULT 0,
  upstream_added_total INTEGER NOT NULL DEFAULT 0,
  upstream_expanded INTEGER NOT NULL DEFAULT 0,
  self_success INTEGER NOT NULL DEFAULT 0,
  self_failed INTEGER NOT NULL DEFAULT 0,
  self_skipped INTEGER NOT NULL DEFAULT 0,
  self_upstream_failed INTEGER NOT NULL DEFAULT 0,
  self_removed INTEGER NOT NULL DEFAULT 0,
  decision TEXT,
  map_count INTEGER,
  prior_tries INTEGER NOT NULL DEFAULT 0,
  prior_history TEXT,
  PRIMARY KEY (dag_id, run_id, task_id)
) WITHOUT ROWID;

CREATE TABLE task_instances (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL,
  state TEXT NOT NULL,
  try_number INTEGER NOT NULL,
  max_tries INTEGER NOT NULL,
  queued_at TEXT,
  start_date TEXT,
  end_date TEXT,
  next_at TEXT,
  first_poke_at TEXT,
  poke_count INTEGER NOT NULL,
  duration_ms REAL,
  error TEXT,
  external_id TEXT,
  resume INTEGER NOT NULL,
  history TEXT,
  PRIMARY KEY (dag_id, run_id, task_id, map_index)
) WITHOUT ROWID;

CREATE TABLE xcoms (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  key TEXT NOT NULL,
  map_index INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (dag_id, run_id, task_id, key, map_index)
);

CREATE TABLE item_results (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL,
  item_index INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (dag_id, run_id, task_id, map_index, item_index)
);

CREATE TABLE log_lines (
  seq INTEGER PRIMARY KEY,
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL,
  try_number INTEGER NOT NULL,
  time TEXT NOT NULL,
  level TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX log_lines_by_try ON log_lines (dag_id, run_id, task_id, map_index, try_number, seq);

-- seq (the rowid) only grows: a new row gets max + 1, so per name it is the order of arrival (FIFO).
CREATE TABLE waiters (
  seq INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL
);
CREATE INDEX waiters_by_name ON waiters (name, seq);
`;

/**
 * From schema version 3 to 4: runs keyed by DAG and run id (they were keyed by run id alone, unique
 * across DAGs). The run-keyed tables are built again with `dag_id` in their keys, each row taking its
 * run's DAG (rows of runs that no longer exist, which nothing could read, are left behind); a top-level
 * run's pipeline scope, its run id until now, becomes `<dagId>/<runId>` (`pipelineScopeOf`), in its runs
 * and its saves. Runs inside the caller's transaction: all of it, or none.
 */
function migrate3to4(db: DatabaseSync): void {
  const old = ['runs', 'task_states', 'task_instances', 'xcoms', 'item_results', 'log_lines', 'waiters'];
  for (const t of old) db.exec(`ALTER TABLE ${t} RENAME TO ${t}_v3`);
  // Indexes move with their table under their names: drop them so the new tables can have theirs.
  db.exec('DROP INDEX runs_by_dag; DROP INDEX runs_by_state; DROP INDEX log_lines_by_try; DROP INDEX waiters_by_name;');
  db.exec(RUN_TABLES);
  db.exec(`
    INSERT INTO runs (rowid, dag_id, run_id, state, run_type, conf, params, logical_date, queued_at, start_date, end_date, dag_version, pending, parent, pipeline_scope, note, backfill_id, clear_number)
      SELECT r.rowid, r.dag_id, r.run_id, r.state, r.run_type, r.conf, r.params, r.logical_date, r.queued_at, r.start_date, r.end_date, r.dag_version, r.pending, r.parent,
        coalesce((SELECT o.dag_id || '/' || o.run_id FROM runs_v3 AS o WHERE o.run_id = r.pipeline_scope), r.pipeline_scope),
        r.note, r.backfill_id, r.clear_number
      FROM runs_v3 AS r;
    UPDATE pipeline_saves SET scope = (SELECT o.dag_id || '/' || o.run_id FROM runs_v3 AS o WHERE o.run_id = pipeline_saves.scope)
      WHERE EXISTS (SELECT 1 FROM runs_v3 AS o WHERE o.run_id = pipeline_saves.scope);
    INSERT INTO task_states (dag_id, run_id, task_id, up_success, up_failed, up_skipped, up_upstream_failed, up_removed, upstream_added_total, upstream_expanded, self_success, self_failed, self_skipped, self_upstream_failed, self_removed, decision, map_count, prior_tries, prior_history)
      SELECT r.dag_id, s.run_id, s.task_id, s.up_success, s.up_failed, s.up_skipped, s.up_upstream_failed, s.up_removed, s.upstream_added_total, s.upstream_expanded, s.self_success, s.self_failed, s.self_skipped, s.self_upstream_failed, s.self_removed, s.decision, s.map_count, s.prior_tries, s.prior_history
      FROM task_states_v3 AS s JOIN runs_v3 AS r ON r.run_id = s.run_id;
    INSERT INTO task_instances (dag_id, run_id, task_id, map_index, state, try_number, max_tries, queued_at, start_date, end_date, next_at, first_poke_at, poke_count, duration_ms, error, external_id, resume, history)
      SELECT r.dag_id, t.run_id, t.task_id, t.map_index, t.state, t.try_number, t.max_tries, t.queued_at, t.start_date, t.end_date, t.next_at, t.first_poke_at, t.poke_count, t.duration_ms, t.error, t.external_id, t.resume, t.history
      FROM task_instances_v3 AS t JOIN runs_v3 AS r ON r.run_id = t.run_id;
    INSERT INTO xcoms (dag_id, run_id, task_id, key, map_index, value)
      SELECT r.dag_id, x.run_id, x.task_id, x.key, x.map_index, x.value FROM xcoms_v3 AS x JOIN runs_v3 AS r ON r.run_id = x.run_id;
    INSERT INTO item_results (dag_id, run_id, task_id, map_index, item_index, value)
      SELECT r.dag_id, i.run_id, i.task_id, i.map_index, i.item_index, i.value FROM item_results_v3 AS i JOIN runs_v3 AS r ON r.run_id = i.run_id;
    INSERT INTO log_lines (seq, dag_id, run_id, task_id, map_index, try_number, time, level, message)
      SELECT l.seq, r.dag_id, l.run_id, l.task_id, l.map_index, l.try_number, l.time, l.level, l.message FROM log_lines_v3 AS l JOIN runs_v3 AS r ON r.run_id = l.run_id;
    INSERT INTO waiters (seq, name, dag_id, run_id, task_id, map_index)
      SELECT w.seq, w.name, r.dag_id, w.run_id, w.task_id, w.map_index FROM waiters_v3 AS w JOIN runs_v3 AS r ON r.run_id = w.run_id;
  `);
  for (const t of old) db.exec(`DROP TABLE ${t}_v3`);
}

/** The versions of each DAG (schema version 5): one row per version ever registered, keyed by DAG and version. */
const DAG_VERSIONS_TABLE = `CREATE TABLE dag_versions (
  dag_id TEXT NOT NULL,
  version TEXT NOT NULL,
  structure_hash TEXT NOT NULL,
  bundle TEXT,
  fileloc TEXT,
  created_at TEXT NOT NULL,
  pruned_at TEXT,
  PRIMARY KEY (dag_id, version)
) WITHOUT ROWID;`;

/**
 * From schema version 4 to 5: DAG version records, and the versions a run pins for the runs its
 * triggerDag tasks start (JSON text of `{ dagId: version }`, NULL for none). A new database gets the same
 * statements after version 4's tables, so a migrated file and a new one have the same columns in the same
 * order.
 */
const MIGRATE_4_TO_5 = `
ALTER TABLE runs ADD COLUMN pinned_versions TEXT;
${DAG_VERSIONS_TABLE}
`;

/**
 * From schema version 5 to 6: why airless paused a DAG (`max_consecutive_failed_dag_runs`), NULL when it is
 * not paused or a user paused it; and a task instance's note (`TaskInstanceRecord.note`). A new database
 * gets them after version 5's statements. Also variables and connections (lib/secrets/sqlite-secrets.ts).
 */
const MIGRATE_5_TO_6 = `
ALTER TABLE dags ADD COLUMN paused_reason TEXT;
ALTER TABLE task_instances ADD COLUMN note TEXT;
${SECRETS_TABLES_SQL}`;

/**
 * From schema version 6 to 7: assets, their events and the consumer DAGs' queues (lib/store/sqlite-assets.ts),
 * and the events that created an asset-triggered run (`runs.triggering_asset_events`, JSON, NULL for none).
 * A new database gets them after version 6's statements.
 */
const MIGRATE_6_TO_7 = ASSET_TABLES_SQL;

/**
 * From schema version 7 to 8: human-in-the-loop requests (lib/store/sqlite-hitl.ts). A new database gets
 * the table after version 7's statements.
 */
const MIGRATE_7_TO_8 = HITL_TABLE_SQL;

/**
 * From schema version 8 to 9: each consumer DAG's claim on its asset queue (lib/store/sqlite-assets.ts). A
 * new database gets the table after version 8's statements.
 */
const MIGRATE_8_TO_9 = ASSET_CLAIMS_TABLE_SQL;

const SCHEMA = `
CREATE TABLE schema_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);
${RUN_TABLES}
CREATE TABLE pipeline_saves (
  seq INTEGER PRIMARY KEY,
  scope TEXT NOT NULL,
  stage TEXT NOT NULL,
  time TEXT NOT NULL,
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX pipeline_saves_by_scope ON pipeline_saves (scope, seq);

CREATE TABLE dags (
  dag_id TEXT NOT NULL PRIMARY KEY,
  version TEXT NOT NULL,
  paused INTEGER NOT NULL,
  fileloc TEXT,
  updated_at TEXT NOT NULL
);

-- A rowid table: listPools returns pools in the order they were first put.
CREATE TABLE pools (
  name TEXT NOT NULL PRIMARY KEY,
  slots INTEGER NOT NULL,
  description TEXT NOT NULL
);

CREATE TABLE semaphores (
  name TEXT NOT NULL PRIMARY KEY,
  used INTEGER NOT NULL
) WITHOUT ROWID;

${SEMAPHORE_HOLDERS_TABLE}

CREATE TABLE counters (
  name TEXT NOT NULL PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

${BACKFILLS_TABLE}
${MIGRATE_4_TO_5}
${MIGRATE_5_TO_6}
${MIGRATE_6_TO_7}
${MIGRATE_7_TO_8}
${MIGRATE_8_TO_9}
`;

/** Every airless table: a database holding other tables and none of these is not ours to write in. */
const TABLES = ['schema_version', 'runs', 'task_states', 'task_instances', 'xcoms', 'item_results', 'log_lines', 'pipeline_saves', 'dags', 'pools', 'semaphores', 'semaphore_holders', 'counters', 'waiters', 'backfills', 'dag_versions', 'variables', 'connections', ...ASSET_TABLES, 'hitl_requests', 'asset_claims'];

// -------------------------------------------------------------------------------------------------
// Rows <-> records

type Row = Record<string, SQLOutputValue>;

/** Columns of the task instance table, per field (a field added to the record must be given a column). */
const TI_COLUMNS: { readonly [K in keyof TaskInstanceRecord]-?: string } = {
  dagId: 'dag_id',
  runId: 'run_id',
  taskId: 'task_id',
  mapIndex: 'map_index',
  state: 'state',
  tryNumber: 'try_number',
  maxTries: 'max_tries',
  queuedAt: 'queued_at',
  startDate: 'start_date',
  endDate: 'end_date',
  nextAt: 'next_at',
  firstPokeAt: 'first_poke_at',
  pokeCount: 'poke_count',
  durationMs: 'duration_ms',
  error: 'error',
  externalId: 'external_id',
  resume: 'resume',
  history: 'history',
  note: 'note',
};
const TI_KEY_FIELDS = ['dagId', 'runId', 'taskId', 'mapIndex'] as const;
const TI_FIELDS = Object.keys(TI_COLUMNS) as (keyof TaskInstanceRecord)[];
const TI_VALUE_FIELDS = TI_FIELDS.filter((f) => !(TI_KEY_FIELDS as readonly string[]).includes(f));

/** Columns of the run table, per field; `json` ones hold JSON text. */
const RUN_COLUMNS: { readonly [K in keyof DagRunRecord]-?: readonly [column: string, json?: 'json'] } = {
  dagId: ['dag_id'],
  runId: ['run_id'],
  state: ['state'],
  runType: ['run_type'],
  conf: ['conf', 'json'],
  params: ['params', 'json'],
  logicalDate: ['logical_date'],
  queuedAt: ['queued_at'],
  startDate: ['start_date'],
  endDate: ['end_date'],
  dagVersion: ['dag_version'],
  pending: ['pending'],
  parent: ['parent', 'json'],
  pipelineScope: ['pipeline_scope'],
  note: ['note'],
  backfillId: ['backfill_id'],
  clearNumber: ['clear_number'],
  pinnedVersions: ['pinned_versions', 'json'],
  triggeringAssetEvents: ['triggering_asset_events', 'json'],
};
const RUN_FIELDS = Object.keys(RUN_COLUMNS) as (keyof DagRunRecord)[];
const RUN_VALUE_FIELDS = RUN_FIELDS.filter((f) => f !== 'dagId' && f !== 'runId');

/** Tally columns per terminal state (a new terminal state needs new columns: a schema migration). */
const TALLY_STATES: readonly (keyof StateTally)[] = ['success', 'failed', 'skipped', 'upstream_failed', 'removed'] satisfies readonly TerminalTiState[];

function corrupt(column: string, value: unknown): Error {
  return new Error(`SQLite store: unexpected value ${JSON.stringify(value)} in column '${column}'`);
}

function str(row: Row, column: string): string {
  const v = row[column];
  if (typeof v !== 'string') throw corrupt(column, v);
  return v;
}

function strOrNull(row: Row, column: string): string | null {
  const v = row[column];
  if (v === null) return null;
  if (typeof v !== 'string') throw corrupt(column, v);
  return v;
}

function num(row: Row, column: string): number {
  const v = row[column];
  if (typeof v !== 'number') throw corrupt(column, v);
  return v;
}

function numOrNull(row: Row, column: string): number | null {
  const v = row[column];
  if (v === null) return null;
  if (typeof v !== 'number') throw corrupt(column, v);
  return v;
}

/** JSON text of a value (undefined is stored as null, as JSON has no undefined). */
function json(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

function sqlValue(v: unknown): SQLInputValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') return v;
  throw new Error(`SQLite store: cannot store ${typeof v} ${JSON.stringify(v)} in a column`);
}

/** The fields of a patch that are given (an undefined field changes nothing, as it cannot be stored). */
function given<T extends object>(patch: Partial<T>): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

function tiFromRow(row: Row): TaskInstanceRecord {
  const state = str(row, 'state') as TiState;
  return {
    dagId: str(row, 'dag_id'),
    runId: str(row, 'run_id'),
    taskId: str(row, 'task_id'),
    mapIndex: num(row, 'map_index'),
    state,
    tryNumber: num(row, 'try_number'),
    maxTries: num(row, 'max_tries'),
    queuedAt: strOrNull(row, 'queued_at'),
    startDate: strOrNull(row, 'start_date'),
    endDate: strOrNull(row, 'end_date'),
    nextAt: strOrNull(row, 'next_at'),
    firstPokeAt: strOrNull(row, 'first_poke_at'),
    pokeCount: num(row, 'poke_count'),
    durationMs: numOrNull(row, 'duration_ms'),
    error: storedError(strOrNull(row, 'error'), state),
    externalId: strOrNull(row, 'external_id'),
    resume: num(row, 'resume') !== 0,
    ...optional('history', historyFromColumn(row, 'history')),
    ...optional('note', strOrNull(row, 'note')),
  };
}

/** A history column (JSON text of the tries, or NULL for none). */
function historyFromColumn(row: Row, column: string): TrySummary[] | null {
  const text = strOrNull(row, column);
  if (text === null) return null;
  const v: unknown = JSON.parse(text);
  if (!Array.isArray(v)) throw corrupt(column, v);
  return storedHistory(v as TrySummary[]);
}

/** A history as column text: JSON, or NULL for none. */
function historyColumn(history: readonly TrySummary[] | undefined): string | null {
  return history?.length ? json(history) : null;
}

/** An instance's field as its column's value (its error as JSON text: an older version's text is told apart by not being JSON). */
function tiValue(ti: TaskInstanceRecord, f: keyof TaskInstanceRecord): SQLInputValue {
  if (f === 'history') return historyColumn(ti.history);
  if (f === 'error') return ti.error === null ? null : json(ti.error);
  return sqlValue(ti[f]);
}

/** INSERT parameters of an instance (every column, in TI_FIELDS order). */
function tiInsertParams(ti: TaskInstanceRecord): SQLInputValue[] {
  return TI_FIELDS.map((f) => tiValue(ti, f));
}

/** UPDATE parameters of an instance: the value columns, then the key. */
function tiUpdateParams(ti: TaskInstanceRecord): SQLInputValue[] {
  const out = TI_VALUE_FIELDS.map((f) => tiValue(ti, f));
  out.push(ti.dagId, ti.runId, ti.taskId, ti.mapIndex);
  return out;
}

/** `{ [key]: value }`, or nothing when the value is null (for optional record fields). */
function optional<K extends string, V>(key: K, value: V | null): { [P in K]?: V } {
  return (value === null ? {} : { [key]: value }) as { [P in K]?: V };
}

function runFromRow(row: Row): DagRunRecord {
  const parent = strOrNull(row, 'parent');
  return {
    dagId: str(row, 'dag_id'),
    runId: str(row, 'run_id'),
    state: str(row, 'state') as RunState,
    runType: str(row, 'run_type') as DagRunRecord['runType'],
    conf: JSON.parse(str(row, 'conf')) as Record<string, unknown>,
    params: JSON.parse(str(row, 'params')) as Record<string, unknown>,
    logicalDate: str(row, 'logical_date'),
    queuedAt: str(row, 'queued_at'),
    startDate: strOrNull(row, 'start_date'),
    endDate: strOrNull(row, 'end_date'),
    dagVersion: str(row, 'dag_version'),
    pending: num(row, 'pending'),
    parent: parent === null ? null : (JSON.parse(parent) as ParentRef | null),
    pipelineScope: str(row, 'pipeline_scope'),
    note: strOrNull(row, 'note'),
    // Optional fields: absent rather than null/0 (a run record of a plain run has neither).
    ...optional('backfillId', strOrNull(row, 'backfill_id')),
    ...optional('clearNumber', numOrNull(row, 'clear_number') || null),
    ...optional('pinnedVersions', pinnedFromColumn(row)),
    ...optional('triggeringAssetEvents', triggeringFromColumn(row)),
  };
}

/** A run's triggering asset events column (JSON text of a list, or NULL for none). */
function triggeringFromColumn(row: Row): AssetEventRecord[] | null {
  const text = strOrNull(row, 'triggering_asset_events');
  if (text === null) return null;
  const v: unknown = JSON.parse(text);
  if (v === null) return null;
  if (!Array.isArray(v)) throw corrupt('triggering_asset_events', v);
  return v as AssetEventRecord[];
}

/** A run's pinned versions column (JSON text of `{ dagId: version }`, or NULL for none). */
function pinnedFromColumn(row: Row): Record<string, string> | null {
  const text = strOrNull(row, 'pinned_versions');
  if (text === null) return null;
  const v: unknown = JSON.parse(text);
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw corrupt('pinned_versions', v);
  return v as Record<string, string>;
}

/** JSON run fields stored as NULL when null or absent (the others are always JSON text). */
const NULLABLE_JSON_RUN_FIELDS: ReadonlySet<keyof DagRunRecord> = new Set(['parent', 'pinnedVersions', 'triggeringAssetEvents']);

function runValue(run: DagRunRecord, f: keyof DagRunRecord): SQLInputValue {
  const v = run[f];
  if (RUN_COLUMNS[f][1] === 'json') return (v === null || v === undefined) && NULLABLE_JSON_RUN_FIELDS.has(f) ? null : json(v);
  return sqlValue(v);
}

function tally(row: Row, prefix: 'up_' | 'self_'): StateTally {
  return {
    success: num(row, `${prefix}success`),
    failed: num(row, `${prefix}failed`),
    skipped: num(row, `${prefix}skipped`),
    upstream_failed: num(row, `${prefix}upstream_failed`),
    removed: num(row, `${prefix}removed`),
  };
}

function taskStateFromRow(row: Row): TaskStateRecord {
  return {
    dagId: str(row, 'dag_id'),
    runId: str(row, 'run_id'),
    taskId: str(row, 'task_id'),
    upstream: tally(row, 'up_'),
    upstreamAddedTotal: num(row, 'upstream_added_total'),
    upstreamExpanded: num(row, 'upstream_expanded'),
    self: tally(row, 'self_'),
    decision: strOrNull(row, 'decision') as TaskDecision | null,
    mapCount: numOrNull(row, 'map_count'),
    ...optional('priorTries', num(row, 'prior_tries') || null),
    ...optional('priorHistory', historyFromColumn(row, 'prior_history')),
  };
}

function dagFromRow(row: Row): DagRecord {
  const pausedReason = strOrNull(row, 'paused_reason');
  return { dagId: str(row, 'dag_id'), version: str(row, 'version'), paused: num(row, 'paused') !== 0, ...(pausedReason !== null ? { pausedReason } : {}), fileloc: strOrNull(row, 'fileloc'), updatedAt: str(row, 'updated_at') };
}

function dagVersionFromRow(row: Row): DagVersionRecord {
  return {
    dagId: str(row, 'dag_id'),
    version: str(row, 'version'),
    structureHash: str(row, 'structure_hash'),
    bundle: strOrNull(row, 'bundle'),
    fileloc: strOrNull(row, 'fileloc'),
    createdAt: str(row, 'created_at'),
    prunedAt: strOrNull(row, 'pruned_at'),
  };
}

function poolFromRow(row: Row): PoolRecord {
  return { name: str(row, 'name'), slots: num(row, 'slots'), description: str(row, 'description') };
}

/** The distinct runs of some records, each once. */
function uniqueRuns(records: readonly RunRef[]): RunRef[] {
  const out = new Map<string, RunRef>();
  for (const r of records) out.set(runKeyText(r), { dagId: r.dagId, runId: r.runId });
  return [...out.values()];
}

function matches(ti: TaskInstanceRecord, e: TiExpectation): boolean {
  return e.states.includes(ti.state) && (e.tryNumber === undefined || e.tryNumber === ti.tryNumber);
}

const zeroTally = (): StateTally => ({ success: 0, failed: 0, skipped: 0, upstream_failed: 0, removed: 0 });
const tallyParams = (t: StateTally): number[] => TALLY_STATES.map((s) => t[s]);
const oneOf = (state: TerminalTiState): number[] => TALLY_STATES.map((s) => (s === state ? 1 : 0));

// -------------------------------------------------------------------------------------------------
// Statements

function statements(db: DatabaseSync) {
  const p = (sql: string) => db.prepare(sql);
  const tiCols = TI_FIELDS.map((f) => TI_COLUMNS[f]);
  const tiSet = TI_VALUE_FIELDS.map((f) => `${TI_COLUMNS[f]} = ?`).join(', ');
  const runCols = RUN_FIELDS.map((f) => RUN_COLUMNS[f][0]);
  const runSet = RUN_VALUE_FIELDS.map((f) => `${RUN_COLUMNS[f][0]} = ?`).join(', ');
  const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');
  const upCols = TALLY_STATES.map((s) => `up_${s}`);
  const selfCols = TALLY_STATES.map((s) => `self_${s}`);
  const addTally = (cols: string[]) =>
    `INSERT INTO task_states (dag_id, run_id, task_id, ${cols.join(', ')}) VALUES (?, ?, ?, ${marks(cols.length)})
     ON CONFLICT (dag_id, run_id, task_id) DO UPDATE SET ${cols.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')} RETURNING *`;
  return {
    begin: p('BEGIN IMMEDIATE'),
    commit: p('COMMIT'),
    rollback: p('ROLLBACK'),

    runExists: p('SELECT 1 AS one FROM runs WHERE dag_id = ? AND run_id = ?'),
    insertRun: p(`INSERT INTO runs (${runCols.join(', ')}) VALUES (${marks(runCols.length)}) ON CONFLICT (dag_id, run_id) DO NOTHING`),
    getRun: p('SELECT * FROM runs WHERE dag_id = ? AND run_id = ?'),
    updateRun: p(`UPDATE runs SET ${runSet} WHERE dag_id = ? AND run_id = ? RETURNING *`),
    addPending: p('UPDATE runs SET pending = pending + ? WHERE dag_id = ? AND run_id = ? RETURNING pending'),
    getPending: p('SELECT pending FROM runs WHERE dag_id = ? AND run_id = ?'),
    listRuns: p('SELECT * FROM runs WHERE dag_id = ? ORDER BY logical_date, queued_at, rowid'),
    listRunsIn: p('SELECT * FROM runs WHERE dag_id = ? AND state IN (SELECT value FROM json_each(?)) ORDER BY logical_date, queued_at, rowid'),
    listRunsByState: p('SELECT * FROM runs WHERE state = ? ORDER BY queued_at, rowid'),

    getTaskStates: p(
      'SELECT s.* FROM json_each(?) AS j LEFT JOIN task_states AS s ON s.dag_id = ? AND s.run_id = ? AND s.task_id = j.value ORDER BY j.key',
    ),
    claimDecision: p(
      `INSERT INTO task_states (dag_id, run_id, task_id, decision) VALUES (?, ?, ?, ?)
       ON CONFLICT (dag_id, run_id, task_id) DO UPDATE SET decision = excluded.decision WHERE decision IS NULL`,
    ),
    claimExpansion: p(
      `INSERT INTO task_states (dag_id, run_id, task_id, decision, map_count) VALUES (?, ?, ?, 'expanded', ?)
       ON CONFLICT (dag_id, run_id, task_id) DO UPDATE SET decision = 'expanded', map_count = excluded.map_count WHERE decision IS NULL`,
    ),
    announceExpansion: p(
      `INSERT INTO task_states (dag_id, run_id, task_id, upstream_added_total, upstream_expanded) VALUES (?, ?, ?, ?, 1)
       ON CONFLICT (dag_id, run_id, task_id) DO UPDATE SET upstream_added_total = upstream_added_total + excluded.upstream_added_total,
         upstream_expanded = upstream_expanded + 1`,
    ),
    addUpstream: p(addTally(upCols)),
    addSelf: p(addTally(selfCols)),
    getTaskState: p('SELECT * FROM task_states WHERE dag_id = ? AND run_id = ? AND task_id = ?'),
    undecide: p('UPDATE task_states SET decision = NULL, map_count = NULL, prior_tries = ? WHERE dag_id = ? AND run_id = ? AND task_id = ?'),
    undecideWithHistory: p('UPDATE task_states SET decision = NULL, map_count = NULL, prior_tries = ?, prior_history = ? WHERE dag_id = ? AND run_id = ? AND task_id = ?'),
    withdrawAnnounced: p(
      `INSERT INTO task_states (dag_id, run_id, task_id, upstream_added_total, upstream_expanded) VALUES (?, ?, ?, ?, -1)
       ON CONFLICT (dag_id, run_id, task_id) DO UPDATE SET upstream_added_total = upstream_added_total + excluded.upstream_added_total,
         upstream_expanded = upstream_expanded - 1`,
    ),

    insertTi: p(`INSERT INTO task_instances (${tiCols.join(', ')}) VALUES (${marks(tiCols.length)}) ON CONFLICT DO NOTHING`),
    getTi: p('SELECT * FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?'),
    updateTi: p(`UPDATE task_instances SET ${tiSet} WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?`),
    listTis: p('SELECT * FROM task_instances WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index'),
    listTisOfTask: p('SELECT * FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? ORDER BY map_index'),
    deleteTi: p('DELETE FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?'),
    listTiRange: p('SELECT * FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index >= ? AND map_index < ? ORDER BY map_index'),

    putXCom: p('INSERT INTO xcoms (dag_id, run_id, task_id, key, map_index, value) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value'),
    getXCom: p('SELECT value FROM xcoms WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ? AND map_index = ?'),
    listXComs: p('SELECT map_index, value FROM xcoms WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ? ORDER BY map_index'),
    listTaskXComs: p('SELECT key, map_index, value FROM xcoms WHERE dag_id = ? AND run_id = ? AND task_id = ? ORDER BY key, map_index'),
    putItem: p(
      'INSERT INTO item_results (dag_id, run_id, task_id, map_index, item_index, value) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value',
    ),
    deleteXComsOf: p('DELETE FROM xcoms WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?'),
    deleteItemsOf: p('DELETE FROM item_results WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?'),
    countTis: p('SELECT COUNT(*) AS n FROM task_instances WHERE dag_id = ? AND run_id = ?'),
    countXComs: p('SELECT COUNT(*) AS n FROM xcoms WHERE dag_id = ? AND run_id = ?'),
    countItems: p('SELECT COUNT(*) AS n FROM item_results WHERE dag_id = ? AND run_id = ?'),
    countLogs: p('SELECT COUNT(*) AS n FROM (SELECT DISTINCT task_id, map_index, try_number FROM log_lines WHERE dag_id = ? AND run_id = ?)'),
    countSaves: p('SELECT COUNT(*) AS n FROM pipeline_saves WHERE scope = ?'),
    deleteRunRows: [
      'DELETE FROM task_states WHERE dag_id = ? AND run_id = ?',
      'DELETE FROM task_instances WHERE dag_id = ? AND run_id = ?',
      'DELETE FROM xcoms WHERE dag_id = ? AND run_id = ?',
      'DELETE FROM item_results WHERE dag_id = ? AND run_id = ?',
      'DELETE FROM log_lines WHERE dag_id = ? AND run_id = ?',
      'DELETE FROM runs WHERE dag_id = ? AND run_id = ?',
    ].map(p),
    deleteSaves: p('DELETE FROM pipeline_saves WHERE scope = ?'),
    listItems: p('SELECT item_index, value FROM item_results WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? ORDER BY item_index'),

    appendSave: p('INSERT INTO pipeline_saves (scope, stage, time, dag_id, run_id, task_id, data) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    listSaves: p('SELECT * FROM pipeline_saves WHERE scope = ? ORDER BY seq'),

    appendLog: p('INSERT INTO log_lines (dag_id, run_id, task_id, map_index, try_number, time, level, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    getLog: p('SELECT time, level, message FROM log_lines WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND try_number = ? ORDER BY seq'),

    getDag: p('SELECT * FROM dags WHERE dag_id = ?'),
    registerDag: p(
      `INSERT INTO dags (dag_id, version, paused, fileloc, updated_at) VALUES (?, ?, 0, ?, ?)
       ON CONFLICT (dag_id) DO UPDATE SET version = excluded.version, fileloc = excluded.fileloc, updated_at = excluded.updated_at RETURNING *`,
    ),
    // A version registered again keeps its record as first registered, but is kept again (not pruned).
    registerVersion: p(
      `INSERT INTO dag_versions (dag_id, version, structure_hash, bundle, fileloc, created_at, pruned_at) VALUES (?, ?, ?, ?, ?, ?, NULL)
       ON CONFLICT (dag_id, version) DO UPDATE SET pruned_at = NULL WHERE pruned_at IS NOT NULL`,
    ),
    getVersion: p('SELECT * FROM dag_versions WHERE dag_id = ? AND version = ?'),
    listVersions: p('SELECT * FROM dag_versions WHERE dag_id = ? ORDER BY created_at, version'),
    pruneVersion: p('UPDATE dag_versions SET pruned_at = ? WHERE dag_id = ? AND version = ?'),
    deleteVersions: p('DELETE FROM dag_versions WHERE dag_id = ?'),
    pauseDag: p(
      `INSERT INTO dags (dag_id, version, paused, fileloc, updated_at, paused_reason) VALUES (?, '', ?, NULL, ?, ?)
       ON CONFLICT (dag_id) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at, paused_reason = excluded.paused_reason RETURNING *`,
    ),

    putPool: p('INSERT INTO pools (name, slots, description) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET slots = excluded.slots, description = excluded.description'),
    getPool: p('SELECT * FROM pools WHERE name = ?'),
    listPools: p('SELECT * FROM pools ORDER BY rowid'),
    deletePool: p('DELETE FROM pools WHERE name = ?'),

    deleteDag: p('DELETE FROM dags WHERE dag_id = ?'),
    deleteBackfills: p('DELETE FROM backfills WHERE dag_id = ?'),
    insertBackfill: p('INSERT INTO backfills (dag_id, backfill_id, created_at, record) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    getBackfill: p('SELECT record FROM backfills WHERE dag_id = ? AND backfill_id = ?'),
    putBackfill: p('UPDATE backfills SET record = ? WHERE dag_id = ? AND backfill_id = ?'),
    listBackfills: p('SELECT record FROM backfills WHERE dag_id = ?'),
    deleteSemaphore: p('DELETE FROM semaphores WHERE name = ?'),
    deleteWaiters: p('DELETE FROM waiters WHERE name = ?'),
    semaphoreUsed: p('SELECT used FROM semaphores WHERE name = ?'),
    setSemaphore: p('INSERT INTO semaphores (name, used) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET used = excluded.used'),
    release: p('UPDATE semaphores SET used = max(0, used - ?) WHERE name = ?'),
    holderUnits: p('SELECT n FROM semaphore_holders WHERE name = ? AND holder = ?'),
    addHolder: p('INSERT INTO semaphore_holders (name, holder, n) VALUES (?, ?, ?)'),
    removeHolder: p('DELETE FROM semaphore_holders WHERE name = ? AND holder = ? AND n = ?'),
    listHolders: p('SELECT holder, n FROM semaphore_holders WHERE name = ? ORDER BY holder'),
    deleteHolders: p('DELETE FROM semaphore_holders WHERE name = ?'),
    countUp: p('INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value'),
    enqueue: p('INSERT INTO waiters (name, dag_id, run_id, task_id, map_index) VALUES (?, ?, ?, ?, ?)'),
    hasWaiter: p('SELECT 1 AS one FROM waiters WHERE name = ? LIMIT 1'),
    dequeue: p('DELETE FROM waiters WHERE seq = (SELECT seq FROM waiters WHERE name = ? ORDER BY seq LIMIT 1) RETURNING dag_id, run_id, task_id, map_index'),
  } satisfies Record<string, StatementSync | StatementSync[]>;
}

type Statements = ReturnType<typeof statements>;

function loadSqlite(): typeof sqlite {
  const mod = process.getBuiltinModule?.('node:sqlite') as typeof sqlite | undefined;
  if (!mod) throw new Error(`the SQLite store needs node:sqlite, built into Node 22.5 and later (this is Node ${process.versions.node})`);
  return mod;
}

// -------------------------------------------------------------------------------------------------
// The store

export class SqliteStateStore implements StateStore {
  /** The database file (or `:memory:`). */
  readonly path: string;
  /** How a call that found the database locked is retried (see {@link SqliteStateStoreOptions.busyRetry}). */
  readonly busyRetry: RetryOptions;
  private readonly db: DatabaseSync;
  private readonly q: Statements;
  private secretsQ: SqliteSecrets | undefined;
  private hitlQ: SqliteHitl | undefined;

  constructor(options: SqliteStateStoreOptions) {
    this.path = options.path;
    this.busyRetry = { ...SQLITE_BUSY_RETRY, ...options.busyRetry };
    const inMemory = options.path === ':memory:' || options.path === '';
    if (!inMemory) createPrivateFile(options.path);
    const { DatabaseSync } = loadSqlite();
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(options.path, { timeout: options.openTimeoutMs ?? 10_000 });
      const mode = db.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode;
      if (!inMemory && mode !== 'wal') throw new Error(`the file system refused WAL mode (journal_mode is '${String(mode)}'): keep the airless home on a local disk`);
      db.exec('PRAGMA synchronous = NORMAL');
      openSchema(db, options.path);
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 0))}`);
      this.q = statements(db);
    } catch (e) {
      if (db?.isOpen) db.close();
      const message = e instanceof Error ? e.message : String(e);
      throw new Error(`cannot open the airless store at ${options.path}: ${message}`, { cause: e });
    }
    this.db = db;
  }

  /** Close the database (idempotent). Any call after this fails. */
  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  /** Run `fn` in one write transaction: all of it commits, or (it threw) none of it. */
  private tx<T>(fn: () => T): T {
    this.q.begin.run();
    try {
      const out = fn();
      this.q.commit.run();
      return out;
    } catch (e) {
      if (this.db.isTransaction) this.q.rollback.run();
      throw e;
    }
  }

  private requireRun(run: RunRef): void {
    if (!this.q.runExists.get(run.dagId, run.runId)) throw new Error(`no run '${run.runId}' of DAG '${run.dagId}' in the store`);
  }

  private ti(key: TiKey): TaskInstanceRecord | undefined {
    const row = this.q.getTi.get(key.dagId, key.runId, key.taskId, key.mapIndex);
    return row ? tiFromRow(row) : undefined;
  }

  // Runs -------------------------------------------------------------------------------------------

  async createRun(run: DagRunRecord): Promise<boolean> {
    return Number(this.q.insertRun.run(...RUN_FIELDS.map((f) => runValue(run, f))).changes) === 1;
  }

  async getRun(run: RunRef): Promise<DagRunRecord | undefined> {
    const row = this.q.getRun.get(run.dagId, run.runId);
    return row ? runFromRow(row) : undefined;
  }

  async updateRun(run: RunRef, expect: readonly RunState[] | null, patch: Partial<DagRunRecord>): Promise<DagRunRecord | undefined> {
    return this.tx(() => {
      const row = this.q.getRun.get(run.dagId, run.runId);
      if (!row) return undefined;
      const prev = runFromRow(row);
      if (expect && !expect.includes(prev.state)) return undefined;
      const next: DagRunRecord = { ...prev, ...given(patch), dagId: prev.dagId, runId: prev.runId };
      const updated = this.q.updateRun.get(...RUN_VALUE_FIELDS.map((f) => runValue(next, f)), run.dagId, run.runId);
      return updated ? runFromRow(updated) : undefined;
    });
  }

  async listRuns(query: { dagId: string; states?: readonly RunState[] }): Promise<DagRunRecord[]> {
    const rows = query.states ? this.q.listRunsIn.all(query.dagId, JSON.stringify(query.states)) : this.q.listRuns.all(query.dagId);
    return rows.map(runFromRow);
  }

  async listRunsByState(state: RunState): Promise<DagRunRecord[]> {
    return this.q.listRunsByState.all(state).map(runFromRow);
  }

  // Task state ---------------------------------------------------------------------------------------

  async getTaskStates(run: RunRef, taskIds: readonly string[]): Promise<(TaskStateRecord | undefined)[]> {
    this.requireRun(run);
    if (taskIds.length === 0) return [];
    return this.q.getTaskStates.all(JSON.stringify(taskIds), run.dagId, run.runId).map((row) => (row.run_id === null ? undefined : taskStateFromRow(row)));
  }

  async claimDecision(run: RunRef, taskId: string, decision: 'scheduled' | TerminalTiState): Promise<boolean> {
    return this.tx(() => {
      this.requireRun(run);
      return Number(this.q.claimDecision.run(run.dagId, run.runId, taskId, decision).changes) === 1;
    });
  }

  async claimDecisions(run: RunRef, taskIds: readonly string[], decision: 'scheduled' | TerminalTiState): Promise<boolean[]> {
    return this.tx(() => {
      this.requireRun(run);
      return taskIds.map((t) => Number(this.q.claimDecision.run(run.dagId, run.runId, t, decision).changes) === 1);
    });
  }

  async claimExpansion(run: RunRef, taskId: string, count: number, downstream: readonly string[]): Promise<boolean> {
    return this.tx(() => {
      this.requireRun(run);
      if (Number(this.q.claimExpansion.run(run.dagId, run.runId, taskId, count).changes) !== 1) return false;
      for (const d of downstream) this.q.announceExpansion.run(run.dagId, run.runId, d, count);
      this.q.addPending.get(count - 1, run.dagId, run.runId);
      return true;
    });
  }

  // Task instances -----------------------------------------------------------------------------------

  async createTaskInstances(tis: readonly TaskInstanceRecord[]): Promise<void> {
    if (tis.length === 0) return;
    this.tx(() => {
      for (const run of uniqueRuns(tis)) this.requireRun(run);
      for (const ti of tis) this.q.insertTi.run(...tiInsertParams(ti));
    });
  }

  async getTaskInstanceAndRun(key: TiKey): Promise<{ ti: TaskInstanceRecord | undefined; run: DagRunRecord | undefined }> {
    return { ti: await this.getTaskInstance(key), run: await this.getRun(key) };
  }

  async getTaskInstance(key: TiKey): Promise<TaskInstanceRecord | undefined> {
    return this.ti(key);
  }

  async listTaskInstances(run: RunRef, taskId?: string): Promise<TaskInstanceRecord[]> {
    const rows = taskId === undefined ? this.q.listTis.all(run.dagId, run.runId) : this.q.listTisOfTask.all(run.dagId, run.runId, taskId);
    return rows.map(tiFromRow);
  }

  /** The transition of one instance, inside a transaction: the new record, or undefined (condition failed). */
  private transition(key: TiKey, expect: TiExpectation, patch: Partial<TaskInstanceRecord>): TaskInstanceRecord | undefined {
    const prev = this.ti(key);
    if (!prev || !matches(prev, expect)) return undefined;
    const next: TaskInstanceRecord = { ...prev, ...given(patch), dagId: key.dagId, runId: key.runId, taskId: key.taskId, mapIndex: key.mapIndex };
    this.q.updateTi.run(...tiUpdateParams(next));
    return next;
  }

  async updateTaskInstance(key: TiKey, expect: TiExpectation, patch: Partial<TaskInstanceRecord>): Promise<TaskInstanceRecord | undefined> {
    return this.tx(() => this.transition(key, expect, patch));
  }

  /** Move one instance to its terminal state, inside a transaction (no tallies): the new record, or undefined. */
  private finishOne(req: FinishRequest): TaskInstanceRecord | undefined {
    const { key } = req;
    if (req.expect === 'absent') {
      if (!req.create || this.ti(key)) return undefined;
      const ti: TaskInstanceRecord = { ...req.create, ...given(req.patch), state: req.state, dagId: key.dagId, runId: key.runId, taskId: key.taskId, mapIndex: key.mapIndex };
      this.q.insertTi.run(...tiInsertParams(ti));
      return ti;
    }
    return this.transition(key, req.expect, { ...given(req.patch), state: req.state });
  }

  async finishTaskInstance(req: FinishRequest): Promise<FinishResult | undefined> {
    const { dagId, runId, taskId } = req.key;
    const run = { dagId, runId };
    return this.tx(() => {
      this.requireRun(run);
      const ti = this.finishOne(req);
      if (!ti) return undefined;
      const one = oneOf(req.state);
      this.q.addSelf.run(run.dagId, run.runId, taskId, ...one);
      // One by one, as the memory store: a downstream task listed twice shows 1 then 2.
      const downstream = req.downstream.map((d) => taskStateFromRow(this.q.addUpstream.get(run.dagId, run.runId, d, ...one)!));
      const pending = num(this.q.addPending.get(-1, run.dagId, run.runId)!, 'pending');
      const waiters = (req.release ?? []).filter((r) => this.releaseNow(r.name, r.n, r.holder)).map((r) => r.name);
      return { ti, pending, downstream, waiters };
    });
  }

  // Many instances at once ---------------------------------------------------------------------------

  async listTaskInstanceRange(run: RunRef, taskId: string, from: number, to: number): Promise<TaskInstanceRecord[]> {
    if (to <= from) return [];
    return this.q.listTiRange.all(run.dagId, run.runId, taskId, from, to).map(tiFromRow);
  }

  async updateTaskInstances(updates: readonly TiUpdate[]): Promise<boolean[]> {
    if (updates.length === 0) return [];
    return this.tx(() => updates.map((u) => this.transition(u.key, u.expect, u.patch) !== undefined));
  }

  async finishTaskInstances(reqs: readonly FinishRequest[]): Promise<BulkFinishResult> {
    const { run, taskId, first } = oneTaskOf('finishTaskInstances', reqs, { refuse: (r) => (r.expect === 'absent' ? 'creating instances is not supported in bulk' : null) });
    return this.tx(() => {
      this.requireRun(run);
      const self = zeroTally();
      // What the applied requests add to each downstream task (every task of the result is touched, as
      // the memory store creates their records even when nothing applied).
      const down = new Map<string, StateTally>(first.downstream.map((d) => [d, zeroTally()]));
      let count = 0;
      const applied = reqs.map((r) => {
        if (!this.finishOne(r)) return false;
        count++;
        self[r.state] += 1;
        for (const d of r.downstream) {
          let t = down.get(d);
          if (!t) down.set(d, (t = zeroTally()));
          t[r.state] += 1;
        }
        return true;
      });
      if (count > 0) this.q.addSelf.run(run.dagId, run.runId, taskId, ...tallyParams(self));
      const after = new Map<string, TaskStateRecord>();
      for (const [d, t] of down) after.set(d, taskStateFromRow(this.q.addUpstream.get(run.dagId, run.runId, d, ...tallyParams(t))!));
      const pendingRow = count > 0 ? this.q.addPending.get(-count, run.dagId, run.runId) : this.q.getPending.get(run.dagId, run.runId);
      return { applied, pending: num(pendingRow!, 'pending'), downstream: first.downstream.map((d) => structuredClone(after.get(d)!)) };
    });
  }

  // Clearing -----------------------------------------------------------------------------------------

  async resetTaskInstances(reqs: readonly ResetRequest[]): Promise<BulkResetResult> {
    const { run, taskId, first } = oneTaskOf('resetTaskInstances', reqs, { refuse: (r) => (r.undecide && r.to !== 'absent' ? "'undecide' needs to: 'absent'" : null) });
    return this.tx(() => {
      this.requireRun(run);
      const self = zeroTally();
      const down = new Map<string, StateTally>(first.downstream.map((d) => [d, zeroTally()]));
      let count = 0;
      let undecide: { priorTries: number; history: TrySummary[] | undefined } | undefined;
      const applied = reqs.map((r) => {
        const prev = this.ti(r.key);
        if (!prev || prev.state !== r.expect.state || prev.tryNumber !== r.expect.tryNumber) return false;
        const history = historyWithCurrentTry(prev, r.expect.state);
        if (r.to === 'absent') this.q.deleteTi.run(run.dagId, run.runId, taskId, r.key.mapIndex);
        else this.q.updateTi.run(...tiUpdateParams({ ...prev, ...given(r.to), dagId: run.dagId, runId: run.runId, taskId, mapIndex: r.key.mapIndex, ...(history ? { history } : {}) }));
        if (r.undecide) undecide = { priorTries: r.undecide.priorTries, history };
        count++;
        self[r.expect.state] -= 1;
        for (const d of r.downstream) {
          let t = down.get(d);
          if (!t) down.set(d, (t = zeroTally()));
          t[r.expect.state] -= 1;
        }
        return true;
      });
      if (count === 0) return { applied, pending: num(this.q.getPending.get(run.dagId, run.runId)!, 'pending') };
      this.q.addSelf.run(run.dagId, run.runId, taskId, ...tallyParams(self));
      if (undecide) this.q.undecideWithHistory.run(undecide.priorTries, historyColumn(undecide.history), run.dagId, run.runId, taskId);
      for (const [d, t] of down) this.q.addUpstream.get(run.dagId, run.runId, d, ...tallyParams(t));
      return { applied, pending: num(this.q.addPending.get(count, run.dagId, run.runId)!, 'pending') };
    });
  }

  async withdrawExpansion(run: RunRef, taskId: string, count: number, downstream: readonly string[], priorTries: number): Promise<boolean> {
    return this.tx(() => {
      this.requireRun(run);
      const row = this.q.getTaskState.get(run.dagId, run.runId, taskId);
      if (!row) return false;
      const s = taskStateFromRow(row);
      if (s.decision !== 'expanded' || s.mapCount !== count || Object.values(s.self).some((n) => n !== 0)) return false;
      this.q.undecide.run(priorTries, run.dagId, run.runId, taskId);
      for (const d of downstream) this.q.withdrawAnnounced.run(run.dagId, run.runId, d, -count);
      this.q.addPending.get(-(count - 1), run.dagId, run.runId);
      return true;
    });
  }

  async deleteTaskResults(keys: readonly TiKey[]): Promise<void> {
    if (keys.length === 0) return;
    this.tx(() => {
      for (const k of keys) {
        this.q.deleteXComsOf.run(k.dagId, k.runId, k.taskId, k.mapIndex);
        this.q.deleteItemsOf.run(k.dagId, k.runId, k.taskId, k.mapIndex);
      }
    });
  }

  // Deleting ------------------------------------------------------------------------------------------

  async deleteRun(ref: RunRef): Promise<DeletedRun | undefined> {
    return this.tx(() => {
      const row = this.q.getRun.get(ref.dagId, ref.runId);
      if (!row) return undefined;
      const run = runFromRow(row);
      const { dagId, runId } = run;
      const n = (st: StatementSync, ...args: string[]) => num(st.get(...args)!, 'n');
      const scope = pipelineScopeOf(run);
      const owned = run.pipelineScope === scope;
      const out: DeletedRun = {
        dagId,
        runId,
        taskInstances: n(this.q.countTis, dagId, runId),
        xcoms: n(this.q.countXComs, dagId, runId),
        itemResults: n(this.q.countItems, dagId, runId),
        logs: n(this.q.countLogs, dagId, runId),
        pipelineSaves: owned ? n(this.q.countSaves, scope) : 0,
      };
      for (const st of this.q.deleteRunRows) st.run(dagId, runId);
      this.hitl.deleteRun(dagId, runId);
      if (owned) this.q.deleteSaves.run(scope);
      return out;
    });
  }

  async deleteDagRecord(dagId: string): Promise<{ dagRecord: boolean; backfills: number }> {
    return this.tx(() => {
      this.q.deleteVersions.run(dagId);
      return {
        dagRecord: Number(this.q.deleteDag.run(dagId).changes) > 0,
        backfills: Number(this.q.deleteBackfills.run(dagId).changes),
      };
    });
  }

  async deleteSemaphores(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    this.tx(() => {
      for (const name of names) {
        this.q.deleteSemaphore.run(name);
        this.q.deleteHolders.run(name);
        this.q.deleteWaiters.run(name);
      }
    });
  }

  // Backfills ------------------------------------------------------------------------------------------

  async createBackfill(b: BackfillRecord): Promise<boolean> {
    return Number(this.q.insertBackfill.run(b.dagId, b.backfillId, b.createdAt, json(b)).changes) === 1;
  }

  async getBackfill(dagId: string, backfillId: string): Promise<BackfillRecord | undefined> {
    const row = this.q.getBackfill.get(dagId, backfillId);
    return row ? (JSON.parse(str(row, 'record')) as BackfillRecord) : undefined;
  }

  async updateBackfill(dagId: string, backfillId: string, expect: readonly BackfillRecord['state'][] | null, patch: Partial<BackfillRecord>): Promise<BackfillRecord | undefined> {
    return this.tx(() => {
      const row = this.q.getBackfill.get(dagId, backfillId);
      if (!row) return undefined;
      const prev = JSON.parse(str(row, 'record')) as BackfillRecord;
      if (expect && !expect.includes(prev.state)) return undefined;
      const next: BackfillRecord = { ...prev, ...given(patch), dagId, backfillId };
      this.q.putBackfill.run(json(next), dagId, backfillId);
      return next;
    });
  }

  async listBackfills(dagId: string): Promise<BackfillRecord[]> {
    return this.q.listBackfills
      .all(dagId)
      .map((row) => JSON.parse(str(row, 'record')) as BackfillRecord)
      .sort(backfillOrder);
  }

  async putXComs(xs: readonly XComRecord[]): Promise<void> {
    if (xs.length === 0) return;
    this.tx(() => {
      for (const run of uniqueRuns(xs)) this.requireRun(run);
      for (const x of xs) this.q.putXCom.run(x.dagId, x.runId, x.taskId, x.key, x.mapIndex, json(x.value));
    });
  }

  async putTryOutput(out: { xcoms: readonly XComRecord[]; logs: readonly { key: TiKey; tryNumber: number; lines: readonly LogLine[] }[] }): Promise<void> {
    if (out.xcoms.length) await this.putXComs(out.xcoms);
    if (out.logs.length) await this.appendLogs(out.logs);
  }

  async appendLogs(entries: readonly { key: TiKey; tryNumber: number; lines: readonly LogLine[] }[]): Promise<void> {
    if (entries.length === 0) return;
    this.tx(() => {
      const runs = new Map<string, boolean>();
      for (const e of entries) {
        let exists = runs.get(runKeyText(e.key));
        if (exists === undefined) runs.set(runKeyText(e.key), (exists = this.q.runExists.get(e.key.dagId, e.key.runId) !== undefined));
        if (exists) this.appendLines(e.key, e.tryNumber, e.lines);
      }
    });
  }

  // XCom and iteration results ----------------------------------------------------------------------

  async putXCom(x: XComRecord): Promise<void> {
    await this.putXComs([x]);
  }

  async getXCom(run: RunRef, taskId: string, mapIndex: number, key: string): Promise<XComRecord | undefined> {
    const row = this.q.getXCom.get(run.dagId, run.runId, taskId, key, mapIndex);
    return row ? { dagId: run.dagId, runId: run.runId, taskId, mapIndex, key, value: JSON.parse(str(row, 'value')) } : undefined;
  }

  async listXComs(run: RunRef, taskId: string, key: string): Promise<XComRecord[]> {
    return this.q.listXComs.all(run.dagId, run.runId, taskId, key).map((row) => ({ dagId: run.dagId, runId: run.runId, taskId, mapIndex: num(row, 'map_index'), key, value: JSON.parse(str(row, 'value')) as unknown }));
  }

  async listTaskXComs(run: RunRef, taskId: string): Promise<XComRecord[]> {
    return this.q.listTaskXComs.all(run.dagId, run.runId, taskId).map((row) => ({ dagId: run.dagId, runId: run.runId, taskId, mapIndex: num(row, 'map_index'), key: str(row, 'key'), value: JSON.parse(str(row, 'value')) as unknown }));
  }

  async putItemResult(key: TiKey, index: number, value: unknown): Promise<void> {
    this.tx(() => {
      this.requireRun(key);
      this.q.putItem.run(key.dagId, key.runId, key.taskId, key.mapIndex, index, json(value));
    });
  }

  async listItemResults(key: TiKey): Promise<Map<number, unknown>> {
    const out = new Map<number, unknown>();
    for (const row of this.q.listItems.all(key.dagId, key.runId, key.taskId, key.mapIndex)) out.set(num(row, 'item_index'), JSON.parse(str(row, 'value')));
    return out;
  }

  // Pipeline context ---------------------------------------------------------------------------------

  async appendPipelineSave(scope: string, save: PipelineSave): Promise<void> {
    this.q.appendSave.run(scope, save.stage, save.time, save.dagId, save.runId, save.taskId, json(save.data));
  }

  async listPipelineSaves(scope: string): Promise<PipelineSave[]> {
    return this.q.listSaves.all(scope).map((row) => ({
      stage: str(row, 'stage'),
      time: str(row, 'time'),
      data: JSON.parse(str(row, 'data')) as unknown,
      dagId: str(row, 'dag_id'),
      runId: str(row, 'run_id'),
      taskId: str(row, 'task_id'),
    }));
  }

  // Logs -----------------------------------------------------------------------------------------------

  /** Append lines of one try of an existing run, inside a transaction. */
  private appendLines(key: TiKey, tryNumber: number, lines: readonly LogLine[]): void {
    for (const l of lines) this.q.appendLog.run(key.dagId, key.runId, key.taskId, key.mapIndex, tryNumber, l.time, l.level, l.message);
  }

  async appendLog(key: TiKey, tryNumber: number, lines: readonly LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    this.tx(() => {
      // Lines of a run that does not exist are dropped, as the memory store does.
      if (this.q.runExists.get(key.dagId, key.runId)) this.appendLines(key, tryNumber, lines);
    });
  }

  async getLog(key: TiKey, tryNumber: number): Promise<LogLine[]> {
    return this.q.getLog
      .all(key.dagId, key.runId, key.taskId, key.mapIndex, tryNumber)
      .map((row) => ({ time: str(row, 'time'), level: str(row, 'level') as LogLine['level'], message: str(row, 'message') }));
  }

  // DAG registry ------------------------------------------------------------------------------------

  async getDagRecord(dagId: string): Promise<DagRecord | undefined> {
    const row = this.q.getDag.get(dagId);
    return row ? dagFromRow(row) : undefined;
  }

  /** One transaction: the DAG's row (current version) and the version's row (inserted if absent). */
  async registerDagVersion(entry: DagVersionEntry, at: string): Promise<DagRecord> {
    const { dagId, version, structureHash, bundle, fileloc } = entry;
    return this.tx(() => {
      this.q.registerVersion.run(dagId, version, structureHash, bundle, fileloc, at);
      return dagFromRow(this.q.registerDag.get(dagId, version, fileloc, at)!);
    });
  }

  async getDagVersion(dagId: string, version: string): Promise<DagVersionRecord | undefined> {
    const row = this.q.getVersion.get(dagId, version);
    return row ? dagVersionFromRow(row) : undefined;
  }

  async listDagVersions(dagId: string): Promise<DagVersionRecord[]> {
    return this.q.listVersions.all(dagId).map(dagVersionFromRow);
  }

  async markDagVersionPruned(dagId: string, version: string, at: string): Promise<void> {
    this.q.pruneVersion.run(at, dagId, version);
  }

  async setDagPaused(dagId: string, paused: boolean, at: string, reason?: string | null): Promise<DagRecord> {
    return dagFromRow(this.q.pauseDag.get(dagId, paused ? 1 : 0, at, paused ? (reason ?? null) : null)!);
  }

  // Pools and concurrency limits ---------------------------------------------------------------------

  async putPool(pool: PoolRecord): Promise<void> {
    this.q.putPool.run(pool.name, pool.slots, pool.description);
  }

  async getPool(name: string): Promise<PoolRecord | undefined> {
    const row = this.q.getPool.get(name);
    return row ? poolFromRow(row) : undefined;
  }

  async listPools(): Promise<PoolRecord[]> {
    return this.q.listPools.all().map(poolFromRow);
  }

  async deletePool(name: string): Promise<boolean> {
    return this.q.deletePool.run(name).changes > 0;
  }

  // Assets (asset-store.ts) -------------------------------------------------------------------------

  private assetsQ: SqliteAssets | undefined;
  private get assetsPart(): SqliteAssets {
    return (this.assetsQ ??= new SqliteAssets(this.db, (fn) => this.tx(fn)));
  }

  async putAssetEvent(e: AssetEventRecord): Promise<{ applied: boolean; event: AssetEventRecord }> {
    return this.assetsPart.putAssetEvent(e);
  }

  async getAssetEvent(id: string): Promise<AssetEventRecord | null> {
    return this.assetsPart.getAssetEvent(id);
  }

  async listAssetEvents(q: AssetEventQuery): Promise<{ events: AssetEventRecord[]; total: number }> {
    return pageAssetEvents(this.assetsPart.listAssetEvents(q), q);
  }

  async addAssetEventRuns(id: string, runs: readonly RunRef[]): Promise<void> {
    this.assetsPart.addAssetEventRuns(id, runs);
  }

  async upsertAsset(a: Pick<AssetRecord, 'uri' | 'name' | 'group' | 'extra'>, at: string): Promise<AssetRecord> {
    return this.assetsPart.upsertAsset(a, at);
  }

  async getAsset(uri: string): Promise<AssetRecord | null> {
    return this.assetsPart.getAsset(uri);
  }

  async listAssets(): Promise<AssetRecord[]> {
    return this.assetsPart.listAssets();
  }

  async queueAssetEvent(entry: AssetQueueEntry): Promise<void> {
    this.assetsPart.queueAssetEvent(entry);
  }

  async listAssetQueue(dagId: string): Promise<AssetQueueEntry[]> {
    return this.assetsPart.listAssetQueue(dagId);
  }

  async consumeAssetQueue(dagId: string, eventIds: readonly string[]): Promise<void> {
    this.assetsPart.consumeAssetQueue(dagId, eventIds);
  }

  async getAssetClaim(dagId: string): Promise<AssetClaim> {
    return this.assetsPart.getAssetClaim(dagId);
  }

  async claimAssetQueue(dagId: string, expectSeq: number, runId: string, eventIds: readonly string[]): Promise<AssetClaim | null> {
    return this.assetsPart.claimAssetQueue(dagId, expectSeq, runId, eventIds);
  }

  async finishAssetClaim(dagId: string, seq: number): Promise<void> {
    this.assetsPart.finishAssetClaim(dagId, seq);
  }

  // Human-in-the-loop requests ------------------------------------------------------------------------

  private get hitl(): SqliteHitl {
    return (this.hitlQ ??= new SqliteHitl(this.db));
  }

  async putHitlRequest(rec: HitlRecord): Promise<boolean> {
    return this.hitl.put(rec);
  }

  async setHitlTaskToken(ti: TiKey, tryNumber: number, token: string): Promise<boolean> {
    return this.hitl.setToken(ti, tryNumber, token);
  }

  async respondHitl(ti: TiKey, tryNumber: number, response: HitlResponse): Promise<HitlRespondResult> {
    return this.tx(() => this.hitl.respond(ti, tryNumber, response));
  }

  async getHitlRequest(ti: TiKey): Promise<HitlRecord | undefined> {
    return this.hitl.get(ti);
  }

  async listHitlRequests(q: HitlQuery): Promise<{ records: HitlRecord[]; total: number }> {
    return this.hitl.list(q);
  }

  // Variables and connections ------------------------------------------------------------------------

  private get secrets(): SqliteSecrets {
    return (this.secretsQ ??= new SqliteSecrets(this.db));
  }

  async putVariable(variable: VariableRecord): Promise<void> {
    this.secrets.putVariable(variable);
  }

  async getVariable(key: string): Promise<VariableRecord | undefined> {
    return this.secrets.getVariable(key);
  }

  async listVariables(): Promise<VariableRecord[]> {
    return this.secrets.listVariables();
  }

  async deleteVariable(key: string): Promise<boolean> {
    return this.secrets.deleteVariable(key);
  }

  async putConnection(connection: ConnectionRecord): Promise<void> {
    this.secrets.putConnection(connection);
  }

  async getConnection(connectionId: string): Promise<ConnectionRecord | undefined> {
    return this.secrets.getConnection(connectionId);
  }

  async listConnections(): Promise<ConnectionRecord[]> {
    return this.secrets.listConnections();
  }

  async deleteConnection(connectionId: string): Promise<boolean> {
    return this.secrets.deleteConnection(connectionId);
  }

  async tryAcquire(name: string, n: number, limit: number, holder: string): Promise<boolean> {
    return this.tx(() => {
      if (this.q.holderUnits.get(name, holder)) return true;
      const row = this.q.semaphoreUsed.get(name);
      const used = row ? num(row, 'used') : 0;
      if (used + n > limit) return false;
      this.q.setSemaphore.run(name, used + n);
      this.q.addHolder.run(name, holder, n);
      return true;
    });
  }

  async tryAcquireMany(name: string, limit: number, takes: readonly { holder: string; n: number }[]): Promise<boolean> {
    return this.tx(() => {
      if (new Set(takes.map((t) => t.holder)).size !== takes.length) return false;
      if (takes.some((t) => this.q.holderUnits.get(name, t.holder))) return false;
      const row = this.q.semaphoreUsed.get(name);
      const used = row ? num(row, 'used') : 0;
      const total = takes.reduce((a, t) => a + t.n, 0);
      if (used + total > limit) return false;
      this.q.setSemaphore.run(name, used + total);
      for (const t of takes) this.q.addHolder.run(name, t.holder, t.n);
      return true;
    });
  }

  async release(name: string, n: number, holder: string): Promise<boolean> {
    return this.tx(() => this.releaseNow(name, n, holder));
  }

  /** `release` inside a transaction: whether the semaphore has waiters queued. */
  private releaseNow(name: string, n: number, holder: string): boolean {
    if (Number(this.q.removeHolder.run(name, holder, n).changes) > 0) this.q.release.run(n, name);
    return this.q.hasWaiter.get(name) !== undefined;
  }

  async semaphoreHolders(name: string): Promise<Map<string, number>> {
    return new Map(this.q.listHolders.all(name).map((r) => [String(r.holder), num(r, 'n')]));
  }

  async countUp(name: string): Promise<number> {
    return num(this.q.countUp.get(name)!, 'value');
  }

  async enqueueWaiter(name: string, key: TiKey): Promise<void> {
    this.q.enqueue.run(name, key.dagId, key.runId, key.taskId, key.mapIndex);
  }

  async dequeueWaiter(name: string): Promise<TiKey | undefined> {
    const row = this.q.dequeue.get(name);
    return row ? { dagId: str(row, 'dag_id'), runId: str(row, 'run_id'), taskId: str(row, 'task_id'), mapIndex: num(row, 'map_index') } : undefined;
  }
}

// -------------------------------------------------------------------------------------------------
// A locked database

/** SQLITE_BUSY (another connection holds the lock) or SQLITE_LOCKED, with their extended codes. */
function isSqliteBusy(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const { code, errcode } = e as { code?: unknown; errcode?: unknown };
  return code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number' && ((errcode & 0xff) === 5 || (errcode & 0xff) === 6);
}

/** The StoreUnavailableErrors a call gave up with: a call reaching one (a method calling another) does not retry it again. */
const gaveUp = new WeakSet<object>();

/** Carries a given-up error through an outer call's retries (it is not transient, so it is not retried). */
class GaveUp extends Error {
  constructor(readonly error: unknown) {
    super('gave up retrying a locked database');
  }
}

/** `method`, called again on timers while the database is locked; then a StoreUnavailableError. */
function retriedWhileLocked<A extends unknown[], R>(name: string, method: (this: SqliteStateStore, ...args: A) => Promise<R>) {
  const retried = async function (this: SqliteStateStore, ...args: A): Promise<R> {
    const call = async (): Promise<R> => {
      try {
        return await method.apply(this, args);
      } catch (e) {
        if (isSqliteBusy(e)) throw new StoreUnavailableError(`the SQLite store ${this.path} is locked by another connection (${(e as Error).message})`, { cause: e });
        if (typeof e === 'object' && e !== null && gaveUp.has(e)) throw new GaveUp(e);
        throw e;
      }
    };
    try {
      return await retryTransient(call, this.busyRetry);
    } catch (e) {
      if (e instanceof GaveUp) throw e.error;
      if (!(e instanceof StoreUnavailableError) || !isSqliteBusy(e.cause)) throw e;
      const attempts = this.busyRetry.attempts ?? SQLITE_BUSY_RETRY.attempts;
      const retryAfterMs = Math.max(1000, this.busyRetry.maxMs ?? SQLITE_BUSY_RETRY.maxMs);
      const out = new StoreUnavailableError(`${e.detail}; ${name} gave up after ${attempts} attempts`, { cause: e.cause, retryAfterMs, final: true });
      gaveUp.add(out);
      throw out;
    }
  };
  Object.defineProperty(retried, 'name', { value: name });
  return retried;
}

// Every async method (each method of the StateStore interface, and any added later) is retried while the
// database is locked; the synchronous helpers (tx, transition...) run inside them.
for (const name of Object.getOwnPropertyNames(SqliteStateStore.prototype)) {
  const d = Object.getOwnPropertyDescriptor(SqliteStateStore.prototype, name);
  if (typeof d?.value !== 'function' || Object.prototype.toString.call(d.value) !== '[object AsyncFunction]') continue;
  Object.defineProperty(SqliteStateStore.prototype, name, { ...d, value: retriedWhileLocked(name, d.value as (this: SqliteStateStore, ...args: unknown[]) => Promise<unknown>) });
}

/** Create the schema in a new database, or check the version of an existing one (one transaction). */
function openSchema(db: DatabaseSync, path: string): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    const tables = new Set(
      db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .all()
        .map((r) => String(r.name)),
    );
    if (!tables.has('schema_version')) {
      if (tables.size > 0) {
        throw new Error(`${path} is a SQLite database, but not an airless store (it has tables ${[...tables].sort().join(', ')} and no schema_version)`);
      }
      db.exec(SCHEMA);
      db.prepare('INSERT INTO schema_version (id, version, updated_at) VALUES (1, ?, ?)').run(SQLITE_SCHEMA_VERSION, new Date().toISOString());
    } else {
      const row = db.prepare('SELECT version FROM schema_version WHERE id = 1').get();
      const version = typeof row?.version === 'number' ? row.version : NaN;
      if (!Number.isInteger(version)) throw new Error(`${path} has no valid schema version`);
      if (version > SQLITE_SCHEMA_VERSION) {
        throw new Error(
          `${path} was written by a newer airless (store schema version ${version}; this airless knows versions up to ${SQLITE_SCHEMA_VERSION}): upgrade airless, or use another AIRLESS_HOME`,
        );
      }
      // Migrations from older versions (version < SQLITE_SCHEMA_VERSION), one version at a time.
      if (version < 2) {
        db.exec(MIGRATE_1_TO_2);
        db.prepare('UPDATE schema_version SET version = 2, updated_at = ? WHERE id = 1').run(new Date().toISOString());
        tables.add('backfills');
      }
      if (version < 3) {
        db.exec(MIGRATE_2_TO_3);
        db.prepare('UPDATE schema_version SET version = 3, updated_at = ? WHERE id = 1').run(new Date().toISOString());
      }
      // Created by the migration to version 5 below.
      if (version < 5) tables.add('dag_versions');
      // Created by the migration to version 6 below.
      if (version < 6) tables.add('variables').add('connections');
      // Created by the migration to version 7 below.
      if (version < 7) for (const t of ASSET_TABLES) tables.add(t);
      // Created by the migration to version 8 below.
      if (version < 8) tables.add('hitl_requests');
      // Created by the migration to version 9 below.
      if (version < 9) tables.add('asset_claims');
      // Added without a version of its own (created if missing): a file of an earlier airless gets it here.
      db.exec(SEMAPHORE_HOLDERS_TABLE);
      tables.add('semaphore_holders');
      const missing = TABLES.filter((t) => !tables.has(t));
      if (missing.length > 0) throw new Error(`${path} is an airless store of schema version ${version} with tables missing: ${missing.join(', ')}`);
      if (version < 4) {
        migrate3to4(db);
        db.prepare('UPDATE schema_version SET version = 4, updated_at = ? WHERE id = 1').run(new Date().toISOString());
      }
      if (version < 5) {
        db.exec(MIGRATE_4_TO_5);
        db.prepare('UPDATE schema_version SET version = 5, updated_at = ? WHERE id = 1').run(new Date().toISOString());
      }
      if (version < 6) {
        db.exec(MIGRATE_5_TO_6);
        db.prepare('UPDATE schema_version SET version = 6, updated_at = ? WHERE id = 1').run(new Date().toISOString());
      }
      if (version < 7) {
        db.exec(MIGRATE_6_TO_7);
        db.prepare('UPDATE schema_version SET version = 7, updated_at = ? WHERE id = 1').run(new Date().toISOString());
      }
      if (version < 8) {
        db.exec(MIGRATE_7_TO_8);
        db.prepare('UPDATE schema_version SET version = 8, updated_at = ? WHERE id = 1').run(new Date().toISOString());
      }
      if (version < 9) {
        db.exec(MIGRATE_8_TO_9);
        db.prepare('UPDATE schema_version SET version = 9, updated_at = ? WHERE id = 1').run(new Date().toISOString());
      }
    }
    db.exec('COMMIT');
  } catch (e) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw e;
  }
}
