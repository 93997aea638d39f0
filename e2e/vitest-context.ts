// What the e2e suite's global setup provides to its test files (vitest's inject()).
import type { EmulatorEndpoints } from './backends.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The emulators' endpoints; null when the suite runs against LocalStack. */
    emulators: EmulatorEndpoints | null;
  }
}

export type { EmulatorEndpoints };
