// IAM for the DAGs' notifiers: the construct reads the notifier targets from the DAG specs and grants the
// functions that run scheduler steps sns:Publish on those topics and ses:SendEmail from those identities,
// and nothing of either when no DAG notifies.
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { Airless } from 'airless/cdk';

type Statement = { Action: string | string[]; Resource: unknown };

/** The statements of each role's inline policies, by the role's logical id. */
function statementsByRole(template: Template): Map<string, Statement[]> {
  const out = new Map<string, Statement[]>();
  for (const p of Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } } }[]) {
    for (const r of p.Properties.Roles) out.set(r.Ref, [...(out.get(r.Ref) ?? []), ...p.Properties.PolicyDocument.Statement]);
  }
  return out;
}

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:pipeline-alerts';

describe('IAM for notifiers', () => {
  let template: Template;
  let airless: Airless;
  let plain: Template;

  beforeAll(() => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Notify', { env: { account: '123456789012', region: 'eu-west-1' } });
    airless = new Airless(stack, 'Pipelines', { dagsFolder: 'test/fixtures/cdk-notify', batch: { mode: 'existing' } });
    template = Template.fromStack(stack);
    const other = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Quiet');
    new Airless(other, 'Pipelines', { dagsFolder: 'test/fixtures/cdk', batch: { mode: 'existing' } });
    plain = Template.fromStack(other);
  }, 180_000);

  it("puts the notifiers' targets in the spec", () => {
    expect(airless.dags[0]!.notifierTargets).toStrictEqual([
      { kind: 'sns', topicArn: TOPIC },
      { kind: 'ses', from: 'ops@example.org' },
    ]);
  });

  it('grants sns:Publish on the topic and ses:SendEmail from the identity to every function that runs scheduler steps, and nothing wider', () => {
    const stack = Stack.of(airless);
    const byRole = statementsByRole(template);
    for (const [name, fn] of Object.entries(airless.functions)) {
      const role = stack.getLogicalId(fn.role!.node.defaultChild as never);
      const own = byRole.get(role) ?? [];
      const publish = own.filter((s) => [s.Action].flat().includes('sns:Publish'));
      const send = own.filter((s) => [s.Action].flat().includes('ses:SendEmail'));
      expect(publish, name).toStrictEqual([{ Action: 'sns:Publish', Effect: 'Allow', Resource: TOPIC }]);
      expect(send, name).toStrictEqual([
        { Action: 'ses:SendEmail', Effect: 'Allow', Resource: ['example.org', 'ops@example.org'].map((id) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ses:eu-west-1:123456789012:identity/${id}`]] })) },
      ]);
    }
    // No other role (the state machines', the schedules') gets either.
    const granted = [...byRole.entries()].filter(([, ss]) => ss.some((s) => [s.Action].flat().some((a) => a.startsWith('sns:') || a.startsWith('ses:')))).map(([r]) => r);
    expect(granted).toHaveLength(Object.keys(airless.functions).length);
  });

  it('grants neither when no DAG notifies', () => {
    const all = [...statementsByRole(plain).values()].flat();
    expect(all.filter((s) => [s.Action].flat().some((a) => a.startsWith('sns:') || a.startsWith('ses:')))).toStrictEqual([]);
  });
});
