/**
 * Global setup of the e2e suite: one DynamoDB Local and one s3rver for every test file (each harness
 * makes its own table), or nothing when the suite runs against LocalStack.
 */
import type { TestProject } from 'vitest/node';
import { startEmulators, targetFromEnv } from './backends.ts';
import type {} from './vitest-context.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (targetFromEnv() !== 'local') {
    project.provide('emulators', null);
    return async () => undefined;
  }
  const emulators = await startEmulators();
  project.provide('emulators', { dynamodb: emulators.dynamodb, s3: emulators.s3, bucket: emulators.bucket });
  return () => emulators.stop();
}
