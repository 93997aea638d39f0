// The harness's `lambda:invoke.waitForTaskToken` (aws-local-stepfunctions has none): the state's token
// reaches the invoked function, the real client-sfn sends it back to the local Step Functions API
// (SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat), and the state's timeouts pass on the harness
// clock, ending in States.Timeout. Tokens are refused as Step Functions refuses them.
import { describe, expect, it } from 'vitest';
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { sfnClient } from '../../lib/aws/sfn-dispatcher.ts';
import type { StateMachineDefinition } from '../../lib/compiler/asl-types.ts';
import { useHarness } from './use-harness.ts';

const harness = useHarness({ handlers: 'core' });

/** What the token keeper function was invoked with, in order. */
const received: { token: string; n: number }[] = [];

const MACHINE = 'token-test';
const definition = (timeout: { TimeoutSecondsPath: string } | { HeartbeatSeconds: number; TimeoutSeconds: number } | Record<string, never>) =>
  ({
    StartAt: 'Wait',
    States: {
      Wait: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        Parameters: { FunctionName: 'token-keeper', Payload: { 'token.$': '$$.Task.Token', 'n.$': '$.n' } },
        ...timeout,
        ResultPath: '$.answer',
        Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'TimedOut' }],
        End: true,
      },
      TimedOut: { Type: 'Pass', End: true },
    },
  }) as unknown as StateMachineDefinition;

function client(): SFNClient {
  return sfnClient({ endpoint: harness().sfn.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'e2e', secretAccessKey: 'e2e' } });
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'taken';
  } catch (e) {
    return (e as Error).name;
  }
}

describe('waitForTaskToken on the harness', () => {
  it('the function gets the token; SendTaskSuccess (the real client) ends the wait with its output as the result; the token is then spent', async () => {
    const h = harness();
    h.lambda.register('token-keeper', async (event: { token: string; n: number }) => {
      received.push(event);
      return { stored: true };
    });
    const arn = h.sfn.register(MACHINE, definition({ TimeoutSecondsPath: '$.timeout' }));
    // Held: nothing skips the clock to the timeout while this test answers.
    const release = h.clock.hold();
    const waiting = h.sfn.nextTaskWaiting('Wait');
    const { executionArn } = h.sfn.startExecution({ stateMachineArn: arn, name: 'success', input: JSON.stringify({ n: 1, timeout: 3600 }) });
    const w = await waiting;
    expect(w.executionArn).toBe(executionArn);
    expect(received.at(-1)).toStrictEqual({ token: w.token, n: 1 });
    expect(h.sfn.tasksWaiting()).toStrictEqual([{ token: w.token, executionArn, stateName: 'Wait' }]);
    const sfn = client();
    await sfn.send(new SendTaskSuccessCommand({ taskToken: w.token, output: JSON.stringify({ chosen: ['Approve'] }) }));
    release();
    await h.settle();
    const d = h.sfn.describeExecution(executionArn);
    expect(d['status']).toBe('SUCCEEDED');
    expect(JSON.parse(String(d['output']))).toStrictEqual({ n: 1, timeout: 3600, answer: { chosen: ['Approve'] } });
    // Sent back once: a second answer is refused as Step Functions refuses it; so is a token never issued.
    expect(await refusal(sfn.send(new SendTaskSuccessCommand({ taskToken: w.token, output: '{}' })))).toBe('TaskTimedOut');
    expect(await refusal(sfn.send(new SendTaskSuccessCommand({ taskToken: 'not-a-token', output: '{}' })))).toBe('InvalidToken');
    expect(h.sfn.tasksWaiting()).toStrictEqual([]);
    sfn.destroy();
  });

  it('SendTaskFailure fails the state with its error and cause; output that is not JSON is refused', async () => {
    const h = harness();
    const arn = h.sfn.register(`${MACHINE}-failure`, definition({ TimeoutSecondsPath: '$.timeout' }));
    const release = h.clock.hold();
    const waiting = h.sfn.nextTaskWaiting('Wait');
    const { executionArn } = h.sfn.startExecution({ stateMachineArn: arn, name: 'failure', input: JSON.stringify({ n: 2, timeout: 60 }) });
    const w = await waiting;
    const sfn = client();
    expect(await refusal(sfn.send(new SendTaskSuccessCommand({ taskToken: w.token, output: 'not json' })))).toBe('InvalidOutput');
    await sfn.send(new SendTaskFailureCommand({ taskToken: w.token, error: 'Rejected', cause: 'by a person' }));
    release();
    await h.settle();
    const d = h.sfn.describeExecution(executionArn);
    expect([d['status'], d['error'], d['cause']]).toStrictEqual(['FAILED', 'Rejected', 'by a person']);
    sfn.destroy();
  });

  it('TimeoutSecondsPath passes on the harness clock (it skips there when nothing else runs): States.Timeout, caught; a late answer is refused', async () => {
    const h = harness();
    const arn = h.sfn.register(`${MACHINE}-timeout`, definition({ TimeoutSecondsPath: '$.timeout' }));
    const waiting = h.sfn.nextTaskWaiting('Wait');
    const before = h.clock.now();
    const { executionArn } = h.sfn.startExecution({ stateMachineArn: arn, name: 'timeout', input: JSON.stringify({ n: 3, timeout: 86_400 }) });
    const w = await waiting;
    await h.settle();
    const d = h.sfn.describeExecution(executionArn);
    expect(d['status']).toBe('SUCCEEDED');
    const out = JSON.parse(String(d['output'])) as { error: { Error: string } };
    expect(out.error.Error).toBe('States.Timeout');
    // A day went by on the clock, and no more than that wait.
    expect(h.clock.now() - before).toBeGreaterThanOrEqual(86_400_000);
    const sfn = client();
    expect(await refusal(sfn.send(new SendTaskSuccessCommand({ taskToken: w.token, output: '{}' })))).toBe('TaskTimedOut');
    sfn.destroy();
  });
});
