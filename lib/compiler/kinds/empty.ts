import type { EmptyTaskSpec } from '../../model/spec.ts';
import { AslCompileError } from '../compile-error.ts';
import type { KindCompiler } from './kind-compiler.ts';

/** `empty()`: no state machine; the scheduler settles the task without running anything. */
export const emptyCompiler: KindCompiler<EmptyTaskSpec> = {
  lifecycle: () => 'none',
  standardOnly: () => 'an empty task has no state machine',
  build: (_graph, _spec, _options, location) => {
    throw new AslCompileError('an empty task has no state machine: the scheduler settles it without running anything', location);
  },
};
