// The CLI benchmark (`npm run -s bench -- --only cli`): how long a command takes from a user's shell, in a
// project as `npm install airless` leaves it (node_modules/airless, node_modules/.bin/airless) with one
// trivial DAG: `npx airless --version`, `npx airless dags list` and `npx airless dags test trivial`, 10
// runs each (median, and the fastest and slowest), and the same commands as `node <bin>` without npx. The
// package's build is used (dist/, built first), as installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = 10;

export interface CliTiming {
  command: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export interface CliScenario {
  name: 'cli';
  runs: number;
  /** `npx airless dags test trivial` once in a new home: the DAG file type checked (no verdict kept yet). */
  coldDagsTestMs: number;
  timings: CliTiming[];
}

function time(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): CliTiming {
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const r = spawnSync(command, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    ms.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`\`${command} ${args.join(' ')}\` exited with ${r.status}: ${r.stderr}`);
  }
  ms.sort((a, b) => a - b);
  const shown = [command === process.execPath ? 'node' : path.basename(command), ...args.map((a) => a.replace(/^.*node_modules\/\.bin\/airless$/, 'node_modules/.bin/airless'))].join(' ');
  return { command: shown, medianMs: (ms[RUNS / 2 - 1]! + ms[RUNS / 2]!) / 2, minMs: ms[0]!, maxMs: ms.at(-1)! };
}

export function runCliScenario(): CliScenario {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const project = mkdtempSync(path.join(tmpdir(), 'airless-cli-bench-'));
  try {
    writeFileSync(path.join(project, 'package.json'), '{ "name": "cli-bench", "private": true, "type": "module" }\n');
    mkdirSync(path.join(project, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(ROOT, path.join(project, 'node_modules', 'airless'));
    symlinkSync(path.join(ROOT, 'bin', 'airless.js'), path.join(project, 'node_modules', '.bin', 'airless'));
    mkdirSync(path.join(project, 'dags'));
    writeFileSync(path.join(project, 'dags', 'trivial.ts'), "import { dag } from 'airless';\n\nexport default dag({ dagId: 'trivial' }, ({ task }) => {\n  task('hello', () => 'hello');\n});\n");
    // A user's shell: this Node first on the PATH, no npm_* variables of the `npm run` that started this.
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_|^NODE_OPTIONS$|^AIRLESS_/.test(k)));
    env.PATH = [path.dirname(process.execPath), ...(process.env.PATH ?? '').split(path.delimiter).filter((d) => !d.startsWith(ROOT))].join(path.delimiter);
    env.NO_COLOR = '1';
    const bin = path.join(project, 'node_modules', '.bin', 'airless');
    // Once cold: a new home, so the DAG file's code has no clean verdict kept and is type checked.
    env.AIRLESS_HOME = path.join(project, '.airless');
    const t0 = performance.now();
    const cold = spawnSync('npx', ['airless', 'dags', 'test', 'trivial'], { cwd: project, env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    const coldDagsTestMs = performance.now() - t0;
    if (cold.status !== 0) throw new Error(`npx airless dags test trivial exited with ${cold.status}: ${cold.stderr}`);
    const timings: CliTiming[] = [];
    for (const args of [['--version'], ['dags', 'list'], ['dags', 'test', 'trivial']]) {
      timings.push(time('npx', ['airless', ...args], project, env));
      timings.push(time(process.execPath, [bin, ...args], project, env));
    }
    return { name: 'cli', runs: RUNS, coldDagsTestMs, timings };
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
}

export function cliTable(c: CliScenario): string {
  const lines = ['', `the CLI, from a project's shell (${c.runs} runs each; ms):`, `  ${'command'.padEnd(44)} ${'median'.padStart(7)} ${'min'.padStart(7)} ${'max'.padStart(7)}`];
  for (const t of c.timings) lines.push(`  ${t.command.padEnd(44)} ${t.medianMs.toFixed(0).padStart(7)} ${t.minMs.toFixed(0).padStart(7)} ${t.maxMs.toFixed(0).padStart(7)}`);
  lines.push(`  npx airless dags test trivial, once in a new home (the type check not kept yet): ${c.coldDagsTestMs.toFixed(0)} ms`);
  return `${lines.join('\n')}\n`;
}
