// The fault-injection sweep on the deployed shape, bounded (the full sweep: npm run bench -- --only
// faults): the compiled state machines, the real handlers, the DynamoDB store on DynamoDB Local with one
// fault injected by the client's middleware at one write request in every few, failing before it
// applies, after it applies, or ending the Lambda invocation after it applies. Step Functions' retries
// and the periodic reconcile recover: every run ends as it does without faults.
import { describe, expect, inject, it } from 'vitest';
import { deployedCases } from '../../e2e/faults/deployed-target.ts';
import { sweep } from '../../e2e/faults/sweep.ts';
import { startEmulators } from '../../e2e/backends.ts';
import type { EmulatorEndpoints } from '../../e2e/vitest-context.ts';

describe('fault injection on the deployed shape', () => {
  it.each([
    ['fault_chain', 4],
    ['fault_map', 6],
    ['fault_parent', 6],
  ] as const)('%s, one fault at one write request in every %i, in every mode: every run ends as without faults', async (dagId, stride) => {
    const provided: EmulatorEndpoints | null | undefined = inject('emulators');
    // LocalStack (null) has no fault injection of ours in its own DynamoDB client: the sweep needs the emulators.
    const own = provided ? null : await startEmulators();
    try {
      const { figures, failures } = await sweep({ dagIds: [dagId], stride, runCase: deployedCases(provided ?? own!) });
      expect(failures.map((f) => `${f.dagId} ${f.plan.mode} write ${f.plan.at}: ${f.verdict} ${f.detail}`)).toEqual([]);
      expect(figures.faults).toBeGreaterThan(15);
    } finally {
      await own?.stop();
    }
  });
});
