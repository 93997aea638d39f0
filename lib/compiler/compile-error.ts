import { AirlessError } from '../errors.ts';

/**
 * A state machine could not be compiled: a task the compiler cannot express, or a graph whose state ids
 * collide or refer to states that do not exist. The message names the DAG and task when known.
 */
export class AslCompileError extends AirlessError {
  override name = 'AslCompileError';
}
