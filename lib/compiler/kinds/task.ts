import type { PlainTaskSpec } from '../../model/spec.ts';
import type { KindCompiler } from './kind-compiler.ts';

/** `task()`: one invocation per try, or, iterating, a Map state over its items. */
export const taskCompiler: KindCompiler<PlainTaskSpec> = {
  lifecycle: (spec) => (spec.iterate !== null ? 'iterate' : 'lambda'),
};
