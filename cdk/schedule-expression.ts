import { AirlessError } from '../lib/errors.ts';
import { timeSchedule, type DagSpec, type ScheduleSpec } from '../lib/model/spec.ts';

/** What an EventBridge Scheduler schedule gets for a DAG's schedule. */
export type EventBridgeSchedule =
  | { kind: 'recurring'; expression: string; timezone: string }
  /** `at(...)`: a one-time schedule (in UTC). */
  | { kind: 'once'; expression: string; timezone: 'UTC'; at: Date }
  | { kind: 'none'; reason: string };

/** A DAG's schedule cannot be expressed for EventBridge Scheduler. */
export class ScheduleExpressionError extends AirlessError {
  override name = 'ScheduleExpressionError';
}

const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** A weekday as Unix cron writes it (0-7 or a name, 0 and 7 Sunday) → 0-6. */
function unixDay(token: string, what: string): number {
  const byName = DAY_NAMES.indexOf(token.toUpperCase());
  if (byName >= 0) return byName;
  const n = Number(token);
  if (!/^\d+$/.test(token) || n > 7) throw new ScheduleExpressionError(`${what}: '${token}' is not a weekday`);
  return n % 7;
}

/** A Unix cron weekday (0-6, Sunday 0) as EventBridge writes it (1-7, Sunday 1). */
const awsDay = (d: number) => d + 1;

/**
 * The day-of-week field in EventBridge's numbering (Sunday is 1, not 0). Lists, ranges and steps are
 * expanded into the days they select; `d#n` (the n-th weekday d of the month) and `dL` (the last)
 * keep their form.
 */
function awsDayOfWeek(field: string, what: string): string {
  const parts: string[] = [];
  const days = new Set<number>();
  for (const token of field.split(',')) {
    const nth = /^([A-Za-z]+|\d+)#(\d)$/.exec(token);
    if (nth) {
      parts.push(`${awsDay(unixDay(nth[1]!, what))}#${nth[2]}`);
      continue;
    }
    const last = /^([A-Za-z]+|\d+)L$/.exec(token);
    if (last) {
      parts.push(`${awsDay(unixDay(last[1]!, what))}L`);
      continue;
    }
    const m = /^(\*|[A-Za-z]+|\d+)(?:-([A-Za-z]+|\d+))?(?:\/(\d+))?$/.exec(token);
    if (!m) throw new ScheduleExpressionError(`${what}: cannot translate the weekday '${token}'`);
    const step = m[3] ? Number(m[3]) : 1;
    if (step < 1) throw new ScheduleExpressionError(`${what}: step 0 in '${token}'`);
    let from: number;
    let to: number;
    if (m[1] === '*') {
      from = 0;
      to = 6;
    } else {
      from = m[1] === '7' ? 0 : unixDay(m[1]!, what);
      // A range may end on 7 (Sunday): 5-7 is Friday to Sunday.
      to = m[2] !== undefined ? (m[2] === '7' ? 7 : unixDay(m[2], what)) : m[3] ? 6 : from;
    }
    if (to < from) throw new ScheduleExpressionError(`${what}: the range '${token}' runs backwards`);
    for (let d = from; d <= to; d += step) days.add(d % 7);
  }
  parts.unshift(...[...days].sort((a, b) => a - b).map(awsDay).map(String));
  return parts.join(',');
}

/** `*\/n` as EventBridge takes it: `<first>/n`. */
function stepFrom(field: string, first: number): string {
  return field.replace(/^\*\//, `${first}/`);
}

/**
 * A 5-field Unix cron expression (as croner reads it: minute hour day-of-month month day-of-week) as
 * EventBridge's `cron(minutes hours day-of-month month day-of-week year)`: one of the two day fields must
 * be `?`, weekdays count from Sunday = 1, and `*\/n` is written `0/n`. A restriction on both the day of
 * the month and the day of the week (which Unix cron reads as either) cannot be expressed: an error.
 */
export function eventBridgeCron(expression: string, what = 'schedule'): string {
  const fields = expression.trim().split(/\s+/).map((f) => (f === '?' ? '*' : f));
  if (fields.length !== 5) throw new ScheduleExpressionError(`${what}: '${expression}' is not a 5-field cron expression`);
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  let awsDom: string;
  let awsDow: string;
  if (dow === '*') {
    awsDom = stepFrom(dom, 1);
    awsDow = '?';
  } else if (dom === '*') {
    awsDom = '?';
    awsDow = awsDayOfWeek(dow, what);
  } else {
    throw new ScheduleExpressionError(
      `${what}: '${expression}' restricts both the day of the month and the day of the week, which EventBridge cannot express: use one of them (or two DAGs)`,
    );
  }
  return `cron(${stepFrom(minute, 0)} ${stepFrom(hour, 0)} ${awsDom} ${stepFrom(month, 1)} ${awsDow} *)`;
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, seconds rounded up. */
export function eventBridgeAt(date: Date): string {
  return `at(${new Date(Math.ceil(date.getTime() / 1000) * 1000).toISOString().slice(0, 19)})`;
}

/**
 * The EventBridge Scheduler schedule of a DAG: a cron schedule keeps its timezone, a rate stays a rate,
 * `@once` is a one-time schedule at the DAG's startDate when that is after `now` (otherwise there is
 * nothing to schedule: trigger the run by hand), no schedule is none.
 */
export function eventBridgeSchedule(dag: Pick<DagSpec, 'dagId' | 'schedule' | 'startDate'>, now: Date = new Date()): EventBridgeSchedule {
  const what = `DAG '${dag.dagId}', field 'schedule'`;
  if (dag.schedule?.kind === 'assets') return { kind: 'none', reason: 'the DAG is scheduled on assets only' };
  // An assets-or-time schedule is scheduled on its time part, as a cron or rate schedule is.
  const s: ScheduleSpec | null = timeSchedule(dag.schedule);
  if (s === null) return { kind: 'none', reason: 'the DAG has no schedule' };
  switch (s.kind) {
    case 'cron':
      return { kind: 'recurring', expression: eventBridgeCron(s.expression, what), timezone: s.timezone };
    case 'rate':
      return { kind: 'recurring', expression: s.expression, timezone: 'UTC' };
    case 'once': {
      if (dag.startDate === null) return { kind: 'none', reason: '@once without a startDate: trigger its run by hand' };
      const at = new Date(dag.startDate);
      if (at.getTime() <= now.getTime()) return { kind: 'none', reason: `@once at its startDate ${dag.startDate}, which has passed: trigger its run by hand` };
      return { kind: 'once', expression: eventBridgeAt(at), timezone: 'UTC', at };
    }
  }
}
