import { describe, expect, it } from 'vitest';
import type { SecretsBackend } from '../lib/secrets/backends.ts';
import { ConnectionNotFoundError, InvalidSecretError, VariableNotFoundError } from '../lib/secrets/errors.ts';
import { connectionsApi, SecretLookup, variablesApi } from '../lib/secrets/lookup.ts';
import { isSensitiveKey, maskConsole, SecretsMasker } from '../lib/secrets/masker.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';

/** A backend over a map (what the SSM and Secrets Manager backends do, minus the service). */
function mapBackend(variables: Record<string, string>, connections: Record<string, string>): SecretsBackend & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    describeVariable: (k) => `map variable ${k}`,
    describeConnection: (c) => `map connection ${c}`,
    getVariable: async (k) => (reads.push(`var:${k}`), variables[k]),
    getConnection: async (c) => (reads.push(`conn:${c}`), connections[c]),
  };
}

describe('source order: environment, then the secrets backend, then the store', () => {
  async function setup() {
    const store = new MemoryStateStore();
    await store.putVariable({ key: 'region', value: 'store-region', description: null });
    await store.putVariable({ key: 'only_store', value: 'from-store', description: null });
    await store.putVariable({ key: 'cfg', value: '{"a":[1,2]}', description: null });
    await store.putConnection({ connectionId: 'db', connType: 'postgres', host: 'store-host', login: 'u', password: 'store-password', schema: 'd', port: 5432, extra: null, description: null });
    const backend = mapBackend({ region: 'backend-region', only_backend: 'b-value' }, { db: 'postgres://u:backend-password@backend-host/d' });
    const env = { AIRLESS_VAR_REGION: 'env-region', AIRLESS_CONN_API: 'http://user:env-password@api.example.com:8443?timeout=5' };
    const masker = new SecretsMasker();
    const lookup = new SecretLookup({ env, backend, store, masker });
    return { store, backend, masker, lookup, variables: variablesApi(lookup), connections: connectionsApi(lookup) };
  }

  it('reads a variable from the first place that has it', async () => {
    const { variables, backend } = await setup();
    expect(await variables.get('region')).toBe('env-region');
    expect(backend.reads).toStrictEqual([]);
    expect(await variables.get('only_backend')).toBe('b-value');
    expect(await variables.get('only_store')).toBe('from-store');
    expect(await variables.get('cfg', { json: true })).toStrictEqual({ a: [1, 2] });
    expect(await variables.get('absent', { default: null })).toBeNull();
    expect(await variables.get('absent', { json: true, default: { x: 1 } })).toStrictEqual({ x: 1 });
  });

  it('a missing variable or connection names where it looked', async () => {
    const { variables, connections } = await setup();
    const e = await variables.get('nope').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VariableNotFoundError);
    expect((e as Error).message).toBe("variable 'nope' not found (looked in environment variable AIRLESS_VAR_NOPE, then map variable nope, then the airless store)");
    await expect(connections.get('nope')).rejects.toThrow(
      new ConnectionNotFoundError('nope', ['environment variable AIRLESS_CONN_NOPE', 'map connection nope', 'the airless store']),
    );
    await expect(variables.get('only_store', { json: true })).rejects.toThrow(InvalidSecretError);
    await expect(variables.get('only_store', { json: true })).rejects.toThrow(/^variable 'only_store' from the airless store is not JSON/);
  });

  it('reads a connection from the environment (URI or JSON), the backend, then the store', async () => {
    const { connections, store, masker } = await setup();
    const api = await connections.get('api');
    expect([api.connType, api.host, api.port, api.login, api.password, api.extra]).toStrictEqual(['http', 'api.example.com', 8443, 'user', 'env-password', { timeout: '5' }]);
    const db = await connections.get('db');
    expect([db.host, db.password]).toStrictEqual(['backend-host', 'backend-password']);
    const only = new SecretLookup({ env: { AIRLESS_CONN_DB: '{"conn_type":"mysql","host":"json-host","password":"json-password"}' }, store, masker });
    expect((await connectionsApi(only).get('db')).host).toBe('json-host');
    const storeOnly = new SecretLookup({ env: {}, store, masker });
    expect((await connectionsApi(storeOnly).get('db')).getUri()).toBe('postgres://u:store-password@store-host:5432/d');
  });

  it('registers secrets with the masker: passwords, sensitive variables, anything from the backend', async () => {
    const { variables, connections, store, masker } = await setup();
    await store.putVariable({ key: 'service_api_key', value: 'k-123456', description: null });
    await store.putVariable({ key: 'plain', value: 'not-a-secret', description: null });
    await variables.get('service_api_key');
    await variables.get('plain');
    await variables.get('only_backend');
    await connections.get('api');
    expect(masker.redact('key k-123456, plain not-a-secret, backend b-value, pw env-password')).toBe('key ***, plain not-a-secret, backend ***, pw ***');
  });
});

describe('the secrets masker', () => {
  it('masks registered values, longest first, and skips short ones', () => {
    const m = new SecretsMasker();
    m.add('abcd');
    m.add('s3cr3t');
    m.add('s3cr3t-longer');
    m.add({ nested: ['p@ss word'] });
    expect(m.redact('abcd s3cr3t-longer s3cr3t p@ss word p%40ss%20word')).toBe('abcd *** *** *** ***');
    expect(m.redact('nothing here')).toBe('nothing here');
  });

  it('masks regular-expression characters literally', () => {
    const m = new SecretsMasker();
    m.add('a.b*c(d)');
    expect(m.redact('a.b*c(d) aXb*c(d)')).toBe('*** aXb*c(d)');
    // As a connection URI writes it (Airflow's quote: ! ' ( ) * encoded too).
    m.add("it's!(x)");
    expect(m.redact("postgres://u:it%27s%21%28x%29@h it's!(x)")).toBe('postgres://u:***@h ***');
  });

  it("knows Airflow's sensitive key names", () => {
    for (const k of ['db_password', 'MY_SECRET', 'passwd', 'Authorization', 'api_key', 'apikey', 'access_token', 'token', 'private_key']) expect(isSensitiveKey(k), k).toBe(true);
    for (const k of ['region', 'db_host', 'username']) expect(isSensitiveKey(k), k).toBe(false);
  });

  it('masks sensitive fields of an object (a connection extra)', () => {
    const m = new SecretsMasker();
    m.addSensitiveFields({ region: 'eu-west-1', aws_secret_access_key: 'AKIAxyz987', nested: { token: 'tok-123456' } });
    expect(m.redact('eu-west-1 AKIAxyz987 tok-123456')).toBe('eu-west-1 *** ***');
  });
});

describe('maskConsole (a deployed function\'s console, which goes to CloudWatch Logs)', () => {
  it('redacts strings and the JSON of objects once a secret is known; passes everything through before', () => {
    const written: unknown[][] = [];
    const fake = { log: (...a: unknown[]) => written.push(['log', ...a]), info: () => {}, debug: () => {}, warn: () => {}, error: (...a: unknown[]) => written.push(['error', ...a]) } as unknown as Console;
    const m = new SecretsMasker();
    maskConsole(fake, m);
    maskConsole(fake, m);
    const obj = { password: 'pw-console-1' };
    fake.log('before', obj);
    m.add('pw-console-1');
    fake.log('connecting with pw-console-1', obj, 42);
    fake.error(new Error('auth failed for pw-console-1'));
    expect(written[0]).toStrictEqual(['log', 'before', obj]);
    expect(written[1]).toStrictEqual(['log', 'connecting with ***', '{"password":"***"}', 42]);
    expect(written[2]![0]).toBe('error');
    expect(written[2]![1]).toMatch(/^Error: auth failed for \*\*\*\n {4}at /);
  });
});
