import { InvalidArgumentError } from 'commander';
import { UsageError } from './usage-error.ts';

/** Parse `--conf`: a JSON object (default `{}`); anything else is a UsageError that says what was wrong. */
export function parseConf(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--conf is not valid JSON (${(e as Error).message}): ${text}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new UsageError(`--conf must be a JSON object such as '{"param": 1}', got ${got}`);
  }
  return value as Record<string, unknown>;
}

/** Parse a non-negative integer option value (commander calls this; its error becomes exit code 2). */
export function parseIndex(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected an integer >= 0.');
  return Number(value);
}

/** A `--keep-versions` value: a whole number >= 0. */
export function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError(`--keep-versions: expected a whole number >= 0, got '${value}'`);
  return n;
}

/** The `--port` value: an integer in 0..65535. */
export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`--port: expected an integer from 0 to 65535, got '${value}'`);
  return n;
}

/** `backfill create --reprocess-behavior`: what happens to dates that have a run. */
export const REPROCESS_BEHAVIORS = ['none', 'failed', 'completed'] as const;
