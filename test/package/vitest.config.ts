import { defineConfig } from 'vitest/config';

/**
 * The package test (`npm run test:package`, part of `npm test`): packs this repository with `npm pack` and
 * uses the tarball as a user does, in a new project outside the repository. One file, its steps in order.
 */
export default defineConfig({
  test: {
    include: ['test/package/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 900_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
