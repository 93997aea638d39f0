import { createRequire } from 'node:module';
import { StateMachine, type StateMachineDefinition as LocalDefinition } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { eventBridgeCron, eventBridgeSchedule, ScheduleExpressionError } from '../cdk/schedule-expression.ts';
import { compileTimer } from '../cdk/timer-definition.ts';
import { withPartition } from '../lib/compiler/integrations.ts';
import { parseSchedule } from '../lib/model/schedule.ts';

// asl-validator is CommonJS without types: `validator(definition) → {isValid, errorsText}`.
type AslValidator = (definition: unknown) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

describe('DAG schedules as EventBridge Scheduler expressions', () => {
  it.each([
    ['0 2 * * *', 'cron(0 2 * * ? *)'],
    ['30 2 * * 1-5', 'cron(30 2 ? * 2,3,4,5,6 *)'],
    ['0 0 * * 0', 'cron(0 0 ? * 1 *)'],
    ['0 0 * * 7', 'cron(0 0 ? * 1 *)'],
    ['0 0 * * 5-7', 'cron(0 0 ? * 1,6,7 *)'],
    ['0 9 * * MON,FRI', 'cron(0 9 ? * 2,6 *)'],
    ['0 9 * * */2', 'cron(0 9 ? * 1,3,5,7 *)'],
    ['0 9 * * 5#2', 'cron(0 9 ? * 6#2 *)'],
    ['0 9 * * 5L', 'cron(0 9 ? * 6L *)'],
    ['*/15 * * * *', 'cron(0/15 * * * ? *)'],
    ['0 */6 * * *', 'cron(0 0/6 * * ? *)'],
    ['0 0 */2 * *', 'cron(0 0 1/2 * ? *)'],
    ['0 12 1 1,7 *', 'cron(0 12 1 1,7 ? *)'],
  ])('%s → %s', (unix, aws) => {
    expect(eventBridgeCron(unix)).toBe(aws);
  });

  it('refuses a cron that restricts both day fields (Unix cron reads them as either), naming the DAG', () => {
    expect(() => eventBridgeCron('0 0 1 * 1', "DAG 'monthly', field 'schedule'")).toThrow(ScheduleExpressionError);
    expect(() => eventBridgeCron('0 0 1 * 1', "DAG 'monthly', field 'schedule'")).toThrow(/DAG 'monthly', field 'schedule': '0 0 1 \* 1' restricts both/);
  });

  it('keeps a cron schedule\'s timezone, passes rates through, and makes @once a one-time schedule', () => {
    const at = (schedule: Parameters<typeof parseSchedule>[0], startDate: string | null = null) =>
      eventBridgeSchedule({ dagId: 'd', schedule: parseSchedule(schedule, { dagId: 'd' }), startDate }, new Date('2026-06-01T00:00:00Z'));
    expect(at({ cron: '0 6 * * *', timezone: 'Australia/Perth' })).toStrictEqual({ kind: 'recurring', expression: 'cron(0 6 * * ? *)', timezone: 'Australia/Perth' });
    expect(at('@daily')).toStrictEqual({ kind: 'recurring', expression: 'cron(0 0 * * ? *)', timezone: 'UTC' });
    expect(at('@weekly')).toStrictEqual({ kind: 'recurring', expression: 'cron(0 0 ? * 1 *)', timezone: 'UTC' });
    expect(at('rate(1 hour)')).toStrictEqual({ kind: 'recurring', expression: 'rate(1 hour)', timezone: 'UTC' });
    expect(at('@once', '2026-07-01T10:00:00.500Z')).toStrictEqual({ kind: 'once', expression: 'at(2026-07-01T10:00:01)', timezone: 'UTC', at: new Date('2026-07-01T10:00:00.500Z') });
    expect(at('@once', '2026-01-01T00:00:00Z')).toMatchObject({ kind: 'none', reason: expect.stringMatching(/has passed/) });
    expect(at('@once')).toMatchObject({ kind: 'none', reason: expect.stringMatching(/without a startDate/) });
    expect(at(null)).toMatchObject({ kind: 'none' });
  });
});

describe('the timer state machine', () => {
  const SCHEDULER = 'arn:aws:lambda:eu-west-1:123456789012:function:airless-scheduler';
  const definition = compileTimer({ schedulerArn: SCHEDULER });

  it('waits until `at`, then hands the event to the scheduler as a standalone timer', () => {
    expect(definition).toStrictEqual({
      Comment: 'airless timer: deliver one event to the scheduler at a time',
      StartAt: 'WaitUntil',
      States: {
        WaitUntil: { Type: 'Wait', Comment: 'Wait until the time the scheduler asked for', TimestampPath: '$.at', Next: 'Deliver' },
        Deliver: {
          Type: 'Task',
          Comment: 'Hand the event to the scheduler; whatever it starts, it starts anew',
          Resource: 'arn:${Partition}:states:::lambda:invoke',
          Parameters: { FunctionName: SCHEDULER, Payload: { type: 'timer', 'event.$': '$.event', standalone: true } },
          ResultPath: null,
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
          Next: 'Done',
        },
        Done: { Type: 'Succeed' },
      },
    });
    const r = aslValidator(structuredClone(withPartition(definition)));
    expect(r.isValid ? 'valid' : r.errorsText('\n')).toBe('valid');
    expect(() => compileTimer({ schedulerArn: '' })).toThrow(/schedulerArn/);
  });

  it('runs on aws-local-stepfunctions: the scheduler gets the event once', async () => {
    const event = { type: 'retry', key: { dagId: 'd', runId: 'r', taskId: 't', mapIndex: -1 }, tryNumber: 1 };
    const calls: unknown[] = [];
    const sm = new StateMachine(withPartition(definition) as unknown as LocalDefinition, { validationOptions: { checkArn: false } });
    const ex = sm.run({ at: '2026-01-01T00:05:00Z', event }, {
      overrides: {
        taskResourceLocalHandlers: {
          Deliver: async (input) => {
            calls.push((input as { Payload: unknown }).Payload);
            return { Payload: { action: 'done' } };
          },
        },
        waitTimeOverrides: { WaitUntil: 0 },
      },
    });
    expect(await ex.result).toStrictEqual({ at: '2026-01-01T00:05:00Z', event });
    expect(calls).toStrictEqual([{ type: 'timer', event, standalone: true }]);
  });
});
