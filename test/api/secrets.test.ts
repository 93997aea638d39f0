import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.app.close();
});

describe('/api/v2/variables', () => {
  it('creates, lists, gets, patches and deletes; a sensitive key shows its value masked', async () => {
    expect(await h.call('POST', '/api/v2/variables', { key: 'region', value: 'eu-west-1', description: 'where' })).toEqual({
      status: 201,
      json: { key: 'region', value: 'eu-west-1', description: 'where', is_encrypted: false },
    });
    expect((await h.call('POST', '/api/v2/variables', { key: 'db_password', value: 'hunter2-long' })).json).toEqual({ key: 'db_password', value: '***', description: null, is_encrypted: false });
    expect(await h.call('GET', '/api/v2/variables')).toEqual({
      status: 200,
      json: {
        variables: [
          { key: 'db_password', value: '***', description: null, is_encrypted: false },
          { key: 'region', value: 'eu-west-1', description: 'where', is_encrypted: false },
        ],
        total_entries: 2,
      },
    });
    expect((await h.call('GET', '/api/v2/variables?variable_key_pattern=REG%25&limit=1')).json.variables.map((v: { key: string }) => v.key)).toEqual(['region']);
    // The masked value sent back keeps the stored one; a new value replaces it.
    await h.call('PATCH', '/api/v2/variables/db_password', { value: '***', description: 'the db' });
    expect((await h.backend.store.getVariable('db_password'))).toEqual({ key: 'db_password', value: 'hunter2-long', description: 'the db' });
    await h.call('PATCH', '/api/v2/variables/db_password', { value: 'rotated-secret' });
    expect((await h.backend.store.getVariable('db_password'))?.value).toBe('rotated-secret');
    expect((await h.call('GET', '/api/v2/variables/region')).json.value).toBe('eu-west-1');
    expect(await h.call('DELETE', '/api/v2/variables/region')).toEqual({ status: 204, json: null });
    expect(await h.call('GET', '/api/v2/variables/region')).toEqual({ status: 404, json: { detail: "variable 'region' not found", field: 'params.variable_key' } });
  });

  it('refuses a duplicate, a rename, an unknown field and a missing value, naming them', async () => {
    await h.call('POST', '/api/v2/variables', { key: 'dup', value: 'x' });
    expect(await h.call('POST', '/api/v2/variables', { key: 'dup', value: 'y' })).toEqual({ status: 409, json: { detail: "variable 'dup' exists already", field: 'body.key' } });
    expect((await h.call('PATCH', '/api/v2/variables/dup', { key: 'other' })).json).toEqual({ detail: "the body's key 'other' is not the path's 'dup' (a key cannot be renamed)", field: 'body.key' });
    expect((await h.call('POST', '/api/v2/variables', { key: 'k', value: 'v', vaule: 1 })).status).toBe(400);
    const missing = await h.call('POST', '/api/v2/variables', { key: 'k' });
    expect(missing.status).toBe(400);
    expect(missing.json.detail).toMatch(/value/);
    expect((await h.call('DELETE', '/api/v2/variables/never')).status).toBe(404);
  });
});

describe('/api/v2/connections', () => {
  const pg = { connection_id: 'warehouse', conn_type: 'postgres', host: 'db.internal', login: 'etl', password: 's3cr3t-pw', schema: 'dw', port: 5432, extra: '{"sslmode":"require","api_token":"tok-123456"}' };

  it('creates, lists, gets, patches and deletes; the password and sensitive extra fields are masked', async () => {
    const masked = { ...pg, description: null, password: '***', extra: '{"sslmode":"require","api_token":"***"}' };
    expect(await h.call('POST', '/api/v2/connections', pg)).toEqual({ status: 201, json: masked });
    expect(await h.call('POST', '/api/v2/connections', { connection_id: 'bare', conn_type: 'http' })).toEqual({
      status: 201,
      json: { connection_id: 'bare', conn_type: 'http', description: null, host: null, login: null, schema: null, port: null, password: null, extra: null },
    });
    expect((await h.call('GET', '/api/v2/connections')).json).toEqual({ connections: [(await h.call('GET', '/api/v2/connections/bare')).json, masked], total_entries: 2 });
    expect((await h.call('GET', '/api/v2/connections/warehouse')).json).toEqual(masked);
    // What a form sends back (masked password and extra) keeps the secrets; the port changes.
    expect((await h.call('PATCH', '/api/v2/connections/warehouse', { ...masked, port: 6432 })).json).toEqual({ ...masked, port: 6432 });
    expect(await h.backend.store.getConnection('warehouse')).toEqual({
      connectionId: 'warehouse',
      connType: 'postgres',
      host: 'db.internal',
      login: 'etl',
      password: 's3cr3t-pw',
      schema: 'dw',
      port: 6432,
      extra: pg.extra,
      description: null,
    });
    await h.call('PATCH', '/api/v2/connections/warehouse', { password: 'new-password', extra: null });
    expect(await h.backend.store.getConnection('warehouse')).toMatchObject({ password: 'new-password', extra: null });
    expect(await h.call('DELETE', '/api/v2/connections/warehouse')).toEqual({ status: 204, json: null });
    expect(await h.call('GET', '/api/v2/connections/warehouse')).toEqual({ status: 404, json: { detail: "connection 'warehouse' not found", field: 'params.connection_id' } });
  });

  it('refuses a bad id, a bad port, an extra that is not JSON and a duplicate', async () => {
    expect((await h.call('POST', '/api/v2/connections', { connection_id: 'has space', conn_type: 'http' })).status).toBe(400);
    expect((await h.call('POST', '/api/v2/connections', { connection_id: 'p', conn_type: 'http', port: 70000 })).status).toBe(400);
    expect(await h.call('POST', '/api/v2/connections', { connection_id: 'p', conn_type: 'http', extra: '{not json' })).toEqual({
      status: 400,
      json: { detail: 'extra must be JSON text (an object, as Airflow\'s), got "{not json"', field: 'body.extra' },
    });
    await h.call('POST', '/api/v2/connections', { connection_id: 'twice', conn_type: 'http' });
    expect(await h.call('POST', '/api/v2/connections', { connection_id: 'twice', conn_type: 'http' })).toEqual({ status: 409, json: { detail: "connection 'twice' exists already", field: 'body.connection_id' } });
  });
});
