// The Airless construct as a user adds it to a CDK app of theirs: in their own stack, beside their own
// resources (a VPC, a Batch compute environment and job queue), the DAGs folder given by path and loaded
// by the construct itself (in a child process: a constructor cannot wait), two of them in one stack.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { Airless, DagBagImportErrors } from 'airless/cdk';

/** Every statement of the customer managed and inline policies of a template. */
function statements(template: Template): { Action: string | string[]; Resource: unknown }[] {
  return [...Object.values(template.findResources('AWS::IAM::ManagedPolicy')), ...Object.values(template.findResources('AWS::IAM::Policy'))].flatMap(
    (p) => (p as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement,
  );
}

describe("the Airless construct in a user's stack, beside the user's resources", () => {
  let stack: Stack;
  let pipelines: Airless;
  let queue: batch.JobQueue;
  let template: Template;

  beforeAll(() => {
    // Bundling skipped: the functions' code is not what is checked here (test/cdk.test.ts bundles).
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    stack = new Stack(app, 'DataPlatform');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    // aws-cdk-lib's classes declare optional fields `T | undefined`, which exactOptionalPropertyTypes (this repository's setting) refuses for its interfaces.
    const compute = new batch.FargateComputeEnvironment(stack, 'Compute', { vpc: vpc as unknown as ec2.IVpc });
    queue = new batch.JobQueue(stack, 'Queue', { computeEnvironments: [{ computeEnvironment: compute, order: 1 }] });
    const analysts = new iam.Role(stack, 'Analysts', { assumedBy: new iam.AccountRootPrincipal() });
    pipelines = new Airless(stack, 'Pipelines', {
      dagsFolder: 'test/fixtures/cdk',
      batch: { mode: 'existing', jobQueues: [queue.jobQueueArn] },
      apiCallers: [analysts],
    });
    new Airless(stack, 'Reports', { dagsFolder: 'test/fixtures/cdk', batch: { mode: 'existing' } });
    template = Template.fromStack(stack);
  }, 120_000);

  it('loads the DAGs folder it is given (in a child process) and deploys its DAGs', () => {
    expect(pipelines.dags.map((d) => d.dagId).sort()).toStrictEqual(['every_fifteen', 'nightly_report', 'on_demand']);
    // The scheduled ones get their EventBridge schedule, per construct.
    expect(Object.keys(template.findResources('AWS::Scheduler::Schedule'))).toHaveLength(4);
    // Each file's code as its versions load it: the bundles go to the construct's bucket.
    template.resourceCountIs('Custom::CDKBucketDeployment', 2);
  });

  it("lets the task runner submit to the user's queue by its ARN token, beside the queue the DAGs name", () => {
    const queueRef = stack.resolve(queue.jobQueueArn) as unknown;
    const submit = statements(template).filter((s) => [s.Action].flat().includes('batch:SubmitJob'));
    const resources = submit.flatMap((s) => [s.Resource].flat());
    expect(resources).toContainEqual(queueRef);
    expect(JSON.stringify(resources)).toContain('job-queue/nightly-queue');
    // The token is the ARN itself, never wrapped in another ARN.
    expect(JSON.stringify(resources)).not.toMatch(/job-queue\/\$\{Token/);
  });

  it('keys its outputs after its id, so that two constructs share a stack and the CLI finds each API', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toStrictEqual(['PipelinesApiFunctionArn', 'PipelinesApiUrl', 'ReportsApiFunctionArn', 'ReportsApiUrl']);
    expect(outputs['PipelinesApiUrl']!['Description']).toMatch(/^airless REST API/);
    // Their state machines have names of their own.
    const names = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).map((r) => (r as { Properties: { StateMachineName?: string } }).Properties.StateMachineName);
    expect(new Set(names).size).toBe(names.length);
  });

  it("grants the user's API callers (a role of the same stack: in its own policy) the API function's URL and invocation", () => {
    const apiArn = stack.resolve(pipelines.functions.api.functionArn) as unknown;
    const analysts = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes('Analysts'));
    const granted = analysts.flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement);
    expect(granted.flatMap((s) => [s.Action].flat()).sort()).toStrictEqual(['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl']);
    for (const s of granted) expect([s.Resource].flat()).toContainEqual(apiArn);
    // The URL itself checks IAM: never open.
    template.allResourcesProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
  });

  it("has no cdk-nag error in its own resources (the construct's suppressions follow its resources wherever it is)", async () => {
    const { AwsSolutionsChecks } = await import('cdk-nag');
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const own = new Stack(app, 'Checked');
    new Airless(own, 'Pipelines', { dagsFolder: 'test/fixtures/cdk' });
    const { Aspects } = await import('aws-cdk-lib');
    Aspects.of(app).add(new AwsSolutionsChecks());
    app.synth();
    const errors = Annotations.fromStack(own).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${JSON.stringify(e.entry.data).slice(0, 200)}`)).toStrictEqual([]);
  }, 120_000);
});

describe('the Airless construct and a broken DAGs folder', () => {
  it('fails where it is made, naming each broken file; nothing is synthesized', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Broken');
    let error: unknown;
    try {
      new Airless(stack, 'Pipelines', { dagsFolder: 'test/fixtures/dagbag' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DagBagImportErrors);
    const message = (error as Error).message;
    expect(message).toMatch(/DAG file\(s\) in .*test\/fixtures\/dagbag failed to import; nothing was synthesized/);
    for (const file of ['bad-cycle.ts', 'bad-missing-module.ts', 'bad-throws.ts']) expect(message).toContain(file);
  }, 120_000);

  it('fails on a type error in a DAG file, with its file:line:col and the compiler\'s message (synth type checks)', () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'airless-cdk-typecheck-'));
    try {
      writeFileSync(
        path.join(folder, 'typo.ts'),
        "import { dag } from 'airless';\n\nexport default dag({ dagId: 'typo', params: { n: { type: 'integer', default: 1 } } }, ({ task }) => {\n  task('t', ({ params }) => params.nn);\n});\n",
      );
      const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Typo');
      expect(() => new Airless(stack, 'Pipelines', { dagsFolder: folder })).toThrow(/typo\.ts:4:36 - error TS2339: Property 'nn' does not exist/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 120_000);

  it('names a DAGs folder that does not exist', () => {
    const stack = new Stack(new App(), 'Missing');
    expect(() => new Airless(stack, 'Pipelines', { dagsFolder: 'test/fixtures/no-such-folder' })).toThrow(/no-such-folder/);
  });
});
