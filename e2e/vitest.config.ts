// The local-cloud end-to-end suite (`npm run test:e2e`; `npm run test:localstack` against LocalStack):
// test/e2e/*.test.ts, with one DynamoDB Local and one s3rver for the whole suite (global-setup.ts) and
// the bundle-time module `airless-dags` of the functions aliased to the harness's DAGs folder module.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { SOURCE_ALIAS } from '../test/support/source-alias.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  resolve: {
    alias: [...SOURCE_ALIAS, { find: 'airless-dags', replacement: fileURLToPath(new URL('./airless-dags.ts', import.meta.url)) }],
  },
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/support/build-package.ts', 'e2e/global-setup.ts'],
    // The functions' Powertools logger: errors only (the harness collects scheduler errors itself).
    env: { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_SERVICE_NAME: 'airless-e2e' },
    // Safety nets against a hung emulator, not assertions: nothing here is timed.
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
