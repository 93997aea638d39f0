// The unzipped size of each function's bundle, built with esbuild as the stack's NodejsFunction bundles
// it (cdk/airless.ts: ESM, node22, minified, a source map without sources, the AWS SDK bundled),
// with the generated DAGs as the `airless-dags` module. The generated DAGs are made by code of one size
// whatever their number, so one build stands for every size; a team's own DAG code adds its own bytes.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { FUNCTION_FILES } from '../../cdk/airless.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const GENERATOR = fileURLToPath(new URL('./generate-dags.ts', import.meta.url));

export interface BundleFigures {
  /** Bytes of the bundle and its source map, by function. */
  byFunction: Record<string, number>;
  largest: { function: string; bytes: number };
  seconds: number;
}

export async function measureBundles(dags: number, tasksPerDag: number): Promise<BundleFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), 'airless-deploy-scale-bundle-'));
  try {
    const dagsModule = path.join(dir, 'airless-dags.ts');
    writeFileSync(
      dagsModule,
      [
        `import { generateDags } from ${JSON.stringify(GENERATOR)};`,
        `const dags = generateDags({ dags: ${dags}, tasksPerDag: ${tasksPerDag} });`,
        `export const dagModules = [{ file: 'generated.ts', exports: Object.fromEntries(dags.map((d) => [d.dagId, d])) as Record<string, unknown> }];`,
        '',
      ].join('\n'),
    );
    const t0 = performance.now();
    const byFunction: Record<string, number> = {};
    for (const [name, file] of Object.entries(FUNCTION_FILES)) {
      const outdir = path.join(dir, name);
      await build({
        entryPoints: [path.join(REPO_ROOT, 'functions', `${file}.ts`)],
        outfile: path.join(outdir, 'index.mjs'),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourcemap: true,
        sourcesContent: false,
        tsconfig: path.join(REPO_ROOT, 'tsconfig.json'),
        banner: { js: "import { createRequire as __airlessRequire } from 'node:module'; const require = __airlessRequire(import.meta.url);" },
        alias: { 'airless-dags': dagsModule },
        logLevel: 'error',
      });
      byFunction[name] = ['index.mjs', 'index.mjs.map'].reduce((n, f) => n + statSync(path.join(outdir, f)).size, 0);
    }
    const [fn, bytes] = Object.entries(byFunction).reduce((a, b) => (b[1] > a[1] ? b : a));
    return { byFunction, largest: { function: fn, bytes }, seconds: Math.round((performance.now() - t0) / 10) / 100 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
