import type { HitlTaskSpec } from '../../model/spec.ts';
import type { KindCompiler } from './kind-compiler.ts';

/**
 * `approval()`, `hitlChoice()`, `hitlForm()`. PLACEHOLDER until the `hitl` machine (a `.waitForTaskToken`
 * state, built on the hitl-deployed branch) exists: each step of a try is one invocation (`lambda`): the
 * first writes the request and defers; the answer (the API's `Scheduler.respondHitl`) or the timeout timer
 * resumes the try, which the scheduler dispatches as a new execution.
 */
export const hitlCompiler: KindCompiler<HitlTaskSpec> = {
  lifecycle: () => 'lambda',
};
