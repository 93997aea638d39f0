// The UI server (`airless ui`) against a small local HTTP server standing in for the API: what it
// forwards (method, path, query, body, headers), what it passes back, the local token, the signing fetch.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { receive, verifySigV4, type ReceivedRequest } from '../e2e/function-url.ts';
import { listenOnLoopback } from '../e2e/loopback-server.ts';
import { signingFetch } from '../lib/api/sigv4.ts';
import { uiTarget } from '../lib/cli/commands/ui.ts';
import { forwardUrl } from '../lib/ui-server/proxy.ts';
import { startUiServer, UiServerStartError, type ProxyTarget, type UiServer } from '../lib/ui-server/server.ts';

const TOKEN = 'local-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const INDEX = '<!doctype html><title>airless</title><div id="root"></div>';
const CALLER = { accessKeyId: 'AKIDUISERVER', secretAccessKey: 'ui-server-secret' };
const REGION = 'eu-west-1';

const uiDir = mkdtempSync(path.join(tmpdir(), 'airless-ui-dist-'));
writeFileSync(path.join(uiDir, 'index.html'), INDEX);
writeFileSync(path.join(uiDir, 'app.js'), 'console.log("ui");');

/** What the stand-in API received. */
const received: ReceivedRequest[] = [];
let upstream: { server: Server; endpoint: string };
const servers: UiServer[] = [];

beforeAll(async () => {
  upstream = await listenOnLoopback(async (req, res) => {
    const r = await receive(req);
    received.push(r);
    const url = new URL(r.url, 'http://x');
    if (url.pathname === '/api/v2/teapot') {
      res.writeHead(418, { 'content-type': 'text/plain; charset=utf-8', 'x-upstream': 'yes' });
      res.end("I'm a teapot");
    } else if (url.pathname === '/api/v2/invalid') {
      res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ detail: 'body.conf.n must be integer', field: 'body.conf.n' }));
    } else if (url.pathname === '/api/v2/empty') {
      res.writeHead(204, { 'x-upstream': 'empty' });
      res.end();
    } else if (url.pathname === '/api/v2/gzipped') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ compressed: true })));
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'echo' });
      res.end(JSON.stringify({ method: r.method, url: r.url }));
    }
  });
});

afterAll(async () => {
  for (const s of servers) await s.stop();
  await new Promise<void>((resolve, reject) => upstream.server.close((e) => (e ? reject(e) : resolve())));
  rmSync(uiDir, { recursive: true, force: true });
});

beforeEach(() => {
  received.length = 0;
});

async function start(target: Partial<ProxyTarget> = {}, warn: (line: string) => void = () => undefined): Promise<UiServer> {
  const s = await startUiServer({ target: { baseUrl: upstream.endpoint, description: 'the test API', ...target }, token: TOKEN, uiDir, port: 0, warn });
  servers.push(s);
  return s;
}

/** A request through node:http, which (unlike fetch) lets the test send hop-by-hop headers. */
function rawRequest(url: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A request whose target is sent exactly as given (absolute-form, dot-segments, escapes: no client normalises it). */
function rawTarget(server: UiServer, method: string, target: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path: target, agent: false, headers }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the UI server', () => {
  it('refuses the proxied routes without the local token (401 as the API answers), but not health or the UI', async () => {
    const s = await start();
    for (const p of ['/api/v2/dags', '/openapi.json', '/api/v2/openapi.json']) {
      const res = await fetch(`${s.url}${p}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.json()).toStrictEqual({ detail: 'missing Authorization header: send Authorization: Bearer <token>', field: null });
    }
    const wrong = await fetch(`${s.url}/api/v2/dags`, { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body: '{}' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toStrictEqual({ detail: 'invalid token in the Authorization header', field: null });
    expect(received).toStrictEqual([]);

    const health = await fetch(`${s.url}/api/v2/monitor/health`);
    expect(health.status).toBe(200);
    expect(received.map((r) => r.url)).toStrictEqual(['/api/v2/monitor/health']);
    expect((await fetch(`${s.url}/`)).status).toBe(200);
  });

  it('refuses every spelling of a proxied path without the local token (the route that matched decides), and forwards none', async () => {
    const s = await start();
    const MISSING = JSON.stringify({ detail: 'missing Authorization header: send Authorization: Bearer <token>', field: null });
    const spellings = ['/api/v2/dags', '/%61pi/v2/dags', '/api/%76%32/dags', '/%2561pi/v2/dags', '/x/../api/v2/dags', '/x/%2e%2e/api/v2/dags', '/api/./v2/dags', '//api/v2/dags', '/API/v2/dags', 'http://api.example/api/v2/dags', 'http://api.example/%61pi/v2/dags', 'HTTP://api.example/api/v2/dags', '/%6Fpenapi.json', 'http://api.example/openapi.json'];
    const wrong: string[] = [];
    for (const target of spellings) {
      for (const method of ['GET', 'POST', 'DELETE', 'PATCH']) {
        const r = await rawTarget(s, method, target);
        // 401; or a 404 (a path matching no route), a 403 (@fastify/static: a path leaving the UI's folder), or for a GET the UI's page: none carries data.
        const ok = r.status === 401 ? r.body === MISSING : r.status === 404 ? JSON.parse(r.body).field === null : r.status === 403 || (method === 'GET' && r.status === 200 && r.body === INDEX);
        if (!ok || (target === '/api/v2/dags' && r.status !== 401)) wrong.push(`${method} ${target}: ${r.status} ${r.body.slice(0, 100)}`);
      }
    }
    expect(wrong).toStrictEqual([]);
    expect(received).toStrictEqual([]);
    // With the token, the spellings that are the route are forwarded as sent.
    // With the token, an absolute-form target is forwarded by its path (the API's host is the target's).
    expect(await rawTarget(s, 'GET', 'http://api.example/api/v2/dags?limit=1', AUTH)).toStrictEqual({ status: 200, body: JSON.stringify({ method: 'GET', url: '/api/v2/dags?limit=1' }) });
    expect(received.map((r) => [r.url, r.headers.host])).toStrictEqual([['/api/v2/dags?limit=1', new URL(upstream.endpoint).host]]);
  });

  it('forwards method, path and query string as sent, and passes status, body and content-type back', async () => {
    const s = await start();
    const res = await fetch(`${s.url}/api/v2/dags/my%20dag/dagRuns?state=success&state=failed&q=a%2Fb&limit=5`, { headers: { ...AUTH, 'x-request-id': 'r1', accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-upstream')).toBe('echo');
    expect(await res.json()).toStrictEqual({ method: 'GET', url: '/api/v2/dags/my%20dag/dagRuns?state=success&state=failed&q=a%2Fb&limit=5' });
    const got = received.at(-1)!;
    expect(got.headers).toMatchObject({ 'x-request-id': 'r1', accept: 'application/json', host: new URL(upstream.endpoint).host });
    // The browser's Authorization (the local token) is not the API's business.
    expect(got.headers['authorization']).toBeUndefined();

    const doc = await fetch(`${s.url}/openapi.json`, { headers: AUTH });
    expect(await doc.json()).toStrictEqual({ method: 'GET', url: '/openapi.json' });

    const teapot = await fetch(`${s.url}/api/v2/teapot`, { method: 'DELETE', headers: AUTH });
    expect(teapot.status).toBe(418);
    expect(teapot.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await teapot.text()).toBe("I'm a teapot");
    expect(received.at(-1)!.method).toBe('DELETE');

    const invalid = await fetch(`${s.url}/api/v2/invalid`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: '{"conf":{"n":"x"}}' });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toStrictEqual({ detail: 'body.conf.n must be integer', field: 'body.conf.n' });

    const empty = await fetch(`${s.url}/api/v2/empty`, { method: 'PATCH', headers: AUTH });
    expect(empty.status).toBe(204);
    expect(empty.headers.get('x-upstream')).toBe('empty');
    expect(await empty.text()).toBe('');

    // fetch decodes a compressed answer: it is passed back decoded, without its content-encoding.
    const gz = await rawRequest(`${s.url}/api/v2/gzipped`, AUTH);
    expect(gz.status).toBe(200);
    expect(gz.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(gz.body)).toStrictEqual({ compressed: true });
  });

  it('forwards bodies byte for byte with their content-type (JSON, text, none)', async () => {
    const s = await start();
    const json = '{"dag_run_id":"r1","conf":{"x":[1,2,"é"]}}';
    await fetch(`${s.url}/api/v2/dags/d/dagRuns`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: json });
    const text = 'line 1\nline 2';
    await fetch(`${s.url}/api/v2/dags/d/notes`, { method: 'PUT', headers: { ...AUTH, 'content-type': 'text/plain;charset=UTF-8' }, body: text });
    await fetch(`${s.url}/api/v2/dags/d`, { method: 'PATCH', headers: AUTH, body: new Uint8Array([0, 1, 2, 255]) });
    expect(received.map((r) => [r.method, r.url, r.headers['content-type'], Buffer.from(r.body).toString('hex')])).toStrictEqual([
      ['POST', '/api/v2/dags/d/dagRuns', 'application/json', Buffer.from(json).toString('hex')],
      ['PUT', '/api/v2/dags/d/notes', 'text/plain;charset=UTF-8', Buffer.from(text).toString('hex')],
      ['PATCH', '/api/v2/dags/d', undefined, '000102ff'],
    ]);
    expect(received[0]!.headers['content-length']).toBe(String(Buffer.byteLength(json)));
  });

  it('drops hop-by-hop headers, those the Connection header names, cookies and x-amz-* headers', async () => {
    const s = await start();
    const res = await rawRequest(`${s.url}/api/v2/dags`, {
      ...AUTH,
      connection: 'keep-alive, x-private-hop',
      'x-private-hop': 'secret',
      'keep-alive': 'timeout=5',
      'proxy-authorization': 'Basic abc',
      te: 'trailers',
      cookie: 'session=laptop',
      'x-amz-security-token': 'injected',
      'x-kept': 'yes',
    });
    expect(res.status).toBe(200);
    const got = received.at(-1)!.headers;
    expect(got['x-kept']).toBe('yes');
    for (const h of ['x-private-hop', 'keep-alive', 'proxy-authorization', 'te', 'cookie', 'x-amz-security-token', 'authorization']) expect(got[h]).toBeUndefined();
  });

  it('sends every forwarded request through the target\'s fetch: a SigV4-signing one signs them (bodies included)', async () => {
    const sign = signingFetch({ credentials: CALLER, region: REGION });
    const calls: string[] = [];
    const s = await start({
      fetch: async (input, init) => {
        calls.push(`${init?.method ?? 'GET'} ${input instanceof Request ? input.url : String(input)}`);
        return sign(input, init);
      },
    });
    await fetch(`${s.url}/api/v2/dags?limit=2&tags=a&tags=b`, { headers: AUTH });
    await fetch(`${s.url}/api/v2/dags/d/dagRuns`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: '{"note":"signed"}' });
    expect(calls).toStrictEqual([`GET ${upstream.endpoint}/api/v2/dags?limit=2&tags=a&tags=b`, `POST ${upstream.endpoint}/api/v2/dags/d/dagRuns`]);
    expect(received).toHaveLength(2);
    for (const r of received) {
      expect(r.headers['authorization']).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${CALLER.accessKeyId}/\\d{8}/${REGION}/lambda/aws4_request`));
      expect(await verifySigV4(r, { service: 'lambda', region: REGION, secretOf: (id) => (id === CALLER.accessKeyId ? CALLER.secretAccessKey : undefined) })).toStrictEqual({ ok: true, accessKeyId: CALLER.accessKeyId });
    }
    expect(Buffer.from(received[1]!.body).toString()).toBe('{"note":"signed"}');
  });

  it("sends the target's own bearer token, never the local one", async () => {
    const s = await start({ token: 'api-token-xyz' });
    await fetch(`${s.url}/api/v2/dags`, { headers: AUTH });
    expect(received.at(-1)!.headers['authorization']).toBe('Bearer api-token-xyz');
  });

  it('answers 502 naming the target when it does not answer, and says so on warn', async () => {
    const closed = await listenOnLoopback(async () => undefined);
    await new Promise<void>((resolve) => closed.server.close(() => resolve()));
    const lines: string[] = [];
    const s = await start({ baseUrl: closed.endpoint, description: 'stack gone (somewhere)' }, (l) => lines.push(l));
    const res = await fetch(`${s.url}/api/v2/dags`, { headers: AUTH });
    expect(res.status).toBe(502);
    expect(await res.json()).toStrictEqual({ detail: 'stack gone (somewhere) does not answer (ECONNREFUSED)', field: null });
    expect(lines).toStrictEqual(['airless ui: GET /api/v2/dags: stack gone (somewhere) does not answer (ECONNREFUSED)']);
  });

  it('forwards only /api/v2/* and /openapi.json, under the base URL\'s path', async () => {
    const s = await start();
    // A path that leaves /api/v2 once resolved is never forwarded (what answers is the UI's fallback).
    for (const p of ['/api/v2/%2e%2e/%2e%2e/secret', '/api/v2/../../secret']) {
      const res = await rawRequest(`${s.url}${p}`, AUTH);
      expect(res.body).not.toContain('secret');
    }
    const other = await fetch(`${s.url}/api/v1/dags`, { headers: AUTH });
    expect(other.status).toBe(404);
    expect(await other.json()).toStrictEqual({ detail: 'no route GET /api/v1/dags', field: null });
    expect(received).toStrictEqual([]);
    expect(forwardUrl('https://h.example/prefix/', '/api/v2/dags?x=1')?.href).toBe('https://h.example/prefix/api/v2/dags?x=1');
    expect(forwardUrl('https://h.example/prefix', '/api/v2/%2e%2e/%2e%2e/x')).toBeNull();
    expect(forwardUrl('https://h.example/prefix', 'http://elsewhere.example/api/v2/dags?x=1')?.href).toBe('https://h.example/prefix/api/v2/dags?x=1');
  });

  it('serves the built UI and falls back to its index.html for any other page', async () => {
    const s = await start();
    const index = await fetch(`${s.url}/`);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await index.text()).toBe(INDEX);
    expect(await (await fetch(`${s.url}/app.js`)).text()).toBe('console.log("ui");');
    const deep = await fetch(`${s.url}/dags/e2e_chain/grid?x=1`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(INDEX);
    expect(received).toStrictEqual([]);
  });

  it('does not start when the UI is not built or the port is taken', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'airless-ui-none-'));
    try {
      const e = await startUiServer({ target: { baseUrl: upstream.endpoint, description: 't' }, uiDir: empty, port: 0 }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(UiServerStartError);
      expect((e as Error).message).toContain('run `npm run build:ui`');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const port = Number(new URL(upstream.endpoint).port);
    const taken = await startUiServer({ target: { baseUrl: upstream.endpoint, description: 't' }, uiDir, port }).catch((err: unknown) => err);
    expect(taken).toBeInstanceOf(UiServerStartError);
    expect((taken as Error).message).toBe(`port ${port} of 127.0.0.1 is already in use (choose another with --port)`);
  });

  it('makes a new random token at each start unless given one', async () => {
    const a = await startUiServer({ target: { baseUrl: upstream.endpoint, description: 't' }, uiDir, port: 0 });
    const b = await startUiServer({ target: { baseUrl: upstream.endpoint, description: 't' }, uiDir, port: 0 });
    servers.push(a, b);
    expect(a.token).toMatch(/^[\w-]{43}$/);
    expect(a.token).not.toBe(b.token);
    expect((await fetch(`${a.url}/api/v2/dags`, { headers: { authorization: `Bearer ${b.token}` } })).status).toBe(401);
    expect((await fetch(`${a.url}/api/v2/dags`, { headers: { authorization: `Bearer ${a.token}` } })).status).toBe(200);
  });
});

describe('airless ui: the target of --endpoint', () => {
  const env = { AIRLESS_HOME: uiDir };

  it('signs for a Lambda Function URL or with --sigv4, else sends AIRLESS_API_TOKEN', async () => {
    const fn = await uiTarget({ endpoint: 'https://abc123.lambda-url.eu-west-1.on.aws/' }, env);
    expect(fn.target).toMatchObject({ baseUrl: 'https://abc123.lambda-url.eu-west-1.on.aws', description: '--endpoint https://abc123.lambda-url.eu-west-1.on.aws' });
    expect(fn.target.fetch).toBeTypeOf('function');
    expect(fn.target.token).toBeUndefined();
    const forced = await uiTarget({ endpoint: 'https://api.example.com/api/v2', sigv4: true }, env);
    expect(forced.target.baseUrl).toBe('https://api.example.com');
    expect(forced.target.fetch).toBeTypeOf('function');
    const bearer = await uiTarget({ endpoint: 'http://10.0.0.5:8080' }, { ...env, AIRLESS_API_TOKEN: 'api-token' });
    expect(bearer.target).toStrictEqual({ baseUrl: 'http://10.0.0.5:8080', description: '--endpoint http://10.0.0.5:8080', token: 'api-token' });
    const bare = await uiTarget({ endpoint: 'http://10.0.0.5:8080' }, env);
    expect(bare.target).toStrictEqual({ baseUrl: 'http://10.0.0.5:8080', description: '--endpoint http://10.0.0.5:8080' });
  });

  it('is a usage error without --stack or --endpoint, with both, or with an endpoint that is not a URL', async () => {
    await expect(uiTarget({}, env)).rejects.toThrow('airless ui needs the API to stand in front of: --stack NAME (a deployed stack) or --endpoint URL');
    await expect(uiTarget({ endpoint: 'http://x', stack: 's' }, env)).rejects.toThrow('give --endpoint or --stack, not both');
    await expect(uiTarget({ endpoint: 'nope' }, env)).rejects.toThrow("--endpoint must be a URL");
  });
});
