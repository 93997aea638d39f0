// Deadline alerts in the deployed shape: the run's creation (the trigger function) starts a timer execution
// at the deadline; when it fires, the scheduler function finds the run unfinished and its notifier
// publishes to SNS (the harness's local SNS endpoint, through the real client), once. A run that ends in
// time gets nothing (its timer, when it fires, finds the run ended).
import { describe, expect, it } from 'vitest';
import { E2E_DEADLINE_TOPIC } from '../../e2e/dags/e2e_deadline.ts';
import { useHarness } from './use-harness.ts';

const h = useHarness();

describe('e2e_deadline: a deadline alert to SNS', () => {
  it('a run that overruns its deadline gets its SNS notification once; one that finishes in time gets none', async () => {
    const late = await h().run({ dagId: 'e2e_deadline', runId: 'late', conf: { polls: 30 } });
    expect(late.state).toBe('success');
    const onTime = await h().run({ dagId: 'e2e_deadline', runId: 'on_time', conf: { polls: 2 } });
    expect(onTime.state).toBe('success');
    await h().settle();

    const deadline = new Date(Date.parse(late.queuedAt) + 10 * 60_000).toISOString();
    expect(h().notifyApi.published).toStrictEqual([{ topicArn: E2E_DEADLINE_TOPIC, subject: 'e2e_deadline is late', message: `late missed ${deadline} (running)` }]);
    // Each run's deadline was one timer execution delivered to the scheduler function.
    const deadlineTimers = h().invocations.filter((c) => (c.payload as { event?: { type?: string } }).event?.type === 'deadline');
    expect(deadlineTimers.map((c) => [c.functionName, (c.payload as { event: { runId: string } }).event.runId])).toStrictEqual([
      ['airless-e2e-scheduler', 'late'],
      ['airless-e2e-scheduler', 'on_time'],
    ]);
    expect(h().errors).toStrictEqual([]);
  });
});
