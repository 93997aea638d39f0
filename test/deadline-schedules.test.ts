// Deadline timers as one-time EventBridge Scheduler schedules (lib/aws/deadline-schedules.ts), through the
// real @aws-sdk/client-scheduler to the e2e harness's local Scheduler API (e2e/scheduler-api.ts): what a
// schedule is made of, a replayed arm, a past deadline, deleting an ended run's schedules, the environment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dag } from '../lib/authoring/dag.ts';
import { DeadlineSchedules, deadlineScheduleName, deadlineSchedulesFromEnv, deadlineTimersOn, schedulerClient } from '../lib/aws/deadline-schedules.ts';
import type { SchedulerEvent } from '../lib/scheduler/host.ts';
import type { DagRunRecord } from '../lib/store/records.ts';
import type { HarnessClock } from '../e2e/harness-clock.ts';
import { LocalSchedulerApi } from '../e2e/scheduler-api.ts';

const NOW = Date.parse('2026-03-01T10:00:00.000Z');
/** A clock at NOW on which nothing comes due: schedules are only created and deleted here. */
const STILL: HarnessClock = { now: () => NOW, sleepUntil: () => new Promise(() => undefined), hold: () => () => undefined, track: (fn) => fn() };
const ROLE = 'arn:aws:iam::123456789012:role/deadline-scheduler';
const TARGET = 'arn:aws:lambda:us-east-1:123456789012:function:airless-scheduler';
const CREDENTIALS = { accessKeyId: 'x', secretAccessKey: 'x' };

const late = dag(
  {
    dagId: 'late',
    deadline: [
      { reference: 'dagrun_queued_at', interval: '30m', callback: () => undefined },
      { reference: 'dagrun_queued_at', interval: '2h', callback: () => undefined },
      { reference: 'dagrun_logical_date', interval: '1m', callback: () => undefined },
    ],
  },
  ({ task }) => void task('t', () => 1),
);

function runOf(runId: string, state: DagRunRecord['state']): DagRunRecord {
  return { dagId: 'late', runId, state, queuedAt: new Date(NOW).toISOString(), logicalDate: new Date(NOW - 3_600_000).toISOString(), dagVersion: late.spec.version } as DagRunRecord;
}

describe('deadline schedules', () => {
  const api = new LocalSchedulerApi({ clock: STILL, invoke: () => Promise.reject(new Error('nothing fires here')) });
  let schedules: DeadlineSchedules;

  beforeAll(async () => {
    const endpoint = await api.listen();
    schedules = new DeadlineSchedules({ client: schedulerClient({ endpoint, credentials: CREDENTIALS }), groupName: 'g', roleArn: ROLE, targetArn: TARGET, now: () => NOW });
  });
  afterAll(() => api.close());

  it('arms a one-time UTC schedule at the deadline that invokes the target with the timer event and deletes itself; a replay finds it armed', async () => {
    const event = { type: 'deadline' as const, dagId: 'late', runId: 'r1', index: 0 };
    const at = NOW + 30 * 60_000 + 1;
    expect(await schedules.arm(at, event)).toBe(true);
    expect(await schedules.arm(at, event)).toBe(true);
    const name = deadlineScheduleName(event, at);
    expect(api.current).toStrictEqual([
      {
        name,
        groupName: 'g',
        expression: 'at(2026-03-01T10:30:01)',
        at: NOW + 30 * 60_000 + 1000,
        targetArn: TARGET,
        roleArn: ROLE,
        input: { type: 'timer', event, standalone: true },
        actionAfterCompletion: 'DELETE',
      },
    ]);
    expect(api.history).toStrictEqual([{ op: 'created', name, groupName: 'g' }]);
  });

  it('arms nothing for a deadline already due (the host starts a timer execution instead)', async () => {
    const before = api.history.length;
    expect(await schedules.arm(NOW, { type: 'deadline', dagId: 'late', runId: 'r2', index: 0 })).toBe(false);
    expect(await schedules.arm(NOW - 1000, { type: 'deadline', dagId: 'late', runId: 'r2', index: 1 })).toBe(false);
    expect(api.history.length).toBe(before);
  });

  it("deletes an ended run's schedules still to come, and finds one already gone fine", async () => {
    const run = runOf('r3', 'success');
    const events: SchedulerEvent[] = [];
    const timers = deadlineTimersOn(schedules, { getDag: (id) => (id === 'late' ? late : undefined) }, (e) => events.push(e));
    // Deadlines 0 and 1 are to come (queued + 30m, + 2h); 2 (logical date + 1m) is past.
    for (const index of [0, 1]) expect(await timers.arm(NOW + [30, 120][index]! * 60_000, { type: 'deadline', dagId: 'late', runId: 'r3', index })).toBe(true);
    const names = [0, 1].map((index) => deadlineScheduleName({ type: 'deadline', dagId: 'late', runId: 'r3', index }, NOW + [30, 120][index]! * 60_000));
    expect(api.current.filter((s) => names.includes(s.name))).toHaveLength(2);
    await timers.runEnded(run);
    expect(api.current.filter((s) => names.includes(s.name))).toStrictEqual([]);
    expect(api.history.filter((h) => names.includes(h.name) && h.op === 'deleted').map((h) => h.name).sort()).toStrictEqual([...names].sort());
    // Again: each is gone (ResourceNotFoundException), nothing is reported.
    await timers.runEnded(run);
    expect(events).toStrictEqual([]);
  });

  it('reports a failed delete as a scheduler event instead of failing the run\'s end', async () => {
    const broken = new DeadlineSchedules({ client: schedulerClient({ endpoint: 'http://127.0.0.1:1', credentials: CREDENTIALS, maxAttempts: 1 }), groupName: 'g', roleArn: ROLE, targetArn: TARGET, now: () => NOW });
    const events: SchedulerEvent[] = [];
    await deadlineTimersOn(broken, { getDag: () => late }, (e) => events.push(e)).runEnded(runOf('r4', 'failed'));
    expect(events.map((e) => (e.type === 'error' ? [e.where, e.run] : e.type))).toStrictEqual([['deadline schedules', { dagId: 'late', runId: 'r4' }]]);
  });

  it('names a schedule within Scheduler\'s rules, deterministically, one per deadline and instant', () => {
    const e = { type: 'deadline' as const, dagId: 'x'.repeat(300), runId: 'manual__2026-03-01T10:00:00+00:00', index: 0 };
    expect(deadlineScheduleName(e, NOW)).toMatch(/^[0-9a-zA-Z_.-]{1,64}$/);
    expect(deadlineScheduleName(e, NOW + 1)).toBe(deadlineScheduleName({ ...e }, NOW + 1000));
    expect(deadlineScheduleName(e, NOW)).not.toBe(deadlineScheduleName({ ...e, index: 1 }, NOW));
    expect(deadlineScheduleName(e, NOW)).not.toBe(deadlineScheduleName(e, NOW + 1001));
    expect(deadlineScheduleName({ ...e, dagId: 'a b/c' }, NOW)).toMatch(/^airless-dl-a_b_c-[0-9a-f]{32}$/);
  });
});

describe('deadline schedules from the environment', () => {
  it('are off without a group', () => {
    expect(deadlineSchedulesFromEnv({})).toBeUndefined();
  });

  it('need the role and a target, naming what is missing', () => {
    expect(() => deadlineSchedulesFromEnv({ DEADLINE_SCHEDULE_GROUP: 'g' })).toThrow(/DEADLINE_SCHEDULE_ROLE_ARN is not set \(DEADLINE_SCHEDULE_GROUP is/);
    expect(() => deadlineSchedulesFromEnv({ DEADLINE_SCHEDULE_GROUP: 'g', DEADLINE_SCHEDULE_ROLE_ARN: ROLE })).toThrow(/DEADLINE_SCHEDULE_FUNCTION_ARN_PREFIX is not set/);
    expect(() => deadlineSchedulesFromEnv({ DEADLINE_SCHEDULE_GROUP: 'g', DEADLINE_SCHEDULE_ROLE_ARN: 'role', DEADLINE_SCHEDULE_TARGET_ARN: TARGET })).toThrow(/roleArn must be an IAM role ARN, got 'role'/);
    expect(deadlineSchedulesFromEnv({ DEADLINE_SCHEDULE_GROUP: 'g', DEADLINE_SCHEDULE_ROLE_ARN: ROLE, DEADLINE_SCHEDULE_TARGET_ARN: TARGET })).toBeInstanceOf(DeadlineSchedules);
  });

  it('target the function itself from its name and the ARN prefix', async () => {
    const api = new LocalSchedulerApi({ clock: STILL, invoke: () => Promise.resolve(null) });
    const endpoint = await api.listen();
    const saved = { ...process.env };
    try {
      // The client's endpoint from AWS_ENDPOINT_URL_SCHEDULER, as every airless client's.
      Object.assign(process.env, { AWS_ENDPOINT_URL_SCHEDULER: endpoint, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' });
      const s = deadlineSchedulesFromEnv(
        { DEADLINE_SCHEDULE_GROUP: 'g', DEADLINE_SCHEDULE_ROLE_ARN: ROLE, DEADLINE_SCHEDULE_FUNCTION_ARN_PREFIX: 'arn:aws:lambda:us-east-1:123456789012:function:', AWS_LAMBDA_FUNCTION_NAME: 'sched' },
        () => NOW,
      )!;
      expect(await s.arm(NOW + 60_000, { type: 'deadline', dagId: 'd', runId: 'r', index: 0 })).toBe(true);
      expect(api.current.map((c) => c.targetArn)).toStrictEqual(['arn:aws:lambda:us-east-1:123456789012:function:sched']);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      await api.close();
    }
  });
});
