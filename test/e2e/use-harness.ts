// The harness of one e2e test file: started before its tests (on the emulators the suite's global setup
// started, or on LocalStack), closed after them.
import { afterAll, beforeAll, inject } from 'vitest';
import { startHarness, type Harness, type HarnessOptions } from '../../e2e/harness.ts';
import type { EmulatorEndpoints } from '../../e2e/vitest-context.ts';

export function useHarness(options: Omit<HarnessOptions, 'emulators'> = {}): () => Harness {
  let harness: Harness | undefined;
  beforeAll(async () => {
    // Under the e2e config (npm run test:e2e), the global setup provides the emulators (null: LocalStack)
    // and `airless-dags` resolves, so the functions of functions/ are invoked. Run by another vitest
    // config (no global setup), the harness starts its own emulators and calls the lib/aws cores those
    // functions wrap, since the functions' bundle-time module cannot be resolved there.
    const emulators: EmulatorEndpoints | null | undefined = inject('emulators');
    harness = await startHarness({
      ...(emulators === undefined ? { handlers: 'core' as const } : {}),
      ...options,
      ...(emulators ? { emulators } : {}),
    });
  });
  afterAll(async () => {
    await harness?.close();
  });
  return () => {
    if (!harness) throw new Error('the harness did not start');
    return harness;
  };
}
