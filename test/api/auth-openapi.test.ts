import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../../lib/api/app.ts';
import { apiDocument, generateApiTypes, OPENAPI_TYPES_FILE } from '../../lib/api/gen-types.ts';
import { harness, TOKEN, type Harness } from './harness.ts';

/** Every route of the API (the contract), with sample path values. */
const ROUTES: [method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string][] = [
  ['GET', '/api/v2/dags'],
  ['GET', '/api/v2/dags/{dag_id}'],
  ['PATCH', '/api/v2/dags/{dag_id}'],
  ['DELETE', '/api/v2/dags/{dag_id}'],
  ['GET', '/api/v2/dags/{dag_id}/tasks'],
  ['GET', '/api/v2/dags/{dag_id}/tasks/{task_id}'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns'],
  ['POST', '/api/v2/dags/{dag_id}/dagRuns'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}'],
  ['PATCH', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}'],
  ['PATCH', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}'],
  ['PATCH', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/pipelineContext'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/listMapped'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}'],
  ['GET', '/api/v2/dags/{dag_id}/dagVersions'],
  ['GET', '/api/v2/dags/{dag_id}/dagVersions/{version}'],
  ['GET', '/api/v2/dags/{dag_id}/dagVersions/{version}/source'],
  ['POST', '/api/v2/dags/{dag_id}/clearTaskInstances'],
  ['GET', '/api/v2/importErrors'],
  ['GET', '/api/v2/backfills'],
  ['POST', '/api/v2/backfills'],
  ['POST', '/api/v2/backfills/dry_run'],
  ['GET', '/api/v2/backfills/{backfill_id}'],
  ['GET', '/api/v2/pools'],
  ['POST', '/api/v2/pools'],
  ['GET', '/api/v2/pools/{pool_name}'],
  ['PATCH', '/api/v2/pools/{pool_name}'],
  ['DELETE', '/api/v2/pools/{pool_name}'],
  ['GET', '/api/v2/monitor/health'],
  ['GET', '/api/v2/variables'],
  ['POST', '/api/v2/variables'],
  ['GET', '/api/v2/variables/{variable_key}'],
  ['PATCH', '/api/v2/variables/{variable_key}'],
  ['DELETE', '/api/v2/variables/{variable_key}'],
  ['GET', '/api/v2/connections'],
  ['POST', '/api/v2/connections'],
  ['GET', '/api/v2/connections/{connection_id}'],
  ['PATCH', '/api/v2/connections/{connection_id}'],
  ['DELETE', '/api/v2/connections/{connection_id}'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/hitlDetails'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/hitlDetails'],
  ['PATCH', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/hitlDetails'],
  ['GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails'],
  ['PATCH', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails'],
];
const SAMPLE: Record<string, string> = { dag_id: 'api_flow', task_id: 'square', dag_run_id: 'r1', map_index: '0', try_number: '1', xcom_key: 'return_value', backfill_id: '1', version: '0123456789abcdef', pool_name: 'default_pool', variable_key: 'k', connection_id: 'c' };
const url = (path: string) => path.replace(/\{(\w+)\}/g, (_, name: string) => SAMPLE[name]!);

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.app.close();
});

describe('auth', () => {
  const guarded = [...ROUTES.filter(([, p]) => p !== '/api/v2/monitor/health'), ['GET', '/openapi.json'], ['GET', '/api/v2/openapi.json']] as const;

  it.each(guarded)('%s %s needs the token (401 without, or with a wrong one)', async (method, path) => {
    const body = method === 'POST' || method === 'PATCH' ? { payload: {} } : {};
    const without = await h.raw({ method, url: url(path), ...body });
    expect(without).toStrictEqual({ status: 401, json: { detail: 'missing Authorization header: send Authorization: Bearer <token>', field: null } });
    const wrong = await h.raw({ method, url: url(path), headers: { authorization: 'Bearer not-the-token' }, ...body });
    expect(wrong).toStrictEqual({ status: 401, json: { detail: 'invalid token in the Authorization header', field: null } });
    const malformed = await h.raw({ method, url: url(path), headers: { authorization: TOKEN }, ...body });
    expect(malformed.status).toBe(401);
  });

  it('answers health without a token', async () => {
    expect(await h.raw({ method: 'GET', url: '/api/v2/monitor/health' })).toStrictEqual({ status: 200, json: { status: 'healthy' } });
  });

  it('checks nothing in iam mode (AWS verified the signature)', async () => {
    const app = await createApiApp({ backend: h.backend, auth: { mode: 'iam' } });
    const r = await app.inject({ method: 'GET', url: '/api/v2/dags' });
    expect(r.statusCode).toBe(200);
    await app.close();
  });

  it('answers unknown API paths with JSON 404', async () => {
    expect(await h.call('GET', '/api/v2/nope')).toStrictEqual({ status: 404, json: { detail: 'no route GET /api/v2/nope', field: null } });
  });
});

describe('OpenAPI document', () => {
  it('is served at /openapi.json and /api/v2/openapi.json, OpenAPI 3.1, with every route', async () => {
    const a = await h.call('GET', '/openapi.json');
    const b = await h.call('GET', '/api/v2/openapi.json');
    expect(a.status).toBe(200);
    expect(b.json).toStrictEqual(a.json);
    expect(a.json.openapi).toBe('3.1.0');
    const served = Object.entries(a.json.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(served.sort()).toEqual(ROUTES.map(([m, p]) => `${m} ${p}`).sort());
    expect(Object.keys(a.json.components.schemas).sort()).toEqual(['Backfill', 'Connection', 'DAG', 'DAGDetail', 'DAGRun', 'DagVersion', 'DagVersionDetail', 'HITLDetail', 'HTTPError', 'Pool', 'Task', 'TaskError', 'TaskInstance', 'TaskInstanceDetail', 'Variable', 'XComEntry']);
    expect(a.json.paths['/api/v2/monitor/health'].get.security).toEqual([]);
    expect(a.json.security).toEqual([{ bearer: [] }]);
  });

  it('is the source of the committed client types (npm run gen:api)', async () => {
    const generated = await generateApiTypes(await apiDocument());
    expect(readFileSync(OPENAPI_TYPES_FILE, 'utf8'), 'lib/api/openapi-types.ts is stale: run npm run gen:api').toBe(generated);
  });
});
