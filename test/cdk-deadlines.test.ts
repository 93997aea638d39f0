// Deployed deadline alerts' infrastructure: when some DAG declares a deadline, the construct makes a schedule
// group, a role EventBridge Scheduler assumes to invoke the scheduler function (and nothing else), and lets
// the functions that run scheduler steps create and delete schedules in that group and pass that role to
// Scheduler only; their environment names the group, the role and the target. Nothing of it otherwise.
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { Airless } from 'airless/cdk';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string };

function statementsByRole(template: Template): Map<string, Statement[]> {
  const out = new Map<string, Statement[]>();
  for (const p of Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } } }[]) {
    for (const r of p.Properties.Roles) out.set(r.Ref, [...(out.get(r.Ref) ?? []), ...p.Properties.PolicyDocument.Statement]);
  }
  return out;
}

const ENV = { account: '123456789012', region: 'eu-west-1' };

describe('deadline schedules in the construct', () => {
  let template: Template;
  let airless: Airless;
  let plain: Template;
  let stack: Stack;

  beforeAll(() => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    stack = new Stack(app, 'Deadlines', { env: ENV });
    airless = new Airless(stack, 'Pipelines', { dagsFolder: 'test/fixtures/cdk-notify', batch: { mode: 'existing' } });
    template = Template.fromStack(stack);
    const other = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Quiet', { env: ENV });
    new Airless(other, 'Pipelines', { dagsFolder: 'test/fixtures/cdk', batch: { mode: 'existing' } });
    plain = Template.fromStack(other);
  }, 180_000);

  it('makes the schedule group and a role Scheduler assumes, allowed to invoke the scheduler function only', () => {
    const group = airless.deadlineSchedules!.group;
    expect(group.name).toBe(`${airless.naming.prefix}-deadlines`);
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: `${airless.naming.prefix}-deadlines` });
    const roleId = stack.getLogicalId(airless.deadlineSchedules!.role.node.defaultChild as never);
    const role = template.findResources('AWS::IAM::Role')[roleId] as { Properties: { AssumeRolePolicyDocument: { Statement: unknown[] } } };
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toStrictEqual([
      { Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } }, Effect: 'Allow', Principal: { Service: 'scheduler.amazonaws.com' } },
    ]);
    const schedulerFn = stack.getLogicalId(airless.functions.scheduler.node.defaultChild as never);
    expect(statementsByRole(template).get(roleId)).toStrictEqual([{ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [schedulerFn, 'Arn'] } }]);
  });

  it('lets every function that runs scheduler steps create and delete schedules in the group and pass the role to Scheduler, and no other role', () => {
    const byRole = statementsByRole(template);
    const roleId = stack.getLogicalId(airless.deadlineSchedules!.role.node.defaultChild as never);
    const schedules = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:scheduler:eu-west-1:123456789012:schedule/${airless.naming.prefix}-deadlines/*`]] };
    const fnRoles: string[] = [];
    for (const [name, fn] of Object.entries(airless.functions)) {
      const role = stack.getLogicalId(fn.role!.node.defaultChild as never);
      fnRoles.push(role);
      const own = byRole.get(role) ?? [];
      expect(own.filter((s) => [s.Action].flat().some((a) => a.startsWith('scheduler:'))), name).toStrictEqual([
        { Action: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'], Effect: 'Allow', Resource: schedules },
      ]);
      expect(own.filter((s) => [s.Action].flat().includes('iam:PassRole')), name).toStrictEqual([
        { Action: 'iam:PassRole', Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } }, Effect: 'Allow', Resource: { 'Fn::GetAtt': [roleId, 'Arn'] } },
      ]);
    }
    const others = [...byRole.entries()].filter(([r, ss]) => !fnRoles.includes(r) && ss.some((s) => [s.Action].flat().some((a) => a.startsWith('scheduler:') || a === 'iam:PassRole')));
    expect(others).toStrictEqual([]);
  });

  it("names the group, the role and the target in the functions' environment (the scheduler function finds itself by its name)", () => {
    const roleId = stack.getLogicalId(airless.deadlineSchedules!.role.node.defaultChild as never);
    const schedulerFn = stack.getLogicalId(airless.functions.scheduler.node.defaultChild as never);
    const fns = template.findResources('AWS::Lambda::Function') as Record<string, { Properties: { Environment: { Variables: Record<string, unknown> } } }>;
    for (const [name, fn] of Object.entries(airless.functions)) {
      const vars = fns[stack.getLogicalId(fn.node.defaultChild as never)]!.Properties.Environment.Variables;
      expect(vars['DEADLINE_SCHEDULE_GROUP'], name).toBe(`${airless.naming.prefix}-deadlines`);
      expect(vars['DEADLINE_SCHEDULE_ROLE_ARN'], name).toStrictEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      if (name === 'scheduler') {
        expect(vars['DEADLINE_SCHEDULE_TARGET_ARN']).toBeUndefined();
        expect(vars['DEADLINE_SCHEDULE_FUNCTION_ARN_PREFIX']).toStrictEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':lambda:eu-west-1:123456789012:function:']] });
      } else {
        expect(vars['DEADLINE_SCHEDULE_TARGET_ARN'], name).toStrictEqual({ 'Fn::GetAtt': [schedulerFn, 'Arn'] });
      }
    }
  });

  it('makes none of it when no DAG declares a deadline', () => {
    plain.resourceCountIs('AWS::Scheduler::ScheduleGroup', 0);
    const all = [...statementsByRole(plain).values()].flat();
    expect(all.filter((s) => [s.Action].flat().some((a) => a.startsWith('scheduler:Create') || a.startsWith('scheduler:Delete') || a === 'iam:PassRole'))).toStrictEqual([]);
    const fns = Object.values(plain.findResources('AWS::Lambda::Function')) as { Properties: { Environment?: { Variables: Record<string, unknown> } } }[];
    expect(fns.filter((f) => f.Properties.Environment?.Variables['DEADLINE_SCHEDULE_GROUP'] !== undefined)).toStrictEqual([]);
  });

  it('has no cdk-nag error with the deadline schedules', async () => {
    const { AwsSolutionsChecks } = await import('cdk-nag');
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const own = new Stack(app, 'Checked');
    new Airless(own, 'Pipelines', { dagsFolder: 'test/fixtures/cdk-notify', batch: { mode: 'existing' } });
    Aspects.of(app).add(new AwsSolutionsChecks());
    app.synth();
    const errors = Annotations.fromStack(own).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${JSON.stringify(e.entry.data).slice(0, 300)}`)).toStrictEqual([]);
  }, 120_000);
});
