import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The local-cloud end-to-end suite (e2e/vitest.config.ts: npm run test:e2e) and the browser tests
    // (test/browser/vitest.config.ts: npm run test:browser) have their own configs.
    exclude: [...configDefaults.exclude, 'test/e2e/**', 'test/browser/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
