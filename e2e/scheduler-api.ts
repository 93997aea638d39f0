/**
 * A local endpoint speaking EventBridge Scheduler's REST-JSON API as the real `@aws-sdk/client-scheduler`
 * sends it: `POST /schedules/{Name}` (CreateSchedule, the group in the body), `GET /schedules/{Name}?groupName=`
 * (GetSchedule) and `DELETE /schedules/{Name}?groupName=` (DeleteSchedule); errors as `x-amzn-errortype`
 * with AWS's statuses (ConflictException 409, ResourceNotFoundException 404, ValidationException 400). It
 * checks no signature. One-time `at(...)` schedules (UTC) fire on the harness clock: the target is invoked in
 * process with the schedule's Input (`invoke`), then the schedule is deleted (ActionAfterCompletion DELETE).
 * Every schedule created, fired and deleted is kept in `history`, in order.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { REAL_TIME, type HarnessClock } from './harness-clock.ts';
import { LoopbackEndpoint } from './loopback-server.ts';

/** A schedule as created. */
export interface LocalSchedule {
  name: string;
  groupName: string;
  expression: string;
  /** When it fires (ms since the epoch). */
  at: number;
  targetArn: string;
  roleArn: string;
  input: unknown;
  actionAfterCompletion: string;
}

export type ScheduleHistoryEntry = { op: 'created' | 'fired' | 'deleted'; name: string; groupName: string };

export interface SchedulerApiOptions {
  clock?: HarnessClock;
  /** Invoke a schedule's target (a Lambda function ARN) with its Input. */
  invoke(targetArn: string, input: unknown): Promise<unknown>;
  region?: string;
  accountId?: string;
}

const NAME = /^[0-9a-zA-Z_.-]{1,64}$/;
const AT = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class LocalSchedulerApi extends LoopbackEndpoint {
  readonly history: ScheduleHistoryEntry[] = [];
  /** Invocations of a target that failed (none is expected). */
  readonly failures: string[] = [];
  private readonly schedules = new Map<string, LocalSchedule>();
  private readonly clock: HarnessClock;

  constructor(private readonly o: SchedulerApiOptions) {
    super();
    this.clock = o.clock ?? REAL_TIME;
  }

  /** The schedules that exist now. */
  get current(): LocalSchedule[] {
    return [...this.schedules.values()];
  }



  protected override async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const m = /^\/schedules\/([^/]+)$/.exec(url.pathname);
      if (!m) throw new ApiError(404, 'ResourceNotFoundException', `no route ${req.method} ${url.pathname}`);
      const name = decodeURIComponent(m[1]!);
      if (!NAME.test(name)) throw new ApiError(400, 'ValidationException', `Name '${name}' must be 1-64 characters of [0-9a-zA-Z-_.]`);
      let out: unknown;
      if (req.method === 'POST') out = this.create(name, JSON.parse(text || '{}'));
      else if (req.method === 'GET') out = this.get(name, url.searchParams.get('groupName') ?? 'default');
      else if (req.method === 'DELETE') out = this.delete(name, url.searchParams.get('groupName') ?? 'default');
      else throw new ApiError(405, 'ValidationException', `method ${req.method} is not supported here`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, 'InternalServerException', String(e));
      res.writeHead(err.status, { 'content-type': 'application/json', 'x-amzn-errortype': err.code }).end(JSON.stringify({ Message: err.message }));
    }
  }

  private key(groupName: string, name: string): string {
    return `${groupName}/${name}`;
  }

  private arn(groupName: string, name: string): string {
    return `arn:aws:scheduler:${this.o.region ?? 'us-east-1'}:${this.o.accountId ?? '000000000000'}:schedule/${groupName}/${name}`;
  }

  private create(name: string, body: any): { ScheduleArn: string } {
    const groupName: string = body.GroupName ?? 'default';
    const expression: string = body.ScheduleExpression ?? '';
    const at = AT.exec(expression);
    if (!at) throw new ApiError(400, 'ValidationException', `ScheduleExpression '${expression}': only one-time at(yyyy-mm-ddThh:mm:ss) schedules are supported here`);
    if ((body.ScheduleExpressionTimezone ?? 'UTC') !== 'UTC') throw new ApiError(400, 'ValidationException', 'only ScheduleExpressionTimezone UTC is supported here');
    if (body.FlexibleTimeWindow?.Mode !== 'OFF') throw new ApiError(400, 'ValidationException', 'FlexibleTimeWindow.Mode must be OFF here');
    const target = body.Target ?? {};
    if (typeof target.Arn !== 'string' || typeof target.RoleArn !== 'string') throw new ApiError(400, 'ValidationException', 'Target.Arn and Target.RoleArn are required');
    const k = this.key(groupName, name);
    if (this.schedules.has(k)) throw new ApiError(409, 'ConflictException', `Schedule ${name} already exists.`);
    const schedule: LocalSchedule = {
      name,
      groupName,
      expression,
      at: Date.parse(`${at[1]}Z`),
      targetArn: target.Arn,
      roleArn: target.RoleArn,
      input: target.Input === undefined ? {} : JSON.parse(target.Input),
      actionAfterCompletion: body.ActionAfterCompletion ?? 'NONE',
    };
    this.schedules.set(k, schedule);
    this.history.push({ op: 'created', name, groupName });
    void this.clock
      .sleepUntil(schedule.at)
      .then(() => this.fire(k, schedule))
      .catch((e: unknown) => this.failures.push(`${name}: ${e instanceof Error ? e.message : String(e)}`));
    return { ScheduleArn: this.arn(groupName, name) };
  }

  private get(name: string, groupName: string): unknown {
    const s = this.schedules.get(this.key(groupName, name));
    if (!s) throw new ApiError(404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
    return {
      Arn: this.arn(groupName, name),
      Name: name,
      GroupName: groupName,
      ScheduleExpression: s.expression,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: s.actionAfterCompletion,
      State: 'ENABLED',
      Target: { Arn: s.targetArn, RoleArn: s.roleArn, Input: JSON.stringify(s.input) },
    };
  }

  private delete(name: string, groupName: string): Record<string, never> {
    const k = this.key(groupName, name);
    if (!this.schedules.delete(k)) throw new ApiError(404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
    this.history.push({ op: 'deleted', name, groupName });
    return {};
  }

  /** A schedule is due: invoke its target (unless it was deleted since), then delete it. */
  private async fire(k: string, schedule: LocalSchedule): Promise<void> {
    if (this.schedules.get(k) !== schedule) return;
    await this.clock.track(async () => {
      this.history.push({ op: 'fired', name: schedule.name, groupName: schedule.groupName });
      try {
        await this.o.invoke(schedule.targetArn, schedule.input);
      } finally {
        if (schedule.actionAfterCompletion === 'DELETE' && this.schedules.get(k) === schedule) {
          this.schedules.delete(k);
          this.history.push({ op: 'deleted', name: schedule.name, groupName: schedule.groupName });
        }
      }
    });
  }
}
