import { defineConfig } from 'vitest/config';

/**
 * The browser tests: each file starts a real standalone server and drives Debian's Chromium through
 * playwright-core. One file at a time (each has a server and a browser). `npm run test:browser`.
 */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/browser/build-ui.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
