import type { TaskSpec } from '../model/spec.ts';
import type { CompileOptions } from './compile-options.ts';

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

export function lifecycleOf(spec: TaskSpec, options: Pick<CompileOptions, 'batchWatch'> = {}): LifecycleKind {
  switch (spec.kind) {
    case 'empty':
      return 'none';
    case 'sensor':
      return 'sensor';
    case 'batch':
      if (spec.mapping !== null && spec.batch?.array === true) return 'batch_array';
      return options.batchWatch === 'poll' ? 'batch_poll' : 'batch';
    case 'task':
      return spec.iterate ? 'iterate' : 'lambda';
    case 'branch':
    case 'short_circuit':
    case 'trigger_dag':
      return 'lambda';
  }
}
