import type { EmptyTaskSpec } from '../../model/spec.ts';
import type { KindCompiler } from './kind-compiler.ts';

/** `empty()`: no lifecycle; the scheduler settles the task without running anything. */
export const emptyCompiler: KindCompiler<EmptyTaskSpec> = {
  lifecycle: () => 'none',
};
