import type { BranchTaskSpec } from '../../model/spec.ts';
import { taskRunnerTry, type KindCompiler } from './kind-compiler.ts';

/** `branch()`: one invocation per try (the scheduler follows the branches it returns). */
export const branchCompiler: KindCompiler<BranchTaskSpec> = taskRunnerTry();
