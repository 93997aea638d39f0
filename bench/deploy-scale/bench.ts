// The deploy-scale benchmark (`npm run bench -- --only deploy-scale`): the airless stack synthesized for
// generated DAGs at several sizes, each size in a process of its own (bench/deploy-scale/measure-size.ts),
// so that one size failing (or running out of memory) is a failure of that size, not of the benchmark.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { measureBundles, type BundleFigures } from './measure-bundles.ts';
import type { SizeFigures } from './measure-size.ts';
import { checkQuota } from './quotas.ts';

/** The sizes measured: DAGs × tasks per DAG. */
export const DEPLOY_SCALE_SIZES: readonly { dags: number; tasksPerDag: number }[] = [
  { dags: 1, tasksPerDag: 10 },
  { dags: 7, tasksPerDag: 20 },
  { dags: 20, tasksPerDag: 20 },
  { dags: 50, tasksPerDag: 20 },
  { dags: 200, tasksPerDag: 25 },
];

/** A size whose process failed: no figures, and why. */
export interface SizeFailure {
  dags: number;
  tasksPerDag: number;
  tasks: number;
  error: string;
}

export interface DeployScaleScenario {
  name: 'deploy-scale';
  sizes: (SizeFigures | SizeFailure)[];
  /** The functions' bundles (built once, with the largest size's DAGs), or why they could not be built. */
  bundles: BundleFigures | { error: string };
}

const MEASURE = fileURLToPath(new URL('./measure-size.ts', import.meta.url));

/** Heap for one size: the largest holds a construct tree of some 9,000 resources, twice when CDK refuses it first. */
const HEAP_MB = 8192;

function measureInChild(dags: number, tasksPerDag: number): Promise<SizeFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--import', 'tsx', MEASURE, String(dags), String(tasksPerDag)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: SizeFigures | null = null;
    child.on('message', (m) => (result = m as SizeFigures));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) reject(new Error(`the process of ${dags} × ${tasksPerDag} exited with ${signal ?? `code ${code}`} (its stderr above says why)`));
      else if (!result) reject(new Error(`the process of ${dags} × ${tasksPerDag} exited without reporting figures`));
      else resolve(result);
    });
  });
}

export async function runDeployScaleScenario(sizes = DEPLOY_SCALE_SIZES): Promise<DeployScaleScenario> {
  const out: (SizeFigures | SizeFailure)[] = [];
  const largest = sizes.reduce((a, b) => (b.dags * b.tasksPerDag > a.dags * a.tasksPerDag ? b : a));
  let bundles: BundleFigures | { error: string };
  try {
    process.stderr.write(`bench: deploy-scale: bundling the functions (esbuild, with ${largest.dags} × ${largest.tasksPerDag} generated DAGs)\n`);
    bundles = await measureBundles(largest.dags, largest.tasksPerDag);
  } catch (e) {
    process.stderr.write(`bench: deploy-scale: bundling FAILED: ${(e as Error).message}\n`);
    bundles = { error: (e as Error).message };
  }
  for (const { dags, tasksPerDag } of sizes) {
    process.stderr.write(`bench: deploy-scale: ${dags} × ${tasksPerDag}: synthesizing\n`);
    try {
      const f = await measureInChild(dags, tasksPerDag);
      process.stderr.write(`bench: deploy-scale: ${dags} × ${tasksPerDag}: ${f.template.resources} resources, ${Math.round(f.templateBytes / 1024)} KB, synth ${f.synthSeconds} s${f.synthError ? ' (CDK refuses it at its default limit)' : ''}\n`);
      // One bundle size stands for every size: the generated DAGs are made by code of one size.
      f.quotas.push(checkQuota('lambdaBundle', 'largest' in bundles ? bundles.largest.bytes : null, 'largest' in bundles ? bundles.largest.function : null));
      out.push(f);
    } catch (e) {
      process.stderr.write(`bench: deploy-scale: ${dags} × ${tasksPerDag}: FAILED: ${(e as Error).message}\n`);
      out.push({ dags, tasksPerDag, tasks: dags * tasksPerDag, error: (e as Error).message });
    }
  }
  return { name: 'deploy-scale', sizes: out, bundles };
}
