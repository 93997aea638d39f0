import { spawn } from 'node:child_process';
import { parseErrorText } from '../lib/error-info.ts';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../lib/errors.ts';
import { isTransientStoreError, retryTransient } from '../lib/store/retry.ts';
import { defaultAirlessHome, SQLITE_SCHEMA_VERSION, SqliteStateStore, sqliteDatabasePath } from '../lib/store/sqlite-store.ts';
import { pipelineScopeOf, type DagRunRecord, type LogLine, type RunRef, type TaskInstanceRecord, type TiKey } from '../lib/store/records.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import type { FinishRequest, StateStore } from '../lib/store/state-store.ts';
import { describeStoreContract } from './store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'airless-sqlite-'));
const opened: SqliteStateStore[] = [];
let files = 0;

/** A new database file in this test's temp folder (a subfolder: the store creates folders). */
const newPath = () => join(dir, `db${files++}`, 'airless.db');

function open(path: string = newPath()): SqliteStateStore {
  const s = new SqliteStateStore({ path });
  opened.push(s);
  return s;
}

afterAll(() => {
  for (const s of opened) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describeStoreContract('SqliteStateStore on a file', () => open(), {
  // As a version before structured errors wrote them: the text in the error column and in the history's JSON.
  async writeTextErrors(store, k, error, history) {
    const raw = new DatabaseSync((store as SqliteStateStore).path);
    try {
      const row = raw.prepare('SELECT history FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?').get(k.dagId, k.runId, k.taskId, k.mapIndex) as { history: string | null };
      const tries = (row.history === null ? [] : (JSON.parse(row.history) as Record<string, unknown>[])).map((t, i) => ({ ...t, error: history[i] ?? null }));
      raw
        .prepare('UPDATE task_instances SET error = ?, history = ? WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?')
        .run(error, tries.length ? JSON.stringify(tries) : null, k.dagId, k.runId, k.taskId, k.mapIndex);
    } finally {
      raw.close();
    }
  },
});

// -------------------------------------------------------------------------------------------------

const T0 = Date.UTC(2026, 0, 1);
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
const key = (runId: string, taskId: string, mapIndex = -1): TiKey => ({ dagId: 'sqlite_dag', runId, taskId, mapIndex });
/** A run of the test's DAG by id. */
const ref = (runId: string): RunRef => ({ dagId: 'sqlite_dag', runId });

function makeRun(runId: string, over: Partial<DagRunRecord> = {}): DagRunRecord {
  return {
    dagId: 'sqlite_dag',
    runId,
    state: 'running',
    runType: 'manual',
    conf: { a: 1, nested: { list: [1, 'two', null] } },
    params: { p: 'x' },
    logicalDate: at(0),
    queuedAt: at(0),
    startDate: at(0),
    endDate: null,
    dagVersion: 'v1',
    pending: 10,
    parent: { dagId: 'up', runId: 'up-run', taskId: 'trigger', mapIndex: -1, tryNumber: 1 },
    pipelineScope: pipelineScopeOf({ dagId: 'sqlite_dag', runId }),
    note: null,
    ...over,
  };
}

function makeTi(runId: string, taskId: string, mapIndex = -1, over: Partial<TaskInstanceRecord> = {}): TaskInstanceRecord {
  return {
    dagId: 'sqlite_dag',
    runId,
    taskId,
    mapIndex,
    state: 'scheduled',
    tryNumber: 0,
    maxTries: 2,
    queuedAt: null,
    startDate: null,
    endDate: null,
    nextAt: null,
    firstPokeAt: null,
    pokeCount: 0,
    durationMs: null,
    error: null,
    externalId: null,
    resume: false,
    ...over,
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** `n` running instances (try 1) of task `m` in a new run of pending `n + 10`. */
async function mappedRun(s: SqliteStateStore, runId: string, n: number): Promise<void> {
  expect(await s.createRun(makeRun(runId, { pending: n + 10 }))).toBe(true);
  await s.createTaskInstances(range(0, n).map((i) => makeTi(runId, 'm', i, { state: 'running', tryNumber: 1, queuedAt: at(1), startDate: at(1) })));
}

const bulkFinish = (runId: string, n: number): FinishRequest[] =>
  range(0, n).map((i) => ({
    key: key(runId, 'm', i),
    expect: { states: ['running'], tryNumber: 1 },
    state: i % 10 === 0 ? 'failed' : 'success',
    patch: { endDate: at(2), durationMs: 60_000 + i },
    downstream: ['join', 'report'],
  }));

// -------------------------------------------------------------------------------------------------

describe('SqliteStateStore: opening', () => {
  it('defaultAirlessHome: AIRLESS_HOME (resolved against cwd) or <cwd>/.airless', () => {
    expect(defaultAirlessHome({}, '/work/project')).toBe('/work/project/.airless');
    expect(defaultAirlessHome({ AIRLESS_HOME: '' }, '/work/project')).toBe('/work/project/.airless');
    expect(defaultAirlessHome({ AIRLESS_HOME: '/var/airless' }, '/work/project')).toBe('/var/airless');
    expect(defaultAirlessHome({ AIRLESS_HOME: 'state' }, '/work/project')).toBe('/work/project/state');
    expect(sqliteDatabasePath('/var/airless')).toBe('/var/airless/airless.db');
  });

  it('creates the folders, puts the file in WAL mode, records the schema version', () => {
    const path = join(dir, 'deep', 'er', 'home', 'airless.db');
    open(path).close();
    expect(existsSync(path)).toBe(true);
    const raw = new DatabaseSync(path);
    try {
      expect(raw.prepare('PRAGMA journal_mode').get()?.journal_mode).toBe('wal');
      expect(raw.prepare('SELECT version FROM schema_version').get()?.version).toBe(SQLITE_SCHEMA_VERSION);
    } finally {
      raw.close();
    }
    expect(open(path).path).toBe(path);
  });

  it(':memory: works (a private database per store)', async () => {
    const a = open(':memory:');
    const b = open(':memory:');
    expect(await a.createRun(makeRun('mem'))).toBe(true);
    expect(await a.getRun(ref('mem'))).toEqual(makeRun('mem'));
    expect(await b.getRun(ref('mem'))).toBeUndefined();
  });

  it('refuses a file written by a newer schema, a foreign database and a file that is not a database, with a clear error', () => {
    const newer = newPath();
    open(newer).close();
    const raw = new DatabaseSync(newer);
    raw.exec(`UPDATE schema_version SET version = ${SQLITE_SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => open(newer)).toThrow(new RegExp(`written by a newer airless \\(store schema version ${SQLITE_SCHEMA_VERSION + 1}; this airless knows versions up to ${SQLITE_SCHEMA_VERSION}\\)`));

    const foreign = join(dir, 'foreign.db');
    const other = new DatabaseSync(foreign);
    other.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
    other.close();
    expect(() => open(foreign)).toThrow(/not an airless store \(it has tables notes and no schema_version\)/);

    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, 'this is not a database, just some text that is long enough to have a header '.repeat(20));
    expect(() => open(garbage)).toThrow(/cannot open the airless store at .*garbage\.db: .*not a database/);
  });

  it('migrates a schema version 2 file: its instances and task states read back without history, and take one', async () => {
    // The file as schema version 2 wrote it: version 3's schema without the history columns.
    const path = v3File(`
      INSERT INTO runs (run_id, dag_id, state, run_type, conf, params, logical_date, queued_at, start_date, end_date, dag_version, pending, parent, pipeline_scope, note)
        VALUES ('old', 'sqlite_dag', 'running', 'manual', '{}', '{}', '${at(0)}', '${at(0)}', '${at(0)}', NULL, 'v1', 10, NULL, 'old', NULL);
      INSERT INTO task_instances (run_id, task_id, map_index, dag_id, state, try_number, max_tries, queued_at, start_date, end_date, next_at, first_poke_at, poke_count, duration_ms, error, external_id, resume)
        VALUES ('old', 't', -1, 'sqlite_dag', 'running', 1, 2, NULL, '${at(1)}', NULL, NULL, NULL, 0, NULL, NULL, NULL, 0);
      INSERT INTO task_states (run_id, task_id, decision) VALUES ('old', 't', 'scheduled');
    `);
    const raw = new DatabaseSync(path);
    raw.exec(`ALTER TABLE task_instances DROP COLUMN history;
      ALTER TABLE task_states DROP COLUMN prior_history;
      UPDATE schema_version SET version = 2;`);
    raw.close();

    const s = open(path);
    const check = new DatabaseSync(path);
    try {
      expect(check.prepare('SELECT version FROM schema_version').get()?.version).toBe(SQLITE_SCHEMA_VERSION);
      expect(check.prepare("SELECT name FROM pragma_table_info('task_instances') WHERE name = 'history'").get()?.name).toBe('history');
      expect(check.prepare("SELECT name FROM pragma_table_info('task_states') WHERE name = 'prior_history'").get()?.name).toBe('prior_history');
    } finally {
      check.close();
    }
    const ti = await s.getTaskInstance(key('old', 't'));
    expect(ti).toEqual(makeTi('old', 't', -1, { state: 'running', tryNumber: 1, startDate: at(1) }));
    expect(ti && 'history' in ti).toBe(false);
    expect((await s.getTaskStates(ref('old'), ['t']))[0]?.priorHistory).toBeUndefined();
    const history = [{ tryNumber: 1, state: 'failed' as const, startDate: at(1), endDate: at(2), durationMs: 60_000, error: parseErrorText('Error: boom') }];
    await s.updateTaskInstance(key('old', 't'), { states: ['running'], tryNumber: 1 }, { state: 'up_for_retry', endDate: at(2), history });
    expect((await s.getTaskInstance(key('old', 't')))?.history).toEqual(history);
    s.close();
    expect((await open(path).getTaskInstance(key('old', 't')))?.history).toEqual(history);
  });

  it('a closed store refuses calls; close is idempotent', async () => {
    const s = open();
    s.close();
    s.close();
    await expect(s.getRun(ref('x'))).rejects.toThrow(/not open|finalized/);
  });

  it('records are fresh objects: changing one changes neither the store nor the next one returned', async () => {
    const s = open();
    await s.createRun(makeRun('fresh'));
    await s.createTaskInstances([makeTi('fresh', 't')]);
    const a = (await s.getTaskInstance(key('fresh', 't')))!;
    const b = (await s.getTaskInstance(key('fresh', 't')))!;
    expect(a).not.toBe(b);
    a.state = 'failed';
    const run = (await s.getRun(ref('fresh')))!;
    (run.conf as { a: number }).a = 99;
    expect((await s.getTaskInstance(key('fresh', 't')))?.state).toBe('scheduled');
    expect((await s.getRun(ref('fresh')))?.conf).toEqual(makeRun('fresh').conf);
  });
});

// -------------------------------------------------------------------------------------------------

/**
 * The schema as version 3 wrote it (copied, not derived from the code: the migration must read files
 * that code no longer creates). Runs were keyed by run id alone, unique across DAGs.
 */
const SCHEMA_V3 = `
CREATE TABLE schema_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);

-- A rowid table: the rowid is the creation order, the last tie-breaker of the run listings.
CREATE TABLE runs (
  run_id TEXT NOT NULL PRIMARY KEY,
  dag_id TEXT NOT NULL,
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
  clear_number INTEGER
);
CREATE INDEX runs_by_dag ON runs (dag_id, logical_date, queued_at);
CREATE INDEX runs_by_state ON runs (state, queued_at);

CREATE TABLE task_states (
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
  PRIMARY KEY (run_id, task_id)
) WITHOUT ROWID;

CREATE TABLE task_instances (
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL,
  dag_id TEXT NOT NULL,
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
  PRIMARY KEY (run_id, task_id, map_index)
) WITHOUT ROWID;

CREATE TABLE xcoms (
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  key TEXT NOT NULL,
  map_index INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, task_id, key, map_index)
);

CREATE TABLE item_results (
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL,
  item_index INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, task_id, map_index, item_index)
);

CREATE TABLE log_lines (
  seq INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL,
  try_number INTEGER NOT NULL,
  time TEXT NOT NULL,
  level TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX log_lines_by_try ON log_lines (run_id, task_id, map_index, try_number, seq);

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

CREATE TABLE counters (
  name TEXT NOT NULL PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE backfills (
  dag_id TEXT NOT NULL,
  backfill_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (dag_id, backfill_id)
) WITHOUT ROWID;

-- seq (the rowid) only grows: a new row gets max + 1, so per name it is the order of arrival (FIFO).
CREATE TABLE waiters (
  seq INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL
);
CREATE INDEX waiters_by_name ON waiters (name, seq);
`;

/** A file written by schema version 3: its DDL, then `rows` (SQL), at version 3. */
function v3File(rows: string): string {
  const path = newPath();
  mkdirSync(dirname(path), { recursive: true });
  const raw = new DatabaseSync(path);
  try {
    raw.exec('PRAGMA journal_mode = WAL');
    raw.exec(SCHEMA_V3);
    raw.exec(`INSERT INTO schema_version (id, version, updated_at) VALUES (1, 3, '2026-01-01T00:00:00.000Z');`);
    raw.exec(rows);
  } finally {
    raw.close();
  }
  return path;
}

/** Two top-level runs of DAG `a`, the run `r1` triggered in DAG `b`, and something of every run-keyed table. */
const V3_ROWS = `
  INSERT INTO runs (run_id, dag_id, state, run_type, conf, params, logical_date, queued_at, start_date, end_date, dag_version, pending, parent, pipeline_scope, note, backfill_id, clear_number) VALUES
    ('r1', 'a', 'running', 'manual', '{"x":1}', '{}', '${at(0)}', '${at(0)}', '${at(0)}', NULL, 'v1', 2, NULL, 'r1', NULL, NULL, NULL),
    ('c1', 'b', 'success', 'triggered', '{}', '{}', '${at(1)}', '${at(1)}', '${at(1)}', '${at(2)}', 'v1', 0, '{"dagId":"a","runId":"r1","taskId":"t","mapIndex":-1,"tryNumber":1}', 'r1', NULL, NULL, NULL),
    ('r0', 'a', 'success', 'backfill', '{}', '{}', '${at(-60)}', '${at(5)}', '${at(5)}', '${at(6)}', 'v1', 0, NULL, 'r0', NULL, '7', 2);
  INSERT INTO task_states (run_id, task_id, up_success, self_success, decision, map_count, prior_tries) VALUES ('r1', 't', 1, 0, 'expanded', 2, 1), ('c1', 'u', 0, 1, 'scheduled', NULL, 0);
  INSERT INTO task_instances (run_id, task_id, map_index, dag_id, state, try_number, max_tries, queued_at, start_date, end_date, next_at, first_poke_at, poke_count, duration_ms, error, external_id, resume, history) VALUES
    ('r1', 't', 0, 'a', 'deferred', 1, 2, '${at(0)}', '${at(0)}', NULL, NULL, NULL, 0, NULL, NULL, 'c1', 0, NULL),
    ('r1', 't', 1, 'a', 'success', 2, 3, NULL, NULL, '${at(3)}', NULL, NULL, 0, 1500, NULL, NULL, 0, '[{"tryNumber":1,"state":"failed","startDate":null,"endDate":null,"durationMs":null,"error":"E: x"}]'),
    ('c1', 'u', -1, 'b', 'success', 1, 1, NULL, NULL, '${at(2)}', NULL, NULL, 0, 10, NULL, NULL, 0, NULL);
  INSERT INTO xcoms (run_id, task_id, key, map_index, value) VALUES ('r1', 't', 'return_value', 1, '{"n":1}'), ('c1', 'u', 'return_value', -1, '"done"'), ('deleted', 'z', 'return_value', -1, '0');
  INSERT INTO item_results (run_id, task_id, map_index, item_index, value) VALUES ('r1', 't', 1, 4, '[4]');
  INSERT INTO log_lines (run_id, task_id, map_index, try_number, time, level, message) VALUES ('r1', 't', 1, 1, '${at(1)}', 'error', 'first'), ('r1', 't', 1, 2, '${at(2)}', 'info', 'second');
  INSERT INTO pipeline_saves (scope, stage, time, dag_id, run_id, task_id, data) VALUES ('r1', 'top', '${at(0)}', 'a', 'r1', 't', '{"s":1}'), ('r1', 'child', '${at(2)}', 'b', 'c1', 'u', '2'), ('gone', 'orphan', '${at(0)}', 'x', 'gone', 't', '3');
  INSERT INTO waiters (name, run_id, task_id, map_index) VALUES ('pool:p', 'r1', 't', 0), ('pool:p', 'c1', 'u', -1);
  INSERT INTO dags (dag_id, version, paused, fileloc, updated_at) VALUES ('a', 'v1', 1, 'a.ts', '${at(0)}');
  INSERT INTO semaphores (name, used) VALUES ('runs:a', 1);
`;

describe('SqliteStateStore: migrating a schema version 3 file (runs keyed by run id alone)', () => {
  it('keys every run-keyed row by DAG and run id, moves top-level pipeline scopes to <dagId>/<runId>, and keeps the rest', async () => {
    const path = v3File(V3_ROWS);
    const s = open(path);
    const check = new DatabaseSync(path);
    try {
      expect(check.prepare('SELECT version FROM schema_version').get()?.version).toBe(SQLITE_SCHEMA_VERSION);
      const pk = (table: string) => check.prepare(`SELECT name FROM pragma_table_info('${table}') WHERE pk > 0 ORDER BY pk`).all().map((r) => r.name);
      expect(pk('runs')).toEqual(['dag_id', 'run_id']);
      expect(pk('task_states')).toEqual(['dag_id', 'run_id', 'task_id']);
      expect(pk('task_instances')).toEqual(['dag_id', 'run_id', 'task_id', 'map_index']);
      expect(pk('xcoms')).toEqual(['dag_id', 'run_id', 'task_id', 'key', 'map_index']);
      expect(pk('item_results')).toEqual(['dag_id', 'run_id', 'task_id', 'map_index', 'item_index']);
      const tables = check.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => r.name);
      expect(tables.filter((t) => String(t).endsWith('_v3'))).toEqual([]);
      // Rows of a run that no longer exists could never be read: they are not carried over.
      expect(check.prepare("SELECT COUNT(*) AS n FROM xcoms WHERE run_id = 'deleted'").get()?.n).toBe(0);
    } finally {
      check.close();
    }
    const r1 = { dagId: 'a', runId: 'r1' };
    const c1 = { dagId: 'b', runId: 'c1' };
    expect(await s.getRun(r1)).toMatchObject({ ...r1, state: 'running', conf: { x: 1 }, pending: 2, parent: null, pipelineScope: 'a/r1' });
    expect(await s.getRun(c1)).toMatchObject({ ...c1, parent: { dagId: 'a', runId: 'r1', taskId: 't', mapIndex: -1, tryNumber: 1 }, pipelineScope: 'a/r1' });
    expect(await s.getRun({ dagId: 'b', runId: 'r1' })).toBeUndefined();
    expect(await s.getRun({ dagId: 'a', runId: 'r0' })).toMatchObject({ backfillId: '7', clearNumber: 2, pipelineScope: 'a/r0' });
    // Listings as before: by DAG in logical-date order, by state.
    expect((await s.listRuns({ dagId: 'a' })).map((r) => r.runId)).toEqual(['r0', 'r1']);
    expect((await s.listRunsByState('success')).map((r) => `${r.dagId}/${r.runId}`)).toEqual(['b/c1', 'a/r0']);
    const [t] = await s.getTaskStates(r1, ['t']);
    expect(t).toMatchObject({ ...r1, taskId: 't', decision: 'expanded', mapCount: 2, priorTries: 1, upstream: { success: 1 } });
    expect((await s.getTaskStates(c1, ['u']))[0]).toMatchObject({ ...c1, decision: 'scheduled', self: { success: 1 } });
    expect((await s.listTaskInstances(r1)).map((ti) => [ti.dagId, ti.runId, ti.taskId, ti.mapIndex, ti.state])).toEqual([
      ['a', 'r1', 't', 0, 'deferred'],
      ['a', 'r1', 't', 1, 'success'],
    ]);
    expect((await s.getTaskInstance({ ...r1, taskId: 't', mapIndex: 1 }))?.history).toEqual([{ tryNumber: 1, state: 'failed', startDate: null, endDate: null, durationMs: null, error: { name: 'E', message: 'x' } }]); // its error as this version reads an older one's text
    expect(await s.getXCom(r1, 't', 1, 'return_value')).toEqual({ ...r1, taskId: 't', mapIndex: 1, key: 'return_value', value: { n: 1 } });
    expect((await s.getXCom(c1, 'u', -1, 'return_value'))?.value).toBe('done');
    expect([...(await s.listItemResults({ ...r1, taskId: 't', mapIndex: 1 })).entries()]).toEqual([[4, [4]]]);
    expect((await s.getLog({ ...r1, taskId: 't', mapIndex: 1 }, 1)).map((l) => l.message)).toEqual(['first']);
    expect((await s.getLog({ ...r1, taskId: 't', mapIndex: 1 }, 2)).map((l) => l.message)).toEqual(['second']);
    expect((await s.listPipelineSaves('a/r1')).map((x) => x.stage)).toEqual(['top', 'child']);
    expect(await s.listPipelineSaves('r1')).toEqual([]);
    expect((await s.listPipelineSaves('gone')).map((x) => x.stage)).toEqual(['orphan']);
    // Waiters keep their order and now name their run's DAG.
    expect(await s.dequeueWaiter('pool:p')).toEqual({ ...r1, taskId: 't', mapIndex: 0 });
    expect(await s.dequeueWaiter('pool:p')).toEqual({ ...c1, taskId: 'u', mapIndex: -1 });
    // Tables that are not keyed by run are untouched.
    expect(await s.getDagRecord('a')).toMatchObject({ version: 'v1', paused: true });
    expect(await s.tryAcquire('runs:a', 1, 1, 'h')).toBe(false);
    // Now DAG b can have its own run 'r1', apart from DAG a's; deleting a's removes its scope's saves.
    expect(await s.createRun(makeRun('r1', { dagId: 'b', pipelineScope: 'b/r1', parent: null }))).toBe(true);
    expect((await s.getRun({ dagId: 'b', runId: 'r1' }))?.pipelineScope).toBe('b/r1');
    expect(await s.deleteRun(r1)).toMatchObject({ dagId: 'a', runId: 'r1', taskInstances: 2, xcoms: 1, itemResults: 1, logs: 2, pipelineSaves: 2 });
    expect(await s.getRun({ dagId: 'b', runId: 'r1' })).toBeDefined();
    s.close();
    // Opened again: nothing more to migrate.
    expect((await open(path).getRun(c1))?.pipelineScope).toBe('a/r1');
  });

  it('is one transaction: a migration that fails leaves the file as version 3 wrote it', async () => {
    // A table in the way of the migration's own (as a crash could never leave: the migration is atomic).
    const path = v3File(`${V3_ROWS}\n  CREATE TABLE task_states_v3 (x INTEGER);`);
    expect(() => open(path)).toThrow(/cannot open the airless store/);
    const raw = new DatabaseSync(path);
    try {
      expect(raw.prepare('SELECT version FROM schema_version').get()?.version).toBe(3);
      expect(raw.prepare("SELECT name FROM pragma_table_info('runs') WHERE pk > 0").all().map((r) => r.name)).toEqual(['run_id']);
      expect(raw.prepare('SELECT pipeline_scope FROM runs WHERE run_id = ?').get('c1')?.pipeline_scope).toBe('r1');
      expect(raw.prepare('SELECT COUNT(*) AS n FROM task_instances').get()?.n).toBe(3);
      raw.exec('DROP TABLE task_states_v3');
    } finally {
      raw.close();
    }
    // With the obstacle gone, it migrates.
    expect((await open(path).getRun({ dagId: 'b', runId: 'c1' }))?.pipelineScope).toBe('a/r1');
  });
});

/**
 * The schema as version 4 wrote it (copied, not derived from the code): no DAG version records, and runs
 * without pinned versions.
 */
const SCHEMA_V4 = `
CREATE TABLE schema_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);
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

CREATE TABLE semaphore_holders (
  name TEXT NOT NULL,
  holder TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (name, holder)
) WITHOUT ROWID;;

CREATE TABLE counters (
  name TEXT NOT NULL PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE backfills (
  dag_id TEXT NOT NULL,
  backfill_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (dag_id, backfill_id)
) WITHOUT ROWID;;
`;

/** A file written by schema version 4: its DDL, then `rows` (SQL), at version 4. */
function v4File(rows: string): string {
  const path = newPath();
  mkdirSync(dirname(path), { recursive: true });
  const raw = new DatabaseSync(path);
  try {
    raw.exec('PRAGMA journal_mode = WAL');
    raw.exec(SCHEMA_V4);
    raw.exec(`INSERT INTO schema_version (id, version, updated_at) VALUES (1, 4, '2026-01-01T00:00:00.000Z');`);
    raw.exec(rows);
  } finally {
    raw.close();
  }
  return path;
}

const V4_ROWS = `
  INSERT INTO runs (dag_id, run_id, state, run_type, conf, params, logical_date, queued_at, start_date, end_date, dag_version, pending, parent, pipeline_scope, note, backfill_id, clear_number) VALUES
    ('a', 'r1', 'running', 'manual', '{"x":1}', '{}', '${at(0)}', '${at(0)}', '${at(0)}', NULL, 'v1', 2, NULL, 'a/r1', NULL, NULL, NULL),
    ('b', 'c1', 'success', 'triggered', '{}', '{}', '${at(1)}', '${at(1)}', '${at(1)}', '${at(2)}', 'v1', 0, '{"dagId":"a","runId":"r1","taskId":"t","mapIndex":-1,"tryNumber":1}', 'a/r1', 'noted', '7', 2);
  INSERT INTO task_instances (dag_id, run_id, task_id, map_index, state, try_number, max_tries, queued_at, start_date, end_date, next_at, first_poke_at, poke_count, duration_ms, error, external_id, resume, history) VALUES
    ('a', 'r1', 't', -1, 'running', 1, 2, NULL, '${at(0)}', NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL);
  INSERT INTO dags (dag_id, version, paused, fileloc, updated_at) VALUES ('a', 'v1', 1, 'a.ts', '${at(0)}'), ('b', 'v1', 0, NULL, '${at(0)}');
  INSERT INTO backfills (dag_id, backfill_id, created_at, record) VALUES ('a', '7', '${at(0)}', '{"backfillId":"7","dagId":"a"}');
`;

describe('SqliteStateStore: migrating a schema version 4 file (no DAG version records, no pinned versions)', () => {
  it('adds the version table and the pinned versions column, and keeps runs, instances, DAGs and backfills', async () => {
    const path = v4File(V4_ROWS);
    const s = open(path);
    const check = new DatabaseSync(path);
    try {
      expect(check.prepare('SELECT version FROM schema_version').get()?.version).toBe(SQLITE_SCHEMA_VERSION);
      expect(check.prepare("SELECT name FROM pragma_table_info('runs') WHERE name = 'pinned_versions'").get()?.name).toBe('pinned_versions');
      // Schema 6: why airless paused a DAG.
      expect(check.prepare("SELECT name FROM pragma_table_info('dags') WHERE name = 'paused_reason'").get()?.name).toBe('paused_reason');
      // Version 6: a task instance's note.
      expect(check.prepare("SELECT name FROM pragma_table_info('task_instances') WHERE name = 'note'").get()?.name).toBe('note');
      const pk = check.prepare("SELECT name FROM pragma_table_info('dag_versions') WHERE pk > 0 ORDER BY pk").all().map((r) => r.name);
      expect(pk).toEqual(['dag_id', 'version']);
    } finally {
      check.close();
    }
    // Runs as they were, without pinned versions.
    const r1 = (await s.getRun({ dagId: 'a', runId: 'r1' }))!;
    expect(r1).toMatchObject({ dagId: 'a', runId: 'r1', state: 'running', conf: { x: 1 }, pending: 2, parent: null, pipelineScope: 'a/r1', dagVersion: 'v1' });
    expect('pinnedVersions' in r1).toBe(false);
    expect(await s.getRun({ dagId: 'b', runId: 'c1' })).toMatchObject({ parent: { dagId: 'a', runId: 'r1' }, note: 'noted', backfillId: '7', clearNumber: 2 });
    expect((await s.listRuns({ dagId: 'a' })).map((r) => r.runId)).toEqual(['r1']);
    const migratedTi = (await s.getTaskInstance({ dagId: 'a', runId: 'r1', taskId: 't', mapIndex: -1 }))!;
    expect(migratedTi.state).toBe('running');
    expect('note' in migratedTi).toBe(false);
    expect((await s.updateTaskInstance(migratedTi, { states: ['running'], tryNumber: 1 }, { note: 'looked at' }))?.note).toBe('looked at');
    // DAG records as they were; no version records until a version is registered.
    expect(await s.getDagRecord('a')).toEqual({ dagId: 'a', version: 'v1', paused: true, fileloc: 'a.ts', updatedAt: at(0) });
    expect(await s.listDagVersions('a')).toEqual([]);
    expect(await s.getDagVersion('a', 'v1')).toBeUndefined();
    expect((await s.listBackfills('a')).map((b) => b.backfillId)).toEqual(['7']);
    // The new records work on the migrated file.
    expect(await s.registerDagVersion({ dagId: 'a', version: 'v2', structureHash: 's2', bundle: 'b2', fileloc: 'a.ts' }, at(5))).toEqual({ dagId: 'a', version: 'v2', paused: true, fileloc: 'a.ts', updatedAt: at(5) });
    expect(await s.listDagVersions('a')).toEqual([{ dagId: 'a', version: 'v2', structureHash: 's2', bundle: 'b2', fileloc: 'a.ts', createdAt: at(5), prunedAt: null }]);
    expect((await s.updateRun({ dagId: 'a', runId: 'r1' }, null, { pinnedVersions: { b: 'v1' } }))?.pinnedVersions).toEqual({ b: 'v1' });
    expect((await s.setDagPaused('b', true, at(6), 'auto-paused after 2 consecutive failed runs')).pausedReason).toBe('auto-paused after 2 consecutive failed runs');
    s.close();
    // Opened again: nothing more to migrate, what was written is there.
    const again = open(path);
    expect((await again.getRun({ dagId: 'a', runId: 'r1' }))?.pinnedVersions).toEqual({ b: 'v1' });
    expect((await again.getDagVersion('a', 'v2'))?.createdAt).toBe(at(5));
    expect((await again.getDagRecord('b'))?.pausedReason).toBe('auto-paused after 2 consecutive failed runs');
    // Unpausing clears the reason.
    expect('pausedReason' in (await again.setDagPaused('b', false, at(7)))).toBe(false);
    expect((await again.getTaskInstance({ dagId: 'a', runId: 'r1', taskId: 't', mapIndex: -1 }))?.note).toBe('looked at');
    again.close();
  });

  it('migrating on to version 6 adds variables and connections, empty and usable', async () => {
    const path = v4File(V4_ROWS);
    const s = open(path);
    expect(await s.listVariables()).toEqual([]);
    expect(await s.listConnections()).toEqual([]);
    await s.putVariable({ key: 'k', value: 'v', description: null });
    await s.putConnection({ connectionId: 'c', connType: 'http', host: 'h', login: null, password: 'pw', schema: null, port: 80, extra: null, description: null });
    s.close();
    const again = open(path);
    expect(await again.getVariable('k')).toEqual({ key: 'k', value: 'v', description: null });
    expect((await again.getConnection('c'))?.password).toBe('pw');
    expect((await again.getRun({ dagId: 'a', runId: 'r1' }))?.state).toBe('running');
  });

  it('migrating on to version 7 adds human-in-the-loop requests, empty and usable', async () => {
    const path = v4File(V4_ROWS);
    const s = open(path);
    const ti = { dagId: 'a', runId: 'r1', taskId: 't', mapIndex: -1 };
    expect(await s.listHitlRequests({ limit: 10 })).toEqual({ records: [], total: 0 });
    const rec = { ...ti, tryNumber: 1, subject: 's', body: null, options: ['OK'], multiple: false, defaults: null, params: null, assignedTo: [], createdAt: at(3), timeoutAt: null, taskToken: null, response: null };
    expect(await s.putHitlRequest(rec)).toBe(true);
    s.close();
    const again = open(path);
    expect(await again.getHitlRequest(ti)).toEqual(rec);
    expect((await again.listHitlRequests({ pending: true, limit: 10 })).total).toBe(1);
    again.close();
  });

  it('a new file and a migrated one have the same tables and columns, in the same order', () => {
    const fresh = open();
    const migrated = open(v4File(''));
    const layout = (path: string) => {
      const raw = new DatabaseSync(path);
      try {
        const tables = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => String(r.name));
        return tables.map((t) => [t, raw.prepare(`SELECT name, type, "notnull", pk FROM pragma_table_info('${t}')`).all()]);
      } finally {
        raw.close();
      }
    };
    expect(layout(migrated.path)).toEqual(layout(fresh.path));
  });
});

// -------------------------------------------------------------------------------------------------

describe('SqliteStateStore: durability', () => {
  it('everything written through one instance is there after close, in a new instance on the same file', async () => {
    const path = newPath();
    const runId = 'durable-run';
    const s = open(path);
    const run = makeRun(runId, { pending: 5, pinnedVersions: { child_dag: 'v3' } });
    await s.createRun(run);
    await s.updateRun(ref(runId), ['running'], { note: 'noted' });
    await s.createRun(makeRun('durable-queued', { state: 'queued', queuedAt: at(3) }));
    await s.createTaskInstances([makeTi(runId, 'a', -1, { state: 'running', tryNumber: 1 }), ...range(0, 3).map((i) => makeTi(runId, 'm', i))]);
    await s.updateTaskInstance(key(runId, 'm', 1), { states: ['scheduled'] }, { state: 'queued', tryNumber: 1, queuedAt: at(1), resume: true, durationMs: 1.5 });
    const finished = await s.finishTaskInstance({ key: key(runId, 'a'), expect: { states: ['running'], tryNumber: 1 }, state: 'success', patch: { endDate: at(2) }, downstream: ['m'] });
    expect(finished?.pending).toBe(4);
    expect(await s.claimDecision(ref(runId), 'a', 'scheduled')).toBe(true);
    expect(await s.claimExpansion(ref(runId), 'm', 3, ['join'])).toBe(true);
    await s.putXCom({ dagId: 'sqlite_dag', runId, taskId: 'a', mapIndex: -1, key: 'return_value', value: { big: 'é'.repeat(10_000), n: [1, 2.5, null] } });
    await s.putXComs(range(0, 3).map((i) => ({ dagId: 'sqlite_dag', runId, taskId: 'm', mapIndex: i, key: 'return_value', value: i * 10 })));
    await s.putItemResult(key(runId, 'it'), 4, { item: 4 });
    const lines: LogLine[] = [
      { time: at(1), level: 'info', message: 'hello' },
      { time: at(1), level: 'error', message: 'boom' },
    ];
    await s.appendLog(key(runId, 'a'), 1, lines);
    await s.appendLogs([{ key: key(runId, 'm', 2), tryNumber: 1, lines: [lines[0]!] }]);
    await s.appendPipelineSave(runId, { stage: 's1', time: at(1), data: { qa: 0.9 }, dagId: 'sqlite_dag', runId, taskId: 'a' });
    await s.registerDagVersion({ dagId: 'sqlite_dag', version: 'v7', structureHash: 's7', bundle: 'b7', fileloc: 'dags/sqlite_dag.ts' }, at(1));
    await s.setDagPaused('sqlite_dag', true, at(2));
    await s.putPool({ name: 'narrow', slots: 2, description: 'two at a time' });
    await s.putPool({ name: 'default_pool', slots: 128, description: '' });
    expect(await s.tryAcquire('pool:narrow', 2, 2, 'h1')).toBe(true);
    expect(await s.countUp('attempts')).toBe(1);
    expect(await s.countUp('attempts')).toBe(2);
    await s.enqueueWaiter('pool:narrow', key(runId, 'm', 2));
    await s.enqueueWaiter('pool:narrow', key(runId, 'm', 0));

    const snapshot = async (x: SqliteStateStore) => ({
      run: await x.getRun(ref(runId)),
      queued: await x.listRunsByState('queued'),
      runs: await x.listRuns({ dagId: 'sqlite_dag' }),
      tis: await x.listTaskInstances(ref(runId)),
      states: await x.getTaskStates(ref(runId), ['a', 'm', 'join']),
      xcomA: await x.getXCom(ref(runId), 'a', -1, 'return_value'),
      xcomM: await x.listXComs(ref(runId), 'm', 'return_value'),
      items: [...(await x.listItemResults(key(runId, 'it'))).entries()],
      logA: await x.getLog(key(runId, 'a'), 1),
      logM: await x.getLog(key(runId, 'm', 2), 1),
      saves: await x.listPipelineSaves(runId),
      dag: await x.getDagRecord('sqlite_dag'),
      versions: await x.listDagVersions('sqlite_dag'),
      pools: await x.listPools(),
    });
    const before = await snapshot(s);
    expect(before.tis).toHaveLength(4);
    expect(before.tis.find((t) => t.mapIndex === 1)).toMatchObject({ resume: true, durationMs: 1.5, state: 'queued' });
    expect(before.states[0]?.self.success).toBe(1);
    expect(before.states[2]?.upstreamAddedTotal).toBe(3);
    expect(before.run?.pending).toBe(6);
    s.close();

    const t = open(path);
    expect(await snapshot(t)).toEqual(before);
    // Semaphores, counters and waiters carry on where they were.
    expect(await t.tryAcquire('pool:narrow', 1, 2, 'h2')).toBe(false);
    expect(Object.fromEntries(await t.semaphoreHolders('pool:narrow'))).toEqual({ h1: 2 });
    await t.release('pool:narrow', 2, 'h1');
    expect(await t.tryAcquire('pool:narrow', 1, 2, 'h2')).toBe(true);
    expect(await t.countUp('attempts')).toBe(3);
    expect(await t.dequeueWaiter('pool:narrow')).toEqual(key(runId, 'm', 2));
    expect(await t.dequeueWaiter('pool:narrow')).toEqual(key(runId, 'm', 0));
    expect(await t.dequeueWaiter('pool:narrow')).toBeUndefined();
    // The decisions stay settled.
    expect(await t.claimDecision(ref(runId), 'a', 'skipped')).toBe(false);
    expect(await t.claimExpansion(ref(runId), 'm', 3, ['join'])).toBe(false);
    expect(await t.createRun(run)).toBe(false);
  });
});

// -------------------------------------------------------------------------------------------------

describe('SqliteStateStore: crash safety', () => {
  /** Add a trigger failing a statement (an error between the statements of a store transaction). */
  function inject(path: string, name: string, sql: string): () => void {
    const raw = new DatabaseSync(path);
    raw.exec(`CREATE TRIGGER ${name} ${sql} BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);
    return () => {
      raw.exec(`DROP TRIGGER ${name}`);
      raw.close();
    };
  }

  it('a bulk finish failing midway (after 5,000 of 10,000 instances, or at the run counter) leaves nothing written', async () => {
    const path = newPath();
    const runId = 'crash-run';
    const n = 10_000;
    const s = open(path);
    await mappedRun(s, runId, n);
    const reqs = bulkFinish(runId, n);
    const state = async (x: SqliteStateStore) => ({
      run: await x.getRun(ref(runId)),
      states: await x.getTaskStates(ref(runId), ['m', 'join', 'report']),
      running: (await x.listTaskInstanceRange(ref(runId), 'm', 0, n)).filter((t) => t.state === 'running' && t.endDate === null).length,
    });
    const before = await state(s);
    expect(before).toEqual({ run: makeRun(runId, { pending: n + 10 }), states: [undefined, undefined, undefined], running: n });

    // Midway through the instances.
    const heal1 = inject(path, 'fail_midway', 'BEFORE UPDATE ON task_instances WHEN NEW.map_index = 5000');
    await expect(s.finishTaskInstances(reqs)).rejects.toThrow(/injected fault/);
    // After every instance and tally, at the run's pending count (the last statement).
    const heal2 = inject(path, 'fail_at_run', 'BEFORE UPDATE OF pending ON runs');
    heal1();
    await expect(s.finishTaskInstances(reqs)).rejects.toThrow(/injected fault/);
    await expect(s.finishTaskInstance({ ...reqs[0]!, downstream: ['join'] })).rejects.toThrow(/injected fault/);
    expect(await state(s)).toEqual(before);
    // A new instance on the file sees the same: nothing was committed.
    expect(await state(open(path))).toEqual(before);
    heal2();

    // The store that saw the errors is not stuck in a transaction: the same call now applies, once.
    const res = await s.finishTaskInstances(reqs);
    expect(res.applied.every(Boolean)).toBe(true);
    expect(res.pending).toBe(10);
    const after = await state(open(path));
    expect(after.running).toBe(0);
    expect(after.states[0]?.self).toEqual({ success: 9000, failed: 1000, skipped: 0, upstream_failed: 0, removed: 0 });
    expect(after.states[1]?.upstream).toEqual(after.states[0]?.self);
  });

  it('a process killed (SIGKILL) during a bulk finish leaves all of it or none of it', async () => {
    const path = newPath();
    const runId = 'killed-run';
    const n = 50_000;
    const s = open(path);
    await mappedRun(s, runId, n);
    s.close();
    const child = spawnChild(`
      const s = new SqliteStateStore({ path: args.path });
      const reqs = Array.from({ length: args.n }, (_, i) => ({
        key: { dagId: 'sqlite_dag', runId: args.runId, taskId: 'm', mapIndex: i },
        expect: { states: ['running'], tryNumber: 1 },
        state: 'success',
        patch: { endDate: 'x' },
        downstream: ['join'],
      }));
      process.stdout.write('begin\\n');
      await new Promise((r) => setTimeout(r, 20));
      await s.finishTaskInstances(reqs);
      process.stdout.write('committed\\n');
      await new Promise((r) => setTimeout(r, 60_000));
    `, { path, runId, n });
    await child.line('begin');
    await new Promise((r) => setTimeout(r, 120));
    const out = await child.kill();
    const t = open(path);
    const tis = await t.listTaskInstanceRange(ref(runId), 'm', 0, n);
    const done = tis.filter((x) => x.state === 'success').length;
    const [m, joined] = await t.getTaskStates(ref(runId), ['m', 'join']);
    const pending = (await t.getRun(ref(runId)))?.pending;
    console.log(`SIGKILL during a bulk finish of ${n}: ${out.includes('committed') ? 'after the commit' : 'before the commit'}; ${done} instances finished`);
    if (done === 0) {
      expect([m, joined]).toEqual([undefined, undefined]);
      expect(pending).toBe(n + 10);
    } else {
      expect(done).toBe(n);
      expect(m?.self.success).toBe(n);
      expect(joined?.upstream.success).toBe(n);
      expect(pending).toBe(10);
    }
  });
});

// -------------------------------------------------------------------------------------------------

const storeModule = pathToFileURL(fileURLToPath(new URL('../lib/store/sqlite-store.ts', import.meta.url))).href;

/** A node process (with tsx) running `body` with `SqliteStateStore` and `args` in scope. */
function spawnChild(body: string, args: unknown) {
  const script = join(dir, `child-${files++}.mjs`);
  writeFileSync(script, `import { SqliteStateStore } from ${JSON.stringify(storeModule)};\nconst args = JSON.parse(process.argv[2]);\n${body}\n`);
  const proc = spawn(process.execPath, ['--import', 'tsx', '--disable-warning=ExperimentalWarning', script, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiting: { text: string; resolve: () => void }[] = [];
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiting) if (out.includes(w.text)) w.resolve();
  });
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    line: (text: string) =>
      new Promise<void>((resolve, reject) => {
        if (out.includes(text)) return resolve();
        waiting.push({ text, resolve });
        void exited.then(() => (out.includes(text) ? resolve() : reject(new Error(`child exited before '${text}': ${err}`))));
      }),
    kill: async () => {
      proc.kill('SIGKILL');
      await exited;
      return out;
    },
    done: async () => {
      const code = await exited;
      if (code !== 0) throw new Error(`child exited with ${code}: ${err}`);
      return out;
    },
  };
}

// -------------------------------------------------------------------------------------------------

describe('SqliteStateStore: two stores on one file', () => {
  it('in one process: each sees the other’s writes; a raced conditional transition applies once', async () => {
    const path = newPath();
    const a = open(path);
    const b = open(path);
    await a.createRun(makeRun('shared', { pending: 3 }));
    expect(await b.getRun(ref('shared'))).toEqual(makeRun('shared', { pending: 3 }));
    await b.createTaskInstances([makeTi('shared', 't', -1, { state: 'queued', tryNumber: 1 })]);
    const moved = await Promise.all([a, b, a, b].map((s) => s.updateTaskInstance(key('shared', 't'), { states: ['queued'], tryNumber: 1 }, { state: 'running' })));
    expect(moved.filter(Boolean)).toHaveLength(1);
    const req: FinishRequest = { key: key('shared', 't'), expect: { states: ['running'], tryNumber: 1 }, state: 'success', patch: {}, downstream: ['d'] };
    const finished = await Promise.all([a.finishTaskInstance(req), b.finishTaskInstance(req)]);
    expect(finished.filter(Boolean)).toHaveLength(1);
    expect((await a.getTaskStates(ref('shared'), ['d']))[0]?.upstream.success).toBe(1);
    expect((await b.getRun(ref('shared')))?.pending).toBe(2);
  });

  it('four processes racing the same transitions, claims, semaphore, counter and queue: each applies exactly once', async () => {
    const path = newPath();
    const runId = 'raced';
    const n = 300;
    const s = open(path);
    await s.createRun(makeRun(runId, { pending: n + 10 }));
    await s.createTaskInstances(range(0, n).map((i) => makeTi(runId, 'm', i, { state: 'queued', tryNumber: 1 })));
    for (let i = 0; i < 100; i++) await s.enqueueWaiter('queue', key(runId, 'w', i));
    // Every process opens its store, says so, and waits for the go file: they start together.
    const go = join(dir, `go-${files++}`);
    const body = `
      const { existsSync } = await import('node:fs');
      const s = new SqliteStateStore({ path: args.path });
      process.stdout.write('ready\\n');
      while (!existsSync(args.go)) await new Promise((r) => setTimeout(r, 1));
      const out = { started: 0, finished: 0, claims: 0, acquired: 0, counts: [], taken: [] };
      for (let i = 0; i < args.n; i++) {
        const k = { dagId: 'sqlite_dag', runId: args.runId, taskId: 'm', mapIndex: i };
        if (await s.updateTaskInstance(k, { states: ['queued'], tryNumber: 1 }, { state: 'running' })) out.started++;
        const f = await s.finishTaskInstance({ key: k, expect: { states: ['running'], tryNumber: 1 }, state: 'success', patch: {}, downstream: ['join'] });
        if (f) out.finished++;
        if (i % 6 === 0 && (await s.claimDecision({ dagId: 'sqlite_dag', runId: args.runId }, 'c' + i, 'scheduled'))) out.claims++;
        if (i % 6 === 1 && (await s.tryAcquire('sem', 1, 25, 'h' + i + '-' + process.pid))) out.acquired++;
        if (i % 6 === 2) out.counts.push(await s.countUp('ctr'));
        if (i % 6 === 3) { const w = await s.dequeueWaiter('queue'); if (w) out.taken.push(w.mapIndex); }
      }
      s.close();
      process.stdout.write('result ' + JSON.stringify(out));
    `;
    const children = Array.from({ length: 4 }, () => spawnChild(body, { path, runId, n, go }));
    await Promise.all(children.map((c) => c.line('ready')));
    writeFileSync(go, '');
    const results = (await Promise.all(children.map((c) => c.done()))).map(
      (o) => JSON.parse(o.slice(o.indexOf('result ') + 7)) as { started: number; finished: number; claims: number; acquired: number; counts: number[]; taken: number[] },
    );
    const sum = (f: (r: (typeof results)[number]) => number) => results.reduce((acc, r) => acc + f(r), 0);
    expect(sum((r) => r.started)).toBe(n);
    expect(sum((r) => r.finished)).toBe(n);
    expect(sum((r) => r.claims)).toBe(n / 6);
    expect(sum((r) => r.acquired)).toBe(25);
    expect(results.flatMap((r) => r.counts).sort((x, y) => x - y)).toEqual(range(1, 4 * (n / 6) + 1));
    // Every waiter taken once, and each process took them in queue order.
    expect(results.flatMap((r) => r.taken).sort((x, y) => x - y)).toEqual(range(0, 100));
    for (const r of results) expect(r.taken).toEqual([...r.taken].sort((x, y) => x - y));
    const [m, joined] = await s.getTaskStates(ref(runId), ['m', 'join']);
    expect(m?.self.success).toBe(n);
    expect(joined?.upstream.success).toBe(n);
    expect((await s.getRun(ref(runId)))?.pending).toBe(10);
    console.log(`4 processes, ${n} instances: started ${results.map((r) => r.started).join('/')}, finished ${results.map((r) => r.finished).join('/')}`);
  });
});

// -------------------------------------------------------------------------------------------------

describe('SqliteStateStore: timing', () => {
  it('10,000 instances created, moved and finished in bulk (printed, not asserted)', async () => {
    const s = open();
    const runId = 'timed';
    const n = 10_000;
    await s.createRun(makeRun(runId, { pending: n + 10 }));
    const time = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const out = await f();
      console.log(`SqliteStateStore (file): ${what}: ${(performance.now() - t0).toFixed(1)} ms`);
      return out;
    };
    await time(`createTaskInstances of ${n}`, () => s.createTaskInstances(range(0, n).map((i) => makeTi(runId, 'm', i, { state: 'queued', tryNumber: 1 }))));
    const moved = await time(`updateTaskInstances of ${n}`, () =>
      s.updateTaskInstances(range(0, n).map((i) => ({ key: key(runId, 'm', i), expect: { states: ['queued'], tryNumber: 1 }, patch: { state: 'running', startDate: at(1) } }))),
    );
    expect(moved.every(Boolean)).toBe(true);
    const res = await time(`finishTaskInstances of ${n} (2 downstream tasks)`, () => s.finishTaskInstances(bulkFinish(runId, n)));
    expect(res.applied.every(Boolean)).toBe(true);
    expect(res.pending).toBe(10);
    await time(`putXComs of ${n}`, () => s.putXComs(range(0, n).map((i) => ({ dagId: 'sqlite_dag', runId, taskId: 'm', mapIndex: i, key: 'return_value', value: { i } }))));
    await time(`appendLogs of ${n} (2 lines each)`, () =>
      s.appendLogs(range(0, n).map((i) => ({ key: key(runId, 'm', i), tryNumber: 1, lines: [{ time: at(1), level: 'info', message: `child ${i} started` }, { time: at(2), level: 'info', message: 'done' }] }))),
    );
    const all = await time(`listTaskInstanceRange of ${n}`, () => s.listTaskInstanceRange(ref(runId), 'm', 0, n));
    expect(all).toHaveLength(n);
    await time(`finishTaskInstances of ${n} again (a replay: nothing applies)`, () => s.finishTaskInstances(bulkFinish(runId, n)));
  });
});

// -------------------------------------------------------------------------------------------------

describe('SqliteStateStore: the same answers as MemoryStateStore on edge cases', () => {
  /** Apply `script` to a store and record every answer (or error message) as JSON. */
  async function answers(s: StateStore): Promise<unknown[]> {
    const out: unknown[] = [];
    const rec = async (f: () => Promise<unknown>) => {
      try {
        const v = await f();
        // A Map's order is not part of the contract (memory: first put; DynamoDB and this store: by index).
        out.push(v instanceof Map ? { map: [...v.entries()].sort((x, y) => Number(x[0]) - Number(y[0])) } : v === undefined ? '(undefined)' : JSON.parse(JSON.stringify(v)));
      } catch (e) {
        out.push({ error: (e as Error).message });
      }
    };
    // Ties in the run listings keep creation order.
    for (const id of ['r2', 'r1', 'r3']) await rec(() => s.createRun(makeRun(id, { pending: 4, state: 'queued', dagId: 'parity' })));
    await rec(() => s.listRuns({ dagId: 'parity' }));
    await rec(() => s.listRunsByState('queued'));
    await rec(() => s.updateRun(ref('r1'), null, { conf: { replaced: [1, { x: null }] }, note: 'n' }));
    await rec(() => s.updateRun(ref('r1'), ['queued'], { state: 'running', parent: null }));
    await rec(() => s.updateRun(ref('r1'), null, { pinnedVersions: { child: 'v3', other: 'v1' } }));
    await rec(() => s.createRun(makeRun('pinned', { dagId: 'parity', pinnedVersions: { parity: 'v1' } })));
    // A run that does not exist: writes refuse it (logs are dropped), reads find nothing.
    await rec(() => s.claimDecision(ref('nope'), 't', 'scheduled'));
    await rec(() => s.claimExpansion(ref('nope'), 't', 2, ['d']));
    await rec(() => s.getTaskStates(ref('nope'), ['t']));
    await rec(() => s.createTaskInstances([makeTi('nope', 't')]));
    await rec(() => s.finishTaskInstance({ key: key('nope', 't'), expect: { states: ['running'] }, state: 'success', patch: {}, downstream: [] }));
    await rec(() => s.putXCom({ dagId: 'sqlite_dag', runId: 'nope', taskId: 't', mapIndex: -1, key: 'k', value: 1 }));
    await rec(() => s.putItemResult(key('nope', 't'), 0, 1));
    await rec(() => s.appendLog(key('nope', 't'), 1, [{ time: at(0), level: 'info', message: 'lost' }]));
    await rec(() => s.getLog(key('nope', 't'), 1));
    await rec(() => s.listTaskInstances(ref('nope')));
    await rec(() => s.getXCom(ref('nope'), 't', -1, 'k'));
    // One finish with a downstream task listed twice: the result shows the tally after each count.
    await rec(() => s.createTaskInstances([makeTi('r1', 'a', -1, { state: 'running', tryNumber: 1 }), makeTi('r1', 'b', -1, { state: 'running', tryNumber: 1 })]));
    await rec(() => s.finishTaskInstance({ key: key('r1', 'a'), expect: { states: ['running'], tryNumber: 1 }, state: 'failed', patch: { state: 'success', error: parseErrorText('E: x') }, downstream: ['j', 'k', 'j'] }));
    // A bulk finish that applies nothing still answers with (new, empty) downstream records.
    await rec(() => s.finishTaskInstances([{ key: key('r1', 'b'), expect: { states: ['queued'] }, state: 'success', patch: {}, downstream: ['fresh', 'j'] }]));
    await rec(() => s.getTaskStates(ref('r1'), ['fresh', 'b', 'a', 'j', 'k']));
    await rec(() => s.finishTaskInstances([{ key: key('r1', 'b'), expect: { states: ['running'] }, state: 'skipped', patch: { endDate: at(3) }, downstream: ['j'] }]));
    await rec(() => s.getTaskStates(ref('r1'), ['b', 'j']));
    await rec(() => s.listTaskInstances(ref('r1')));
    await rec(() => s.getRun(ref('r1')));
    // The same instance twice in one bulk update: the second sees the first.
    await rec(() => s.createTaskInstances([makeTi('r2', 'm', 0), makeTi('r2', 'm', 1)]));
    await rec(() =>
      s.updateTaskInstances([
        { key: key('r2', 'm', 0), expect: { states: ['scheduled'] }, patch: { state: 'queued', tryNumber: 1 } },
        { key: key('r2', 'm', 0), expect: { states: ['queued'], tryNumber: 1 }, patch: { state: 'running', externalId: 'job' } },
        { key: key('r2', 'm', 1), expect: { states: ['queued'] }, patch: { state: 'running' } },
      ]),
    );
    await rec(() => s.listTaskInstanceRange(ref('r2'), 'm', -5, 5));
    // Item results by index (an undefined value is left out here: the memory store then fails to read
    // the instance's results, "undefined" is not valid JSON; this store keeps it as null, as DynamoDB).
    await rec(() => s.putItemResult(key('r2', 'm', 0), 3, null));
    await rec(() => s.putItemResult(key('r2', 'm', 0), 1, 'one'));
    await rec(() => s.listItemResults(key('r2', 'm', 0)));
    // Pools keep the order they were first put in; DAG records.
    for (const p of [{ name: 'z', slots: 1, description: '' }, { name: 'a', slots: 2, description: 'x' }, { name: 'z', slots: 3, description: 'again' }]) await rec(() => s.putPool(p));
    await rec(() => s.listPools());
    await rec(() => s.setDagPaused('fresh_dag', true, at(1)));
    await rec(() => s.registerDagVersion({ dagId: 'fresh_dag', version: 'v1', structureHash: 's1', bundle: null, fileloc: null }, at(2)));
    await rec(() => s.markDagVersionPruned('fresh_dag', 'v1', at(3)));
    await rec(() => s.markDagVersionPruned('fresh_dag', 'never', at(3)));
    await rec(() => s.registerDagVersion({ dagId: 'fresh_dag', version: 'v2', structureHash: 's2', bundle: 'b2', fileloc: 'f.ts' }, at(2)));
    await rec(() => s.registerDagVersion({ dagId: 'fresh_dag', version: 'v1', structureHash: 'other', bundle: 'other', fileloc: 'other.ts' }, at(4)));
    await rec(() => s.listDagVersions('fresh_dag'));
    await rec(() => s.getDagVersion('fresh_dag', 'v1'));
    await rec(() => s.setDagPaused('fresh_dag', false, at(3)));
    // Semaphores, counters and waiters of several names, interleaved.
    await rec(() => s.tryAcquire('x', 3, 2, 'h'));
    await rec(() => s.tryAcquire('x', 1, 2, 'h'));
    await rec(() => s.release('x', 1, 'h'));
    await rec(() => s.tryAcquire('x', 2, 2, 'h'));
    for (const [name, i] of [['q1', 0], ['q2', 1], ['q1', 2], ['q2', 3], ['q1', 4]] as const) await rec(() => s.enqueueWaiter(name, key('r3', 'w', i)));
    for (const name of ['q1', 'q2', 'q1', 'q1', 'q2', 'q2', 'q1']) await rec(() => s.dequeueWaiter(name));
    for (const name of ['c1', 'c2', 'c1']) await rec(() => s.countUp(name));
    return out;
  }

  it('answers every call of an edge-case script as the memory store does', async () => {
    const want = await answers(new MemoryStateStore());
    const got = await answers(open());
    expect(got).toEqual(want);
  });
});

it('SqliteStateStore: an undefined value is stored as null (JSON has no undefined)', async () => {
  const s = open();
  await s.createRun(makeRun('undef'));
  await s.putItemResult(key('undef', 'it'), 0, undefined);
  await s.putXCom({ dagId: 'sqlite_dag', runId: 'undef', taskId: 't', mapIndex: -1, key: 'k', value: undefined });
  expect([...(await s.listItemResults(key('undef', 'it'))).entries()]).toEqual([[0, null]]);
  expect((await s.getXCom(ref('undef'), 't', -1, 'k'))?.value).toBeNull();
});

// -------------------------------------------------------------------------------------------------

describe('SqliteStateStore: a database locked by another connection', () => {
  /** Another connection on the file, holding its write lock (as another process's transaction would). */
  function holdLock(path: string): DatabaseSync {
    const other = new DatabaseSync(path, { timeout: 0 });
    other.exec('BEGIN IMMEDIATE');
    return other;
  }

  it('a call waits for the lock on timers (the event loop goes on), then completes', async () => {
    const path = newPath();
    const s = open(path);
    await s.createRun(makeRun('before'));
    const other = holdLock(path);
    const events: string[] = [];
    // The store call starts while the lock is held: it cannot complete until the lock is released.
    const created = s.createRun(makeRun('locked')).then((ok) => events.push(`created ${ok}`));
    const read = s.getRun(ref('before')).then((r) => events.push(`read ${r?.runId}`));
    // These run only if the store call did not block the event loop.
    await new Promise((r) => setImmediate(r));
    events.push('immediate');
    await new Promise((r) => setTimeout(r, 30));
    events.push('timer; lock released');
    other.exec('COMMIT');
    other.close();
    await Promise.all([created, read]);
    // A read does not need the write lock (WAL): it completed at once.
    expect(events).toStrictEqual(['read before', 'immediate', 'timer; lock released', 'created true']);
    expect((await s.getRun(ref('locked')))?.runId).toBe('locked');
  });

  it('a lock held longer than the retries last fails with StoreUnavailableError (retryAfterMs set); nothing is written', async () => {
    const path = newPath();
    const s = new SqliteStateStore({ path, busyRetry: { attempts: 4, baseMs: 2, maxMs: 10 } });
    opened.push(s);
    await s.createRun(makeRun('r', { state: 'queued' }));
    const other = holdLock(path);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    try {
      const err = await s.updateRun(ref('r'), ['queued'], { state: 'running' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreUnavailableError);
      const e = err as StoreUnavailableError;
      expect(e.name).toBe('StoreUnavailableError');
      // Retried as long as the store allows: its callers do not retry it again (the API answers 503).
      expect(e.retryable).toBe(false);
      expect(e.retryAfterMs).toBeGreaterThan(0);
      expect(e.message).toContain(path);
      expect(e.message).toContain('updateRun gave up after 4 attempts');
      expect((e.cause as { errcode?: number }).errcode).toBe(5);
      // A putXCom calls putXComs: the retries are not multiplied, and the same error comes out.
      const nested = await s.putXCom({ dagId: 'sqlite_dag', runId: 'r', taskId: 't', mapIndex: -1, key: 'k', value: 1 }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(nested).toBeInstanceOf(StoreUnavailableError);
      expect((nested as Error).message).toContain('putXComs gave up after 4 attempts');
    } finally {
      clearInterval(ticker);
      other.exec('ROLLBACK');
      other.close();
    }
    // The timers went on while the calls waited.
    expect(ticks).toBeGreaterThan(0);
    expect((await s.getRun(ref('r')))?.state).toBe('queued');
    expect(await s.updateRun(ref('r'), ['queued'], { state: 'running' })).toMatchObject({ state: 'running' });
  });

  it('a database file and its -wal and -shm files are created 0600, its folder 0700, whatever the umask', async () => {
    const previous = process.umask(0o000);
    try {
      const path = newPath();
      const s = open(path);
      await s.createRun(makeRun('m'));
      for (const f of [path, `${path}-wal`, `${path}-shm`]) expect((statSync(f).mode & 0o777).toString(8)).toBe('600');
      expect((statSync(dirname(path)).mode & 0o777).toString(8)).toBe('700');
    } finally {
      process.umask(previous);
    }
  });
});

describe('retryTransient', () => {
  const transient = () => new StoreUnavailableError('busy');

  it('retries a transient error until the call succeeds, waiting a random time under the doubling cap', async () => {
    const waits: number[] = [];
    let calls = 0;
    const out = await retryTransient(
      async () => {
        if (++calls < 4) throw transient();
        return 'ok';
      },
      { attempts: 5, baseMs: 10, maxMs: 25, random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
    );
    expect(out).toBe('ok');
    expect(calls).toBe(4);
    expect(waits).toStrictEqual([5, 10, 12]);
  });

  it('gives up after `attempts` calls with the last error, and never retries another error', async () => {
    let calls = 0;
    const last = new StoreUnavailableError('still busy');
    await expect(
      retryTransient(
        async () => {
          calls++;
          throw calls < 3 ? transient() : last;
        },
        { attempts: 3, baseMs: 1, maxMs: 1, sleep: async () => undefined },
      ),
    ).rejects.toBe(last);
    expect(calls).toBe(3);
    calls = 0;
    const plain = new Error('no such run');
    await expect(
      retryTransient(
        async () => {
          calls++;
          throw plain;
        },
        { attempts: 3, sleep: async () => undefined },
      ),
    ).rejects.toBe(plain);
    expect(calls).toBe(1);
    // `retryable: true` and the name are what count (an error from another copy of the library).
    expect(isTransientStoreError({ retryable: true })).toBe(true);
    expect(isTransientStoreError(Object.assign(new Error('x'), { name: 'StoreUnavailableError' }))).toBe(true);
    expect(isTransientStoreError(new Error('x'))).toBe(false);
  });
});
