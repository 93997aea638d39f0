// Pools through the deployed API function (functions/api.ts on the DynamoDB store, behind a local
// Function URL checking SigV4), as `airless pools ... --stack` reaches them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalFunctionUrl } from '../../e2e/function-url.ts';
import { unwrap, type ApiClient } from '../../lib/api/client.ts';
import { startDeployedApi } from './deployed-api.ts';
import { useHarness } from './use-harness.ts';

useHarness();

const REGION = 'eu-west-1';
const CALLER = { accessKeyId: 'AKIDPOOLSE2E', secretAccessKey: 'pools-e2e-secret' };

describe('pools through the deployed API function, on the local cloud', () => {
  let url: LocalFunctionUrl;
  let api: ApiClient;

  beforeAll(async () => {
    ({ url, api } = await startDeployedApi(CALLER, REGION));
  });
  afterAll(async () => {
    await url?.close();
  });

  it('creates, changes, lists and deletes a pool in the stack table', async () => {
    const created = await api.POST('/api/v2/pools', { body: { name: 'e2e_throttle', slots: 3, description: 'deployed' } });
    expect(created.response.status).toBe(201);
    expect(created.data).toStrictEqual({ name: 'e2e_throttle', slots: 3, description: 'deployed', include_deferred: false, occupied_slots: 0, running_slots: 0, queued_slots: 0, deferred_slots: 0, open_slots: 3 });
    expect(unwrap(await api.PATCH('/api/v2/pools/{pool_name}', { params: { path: { pool_name: 'e2e_throttle' } }, body: { slots: 1 } }))).toMatchObject({ slots: 1, description: 'deployed', open_slots: 1 });
    const list = unwrap(await api.GET('/api/v2/pools'));
    expect(list.pools.map((p) => [p.name, p.slots])).toEqual(expect.arrayContaining([['default_pool', 128], ['e2e_throttle', 1]]));
    expect(list.pools[0]!.name).toBe('default_pool');
    const del = await api.DELETE('/api/v2/pools/{pool_name}', { params: { path: { pool_name: 'e2e_throttle' } } });
    expect(del.response.status).toBe(204);
    expect((await api.GET('/api/v2/pools/{pool_name}', { params: { path: { pool_name: 'e2e_throttle' } } })).response.status).toBe(404);
    const def = await api.DELETE('/api/v2/pools/{pool_name}', { params: { path: { pool_name: 'default_pool' } } });
    expect(def.response.status).toBe(400);
  });
});
