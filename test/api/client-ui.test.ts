import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../../lib/api/app.ts';
import { ApiError, createApiClient, unwrap } from '../../lib/api/client.ts';
import { harness, TOKEN, type Harness } from './harness.ts';

/** A fetch that hands the request to the app in-process (no port). */
function injectFetch(app: FastifyInstance) {
  return async (request: Request): Promise<Response> => {
    const u = new URL(request.url);
    const body = request.body === null ? undefined : await request.text();
    const r = await app.inject({
      method: request.method as 'GET',
      url: u.pathname + u.search,
      headers: Object.fromEntries(request.headers),
      ...(body === undefined ? {} : { payload: body }),
    });
    return new Response(r.statusCode === 204 ? null : r.rawPayload, { status: r.statusCode, headers: r.headers as Record<string, string> });
  };
}

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.app.close();
});

describe('createApiClient', () => {
  it('calls the API with the token, typed by the generated paths', async () => {
    const client = createApiClient({ baseUrl: 'http://api.test/', token: TOKEN, fetch: injectFetch(h.app) });
    const dags = unwrap(await client.GET('/api/v2/dags', { params: { query: { tags: ['mapped'] } } }));
    expect(dags.dags.map((d) => d.dag_id)).toEqual(['api_flow']);
    const run = unwrap(await client.POST('/api/v2/dags/{dag_id}/dagRuns', { params: { path: { dag_id: 'api_flow' } }, body: { dag_run_id: 'from_client', conf: { n: 2 } } }));
    expect(run.dag_run_id).toBe('from_client');
    await h.idle();
    const got = unwrap(await client.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path: { dag_id: 'api_flow', dag_run_id: 'from_client' } } }));
    expect(got.state).toBe('success');
  });

  it('turns an error response into an ApiError with status, detail and field', async () => {
    const client = createApiClient({ baseUrl: 'http://api.test', token: TOKEN, fetch: injectFetch(h.app) });
    const result = await client.POST('/api/v2/dags/{dag_id}/dagRuns', { params: { path: { dag_id: 'api_flow' } }, body: { conf: { n: 99 } } });
    let caught: unknown;
    try {
      unwrap(result);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ApiError);
    const e = caught as ApiError;
    expect([e.name, e.status, e.field]).toEqual(['ApiError', 400, 'body.conf.n']);
    expect(e.detail).toContain("param 'n' = 99 is invalid");
    expect(e.message).toBe(`400: ${e.detail} (field body.conf.n)`);
  });

  it('lets a sign hook change each request (SigV4 deployed)', async () => {
    const unsigned = createApiClient({ baseUrl: 'http://api.test', fetch: injectFetch(h.app) });
    expect((await unsigned.GET('/api/v2/importErrors')).response.status).toBe(401);
    const signed = createApiClient({
      baseUrl: 'http://api.test',
      fetch: injectFetch(h.app),
      sign: (request) => {
        const headers = new Headers(request.headers);
        headers.set('authorization', `Bearer ${TOKEN}`);
        return new Request(request, { headers });
      },
    });
    expect(unwrap(await signed.GET('/api/v2/importErrors')).total_entries).toBe(2);
  });
});

describe('the UI', () => {
  let dir: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'airless-ui-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>airless</title>');
    writeFileSync(path.join(dir, 'assets', 'app.js'), 'console.log(1)');
    app = await createApiApp({ backend: h.backend, auth: { mode: 'token', token: TOKEN }, uiDir: dir });
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the built UI without a token, index.html for client-side routes', async () => {
    const index = await app.inject({ method: 'GET', url: '/' });
    expect([index.statusCode, index.body]).toEqual([200, '<!doctype html><title>airless</title>']);
    const asset = await app.inject({ method: 'GET', url: '/assets/app.js' });
    expect([asset.statusCode, asset.body]).toEqual([200, 'console.log(1)']);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    const route = await app.inject({ method: 'GET', url: '/dags/api_flow/grid?token=x' });
    expect([route.statusCode, route.body]).toEqual([200, '<!doctype html><title>airless</title>']);
    expect(route.headers['content-type']).toContain('text/html');
  });

  it('keeps the API behind the token, with JSON 404s under /api/', async () => {
    expect((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/v2/dags' })).statusCode).toBe(401);
    const missing = await app.inject({ method: 'GET', url: '/api/v2/nope', headers: { authorization: `Bearer ${TOKEN}` } });
    expect([missing.statusCode, missing.json()]).toEqual([404, { detail: 'no route GET /api/v2/nope', field: null }]);
    expect((await app.inject({ method: 'POST', url: '/somewhere' })).statusCode).toBe(404);
  });
});
