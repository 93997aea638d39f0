import { Cron } from 'croner';
import { nextScheduleTime } from '../model/schedule.ts';
import { timeSchedule, type ScheduleSpec } from '../model/spec.ts';

/** Most runs one scheduled trigger creates when catching up (the next trigger continues from the last). */
export const MAX_CATCHUP_RUNS = 500;

/** What of a DAG's spec decides its scheduled runs. */
export interface ScheduleFields {
  dagId: string;
  schedule: ScheduleSpec | null;
  /** ISO-8601 or null. */
  startDate: string | null;
  /** ISO-8601 or null. */
  endDate: string | null;
  catchup: boolean;
}

/** The logical dates a scheduled trigger creates runs for, or why none. */
export interface ScheduledDates {
  /** Oldest first: the missed instants caught up (catchup), then the fired instant itself. */
  dates: Date[];
  /** Why nothing is created (outside startDate/endDate), else null. */
  skipped: string | null;
}

/**
 * The schedule instant at or before `at` (null if none): a rate's instant of the DAG's grid (multiples
 * of the rate from its startDate, or from the epoch), a cron's latest fire time, `@once`'s startDate.
 * Not bounded by startDate/endDate (see {@link scheduledRunDates}).
 */
export function latestScheduleTime(schedule: ScheduleSpec, at: Date, startDate: Date | null): Date | null {
  switch (schedule.kind) {
    case 'once':
      return startDate !== null && startDate <= at ? startDate : null;
    case 'rate': {
      const origin = startDate?.getTime() ?? 0;
      return new Date(origin + Math.floor((at.getTime() - origin) / schedule.everyMs) * schedule.everyMs);
    }
    case 'cron':
      return new Cron(schedule.expression, { timezone: schedule.timezone, paused: true }).previousRuns(1, new Date(at.getTime() + 1))[0] ?? null;
    case 'assets':
      return null;
    case 'assets_or_time':
      return latestScheduleTime(schedule.time, at, startDate);
  }
}

/** The latest logical date of a `scheduled` run strictly before `before`, or null. */
export function latestScheduledBefore(runs: readonly { runType: string; logicalDate: string }[], before: Date): Date | null {
  let max: number | null = null;
  for (const r of runs) {
    if (r.runType !== 'scheduled') continue;
    const t = Date.parse(r.logicalDate);
    if (t < before.getTime() && (max === null || t > max)) max = t;
  }
  return max === null ? null : new Date(max);
}

/**
 * The logical dates of the runs a schedule firing at `firedAt` creates, as the deployed trigger and the
 * standalone schedule loop both do: the fired instant (a rate's is aligned down to the DAG's grid, since
 * EventBridge counts a rate from when the schedule was created), nothing outside startDate/endDate, and
 * with `catchup` on first the instants missed since the DAG's latest scheduled run before it (among
 * `runs`, the DAG's runs) or since the startDate, at most `max` in all (the next firing continues from
 * the last created).
 */
export function scheduledRunDates(
  dag: ScheduleFields,
  firedAt: Date,
  runs: readonly { runType: string; logicalDate: string }[],
  max: number = MAX_CATCHUP_RUNS,
): ScheduledDates {
  if (Number.isNaN(firedAt.getTime())) throw new TypeError(`DAG '${dag.dagId}': the fire time is not a date`);
  const start = dag.startDate ? new Date(dag.startDate) : null;
  let logical = firedAt;
  // An assets-or-time schedule fires on its time part.
  const schedule = timeSchedule(dag.schedule);
  if (schedule?.kind === 'rate') logical = latestScheduleTime(schedule, firedAt, start)!;
  if (start && logical < start) return { dates: [], skipped: `logical date ${logical.toISOString()} is before the DAG's startDate ${dag.startDate}` };
  if (dag.endDate && logical > new Date(dag.endDate)) return { dates: [], skipped: `logical date ${logical.toISOString()} is after the DAG's endDate ${dag.endDate}` };
  const dates: Date[] = [];
  if (dag.catchup && schedule && schedule.kind !== 'once') {
    let t: Date | null = latestScheduledBefore(runs, logical) ?? (start ? new Date(start.getTime() - 1) : null);
    while (t !== null && dates.length < max) {
      t = nextScheduleTime(schedule, t, start);
      if (t === null || t >= logical) break;
      dates.push(t);
    }
  }
  // Capped: the runs from here on (this one included) are caught up by the next firing.
  if (dates.length < max) dates.push(logical);
  return { dates, skipped: null };
}

/**
 * The first instant of the DAG's schedule strictly after `now` within its startDate/endDate, or null:
 * when the standalone's schedule loop fires it next, and (a rate's instants being the DAG's grid from its
 * startDate, to which the trigger aligns each firing) the logical date EventBridge Scheduler fires next.
 * `@once`: its startDate, unless it has a scheduled run already (`hasScheduledRun`) or that has passed.
 */
export function nextScheduledInstant(spec: ScheduleFields, now: Date, hasScheduledRun: boolean): Date | null {
  const schedule = timeSchedule(spec.schedule);
  if (!schedule) return null;
  const start = spec.startDate ? new Date(spec.startDate) : null;
  if (schedule.kind === 'once') return !hasScheduledRun && start !== null && start > now ? start : null;
  const after = start !== null && start.getTime() - 1 > now.getTime() ? new Date(start.getTime() - 1) : now;
  const t = nextScheduleTime(schedule, after, start);
  if (t === null || (spec.endDate && t > new Date(spec.endDate))) return null;
  return t;
}
