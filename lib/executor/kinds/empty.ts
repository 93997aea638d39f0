import type { EmptyTaskSpec } from '../../model/spec.ts';
import type { KindRunner } from './kind-runner.ts';

/** `empty()`: succeeds at once (the scheduler settles empty tasks without a try; a try delivered anyway does nothing). */
export const emptyRunner: KindRunner<EmptyTaskSpec> = {
  runsCode: false,
  runTry: () => Promise.resolve({ kind: 'success' }),
};
