/** Small display helpers shared by the pages. */

/** A timestamp in the browser's locale, or an em dash. */
export function formatDate(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A duration in seconds as "850ms", "12.3s", "4m 05s" or "2h 03m". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m ${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** The duration between two timestamps, in seconds (to now when not ended). */
export function durationBetween(start: string | null | undefined, end: string | null | undefined): number | null {
  if (start === null || start === undefined) return null;
  const to = end === null || end === undefined ? Date.now() : new Date(end).getTime();
  return (to - new Date(start).getTime()) / 1000;
}

/** Pretty JSON for value blocks. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'undefined';
}
