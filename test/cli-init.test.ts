// `airless init`: the project it writes (every file, exactly), that it never overwrites, how it completes an
// existing package.json, and that the starter DAG and its test run on the repository's own library.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { airlessInit, npmPackageName, PROJECT_DEV_DEPENDENCIES, PROJECT_SCRIPTS, stackNameOf } from '../lib/cli/commands/init.ts';
import { runCli } from '../lib/cli/program.ts';
import { Terminal } from '../lib/cli/terminal.ts';
import { loadDagBag } from '../lib/dagbag/dag-bag.ts';
import { FakeClock } from '../lib/runner/clock.ts';
import { LocalRunner } from '../lib/runner/local-runner.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
/** The Node 22 of the `node` devDependency. */
const NODE = path.join(ROOT, 'node_modules/.bin/node');
/** Every project of this file is made under here (outside the repository), removed at the end. */
const TMP = mkdtempSync(path.join(os.tmpdir(), 'airless-init-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** airless's own package.json, read here independently of the code under test. */
const OWN = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
/** The range airless's package.json has for a package (wherever it lists it); fails the test if none. */
function ownRange(name: string): string {
  const range = OWN.dependencies?.[name] ?? OWN.devDependencies?.[name] ?? OWN.peerDependencies?.[name];
  if (range === undefined) throw new Error(`airless's package.json has no range for ${name}`);
  return range;
}
const DEV_DEPENDENCIES = Object.fromEntries(['@types/node', 'aws-cdk', 'aws-cdk-lib', 'cdk-nag', 'constructs', 'tsx', 'typescript'].map((n) => [n, ownRange(n)]));

/** The files a new project has, besides package.json. */
const PROJECT_FILES = ['.gitignore', '.vscode/launch.json', 'README.md', 'cdk.json', 'dags/hello.ts', 'infra/app.ts', 'test/hello.test.ts', 'tsconfig.json'];

/** A stream that keeps what is written to it. */
function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

/** Run `airlessInit` in this process on `dir` (relative to `cwd`), capturing what it prints. */
async function init(dir: string, cwd = TMP): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture();
  const err = capture();
  const code = await airlessInit(new Terminal(out.stream, err.stream), dir, { cwd });
  await new Promise((resolve) => setImmediate(resolve));
  return { code, stdout: out.text(), stderr: err.text() };
}

/** Every file under a folder, relative, sorted: its content and modification time. */
function snapshot(dir: string): Record<string, { content: string; mtimeMs: number }> {
  const out: Record<string, { content: string; mtimeMs: number }> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile())) {
    const abs = path.join(e.parentPath, e.name);
    out[path.relative(dir, abs).split(path.sep).join('/')] = { content: readFileSync(abs, 'utf8'), mtimeMs: statSync(abs).mtimeMs };
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

const read = (dir: string, file: string) => readFileSync(path.join(dir, file), 'utf8');
const readJson = (dir: string, file: string): any => JSON.parse(read(dir, file));

/** A fresh project, made once for the tests that only read it. */
const fresh = (() => {
  let made: Promise<{ dir: string; code: number; stdout: string; stderr: string }> | undefined;
  return () => (made ??= init('My Data Pipelines!').then((r) => ({ ...r, dir: path.join(TMP, 'My Data Pipelines!') })));
})();

describe('airless init: a new project', () => {
  it('writes exactly the project files and package.json, and prints them and the next steps', async () => {
    const { dir, code, stdout, stderr } = await fresh();
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(Object.keys(snapshot(dir))).toStrictEqual([...PROJECT_FILES, 'package.json'].sort());
    for (const file of [...PROJECT_FILES, 'package.json']) expect(stdout).toContain(`  ${file}`);
    expect(stdout).toContain(`Created an airless project in ${dir}:`);
    // The next steps, in order, from the folder init ran in.
    const steps = stdout.slice(stdout.indexOf('Next steps:')).split('\n').map((l) => l.trim().replace(/\s+#.*$/, ''));
    expect(steps.slice(0, 5)).toStrictEqual(['Next steps:', "cd 'My Data Pipelines!'", 'npm install', 'npx airless dags test hello', 'npm test']);
    // No placeholder is left unfilled anywhere.
    for (const [file, { content }] of Object.entries(snapshot(dir))) expect(content, file).not.toMatch(/\{\{\w+\}\}/);
  });

  it("package.json: an npm-valid name from the folder's, ES module, Node 22, the scripts, airless's version and its tools' ranges", async () => {
    const { dir } = await fresh();
    const pkg = readJson(dir, 'package.json');
    expect(pkg).toStrictEqual({
      name: 'my-data-pipelines',
      version: '0.1.0',
      private: true,
      type: 'module',
      engines: { node: '>=22' },
      scripts: {
        'dags:list': 'airless dags list',
        'dags:test': 'airless dags test hello',
        standalone: 'airless standalone',
        test: 'node --import tsx --test test/*.test.ts',
        typecheck: 'tsc --noEmit',
        synth: 'cdk synth',
        deploy: 'cdk deploy',
      },
      dependencies: { airless: `^${OWN.version}` },
      devDependencies: DEV_DEPENDENCIES,
    });
    // Sorted, as npm keeps them; formatted with 2 spaces and a final newline.
    expect(Object.keys(pkg.devDependencies)).toStrictEqual([...PROJECT_DEV_DEPENDENCIES]);
    expect(read(dir, 'package.json')).toBe(`${JSON.stringify(pkg, null, 2)}\n`);
  });

  it('tsconfig.json, cdk.json, .gitignore, the CDK app, the DAG, its test and the launch settings say what they should', async () => {
    const { dir } = await fresh();
    const tsconfig = readJson(dir, 'tsconfig.json');
    expect(tsconfig.include).toStrictEqual(['dags', 'test', 'infra']);
    expect(tsconfig.compilerOptions).toMatchObject({ strict: true, noEmit: true, allowImportingTsExtensions: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2023', types: ['node'] });

    expect(readJson(dir, 'cdk.json')).toMatchObject({ app: 'npx tsx infra/app.ts', watch: { include: ['infra/**', 'dags/**'] } });
    expect(read(dir, '.gitignore').split('\n').filter(Boolean)).toStrictEqual(['node_modules/', 'cdk.out/', '.airless/', 'dist/']);

    // The construct exactly as a user's CDK app uses it, in a stack named after the project.
    const app = read(dir, 'infra/app.ts');
    expect(app).toContain("import { App, Stack } from 'aws-cdk-lib';\nimport { Airless } from 'airless/cdk';\n");
    expect(app).toContain("const app = new App();\nconst stack = new Stack(app, 'MyDataPipelines');\nnew Airless(stack, 'Airless', { dagsFolder: 'dags' });\napp.synth();\n");

    const hello = read(dir, 'dags/hello.ts');
    expect(hello).toContain("import { dag } from 'airless';");
    expect(hello).toContain(".expand(names)");
    expect(hello).toContain("defaultArgs: { retries: 2, retryDelay: '10s' }");
    const helloTest = read(dir, 'test/hello.test.ts');
    expect(helloTest).toContain("import { test } from 'node:test';");
    expect(helloTest).toContain("import { FakeClock, LocalRunner, type RunRef } from 'airless';");
    expect(helloTest).toContain('new LocalRunner({ dags: [hello], clock: new FakeClock() })');

    const launch = readJson(dir, '.vscode/launch.json');
    expect(launch.configurations).toStrictEqual([
      {
        name: 'airless dags test hello',
        type: 'node',
        request: 'launch',
        program: '${workspaceFolder}/node_modules/airless/bin/airless.js',
        args: ['dags', 'test', 'hello'],
        cwd: '${workspaceFolder}',
        env: { AIRLESS_NO_REEXEC: '1' },
        sourceMaps: true,
        skipFiles: ['<node_internals>/**', '${workspaceFolder}/node_modules/**'],
        console: 'integratedTerminal',
      },
      {
        name: 'Current test file',
        type: 'node',
        request: 'launch',
        runtimeArgs: ['--import', 'tsx'],
        program: '${file}',
        cwd: '${workspaceFolder}',
        sourceMaps: true,
        skipFiles: ['<node_internals>/**', '${workspaceFolder}/node_modules/**'],
        console: 'integratedTerminal',
      },
    ]);

    const readme = read(dir, 'README.md');
    expect(readme.split('\n')[0]).toBe('# my-data-pipelines');
    for (const command of ['npm install', 'npx airless dags test hello', 'npm test', 'npx airless standalone', 'npx cdk synth', 'npx cdk deploy']) expect(readme).toContain(command);
  });

  it('is the `init` command of the CLI, whose dir defaults to the current folder', async () => {
    const dir = path.join(TMP, 'via-cli');
    const out = capture();
    const err = capture();
    expect(await runCli(['init', dir], new Terminal(out.stream, err.stream))).toBe(0);
    expect(readJson(dir, 'package.json').name).toBe('via-cli');
    expect(Object.keys(snapshot(dir))).toStrictEqual([...PROJECT_FILES, 'package.json'].sort());

    const help = capture();
    await runCli(['init', '--help'], new Terminal(help.stream, capture().stream));
    await new Promise((resolve) => setImmediate(resolve));
    expect(help.text()).toMatch(/Usage: airless init \[options\] \[dir\]/);
    expect(help.text()).toContain('(default: ".")');
  });
});

describe('airless init never overwrites', () => {
  it('run again on a project: exit 2, every file named, nothing written (contents and times unchanged)', async () => {
    const { dir } = await fresh();
    const before = snapshot(dir);
    const r = await init(dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    for (const file of PROJECT_FILES) expect(r.stderr).toContain(`  ${file} exists\n`);
    expect(r.stderr).toContain('Nothing was written.');
    expect(snapshot(dir)).toStrictEqual(before);
  });

  it('one file in the way: exit 2 naming it alone, and not a single file (not even package.json) is written', async () => {
    const dir = path.join(TMP, 'one-in-the-way');
    mkdirSync(path.join(dir, 'dags'), { recursive: true });
    writeFileSync(path.join(dir, 'dags/hello.ts'), '// mine\n');
    const r = await init(dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: airless init writes only new files, and in ${dir}:\n  dags/hello.ts exists\nNothing was written. Move it away, or run airless init in another folder.\n`);
    expect(Object.keys(snapshot(dir))).toStrictEqual(['dags/hello.ts']);
    expect(read(dir, 'dags/hello.ts')).toBe('// mine\n');
  });

  it('a file where a folder goes, or dir itself a file: exit 2, nothing written', async () => {
    const dir = path.join(TMP, 'file-as-folder');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'infra'), 'not a folder');
    const r = await init(dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('  infra is a file, not a folder (infra/app.ts goes in it)\n');
    expect(Object.keys(snapshot(dir))).toStrictEqual(['infra']);

    const asFile = await init(path.join(dir, 'infra'));
    expect(asFile.code).toBe(2);
    expect(asFile.stderr).toContain('is a file, not a folder');
  });
});

describe('airless init completes an existing package.json', () => {
  it('after `npm install airless`: keeps the file: dependency and every entry, adds type, engines, scripts and the tools, in order', async () => {
    const dir = path.join(TMP, 'after-npm-install');
    mkdirSync(dir);
    // As npm writes it, plus a script and a CDK library of the user's own.
    const existing = {
      name: 'radio-pipelines',
      version: '1.2.3',
      scripts: { test: 'echo "Error: no test specified" && exit 1' },
      dependencies: { airless: 'file:../airless-0.1.0.tgz', 'aws-cdk-lib': '^2.200.0' },
    };
    writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(existing, null, 2)}\n`);
    const r = await init(dir);
    expect(r.code).toBe(0);

    const pkg = readJson(dir, 'package.json');
    expect(pkg).toStrictEqual({
      name: 'radio-pipelines',
      version: '1.2.3',
      scripts: { ...PROJECT_SCRIPTS, test: existing.scripts.test },
      type: 'module',
      engines: { node: '>=22' },
      dependencies: { airless: 'file:../airless-0.1.0.tgz', 'aws-cdk-lib': '^2.200.0' },
      devDependencies: Object.fromEntries(Object.entries(DEV_DEPENDENCIES).filter(([n]) => n !== 'aws-cdk-lib')),
    });
    // Existing keys keep their order (the test script first); new fields go before the dependencies.
    expect(Object.keys(pkg)).toStrictEqual(['name', 'version', 'scripts', 'type', 'engines', 'dependencies', 'devDependencies']);
    expect(Object.keys(pkg.scripts)[0]).toBe('test');
    expect(read(dir, 'package.json')).toBe(`${JSON.stringify(pkg, null, 2)}\n`);

    // It says what it added and what of the user's it kept.
    expect(r.stdout).toContain('completed: added "type": "module"; engines.node >=22; scripts dags:list, dags:test, standalone, typecheck, synth, deploy; devDependencies @types/node');
    expect(r.stdout).toContain('kept yours: airless file:../airless-0.1.0.tgz');
    expect(r.stdout).toContain('kept yours: aws-cdk-lib ^2.200.0');
    expect(r.stdout).toContain('kept yours: scripts.test (echo "Error: no test specified" && exit 1)');
    // The project's other files were written, and the README and stack are named after the package.
    expect(Object.keys(snapshot(dir))).toStrictEqual([...PROJECT_FILES, 'package.json'].sort());
    expect(read(dir, 'infra/app.ts')).toContain("new Stack(app, 'RadioPipelines')");
  });

  it('a package.json that already has everything is left as it is (not rewritten)', async () => {
    const dir = path.join(TMP, 'complete-already');
    mkdirSync(dir);
    // Indented with tabs: a file init has nothing to add to is not even rewritten.
    const text = `${JSON.stringify({ name: 'x', type: 'module', engines: { node: '>=22' }, scripts: PROJECT_SCRIPTS, dependencies: { airless: `^${OWN.version}` }, devDependencies: DEV_DEPENDENCIES }, null, '\t')}\n`;
    writeFileSync(path.join(dir, 'package.json'), text);
    const before = statSync(path.join(dir, 'package.json')).mtimeMs;
    const r = await init(dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\n {2}package\.json +already has everything airless needs\n/);
    expect(read(dir, 'package.json')).toBe(text);
    expect(statSync(path.join(dir, 'package.json')).mtimeMs).toBe(before);
  });

  it('refuses "type": "commonjs" (exit 2, saying how to fix it) and writes nothing', async () => {
    const dir = path.join(TMP, 'commonjs');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'package.json'), '{\n  "name": "cjs",\n  "type": "commonjs"\n}\n');
    const before = snapshot(dir);
    const r = await init(dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('package.json has "type": "commonjs"');
    expect(r.stderr).toContain('Change it to "type": "module"');
    expect(r.stderr).toContain('Nothing was written.');
    expect(snapshot(dir)).toStrictEqual(before);
  });

  it('refuses a package.json that is not JSON, and writes nothing', async () => {
    const dir = path.join(TMP, 'broken-json');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'package.json'), '{ "name": ');
    const r = await init(dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not valid JSON');
    expect(Object.keys(snapshot(dir))).toStrictEqual(['package.json']);
  });
});

describe('names', () => {
  it("a folder's name becomes an npm-valid package name", () => {
    expect(npmPackageName('My Pipelines')).toBe('my-pipelines');
    expect(npmPackageName('My Data Pipelines!')).toBe('my-data-pipelines');
    expect(npmPackageName('  ..Radio & Astro__Düsseldorf  ')).toBe('radio-astro__dusseldorf');
    expect(npmPackageName('.hidden')).toBe('hidden');
    expect(npmPackageName('x'.repeat(300))).toHaveLength(214);
    expect(npmPackageName('!!!')).toBe('airless-project');
    expect(npmPackageName('node_modules')).toBe('airless-project');
  });

  it('a package name becomes a CloudFormation stack name', () => {
    expect(stackNameOf('my-data-pipelines')).toBe('MyDataPipelines');
    expect(stackNameOf('@team/etl.jobs')).toBe('EtlJobs');
    expect(stackNameOf('2026-survey')).toBe('Airless2026Survey');
  });

  it('init in "." names the project after the current folder', async () => {
    const dir = path.join(TMP, 'Current Folder');
    mkdirSync(dir);
    const r = await init('.', dir);
    expect(r.code).toBe(0);
    expect(readJson(dir, 'package.json').name).toBe('current-folder');
    expect(r.stdout).not.toContain('  cd ');
  });
});

/**
 * The project as `npm install` leaves it, with the repository standing in for the installed package:
 * node_modules/airless re-exports the repository's lib/index.ts (the library's source: no build needed),
 * and node_modules/tsx is the repository's. 'airless' then resolves from the project as it would once
 * installed, in vitest and in Node, to the same modules the repository's code uses.
 */
function installRepositoryAirless(dir: string): void {
  const pkgDir = path.join(dir, 'node_modules', 'airless');
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name: 'airless', version: OWN.version, type: 'module', exports: { '.': './index.ts' } }));
  writeFileSync(path.join(pkgDir, 'index.ts'), `export * from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'lib', 'index.ts')).href)};\n`);
  symlinkSync(path.join(ROOT, 'node_modules', 'tsx'), path.join(dir, 'node_modules', 'tsx'), 'junction');
}

describe('the starter DAG and its test run on the repository library', () => {
  it("dags/ loads as a DAG folder (hello, no import errors) and hello runs on LocalRunner + FakeClock: mapped greetings, a summary, retries", async () => {
    const dir = path.join(TMP, 'runs');
    expect((await init(dir)).code).toBe(0);
    installRepositoryAirless(dir);

    const bag = await loadDagBag(path.join(dir, 'dags'));
    expect(bag.importErrors).toStrictEqual([]);
    expect(bag.dagIds).toStrictEqual(['hello']);
    expect(bag.getDag('hello')?.spec.params).toMatchObject({ names: { default: ['Ada', 'Grace', 'Katherine'] }, greeting: { default: 'Hello' }, flaky: { default: false } });

    const runner = new LocalRunner({ dags: bag, clock: new FakeClock() });
    try {
      const report = await runner.run({ dagId: 'hello' });
      expect(report.state).toBe('success');
      expect(report.tasks).toStrictEqual([
        { taskId: 'list_names', mapIndex: null, state: 'success', tryNumber: 1 },
        { taskId: 'greet', mapIndex: 0, state: 'success', tryNumber: 1 },
        { taskId: 'greet', mapIndex: 1, state: 'success', tryNumber: 1 },
        { taskId: 'greet', mapIndex: 2, state: 'success', tryNumber: 1 },
        { taskId: 'summarize', mapIndex: null, state: 'success', tryNumber: 1 },
      ]);
      expect((await runner.store.getXCom(report, 'summarize', -1, 'return_value'))?.value).toStrictEqual({
        count: 3,
        greetings: ['Hello, Ada!', 'Hello, Grace!', 'Hello, Katherine!'],
      });

      // Each greeting fails its first try and is retried after the 10 s delay the FakeClock skips.
      const flaky = await runner.run({ dagId: 'hello', conf: { names: ['Ada', 'Grace'], greeting: 'Hi', flaky: true } });
      expect(flaky.state).toBe('success');
      expect(flaky.tasks.filter((t) => t.taskId === 'greet')).toStrictEqual([
        { taskId: 'greet', mapIndex: 0, state: 'success', tryNumber: 2 },
        { taskId: 'greet', mapIndex: 1, state: 'success', tryNumber: 2 },
      ]);
      expect((await runner.store.getXCom(flaky, 'summarize', -1, 'return_value'))?.value).toStrictEqual({ count: 2, greetings: ['Hi, Ada!', 'Hi, Grace!'] });

      // A conf that does not fit the params is refused before anything runs.
      await expect(runner.run({ dagId: 'hello', conf: { names: 'Ada' } })).rejects.toThrow(/names/);
    } finally {
      runner.close();
    }
  });

  it('its generated test passes as `npm test` runs it (node --import tsx --test, under Node 22)', async () => {
    const dir = path.join(TMP, 'npm-test');
    expect((await init(dir)).code).toBe(0);
    installRepositoryAirless(dir);
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env['NODE_OPTIONS'];
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(NODE, ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/hello.test.ts'], { cwd: dir, env, timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
      );
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/greets every name, one mapped instance per name, and sums up/);
    expect(r.stdout).toMatch(/a failed try is retried after its delay/);
    expect(r.stdout).toMatch(/pass 2\n/);
    expect(r.stdout).toMatch(/fail 0\n/);
  });
});
