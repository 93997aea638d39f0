// The package as a user gets it: `npm pack` of this repository, installed from the tarball into a new
// folder outside it (nothing links back: no symlink, no path into the repository, no npm_* variable of
// this run), then `npx airless init`, `npm install`, the starter DAG's `dags test`, its test, a type check
// of the project against the package's declarations, a DAG importing an npm package of the project (run
// locally, then found bundled in the synthesized Lambda asset by `npx cdk synth`), and a standalone's
// health check. `npm run test:package` (part of `npm test`).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = realpathSync(fileURLToPath(new URL('../..', import.meta.url)));
const WORK = realpathSync(mkdtempSync(path.join(tmpdir(), 'airless-package-')));
const PROJECT = path.join(WORK, 'pack-project');
/** Every process started, for the cleanup to kill. */
const children: ChildProcess[] = [];

/**
 * The environment of a user's shell: this Node first on the PATH (the system's may be older), none of the
 * repository's node_modules/.bin, no npm_* variable of the `npm test` that runs this, no AIRLESS_* setting,
 * no NODE_ENV.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // NODE_ENV too: vitest sets it to 'test', which would make `npm pack`'s UI build a development build.
    if (/^(npm_|NODE_OPTIONS$|NODE_PATH$|NODE_ENV$|AIRLESS_|INIT_CWD$|VITEST|TSX_)/i.test(k)) continue;
    env[k] = v;
  }
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== '' && !path.resolve(d).startsWith(REPO));
  env.PATH = [path.dirname(process.execPath), ...dirs].join(path.delimiter);
  env.CI = 'true';
  return env;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command (through the shell's PATH lookup) in `cwd`; resolves with its exit code and output. */
function run(command: string, args: readonly string[], cwd: string, timeoutMs = 300_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    // A process group of its own: the cleanup stops whatever it started too (npx starts a child).
    const child = spawn(command, args, { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => killGroup(child), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run, and fail with its whole output unless it exits 0. */
async function ok(command: string, args: readonly string[], cwd: string, timeoutMs?: number): Promise<Ran> {
  const r = await run(command, args, cwd, timeoutMs);
  if (r.code !== 0) throw new Error(`\`${command} ${args.join(' ')}\` in ${cwd} exited with ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Every file under a folder (relative paths), not following symlinks. */
function filesUnder(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const p = path.join(rel, e.name);
    return e.isDirectory() ? filesUnder(dir, p) : [p];
  });
}

let tarball: string;

beforeAll(async () => {
  // npm pack runs `prepare`: a clean build of dist/ and the web UI, as for publishing.
  const packed = await ok('npm', ['pack', '--json', '--pack-destination', WORK], REPO, 600_000);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[$/m))) as [{ filename: string; size: number; unpackedSize: number; files: { path: string }[] }];
  tarball = path.join(WORK, info.filename);
  process.stdout.write(`packed ${info.filename}: ${(info.size / 1024).toFixed(0)} KB, ${(info.unpackedSize / 1024).toFixed(0)} KB unpacked, ${info.files.length} files\n`);
  // A new folder, and the package from the tarball (the rest from the registry, or npm's cache).
  mkdirSync(PROJECT);
  await ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], PROJECT);
}, 900_000);

/** SIGKILL a child's process group (it was started detached: the group is its own). */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

afterAll(() => {
  for (const c of children) killGroup(c);
  if (!process.env.AIRLESS_KEEP_PACKAGE_TEST) rmSync(WORK, { recursive: true, force: true });
});

describe('the npm package, installed from its tarball into a new project', () => {
  it('holds the compiled library, its declarations, the bin, the CDK construct, the web UI and the templates, and no source or test', async () => {
    const pkg = path.join(PROJECT, 'node_modules', 'airless');
    expect(lstatSync(pkg).isSymbolicLink()).toBe(false);
    const files = filesUnder(pkg);
    for (const f of ['package.json', 'LICENSE', 'README.md', 'bin/airless.js', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/cdk/index.js', 'dist/cdk/index.d.ts', 'dist/functions/task-runner.js', 'ui/dist/index.html', 'templates/init/dags/hello.ts']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^(lib|cdk|functions|test|e2e|bench|dags)\//.test(f) || /\.tsbuildinfo$/.test(f))).toStrictEqual([]);
    // The library imports without a TypeScript loader: plain Node, from the project.
    const r = await ok(process.execPath, ['--input-type=module', '-e', "const a = await import('airless'); console.log(typeof a.dag, typeof a.LocalRunner)"], PROJECT);
    expect(r.stdout.trim()).toBe('function function');
    // npm publish would take it as it is: no warning (no field auto-corrected, nothing invalid), no error.
    // The one warning left is about this machine, which is logged in to no registry.
    const dry = await ok('npm', ['publish', '--dry-run', '--ignore-scripts', tarball], WORK);
    const warnings = dry.stderr.split('\n').filter((l) => /npm (warn|error)/i.test(l));
    expect(warnings.filter((l) => !/requires you to be logged in to .* \(dry-run\)$/.test(l))).toStrictEqual([]);
    expect(`${dry.stdout}${dry.stderr}`).toContain('+ airless@');
  });

  it('npx airless init makes a project; after npm install, its starter DAG runs, its test passes and it type-checks', async () => {
    const init = await ok('npx', ['airless', 'init'], PROJECT);
    expect(init.stdout).toContain('dags/hello.ts');
    const pkg = JSON.parse(readFileSync(path.join(PROJECT, 'package.json'), 'utf8')) as { type?: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(pkg.type).toBe('module');
    // The tarball stays the project's airless (init never changes an existing entry).
    expect(pkg.dependencies['airless']).toBe(`file:../${path.basename(tarball)}`);
    await ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], PROJECT, 600_000);
    // Nothing in the project leads back to the repository.
    expect(realpathSync(path.join(PROJECT, 'node_modules', 'airless')).startsWith(PROJECT)).toBe(true);
    expect(readFileSync(path.join(PROJECT, 'package-lock.json'), 'utf8')).not.toContain(REPO);

    // The construct's entry imports with the CDK library the project now has (an optional peer of the package).
    const cdk = await ok(process.execPath, ['--input-type=module', '-e', "const c = await import('airless/cdk'); console.log(typeof c.Airless, typeof c.prepareDags)"], PROJECT);
    expect(cdk.stdout.trim()).toBe('function function');

    const test = await ok('npx', ['airless', 'dags', 'test', 'hello', '--json'], PROJECT);
    const report = JSON.parse(test.stdout) as { state: string; tasks: { taskId: string; mapIndex: number | null; state: string }[] };
    expect(report.state).toBe('success');
    expect(report.tasks.map((t) => `${t.taskId}${t.mapIndex === null ? '' : `[${t.mapIndex}]`} ${t.state}`)).toStrictEqual([
      'list_names success',
      'greet[0] success',
      'greet[1] success',
      'greet[2] success',
      'summarize success',
    ]);

    const tests = await ok('npm', ['test'], PROJECT);
    expect(`${tests.stdout}${tests.stderr}`).toMatch(/# pass [1-9]/);
    await ok('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json'], PROJECT);
  });

  it('runs a DAG that imports an npm package of the project, and cdk synth bundles that package into the Lambda asset', async () => {
    // `diff`, installed in the project (the version this repository has, so npm's cache has it).
    const { version } = JSON.parse(readFileSync(path.join(REPO, 'node_modules', 'diff', 'package.json'), 'utf8')) as { version: string };
    await ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `diff@${version}`], PROJECT);
    writeFileSync(
      path.join(PROJECT, 'dags', 'changes.ts'),
      [
        "import { dag } from 'airless';",
        "import { diffWords } from 'diff';",
        '',
        "export default dag({ dagId: 'changes' }, ({ task }) => {",
        "  task('added_words', () => {",
        "    const added = diffWords('the quick fox', 'the quick brown fox').filter((p) => p.added).map((p) => p.value.trim());",
        "    if (added.join() !== 'brown') throw new Error(`diffWords found ${JSON.stringify(added)}`);",
        '    return added;',
        '  });',
        '});',
        '',
      ].join('\n'),
    );
    const local = await ok('npx', ['airless', 'dags', 'test', 'changes', '--json'], PROJECT);
    // The task checks the package's answer itself: its success is the package working.
    const report = JSON.parse(local.stdout) as { state: string; tasks: { taskId: string; state: string }[] };
    expect(report.state).toBe('success');
    expect(report.tasks).toMatchObject([{ taskId: 'added_words', state: 'success' }]);

    await ok('npx', ['cdk', 'synth', '--quiet'], PROJECT, 600_000);
    const out = path.join(PROJECT, 'cdk.out');
    const [templateFile] = readdirSync(out).filter((f) => f.endsWith('.template.json'));
    const template = JSON.parse(readFileSync(path.join(out, templateFile!), 'utf8')) as { Resources: Record<string, { Type: string; Metadata?: Record<string, string> }> };
    const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['aws:asset:path'] !== undefined);
    const runner = functions.find(([id]) => /TaskRunner/.test(id));
    expect(runner, `a TaskRunner function among ${functions.map(([id]) => id).join(', ')}`).toBeDefined();
    const asset = path.join(out, runner![1].Metadata!['aws:asset:path']!);
    // The package's code is in the bundle (its source map names the project's copy of it), not imported at run time.
    const map = JSON.parse(readFileSync(path.join(asset, 'index.mjs.map'), 'utf8')) as { sources: string[] };
    expect(map.sources.some((s) => /node_modules\/diff\//.test(s))).toBe(true);
    expect(map.sources.some((s) => /dags\/changes\.ts$/.test(s))).toBe(true);
    // The library bundled is the project's installed package, not anything of the repository.
    expect(map.sources.some((s) => /node_modules\/airless\/dist\/lib\//.test(s))).toBe(true);
    // One copy of it: the DAG files' 'airless' and the handlers' own modules are the same files.
    expect(map.sources.filter((s) => /authoring\/dag\.(js|ts)$/.test(s))).toHaveLength(1);
    const code = readFileSync(path.join(asset, 'index.mjs'), 'utf8');
    expect(code).not.toMatch(/from\s*["']diff["']|import\(["']diff["']\)/);
    expect(code).not.toContain(REPO);
    expect(existsSync(path.join(asset, 'node_modules'))).toBe(false);
  });

  it('starts a standalone server that answers its health check', async () => {
    // The project's bin (what `npx airless` runs), started directly so that its own exit code is seen.
    const child = spawn(path.join(PROJECT, 'node_modules', '.bin', 'airless'), ['standalone', '--port', '0'], { cwd: PROJECT, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.push(child);
    let out = '';
    let err = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /airless standalone: listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.on('exit', (code) => reject(new Error(`the standalone exited with ${code} before listening:\n${out}\n${err}`)));
    });
    const res = await fetch(`${url}/api/v2/monitor/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toStrictEqual({ status: 'healthy' });
    // It serves the project's DAGs (its API token is in the project's .airless/) and the web UI.
    const token = readFileSync(path.join(PROJECT, '.airless', 'api-token'), 'utf8').trim();
    const dags = (await (await fetch(`${url}/api/v2/dags`, { headers: { authorization: `Bearer ${token}` } })).json()) as { dags: { dag_id: string }[] };
    expect(dags.dags.map((d) => d.dag_id).sort()).toStrictEqual(['changes', 'hello']);
    const ui = await fetch(`${url}/`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('<div id="root">');
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
