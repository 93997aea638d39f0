// The reconciler state machine: its full ASL written out, its IAM statements, asl-validator's and
// aws-local-stepfunctions' verdicts, and its execution names.
import { createRequire } from 'node:module';
import { StateMachine, type StateMachineDefinition as LocalDefinition } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { withPartition } from '../lib/compiler/integrations.ts';
import { compileReconciler, reconcilerExecutionName } from '../lib/compiler/reconciler.ts';

type AslValidator = (definition: unknown) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

const SCHEDULER = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-scheduler';

const EXPECTED = {
  Comment: 'airless reconciler: repairs what lost events left behind, while runs are active',
  StartAt: 'Sleep',
  States: {
    Sleep: { Type: 'Wait', Comment: 'Wait for the next round', SecondsPath: '$.loop.intervalSeconds', Next: 'Reconcile' },
    Reconcile: {
      Type: 'Task',
      Comment: 'Reconcile every queued or running run; the reply says whether any is left',
      Resource: 'arn:${Partition}:states:::lambda:invoke',
      Parameters: { FunctionName: SCHEDULER, Payload: { type: 'reconcile', 'loop.$': '$.loop' } },
      ResultSelector: { 'loop.$': '$.Payload.loop', 'next.$': '$.Payload.next', 'name.$': '$.Payload.name' },
      Retry: [
        {
          ErrorEquals: ['Lambda.ClientExecutionTimeoutException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'],
          IntervalSeconds: 2,
          MaxAttempts: 6,
          BackoffRate: 2,
          JitterStrategy: 'FULL',
        },
        { ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' },
      ],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Sleep' }],
      Next: 'Decide',
    },
    Decide: {
      Type: 'Choice',
      Choices: [
        { Variable: '$.next', StringEquals: 'done', Next: 'Done' },
        { Variable: '$.next', StringEquals: 'continue_as_new', Next: 'ContinueAsNew' },
      ],
      Default: 'Sleep',
    },
    ContinueAsNew: {
      Type: 'Task',
      Comment: 'Hand the loop to a fresh execution (25,000-event history limit)',
      Resource: 'arn:${Partition}:states:::states:startExecution',
      Parameters: {
        'StateMachineArn.$': '$$.StateMachine.Id',
        'Name.$': '$.name',
        Input: { 'loop.$': '$.loop', 'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id' },
      },
      ResultPath: null,
      Retry: [{ ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' }],
      Catch: [
        { ErrorEquals: ['StepFunctions.ExecutionAlreadyExistsException'], ResultPath: null, Next: 'Done' },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Sleep' },
      ],
      Next: 'Done',
    },
    Done: { Type: 'Succeed' },
  },
};

describe('the reconciler state machine', () => {
  it('Sleep → Reconcile → Decide: done ends it, continue_as_new hands the loop on, else Sleep; a failing round sleeps again', () => {
    const r = compileReconciler({ schedulerArn: SCHEDULER });
    expect(r.definition).toStrictEqual(EXPECTED);
    expect(r.workflowType).toStrictEqual({ type: 'STANDARD', reason: 'the reconciler waits between rounds for as long as runs are active' });
  });

  it('declares what its role needs: invoke the scheduler, start an execution of itself', () => {
    expect(compileReconciler({ schedulerArn: '${SchedulerArn}' }).statements).toStrictEqual([
      { actions: ['lambda:InvokeFunction'], resources: [{ arn: '${SchedulerArn}' }] },
      { actions: ['states:StartExecution'], resources: [{ arn: 'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${StateMachineName}' }] },
    ]);
  });

  it('is valid for asl-validator and for aws-local-stepfunctions', () => {
    const definition = withPartition(compileReconciler({ schedulerArn: SCHEDULER }).definition);
    const v = aslValidator(structuredClone(definition));
    expect(v.isValid ? 'valid' : v.errorsText('\n')).toBe('valid');
    expect(() => new StateMachine(structuredClone(definition) as unknown as LocalDefinition, { validationOptions: { checkArn: false } })).not.toThrow();
  });

  it('refuses an empty scheduler ARN', () => {
    expect(() => compileReconciler({ schedulerArn: '' })).toThrow("option 'schedulerArn' must be a non-empty string");
  });

  it('names executions by epoch and arming time, continuations by generation', () => {
    expect(reconcilerExecutionName({ epoch: 7, armedAt: 1765094400000, generation: 0 })).toBe('e7-1765094400000');
    expect(reconcilerExecutionName({ epoch: 7, armedAt: 1765094400000, generation: 3 })).toBe('e7-1765094400000-g3');
  });
});
