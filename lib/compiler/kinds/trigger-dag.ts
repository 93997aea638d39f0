import type { TriggerDagTaskSpec } from '../../model/spec.ts';
import { taskRunnerTry, type KindCompiler } from './kind-compiler.ts';

/**
 * `triggerDag()`: one invocation per try starts the run; a waited-for run is waited for outside the
 * execution (the scheduler resumes the task when the run ends, starting a new execution).
 */
export const triggerDagCompiler: KindCompiler<TriggerDagTaskSpec> = taskRunnerTry();
