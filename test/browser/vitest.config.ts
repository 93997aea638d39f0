import { defineConfig } from 'vitest/config';
import { SOURCE_ALIAS } from '../support/source-alias.ts';

/**
 * The browser tests: each file starts a real standalone server and drives Debian's Chromium through
 * playwright-core. One file at a time (each has a server and a browser). `npm run test:browser`.
 */
export default defineConfig({
  resolve: { alias: SOURCE_ALIAS },
  test: {
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/support/build-package.ts', 'test/browser/build-ui.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
