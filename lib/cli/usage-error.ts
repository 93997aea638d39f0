import { AirlessError } from '../errors.ts';

/** A command line that cannot run: a bad option value, an unknown DAG or task, a bad --conf. Exit code 2. */
export class UsageError extends AirlessError {
  override name = 'UsageError';
}

/** Exit codes of the airless CLI. */
export const EXIT = {
  /** The run (or task) succeeded, or the command did what it was asked. */
  ok: 0,
  /** The run (or task) failed. */
  failed: 1,
  /** Usage error: bad arguments, bad --conf, unknown DAG or task, the DAG's file does not import. */
  usage: 2,
} as const;
