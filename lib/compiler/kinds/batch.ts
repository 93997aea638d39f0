import type { BatchTaskSpec } from '../../model/spec.ts';
import type { KindCompiler } from './kind-compiler.ts';

/**
 * `batchJob()`: a mapped job with `array` (the default) is the array fan-out in both watch modes; else
 * `.sync` (`batch`) or, in poll mode, one invocation that submits and defers (`batch_poll`).
 */
export const batchCompiler: KindCompiler<BatchTaskSpec> = {
  lifecycle: (spec, options) => {
    if (spec.mapping !== null && spec.batch.array) return 'batch_array';
    return options.batchWatch === 'poll' ? 'batch_poll' : 'batch';
  },
};
