import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDagBag } from '../lib/dagbag/dag-bag.ts';
import { DagTypeChecker } from '../lib/dagbag/typecheck.ts';
import { FakeClock } from '../lib/runner/clock.ts';
import { DagReloader, VersionedDags } from '../lib/standalone/dag-reloader.ts';
import { ScheduleLoop } from '../lib/standalone/schedule-loop.ts';
import { fakeRunner } from './helpers.ts';

// The DAG files are written at test time into folders of their own: files with deliberate type errors
// cannot live under test/, which the repository's own `tsc -p tsconfig.json` checks.
const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

const TYPO = `import { dag } from 'airless';

export default dag({ dagId: 'typo', params: { n: { type: 'integer', default: 3 } } }, ({ task }) => {
  task('show', ({ params }) => \`n=\${params.nn}\`);
});
`;
const GOOD = `import { dag, task } from 'airless';
export default dag({ dagId: 'good' }, () => {
  task('one', () => 1);
});
`;
const HELPER = `export const width: number = 'wide';
`;
const usesHelper = (dagId: string) => `import { dag, task } from 'airless';
import { width } from './_helper.ts';
export default dag({ dagId: '${dagId}' }, () => {
  task('w', () => width);
});
`;

/** A DAGs folder outside the repository (no tsconfig above it): an ES-module package whose 'airless' is this repository. */
function folderWith(files: Record<string, string>, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airless-typecheck-'));
  made.push(dir);
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(ROOT, path.join(dir, 'node_modules', 'airless'), 'dir');
  for (const [name, text] of Object.entries({ ...files, ...extra })) writeFileSync(path.join(dir, name), text);
  return dir;
}

const importsOf = () => {
  const imported: string[] = [];
  const importModule = async (url: string) => {
    imported.push(path.basename(new URL(url).pathname));
    return (await import(url)) as Record<string, unknown>;
  };
  return { imported, importModule };
};

describe('loadDagBag type checks the DAG files', () => {
  const dir = folderWith({ 'typo.ts': TYPO, 'good.ts': GOOD, '_helper.ts': HELPER, 'uses_a.ts': usesHelper('uses_a'), 'uses_b.ts': usesHelper('uses_b') });

  it("reports a typo as that file's import error, with file:line:col and TS2339, and does not import the file; the others load", async () => {
    const { imported, importModule } = importsOf();
    const bag = await loadDagBag(dir, { importModule });
    expect(bag.dagIds).toEqual(['good']);
    expect(bag.typechecked).toBe(true);
    const typo = bag.importErrors.find((e) => e.file === 'typo.ts');
    expect(typo?.error.split('\n')).toEqual([
      `typo.ts:4:44 - error TS2339: Property 'nn' does not exist on type 'ParamValues<{ readonly n: { readonly type: "integer"; readonly default: 3; }; }>'.`,
      'file typo.ts: a type error; the file is not loaded (--no-typecheck or AIRLESS_NO_TYPECHECK=1 loads it unchecked)',
    ]);
    expect(imported).toEqual(['good.ts']);
  });

  it('counts an error in a helper module against every DAG file that imports it', async () => {
    const bag = await loadDagBag(dir);
    expect(bag.importErrors.map((e) => e.file)).toEqual(['typo.ts', 'uses_a.ts', 'uses_b.ts']);
    for (const file of ['uses_a.ts', 'uses_b.ts']) {
      expect(bag.importErrors.find((e) => e.file === file)?.error).toMatch(/^_helper\.ts:1:14 - error TS2322: Type 'string' is not assignable to type 'number'\.\nfile uses_[ab]\.ts: a type error;/);
    }
  });

  it('loads every file with typecheck: false', async () => {
    const bag = await loadDagBag(dir, { typecheck: false });
    expect(bag.importErrors).toEqual([]);
    expect(bag.dagIds).toEqual(['good', 'typo', 'uses_a', 'uses_b']);
    expect(bag.typechecked).toBe(false);
  });

  it('uses the compiler options of the nearest tsconfig.json above the folder, else strict defaults', async () => {
    // noUncheckedIndexedAccess is not among the defaults: the same file is an error only under this tsconfig.
    const indexed = `import { dag, task } from 'airless';
const sizes: number[] = [1, 2];
const first: number = sizes[0];
export default dag({ dagId: 'indexed' }, () => {
  task('first', () => first);
});
`;
    const plain = folderWith({ 'indexed.ts': indexed });
    expect((await loadDagBag(plain)).dagIds).toEqual(['indexed']);
    const project = folderWith({}, { 'tsconfig.json': JSON.stringify({ compilerOptions: { strict: true, noUncheckedIndexedAccess: true, module: 'ESNext', moduleResolution: 'bundler', allowImportingTsExtensions: true, target: 'ES2023', skipLibCheck: true } }) });
    mkdirSync(path.join(project, 'dags'));
    writeFileSync(path.join(project, 'dags', 'indexed.ts'), indexed);
    const bag = await loadDagBag(path.join(project, 'dags'));
    expect(bag.dagIds).toEqual([]);
    expect(bag.importErrors[0]?.error).toMatch(/^indexed\.ts:3:7 - error TS2322: Type 'number \| undefined' is not assignable to type 'number'\./);
  });
});

describe('the warm checker (the standalone reloader keeps one)', () => {
  it('reports a new error after an edit and clears it after the fix, re-using the unchanged files of its last program', async () => {
    const dir = folderWith({ 'good.ts': GOOD, 'other.ts': GOOD.replace("'good'", "'other'") });
    const checker = new DagTypeChecker(dir);
    const files = ['good.ts', 'other.ts'];
    expect(checker.check(files).byFile.size).toBe(0);
    const first = checker.program!;
    const other = path.join(dir, 'other.ts');

    writeFileSync(path.join(dir, 'good.ts'), GOOD.replace('() => 1', '(): string => 1'));
    const broken = checker.check(files);
    expect([...broken.byFile]).toEqual([['good.ts', ["good.ts:3:29 - error TS2322: Type 'number' is not assignable to type 'string'."]]]);
    const second = checker.program!;
    expect(second).not.toBe(first);
    // The untouched file and the library's files are the very objects the first program parsed.
    expect(second.getSourceFile(other)).toBe(first.getSourceFile(other));
    expect(second.getSourceFile(path.join(ROOT, 'lib', 'index.ts'))).toBe(first.getSourceFile(path.join(ROOT, 'lib', 'index.ts')));
    expect(second.getSourceFile(path.join(dir, 'good.ts'))).not.toBe(first.getSourceFile(path.join(dir, 'good.ts')));

    // loadDagBag with the checker: the same errors; fixed, the file loads again.
    const bag = await loadDagBag(dir, { typecheck: checker, importModule: async (url) => (await import(`${url}?v=1`)) as Record<string, unknown> });
    expect(bag.importErrors.map((e) => e.file)).toEqual(['good.ts']);
    writeFileSync(path.join(dir, 'good.ts'), GOOD.replace('() => 1', '(): number => 2'));
    expect(checker.check(files).byFile.size).toBe(0);
    const fixed = await loadDagBag(dir, { typecheck: checker, importModule: async (url) => (await import(`${url}?v=2`)) as Record<string, unknown> });
    expect(fixed.dagIds).toEqual(['good', 'other']);
    expect(fixed.importErrors).toEqual([]);
  });

  it("the standalone's reloader re-checks with the checker of the bag the server started with", async () => {
    const dir = folderWith({ 'good.ts': GOOD });
    const bag = await loadDagBag(dir);
    const checker = bag.typeChecker!;
    const first = checker.program!;
    const dags = new VersionedDags(bag);
    const runner = fakeRunner([...bag.dags]);
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const loop = new ScheduleLoop({ store: runner.store, dags: dags.dags, clock, trigger: (req) => runner.trigger(req) });
    const lines: string[] = [];
    const reloader = new DagReloader({ dags, store: runner.store, loop, now: () => clock.now(), warn: (l) => lines.push(l) });
    try {
      writeFileSync(path.join(dir, 'good.ts'), GOOD.replace('() => 1', '(): string => 1'));
      await reloader.reload(['good.ts']);
      expect(dags.dagIds).toEqual([]);
      expect(dags.importErrors.map((e) => e.error.split('\n')[0])).toEqual(["good.ts:3:29 - error TS2322: Type 'number' is not assignable to type 'string'."]);
      expect(dags.current.typeChecker).toBe(checker);
      expect(checker.program).not.toBe(first);
      expect(lines.at(-1)).toMatch(/: 1 import error \(airless dags list-import-errors\)$/);
      writeFileSync(path.join(dir, 'good.ts'), GOOD.replace('() => 1', '(): number => 2'));
      await reloader.reload(['good.ts']);
      expect(dags.dagIds).toEqual(['good']);
      expect(dags.importErrors).toEqual([]);
    } finally {
      await reloader.stop();
      await loop.stop();
    }
  });

  it('skips JavaScript DAG files', () => {
    const dir = folderWith({ 'plain.js': 'export const x = 1;\n', 'good.ts': GOOD });
    const checker = new DagTypeChecker(dir);
    expect(checker.check(['good.ts', 'plain.js']).byFile.size).toBe(0);
    expect(checker.program?.getSourceFile(path.join(dir, 'plain.js'))).toBeUndefined();
  });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI (test/support/build-package.ts builds it first), as users run it. */
function airless(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'airless-typecheck-home-'));
  made.push(home);
  const base: NodeJS.ProcessEnv = { ...process.env, AIRLESS_HOME: home, NO_COLOR: '1', ...env };
  delete base['FORCE_COLOR'];
  delete base['AIRLESS_DAGS_FOLDER'];
  if (!('AIRLESS_NO_TYPECHECK' in env)) delete base['AIRLESS_NO_TYPECHECK'];
  return new Promise((resolve) => {
    execFile(NODE, ['bin/airless.js', ...args], { cwd: ROOT, env: base, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

describe('the CLI reports type errors as import errors', () => {
  const dir = folderWith({ 'typo.ts': TYPO, 'good.ts': GOOD });

  it('dags list-import-errors lists the file with its TS lines (exit 0)', async () => {
    const r = await airless(['dags', 'list-import-errors', '--json', '--dags-folder', dir]);
    expect(r.code).toBe(0);
    const errors = JSON.parse(r.stdout) as { file: string; error: string }[];
    expect(errors.map((e) => e.file)).toEqual(['typo.ts']);
    expect(errors[0]?.error).toMatch(/^typo\.ts:4:44 - error TS2339: Property 'nn' does not exist on type/);
  });

  it('dags test of the file exits 2 with its TS lines; of another file, runs it', async () => {
    const r = await airless(['dags', 'test', 'typo', '--dags-folder', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("typo.ts:4:44 - error TS2339: Property 'nn' does not exist");
    const good = await airless(['dags', 'test', 'good', '--json', '--dags-folder', dir]);
    expect(good.code).toBe(0);
  });

  it('--no-typecheck (or AIRLESS_NO_TYPECHECK=1) runs the DAG', async () => {
    for (const r of [await airless(['--no-typecheck', 'dags', 'test', 'typo', '--json', '--dags-folder', dir]), await airless(['dags', 'test', 'typo', '--json', '--dags-folder', dir], { AIRLESS_NO_TYPECHECK: '1' })]) {
      expect(r.stderr).not.toContain('TS2339');
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as { state: string }).state).toBe('success');
    }
  });
});
