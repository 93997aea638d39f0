// The type-check benchmark (`npm run -s bench -- --only typecheck`): what checking the DAG files of dags/
// costs as they load (lib/dagbag/typecheck.ts): a cold check (nothing parsed in the process), a check by a
// new checker in a process that parsed the files before (a second `loadDagBag`), and the warm re-check of
// the standalone's reloader after one file is touched (its mtime changes: re-parsed, re-checked with the
// previous program), a DAG file or the helper every example imports. Medians of 5, ms.
import { utimesSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scanDagsFolder } from '../lib/dagbag/scan.ts';
import { DagTypeChecker, forgetParsedFiles } from '../lib/dagbag/typecheck.ts';

export interface TypecheckScenario {
  name: 'typecheck';
  /** DAG files checked. */
  dagFiles: number;
  /** Files in the program (the DAG files, what they import, the TypeScript library and @types files). */
  programFiles: number;
  /** Type errors found (0 for the examples). */
  errors: number;
  /** Median ms of a check by a new checker with nothing parsed in the process. */
  coldMs: number;
  /** Median ms of a check by a new checker, the files parsed by an earlier one (cached by path and mtime). */
  newCheckerMs: number;
  /** Median ms of the warm checker's re-check after a DAG file was touched. */
  warmDagFileMs: number;
  /** Median ms of the warm checker's re-check after the helper the examples import was touched. */
  warmHelperMs: number;
  /** Whether the warm program kept the untouched files' parsed source (the same objects). */
  reused: boolean;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const RUNS = 5;

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

export function runTypecheckScenario(): TypecheckScenario {
  const folder = fileURLToPath(new URL('../dags/', import.meta.url));
  const { files } = scanDagsFolder(folder);
  const dagFile = files.includes('example_workflow.ts') ? 'example_workflow.ts' : files[0]!;
  const helper = '_pipeline_sim.ts';
  const touch = (f: string) => {
    const now = new Date();
    utimesSync(path.join(folder, f), now, now);
  };
  let errors = 0;
  const cold: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    forgetParsedFiles();
    const checker = new DagTypeChecker(folder);
    cold.push(timed(() => (errors = checker.check(files).byFile.size)));
  }
  const fresh: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const checker = new DagTypeChecker(folder);
    fresh.push(timed(() => checker.check(files)));
  }
  const warm = new DagTypeChecker(folder);
  warm.check(files);
  const before = warm.program!;
  const warmDag: number[] = [];
  const warmHelper: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    touch(dagFile);
    warmDag.push(timed(() => warm.check(files)));
    touch(helper);
    warmHelper.push(timed(() => warm.check(files)));
  }
  const after = warm.program!;
  const untouched = files.find((f) => f !== dagFile && f !== helper)!;
  const abs = path.join(folder, untouched);
  return {
    name: 'typecheck',
    dagFiles: files.length,
    programFiles: after.getSourceFiles().length,
    errors,
    coldMs: median(cold),
    newCheckerMs: median(fresh),
    warmDagFileMs: median(warmDag),
    warmHelperMs: median(warmHelper),
    reused: before !== after && before.getSourceFile(abs) === after.getSourceFile(abs),
  };
}

export function typecheckTable(t: TypecheckScenario): string {
  const fmt = (n: number) => n.toFixed(1);
  return [
    '',
    `type checking dags/ (${t.dagFiles} DAG files, ${t.programFiles} files in the program, ${t.errors} with errors; median of ${RUNS}):`,
    `  cold (nothing parsed)           ${fmt(t.coldMs).padStart(8)} ms`,
    `  new checker, files parsed       ${fmt(t.newCheckerMs).padStart(8)} ms`,
    `  warm, a DAG file touched        ${fmt(t.warmDagFileMs).padStart(8)} ms`,
    `  warm, the shared helper touched ${fmt(t.warmHelperMs).padStart(8)} ms`,
    `  unchanged files' parsed source reused by the warm program: ${t.reused ? 'yes' : 'no'}`,
    '',
  ].join('\n');
}
