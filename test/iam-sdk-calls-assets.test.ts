// The asset-events function's role allows every AWS SDK call its bundle can make (as test/iam-sdk-calls.test.ts
// checks the other functions): the store's table and the bucket's values, starting lifecycles and timers, and
// nothing it never calls (Batch, stopping executions, pruning code). It calls no SQS API itself: the event
// source mapping receives and deletes the messages.
import type { CfnElement } from 'aws-cdk-lib';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAirlessApp } from '../cdk/airless-app.ts';
import type { AirlessStack } from '../cdk/airless.ts';
import { writeDagsModule } from '../cdk/dags-module.ts';
import { loadDagBag } from '../lib/dagbag/dag-bag.ts';
import { actionsNeeded, describeMissing, missingGrants, reachableFiles, roleStatements, sdkCallsOf, type SdkCall, type TemplateJson } from './support/sdk-calls.ts';

const FOLDER = 'test/fixtures/cdk-assets';
/** Reachable through the services every function holds, never called by the asset-events function. */
const NOT_CALLED = [
  'batch:SubmitJob',
  'batch:TagResource',
  'batch:ListJobs',
  'batch:DescribeJobs',
  'batch:TerminateJob',
  'states:StopExecution',
  's3:DeleteObject',
  'sns:Publish',
  'ses:SendEmail',
  'scheduler:CreateSchedule',
  'scheduler:DeleteSchedule',
  'iam:PassRole',
  // Only an answer to a human-in-the-loop request (the API) or a token stored after one (the task runner) sends a wait's token back.
  'states:SendTaskSuccess',
];

function resourceOf(action: string): RegExp | null {
  if (action.startsWith('dynamodb:')) return /"AirlessTable[0-9A-F]{8}"/;
  if (action.startsWith('s3:')) return /AirlessLargeValues[0-9A-F]{8}.*\/airless\/\*"/;
  if (action.startsWith('states:')) return /:states:/;
  return null;
}

describe('the asset-events function\'s SDK calls are granted', () => {
  let stack: AirlessStack;
  let template: TemplateJson;
  let needed: Map<string, SdkCall[]>;

  beforeAll(async () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    ({ stack } = await createAirlessApp({ dagsFolder: FOLDER, app, stackName: 'IamCallsAssets', props: {} }));
    template = Template.fromStack(stack).toJSON() as TemplateJson;
    const bag = await loadDagBag(FOLDER);
    const files = await reachableFiles(process.cwd(), 'functions/asset-events.ts', writeDagsModule(bag.folder, bag.files));
    needed = actionsNeeded(sdkCallsOf(process.cwd(), files));
  }, 180_000);

  const role = () => stack.getLogicalId(stack.airless.assetWatchers!.function.role!.node.defaultChild as CfnElement);

  it('walks the function to the store\'s and the dispatcher\'s calls, and to no SQS call', () => {
    expect([...needed.keys()]).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:ConditionCheckItem', 's3:PutObject', 'states:StartExecution']));
    expect([...needed.keys()].filter((a) => a.startsWith('sqs:'))).toStrictEqual([]);
  });

  it('grants every call it makes on the stack\'s own resources', () => {
    const required = new Map([...needed].filter(([a]) => !NOT_CALLED.includes(a)));
    expect(missingGrants(required, roleStatements(template, role()), resourceOf).map(describeMissing)).toStrictEqual([]);
  });

  it('grants none of what it can reach but never calls', () => {
    const statements = roleStatements(template, role());
    const granted = NOT_CALLED.filter((a) => missingGrants(new Map([[a, []]]), statements, () => null).length === 0);
    expect(granted).toStrictEqual([]);
  });
});
