// Every AWS SDK call a function's code can make has a grant in the function's role: each function entry
// (functions/<name>.ts) is bundled as the stack bundles it (esbuild, the DAGs module aliased), the
// first-party files its bundle keeps are scanned for `new <X>Command(` and `paginate<X>(` of the AWS SDK,
// each command is mapped to its IAM action, and the role's policies in the synthesized template must
// allow it on the stack's own resources. A file-level walk over-approximates (every function reaches the
// shared services: the store, the dispatcher, the Batch client); what a function can reach but never
// calls is listed below with the reason, and such an action must then not be granted (least privilege).
import type { CfnElement } from 'aws-cdk-lib';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAirlessApp } from '../cdk/airless-app.ts';
import { FUNCTION_FILES, type AirlessStack, type FunctionName } from '../cdk/airless.ts';
import { writeDagsModule } from '../cdk/dags-module.ts';
import type { AirlessStackProps } from '../cdk/airless.ts';
import { loadDagBag } from '../lib/dagbag/dag-bag.ts';
import {
  actionsNeeded,
  describeMissing,
  iamActionsOf,
  missingGrants,
  reachableFiles,
  roleStatements,
  sdkCallsIn,
  sdkCallsOf,
  type SdkCall,
  type TemplateJson,
  type TemplateStatement,
} from './support/sdk-calls.ts';

const ROOT = process.cwd();
const FUNCTIONS = Object.keys(FUNCTION_FILES) as FunctionName[];

/** What a stack's DAGs and options make the functions do. */
interface Facts {
  batchTasks: boolean;
  pollsBatch: boolean;
  triggersDags: boolean;
  /** Some DAG has an snsNotifier / a sesNotifier. */
  notifiesSns: boolean;
  notifiesSes: boolean;
  /** Some DAG declares a deadline (its alerts are EventBridge Scheduler schedules). */
  deadlines: boolean;
}

const BATCH_ALL = ['batch:SubmitJob', 'batch:TagResource', 'batch:ListJobs', 'batch:DescribeJobs', 'batch:TerminateJob'];

/**
 * Actions a function's bundle can reach but the function never calls (the walk is per file: every
 * function holds the same services). Each must be reachable (else the entry is stale) and, where it
 * applies, must not be granted.
 */
const NOT_CALLED: { fn: FunctionName; actions: string[]; when?: (f: Facts) => boolean; why: string }[] = [
  { fn: 'scheduler', actions: ['batch:SubmitJob', 'batch:TagResource'], why: 'the scheduler submits no job: a Batch lifecycle does (.sync), or the task runner (poll mode)' },
  {
    fn: 'scheduler',
    actions: ['batch:ListJobs', 'batch:DescribeJobs', 'batch:TerminateJob'],
    when: (f) => !f.batchTasks,
    why: 'without Batch tasks there is no runnableTimeout to enforce (stopRunnable) and no array wave to settle (waveResult)',
  },
  { fn: 'trigger', actions: BATCH_ALL, why: 'a trigger creates a run and starts its first lifecycles: its step handles no timer (the only source of stopRunnable) and no Batch outcome' },
  { fn: 'api', actions: ['batch:SubmitJob', 'batch:TagResource', 'batch:DescribeJobs'], why: 'the API\'s operations (trigger, clear, mark, delete) handle no timer and no Batch outcome' },
  {
    fn: 'api',
    actions: ['batch:ListJobs', 'batch:TerminateJob'],
    when: (f) => !f.batchTasks,
    why: 'without Batch tasks a stopped run or a marked instance has no job to terminate (lib/aws/stop-tries.ts)',
  },
  ...(['trigger', 'taskRunner', 'sensorPoke', 'describeJobs'] as const).map((fn) => ({
    fn,
    actions: ['states:StopExecution'],
    why: 'only a stop (a dagrunTimeout: the scheduler; a mark or a forced delete: the API) stops lifecycle executions (lib/aws/stop-tries.ts)',
  })),
  { fn: 'sensorPoke', actions: BATCH_ALL, why: 'a poke runs a sensor, never a Batch task' },
  {
    fn: 'describeJobs',
    actions: ['batch:SubmitJob', 'batch:TagResource', 'batch:ListJobs', 'batch:TerminateJob'],
    why: 'a watcher round is one DescribeJobs; its step resumes deferred instances (its host has no stopRunnable)',
  },
  ...(['trigger', 'taskRunner', 'sensorPoke', 'describeJobs', 'api'] as const).map((fn) => ({
    fn,
    actions: ['s3:DeleteObject'],
    why: 'only the reconciler\'s rounds (the scheduler) prune the versions\' code (BundleBucket.deleteBundle); the others only load it',
  })),
  { fn: 'taskRunner', actions: ['batch:TerminateJob'], why: 'the task runner handles no timer (the only source of stopRunnable)' },
  ...(['scheduler', 'trigger', 'sensorPoke', 'describeJobs'] as const).map((fn) => ({
    fn,
    actions: ['states:SendTaskSuccess'],
    why: 'only an answer to a human-in-the-loop request (the API) or a token stored after it (the task runner\'s hitl_token) sends a hitl wait\'s token back',
  })),
  ...FUNCTIONS.map((fn) => ({ fn, actions: ['sns:Publish'], when: (f: Facts) => !f.notifiesSns, why: 'no DAG has an snsNotifier: the notifiers\' code is in every bundle, but nothing publishes' })),
  ...FUNCTIONS.map((fn) => ({ fn, actions: ['ses:SendEmail'], when: (f: Facts) => !f.notifiesSes, why: 'no DAG has a sesNotifier: the notifiers\' code is in every bundle, but nothing sends email' })),
  ...FUNCTIONS.map((fn) => ({
    fn,
    actions: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'iam:PassRole'],
    when: (f: Facts) => !f.deadlines,
    why: 'no DAG declares a deadline: the deadline schedules\' code is in every bundle, but no schedule is made',
  })),
  {
    fn: 'taskRunner',
    actions: ['batch:SubmitJob', 'batch:TagResource', 'batch:ListJobs', 'batch:DescribeJobs'],
    when: (f) => !f.pollsBatch,
    why: 'in sync mode a Batch lifecycle submits (batch:submitJob.sync) and its output carries the job\'s status',
  },
];

/**
 * What a resource allowing the action must look like: the stack's table, its bucket's values (deleting: only
 * the versions' code, airless/bundles/), its state machines.
 */
function resourceOf(action: string): RegExp | null {
  if (action.startsWith('dynamodb:')) return /"AirlessTable[0-9A-F]{8}"/;
  if (action === 's3:DeleteObject') return /AirlessLargeValues[0-9A-F]{8}.*\/airless\/bundles\/\*"/;
  if (action.startsWith('s3:')) return /AirlessLargeValues[0-9A-F]{8}.*\/airless\/\*"/;
  if (action.startsWith('states:')) return /:states:/;
  // The DAGs' notifiers: the topics and SES identities they name (cdk/notifier-grants.ts).
  if (action === 'sns:Publish') return /^"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+"$/;
  if (action === 'ses:SendEmail') return /:ses:.*:identity\//;
  // Deadline schedules (cdk/deadline-schedules.ts): the stack's own group; the role Scheduler assumes.
  if (action.startsWith('scheduler:')) return /:scheduler:.*:schedule\/[A-Za-z0-9-]+-deadlines\/\*"/;
  if (action === 'iam:PassRole') return /^\{"Fn::GetAtt":\["AirlessDeadlineSchedulesRole[0-9A-F]{8}","Arn"\]\}$/;
  return null;
}

const roleId = (stack: AirlessStack, fn: FunctionName) => stack.getLogicalId(stack.airless.functions[fn].role!.node.defaultChild as CfnElement);

describe('the SDK call walk', () => {
  it('finds commands, document-client commands and paginators of value imports, not type-only ones', () => {
    const source = [
      "import { GetCommand, TransactWriteCommand, type PutCommand } from '@aws-sdk/lib-dynamodb';",
      "import { paginateListJobs, SubmitJobCommand as Submit } from '@aws-sdk/client-batch';",
      "import * as s3 from '@aws-sdk/client-s3';",
      "import type { StartExecutionCommand } from '@aws-sdk/client-sfn';",
      'async function f(doc, c, p: PutCommand) {',
      '  await doc.send(new GetCommand({}));',
      '  await doc.send(new TransactWriteCommand({ TransactItems: [] }));',
      '  for await (const page of paginateListJobs({ client: c }, {})) void page;',
      '  await c.send(new Submit({}));',
      '  await c.send(new s3.PutObjectCommand({}));',
      '  const x: StartExecutionCommand | undefined = undefined;',
      '}',
    ].join('\n');
    const calls = sdkCallsIn('lib/x.ts', source);
    expect(calls.map((c) => `${c.command} ${c.at}`)).toEqual(['GetCommand lib/x.ts:6', 'TransactWriteCommand lib/x.ts:7', 'ListJobsCommand lib/x.ts:8', 'SubmitJobCommand lib/x.ts:9', 'PutObjectCommand lib/x.ts:10']);
    expect(calls.flatMap(iamActionsOf)).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:ConditionCheckItem',
      'batch:ListJobs',
      'batch:SubmitJob',
      'batch:TagResource',
      's3:PutObject',
    ]);
  });

  it('refuses a client or a document command it has no action for, naming the call', () => {
    expect(() => iamActionsOf({ pkg: '@aws-sdk/client-ecs', command: 'RunTaskCommand', at: 'lib/y.ts:3' })).toThrow(/lib\/y\.ts:3: no IAM service prefix known for @aws-sdk\/client-ecs \(RunTaskCommand\)/);
    expect(() => iamActionsOf({ pkg: '@aws-sdk/lib-dynamodb', command: 'ExecuteStatementCommand', at: 'lib/y.ts:4' })).toThrow(/document client's ExecuteStatementCommand/);
  });

  it('reports a needed action a policy lacks, and one allowed only on another resource', () => {
    const call: SdkCall = { pkg: '@aws-sdk/client-batch', command: 'TerminateJobCommand', at: 'lib/aws/batch-client.ts:234' };
    const needed = actionsNeeded([call, { pkg: '@aws-sdk/client-s3', command: 'PutObjectCommand', at: 'lib/store/large-values.ts:53' }]);
    const statements: TemplateStatement[] = [
      { Effect: 'Allow', Action: ['batch:ListJobs', 'batch:DescribeJobs'], Resource: '*' },
      { Effect: 'Allow', Action: 's3:Put*', Resource: 'arn:aws:s3:::someone-elses-bucket/*' },
    ];
    const missing = missingGrants(needed, statements, resourceOf);
    expect(missing.map(describeMissing)).toEqual([
      'batch:TerminateJob (TerminateJobCommand at lib/aws/batch-client.ts:234) is not allowed',
      's3:PutObject (PutObjectCommand at lib/store/large-values.ts:53) is allowed only on "arn:aws:s3:::someone-elses-bucket/*"',
    ]);
    // Granted (wildcards in actions count), nothing is missing.
    const granted: TemplateStatement[] = [
      { Effect: 'Allow', Action: 'batch:Terminate*', Resource: 'arn:aws:batch:eu-west-1:123456789012:job/*' },
      { Effect: 'Allow', Action: 's3:PutObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['AirlessLargeValues0123ABCD', 'Arn'] }, '/airless/*']] } },
    ];
    expect(missingGrants(needed, granted, resourceOf)).toEqual([]);
  });
});

describe.each<[string, string, string, Partial<AirlessStackProps>]>([
  ['the repo\'s dags/, sync mode', 'dags', 'IamCallsSync', {}],
  ['the repo\'s dags/, poll mode', 'dags', 'IamCallsPoll', { batchWatch: 'poll' }],
  ['a folder with a single Batch job and no array task', 'test/fixtures/cdk', 'IamCallsSingleBatch', { batch: { mode: 'fargate' } }],
])('the SDK calls of each function are granted (%s)', (_what, folder, stackName, props) => {
  let stack: AirlessStack;
  let template: TemplateJson;
  let facts: Facts;
  const needed = new Map<FunctionName, Map<string, SdkCall[]>>();

  beforeAll(async () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    ({ stack } = await createAirlessApp({ dagsFolder: folder, app, stackName, props }));
    template = Template.fromStack(stack).toJSON() as TemplateJson;
    const bag = await loadDagBag(folder);
    const tasks = bag.dags.flatMap((d) => d.spec.tasks);
    const batchTasks = tasks.some((t) => t.kind === 'batch');
    const targets = bag.dags.flatMap((d) => d.spec.notifierTargets ?? []);
    facts = {
      batchTasks,
      pollsBatch: batchTasks && props.batchWatch === 'poll',
      triggersDags: tasks.some((t) => t.kind === 'trigger_dag'),
      notifiesSns: targets.some((t) => t.kind === 'sns'),
      notifiesSes: targets.some((t) => t.kind === 'ses'),
      deadlines: bag.dags.some((d) => (d.spec.deadlines?.length ?? 0) > 0),
    };
    const dagsModule = writeDagsModule(bag.folder, bag.files);
    for (const fn of FUNCTIONS) {
      const files = await reachableFiles(ROOT, `functions/${FUNCTION_FILES[fn]}.ts`, dagsModule);
      needed.set(fn, actionsNeeded(sdkCallsOf(ROOT, files)));
    }
  }, 180_000);

  it('walks each function to the SDK calls of the store, and the functions to the dispatcher\'s and the Batch client\'s', () => {
    for (const fn of FUNCTIONS) expect([...needed.get(fn)!.keys()], fn).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:ConditionCheckItem', 's3:PutObject', 's3:GetObject']));
    const all = new Set(FUNCTIONS.flatMap((fn) => [...needed.get(fn)!.keys()]));
    for (const action of ['states:StartExecution', 'states:DescribeExecution', 'batch:SubmitJob', 'batch:ListJobs', 'batch:TerminateJob']) expect(all.has(action), action).toBe(true);
  });

  it('grants states: actions only on this stack\'s own state machines, by exact name (a wildcard only after one)', () => {
    const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
    const machines = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
    const names = machines.flatMap(([, r]) => (typeof r.Properties?.['StateMachineName'] === 'string' ? [r.Properties['StateMachineName']] : [])).sort((a, b) => b.length - a.length);
    expect(names.length).toBeGreaterThan(3);
    /** Template JSON text with each reference to one of the stack's machines (its name, `GetAtt Name`, `Ref`) written `<own>`. */
    const own = (text: string) => {
      let t = text;
      for (const [id] of machines) t = t.replaceAll(JSON.stringify({ 'Fn::GetAtt': [id, 'Name'] }), '"<own>"').replaceAll(JSON.stringify({ Ref: id }), '"stateMachine:<own>"');
      for (const name of names) t = t.replaceAll(name, '<own>');
      return t;
    };
    const problems: string[] = [];
    let checked = 0;
    for (const [id, r] of Object.entries(template.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
      for (const s of (r.Properties!['PolicyDocument'] as { Statement: TemplateStatement[] }).Statement) {
        if (!list(s.Action).some((a) => a.startsWith('states:'))) continue;
        for (const resource of list(s.Resource)) {
          checked++;
          const t = own(JSON.stringify(resource));
          // A wildcard only right after an own machine's exact name: its executions (`<name>:*`), a Map Run's child executions (`<name>/*`).
          if (t.includes('*') && !/^[^*]*<own>"?,?"?[:/]\*"[^*]*$/.test(t)) problems.push(`${id}: ${list(s.Action).join(',')} on ${JSON.stringify(resource)}`);
          if (!t.includes('<own>')) problems.push(`${id}: ${list(s.Action).join(',')} on ${JSON.stringify(resource)}, not one of the stack's machines`);
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
    expect(problems).toEqual([]);
  });

  it('grants every call a function makes, on the stack\'s own resources', () => {
    const problems: string[] = [];
    for (const fn of FUNCTIONS) {
      const exempt = new Set(NOT_CALLED.filter((n) => n.fn === fn && (n.when?.(facts) ?? true)).flatMap((n) => n.actions));
      const required = new Map([...needed.get(fn)!].filter(([action]) => !exempt.has(action)));
      for (const m of missingGrants(required, roleStatements(template, roleId(stack, fn)), resourceOf)) problems.push(`${fn}: ${describeMissing(m)}`);
    }
    expect(problems).toEqual([]);
  });

  it('grants no action a function never calls, and lists none it cannot reach', () => {
    const problems: string[] = [];
    for (const n of NOT_CALLED) {
      const reachable = needed.get(n.fn)!;
      for (const action of n.actions) if (!reachable.has(action)) problems.push(`${n.fn}: ${action} is listed as not called but its bundle cannot reach it (drop it from NOT_CALLED)`);
      if (!(n.when?.(facts) ?? true)) continue;
      const statements = roleStatements(template, roleId(stack, n.fn));
      const granted = n.actions.filter((a) => missingGrants(new Map([[a, []]]), statements, () => null).length === 0);
      for (const a of granted) problems.push(`${n.fn}: ${a} is granted but never called (${n.why})`);
    }
    expect(problems).toEqual([]);
  });
});
