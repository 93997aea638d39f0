import type { HitlTaskSpec } from '../../model/spec.ts';
import type { KindCompiler } from './kind-compiler.ts';

/**
 * `approval()`, `hitlChoice()`, `hitlForm()`: the `hitl` lifecycle (lib/compiler/hitl-lifecycle.ts): the
 * try's first step writes the request and defers; a `.waitForTaskToken` state waits for the answer, holding
 * nothing, until the API sends its token back or the request's timeout passes; then the try completes.
 */
export const hitlCompiler: KindCompiler<HitlTaskSpec> = {
  lifecycle: () => 'hitl',
};
