import { describe, expect, it } from 'vitest';
import { nextScheduleTime, parseSchedule } from '../lib/model/schedule.ts';
import { toMs } from '../lib/model/duration.ts';

describe('schedules', () => {
  const loc = { dagId: 'd' };
  it('cron with a timezone: next run in that zone, across a DST change', () => {
    const s = parseSchedule({ cron: '30 2 * * *', timezone: 'Europe/Amsterdam' }, loc)!;
    // 2026-03-28 02:30 CET is 01:30 UTC; on 2026-03-29 02:30 does not exist in Amsterdam (clocks jump).
    expect(nextScheduleTime(s, new Date('2026-03-28T00:00:00Z'), null)?.toISOString()).toBe('2026-03-28T01:30:00.000Z');
    const summer = nextScheduleTime(s, new Date('2026-04-01T00:00:00Z'), null)!;
    expect(summer.toISOString()).toBe('2026-04-01T00:30:00.000Z');
  });
  it('presets, rate and @once', () => {
    expect(nextScheduleTime(parseSchedule('@hourly', loc)!, new Date('2026-01-01T10:15:00Z'), null)?.toISOString()).toBe('2026-01-01T11:00:00.000Z');
    expect(nextScheduleTime(parseSchedule('@weekly', loc)!, new Date('2026-01-01T10:15:00Z'), null)?.toISOString()).toBe('2026-01-04T00:00:00.000Z');
    const rate = parseSchedule('rate(1 hour)', loc)!;
    expect(nextScheduleTime(rate, new Date('2026-01-01T10:15:00Z'), new Date('2026-01-01T00:05:00Z'))?.toISOString()).toBe('2026-01-01T11:05:00.000Z');
    expect(nextScheduleTime(parseSchedule('@once', loc)!, new Date(), null)).toBeNull();
    expect(parseSchedule(null, loc)).toBeNull();
  });
  it('durations', () => {
    expect(toMs('1h30m', loc)).toBe(5_400_000);
    expect(toMs('250ms', loc)).toBe(250);
    expect(toMs(42, loc)).toBe(42);
    expect(() => toMs(-1, { ...loc, field: 'retryDelay' })).toThrow(`DAG 'd', field 'retryDelay': duration must be a finite number of milliseconds >= 0, got -1`);
  });
});
