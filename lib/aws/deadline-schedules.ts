// Deployed deadline alerts: each deadline timer of a run (lib/scheduler/deadlines.ts) is a one-time
// EventBridge Scheduler schedule, `at(...)` in UTC, that invokes the scheduler function with the timer event
// and deletes itself after (ActionAfterCompletion DELETE). Its name is derived from the run, the deadline's
// index and its instant, so a replayed arm finds it (ConflictException: already armed). When the run ends,
// its schedules still to come are deleted (ResourceNotFoundException: already gone). Whatever fires, the
// scheduler still checks that the run is unfinished and counts the deadline up once (`onDeadline`).

import { createHash } from 'node:crypto';
import { CreateScheduleCommand, DeleteScheduleCommand, SchedulerClient, type SchedulerClientConfig } from '@aws-sdk/client-scheduler';
import type { Dag } from '../authoring/dag.ts';
import { dagAtVersion, type DagResolver } from '../authoring/dag-resolver.ts';
import { baseClientConfig, type Env } from '../clients/aws-clients.ts';
import { deadlineAt } from '../core/deadlines.ts';
import type { TimerEvent } from '../core/events.ts';
import type { SchedulerEvent } from '../scheduler/host.ts';
import { runRefOf, type DagRunRecord } from '../store/records.ts';
import type { DeadlineTimers } from './invocation-host.ts';

/** A deadline's timer event. */
export type DeadlineEvent = Extract<TimerEvent, { type: 'deadline' }>;

/** An EventBridge Scheduler client (endpoint from `AWS_ENDPOINT_URL_SCHEDULER` / `AWS_ENDPOINT_URL` unless given). */
export function schedulerClient(config: SchedulerClientConfig = {}, env: Env = process.env): SchedulerClient {
  return new SchedulerClient({ ...baseClientConfig(env), ...config });
}

/** The schedule's instant: `at` rounded up to the second (a schedule never fires before the deadline itself). */
export function scheduleSecond(at: number): number {
  return Math.ceil(at / 1000) * 1000;
}

/** `at(yyyy-mm-ddThh:mm:ss)` of an instant (UTC, rounded up to the second). */
export function atExpression(at: number): string {
  return `at(${new Date(scheduleSecond(at)).toISOString().slice(0, 19)})`;
}

/**
 * The schedule's name: `airless-dl-`, the DAG id's first characters that Scheduler allows (for a reader
 * of the console), and a hash of (DAG, run, deadline index, instant's second). At most 64 characters of
 * `[0-9a-zA-Z-_.]`. The instant is in it so that a deadline re-armed at another instant (a run re-queued
 * since its first arm) is a new schedule, not one refused as already there.
 */
export function deadlineScheduleName(event: DeadlineEvent, at: number): string {
  const hash = createHash('sha256').update(JSON.stringify([event.dagId, event.runId, event.index, scheduleSecond(at)])).digest('hex').slice(0, 32);
  const readable = event.dagId.replace(/[^0-9a-zA-Z_.-]/g, '_').slice(0, 64 - 'airless-dl-'.length - 1 - hash.length);
  return `airless-dl-${readable}-${hash}`;
}

export interface DeadlineSchedulesOptions {
  client: SchedulerClient;
  /** The schedule group the schedules are created in (the construct's). */
  groupName: string;
  /** The role EventBridge Scheduler assumes to invoke the target (lambda:InvokeFunction on it). */
  roleArn: string;
  /** The function that takes timer events (the scheduler function's ARN). */
  targetArn: string;
  /** Default Date.now. */
  now?: () => number;
}

function errorName(e: unknown): string {
  return (e as { name?: string } | null)?.name ?? '';
}

/** Deadline timers as one-time EventBridge Scheduler schedules. */
export class DeadlineSchedules {
  private readonly now: () => number;

  constructor(private readonly o: DeadlineSchedulesOptions) {
    if (!o.groupName) throw new Error('deadline schedules: groupName is empty');
    if (!o.roleArn.startsWith('arn:')) throw new Error(`deadline schedules: roleArn must be an IAM role ARN, got '${o.roleArn}'`);
    if (!o.targetArn.startsWith('arn:')) throw new Error(`deadline schedules: targetArn must be a Lambda function ARN, got '${o.targetArn}'`);
    this.now = o.now ?? Date.now;
  }

  /**
   * Arm a deadline at `at`: a one-time schedule invoking the target with `{type: 'timer', event,
   * standalone: true}`. False when `at` is not in the future (a schedule for a past second need not fire:
   * the caller delivers such a timer another way). A schedule already there (a replayed arm) is kept.
   */
  async arm(at: number, event: DeadlineEvent): Promise<boolean> {
    if (scheduleSecond(at) <= this.now()) return false;
    try {
      await this.o.client.send(
        new CreateScheduleCommand({
          Name: deadlineScheduleName(event, at),
          GroupName: this.o.groupName,
          ScheduleExpression: atExpression(at),
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          Description: `airless deadline ${event.index} of run ${event.runId} of DAG ${event.dagId}`.slice(0, 512),
          Target: { Arn: this.o.targetArn, RoleArn: this.o.roleArn, Input: JSON.stringify({ type: 'timer', event, standalone: true }) },
        }),
      );
    } catch (e) {
      if (errorName(e) !== 'ConflictException') throw e;
    }
    return true;
  }

  /** Delete the schedules of an ended run's deadlines still to come (those past have fired, or fire and find the run ended). */
  async disarm(dag: Dag, run: DagRunRecord): Promise<void> {
    const now = this.now();
    const deletes = (dag.spec.deadlines ?? []).flatMap((d, index) => {
      const at = deadlineAt(d, run);
      if (scheduleSecond(at) <= now) return [];
      const name = deadlineScheduleName({ type: 'deadline', dagId: run.dagId, runId: run.runId, index }, at);
      return [this.delete(name)];
    });
    await Promise.all(deletes);
  }

  private async delete(name: string): Promise<void> {
    try {
      await this.o.client.send(new DeleteScheduleCommand({ Name: name, GroupName: this.o.groupName }));
    } catch (e) {
      if (errorName(e) !== 'ResourceNotFoundException') throw e;
    }
  }
}

/** The environment variables of deadline schedules (the construct sets them when a DAG declares a deadline). */
export const DEADLINE_SCHEDULE_ENV = {
  /** The schedule group of the deadline schedules. Unset: deadlines are timer executions. */
  groupName: 'DEADLINE_SCHEDULE_GROUP',
  /** The Scheduler execution role's ARN (required with the group). */
  roleArn: 'DEADLINE_SCHEDULE_ROLE_ARN',
  /** The ARN of the function that takes timer events (with the group: this, or the next). */
  targetArn: 'DEADLINE_SCHEDULE_TARGET_ARN',
  /**
   * `arn:<partition>:lambda:<region>:<account>:function:`: in the function that takes timer events itself
   * (its own ARN cannot be in its own environment), whose ARN is this and `AWS_LAMBDA_FUNCTION_NAME`.
   */
  functionArnPrefix: 'DEADLINE_SCHEDULE_FUNCTION_ARN_PREFIX',
} as const;

/** Deadline schedules from {@link DEADLINE_SCHEDULE_ENV}; undefined when no group is set. */
export function deadlineSchedulesFromEnv(env: Env, now?: () => number): DeadlineSchedules | undefined {
  const groupName = env[DEADLINE_SCHEDULE_ENV.groupName];
  if (groupName === undefined || groupName === '') return undefined;
  const need = (name: string): string => {
    const v = env[name];
    if (v === undefined || v === '') {
      throw new Error(`environment variable ${name} is not set (${DEADLINE_SCHEDULE_ENV.groupName} is, and needs ${DEADLINE_SCHEDULE_ENV.roleArn} and ${DEADLINE_SCHEDULE_ENV.targetArn} or ${DEADLINE_SCHEDULE_ENV.functionArnPrefix})`);
    }
    return v;
  };
  return new DeadlineSchedules({
    client: schedulerClient({}, env),
    groupName,
    roleArn: need(DEADLINE_SCHEDULE_ENV.roleArn),
    targetArn: env[DEADLINE_SCHEDULE_ENV.targetArn] || `${need(DEADLINE_SCHEDULE_ENV.functionArnPrefix)}${need('AWS_LAMBDA_FUNCTION_NAME')}`,
    ...(now ? { now } : {}),
  });
}

/**
 * The host's deadline timers on `schedules`: a run that ends has its schedules still to come deleted (the
 * run's DAG at its version says which). A failed delete is reported (`where: 'deadline schedules'`), not
 * thrown: the run's end stands, and a schedule left fires to find the run ended.
 */
export function deadlineTimersOn(schedules: DeadlineSchedules, dags: DagResolver, onEvent?: (e: SchedulerEvent) => void): DeadlineTimers {
  return {
    arm: (at, event) => schedules.arm(at, event),
    async runEnded(run) {
      try {
        const dag = await dagAtVersion(dags, run.dagId, run.dagVersion);
        if (dag?.spec.deadlines?.length) await schedules.disarm(dag, run);
      } catch (error) {
        onEvent?.({ type: 'error', where: 'deadline schedules', run: runRefOf(run), error });
      }
    },
  };
}
