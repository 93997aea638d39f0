import type { TaskKind, TaskSpec, TaskSpecOf } from '../../model/spec.ts';
import type { CompileOptions } from '../compile-options.ts';

/**
 * The shape of a task's lifecycle, which decides the shared state machine that runs it (compile.ts).
 * - `lambda`: one invocation of the task runner per try (task, branch, short_circuit, trigger_dag).
 * - `sensor`: pokes of the sensor-poke function, the waits between them in the execution.
 * - `batch`: prepare, `batch:submitJob.sync`, complete.
 * - `batch_poll`: the `lambda` shape for a Batch task whose job a Batch watcher polls.
 * - `batch_array`: a mapped Batch task submitted as AWS Batch array jobs (`batch.array`, the default):
 *   a Distributed Map over its groups, each child execution running its group's waves (prepare, the
 *   array job with `.sync` or polled, report), in both watch modes.
 * - `iterate`: prepare, a Map state over the items, complete.
 * - `hitl`: a human-in-the-loop task: prepare (the request), wait for the answer's task token, complete.
 * - `none`: an `empty` task, which the scheduler settles without running anything.
 */
export type LifecycleKind = 'lambda' | 'sensor' | 'batch' | 'batch_poll' | 'batch_array' | 'iterate' | 'hitl' | 'none';

/** What the compiler needs to know of a task kind (one module per kind in this folder; the table is `index.ts`). */
export interface KindCompiler<S extends TaskSpec> {
  /** The shape of the task's lifecycle. */
  lifecycle(spec: S, options: Pick<CompileOptions, 'batchWatch'>): LifecycleKind;
}

/** One compiler per kind: a kind added to `TaskKind` does not compile until it has one. */
export type KindCompilers = { readonly [K in TaskKind]: KindCompiler<TaskSpecOf<K>> };

/** A kind whose try is one invocation of the task runner (`run`): the `lambda` lifecycle. */
export function taskRunnerTry<S extends TaskSpec>(): KindCompiler<S> {
  return { lifecycle: () => 'lambda' };
}
