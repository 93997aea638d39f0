// The API against hostile requests: every spelling of every route without the token, a LIKE pattern made
// to backtrack, secrets in the URL of a request that fails, inputs the schemas accept but the code could
// not handle, and ids longer than Fastify's default parameter length.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiApp } from '../../lib/api/app.ts';
import { likeMatches } from '../../lib/api/like.ts';
import { redactText, redactUrl } from '../../lib/api/redact.ts';
import { ID_LEN, ID_MAX_LENGTH } from '../../lib/api/schemas.ts';
import { harness, TOKEN, type Harness } from './harness.ts';

const AUTH = { authorization: `Bearer ${TOKEN}` };
const MISSING = { detail: 'missing Authorization header: send Authorization: Bearer <token>', field: null };

interface Answer {
  status: number;
  body: string;
}

/** One request on a socket of its own, its target sent exactly as given (no normalisation by a client). */
function send(app: FastifyInstance, method: string, target: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  const { port } = app.server.address() as AddressInfo;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method, path: target, agent: false, headers: { ...headers, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The same path spelt otherwise: what a string prefix check on the URL would not recognise (the query string kept as it is). */
function variants(url: string): [name: string, target: string][] {
  const q = url.indexOf('?');
  const plain = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  return pathVariants(plain).map(([name, target]) => [name, `${target}${query}`]);
}

function pathVariants(plain: string): [name: string, target: string][] {
  const first = plain.charCodeAt(1).toString(16);
  const encoded = `/%${first}${plain.slice(2)}`;
  const firstSegment = /^\/[^/]+/;
  return [
    ['percent-encoded letter', encoded],
    ['percent-encoded segment', plain.replace(/^\/api\/v2\//, '/api/%76%32/')],
    ['double-encoded letter', `/%25${first}${plain.slice(2)}`],
    ['dot-dot segment', `/x/..${plain}`],
    ['encoded dot-dot segment', `/x/%2e%2e${plain}`],
    ['dot segment', plain.replace(/^(\/[^/]+)\//, '$1/./')],
    ['absolute-form', `http://api.example${plain}`],
    ['absolute-form, encoded letter', `http://api.example${encoded}`],
    ['absolute-form, upper-case scheme', `HTTP://api.example${plain}`],
    ['upper-case segment', plain.replace(firstSegment, (s) => s.toUpperCase())],
    ['mixed-case segment', plain.replace(firstSegment, (s) => s.charAt(0) + s.charAt(1).toUpperCase() + s.slice(2))],
    ['double slash', `/${plain}`],
    ['encoded slash', plain.replace(/^(\/[^/]+)\//, '$1%2F')],
  ];
}

const SAMPLE: Record<string, string> = { dag_id: 'api_flow', dag_run_id: 'r1', task_id: 'total', map_index: '0', try_number: '1', xcom_key: 'return_value', backfill_id: '1', version: '0123456789abcdef', path: 'flow.ts', pool_name: 'default_pool' };
const RANGE = { dag_id: 'api_daily', from_date: '2025-12-20T00:00:00Z', to_date: '2025-12-22T23:00:00Z' };
/** What a request without the token tries to do: each would change something if it were let through. */
const ATTEMPT: Record<string, unknown> = {
  patch_dag: { is_paused: true },
  trigger_dag_run: { dag_run_id: 'bypass' },
  post_clear_task_instances: { dag_run_id: 'r1', dry_run: false },
  create_backfill: RANGE,
  create_backfill_dry_run: RANGE,
  post_pool: { name: 'bypass', slots: 1 },
  patch_pool: { slots: 0 },
};
/** With the token: bodies whose answer is the same however often they are sent. */
const REPEATABLE: Record<string, unknown> = {
  patch_dag: { is_paused: false },
  trigger_dag_run: { dag_run_id: 'r1' },
  post_clear_task_instances: { dag_run_id: 'r1' },
  create_backfill: { ...RANGE, max_active_runs: 0 },
  create_backfill_dry_run: RANGE,
  post_pool: { name: 'default_pool', slots: 1 },
  patch_pool: {},
};

interface Route {
  method: string;
  url: string;
  operationId: string;
  isPublic: boolean;
}

describe('authentication follows the route that matched, however its path is spelt', () => {
  let h: Harness;
  let routes: Route[];

  /** What a token-holding client sees of the state a request could change. */
  const snapshot = async () =>
    Promise.all(['/api/v2/dags/api_flow', '/api/v2/dags/~/dagRuns', '/api/v2/dags/api_flow/dagRuns/r1/taskInstances', '/api/v2/backfills?dag_id=api_daily', '/api/v2/pools'].map((u) => h.call('GET', u)));

  beforeAll(async () => {
    h = await harness();
    expect((await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { dag_run_id: 'r1' })).status).toBe(200);
    await h.idle();
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const doc = (await h.call('GET', '/openapi.json')).json as { paths: Record<string, Record<string, { operationId: string; security?: unknown[]; parameters?: { in: string; name: string; required?: boolean }[] }>> };
    routes = [
      { method: 'GET', url: '/openapi.json', operationId: 'openapi', isPublic: false },
      { method: 'GET', url: '/api/v2/openapi.json', operationId: 'openapi', isPublic: false },
    ];
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const query = (op.parameters ?? []).filter((q) => q.in === 'query' && q.required).map((q) => `${q.name}=${SAMPLE[q.name]!}`);
        const url = p.replace(/\{(\w+)\}/g, (_, name: string) => SAMPLE[name]!) + (query.length ? `?${query.join('&')}` : '');
        routes.push({ method: method.toUpperCase(), url, operationId: op.operationId, isPublic: Array.isArray(op.security) && op.security.length === 0 });
      }
    }
    // A DELETE last, so that it changes nothing the other routes answer with the token.
    routes.sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
  });
  afterAll(async () => {
    await h.app.close();
  });

  it('covers every route of the OpenAPI document', () => {
    expect(routes.length).toBe(52);
    expect(routes.filter((r) => r.isPublic).map((r) => `${r.method} ${r.url}`)).toStrictEqual(['GET /api/v2/monitor/health']);
  });

  it('answers 401 to every spelling of a route that needs the token (404 to one that matches no route), and changes nothing', async () => {
    const before = await snapshot();
    const wrong: string[] = [];
    for (const r of routes) {
      const methods = r.method === 'GET' ? ['GET', 'HEAD'] : [r.method];
      for (const method of methods) {
        for (const [name, target] of [['plain', r.url] as [string, string], ...variants(r.url)]) {
          const a = await send(h.app, method, target, {}, method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : (ATTEMPT[r.operationId] ?? {}));
          const head = method === 'HEAD';
          const ok = r.isPublic
            ? a.status === 404 || (a.status === 200 && (head || a.body === '{"status":"healthy"}'))
            : a.status === 401
              ? head || a.body === JSON.stringify(MISSING)
              : a.status === 404 && name !== 'plain' && (head || JSON.parse(a.body).field === null);
          if (!ok) wrong.push(`${method} ${target} (${name}): ${a.status} ${a.body.slice(0, 120)}`);
        }
      }
    }
    expect(wrong).toStrictEqual([]);
    expect(await snapshot()).toStrictEqual(before);
    expect((await h.call('GET', '/api/v2/dags/api_flow')).json.is_paused).toBe(false);
  });

  it('serves the percent-encoded and absolute-form spellings (they are the route), with the token only', async () => {
    for (const target of ['/%61pi/v2/dags/api_flow/dagRuns/r1', 'http://api.example/api/v2/dags/api_flow/dagRuns/r1']) {
      expect(await send(h.app, 'GET', target)).toStrictEqual({ status: 401, body: JSON.stringify(MISSING) });
      const a = await send(h.app, 'GET', target, AUTH);
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body)).toMatchObject({ dag_run_id: 'r1', dag_id: 'api_flow' });
    }
  });

  it('with the token, answers every spelling that matched a route as the plain path', async () => {
    const wrong: string[] = [];
    for (const r of routes) {
      const methods = r.method === 'GET' ? ['GET', 'HEAD'] : [r.method];
      for (const method of methods) {
        const body = method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : (REPEATABLE[r.operationId] ?? {});
        const plain = await send(h.app, method, r.url, AUTH, body);
        if (!(plain.status >= 200 && plain.status < 500)) wrong.push(`${method} ${r.url}: ${plain.status}`);
        for (const [name, target] of variants(r.url)) {
          const matched = (await send(h.app, method, target)).status !== 404;
          const a = await send(h.app, method, target, AUTH, body);
          const same = matched ? a.status === plain.status && a.body === plain.body : a.status === 404;
          if (!same) wrong.push(`${method} ${target} (${name}): ${a.status} ${a.body.slice(0, 120)}, plain ${plain.status} ${plain.body.slice(0, 120)}`);
        }
      }
    }
    expect(wrong).toStrictEqual([]);
  });

});

describe('the UI and the API in one app', () => {
  const INDEX = '<!doctype html><title>airless</title>';
  const uiDir = mkdtempSync(path.join(tmpdir(), 'airless-api-ui-'));
  writeFileSync(path.join(uiDir, 'index.html'), INDEX);
  let h: Harness;
  let app: FastifyInstance;
  beforeAll(async () => {
    h = await harness();
    app = await createApiApp({ backend: h.backend, auth: { mode: 'token', token: TOKEN }, uiDir });
    await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
    await h.app.close();
    rmSync(uiDir, { recursive: true, force: true });
  });

  it('serves the static files and the page without a token, and no API data to any spelling of an API path', async () => {
    expect(await send(app, 'GET', '/index.html')).toMatchObject({ status: 200, body: INDEX });
    expect(await send(app, 'GET', '/dags/api_flow/grid')).toMatchObject({ status: 200, body: INDEX });
    expect(await send(app, 'HEAD', '/')).toMatchObject({ status: 200 });
    const wrong: string[] = [];
    for (const plain of ['/api/v2/dags', '/api/v2/dags/api_flow', '/openapi.json']) {
      for (const [name, target] of [['plain', plain] as [string, string], ...variants(plain)]) {
        const a = await send(app, 'GET', target);
        // The page carries no data; anything else is the 401, or a 404 (403 for a path leaving the UI's folder) in the API's shape.
        const ok = a.status === 401 ? a.body === JSON.stringify(MISSING) : a.status === 404 || a.status === 403 ? JSON.parse(a.body).field === null : a.status === 200 && a.body === INDEX;
        if (!ok || (name === 'plain' && a.status !== 401)) wrong.push(`GET ${target} (${name}): ${a.status} ${a.body.slice(0, 120)}`);
      }
    }
    expect(wrong).toStrictEqual([]);
  });
});

describe('dag_id_pattern (SQL LIKE)', () => {
  it("matches '%' any run and '_' one character, anywhere in the id, ignoring case, and nothing else as a wildcard", () => {
    expect(likeMatches('flow', 'api_flow')).toBe(true);
    expect(likeMatches('api_fl_w', 'api_flow')).toBe(true);
    expect(likeMatches('a%w', 'api_flow')).toBe(true);
    expect(likeMatches('API%FLOW', 'api_flow')).toBe(true);
    expect(likeMatches('', 'api_flow')).toBe(true);
    expect(likeMatches('flows', 'api_flow')).toBe(false);
    expect(likeMatches('a_i', 'api_flow')).toBe(true);
    expect(likeMatches('a_f', 'api_flow')).toBe(false);
    expect(likeMatches('.*', 'api_flow')).toBe(false);
    expect(likeMatches('.*', 'a.*b')).toBe(true);
    expect(likeMatches('(a+)+$', 'aaaa')).toBe(false);
    expect(likeMatches('___', 'ab')).toBe(false);
    expect(likeMatches('___', 'abc')).toBe(true);
    expect(likeMatches('%b%c%', 'cab')).toBe(false);
  });

  it('answers adversarial patterns (a backtracking regex takes exponential time on them)', () => {
    const long = 'a'.repeat(5000);
    expect(likeMatches(`${'%'.repeat(13)}zzz`, long)).toBe(false);
    expect(likeMatches(`${'%a'.repeat(40)}%b`, long)).toBe(false);
    expect(likeMatches('%a'.repeat(40), long)).toBe(true);
    expect(likeMatches(`${'_%'.repeat(40)}b`, long)).toBe(false);
  });

  it('filters the DAG list, and refuses a pattern longer than an id', async () => {
    const h = await harness([]);
    try {
      const ids = async (pattern: string) => (await h.call('GET', `/api/v2/dags?dag_id_pattern=${encodeURIComponent(pattern)}`)).json.dags.map((d: { dag_id: string }) => d.dag_id);
      expect(await ids(`${'%'.repeat(13)}zzz`)).toStrictEqual([]);
      expect(await ids('API_FL_W')).toStrictEqual(['api_flow']);
      expect(await ids('daily')).toStrictEqual(['api_daily']);
      const tooLong = await h.call('GET', `/api/v2/dags?dag_id_pattern=${'%'.repeat(ID_LEN + 1)}`);
      expect(tooLong).toStrictEqual({ status: 400, json: { detail: `query.dag_id_pattern must NOT have more than ${ID_LEN} characters`, field: 'query.dag_id_pattern' } });
    } finally {
      await h.app.close();
    }
  });
});

describe('secrets in log lines', () => {
  const FAILURE = 'store unreachable: postgres://admin:hunter2@db.example/airless?sslmode=require&password=hunter2 (sent Authorization: Bearer leaked-bearer, will retry)';
  const URL_SENT = '/api/v2/dags/api_flow?token=query-secret&limit=5&access_token=at-secret&API_KEY=key-secret&%70assword=pw-secret&keep=visible';
  const URL_LOGGED = '/api/v2/dags/api_flow?token=[REDACTED]&limit=5&access_token=[REDACTED]&API_KEY=[REDACTED]&%70assword=[REDACTED]&keep=visible';
  const SECRETS = ['query-secret', 'at-secret', 'key-secret', 'pw-secret', 'hunter2', 'leaked-bearer', TOKEN];

  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.app.close();
  });

  const failing = () => ({ ...h.backend, withScheduler: () => Promise.reject(new Error(FAILURE)) });
  const patch = (app: FastifyInstance) => app.inject({ method: 'PATCH', url: URL_SENT, headers: { ...AUTH, cookie: 'session=cookie-secret' }, payload: { is_paused: true } });

  it('redacts query values of secret-like names, URL credentials and Authorization credentials', () => {
    expect(redactUrl(URL_SENT)).toBe(URL_LOGGED);
    expect(redactUrl('http://user:pw@api.example/api/v2/dags?x=1&Token=t')).toBe('http://[REDACTED]@api.example/api/v2/dags?x=1&Token=[REDACTED]');
    expect(redactUrl('/api/v2/dags')).toBe('/api/v2/dags');
    expect(redactText(FAILURE)).toBe('store unreachable: postgres://[REDACTED]@db.example/airless?sslmode=require&password=[REDACTED] (sent Authorization: Bearer [REDACTED], will retry)');
  });

  it('keeps them out of the line a 500 writes on stderr', async () => {
    const app = await createApiApp({ backend: failing(), auth: { mode: 'token', token: TOKEN } });
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      expect((await patch(app)).statusCode).toBe(500);
    } finally {
      spy.mockRestore();
      await app.close();
    }
    const text = written.join('');
    expect(text).toContain(`airless api: PATCH ${URL_LOGGED} failed: Error: ${redactText(FAILURE)}\n    at `);
    for (const s of SECRETS) expect(text).not.toContain(s);
  });

  it("keeps them out of Fastify's request log lines", async () => {
    const lines: string[] = [];
    const app = await createApiApp({ backend: failing(), auth: { mode: 'token', token: TOKEN }, logger: { stream: { write: (line) => void lines.push(line) } } });
    try {
      expect((await patch(app)).statusCode).toBe(500);
    } finally {
      await app.close();
    }
    const entries = lines.map((l) => JSON.parse(l) as { msg?: string; req?: { url?: string }; err?: { message?: string; stack?: string } });
    expect(entries.find((e) => e.msg === 'incoming request')?.req?.url).toBe(URL_LOGGED);
    const failed = entries.find((e) => e.msg === `PATCH ${URL_LOGGED} failed`);
    expect(failed?.err?.message).toBe(redactText(FAILURE));
    expect(failed?.err?.stack).toContain(redactText(FAILURE));
    const text = lines.join('');
    for (const s of [...SECRETS, 'cookie-secret']) expect(text).not.toContain(s);
  });
});

describe('input the schemas accept that the code could not handle: 400 naming the field', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
    expect((await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { dag_run_id: 'r1' })).status).toBe(200);
    await h.idle();
  });
  afterAll(async () => {
    await h.app.close();
  });

  const deep = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${'}'.repeat(levels - 1)}`;
  const post = (url: string, json: string) => h.raw({ method: 'POST', url, headers: { ...AUTH, 'content-type': 'application/json' }, payload: json });
  const notAParam = (key: string, dagId = 'api_flow', params = 'n, label') => `DAG '${dagId}', field 'conf.${key}': conf key '${key}' is not a param of this DAG (params: ${params})`;

  it('a leap second, or an offset Date cannot read, as a date', async () => {
    for (const date of ['2016-12-31T23:59:60Z', '2016-06-30T23:59:60+00:00', '2016-01-01T00:00:00+01']) {
      expect(await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { logical_date: date })).toStrictEqual({ status: 400, json: { detail: 'body.logical_date must match format "date-time"', field: 'body.logical_date' } });
      expect(await h.call('POST', '/api/v2/backfills', { ...RANGE, from_date: date })).toStrictEqual({ status: 400, json: { detail: 'body.from_date must match format "date-time"', field: 'body.from_date' } });
      expect(await h.call('POST', '/api/v2/backfills/dry_run', { ...RANGE, to_date: date })).toStrictEqual({ status: 400, json: { detail: 'body.to_date must match format "date-time"', field: 'body.to_date' } });
    }
    expect((await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { logical_date: '2016-12-31T23:59:59.999+01:00' })).json.logical_date).toBe('2016-12-31T22:59:59.999Z');
  });

  it('a conf key named like an Object.prototype member', async () => {
    for (const key of ['toString', 'constructor', 'hasOwnProperty', 'valueOf']) {
      expect(await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { conf: { [key]: 1 } })).toStrictEqual({
        status: 400,
        json: { detail: notAParam(key), field: `body.conf.${key}` },
      });
      expect(await h.call('POST', '/api/v2/backfills', { ...RANGE, dag_run_conf: { [key]: 1 } })).toStrictEqual({
        status: 400,
        json: { detail: notAParam(key, 'api_daily', 'none'), field: `body.dag_run_conf.${key}` },
      });
      expect((await h.call('POST', '/api/v2/backfills/dry_run', { ...RANGE, dag_run_conf: { [key]: 1 } })).json.field).toBe(`body.dag_run_conf.${key}`);
    }
    // __proto__ and constructor.prototype are refused by the JSON parser.
    for (const json of ['{"conf":{"__proto__":{"n":1}}}', '{"conf":{"constructor":{"prototype":{"n":1}}}}']) {
      expect(await post('/api/v2/dags/api_flow/dagRuns', json)).toStrictEqual({ status: 400, json: { detail: "Body is not valid JSON but content-type is set to 'application/json'", field: 'body' } });
    }
  });

  it('a conf nested 10,000 levels deep (or just past the bound)', async () => {
    expect(await post('/api/v2/dags/api_flow/dagRuns', `{"conf":${deep(10_000)}}`)).toStrictEqual({ status: 400, json: { detail: 'body.conf must not be nested more than 64 levels deep', field: 'body.conf' } });
    expect(await post('/api/v2/dags/api_flow/dagRuns', `{"conf":{"n":[${deep(64)}]}}`)).toStrictEqual({ status: 400, json: { detail: 'body.conf must not be nested more than 64 levels deep', field: 'body.conf' } });
    // 64 levels are taken (and refused by the params, naming the key).
    expect((await post('/api/v2/dags/api_flow/dagRuns', `{"conf":${deep(64)}}`)).json).toStrictEqual({ detail: notAParam('a'), field: 'body.conf.a' });
    for (const url of ['/api/v2/backfills', '/api/v2/backfills/dry_run']) {
      const json = JSON.stringify(RANGE).replace(/}$/, `,"dag_run_conf":${deep(10_000)}}`);
      expect(await post(url, json)).toStrictEqual({ status: 400, json: { detail: 'body.dag_run_conf must not be nested more than 64 levels deep', field: 'body.dag_run_conf' } });
    }
    // Free-form values nowhere else: a deep value in a field of another type is refused by its type.
    expect(await post('/api/v2/dags/api_flow/dagRuns', `{"note":${deep(10_000)}}`)).toStrictEqual({ status: 400, json: { detail: 'body.note must be string,null', field: 'body.note' } });
    expect(await post('/api/v2/dags/api_flow/clearTaskInstances', `{"dag_run_id":"r1","task_ids":[${deep(10_000)}]}`)).toStrictEqual({ status: 400, json: { detail: 'body.task_ids[0] must be string', field: 'body.task_ids[0]' } });
    expect((await h.call('GET', '/api/v2/dags/api_flow/dagRuns')).json.total_entries).toBe(2);
  });

  it('ids named like Object.prototype members: 404 naming them', async () => {
    const notFound = async (method: 'GET' | 'POST', url: string, field: string, body?: unknown) => {
      const r = await h.call(method, url, body);
      expect([url, r.status, r.json.field]).toStrictEqual([url, 404, field]);
    };
    for (const id of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      await notFound('GET', `/api/v2/dags/${id}`, 'params.dag_id');
      await notFound('GET', `/api/v2/dags/api_flow/tasks/${id}`, 'params.task_id');
      await notFound('GET', `/api/v2/dags/api_flow/dagRuns/${id}`, 'params.dag_run_id');
      await notFound('GET', `/api/v2/dags/api_flow/dagRuns/r1/taskInstances/${id}`, 'params.task_id');
      await notFound('GET', `/api/v2/dags/api_flow/dagRuns/r1/taskInstances/total/xcomEntries/${id}`, 'params.xcom_key');
      await notFound('GET', `/api/v2/backfills/${id}?dag_id=api_flow`, 'params.backfill_id');
      await notFound('GET', `/api/v2/backfills?dag_id=${id}`, 'query.dag_id');
      await notFound('POST', '/api/v2/backfills/dry_run', 'body.dag_id', { ...RANGE, dag_id: id });
      await notFound('POST', '/api/v2/dags/api_flow/clearTaskInstances', 'body.dag_run_id', { dag_run_id: id });
      await notFound('POST', '/api/v2/dags/api_flow/clearTaskInstances', 'body.task_ids[0]', { dag_run_id: 'r1', task_ids: [id] });
    }
  });
});

describe('ids longer than 100 characters', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.app.close();
  });

  it('a run id of 250 characters is created, then found by every route that names it', async () => {
    const id = `long_${'x'.repeat(ID_LEN - 10)}:+~.-`;
    expect(id).toHaveLength(ID_LEN);
    const created = await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { dag_run_id: id });
    expect([created.status, created.json.dag_run_id]).toStrictEqual([200, id]);
    await h.idle();
    const at = `/api/v2/dags/api_flow/dagRuns/${encodeURIComponent(id)}`;
    const run = await h.call('GET', at);
    expect([run.status, run.json.dag_run_id, run.json.state]).toStrictEqual([200, id, 'success']);
    expect((await h.call('GET', `${at}/taskInstances/total`)).json).toMatchObject({ dag_run_id: id, task_id: 'total', state: 'success' });
    expect((await h.call('GET', `${at}/taskInstances/total/xcomEntries/count`)).json).toMatchObject({ run_id: id, key: 'count', value: 3 });
    const tooLong = await h.call('POST', '/api/v2/dags/api_flow/dagRuns', { dag_run_id: `${id}x` });
    expect(tooLong).toStrictEqual({ status: 400, json: { detail: `body.dag_run_id must NOT have more than ${ID_LEN} characters`, field: 'body.dag_run_id' } });
  });

  it('a path id up to the bound reaches its route; a longer one is refused in the API shape', async () => {
    const longest = await h.call('GET', `/api/v2/dags/api_flow/dagRuns/${'r'.repeat(ID_MAX_LENGTH)}`);
    expect([longest.status, longest.json.field]).toStrictEqual([404, 'params.dag_run_id']);
    const over = `/api/v2/dags/api_flow/dagRuns/${'r'.repeat(ID_MAX_LENGTH + 1)}`;
    expect(await h.call('GET', over)).toStrictEqual({ status: 414, json: { detail: `'${over}' is exceeding the max param length`, field: null } });
    expect(await h.call('GET', '/api/v2/dags/%zz')).toStrictEqual({ status: 400, json: { detail: "'/api/v2/dags/%zz' is not a valid url component", field: null } });
  });
});
