// The reconciler's CDK construct: a Standard state machine and no schedule, its role exactly what the
// compiled definition declares (with its own state machine by name, in a policy the machine does not
// depend on), StartExecution and the environment for the functions that arm it, no dependency cycle, and
// no cdk-nag AwsSolutions error.
import { App, Aspects, Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { AirlessReconciler } from '../cdk/reconciler.ts';
import { compileReconciler } from '../lib/compiler/reconciler.ts';

type Resource = { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[] };

function fixture(props: { interval?: Duration; tracing?: boolean } = {}) {
  const app = new App();
  const stack = new Stack(app, 'ReconcilerTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const fn = (id: string) => new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('export const handler = async () => null;') });
  const scheduler = fn('Scheduler');
  const trigger = fn('Trigger');
  const api = fn('Api');
  const reconciler = new AirlessReconciler(stack, 'Reconciler', { scheduler, armers: [trigger, api], ...props });
  Aspects.of(app).add(new AwsSolutionsChecks());
  const template = Template.fromStack(stack);
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnElement);
  return { stack, template, reconciler, scheduler, trigger, api, id };
}

/** The statements of the policies attached to the role with logical id `roleId`. */
function statementsOfRole(template: Template, roleId: string): unknown[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => {
    const props = (p as { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: unknown[] } } }).Properties;
    return props.Roles.some((r) => r.Ref === roleId) ? props.PolicyDocument.Statement : [];
  });
}

/** The resources each resource refers to (Ref, Fn::GetAtt, DependsOn). */
function references(resources: Record<string, Resource>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const walk = (v: unknown, into: Set<string>) => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, into));
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'Ref' && typeof x === 'string' && x in resources) into.add(x);
        else if (k === 'Fn::GetAtt' && Array.isArray(x) && typeof x[0] === 'string') into.add(x[0]);
        else walk(x, into);
      }
    }
  };
  for (const [name, r] of Object.entries(resources)) {
    const into = new Set<string>(r.DependsOn ?? []);
    walk(r.Properties, into);
    out.set(name, into);
  }
  return out;
}

/** A dependency cycle among the resources, or null (CloudFormation refuses a template with one). */
function findCycle(refs: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'done') return null;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const m of refs.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    path.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of refs.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

describe('the reconciler construct', () => {
  it('deploys the compiled definition as a Standard state machine, and no schedule', () => {
    const { template, reconciler, scheduler, id } = fixture();
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.resourceCountIs('AWS::Events::Rule', 0);
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      DefinitionString: JSON.stringify(compileReconciler({ schedulerArn: '${SchedulerArn}' }).definition),
      DefinitionSubstitutions: { SchedulerArn: { 'Fn::GetAtt': [id(scheduler), 'Arn'] } },
      RoleArn: { 'Fn::GetAtt': [id(reconciler.role), 'Arn'] },
    });
  });

  it('gives its role exactly the statements the definition declares: invoke the scheduler, start itself by name', () => {
    const { template, reconciler, scheduler, id } = fixture();
    expect(statementsOfRole(template, id(reconciler.role))).toStrictEqual([
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [id(scheduler), 'Arn'] } },
      {
        Action: 'states:StartExecution',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':states:eu-west-1:123456789012:stateMachine:', { 'Fn::GetAtt': [id(reconciler.stateMachine), 'Name'] }]] },
      },
    ]);
  });

  it('lets each arming function start it and tells it where and how often, and only those', () => {
    const { template, reconciler, scheduler, trigger, api, id } = fixture({ interval: Duration.minutes(2) });
    for (const fn of [trigger, api]) {
      expect(statementsOfRole(template, id(fn.role!))).toContainEqual({ Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: id(reconciler.stateMachine) } });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Role: { 'Fn::GetAtt': [id(fn.role!), 'Arn'] },
        Environment: { Variables: { RECONCILER_ARN: { Ref: id(reconciler.stateMachine) }, RECONCILE_INTERVAL_SECONDS: '120' } },
      });
      // Created after the reconciler's policy: nothing starts it before its role may run it.
      expect(template.toJSON().Resources[id(fn)].DependsOn).toContain(id(reconciler.policy));
    }
    expect(statementsOfRole(template, id(scheduler.role!))).toStrictEqual([]);
    expect(JSON.stringify(template.findResources('AWS::Lambda::Function')[id(scheduler)])).not.toContain('RECONCILER_ARN');
  });

  it('has no dependency cycle', () => {
    const { template } = fixture();
    expect(findCycle(references(template.toJSON().Resources as Record<string, Resource>))).toBeNull();
  });

  it('has no unsuppressed cdk-nag AwsSolutions error, with or without tracing', () => {
    for (const tracing of [false, true]) {
      const { stack } = fixture({ tracing });
      // The construct's resources; and no wildcard anywhere (the grants to the fixture's functions included).
      const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
      expect(errors.filter((e) => e.id.startsWith('/ReconcilerTest/Reconciler/') || JSON.stringify(e.entry.data).includes('AwsSolutions-IAM5'))).toStrictEqual([]);
    }
  });

  it('refuses the scheduler as an arming function, and an interval that is not whole seconds', () => {
    const app = new App();
    const stack = new Stack(app, 'Bad');
    const scheduler = new lambda.Function(stack, 'Scheduler', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('x') });
    expect(() => new AirlessReconciler(stack, 'R1', { scheduler, armers: [scheduler] })).toThrow(
      'the scheduler function (Bad/Scheduler) cannot arm the reconciler: its policy would name the reconciler, whose definition names it',
    );
    expect(() => new AirlessReconciler(stack, 'R2', { scheduler, armers: [], interval: Duration.millis(1500) })).toThrow(
      "the reconciler's interval must be a whole number of seconds, at least 1 (got 1.5 s)",
    );
  });
});
