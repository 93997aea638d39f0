// The `hitl` lifecycle machine (a human-in-the-loop task): its full expected ASL, written out here, not
// derived from the compiler; asl-validator; its IAM; its history; and the waitForTaskToken integration's
// refusal of a payload that carries no task token.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  AslCompileError,
  compileLifecycleMachine,
  estimateHistoryEvents,
  HISTORY_EVENT_LIMIT,
  MACHINE_WORKFLOW_TYPE,
  withPartition,
  type CompileOptions,
  type StateMachineDefinition,
} from '../lib/compiler/index.ts';
import { HITL_MAX_WAIT_SECONDS } from '../lib/compiler/hitl-lifecycle.ts';
import { invokeLambdaWaitForTaskToken } from '../lib/compiler/integrations.ts';

type AslValidator = (definition: unknown) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

function validate(definition: StateMachineDefinition): string {
  const r = aslValidator(structuredClone(definition));
  return r.isValid ? 'valid' : `invalid:\n${r.errorsText('\n')}`;
}

const RUNNER = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-task-runner';
const SCHEDULER = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-scheduler';
const POKE = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-sensor-poke';
const OPTIONS: CompileOptions = { taskRunnerArn: RUNNER, schedulerArn: SCHEDULER, sensorPokeArn: POKE };

const LAMBDA_RETRY = {
  ErrorEquals: ['Lambda.ClientExecutionTimeoutException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'],
  IntervalSeconds: 2,
  MaxAttempts: 6,
  BackoffRate: 2,
  JitterStrategy: 'FULL',
};
const TRY_FAILED = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'TryFailed' }];

const HITL_EXPECTED = {
  Comment: "airless human-in-the-loop lifecycle: write the request, wait for the answer's task token (or the timeout), complete",
  StartAt: 'Prepare',
  States: {
    Prepare: {
      Type: 'Task',
      Comment: 'Run the try: write the request, defer the instance; the reply says how long to wait for an answer',
      Resource: 'arn:${Partition}:states:::lambda:invoke',
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'hitl_prepare', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
      ResultSelector: { 'wait.$': '$.Payload.wait' },
      ResultPath: '$.try',
      Retry: [LAMBDA_RETRY],
      Catch: TRY_FAILED,
      Next: 'CheckPrepared',
    },
    CheckPrepared: {
      Type: 'Choice',
      Comment: 'Nothing to wait for (the runner reported the try): done',
      Choices: [{ Variable: '$.try.wait', IsNull: true, Next: 'Done' }],
      Default: 'WaitForAnswer',
    },
    Done: { Type: 'Succeed' },
    WaitForAnswer: {
      Type: 'Task',
      Comment: "Store this state's task token on the request, then wait (holding nothing) until the answer sends it back",
      Resource: 'arn:${Partition}:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'hitl_token', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'token.$': '$$.Task.Token' } },
      TimeoutSecondsPath: '$.try.wait.timeoutSeconds',
      ResultPath: '$.answer',
      Retry: [LAMBDA_RETRY],
      Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: null, Next: 'TimedOut' }, ...TRY_FAILED],
      Next: 'Complete',
    },
    Complete: {
      Type: 'Task',
      Comment: 'The answer came: the try succeeds with it, reported',
      Resource: 'arn:${Partition}:states:::lambda:invoke',
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'hitl_complete', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
      ResultPath: null,
      Retry: [LAMBDA_RETRY],
      Catch: TRY_FAILED,
      End: true,
    },
    TimedOut: {
      Type: 'Task',
      Comment: 'Nobody answered in time: the defaults are taken, or the try fails, reported',
      Resource: 'arn:${Partition}:states:::lambda:invoke',
      Parameters: { FunctionName: RUNNER, Payload: { mode: 'hitl_timeout', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' } },
      ResultPath: null,
      Retry: [LAMBDA_RETRY],
      Catch: TRY_FAILED,
      End: true,
    },
    TryFailed: {
      Type: 'Pass',
      Comment: 'The invocation failed: the try failed with "<Error>: <Cause>"',
      Parameters: { result: { kind: 'failure', 'error.$': "States.Format('{}: {}', $.error.Error, $.error.Cause)", retriable: true } },
      ResultPath: '$.try',
      Next: 'Report',
    },
    Report: {
      Type: 'Task',
      Comment: 'Tell the scheduler the try failed; whatever comes next starts in a new execution',
      Resource: 'arn:${Partition}:states:::lambda:invoke',
      Parameters: { FunctionName: SCHEDULER, Payload: { type: 'try_finished', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'result.$': '$.try.result' } },
      ResultPath: null,
      Retry: [LAMBDA_RETRY, { ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' }],
      End: true,
    },
  },
};

describe('the hitl lifecycle machine', () => {
  it('hitl (Standard): Prepare → CheckPrepared (nothing to wait for: Done) → WaitForAnswer (.waitForTaskToken, its timeout from the reply; States.Timeout → TimedOut) → Complete (End)', () => {
    const c = compileLifecycleMachine('hitl', OPTIONS);
    expect(c.definition).toStrictEqual(HITL_EXPECTED);
    expect(validate(withPartition(c.definition))).toBe('valid');
    expect(c.workflowType).toStrictEqual({ type: 'STANDARD', reason: "a person's answer is waited for with .waitForTaskToken (which Express does not support), for up to a year" });
    expect(MACHINE_WORKFLOW_TYPE.hitl.type).toBe('STANDARD');
  });

  it('its role may invoke the task runner and the scheduler, and nothing else: sending the token back is the answerer\'s to do', () => {
    const c = compileLifecycleMachine('hitl', OPTIONS);
    expect(c.statements).toStrictEqual([
      { actions: ['lambda:InvokeFunction'], resources: [{ arn: RUNNER }, { arn: SCHEDULER }] },
    ]);
  });

  it('its history does not grow with the wait: 19 events a try, far under the limit', () => {
    expect(estimateHistoryEvents('hitl')).toBe(19);
    expect(estimateHistoryEvents('hitl', { loops: 5 })).toBe(19);
    expect(estimateHistoryEvents('hitl')).toBeLessThan(HISTORY_EVENT_LIMIT);
  });

  it('waits at most an hour short of a Standard execution\'s year', () => {
    expect(HITL_MAX_WAIT_SECONDS).toBe(365 * 86_400 - 3600);
  });

  it('a waitForTaskToken invocation whose payload carries no $$.Task.Token is refused, naming the function', () => {
    expect(() => invokeLambdaWaitForTaskToken({ functionName: RUNNER, payload: { mode: 'hitl_token' }, next: null })).toThrow(AslCompileError);
    expect(() => invokeLambdaWaitForTaskToken({ functionName: RUNNER, payload: { mode: 'hitl_token' }, next: null })).toThrow(
      `a waitForTaskToken invocation of '${RUNNER}' must carry $$.Task.Token in its payload, or nothing can send it back`,
    );
  });
});
