/**
 * `airless init [dir]`: a new airless project in `dir` (created if missing) for someone who has never
 * seen airless: a starter DAG and its test, a CDK app with the Airless construct, TypeScript and VS Code
 * settings, and a package.json with the scripts and dependencies, at the versions airless itself is
 * built with. It never overwrites a file: if one it would write exists, it writes nothing. An existing
 * package.json (from `npm install airless`, say) is completed instead: what is missing is added, nothing
 * already there changes.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageJson, packageRoot } from '../../package-root.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT } from '../usage-error.ts';

export interface InitOptions {
  /**
   * The folder a relative `dir` is resolved from, and the one the printed next steps `cd` from.
   * @default process.cwd()
   */
  cwd?: string;
}

/** The folder of the project's template files, shipped in the package beside the code. */
export function templatesFolder(): string {
  return path.join(packageRoot(), 'templates', 'init');
}

/**
 * First path segments stored under another name in the templates, and the name they get in the project:
 * npm drops or renames `.gitignore` in a package, and dot-folders are easy to lose on the way.
 */
const RENAMED_SEGMENTS: Readonly<Record<string, string>> = { gitignore: '.gitignore', vscode: '.vscode' };

/** The scripts of a project's package.json (added to an existing one where it has none of that name). */
export const PROJECT_SCRIPTS: Readonly<Record<string, string>> = {
  'dags:list': 'airless dags list',
  'dags:test': 'airless dags test hello',
  standalone: 'airless standalone',
  test: 'node --import tsx --test test/*.test.ts',
  typecheck: 'tsc --noEmit',
  synth: 'cdk synth',
  deploy: 'cdk deploy',
};

/** The project's devDependencies, at the ranges airless's own package.json has for them. */
export const PROJECT_DEV_DEPENDENCIES = ['@types/node', 'aws-cdk', 'aws-cdk-lib', 'cdk-nag', 'constructs', 'tsx', 'typescript'] as const;

/** The Node.js versions a project runs on (airless needs 22's features). */
const NODE_ENGINES = '>=22';

/** The dependency fields of a package.json: a package named in any of them is already there. */
const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'] as const;

/**
 * An npm-valid package name from a folder's name: lower case; every run of characters npm refuses
 * (spaces, capitals' neighbours such as `&`, `+`, `'`...) becomes one `-`; no leading `.`, `_` or `-`;
 * at most 214 characters. A name with nothing left is `airless-project`.
 *
 * @example npmPackageName('My Pipelines (2026)') === 'my-pipelines-2026'
 */
export function npmPackageName(folderName: string): string {
  const name = folderName
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents off their letters: 'Düsseldorf' → 'dusseldorf'
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[._~-]+/, '')
    .slice(0, 214)
    .replace(/[._~-]+$/, '');
  // npm refuses these two names however they are spelled.
  return name === '' || name === 'node_modules' || name === 'favicon.ico' ? 'airless-project' : name;
}

/**
 * A CloudFormation stack name (letters, digits and hyphens, starting with a letter) from a package name,
 * in PascalCase: `my-pipelines` → `MyPipelines`, `@team/etl` → `Etl`.
 */
export function stackNameOf(packageName: string): string {
  const words = packageName.replace(/^@[^/]*\//, '').split(/[^A-Za-z0-9]+/).filter(Boolean);
  const name = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('').slice(0, 100);
  return /^[A-Za-z]/.test(name) ? name : `Airless${name}`;
}

/**
 * The ranges of `names` in airless's own package.json: the versions airless is built and tested with
 * (its dependencies, then devDependencies, then peerDependencies: a CDK library and the CDK CLI must be a
 * pair that works together, and those are). Throws when one is missing: a version is never invented.
 */
function ownRanges(names: readonly string[]): Record<string, string> {
  const own = packageJson();
  const out: Record<string, string> = {};
  for (const name of names) {
    const range = own.dependencies?.[name] ?? own.devDependencies?.[name] ?? own.peerDependencies?.[name];
    if (range === undefined) {
      throw new Error(
        `airless's package.json (${path.join(packageRoot(), 'package.json')}) names no version of '${name}' in its dependencies, devDependencies or peerDependencies: the new project's package.json cannot be written. This is a bug of the airless package.`,
      );
    }
    out[name] = range;
  }
  return out;
}

/** What a project's package.json needs: its dependencies with their ranges. */
interface Requirements {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

function requirements(): Requirements {
  return { dependencies: { airless: `^${packageJson().version}` }, devDependencies: ownRanges(PROJECT_DEV_DEPENDENCIES) };
}

/** A new project's package.json. */
function newPackageJson(name: string, req: Requirements): Record<string, unknown> {
  return {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: NODE_ENGINES },
    scripts: { ...PROJECT_SCRIPTS },
    dependencies: req.dependencies,
    devDependencies: req.devDependencies,
  };
}

/** A package.json init cannot complete: why, for the user. */
class PackageJsonRefused {
  constructor(readonly message: string) {}
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A package.json value in a message: a string as it is, anything else as JSON. */
const shown = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** Whether an object's keys are in sorted order (as npm keeps dependencies). */
const sortedKeys = (o: Record<string, unknown>) => Object.keys(o).every((k, i, all) => i === 0 || all[i - 1]! <= k);

/**
 * An existing package.json completed: `"type": "module"` if it has no type (refused if `"commonjs"`),
 * `engines.node`, the scripts and dependencies it lacks. Nothing already there changes, and its keys stay
 * in their order; new top-level fields go before its dependencies (new dependency fields at the end).
 * Returns the new document, what was added, and what was kept although init would have written
 * something else.
 */
function completePackageJson(pkg: Record<string, unknown>, req: Requirements): { pkg: Record<string, unknown>; added: string[]; kept: string[] } | PackageJsonRefused {
  if (pkg['type'] !== undefined && pkg['type'] !== 'module') {
    return new PackageJsonRefused(
      `package.json has "type": ${JSON.stringify(pkg['type'])}: airless projects are ES modules (DAG files, tests and the CDK app use import). Change it to "type": "module" (or remove it) and run airless init again.`,
    );
  }
  for (const field of ['scripts', 'engines', ...DEPENDENCY_FIELDS]) {
    if (pkg[field] !== undefined && !isObject(pkg[field])) return new PackageJsonRefused(`package.json's "${field}" is not an object; fix it and run airless init again.`);
  }
  const added: string[] = [];
  const kept: string[] = [];
  const fields: Record<string, Record<string, unknown>> = {};
  const objectField = (field: string): Record<string, unknown> => (fields[field] ??= { ...(pkg[field] as Record<string, unknown> | undefined) });

  const newFields: Record<string, unknown> = {};
  if (pkg['type'] === undefined) {
    newFields['type'] = 'module';
    added.push('"type": "module"');
  }
  const engines = objectField('engines');
  if (engines['node'] === undefined) {
    engines['node'] = NODE_ENGINES;
    added.push(`engines.node ${NODE_ENGINES}`);
  } else if (engines['node'] !== NODE_ENGINES) kept.push(`engines.node ${shown(engines['node'])}`);

  const scripts = objectField('scripts');
  const addedScripts: string[] = [];
  for (const [name, command] of Object.entries(PROJECT_SCRIPTS)) {
    if (scripts[name] === undefined) {
      scripts[name] = command;
      addedScripts.push(name);
    } else if (scripts[name] !== command) kept.push(`scripts.${name} (${shown(scripts[name])})`);
  }
  if (addedScripts.length) added.push(`scripts ${addedScripts.join(', ')}`);

  const installed = (name: string) => DEPENDENCY_FIELDS.map((f) => pkg[f]).find((deps): deps is Record<string, unknown> => isObject(deps) && deps[name] !== undefined);
  for (const field of ['dependencies', 'devDependencies'] as const) {
    const addedDeps: string[] = [];
    for (const [name, range] of Object.entries(req[field])) {
      const where = installed(name);
      if (where !== undefined) {
        if (where[name] !== range) kept.push(`${name} ${shown(where[name])}`);
        continue;
      }
      const wasSorted = pkg[field] === undefined || sortedKeys(objectField(field));
      const deps = objectField(field);
      deps[name] = range;
      // Where npm keeps them sorted (it does when it installs), the new entry goes in its place.
      if (wasSorted) fields[field] = Object.fromEntries(Object.entries(deps).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      addedDeps.push(`${name} ${range}`);
    }
    if (addedDeps.length) added.push(`${field} ${addedDeps.join(', ')}`);
  }

  // Existing fields in their order, with their completed values; new ones before the first dependency field.
  const out: Record<string, unknown> = {};
  const isDependencyField = (k: string) => (DEPENDENCY_FIELDS as readonly string[]).includes(k);
  const addNew = (dependencyFields: boolean) => {
    for (const [k, v] of Object.entries(newFields)) if (!(k in out)) out[k] = v;
    for (const [k, v] of Object.entries(fields)) if (pkg[k] === undefined && isDependencyField(k) === dependencyFields && !(k in out)) out[k] = v;
  };
  for (const [k, v] of Object.entries(pkg)) {
    if (isDependencyField(k)) addNew(false);
    out[k] = fields[k] ?? v;
  }
  addNew(false);
  addNew(true);
  return { pkg: out, added, kept };
}

/** Every file under `folder`, relative to it with '/' separators, sorted. */
function listFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(folder, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** A template's path in the project (`gitignore` → `.gitignore`, `vscode/…` → `.vscode/…`). */
function projectPath(templatePath: string): string {
  const [first, ...rest] = templatePath.split('/');
  return [RENAMED_SEGMENTS[first!] ?? first!, ...rest].join('/');
}

/** A template's text with its `{{placeholder}}`s filled; an unknown one is a bug of the template. */
function fill(text: string, values: Readonly<Record<string, string>>, file: string): string {
  return text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`template ${file} has an unknown placeholder ${whole}`);
    return value;
  });
}

/** Why a path cannot be written as a new file: it exists, or a folder on its way is a file. Null if it can. */
function blocked(root: string, rel: string): string | null {
  if (existsSync(path.join(root, ...rel.split('/')))) return `${rel} exists`;
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    const abs = path.join(root, ...parts.slice(0, i));
    if (existsSync(abs) && !statSync(abs).isDirectory()) return `${dir} is a file, not a folder (${rel} goes in it)`;
  }
  return null;
}

/** A folder for a shell command line: quoted when it has characters a shell would read. */
const shellWord = (s: string) => (/^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * Create an airless project in `dir` (resolved from `options.cwd`; created if missing). Writes the
 * template files and a package.json (or completes the existing one), then prints what it did and the
 * next steps. Writes nothing and returns 2 when a file it would create exists (naming each one) or the
 * existing package.json cannot be completed. Returns 0 on success.
 */
export async function airlessInit(term: Terminal, dir: string, options: InitOptions = {}): Promise<number> {
  const cwd = options.cwd ?? process.cwd();
  const root = path.resolve(cwd, dir);
  if (existsSync(root) && !statSync(root).isDirectory()) {
    await term.err(`error: ${root} is a file, not a folder: give airless init a folder (it is created if missing)\n`);
    return EXIT.usage;
  }
  const req = requirements();

  // package.json: new, or the existing one completed.
  const pkgFile = path.join(root, 'package.json');
  let pkg: Record<string, unknown>;
  let pkgNote: string[];
  /** Whether package.json is written (not when an existing one lacks nothing: it stays as it is). */
  let writePkg = true;
  let name: string;
  if (existsSync(pkgFile)) {
    let existing: unknown;
    try {
      existing = JSON.parse(readFileSync(pkgFile, 'utf8'));
    } catch (e) {
      await term.err(`error: ${pkgFile} is not valid JSON (${e instanceof Error ? e.message : String(e)}): fix it and run airless init again\n`);
      return EXIT.usage;
    }
    const completed = isObject(existing) ? completePackageJson(existing, req) : new PackageJsonRefused('package.json is not a JSON object; fix it and run airless init again.');
    if (completed instanceof PackageJsonRefused) {
      await term.err(`error: ${completed.message}\nNothing was written.\n`);
      return EXIT.usage;
    }
    pkg = completed.pkg;
    writePkg = completed.added.length > 0;
    name = typeof pkg['name'] === 'string' && pkg['name'] !== '' ? pkg['name'] : npmPackageName(path.basename(root));
    pkgNote = [
      completed.added.length ? `completed: added ${completed.added.join('; ')}` : 'already has everything airless needs',
      ...completed.kept.map((k) => `kept yours: ${k}`),
    ];
  } else {
    name = npmPackageName(path.basename(root));
    pkg = newPackageJson(name, req);
    pkgNote = [`name ${name}; scripts; airless ${req.dependencies['airless']} and the tools it is built with`];
  }

  // The template files, checked before anything is written: all or nothing.
  const templates = templatesFolder();
  const files = listFiles(templates)
    .map((t) => ({ template: t, target: projectPath(t) }))
    .sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  const conflicts = files.map((f) => blocked(root, f.target)).filter((c) => c !== null);
  if (conflicts.length) {
    await term.err(
      `error: airless init writes only new files, and in ${root}:\n${conflicts.map((c) => `  ${c}\n`).join('')}Nothing was written. Move ${conflicts.length > 1 ? 'them' : 'it'} away, or run airless init in another folder.\n`,
    );
    return EXIT.usage;
  }

  const values = { name, stackName: stackNameOf(name) };
  mkdirSync(root, { recursive: true });
  for (const f of files) {
    const target = path.join(root, ...f.target.split('/'));
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, fill(readFileSync(path.join(templates, f.template), 'utf8'), values, f.template), { flag: 'wx' });
  }
  if (writePkg) writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);

  // The way to the project from cwd: relative when that is shorter ('my-project', '../my-project').
  const rel = path.relative(cwd, root);
  const cdTo = rel.length <= root.length ? rel : root;
  // One line per file: its path, then what it is, in a column.
  const width = Math.max(...files.map((f) => f.target.length)) + 4;
  const line = (file: string, note: string) => `  ${file}`.padEnd(width) + note;
  await term.out(
    [
      `Created an airless project in ${root}:`,
      ...pkgNote.map((note, i) => line(i === 0 ? 'package.json' : '', note)),
      ...files.map((f) => line(f.target, describe(f.target)).trimEnd()),
      '',
      'Next steps:',
      ...(cdTo === '' ? [] : [`  cd ${shellWord(cdTo)}`]),
      '  npm install',
      '  npx airless dags test hello    # run the DAG now, in this process',
      '  npm test                       # its tests (test/hello.test.ts)',
      '  npx airless standalone         # scheduler, REST API and web UI on http://127.0.0.1:8080',
      '  npx cdk synth                  # the AWS stack, offline (npx cdk deploy with AWS credentials)',
      '',
    ].join('\n'),
  );
  return EXIT.ok;
}

/** What a created file is, for the summary (empty for a file without a note). */
function describe(file: string): string {
  const notes: Record<string, string> = {
    'dags/hello.ts': 'a starter DAG: params, tasks passing results, a mapped task, retries',
    'test/hello.test.ts': 'its test (node:test, LocalRunner, FakeClock)',
    'infra/app.ts': 'the CDK app: your stack with the Airless construct',
    'cdk.json': 'how the CDK CLI runs infra/app.ts',
    'tsconfig.json': 'TypeScript settings for dags/, test/, infra/',
    '.vscode/launch.json': 'debug `airless dags test hello` or the current test file',
    '.gitignore': 'node_modules, cdk.out, .airless, dist',
    'README.md': 'what is here and the commands',
  };
  return notes[file] ?? '';
}
