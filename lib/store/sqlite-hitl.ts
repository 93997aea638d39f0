/**
 * Human-in-the-loop requests in the standalone's SQLite file: the table (created by the migration to
 * schema version 7, lib/store/sqlite-store.ts) and the statements the store's methods run.
 */
import type { DatabaseSync, SQLInputValue, SQLOutputValue } from 'node:sqlite';
import type { TiKey } from '../model/keys.ts';
import type { HitlQuery, HitlRecord, HitlRespondResult, HitlResponse } from './hitl-records.ts';

/**
 * One row per try of a hitl task instance. `pending` is 1 until the answer is stored (the index on it and
 * `created_at` serves the list of pending requests).
 */
export const HITL_TABLE_SQL = `
CREATE TABLE hitl_requests (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL,
  try_number INTEGER NOT NULL,
  subject TEXT NOT NULL,
  body TEXT,
  options TEXT NOT NULL,
  multiple INTEGER NOT NULL,
  defaults TEXT,
  params TEXT,
  assigned_to TEXT NOT NULL,
  created_at TEXT NOT NULL,
  timeout_at TEXT,
  task_token TEXT,
  response TEXT,
  pending INTEGER NOT NULL,
  PRIMARY KEY (dag_id, run_id, task_id, map_index, try_number)
) WITHOUT ROWID;
CREATE INDEX hitl_requests_by_pending ON hitl_requests (pending, created_at);
`;

type Row = Record<string, SQLOutputValue>;
const json = <T>(v: SQLOutputValue | undefined): T | null => (v === null || v === undefined ? null : (JSON.parse(String(v)) as T));

function fromRow(r: Row): HitlRecord {
  return {
    dagId: String(r.dag_id),
    runId: String(r.run_id),
    taskId: String(r.task_id),
    mapIndex: Number(r.map_index),
    tryNumber: Number(r.try_number),
    subject: String(r.subject),
    body: r.body === null ? null : String(r.body),
    options: json<string[]>(r.options) ?? [],
    multiple: Number(r.multiple) === 1,
    defaults: json<string[]>(r.defaults),
    params: json<HitlRecord['params']>(r.params),
    assignedTo: json<string[]>(r.assigned_to) ?? [],
    createdAt: String(r.created_at),
    timeoutAt: r.timeout_at === null ? null : String(r.timeout_at),
    taskToken: r.task_token === null ? null : String(r.task_token),
    response: json<HitlResponse>(r.response),
  };
}

const KEY = 'dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?';

/** The statements on that table, prepared once per database. */
export class SqliteHitl {
  private readonly q;

  constructor(private readonly db: DatabaseSync) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      put: p(
        `INSERT INTO hitl_requests (dag_id, run_id, task_id, map_index, try_number, subject, body, options, multiple, defaults, params, assigned_to, created_at, timeout_at, task_token, response, pending)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      setToken: p(`UPDATE hitl_requests SET task_token = ? WHERE ${KEY} AND try_number = ? AND response IS NULL`),
      respond: p(`UPDATE hitl_requests SET response = ?, pending = 0 WHERE ${KEY} AND try_number = ? AND response IS NULL`),
      getTry: p(`SELECT * FROM hitl_requests WHERE ${KEY} AND try_number = ?`),
      latest: p(`SELECT * FROM hitl_requests WHERE ${KEY} ORDER BY try_number DESC LIMIT 1`),
      deleteRun: p('DELETE FROM hitl_requests WHERE dag_id = ? AND run_id = ?'),
    };
  }

  put(rec: HitlRecord): boolean {
    const r = rec.response;
    return (
      Number(
        this.q.put.run(
          rec.dagId, rec.runId, rec.taskId, rec.mapIndex, rec.tryNumber, rec.subject, rec.body, JSON.stringify(rec.options), rec.multiple ? 1 : 0,
          rec.defaults === null ? null : JSON.stringify(rec.defaults), rec.params === null ? null : JSON.stringify(rec.params), JSON.stringify(rec.assignedTo),
          rec.createdAt, rec.timeoutAt, rec.taskToken, r === null ? null : JSON.stringify(r), r === null ? 1 : 0,
        ).changes,
      ) > 0
    );
  }

  setToken(ti: TiKey, tryNumber: number, token: string): boolean {
    return Number(this.q.setToken.run(token, ti.dagId, ti.runId, ti.taskId, ti.mapIndex, tryNumber).changes) > 0;
  }

  respond(ti: TiKey, tryNumber: number, response: HitlResponse): HitlRespondResult {
    const applied = Number(this.q.respond.run(JSON.stringify(response), ti.dagId, ti.runId, ti.taskId, ti.mapIndex, tryNumber).changes) > 0;
    const row = this.q.getTry.get(ti.dagId, ti.runId, ti.taskId, ti.mapIndex, tryNumber);
    return { applied, record: row ? fromRow(row) : undefined };
  }

  get(ti: TiKey): HitlRecord | undefined {
    const row = this.q.latest.get(ti.dagId, ti.runId, ti.taskId, ti.mapIndex);
    return row ? fromRow(row) : undefined;
  }

  list(q: HitlQuery): { records: HitlRecord[]; total: number } {
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    if (q.pending !== undefined) {
      where.push('pending = ?');
      args.push(q.pending ? 1 : 0);
    }
    if (q.dagId !== undefined) {
      where.push('dag_id = ?');
      args.push(q.dagId);
      if (q.runId !== undefined) {
        where.push('run_id = ?');
        args.push(q.runId);
      }
    }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = Number(this.db.prepare(`SELECT COUNT(*) AS n FROM hitl_requests ${w}`).get(...args)!.n);
    const rows = this.db
      .prepare(`SELECT * FROM hitl_requests ${w} ORDER BY created_at DESC, dag_id DESC, run_id DESC, task_id DESC, map_index DESC, try_number DESC LIMIT ? OFFSET ?`)
      .all(...args, q.limit, q.offset ?? 0);
    return { records: rows.map(fromRow), total };
  }

  deleteRun(dagId: string, runId: string): void {
    this.q.deleteRun.run(dagId, runId);
  }
}
