// Batch permissions stay within IAM's limits at 100 job queue / job definition pairs: every role's
// policies, counted as IAM counts them once deployed (the longest partition and region, no whitespace),
// are under the managed-policy, inline-per-role and attached-policies limits, and every queue and
// definition is still allowed to the role that submits.
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAirlessApp } from '../cdk/airless-app.ts';
import type { AirlessStack, AirlessStackProps } from '../cdk/airless.ts';
import { chunkByPolicySize } from '../cdk/batch-resources.ts';
import { applyStatements, type PolicyContext } from '../cdk/policy-statements.ts';
import { IAM_LIMITS, limitsBroken, policyChars, rolePolicySizes, type TemplateResources } from '../cdk/policy-size.ts';
import { allowedResources, roleStatements, type TemplateJson } from './support/sdk-calls.ts';

const pad = (i: number) => String(i).padStart(3, '0');
const QUEUES = Array.from({ length: 100 }, (_, i) => `airless-team-queue-${pad(i)}`);
/** Half named without a revision (granted as `<name>` and `<name>:*`), half at a revision. */
const DEFINITIONS = Array.from({ length: 100 }, (_, i) => (i % 2 ? `airless-team-job-definition-${pad(i)}` : `airless-team-job-definition-${pad(i)}:3`));

describe('the characters of a policy as IAM counts them', () => {
  const template: TemplateResources = { Resources: { Fn: { Type: 'AWS::Lambda::Function' } } };

  it('resolves pseudo parameters and attributes to their longest values, without whitespace', () => {
    const arn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':batch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':job-queue/q']] };
    const doc = { Statement: [{ Action: 'batch:SubmitJob', Resource: [arn, { 'Fn::GetAtt': ['Fn', 'Arn'] }] }] };
    const expected = `{"Statement":[{"Action":"batch:SubmitJob","Resource":["arn:aws-us-gov:batch:ap-southeast-7:123456789012:job-queue/q","arn:aws-us-gov:lambda:ap-southeast-7:123456789012:function:${'n'.repeat(64)}"]}]}`;
    expect(policyChars(doc, template)).toBe(expected.length);
  });

  it('refuses what it cannot resolve, naming it', () => {
    expect(() => policyChars({ Resource: { 'Fn::GetAtt': ['Other', 'Arn'] } }, template)).toThrow('no longest value known for Arn of Other (not in the template)');
    expect(() => policyChars({ Resource: { 'Fn::ImportValue': 'x' } }, template)).toThrow('the intrinsic Fn::ImportValue is not resolved here');
  });

  it('reports each limit a role breaks', () => {
    expect(limitsBroken([{ role: 'R', inline: [6000, 5000], managed: [6000, 7000], managedCount: 11 }])).toEqual([
      'R: a managed policy of 7000 characters (IAM allows 6144)',
      'R: inline policies of 11000 characters in all (IAM allows 10240)',
      'R: 11 managed policies attached (IAM allows 10)',
    ]);
  });
});

describe('SubmitJob\'s resources in managed policies', () => {
  it('chunks ARNs by their longest deployed length under the budget, in order, and refuses one that fits nowhere', () => {
    const overhead = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'batch:SubmitJob', Resource: [] }] }).length;
    // Room for exactly two ARNs of 97 characters (each takes 100 with its quotes and comma).
    expect(chunkByPolicySize(['a', 'b', 'c', 'd', 'e'], () => 97, overhead + 200)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(() => chunkByPolicySize(['a'], () => 500, overhead + 200)).toThrow('a SubmitJob resource of 500 characters does not fit in one managed policy');
  });

  function roleAndContext(): { stack: Stack; role: iam.Role; attached: iam.IRole[]; context: PolicyContext } {
    const stack = new Stack(new App(), 'S');
    const role = new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('states.amazonaws.com') });
    const attached: iam.IRole[] = [];
    const context: PolicyContext = {
      placeholders: { 'AWS::Partition': 'aws' },
      deployment: { batchJobQueuesAndDefinitions: ['arn:aws:batch:eu-west-1:1:job-queue/q'], largeValueObjects: ['arn:aws:s3:::b/airless/*'] },
      managed: { batchJobQueuesAndDefinitions: { actions: ['batch:SubmitJob'], attach: (r) => attached.push(r) } },
    };
    return { stack, role, attached, context };
  }

  it('attaches the managed policies of a managed set and puts the rest inline', () => {
    const { stack, role, attached, context } = roleAndContext();
    applyStatements(
      role,
      [
        { actions: ['batch:SubmitJob'], resources: [{ deployment: 'batchJobQueuesAndDefinitions' }] },
        { actions: ['s3:GetObject'], resources: [{ deployment: 'largeValueObjects' }, { arn: 'arn:${AWS::Partition}:s3:::other/*' }] },
      ],
      context,
    );
    expect(attached).toEqual([role]);
    const statements = Template.fromStack(stack).findResources('AWS::IAM::Policy');
    expect(Object.values(statements).map((p) => (p as { Properties: { PolicyDocument: unknown } }).Properties.PolicyDocument)).toEqual([
      { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: ['arn:aws:s3:::b/airless/*', 'arn:aws:s3:::other/*'] }] },
    ]);
  });

  it('refuses a statement asking a managed set for an action its policies do not allow', () => {
    const { role, context } = roleAndContext();
    expect(() => applyStatements(role, [{ actions: ['batch:SubmitJob', 'batch:TagResource'], resources: [{ deployment: 'batchJobQueuesAndDefinitions' }] }], context)).toThrow(
      "the statement of batch:SubmitJob, batch:TagResource on 'batchJobQueuesAndDefinitions' asks for batch:TagResource, which its managed policies do not allow (only batch:SubmitJob)",
    );
  });
});

describe.each<[string, string, Partial<AirlessStackProps>, (stack: AirlessStack) => iam.IRole[]]>([
  ['sync mode: the Batch lifecycle roles submit (a single job, an array fan-out)', 'IamSizeSync', {}, (stack) => [stack.airless.lifecycles.get('batch_job')!.role, stack.airless.lifecycles.get('batch_array')!.role]],
  ['poll mode: the task runner submits', 'IamSizePoll', { batchWatch: 'poll' }, (stack) => [stack.airless.functions.taskRunner.role!]],
])('a stack whose Batch tasks may name 100 job queue / job definition pairs (%s)', (_what, stackName, props, submitter) => {
  let stack: AirlessStack;
  let template: TemplateJson;

  beforeAll(async () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    ({ stack } = await createAirlessApp({
      dagsFolder: 'test/fixtures/cdk',
      app,
      stackName,
      props: { ...props, batch: { mode: 'existing', jobQueues: QUEUES, jobDefinitions: DEFINITIONS } },
    }));
    template = Template.fromStack(stack).toJSON() as TemplateJson;
  }, 120_000);

  it('keeps every role\'s policies within IAM\'s limits', () => {
    const sizes = rolePolicySizes(template);
    expect(sizes.length).toBeGreaterThan(8);
    expect(limitsBroken(sizes)).toEqual([]);
  });

  it('needs more than one managed policy for SubmitJob (one statement of it all would break the limit)', () => {
    const submitPolicies = Object.values(template.Resources).filter((r) => r.Type === 'AWS::IAM::ManagedPolicy' && JSON.stringify(r.Properties?.['PolicyDocument']).includes('batch:SubmitJob'));
    expect(submitPolicies.length).toBeGreaterThan(1);
    const chars = submitPolicies.map((p) => policyChars(p.Properties!['PolicyDocument'], template));
    expect(chars.reduce((a, b) => a + b, 0)).toBeGreaterThan(IAM_LIMITS.managedPolicyChars);
  });

  it('allows the submitting roles SubmitJob on every queue and definition, and no other role', () => {
    const roleId = (role: iam.IRole) => stack.getLogicalId(role.node.defaultChild as CfnElement);
    const submitters = submitter(stack).map(roleId);
    for (const id of submitters) {
      const allowed = allowedResources(roleStatements(template, id), 'batch:SubmitJob').join(' ');
      const missing = [
        ...[...QUEUES, 'nightly-queue'].filter((q) => !allowed.includes(`:job-queue/${q}"`)),
        ...[...DEFINITIONS, 'reduce'].flatMap((d) => (d.includes(':') ? [d] : [d, `${d}:*`])).filter((d) => !allowed.includes(`:job-definition/${d}"`)),
      ];
      expect([id, missing]).toEqual([id, []]);
    }
    const others = Object.entries(template.Resources)
      .filter(([id, r]) => r.Type === 'AWS::IAM::Role' && !submitters.includes(id))
      .filter(([id]) => allowedResources(roleStatements(template, id), 'batch:SubmitJob').length > 0)
      .map(([id]) => id);
    expect(others).toEqual([]);
  });
});
