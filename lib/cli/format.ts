import path from 'node:path';
import { SKIP_NAME } from '../store/records.ts';
import type { Palette } from './ansi.ts';

/** '12ms', '1.25s', '2m03s', '1h02m'; '-' when unknown. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Map indexes as ranges: [0,1,2,3,7,9,10] -> '0-3,7,9-10'. */
export function formatIndexes(indexes: readonly number[]): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** 'a' or 'a-b' for a range of numbers. */
export function formatRange(values: readonly number[]): string {
  if (!values.length) return '-';
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? `${lo}` : `${lo}-${hi}`;
}

/** A task instance state, or 'none' when the task has no instance (Airflow's "no status"). */
export function stateText(state: string | null): string {
  return state ?? 'none';
}

/**
 * An instance's error as text, its name apart (bold): `Name: message`, or a skip's reason alone (name
 * `SkipTask`). `firstLine`: only the message's first line (a stack or a long message stays in the log).
 */
export function paintError(error: { name: string; message: string }, p: Palette, options: { firstLine?: boolean } = {}): string {
  const message = options.firstLine ? (error.message.split('\n')[0] ?? '') : error.message;
  return error.name === SKIP_NAME ? message : `${p.bold(error.name)}: ${message}`;
}

/** The colour of a state. */
export function paintState(state: string | null, p: Palette): string {
  const s = stateText(state);
  switch (state) {
    case 'success':
      return p.green(s);
    case 'failed':
    case 'upstream_failed':
      return p.red(s);
    case 'running':
    case 'up_for_retry':
      return p.yellow(s);
    case 'queued':
    case 'scheduled':
      return p.blue(s);
    case 'deferred':
      return p.magenta(s);
    case null: // no state yet
    default:
      return p.grey(s);
  }
}

/** Local time of day with milliseconds, for state-change lines. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A path relative to the current directory when it is inside it. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
