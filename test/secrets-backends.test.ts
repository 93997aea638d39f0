// The secrets backends with the real SDK clients and Powertools Parameters, against the e2e harness's
// local SSM / Secrets Manager endpoint (AWS_ENDPOINT_URL_<SERVICE>, as everywhere in airless).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalSecretsApi } from '../e2e/secrets-api.ts';
import { secretsBackend, secretsBackendFromEnv } from '../lib/secrets/backends.ts';
import { connectionsApi, SecretLookup, variablesApi } from '../lib/secrets/lookup.ts';
import { SecretsMasker } from '../lib/secrets/masker.ts';

const api = new LocalSecretsApi();
let env: Record<string, string>;
beforeAll(async () => {
  const endpoint = await api.listen();
  // Credentials as the SDK reads them (the endpoint checks no signature).
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'k');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 's');
  env = { AWS_ENDPOINT_URL_SSM: endpoint, AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' };
  api.putParameter('/airless/variables/region', 'eu-west-1', 'String');
  api.putParameter('/airless/variables/vendor_key', 'vk-ssm-secret');
  api.putParameter('/airless/connections/db', 'postgres://etl:ssm-db-pw@db.internal:5432/dw');
  api.putSecret('airless/variables/region', 'sm-region');
  api.putSecret('airless/connections/api', '{"conn_type":"http","host":"api.example.com","password":"sm-api-pw"}');
  api.putSecret('team/conns/db', 'mysql://u:team-pw@h/db');
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await api.close();
});

describe('SSM Parameter Store backend', () => {
  it('reads variables and connections under the default prefixes, decrypting SecureStrings; a missing name is undefined', async () => {
    const b = secretsBackend({ backend: 'ssm' }, env);
    expect(await b.getVariable('region')).toBe('eu-west-1');
    expect(await b.getVariable('vendor_key')).toBe('vk-ssm-secret');
    expect(await b.getConnection('db')).toBe('postgres://etl:ssm-db-pw@db.internal:5432/dw');
    expect(await b.getVariable('nope')).toBeUndefined();
    expect(b.describeVariable('nope')).toBe('SSM parameter /airless/variables/nope');
  });

  it('caches values and misses for maxAge: a second read asks nothing', async () => {
    const b = secretsBackend({ backend: 'ssm', maxAge: 300 }, env);
    const before = api.calls.length;
    await b.getVariable('region');
    await b.getVariable('missing_one');
    await b.getVariable('region');
    await b.getVariable('missing_one');
    expect(api.calls.slice(before)).toStrictEqual([
      { operation: 'AmazonSSM.GetParameter', names: ['/airless/variables/region'] },
      { operation: 'AmazonSSM.GetParameter', names: ['/airless/variables/missing_one'] },
    ]);
  });

  it('fails with the error of a call that is not a "not found", naming the parameter', async () => {
    const b = secretsBackend({ backend: 'ssm' }, { ...env, AWS_ENDPOINT_URL_SSM: 'http://127.0.0.1:1' });
    await expect(b.getVariable('region')).rejects.toThrow(/^reading SSM parameter \/airless\/variables\/region failed: /);
  });
});

describe('Secrets Manager backend', () => {
  it('reads under its prefixes (its own, or configured ones)', async () => {
    const b = secretsBackend({ backend: 'secretsmanager' }, env);
    expect(await b.getVariable('region')).toBe('sm-region');
    expect(await b.getConnection('api')).toBe('{"conn_type":"http","host":"api.example.com","password":"sm-api-pw"}');
    expect(await b.getConnection('nope')).toBeUndefined();
    const team = secretsBackend({ backend: 'secretsmanager', connectionsPrefix: 'team/conns/' }, env);
    expect(await team.getConnection('db')).toBe('mysql://u:team-pw@h/db');
  });

  it('is configured by the environment, as the CDK construct sets it on the task functions', async () => {
    expect(secretsBackendFromEnv({})).toBeUndefined();
    expect(() => secretsBackendFromEnv({ AIRLESS_SECRETS_BACKEND: 'vault' })).toThrow("AIRLESS_SECRETS_BACKEND must be 'ssm' or 'secretsmanager', got 'vault'");
    const b = secretsBackendFromEnv({ ...env, AIRLESS_SECRETS_BACKEND: 'secretsmanager', AIRLESS_SECRETS_CONNECTIONS_PREFIX: 'team/conns/' })!;
    const masker = new SecretsMasker();
    const lookup = new SecretLookup({ env: {}, backend: b, masker });
    const c = await connectionsApi(lookup).get('db');
    expect([c.connType, c.host, c.login, c.password]).toStrictEqual(['mysql', 'h', 'u', 'team-pw']);
    expect(await variablesApi(lookup).get('region')).toBe('sm-region');
    // Anything read from the backend is masked.
    expect(masker.redact('team-pw sm-region')).toBe('*** ***');
  });
});
