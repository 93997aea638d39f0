import { connectionUri, extraObject, parseConnectionUri, redactUri, type ConnectionFields } from './connection-uri.ts';
import { InvalidSecretError } from './errors.ts';
import type { ConnectionRecord } from './records.ts';

/** What `ctx.connections.get` returns: Airflow's connection fields, and its URI. */
export class Connection {
  readonly connId: string;
  /** The connection type (`postgres`, `http`, `aws`, ...). */
  readonly connType: string;
  readonly host: string | null;
  readonly login: string | null;
  readonly password: string | null;
  /** The database (or path) part: Airflow's `schema`. */
  readonly schema: string | null;
  readonly port: number | null;
  /** The extra: parsed when it is a JSON object, its text otherwise; null when there is none. */
  readonly extra: Readonly<Record<string, unknown>> | string | null;
  readonly description: string | null;

  constructor(record: ConnectionRecord) {
    this.connId = record.connectionId;
    this.connType = record.connType;
    this.host = record.host;
    this.login = record.login;
    this.password = record.password;
    this.schema = record.schema;
    this.port = record.port;
    this.extra = record.extra === null || record.extra === '' ? null : (extraObject(record.extra) ?? record.extra);
    this.description = record.description;
  }

  /** The extra as an object (`{}` when there is none or it is not a JSON object): Airflow's `extra_dejson`. */
  get extraDejson(): Readonly<Record<string, unknown>> {
    return typeof this.extra === 'object' && this.extra !== null ? this.extra : {};
  }

  /** Airflow's URI form of the connection (password included). */
  getUri(): string {
    return connectionUri(fieldsOf(this.toRecord()));
  }

  /** The connection as the store holds it. */
  toRecord(): ConnectionRecord {
    const { connId, connType, host, login, password, schema, port, extra, description } = this;
    return { connectionId: connId, connType, host, login, password, schema, port, extra: typeof extra === 'object' && extra !== null ? JSON.stringify(extra) : extra, description };
  }

  /** The password is left out of what JSON.stringify (and so a task's log) shows of a connection. */
  toJSON(): Record<string, unknown> {
    return { ...this.toRecord(), password: this.password === null ? null : '***' };
  }
}

function fieldsOf(r: ConnectionRecord): ConnectionFields {
  const { connType, host, login, password, schema, port, extra } = r;
  return { connType, host, login, password, schema, port, extra };
}

const JSON_FIELDS = new Set(['conn_type', 'host', 'login', 'password', 'schema', 'port', 'extra', 'description']);

/** A connection from Airflow's JSON form (`{"conn_type": ..., "host": ..., "extra": {...}}`); `where` names its source. */
export function connectionFromJson(connectionId: string, text: string, where: string): ConnectionRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InvalidSecretError(`connection '${connectionId}' from ${where} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidSecretError(`connection '${connectionId}' from ${where} is not a JSON object`);
  return connectionFromObject(connectionId, v as Record<string, unknown>, where);
}

/** A connection from an object of Airflow's JSON fields; unknown fields and wrong types are named. */
export function connectionFromObject(connectionId: string, o: Record<string, unknown>, where: string): ConnectionRecord {
  const bad = (msg: string) => new InvalidSecretError(`connection '${connectionId}' from ${where}: ${msg}`);
  for (const k of Object.keys(o)) {
    if (!JSON_FIELDS.has(k) && k !== 'connection_id' && k !== 'conn_id') throw bad(`unknown field '${k}' (fields: ${[...JSON_FIELDS].join(', ')})`);
  }
  const text = (k: string): string | null => {
    const x = o[k];
    if (x === undefined || x === null) return null;
    if (typeof x !== 'string') throw bad(`'${k}' must be a string`);
    return x;
  };
  const connType = text('conn_type');
  if (!connType) throw bad(`'conn_type' is required`);
  let port: number | null = null;
  if (o.port !== undefined && o.port !== null && o.port !== '') {
    port = typeof o.port === 'string' && /^\d+$/.test(o.port) ? Number(o.port) : (o.port as number);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw bad(`'port' must be an integer from 0 to 65535`);
  }
  let extra: string | null = null;
  if (o.extra !== undefined && o.extra !== null) {
    if (typeof o.extra === 'string') extra = o.extra;
    else if (typeof o.extra === 'object' && !Array.isArray(o.extra)) extra = JSON.stringify(o.extra);
    else throw bad(`'extra' must be an object or a string`);
  }
  return { connectionId, connType, host: text('host'), login: text('login'), password: text('password'), schema: text('schema'), port, extra, description: text('description') };
}

/** A connection from a URI; `where` names its source in an error (the password never shown). */
export function connectionFromUri(connectionId: string, uri: string, where: string): ConnectionRecord {
  try {
    return { connectionId, ...parseConnectionUri(uri), description: null };
  } catch (e) {
    throw new InvalidSecretError(`connection '${connectionId}' from ${where}: ${(e as Error).message}`);
  }
}

/** A connection from a value that is either a URI or Airflow's JSON form (an environment variable, a secret). */
export function connectionFromValue(connectionId: string, value: string, where: string): ConnectionRecord {
  return value.trimStart().startsWith('{') ? connectionFromJson(connectionId, value, where) : connectionFromUri(connectionId, value, where);
}

/** Airflow's JSON form of a connection (what `connections export` writes). */
export function connectionToJson(r: ConnectionRecord): Record<string, unknown> {
  const extra = r.extra === null ? null : (extraObject(r.extra) ?? r.extra);
  return { conn_type: r.connType, host: r.host, login: r.login, password: r.password, schema: r.schema, port: r.port, extra, description: r.description };
}

export { redactUri };
