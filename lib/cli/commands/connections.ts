/**
 * `airless connections get|set|list|delete|import|export`: the server's connections, through its API
 * (`/api/v2/connections`). Passwords come back masked (`***`), as the API shows them: `export` writes
 * `***`, and `import` (or `set`) of `***` for a connection that exists keeps its password.
 */
import { writeFileSync } from 'node:fs';
import { ApiError } from '../../api/client.ts';
import { connectionFromObject, connectionFromUri } from '../../secrets/connection.ts';
import type { ConnectionRecord } from '../../secrets/records.ts';
import { ok, requireRemote, type Remote, type RemoteOptions, type Schemas } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';
import { readJsonObject } from './variables.ts';

type Connection = Schemas['Connection'];

export interface ConnectionsOptions extends RemoteOptions {
  /** Print the API's objects as JSON. Default false. */
  json?: boolean;
  /** `set`: the whole connection as Airflow's URI (`postgres://user:pass@host:5432/db?x=y`). Default: none. */
  connUri?: string;
  /** `set`: the connection type (required without --conn-uri). */
  connType?: string;
  connHost?: string;
  connLogin?: string;
  connPassword?: string;
  connSchema?: string;
  /** `set`: the port (an integer). */
  connPort?: string;
  /** `set`: the extra, JSON text. */
  connExtra?: string;
  connDescription?: string;
}

async function listAll(remote: Remote): Promise<Connection[]> {
  const out: Connection[] = [];
  for (;;) {
    const page = await ok(remote, remote.api.GET('/api/v2/connections', { params: { query: { limit: 1000, offset: out.length } } }));
    out.push(...page.connections);
    if (page.connections.length === 0 || out.length >= page.total_entries) return out;
  }
}

function toBody(c: ConnectionRecord): Connection {
  return { connection_id: c.connectionId, conn_type: c.connType, host: c.host, login: c.login, password: c.password, schema: c.schema, port: c.port, extra: c.extra, description: c.description };
}

/** Create the connection, or replace its fields when it exists (a `***` password keeps the stored one). */
async function putConnection(remote: Remote, c: ConnectionRecord): Promise<Connection> {
  const body = toBody(c);
  try {
    return await ok(remote, remote.api.POST('/api/v2/connections', { body }));
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 409)) throw e;
    return ok(remote, remote.api.PATCH('/api/v2/connections/{connection_id}', { params: { path: { connection_id: c.connectionId } }, body }));
  }
}

export async function connectionsList(term: Terminal, o: ConnectionsOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const all = await listAll(await requireRemote(o));
  if (o.json) await term.out(`${JSON.stringify(all)}\n`);
  else await term.out(`${renderTable(['conn_id', 'conn_type', 'host', 'port', 'login', 'schema', 'description'], all.map((c) => [c.connection_id, c.conn_type, c.host ?? '', c.port === null || c.port === undefined ? '' : String(c.port), c.login ?? '', c.schema ?? '', c.description ?? '']))}\n`);
  return EXIT.ok;
}

export async function connectionsGet(term: Terminal, connectionId: string, o: ConnectionsOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await requireRemote(o);
  const c = await ok(remote, remote.api.GET('/api/v2/connections/{connection_id}', { params: { path: { connection_id: connectionId } } }));
  if (o.json) {
    await term.out(`${JSON.stringify(c)}\n`);
  } else {
    const rows = (['connection_id', 'conn_type', 'description', 'host', 'login', 'password', 'schema', 'port', 'extra'] as const).map((k) => [k, c[k] === null || c[k] === undefined ? '' : String(c[k])]);
    await term.out(`${renderTable(['field', 'value'], rows)}\n`);
  }
  return EXIT.ok;
}

/** The connection `set` describes: --conn-uri, or the --conn-* fields. */
export function connectionFromOptions(connectionId: string, o: ConnectionsOptions): ConnectionRecord {
  const fields = [o.connType, o.connHost, o.connLogin, o.connPassword, o.connSchema, o.connPort, o.connExtra].some((x) => x !== undefined);
  if (o.connUri !== undefined) {
    if (fields) throw new UsageError('give either --conn-uri or the --conn-* fields, not both');
    let c: ConnectionRecord;
    try {
      c = connectionFromUri(connectionId, o.connUri, '--conn-uri');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    return { ...c, description: o.connDescription ?? null };
  }
  if (o.connType === undefined) throw new UsageError('give --conn-uri URI, or --conn-type TYPE (and the other --conn-* fields)');
  let port: number | null = null;
  if (o.connPort !== undefined) {
    if (!/^\d+$/.test(o.connPort) || Number(o.connPort) > 65535) throw new UsageError(`--conn-port must be an integer from 0 to 65535, got '${o.connPort}'`);
    port = Number(o.connPort);
  }
  if (o.connExtra !== undefined) {
    try {
      JSON.parse(o.connExtra);
    } catch (e) {
      throw new UsageError(`--conn-extra must be JSON: ${(e as Error).message}`);
    }
  }
  return {
    connectionId,
    connType: o.connType,
    host: o.connHost ?? null,
    login: o.connLogin ?? null,
    password: o.connPassword ?? null,
    schema: o.connSchema ?? null,
    port,
    extra: o.connExtra ?? null,
    description: o.connDescription ?? null,
  };
}

export async function connectionsSet(term: Terminal, connectionId: string, o: ConnectionsOptions): Promise<number> {
  const c = connectionFromOptions(connectionId, o);
  await putConnection(await requireRemote(o), c);
  await term.out(`connection '${connectionId}' set\n`);
  return EXIT.ok;
}

export async function connectionsDelete(term: Terminal, connectionId: string, o: ConnectionsOptions): Promise<number> {
  const remote = await requireRemote(o);
  await ok(remote, remote.api.DELETE('/api/v2/connections/{connection_id}', { params: { path: { connection_id: connectionId } } }));
  await term.out(`connection '${connectionId}' deleted\n`);
  return EXIT.ok;
}

/**
 * `connections import <file>`: Airflow's format, `{ "conn_id": { "conn_type": ..., "host": ..., ... } }`;
 * a connection may also be given as its URI string.
 */
export async function connectionsImport(term: Terminal, file: string, o: ConnectionsOptions): Promise<number> {
  const entries = Object.entries(readJsonObject(file, 'connections (conn_id: fields or URI)'));
  const records: ConnectionRecord[] = [];
  for (const [id, v] of entries) {
    const where = `${file}`;
    try {
      if (typeof v === 'string') records.push(connectionFromUri(id, v, where));
      else if (typeof v === 'object' && v !== null && !Array.isArray(v)) records.push(connectionFromObject(id, v as Record<string, unknown>, where));
      else throw new UsageError(`${file}: connection '${id}' must be an object of fields or a URI string`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError((e as Error).message);
    }
  }
  const remote = await requireRemote(o);
  for (const c of records) await putConnection(remote, c);
  await term.out(`${records.length} connection${records.length === 1 ? '' : 's'} imported from ${file}\n`);
  return EXIT.ok;
}

/** `connections export <file>`: Airflow's JSON format (passwords as the API shows them: `***`). */
export async function connectionsExport(term: Terminal, file: string, o: ConnectionsOptions): Promise<number> {
  const all = await listAll(await requireRemote(o));
  const out: Record<string, unknown> = {};
  for (const c of all) {
    let extra: unknown = c.extra ?? null;
    try {
      if (typeof extra === 'string') extra = JSON.parse(extra);
    } catch {
      // Text that is not JSON is exported as it is.
    }
    out[c.connection_id] = { conn_type: c.conn_type, description: c.description ?? null, host: c.host ?? null, login: c.login ?? null, password: c.password ?? null, schema: c.schema ?? null, port: c.port ?? null, extra };
  }
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  await term.out(`${all.length} connection${all.length === 1 ? '' : 's'} exported to ${file}\n`);
  return EXIT.ok;
}
