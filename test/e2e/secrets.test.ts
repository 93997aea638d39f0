// Variables and connections in the deployed shape: the task runner function (configured as the CDK
// construct configures it: AIRLESS_SECRETS_BACKEND and its prefixes) reads a connection and a variable
// from SSM Parameter Store (the local endpoint, through the real SDK client and Powertools), another
// variable from the table (DynamoDB), and its log line shows the password as ***.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalSecretsApi } from '../../e2e/secrets-api.ts';
import { useHarness } from './use-harness.ts';

const ssm = new LocalSecretsApi();
beforeAll(async () => {
  const endpoint = await ssm.listen();
  vi.stubEnv('AWS_ENDPOINT_URL_SSM', endpoint);
  vi.stubEnv('AIRLESS_SECRETS_BACKEND', 'ssm');
  vi.stubEnv('AIRLESS_SECRETS_MAX_AGE', '600');
  if (!process.env.AWS_ACCESS_KEY_ID) {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'e2e');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'e2e');
  }
  ssm.putParameter('/airless/connections/e2e_warehouse', 'postgres://etl:e2e-Secret-pw!@db.internal:5432/dw?sslmode=require');
  ssm.putParameter('/airless/variables/e2e_region', 'ap-southeast-2', 'String');
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await ssm.close();
});

const h = useHarness();

describe('e2e_secrets: a deployed task reads the secrets backend and the table; its log masks the password', () => {
  it('reads the connection and a variable from SSM, a variable from the table, and logs the password as ***', async () => {
    await h().store.putVariable({ key: 'e2e_batch', value: '{"size": 250}', description: null });
    const run = await h().run({ dagId: 'e2e_secrets', runId: 'e2e__secrets' });
    expect(run.state).toBe('success');
    const key = { dagId: 'e2e_secrets', runId: 'e2e__secrets', taskId: 'connect', mapIndex: -1 };
    expect((await h().store.getXCom(run, 'connect', -1, 'return_value'))?.value).toStrictEqual({ host: 'db.internal', schema: 'dw', port: 5432, region: 'ap-southeast-2', size: 250 });
    const log = (await h().store.getLog(key, 1)).map((l) => l.message);
    // The password (as the URI encodes it, too) and the variable read from the backend are masked.
    expect(log).toStrictEqual(['starting try 1 of 1', 'connecting to postgres://etl:***@db.internal:5432/dw?sslmode=require as etl with password *** in ***', 'done: success']);
    expect(JSON.stringify(log)).not.toContain('e2e-Secret-pw');
    // What the task runner asked SSM: each name once, by GetParameter, decrypted.
    expect(ssm.calls).toStrictEqual([
      { operation: 'AmazonSSM.GetParameter', names: ['/airless/connections/e2e_warehouse'] },
      { operation: 'AmazonSSM.GetParameter', names: ['/airless/variables/e2e_region'] },
      { operation: 'AmazonSSM.GetParameter', names: ['/airless/variables/e2e_batch'] },
    ]);
  });
});
