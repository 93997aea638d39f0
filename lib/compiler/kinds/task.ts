import type { PlainTaskSpec } from '../../model/spec.ts';
import { buildIterateLifecycle } from '../iterate-lifecycle.ts';
import { taskRunnerTry, type KindCompiler } from './kind-compiler.ts';

const plainTry = taskRunnerTry<PlainTaskSpec>();

/** `task()`: one invocation per try, or, iterating, a Map state over its items. */
export const taskCompiler: KindCompiler<PlainTaskSpec> = {
  lifecycle: (spec, options) => (spec.iterate !== null ? 'iterate' : plainTry.lifecycle(spec, options)),
  standardOnly: () => null,
  build: (graph, spec, o, location) => {
    const { iterate } = spec;
    if (iterate === null) return plainTry.build(graph, spec, o, location);
    return buildIterateLifecycle(graph, { ...spec, iterate }, o.taskRunnerArn, o.schedulerArn, o.iterateMode ?? 'inline');
  },
};
