// IAM comes with the ASL: every integration a compiled state machine of dags/ uses is covered by its
// role's policy in the synthesized template (expectations written out here per ASL resource, not taken
// from the compiler), and each state machine role's policy is exactly the union of the statements its
// state machines' definitions declare.
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAirlessApp } from '../cdk/airless-app.ts';
import type { AirlessStack } from '../cdk/airless.ts';
import { resolveStatements } from '../cdk/policy-statements.ts';
import type { AslState, StateMachineDefinition } from '../lib/compiler/asl-types.ts';
import { deployedMachines } from '../lib/compiler/compile.ts';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
const text = (v: unknown) => JSON.stringify(v);

/** The statements of the policies attached to a role in the template. */
function statementsOf(template: Template, stack: AirlessStack, role: iam.Role): Statement[] {
  const roleId = stack.getLogicalId(role.node.defaultChild as CfnElement);
  return [...Object.values(template.findResources('AWS::IAM::Policy')), ...Object.values(template.findResources('AWS::IAM::ManagedPolicy'))].flatMap((p) => {
    const props = (p as { Properties: { Roles?: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } } }).Properties;
    return (props.Roles ?? []).some((r) => r.Ref === roleId) ? props.PolicyDocument.Statement : [];
  });
}

/** Every (action, resource) a set of statements allows, as text. */
function grants(statements: Statement[]): Set<string> {
  return new Set(statements.filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action).flatMap((a) => list(s.Resource).map((r) => `${a} ${text(r)}`))));
}

/** Statements CDK's StateMachine adds itself: Express logging (log delivery) and X-Ray tracing. */
const addedByCdk = (s: Statement) => list(s.Action).every((a) => a.startsWith('logs:') || a.startsWith('xray:'));

/** A needed permission: an action on a resource whose template text matches. */
interface Need {
  action: string;
  resource: RegExp | string;
  why: string;
}

/** The states of a definition, those of Map item processors included. */
function statesOf(states: Record<string, AslState>): AslState[] {
  return Object.values(states).flatMap((s) => (s.Type === 'Map' ? [s, ...statesOf(s.ItemProcessor.States)] : [s]));
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What each integration of a definition needs, written out per ASL resource (an unknown one fails the test). */
function needsOf(definition: StateMachineDefinition, name: string, stack: AirlessStack): Need[] {
  const functionArn = (fn: unknown) => {
    const m = typeof fn === 'string' ? /^\$\{([A-Za-z]+)Arn\}$/.exec(fn) : null;
    if (!m) throw new Error(`FunctionName ${JSON.stringify(fn)} is not a substitution`);
    const key = `${m[1]!.charAt(0).toLowerCase()}${m[1]!.slice(1)}` as keyof AirlessStack['airless']['functions'];
    return text(stack.resolve(stack.airless.functions[key].functionArn));
  };
  const own = (resource: string) => new RegExp(`:states:.*:${escape(resource)}"`);
  const needs: Need[] = [];
  for (const st of statesOf(definition.States)) {
    if (st.Type === 'Task') {
      switch (st.Resource) {
        case 'arn:${Partition}:states:::lambda:invoke':
        case 'arn:${Partition}:states:::lambda:invoke.waitForTaskToken':
          needs.push({ action: 'lambda:InvokeFunction', resource: functionArn(st.Parameters?.['FunctionName']), why: st.Resource });
          break;
        case 'arn:${Partition}:states:::batch:submitJob.sync':
          for (const r of stack.airless.batch.submitResources) needs.push({ action: 'batch:SubmitJob', resource: text(stack.resolve(r)), why: st.Resource });
          needs.push(
            { action: 'batch:DescribeJobs', resource: '"*"', why: st.Resource },
            { action: 'batch:TerminateJob', resource: /:batch:.*:job\/\*"/, why: st.Resource },
            { action: 'events:PutRule', resource: /rule\/StepFunctionsGetEventsForBatchJobsRule"/, why: st.Resource },
            { action: 'events:PutTargets', resource: /rule\/StepFunctionsGetEventsForBatchJobsRule"/, why: st.Resource },
          );
          break;
        case 'arn:${Partition}:states:::states:startExecution':
          if (st.Parameters?.['StateMachineArn.$'] === '$$.StateMachine.Id') {
            needs.push({ action: 'states:StartExecution', resource: own(`stateMachine:${name}`), why: st.Resource });
          } else {
            // The batch machine starts the batch_job machine, and the partitions machine the iterate machine, by its ARN.
            const arn = st.Parameters?.['StateMachineArn'];
            const target = arn === '${BatchJobMachineArn}' ? 'batch_job' : arn === '${IterateMachineArn}' ? 'iterate' : null;
            if (target === null) throw new Error(`no expectation written here for a StartExecution of ${JSON.stringify(arn)}`);
            needs.push({ action: 'states:StartExecution', resource: own(`stateMachine:${stack.airless.naming.lifecycle(target)}`), why: st.Resource });
          }
          break;
        default:
          throw new Error(`no expectation written here for the integration ${st.Resource}: add one`);
      }
    }
    if (st.Type === 'Map') {
      if (st.ItemProcessor.ProcessorConfig.Mode === 'DISTRIBUTED') {
        needs.push(
          { action: 'states:StartExecution', resource: own(`stateMachine:${name}`), why: 'Distributed Map' },
          { action: 'states:DescribeExecution', resource: own(`execution:${name}:*`), why: 'Distributed Map' },
          { action: 'states:StopExecution', resource: own(`execution:${name}/*`), why: 'Distributed Map' },
        );
      }
      const values = /LargeValues.*\/airless\/\*/;
      if (st.ItemReader) {
        expect(st.ItemReader.Resource).toBe('arn:${Partition}:states:::s3:getObject');
        needs.push({ action: 's3:GetObject', resource: values, why: 'ItemReader' });
      }
      if (st.ResultWriter) {
        expect(st.ResultWriter.Resource).toBe('arn:${Partition}:states:::s3:putObject');
        needs.push({ action: 's3:PutObject', resource: values, why: 'ResultWriter' }, { action: 's3:AbortMultipartUpload', resource: values, why: 'ResultWriter' });
      }
    }
  }
  return needs;
}

function covered(granted: Set<string>, need: Need): boolean {
  return [...granted].some((g) => {
    const space = g.indexOf(' ');
    if (g.slice(0, space) !== need.action) return false;
    const resource = g.slice(space + 1);
    return typeof need.resource === 'string' ? resource === need.resource : need.resource.test(resource);
  });
}

describe.each([
  ['sync mode, inline iterations', 'IamSync', {}],
  ['poll mode, distributed iterations, tracing', 'IamPoll', { batchWatch: 'poll' as const, iterateMode: 'distributed' as const, tracing: true }],
])('the state machine roles of the repo\'s dags/ (%s)', (_what, stackName, props) => {
  let stack: AirlessStack;
  let template: Template;

  beforeAll(async () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    ({ stack } = await createAirlessApp({ dagsFolder: 'dags', app, stackName, props }));
    template = Template.fromStack(stack);
  }, 120_000);

  /** Every state machine of the stack with its definition, its name and its role. */
  function machines(): { name: string; definition: StateMachineDefinition; role: iam.Role }[] {
    const out = [...stack.airless.lifecycles].map(([machine, l]) => ({ name: stack.airless.naming.lifecycle(machine), definition: l.compiled.definition, role: l.role }));
    for (const [id, machine] of [['Timer', stack.airless.timer], ['BatchWatcher', stack.airless.batchWatcher]] as const) {
      const props = template.toJSON().Resources[stack.getLogicalId(machine.node.defaultChild as CfnElement)].Properties as { StateMachineName: string; DefinitionString: string; RoleArn: unknown };
      const role = [...stack.airless.declaredStatements.keys()].find((r) => text(stack.resolve(r.roleArn)) === text(props.RoleArn));
      if (!role) throw new Error(`no declared role for ${id}`);
      out.push({ name: props.StateMachineName, definition: JSON.parse(props.DefinitionString) as StateMachineDefinition, role });
    }
    return out;
  }

  it('covers every integration each definition uses with its role\'s policy', () => {
    const all = machines();
    expect(all.length).toBe(deployedMachines({ batchWatch: 'batchWatch' in props ? props.batchWatch : 'sync' }).length + 2);
    const checked = new Set<string>();
    for (const m of all) {
      const granted = grants(statementsOf(template, stack, m.role));
      for (const need of needsOf(m.definition, m.name, stack)) {
        checked.add(need.why);
        expect(covered(granted, need), `${m.name}: ${need.why} needs ${need.action} on ${String(need.resource)}`).toBe(true);
      }
    }
    // The walk met the integrations of this mode (so that passing means something).
    // (Poll mode deploys no .sync Batch machine, and its fan-out submits through the task runner.)
    expect([...checked].sort()).toEqual(
      stackName === 'IamSync'
        ? ['Distributed Map', 'ItemReader', 'ResultWriter', 'arn:${Partition}:states:::batch:submitJob.sync', 'arn:${Partition}:states:::lambda:invoke', 'arn:${Partition}:states:::lambda:invoke.waitForTaskToken', 'arn:${Partition}:states:::states:startExecution']
        : ['Distributed Map', 'ItemReader', 'ResultWriter', 'arn:${Partition}:states:::lambda:invoke', 'arn:${Partition}:states:::lambda:invoke.waitForTaskToken', 'arn:${Partition}:states:::states:startExecution'],
    );
  });

  it('gives each state machine role exactly the union of what its state machines declare (besides the logging and tracing CDK adds)', () => {
    expect(stack.airless.declaredStatements.size).toBeGreaterThan(3);
    for (const [role, d] of stack.airless.declaredStatements) {
      const inTemplate = statementsOf(template, stack, role).filter((s) => !addedByCdk(s));
      const declared = stack.resolve(resolveStatements(d.statements, d.context).map((s) => s.toStatementJson())) as Statement[];
      expect(grants(inTemplate), role.node.path).toEqual(grants(declared));
    }
    // Each lifecycle's declared statements are among its role's.
    for (const [key, l] of stack.airless.lifecycles) {
      const declared = stack.airless.declaredStatements.get(l.role);
      expect(declared, key).toBeDefined();
      const roleGrants = grants(stack.resolve(resolveStatements(declared!.statements, declared!.context).map((s) => s.toStatementJson())) as Statement[]);
      const own = grants(stack.resolve(resolveStatements(l.compiled.statements, declared!.context).map((s) => s.toStatementJson())) as Statement[]);
      for (const g of own) expect(roleGrants.has(g), `${key}: ${g}`).toBe(true);
    }
  });
});
