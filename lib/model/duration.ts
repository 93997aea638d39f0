import { DagDefinitionError, type ErrorLocation } from '../errors.ts';

/** A duration: milliseconds as a number, or a string such as '500ms', '5s', '2m', '1h', '1d', '1h30m'. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parse a Duration to milliseconds; throws a DagDefinitionError naming the field. */
export function toMs(value: Duration, loc: ErrorLocation): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new DagDefinitionError(`duration must be a finite number of milliseconds >= 0, got ${value}`, loc);
    }
    return value;
  }
  const s = value.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * (UNIT_MS[m[2]!] ?? 0);
    matched = re.lastIndex;
  }
  if (s.length === 0 || matched !== s.length) {
    throw new DagDefinitionError(
      `'${value}' is not a duration (use e.g. 500ms, 5s, 2m, 1h, 1d, 1h30m, or a number of milliseconds)`,
      loc,
    );
  }
  return total;
}
