let lastMs = Number.NaN;
let lastIso = '';

/**
 * ISO-8601 text of an instant in milliseconds. The last conversion is cached: a busy scheduler stamps
 * many records within the same millisecond.
 */
export function iso(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
