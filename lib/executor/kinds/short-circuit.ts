import type { ShortCircuitTaskSpec } from '../../model/spec.ts';
import { callCode, type KindRunner } from './kind-runner.ts';

/** `shortCircuit()`: a falsy result skips the downstream tasks (the scheduler does, from `shortCircuit`). */
export const shortCircuitRunner: KindRunner<ShortCircuitTaskSpec> = {
  runsCode: true,
  async runTry(_t, tools) {
    const go = Boolean(await callCode(tools));
    if (!go) tools.write('info', 'condition is falsy: skipping downstream tasks');
    await tools.storeResult(go);
    return { kind: 'success', shortCircuit: go };
  },
};
