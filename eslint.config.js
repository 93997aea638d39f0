// @ts-check
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The layers of the code, lowest first. A folder (or root file) may import from the layers below its own,
 * never from its own layer's other folders nor from a layer above: so no import cycle can form between
 * folders. When something is needed by a lower folder, move it down (see ARCHITECTURE.md, "Layers").
 * Consumers (the Lambda functions, the CDK app, the web UI, tests, examples) sit above the library.
 */
const LAYERS = [
  ['lib/error-info.ts', 'lib/package-root.ts'],
  ['lib/errors.ts', 'lib/clients'],
  ['lib/public-errors.ts'],
  ['lib/model'],
  ['lib/core'],
  ['lib/authoring'],
  ['lib/store', 'lib/dagbag'],
  ['lib/executor'],
  ['lib/scheduler'],
  ['lib/compiler', 'lib/runner'],
  ['lib/api'],
  ['lib/aws', 'lib/ui-server'],
  ['lib/standalone'],
  ['lib/cli'],
  ['lib/index.ts'],
];
const CONSUMERS = ['functions', 'cdk', 'ui', 'dags', 'test', 'e2e', 'bench', 'bin'];

/** One zone per folder: what it must not import (the layers above it, its layer's other folders). */
const layerZones = LAYERS.flatMap((layer, i) => {
  const above = [...LAYERS.slice(i + 1).flat(), ...CONSUMERS];
  return layer.map((folder) => {
    const siblings = layer.filter((f) => f !== folder);
    return {
      target: `./${folder}`,
      from: [...above, ...siblings].map((f) => `./${f}`),
      message: `${folder} may import only from the layers below it (${LAYERS.slice(0, i).flat().join(', ') || 'none'}): move what is shared down a layer (LAYERS in eslint.config.js).`,
    };
  });
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'coverage/**', '.airless/**', 'scratch/**', 'cdk.out/**', 'eslint.config.js', 'bin/**', 'ui/dist/**', 'dist/**', 'test/fixtures/import-places/**', 'test/browser/screenshots/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.js', '.mjs', '.json'] })] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      // As only-throw-error does by default: an abort's reason (typed any) is passed on as it is.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // Off: the stores, Batch simulations and Fastify routes implement Promise-returning interfaces with
      // synchronous bodies; `async` is what turns a throw in them into a rejection, as their callers expect.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layerZones }],
    },
  },
  {
    // Tests read untyped JSON (HTTP responses, ASL documents, SDK command inputs) through `any` and check
    // it with `expect`; the library itself is held to the no-unsafe rules.
    files: ['test/**', 'e2e/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  // Plain JavaScript (a worker's boot script), the DAG-folder fixtures (some broken on purpose) and the
  // templates of `airless init` (a user's project, which imports the installed 'airless' and 'airless/cdk')
  // lint untyped.
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs', 'test/fixtures/**', 'templates/**'], ...tseslint.configs.disableTypeChecked },
  {
    // The web UI is a browser bundle: from the library it takes the API's generated types only.
    files: ['ui/**/*.ts', 'ui/**/*.tsx'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: import.meta.dirname,
          zones: [{ target: './ui', from: './lib', except: ['./api/openapi-types.ts'], message: 'the web UI imports only the API types (lib/api/openapi-types.ts) from the library.' }],
        },
      ],
    },
  },
);
