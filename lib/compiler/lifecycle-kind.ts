import type { TaskSpec } from '../model/spec.ts';
import type { CompileOptions } from './compile-options.ts';
import { kindCompiler, type LifecycleKind } from './kinds/index.ts';

export type { LifecycleKind } from './kinds/index.ts';

/** The shape of a task's state machine, as its kind's compiler (kinds/) says. */
export function lifecycleOf(spec: TaskSpec, options: Pick<CompileOptions, 'batchWatch'> = {}): LifecycleKind {
  return kindCompiler(spec).lifecycle(spec, options);
}
