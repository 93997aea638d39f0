import type { TaskSpec } from '../../model/spec.ts';
import { batchCompiler } from './batch.ts';
import { branchCompiler } from './branch.ts';
import { emptyCompiler } from './empty.ts';
import { hitlCompiler } from './hitl.ts';
import type { KindCompiler, KindCompilers } from './kind-compiler.ts';
import { sensorCompiler } from './sensor.ts';
import { shortCircuitCompiler } from './short-circuit.ts';
import { taskCompiler } from './task.ts';
import { triggerDagCompiler } from './trigger-dag.ts';

/** The compiler of each task kind (as aws-local-stepfunctions' `StateHandlers`: a mapped type, so none is missing). */
export const KIND_COMPILERS: KindCompilers = {
  task: taskCompiler,
  branch: branchCompiler,
  short_circuit: shortCircuitCompiler,
  sensor: sensorCompiler,
  batch: batchCompiler,
  trigger_dag: triggerDagCompiler,
  empty: emptyCompiler,
  hitl: hitlCompiler,
};

/**
 * The compiler of a spec's kind. (TypeScript cannot see that `KIND_COMPILERS[spec.kind]` takes that
 * very spec, the table's type being correlated with the union only per key: the cast says so.)
 */
export function kindCompiler<S extends TaskSpec>(spec: S): KindCompiler<S> {
  return KIND_COMPILERS[spec.kind] as unknown as KindCompiler<S>;
}

export type { KindCompiler, KindCompilers, LifecycleKind } from './kind-compiler.ts';
