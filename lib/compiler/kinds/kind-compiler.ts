import type { ErrorLocation } from '../../errors.ts';
import type { TaskKind, TaskSpec, TaskSpecOf } from '../../model/spec.ts';
import type { CompileOptions } from '../compile-options.ts';
import { buildInvokeLifecycle } from '../lambda-lifecycle.ts';
import type { StateGraph } from '../state-graph.ts';

/**
 * The shape of a task's state machine.
 * - `lambda`: one invocation of the task runner per try (task, branch, short_circuit, trigger_dag).
 * - `sensor`: the same loop, invoking the sensor-poke function; pokes are `wait` replies.
 * - `batch`: prepare, `batch:submitJob.sync`, complete.
 * - `batch_poll`: the `lambda` shape for a Batch task whose job a Batch watcher polls.
 * - `batch_array`: a mapped Batch task submitted as AWS Batch array jobs (`batch.array`, the default):
 *   a Distributed Map over its groups, each child execution running its group's waves (prepare, the
 *   array job with `.sync` or polled, report), in both watch modes.
 * - `iterate`: prepare, a Map state over the items, complete.
 * - `none`: an `empty` task, which the scheduler settles without running anything.
 */
export type LifecycleKind = 'lambda' | 'sensor' | 'batch' | 'batch_poll' | 'batch_array' | 'iterate' | 'none';

/** How the tasks of one kind compile (one module per kind in this folder; the table is `index.ts`). */
export interface KindCompiler<S extends TaskSpec> {
  /** The shape of the task's state machine. */
  lifecycle(spec: S, options: Pick<CompileOptions, 'batchWatch'>): LifecycleKind;
  /**
   * Why every task of this kind gets a Standard state machine (the reason `chooseWorkflowType` gives),
   * or null when the task's own options decide.
   */
  standardOnly(spec: S): string | null;
  /** Add the lifecycle's states to `graph` and return the first state's id (or throw: the kind has none). */
  build(graph: StateGraph, spec: S, options: CompileOptions, location: ErrorLocation): string;
}

/** One compiler per kind: a kind added to `TaskKind` does not compile until it has one. */
export type KindCompilers = { readonly [K in TaskKind]: KindCompiler<TaskSpecOf<K>> };

/** A kind whose try is one invocation of the task runner (`run`): the `lambda` lifecycle. */
export function taskRunnerTry<S extends TaskSpec>(): KindCompiler<S> {
  return {
    lifecycle: () => 'lambda',
    standardOnly: () => null,
    build: (graph, spec, o) => buildInvokeLifecycle(graph, spec, { functionName: o.taskRunnerArn, mode: 'run' }, o.schedulerArn),
  };
}
