/**
 * Variables and connections in the standalone's SQLite file: the tables (created by the migration to
 * schema version 6, lib/store/sqlite-store.ts) and the statements the store's methods run.
 */
import type { DatabaseSync, SQLOutputValue } from 'node:sqlite';
import type { ConnectionRecord, VariableRecord } from './records.ts';

/** The tables of variables and connections (rowid tables; lists are ordered by key). */
export const SECRETS_TABLES_SQL = `
CREATE TABLE variables (
  key TEXT NOT NULL PRIMARY KEY,
  value TEXT NOT NULL,
  description TEXT
);
CREATE TABLE connections (
  connection_id TEXT NOT NULL PRIMARY KEY,
  conn_type TEXT NOT NULL,
  host TEXT,
  login TEXT,
  password TEXT,
  schema_name TEXT,
  port INTEGER,
  extra TEXT,
  description TEXT
);
`;

type Row = Record<string, SQLOutputValue>;
const text = (v: SQLOutputValue | undefined): string | null => (v === null || v === undefined ? null : String(v));

function variableFromRow(r: Row): VariableRecord {
  return { key: String(r.key), value: String(r.value), description: text(r.description) };
}

function connectionFromRow(r: Row): ConnectionRecord {
  return {
    connectionId: String(r.connection_id),
    connType: String(r.conn_type),
    host: text(r.host),
    login: text(r.login),
    password: text(r.password),
    schema: text(r.schema_name),
    port: r.port === null || r.port === undefined ? null : Number(r.port),
    extra: text(r.extra),
    description: text(r.description),
  };
}

/** The statements on those tables, prepared once per database. */
export class SqliteSecrets {
  private readonly q;

  constructor(db: DatabaseSync) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      putVariable: p('INSERT INTO variables (key, value, description) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, description = excluded.description'),
      getVariable: p('SELECT * FROM variables WHERE key = ?'),
      listVariables: p('SELECT * FROM variables ORDER BY key'),
      deleteVariable: p('DELETE FROM variables WHERE key = ?'),
      putConnection: p(
        `INSERT INTO connections (connection_id, conn_type, host, login, password, schema_name, port, extra, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (connection_id) DO UPDATE SET conn_type = excluded.conn_type, host = excluded.host, login = excluded.login, password = excluded.password,
         schema_name = excluded.schema_name, port = excluded.port, extra = excluded.extra, description = excluded.description`,
      ),
      getConnection: p('SELECT * FROM connections WHERE connection_id = ?'),
      listConnections: p('SELECT * FROM connections ORDER BY connection_id'),
      deleteConnection: p('DELETE FROM connections WHERE connection_id = ?'),
    };
  }

  putVariable(v: VariableRecord): void {
    this.q.putVariable.run(v.key, v.value, v.description);
  }

  getVariable(key: string): VariableRecord | undefined {
    const r = this.q.getVariable.get(key);
    return r ? variableFromRow(r) : undefined;
  }

  listVariables(): VariableRecord[] {
    return this.q.listVariables.all().map(variableFromRow);
  }

  deleteVariable(key: string): boolean {
    return Number(this.q.deleteVariable.run(key).changes) > 0;
  }

  putConnection(c: ConnectionRecord): void {
    this.q.putConnection.run(c.connectionId, c.connType, c.host, c.login, c.password, c.schema, c.port, c.extra, c.description);
  }

  getConnection(connectionId: string): ConnectionRecord | undefined {
    const r = this.q.getConnection.get(connectionId);
    return r ? connectionFromRow(r) : undefined;
  }

  listConnections(): ConnectionRecord[] {
    return this.q.listConnections.all().map(connectionFromRow);
  }

  deleteConnection(connectionId: string): boolean {
    return Number(this.q.deleteConnection.run(connectionId).changes) > 0;
  }
}
