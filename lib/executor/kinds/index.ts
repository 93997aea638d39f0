import type { TaskSpec } from '../../model/spec.ts';
import { batchRunner } from './batch.ts';
import { branchRunner } from './branch.ts';
import { emptyRunner } from './empty.ts';
import { hitlRunner } from './hitl.ts';
import type { KindRunner, KindRunners } from './kind-runner.ts';
import { sensorRunner } from './sensor.ts';
import { shortCircuitRunner } from './short-circuit.ts';
import { taskRunner } from './task.ts';
import { triggerDagRunner } from './trigger-dag.ts';

/** How a try of each task kind runs (a mapped type, so none is missing). */
export const KIND_RUNNERS: KindRunners = {
  task: taskRunner,
  branch: branchRunner,
  short_circuit: shortCircuitRunner,
  sensor: sensorRunner,
  batch: batchRunner,
  trigger_dag: triggerDagRunner,
  empty: emptyRunner,
  hitl: hitlRunner,
};

/**
 * The runner of a spec's kind. (TypeScript cannot see that `KIND_RUNNERS[spec.kind]` takes that very
 * spec, the table's type being correlated with the union only per key: the cast says so.)
 */
export function kindRunner<S extends TaskSpec>(spec: S): KindRunner<S> {
  return KIND_RUNNERS[spec.kind] as unknown as KindRunner<S>;
}

export type { KindRunner, KindRunners, TryOf, TryTools } from './kind-runner.ts';
