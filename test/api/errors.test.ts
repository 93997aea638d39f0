import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiApp } from '../../lib/api/app.ts';
import { harness, TOKEN, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.app.close();
});

describe('unexpected errors', () => {
  it('answer 500 with a generic message, and are logged with their stack, never sent', async () => {
    const app = await createApiApp({
      backend: { ...h.backend, withScheduler: () => Promise.reject(new Error('store unreachable: secret-host:1234')) },
      auth: { mode: 'token', token: TOKEN },
    });
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const r = await app.inject({ method: 'PATCH', url: '/api/v2/dags/api_flow', headers: { authorization: `Bearer ${TOKEN}` }, payload: { is_paused: true } });
      expect(r.statusCode).toBe(500);
      expect(r.json()).toStrictEqual({ detail: 'internal server error (the server logged it)', field: null });
      expect(r.body).not.toContain('secret-host');
    } finally {
      spy.mockRestore();
      await app.close();
    }
    expect(written.join('')).toContain('PATCH /api/v2/dags/api_flow failed: Error: store unreachable: secret-host:1234\n    at ');
  });
});

describe('request bodies', () => {
  it('are JSON objects: anything else is refused naming the body', async () => {
    const r = await h.raw({ method: 'POST', url: '/api/v2/dags/api_flow/dagRuns', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' }, payload: 'n=3' });
    expect(r).toStrictEqual({ status: 400, json: { detail: 'body must be object', field: 'body' } });
    const xml = await h.raw({ method: 'POST', url: '/api/v2/dags/api_flow/dagRuns', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/xml' }, payload: '<conf/>' });
    expect(xml.status).toBe(415);
    expect(xml.json.field).toBe('body');
  });

  it('are not coerced: a number is not a string, a string is not a boolean', async () => {
    expect((await h.call('POST', '/api/v2/dags/api_flow/clearTaskInstances', { dag_run_id: 12 })).json).toStrictEqual({ detail: 'body.dag_run_id must be string', field: 'body.dag_run_id' });
    expect((await h.call('POST', '/api/v2/dags/api_flow/clearTaskInstances', { dag_run_id: 'r', only_failed: 'true' })).json.field).toBe('body.only_failed');
  });
});
