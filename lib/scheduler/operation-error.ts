import type { Dag } from '../authoring/dag.ts';
import { AirlessError, DagNotFoundError } from '../errors.ts';
import type { Step } from './step.ts';

/** An operation refused (what was asked does not fit the state of things), saying why. */
export class OperationError extends AirlessError {
  override name = 'OperationError';
}

/** The DAG an operation acts on, as loaded now. */
export function loadedDag(s: Step, dagId: string): Dag {
  const dag = s.env.dags.getDag(dagId);
  if (!dag) throw new DagNotFoundError(`no DAG '${dagId}' is loaded`, { dagId });
  return dag;
}
