import { Cron } from 'croner';
import { DagDefinitionError, type ErrorLocation } from '../errors.ts';
import { assetConditionText } from './asset.ts';
import type { ScheduleSpec } from './spec.ts';

/**
 * A DAG's schedule: a 5-field cron expression ('0 2 * * *'), a preset ('@hourly', '@daily', '@weekly',
 * '@monthly', '@yearly', '@once'), a rate ('rate(5 minutes)'), an object `{ cron, timezone }`, or null
 * (triggered only).
 */
export type Schedule = string | { cron: string; timezone?: string } | null;

const PRESETS: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

const RATE_UNITS: Record<string, number> = {
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
};

export function parseSchedule(schedule: Schedule | undefined, loc: ErrorLocation): ScheduleSpec | null {
  if (schedule === undefined || schedule === null) return null;
  const at = { ...loc, field: 'schedule' };
  let expression: string;
  let timezone = 'UTC';
  if (typeof schedule === 'object') {
    if (typeof schedule.cron !== 'string') throw new DagDefinitionError(`expected { cron: string, timezone?: string }`, at);
    expression = schedule.cron.trim();
    if (schedule.timezone !== undefined) timezone = schedule.timezone;
  } else if (typeof schedule === 'string') {
    expression = schedule.trim();
  } else {
    throw new DagDefinitionError(`expected a cron string, a preset, rate(...), { cron, timezone } or null`, at);
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new DagDefinitionError(`unknown timezone '${timezone}'`, at);
  }
  if (expression === '@once') return { kind: 'once' };
  const rate = /^rate\(\s*(\d+)\s+([a-z]+)\s*\)$/.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    const unit = RATE_UNITS[rate[2]!];
    if (unit === undefined || n < 1) {
      throw new DagDefinitionError(`'${expression}' is not a valid rate: use rate(N minutes|hours|days) with N >= 1`, at);
    }
    if ((n === 1) !== !rate[2]!.endsWith('s')) {
      // EventBridge wants the singular unit for 1 and the plural otherwise.
      throw new DagDefinitionError(`'${expression}': use the singular unit for 1 and the plural otherwise`, at);
    }
    return { kind: 'rate', everyMs: n * unit, expression };
  }
  if (expression.startsWith('@')) {
    const preset = PRESETS[expression];
    if (preset === undefined) {
      throw new DagDefinitionError(`unknown preset '${expression}' (known: ${[...Object.keys(PRESETS), '@once'].join(', ')})`, at);
    }
    expression = preset;
  }
  if (expression.split(/\s+/).length !== 5) {
    throw new DagDefinitionError(`'${expression}' is not a 5-field cron expression (minute hour day month weekday)`, at);
  }
  try {
    new Cron(expression, { timezone, paused: true });
  } catch (e) {
    throw new DagDefinitionError(`'${expression}' is not a valid cron expression: ${(e as Error).message}`, at);
  }
  return { kind: 'cron', expression, timezone };
}

/** The first schedule instant strictly after `after`, or null when there is none. */
export function nextScheduleTime(spec: ScheduleSpec, after: Date, startDate: Date | null): Date | null {
  switch (spec.kind) {
    case 'once':
      return null;
    case 'rate': {
      const origin = startDate?.getTime() ?? 0;
      const k = Math.floor((after.getTime() - origin) / spec.everyMs) + 1;
      return new Date(origin + Math.max(k, 0) * spec.everyMs);
    }
    case 'cron':
      return new Cron(spec.expression, { timezone: spec.timezone, paused: true }).nextRun(after) ?? null;
    case 'assets':
      return null;
    case 'assets_or_time':
      return nextScheduleTime(spec.time, after, startDate);
  }
}

/**
 * The schedule as written ('0 2 * * *', 'rate(5 minutes)', '@once'; a cron's timezone when not UTC; assets as
 * `assets(a & (b | c))`, assets or time as `<time> or assets(...)`), null when triggered only.
 */
export function scheduleText(s: ScheduleSpec | null): string | null {
  if (s === null) return null;
  switch (s.kind) {
    case 'once':
      return '@once';
    case 'rate':
      return s.expression;
    case 'cron':
      return s.timezone === 'UTC' ? s.expression : `${s.expression} (${s.timezone})`;
    case 'assets':
      return `assets(${assetConditionText(s.condition)})`;
    case 'assets_or_time':
      return `${scheduleText(s.time)} or assets(${assetConditionText(s.condition)})`;
  }
}
