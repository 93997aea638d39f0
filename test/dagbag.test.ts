import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDagBag, type DagBag } from '../lib/dagbag/dag-bag.ts';
import { DagsFolderError, resolveDagsFolder } from '../lib/dagbag/dags-folder.ts';
import { findDagFiles, isDagFileName } from '../lib/dagbag/scan.ts';
import { LocalRunner } from '../lib/index.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/dagbag');

function errorOf(bag: DagBag, file: string): string {
  const found = bag.importErrors.filter((e) => e.file === file);
  expect(found, `import errors of ${file}`).toHaveLength(1);
  return found[0]!.error;
}

describe('loadDagBag on a folder of good and bad DAG files', () => {
  let bag: DagBag;
  beforeAll(async () => {
    bag = await loadDagBag(FIXTURES);
  });

  it('loads every good DAG, sorted by dagId, each with its file as fileloc', () => {
    expect(bag.dags.map((d) => [d.dagId, d.spec.fileloc])).toStrictEqual([
      ['dup_b_unique', 'dup-b.ts'],
      ['dup_dag', 'dup-a.ts'],
      ['generated_a', 'multi.ts'],
      ['generated_b', 'multi.ts'],
      ['good_dag', 'good.ts'],
      ['js_dag', 'plain.js'],
      ['multi_first', 'multi.ts'],
      ['multi_second', 'multi.ts'],
      ['nested_dag', 'nested/second.mts'],
    ]);
    expect(bag.folder).toBe(FIXTURES);
    expect(bag.getDag('good_dag')?.spec.tasks.map((t) => t.taskId)).toStrictEqual(['numbers', 'math.double', 'math.sum']);
    expect(bag.getDag('cycle_dag')).toBeUndefined();
  });

  it('records exactly one error per bad file, in file order', () => {
    expect(bag.importErrors.map((e) => e.file)).toStrictEqual([
      'bad-cycle.ts',
      'bad-duplicate-task.ts',
      'bad-missing-module.ts',
      'bad-param-default.ts',
      'bad-schedule.ts',
      'bad-throws.ts',
      'bad-trigger-rule.ts',
      'dup-b.ts',
    ]);
  });

  it('a cycle names the file, the DAG and the cycle', () => {
    const e = errorOf(bag, 'bad-cycle.ts');
    expect(e).toContain("file bad-cycle.ts: DagCycleError: DAG 'cycle_dag': cycle detected: a -> b -> a");
    expect(bag.importErrorsFor('cycle_dag').map((x) => x.file)).toStrictEqual(['bad-cycle.ts']);
  });

  it('a duplicate task id names the DAG and the task', () => {
    expect(errorOf(bag, 'bad-duplicate-task.ts')).toContain(
      "file bad-duplicate-task.ts: DagDefinitionError: DAG 'duplicate_task_dag', task 'extract': duplicate task id 'extract'",
    );
  });

  it('an unknown trigger rule names the DAG, the task and the field', () => {
    expect(errorOf(bag, 'bad-trigger-rule.ts')).toContain(
      "file bad-trigger-rule.ts: DagDefinitionError: DAG 'trigger_rule_dag', task 'cleanup', field 'triggerRule': unknown trigger rule 'all_sucess'",
    );
  });

  it('a bad schedule names the DAG and the field', () => {
    expect(errorOf(bag, 'bad-schedule.ts')).toContain(
      "file bad-schedule.ts: DagDefinitionError: DAG 'schedule_dag', field 'schedule': '0 25 * * *' is not a valid cron expression",
    );
  });

  it('a param default that fails its schema names the param', () => {
    expect(errorOf(bag, 'bad-param-default.ts')).toContain(
      "file bad-param-default.ts: DagDefinitionError: DAG 'param_default_dag', field 'params.nchan': default 0 fails its own schema: value must be >= 1",
    );
  });

  it('a missing module names the file and the module', () => {
    const e = errorOf(bag, 'bad-missing-module.ts');
    expect(e.startsWith('file bad-missing-module.ts: ')).toBe(true);
    expect(e).toContain("'no-such-module-airless-fixture'");
  });

  it('an error thrown at import names the file and the line it was thrown at', () => {
    const e = errorOf(bag, 'bad-throws.ts');
    expect(e).toMatch(/^file bad-throws\.ts: TypeError: Cannot read properties of undefined \(reading 'channels'\)/);
    expect(e).toMatch(/\n {4}at bad-throws\.ts:7:\d+\n/);
    expect(e).toContain("> 7 |   empty(`channels_${settings['radio']!.channels}`);");
  });

  it('a dagId defined in two files: the second file gets the error, naming the first; its other DAGs load', () => {
    expect(errorOf(bag, 'dup-b.ts')).toBe(
      "file dup-b.ts, DAG 'dup_dag': already defined in file dup-a.ts; this file's export 'default' is ignored (dagIds must be unique in the DAGs folder)",
    );
    expect(bag.getDag('dup_dag')?.spec.description).toBe('the first definition');
    expect(bag.getDag('dup_b_unique')?.spec.fileloc).toBe('dup-b.ts');
    expect(bag.importErrorsFor('dup_dag').map((x) => x.file)).toStrictEqual(['dup-b.ts']);
  });

  it('skips helper files (names starting with _) and counts a re-exported or aliased DAG once', () => {
    expect(bag.files).not.toContain('_helper.ts');
    expect(bag.getDag('helper_only_dag')).toBeUndefined();
    expect(bag.files).toContain('reexport.ts');
    expect(bag.importErrors.some((e) => e.file === 'reexport.ts' || e.file === 'multi.ts')).toBe(false);
  });

  it('is a DagResolver the local runner accepts', async () => {
    const runner = new LocalRunner({ dags: bag });
    const report = await runner.run({ dagId: 'good_dag' });
    expect(report.state).toBe('success');
    expect(report.tasks.map((t) => `${t.taskId}[${t.mapIndex}]=${t.state}`)).toStrictEqual([
      'numbers[null]=success',
      'math.double[0]=success',
      'math.double[1]=success',
      'math.double[2]=success',
      'math.sum[null]=success',
    ]);
    expect((await runner.store.getXCom(report, 'math.sum', -1, 'return_value'))?.value).toBe(12);
  });
});

describe('loadDagBag: syntax errors and what the scan skips', () => {
  let dir: string;
  beforeAll(() => {
    // Written at test time: a file with a syntax error (or a *.test.ts) in test/ would break tsc, eslint and vitest.
    dir = mkdtempSync(path.join(os.tmpdir(), 'airless-dagbag-'));
    const lib = JSON.stringify(path.resolve(import.meta.dirname, '../lib/index.ts'));
    const broken = 'export const x = {;\n';
    const write = (rel: string, text: string) => {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), text);
    };
    write('package.json', '{ "type": "module" }\n');
    write('ok.ts', `import { dag, empty } from ${lib};\nexport default dag({ dagId: 'ok_dag' }, () => void empty('e'));\n`);
    write(
      'twice.ts',
      `import { dag, empty } from ${lib};\nexport const one = dag({ dagId: 'twice_dag' }, () => void empty('e'));\nexport const two = dag({ dagId: 'twice_dag' }, () => void empty('f'));\n`,
    );
    write('sub/syntax.ts', `import { dag } from ${lib};\nexport default dag({ dagId: 'syntax_dag' }, () => {\n  const = 1;\n});\n`);
    write('_helper.ts', broken);
    write('ok.test.ts', broken);
    write('ok.spec.ts', broken);
    write('types.d.ts', broken);
    write('notes.md', broken);
    write('node_modules/pkg/index.ts', broken);
    write('.hidden/dag.ts', broken);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the scan takes DAG files only', () => {
    expect(findDagFiles(dir)).toStrictEqual(['ok.ts', 'sub/syntax.ts', 'twice.ts']);
    expect(['a.ts', 'a.mts', 'a.js', 'a.mjs'].every(isDagFileName)).toBe(true);
    expect(['_a.ts', 'a.d.ts', 'a.test.ts', 'a.spec.mjs', 'a.cjs', 'a.tsx', 'a.json'].some(isDagFileName)).toBe(false);
  });

  it('a syntax error names the file and the line; the good DAGs beside it load', async () => {
    const bag = await loadDagBag(dir);
    expect(bag.dagIds).toStrictEqual(['ok_dag', 'twice_dag']);
    expect(bag.importErrors.map((e) => e.file)).toStrictEqual(['sub/syntax.ts', 'twice.ts']);
    const e = bag.importErrors[0]!;
    expect(e.error.startsWith('file sub/syntax.ts: ')).toBe(true);
    expect(e.error).toMatch(/syntax\.ts:3:/);
  });

  it('a dagId defined twice in one file: the first export is kept, the second gets the error', async () => {
    const bag = await loadDagBag(dir);
    expect(bag.getDag('twice_dag')?.spec.tasks.map((t) => t.taskId)).toStrictEqual(['e']);
    expect(bag.importErrorsFor('twice_dag')).toStrictEqual([
      {
        file: 'twice.ts',
        error: "file twice.ts, DAG 'twice_dag': already defined by export 'one' of this file; this file's export 'two' is ignored (dagIds must be unique in the DAGs folder)",
      },
    ]);
  });
});

describe('the DAGs folder', () => {
  it('defaults to ./dags, then AIRLESS_DAGS_FOLDER, then --dags-folder', () => {
    expect(resolveDagsFolder(undefined, {}, '/w')).toBe('/w/dags');
    expect(resolveDagsFolder(undefined, { AIRLESS_DAGS_FOLDER: 'pipelines' }, '/w')).toBe('/w/pipelines');
    expect(resolveDagsFolder('/abs/x', { AIRLESS_DAGS_FOLDER: 'pipelines' }, '/w')).toBe('/abs/x');
  });

  it('a folder that does not exist is a DagsFolderError naming it', async () => {
    const missing = path.join(os.tmpdir(), 'airless-no-such-folder');
    await expect(loadDagBag(missing)).rejects.toThrow(DagsFolderError);
    await expect(loadDagBag(missing)).rejects.toThrow(`DAGs folder '${missing}' does not exist`);
  });
});

describe('loadDagBag on a folder with a link that cannot be followed', () => {
  it('reports it as an import error naming it, and loads the rest', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'airless-bag-links-'));
    try {
      symlinkSync('loop', path.join(folder, 'loop'));
      const bag = await loadDagBag(folder, { importModule: async () => ({}) });
      expect(bag.importErrors.map((e) => e.file)).toStrictEqual(['loop']);
      expect(bag.importErrors[0]!.error).toMatch(/^file loop: cannot follow this link \(what it points to is not loaded\): ELOOP: /);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
