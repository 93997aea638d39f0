import type { ShortCircuitTaskSpec } from '../../model/spec.ts';
import { taskRunnerTry, type KindCompiler } from './kind-compiler.ts';

/** `shortCircuit()`: one invocation per try (the scheduler skips downstream on a falsy result). */
export const shortCircuitCompiler: KindCompiler<ShortCircuitTaskSpec> = taskRunnerTry();
