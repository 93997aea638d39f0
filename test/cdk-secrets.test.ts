// The secrets backend of a stack: the task functions (and only they) get its configuration and read
// access to its two prefixes, nothing wider.
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { Airless } from '../cdk/airless.ts';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** The statements of the policies of a function's role. */
function statementsOf(template: Template, stack: Stack, airless: Airless, fn: keyof Airless['functions']): Statement[] {
  const roleRef = JSON.stringify(stack.resolve(airless.functions[fn].role!.roleName));
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => {
    const props = (p as { Properties: { Roles?: unknown[]; PolicyDocument: { Statement: Statement[] } } }).Properties;
    return (props.Roles ?? []).some((r) => JSON.stringify(r) === roleRef) ? props.PolicyDocument.Statement : [];
  });
}

/** A resource as text: `Fn::Join` joined, the partition as `aws`. */
function arnText(r: unknown): string {
  if (typeof r === 'string') return r;
  const join = (r as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map((x) => (typeof x === 'string' ? x : JSON.stringify(x) === '{"Ref":"AWS::Partition"}' ? 'aws' : JSON.stringify(x))).join(join[0]);
  return JSON.stringify(r);
}

const secretActions = (s: Statement[]) => s.filter((x) => [x.Action].flat().some((a) => a.startsWith('ssm:') || a.startsWith('secretsmanager:') || a.startsWith('kms:')));

function envOf(template: Template, stack: Stack, airless: Airless, fn: keyof Airless['functions']): Record<string, unknown> {
  const id = stack.getLogicalId(airless.functions[fn].node.defaultChild as never);
  return (template.toJSON().Resources[id].Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
}

describe('Airless secrets: SSM Parameter Store', () => {
  let stack: Stack;
  let airless: Airless;
  let template: Template;
  let key: kms.Key;
  beforeAll(() => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    stack = new Stack(app, 'WithSsm', { env: { account: '111122223333', region: 'eu-west-1' } });
    key = new kms.Key(stack, 'ParamKey');
    airless = new Airless(stack, 'Pipelines', { dagsFolder: 'test/fixtures/cdk', secrets: { backend: 'ssm', maxAge: Duration.minutes(2), encryptionKeys: [key] } });
    template = Template.fromStack(stack);
  }, 120_000);

  it('lets the task runner and the sensor poke read the two prefixes, and nothing else', () => {
    for (const fn of ['taskRunner', 'sensorPoke'] as const) {
      const s = secretActions(statementsOf(template, stack, airless, fn));
      const ssm = s.filter((x) => [x.Action].flat().some((a) => a.startsWith('ssm:')));
      expect(ssm.flatMap((x) => [x.Action].flat()).sort()).toStrictEqual(['ssm:GetParameter', 'ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParameters', 'ssm:GetParametersByPath', 'ssm:GetParametersByPath']);
      expect(ssm.flatMap((x) => [x.Resource].flat()).map(arnText).sort()).toStrictEqual([
        'arn:aws:ssm:eu-west-1:111122223333:parameter/airless/connections',
        'arn:aws:ssm:eu-west-1:111122223333:parameter/airless/connections/*',
        'arn:aws:ssm:eu-west-1:111122223333:parameter/airless/variables',
        'arn:aws:ssm:eu-west-1:111122223333:parameter/airless/variables/*',
      ]);
      const decrypt = s.filter((x) => [x.Action].flat().includes('kms:Decrypt'));
      expect(decrypt.flatMap((x) => [x.Resource].flat())).toStrictEqual([stack.resolve(key.keyArn)]);
      expect(envOf(template, stack, airless, fn)).toMatchObject({
        AIRLESS_SECRETS_BACKEND: 'ssm',
        AIRLESS_SECRETS_VARIABLES_PREFIX: '/airless/variables/',
        AIRLESS_SECRETS_CONNECTIONS_PREFIX: '/airless/connections/',
        AIRLESS_SECRETS_MAX_AGE: '120',
      });
    }
    for (const fn of ['scheduler', 'trigger', 'describeJobs', 'api'] as const) {
      expect(secretActions(statementsOf(template, stack, airless, fn)), fn).toStrictEqual([]);
      expect(envOf(template, stack, airless, fn)).not.toHaveProperty('AIRLESS_SECRETS_BACKEND');
    }
  });
});

describe('Airless secrets: Secrets Manager, own prefixes', () => {
  it('grants GetSecretValue on the prefixes (the random suffix included) only', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'WithSm', { env: { account: '111122223333', region: 'eu-west-1' } });
    const airless = new Airless(stack, 'Pipelines', { dagsFolder: 'test/fixtures/cdk', secrets: { backend: 'secretsmanager', variablesPrefix: 'team-a/vars/', connectionsPrefix: 'team-a/conns/' } });
    const template = Template.fromStack(stack);
    const s = secretActions(statementsOf(template, stack, airless, 'taskRunner'));
    expect(s.map((x) => [[x.Action].flat(), [x.Resource].flat().map(arnText)])).toStrictEqual([
      [['secretsmanager:GetSecretValue'], ['arn:aws:secretsmanager:eu-west-1:111122223333:secret:team-a/vars/*']],
      [['secretsmanager:GetSecretValue'], ['arn:aws:secretsmanager:eu-west-1:111122223333:secret:team-a/conns/*']],
    ]);
    expect(envOf(template, stack, airless, 'taskRunner')).toMatchObject({ AIRLESS_SECRETS_BACKEND: 'secretsmanager', AIRLESS_SECRETS_VARIABLES_PREFIX: 'team-a/vars/', AIRLESS_SECRETS_MAX_AGE: '30' });
  }, 120_000);

  it('refuses a prefix that would open every secret', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Open');
    expect(() => new Airless(stack, 'P', { dagsFolder: 'test/fixtures/cdk', secrets: { backend: 'ssm', variablesPrefix: '/' } })).toThrow(
      "Airless secrets: variablesPrefix must not be empty or '/' (it scopes the tasks' read access), got '/'",
    );
    expect(() => new Airless(new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Star'), 'P', { dagsFolder: 'test/fixtures/cdk', secrets: { backend: 'secretsmanager', connectionsPrefix: 'x/*' } })).toThrow(
      "Airless secrets: connectionsPrefix must not hold '*', '?' or spaces, got 'x/*'",
    );
  }, 120_000);
});
