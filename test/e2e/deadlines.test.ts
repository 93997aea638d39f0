// Deadline alerts in the deployed shape: the run's creation (the trigger function) creates a one-time
// EventBridge Scheduler schedule at the deadline (the harness's local Scheduler API, through the real
// client); when it fires, it invokes the scheduler function, which finds the run unfinished, and the
// notifier publishes to SNS (the harness's local SNS endpoint), once; the schedule deletes itself after. A
// run that ends in time has its schedule deleted when it ends: nothing fires, nothing is published.
import { describe, expect, it } from 'vitest';
import { E2E_DEADLINE_TOPIC } from '../../e2e/dags/e2e_deadline.ts';
import { DEADLINE_SCHEDULE_GROUP, FUNCTION_NAMES } from '../../e2e/harness.ts';
import { atExpression, deadlineScheduleName } from '../../lib/aws/deadline-schedules.ts';
import { useHarness } from './use-harness.ts';

const h = useHarness();

describe('e2e_deadline: a deadline alert on an EventBridge Scheduler schedule, to SNS', () => {
  it('a run that overruns its deadline gets its SNS notification once; one that finishes in time gets none', async () => {
    const history = h().schedulerApi.history;
    const before = history.length;
    const late = await h().run({ dagId: 'e2e_deadline', runId: 'late', conf: { polls: 30 } });
    expect(late.state).toBe('success');
    const onTime = await h().run({ dagId: 'e2e_deadline', runId: 'on_time', conf: { polls: 2 } });
    expect(onTime.state).toBe('success');
    await h().settle();

    const deadline = Date.parse(late.queuedAt) + 10 * 60_000;
    expect(h().notifyApi.published).toStrictEqual([
      { topicArn: E2E_DEADLINE_TOPIC, subject: 'e2e_deadline is late', message: `late missed ${new Date(deadline).toISOString()} (running)` },
    ]);
    const lateName = deadlineScheduleName({ type: 'deadline', dagId: 'e2e_deadline', runId: 'late', index: 0 }, deadline);
    const onTimeName = deadlineScheduleName({ type: 'deadline', dagId: 'e2e_deadline', runId: 'on_time', index: 0 }, Date.parse(onTime.queuedAt) + 10 * 60_000);
    // The late run's schedule was created, fired and deleted itself; the one in time was created and deleted when the run ended.
    expect(history.slice(before)).toStrictEqual([
      { op: 'created', name: lateName, groupName: DEADLINE_SCHEDULE_GROUP },
      { op: 'fired', name: lateName, groupName: DEADLINE_SCHEDULE_GROUP },
      { op: 'deleted', name: lateName, groupName: DEADLINE_SCHEDULE_GROUP },
      { op: 'created', name: onTimeName, groupName: DEADLINE_SCHEDULE_GROUP },
      { op: 'deleted', name: onTimeName, groupName: DEADLINE_SCHEDULE_GROUP },
    ]);
    expect(h().schedulerApi.current).toStrictEqual([]);
    expect(h().schedulerApi.failures).toStrictEqual([]);
    // The deadline was one invocation of the scheduler function, by the schedule, with the timer event; no timer execution.
    const deadlineTimers = h().invocations.filter((c) => (c.payload as { event?: { type?: string } }).event?.type === 'deadline');
    expect(deadlineTimers).toStrictEqual([
      { functionName: FUNCTION_NAMES.scheduler, payload: { type: 'timer', event: { type: 'deadline', dagId: 'e2e_deadline', runId: 'late', index: 0 }, standalone: true } },
    ]);
    const deadlineExecutions = [...h().sfn.executions.values()].filter((e) => e.stateMachineName === h().naming.timer && e.input.includes('"deadline"'));
    expect(deadlineExecutions).toStrictEqual([]);
    expect(h().errors).toStrictEqual([]);
  });

  it('a schedule is one-time, in UTC, at the deadline rounded up to the second, named within Scheduler\'s rules', () => {
    expect(atExpression(Date.parse('2026-03-01T10:20:30.000Z'))).toBe('at(2026-03-01T10:20:30)');
    expect(atExpression(Date.parse('2026-03-01T10:20:30.001Z'))).toBe('at(2026-03-01T10:20:31)');
    const name = deadlineScheduleName({ type: 'deadline', dagId: 'a very/long:dag id'.repeat(6), runId: 'manual__2026-03-01T10:00:00+00:00', index: 3 }, 0);
    expect(name).toMatch(/^[0-9a-zA-Z_.-]{1,64}$/);
    expect(name.length).toBe(64);
    expect(deadlineScheduleName({ type: 'deadline', dagId: 'd', runId: 'r', index: 0 }, 0)).not.toBe(deadlineScheduleName({ type: 'deadline', dagId: 'd', runId: 'r', index: 1 }, 0));
  });
});
