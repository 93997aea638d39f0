import { configDefaults, defineConfig } from 'vitest/config';
import { SOURCE_ALIAS } from './test/support/source-alias.ts';

export default defineConfig({
  resolve: { alias: SOURCE_ALIAS },
  test: {
    // The CLI the tests start is the package's build: made first.
    globalSetup: ['test/support/build-package.ts'],
    include: ['test/**/*.test.ts'],
    // The local-cloud end-to-end suite (e2e/vitest.config.ts: npm run test:e2e) and the browser tests
    // (test/browser/vitest.config.ts: npm run test:browser) have their own configs.
    exclude: [...configDefaults.exclude, 'test/e2e/**', 'test/browser/**', 'test/package/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
