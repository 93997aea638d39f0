// In the tests, `'airless'` and `'airless/cdk'` (imported by DAG files, examples and fixtures) are the
// repository's source, the same modules the tests import by path: one copy of the library in a test
// process. (Outside vitest they resolve through the package's exports to dist/; the worker threads of
// isolated tries map `'airless'` to their own copy: lib/dagbag/library-resolution.ts.)
import { fileURLToPath } from 'node:url';

export const SOURCE_ALIAS = [
  { find: /^airless$/, replacement: fileURLToPath(new URL('../../lib/index.ts', import.meta.url)) },
  { find: /^airless\/cdk$/, replacement: fileURLToPath(new URL('../../cdk/index.ts', import.meta.url)) },
];
