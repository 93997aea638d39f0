import type { BatchTaskSpec } from '../../model/spec.ts';
import { buildArrayFanout } from '../array-lifecycle.ts';
import { buildBatchLifecycle } from '../batch-lifecycle.ts';
import type { CompileOptions } from '../compile-options.ts';
import { buildInvokeLifecycle } from '../lambda-lifecycle.ts';
import type { KindCompiler } from './kind-compiler.ts';

function lifecycle(spec: BatchTaskSpec, options: Pick<CompileOptions, 'batchWatch'>): 'batch' | 'batch_poll' | 'batch_array' {
  if (spec.mapping !== null && spec.batch.array) return 'batch_array';
  return options.batchWatch === 'poll' ? 'batch_poll' : 'batch';
}

/**
 * `batchJob()`: a mapped job with `array` (the default) is the array fan-out in both watch modes; else
 * `.sync` (`batch`) or, in poll mode, one invocation that submits and defers (`batch_poll`).
 */
export const batchCompiler: KindCompiler<BatchTaskSpec> = {
  lifecycle,
  standardOnly: () => 'a Batch job is waited for with .sync or a watcher, which Express does not support',
  build: (graph, spec, o) => {
    switch (lifecycle(spec, o)) {
      case 'batch_array':
        return buildArrayFanout(graph, spec, {
          taskRunnerArn: o.taskRunnerArn,
          schedulerArn: o.schedulerArn,
          batchWatch: o.batchWatch ?? 'sync',
          ...(o.batchWatchIntervalSeconds !== undefined ? { batchWatchIntervalSeconds: o.batchWatchIntervalSeconds } : {}),
        });
      case 'batch_poll':
        return buildInvokeLifecycle(graph, spec, { functionName: o.taskRunnerArn, mode: 'run' }, o.schedulerArn);
      case 'batch':
        return buildBatchLifecycle(graph, spec, o.taskRunnerArn, o.schedulerArn);
    }
  },
};
