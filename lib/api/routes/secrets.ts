/**
 * Variables and connections (Airflow 3's `/api/v2/variables` and `/api/v2/connections`): list, get,
 * post, patch, delete, over the store. Secrets are masked in every response as Airflow masks them: a
 * connection's password always, a variable's value when its key looks sensitive, and the sensitive fields
 * of a connection's extra. A patch that sends a masked value back (`***`, as a form shows it) keeps the
 * stored one.
 */
import { extraObject } from '../../secrets/connection-uri.ts';
import { isSensitiveKey, MASK } from '../../secrets/masker.ts';
import type { ConnectionRecord, VariableRecord } from '../../secrets/records.ts';
import { HttpError } from '../http-error.ts';
import { likeMatches } from '../like.ts';
import { noContent, responses } from '../schemas.ts';
import { paginate, type Page, type RouteContext } from './context.ts';

/** The longest variable key or connection id (Airflow's ID_LEN). */
const KEY_MAX = 250;
/** Airflow's connection id characters (`RE_SANITIZE_CONN_ID`). */
const CONNECTION_ID_PATTERN = '^[\\w#!()\\-.:/\\\\]+$';

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;

function object(properties: Record<string, unknown>, options: { optional?: readonly string[]; id?: string } = {}) {
  const optional = new Set(options.optional ?? []);
  return {
    ...(options.id !== undefined ? { $id: options.id } : {}),
    type: 'object',
    properties,
    required: Object.keys(properties).filter((k) => !optional.has(k)),
    additionalProperties: false,
  } as const;
}

const variableKey = { type: 'string', minLength: 1, maxLength: KEY_MAX } as const;
const connectionId = { type: 'string', minLength: 1, maxLength: KEY_MAX, pattern: CONNECTION_ID_PATTERN } as const;

const variableFields = {
  key: variableKey,
  value: { ...str, description: "The value as text (JSON as its text). Masked ('***') when the key looks sensitive (password, secret, token, api_key...)." },
  description: nullableStr,
};
const connectionFields = {
  connection_id: connectionId,
  conn_type: { type: 'string', minLength: 1, maxLength: 500 },
  description: nullableStr,
  host: nullableStr,
  login: nullableStr,
  schema: nullableStr,
  port: { type: ['integer', 'null'], minimum: 0, maximum: 65535 },
  password: { ...nullableStr, description: "Always '***' in a response (null when there is none)." },
  extra: { ...nullableStr, description: "Text, usually a JSON object; sensitive fields' values masked in a response." },
};

const variableSchema = object({ ...variableFields, is_encrypted: { type: 'boolean', description: 'Always false: the store is encrypted at rest as a whole.' } }, { id: 'Variable' });
const connectionSchema = object(connectionFields, { id: 'Connection' });

/** Schemas for the OpenAPI components (registered by the routes). */
export const SECRETS_SCHEMAS = [variableSchema, connectionSchema];

const ref = (id: string) => ({ $ref: `${id}#` }) as const;
const page = { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, offset: { type: 'integer', minimum: 0, default: 0 } };
const query = (properties: Record<string, unknown>) => ({ type: 'object', properties, additionalProperties: false }) as const;

const variableBody = object(variableFields, { optional: ['description'] });
const variablePatch = object(variableFields, { optional: ['key', 'value', 'description'] });
const connectionBody = object(connectionFields, { optional: ['description', 'host', 'login', 'schema', 'port', 'password', 'extra'] });
const connectionPatch = object(connectionFields, { optional: Object.keys(connectionFields) });

type VariableBody = { key: string; value: string; description?: string | null };
type ConnectionBody = {
  connection_id: string;
  conn_type: string;
  description?: string | null;
  host?: string | null;
  login?: string | null;
  schema?: string | null;
  port?: number | null;
  password?: string | null;
  extra?: string | null;
};

/** A variable as a response shows it. */
export function toVariable(v: VariableRecord): Record<string, unknown> {
  return { key: v.key, value: isSensitiveKey(v.key) ? MASK : v.value, description: v.description, is_encrypted: false };
}

/** An extra with its sensitive fields' values masked (text that is not a JSON object as it is). */
export function maskExtra(extra: string | null): string | null {
  const o = extraObject(extra);
  if (!o) return extra;
  const mask = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(mask);
    if (typeof x !== 'object' || x === null) return x;
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, isSensitiveKey(k) ? MASK : mask(v)]));
  };
  return JSON.stringify(mask(o));
}

/** A connection as a response shows it. */
export function toConnection(c: ConnectionRecord): Record<string, unknown> {
  return {
    connection_id: c.connectionId,
    conn_type: c.connType,
    description: c.description,
    host: c.host,
    login: c.login,
    schema: c.schema,
    port: c.port,
    password: c.password === null ? null : MASK,
    extra: maskExtra(c.extra),
  };
}

function checkExtra(extra: string | null | undefined, field: string): void {
  if (extra === null || extra === undefined || extra === '') return;
  try {
    JSON.parse(extra);
  } catch {
    throw new HttpError(400, `extra must be JSON text (an object, as Airflow's), got ${JSON.stringify(extra.slice(0, 80))}`, field);
  }
}

/** Keep the stored value where the request sent back the masked one. */
function unmasked(sent: string | null | undefined, stored: string | null): string | null | undefined {
  return sent === MASK ? stored : sent;
}

export function secretsRoutes({ app, backend }: RouteContext): void {
  const { store } = backend;
  for (const s of SECRETS_SCHEMAS) app.addSchema(s);
  const variableResponse = ref('Variable');
  const connectionResponse = ref('Connection');

  // Variables ---------------------------------------------------------------------------------------
  const variableParams = object({ variable_key: variableKey });
  const mustGetVariable = async (key: string) => {
    const v = await store.getVariable(key);
    if (!v) throw new HttpError(404, `variable '${key}' not found`, 'params.variable_key');
    return v;
  };

  app.get<{ Querystring: Page & { variable_key_pattern?: string } }>(
    '/api/v2/variables',
    {
      schema: {
        summary: 'List variables',
        tags: ['Variable'],
        operationId: 'get_variables',
        querystring: query({ ...page, variable_key_pattern: { type: 'string', maxLength: KEY_MAX, description: "Part of the key; '%' and '_' as SQL LIKE, case-insensitively." } }),
        response: responses(object({ variables: { type: 'array', items: variableResponse }, total_entries: { type: 'integer' } })),
      },
    },
    async (request) => {
      const pattern = request.query.variable_key_pattern;
      const all = (await store.listVariables()).filter((v) => pattern === undefined || likeMatches(pattern, v.key));
      const { items, total } = paginate(all, request.query);
      return { variables: items.map(toVariable), total_entries: total };
    },
  );

  app.get<{ Params: { variable_key: string } }>(
    '/api/v2/variables/:variable_key',
    { schema: { summary: 'Get a variable', tags: ['Variable'], operationId: 'get_variable', params: variableParams, response: responses(variableResponse) } },
    async (request) => toVariable(await mustGetVariable(request.params.variable_key)),
  );

  app.post<{ Body: VariableBody }>(
    '/api/v2/variables',
    { schema: { summary: 'Create a variable', description: '409 when the key exists (patch it instead).', tags: ['Variable'], operationId: 'post_variable', body: variableBody, response: responses(variableResponse, 201, 'Created.') } },
    async (request, reply) => {
      const b = request.body;
      if (await store.getVariable(b.key)) throw new HttpError(409, `variable '${b.key}' exists already`, 'body.key');
      const v = { key: b.key, value: b.value, description: b.description ?? null };
      await store.putVariable(v);
      return reply.code(201).send(toVariable(v));
    },
  );

  app.patch<{ Params: { variable_key: string }; Body: Partial<VariableBody> }>(
    '/api/v2/variables/:variable_key',
    {
      schema: {
        summary: 'Update a variable',
        description: "The fields given are changed; a value of '***' (the masked value sent back) keeps the stored one.",
        tags: ['Variable'],
        operationId: 'patch_variable',
        params: variableParams,
        body: variablePatch,
        response: responses(variableResponse),
      },
    },
    async (request) => {
      const key = request.params.variable_key;
      const b = request.body;
      if (b.key !== undefined && b.key !== key) throw new HttpError(400, `the body's key '${b.key}' is not the path's '${key}' (a key cannot be renamed)`, 'body.key');
      const old = await mustGetVariable(key);
      const value = unmasked(b.value, old.value);
      const v = { key, value: value ?? old.value, description: b.description === undefined ? old.description : b.description };
      await store.putVariable(v);
      return toVariable(v);
    },
  );

  app.delete<{ Params: { variable_key: string } }>(
    '/api/v2/variables/:variable_key',
    { schema: { summary: 'Delete a variable', tags: ['Variable'], operationId: 'delete_variable', params: variableParams, response: responses(noContent, 204, 'Deleted.') } },
    async (request, reply) => {
      if (!(await store.deleteVariable(request.params.variable_key))) throw new HttpError(404, `variable '${request.params.variable_key}' not found`, 'params.variable_key');
      return reply.code(204).send();
    },
  );

  // Connections -------------------------------------------------------------------------------------
  const connectionParams = object({ connection_id: { type: 'string', minLength: 1, maxLength: KEY_MAX } });
  const mustGetConnection = async (id: string) => {
    const c = await store.getConnection(id);
    if (!c) throw new HttpError(404, `connection '${id}' not found`, 'params.connection_id');
    return c;
  };

  app.get<{ Querystring: Page & { connection_id_pattern?: string } }>(
    '/api/v2/connections',
    {
      schema: {
        summary: 'List connections',
        tags: ['Connection'],
        operationId: 'get_connections',
        querystring: query({ ...page, connection_id_pattern: { type: 'string', maxLength: KEY_MAX, description: "Part of the id; '%' and '_' as SQL LIKE, case-insensitively." } }),
        response: responses(object({ connections: { type: 'array', items: connectionResponse }, total_entries: { type: 'integer' } })),
      },
    },
    async (request) => {
      const pattern = request.query.connection_id_pattern;
      const all = (await store.listConnections()).filter((c) => pattern === undefined || likeMatches(pattern, c.connectionId));
      const { items, total } = paginate(all, request.query);
      return { connections: items.map(toConnection), total_entries: total };
    },
  );

  app.get<{ Params: { connection_id: string } }>(
    '/api/v2/connections/:connection_id',
    { schema: { summary: 'Get a connection', tags: ['Connection'], operationId: 'get_connection', params: connectionParams, response: responses(connectionResponse) } },
    async (request) => toConnection(await mustGetConnection(request.params.connection_id)),
  );

  app.post<{ Body: ConnectionBody }>(
    '/api/v2/connections',
    { schema: { summary: 'Create a connection', description: '409 when the id exists (patch it instead).', tags: ['Connection'], operationId: 'post_connection', body: connectionBody, response: responses(connectionResponse, 201, 'Created.') } },
    async (request, reply) => {
      const b = request.body;
      checkExtra(b.extra, 'body.extra');
      if (await store.getConnection(b.connection_id)) throw new HttpError(409, `connection '${b.connection_id}' exists already`, 'body.connection_id');
      const c: ConnectionRecord = {
        connectionId: b.connection_id,
        connType: b.conn_type,
        host: b.host ?? null,
        login: b.login ?? null,
        password: b.password ?? null,
        schema: b.schema ?? null,
        port: b.port ?? null,
        extra: b.extra || null,
        description: b.description ?? null,
      };
      await store.putConnection(c);
      return reply.code(201).send(toConnection(c));
    },
  );

  app.patch<{ Params: { connection_id: string }; Body: Partial<ConnectionBody> }>(
    '/api/v2/connections/:connection_id',
    {
      schema: {
        summary: 'Update a connection',
        description: "The fields given are changed; a password of '***' (the masked value sent back) keeps the stored one, and so does a masked field of the extra.",
        tags: ['Connection'],
        operationId: 'patch_connection',
        params: connectionParams,
        body: connectionPatch,
        response: responses(connectionResponse),
      },
    },
    async (request) => {
      const id = request.params.connection_id;
      const b = request.body;
      if (b.connection_id !== undefined && b.connection_id !== id) throw new HttpError(400, `the body's connection_id '${b.connection_id}' is not the path's '${id}' (a connection cannot be renamed)`, 'body.connection_id');
      checkExtra(b.extra, 'body.extra');
      const old = await mustGetConnection(id);
      const pick = <T>(sent: T | undefined, stored: T): T => (sent === undefined ? stored : sent);
      const extra = b.extra !== undefined && b.extra !== null && old.extra !== null && b.extra === maskExtra(old.extra) ? old.extra : b.extra;
      const c: ConnectionRecord = {
        connectionId: id,
        connType: pick(b.conn_type, old.connType),
        host: pick(b.host, old.host),
        login: pick(b.login, old.login),
        password: pick(unmasked(b.password, old.password), old.password),
        schema: pick(b.schema, old.schema),
        port: pick(b.port, old.port),
        extra: pick(extra === '' ? null : extra, old.extra),
        description: pick(b.description, old.description),
      };
      await store.putConnection(c);
      return toConnection(c);
    },
  );

  app.delete<{ Params: { connection_id: string } }>(
    '/api/v2/connections/:connection_id',
    { schema: { summary: 'Delete a connection', tags: ['Connection'], operationId: 'delete_connection', params: connectionParams, response: responses(noContent, 204, 'Deleted.') } },
    async (request, reply) => {
      if (!(await store.deleteConnection(request.params.connection_id))) throw new HttpError(404, `connection '${request.params.connection_id}' not found`, 'params.connection_id');
      return reply.code(204).send();
    },
  );
}
