// The deployed DAG versions' code, stack side: each DAG file's version bundle is built at synth (a
// self-contained ESM module on the functions' own library, its manifest and sources), the functions'
// generated module names each file's bundle, the bundles go to the bucket under airless/bundles/ without
// removing older deploys' (prune: false), the functions know where (BUNDLES_PREFIX) and how many versions
// to keep (VERSIONS_RETAINED), and only the scheduler (the reconciler's rounds) may delete there.
import { existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAirlessApp } from '../cdk/airless-app.ts';
import type { AirlessStack } from '../cdk/airless.ts';
import { dagsModuleSource } from '../cdk/dags-module.ts';
import { buildVersionBundles, type BuiltBundles } from '../cdk/version-bundles.ts';
import { Dag, isDag } from '../lib/authoring/dag.ts';
import { installDagLibrary } from '../lib/aws/dag-library-global.ts';
import { dagResolverFromModules } from '../lib/aws/services.ts';
import { collectBundle } from '../lib/dagbag/bundle.ts';
import { loadDagBag } from '../lib/dagbag/dag-bag.ts';
import { VersionLoader } from '../lib/dagbag/version-loader.ts';
import { SkipTask } from '../lib/errors.ts';
import { DEFAULT_VERSIONS_RETAINED } from '../lib/scheduler/prune-versions.ts';
import { versionEntryOf } from '../lib/scheduler/runs.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

describe('the stack deploys the DAG files\' version bundles', () => {
  let stack: AirlessStack;
  let resources: Resources;
  let modulesDir: string;

  beforeAll(async () => {
    modulesDir = mkdtempSync(path.join(tmpdir(), 'airless-cdk-versions-'));
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    ({ stack } = await createAirlessApp({ dagsFolder: 'dags', app, stackName: 'AirlessVersions', dagsModuleDir: modulesDir, props: { versionsRetained: 3 } }));
    resources = (Template.fromStack(stack).toJSON() as { Resources: Resources }).Resources;
  }, 120_000);

  it('into the bucket under airless/bundles/, never removing an older deploy\'s', () => {
    const deployments = Object.values(resources).filter((r) => r.Type === 'Custom::CDKBucketDeployment');
    expect(deployments).toHaveLength(1);
    const p = deployments[0]!.Properties!;
    expect(p['Prune']).toBe(false);
    expect(p['RetainOnDelete']).toBe(true);
    expect(p['DestinationBucketKeyPrefix']).toBe('airless/bundles/');
    expect(p['DestinationBucketName']).toEqual({ Ref: stack.getLogicalId(stack.airless.bucket.node.defaultChild as never) });
  });

  it('tells every function where the bundles are and how many versions to keep', () => {
    for (const fn of Object.values(stack.airless.functions)) {
      const env = (resources[stack.getLogicalId(fn.node.defaultChild as never)]!.Properties!['Environment'] as { Variables: Record<string, unknown> }).Variables;
      expect(env['BUNDLES_PREFIX']).toBe('airless/bundles/');
      expect(env['VERSIONS_RETAINED']).toBe('3');
    }
  });

  it('lets only the scheduler delete, and only the bundles', () => {
    const deleters: { policy: string; resource: unknown }[] = [];
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      for (const s of (r.Properties!['PolicyDocument'] as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement) {
        if ([s.Action].flat().includes('s3:DeleteObject')) deleters.push({ policy: id, resource: s.Resource });
      }
    }
    // The BucketDeployment's handler deletes nothing (prune: false); the scheduler prunes.
    expect(deleters.map((d) => d.policy)).toEqual([expect.stringMatching(/^AirlessSchedulerServiceRoleDefaultPolicy/)]);
    expect(JSON.stringify(deleters[0]!.resource)).toMatch(/"\/airless\/bundles\/\*"\]\]\}$/);
  });

  it('names each file\'s bundle in the functions\' module, as collectBundle hashes it, and stages its module, manifest and sources', async () => {
    const bag = await loadDagBag('dags');
    const built = await buildVersionBundles(bag.folder, bag.files, modulesDir);
    const source = readFileSync(path.join(modulesDir, readdirOne(modulesDir, /^airless-dags-/), 'airless-dags.ts'), 'utf8');
    for (const file of bag.files) {
      const { manifest } = await collectBundle(path.join(bag.folder, file), bag.folder);
      expect(source).toContain(`{ file: ${JSON.stringify(file)}, bundle: ${JSON.stringify(manifest.hash)},`);
      expect(built.bundles.find((b) => b.file === file)?.bundle).toBe(manifest.hash);
      const dir = path.join(built.dir, manifest.hash);
      expect(JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))).toEqual(manifest);
      for (const f of manifest.files) expect(existsSync(path.join(dir, 'src', ...f.path.split('/'))), f.path).toBe(true);
      expect(readFileSync(path.join(dir, 'bundle.mjs'), 'utf8')).not.toMatch(/from\s*["']airless["']/);
    }
    expect(dagsModuleSource('/x', ['a.ts'])).toContain('{ file: "a.ts", bundle: null,');
  });

  it('adds 5 resources to the stack: the BucketDeployment, its handler, role, policy and AWS CLI layer', () => {
    const types = Object.values(resources).map((r) => r.Type);
    expect(types.filter((t) => t === 'Custom::CDKBucketDeployment')).toHaveLength(1);
    expect(types.filter((t) => t === 'AWS::Lambda::LayerVersion')).toHaveLength(1);
    // The six airless functions and the BucketDeployment's handler.
    expect(types.filter((t) => t === 'AWS::Lambda::Function')).toHaveLength(7);
  });
});

function readdirOne(dir: string, re: RegExp): string {
  const names = readdirSync(dir).filter((n) => re.test(n));
  if (names.length !== 1) throw new Error(`expected one ${String(re)} in ${dir}, found ${names.join(', ') || 'none'}`);
  return names[0]!;
}

describe('a version bundle', () => {
  let built: BuiltBundles;
  let folder: string;

  beforeAll(async () => {
    // A project of its own, whose node_modules are the repository's (croner resolves from there).
    folder = mkdtempSync(path.join(tmpdir(), 'airless-version-bundle-'));
    writeFileSync(path.join(folder, 'package.json'), '{ "name": "version-bundle-fixture", "type": "module" }\n');
    symlinkSync(path.join(process.cwd(), 'node_modules'), path.join(folder, 'node_modules'));
    writeFileSync(path.join(folder, 'helper.ts'), "export const CODE = 'v7';\n");
    writeFileSync(
      path.join(folder, 'pkg_dag.ts'),
      [
        "import { Cron } from 'croner';",
        "import { dag, SkipTask } from 'airless';",
        "import { CODE } from './helper.ts';",
        "export const skipper = dag({ dagId: 'bundle_pkg', description: CODE }, ({ task }) => {",
        "  task('next_fire', () => new Cron('0 0 * * *').nextRun()?.toISOString() ?? null);",
        "  task('skip', () => { throw new SkipTask('nothing to do'); });",
        '});',
        'export const SkipClass = SkipTask;',
        '',
      ].join('\n'),
    );
    built = await buildVersionBundles(folder, ['pkg_dag.ts']);
    // As the functions do at init.
    installDagLibrary();
  });

  it('is self-contained (npm packages bundled in) and runs on the functions\' own library', async () => {
    const [b] = built.bundles;
    const manifest = JSON.parse(readFileSync(path.join(built.dir, b!.bundle, 'manifest.json'), 'utf8')) as { files: { path: string }[]; packages: Record<string, string | null> };
    expect(manifest.files.map((f) => f.path)).toEqual(['helper.ts', 'pkg_dag.ts']);
    expect(Object.keys(manifest.packages)).toEqual(['airless', 'croner']);
    const code = readFileSync(path.join(built.dir, b!.bundle, 'bundle.mjs'), 'utf8');
    expect(code).not.toMatch(/from\s*["'](croner|airless)["']/);
    const ns = (await import(pathToFileURL(path.join(built.dir, b!.bundle, 'bundle.mjs')).href)) as Record<string, unknown>;
    expect(isDag(ns['skipper'])).toBe(true);
    expect(ns['skipper']).toBeInstanceOf(Dag);
    expect(ns['SkipClass']).toBe(SkipTask);
    expect((ns['skipper'] as Dag).spec.description).toBe('v7');
  });

  it('is the version the functions bundle, and a version loader finds it again', async () => {
    const [b] = built.bundles;
    const ns = (await import(pathToFileURL(path.join(built.dir, b!.bundle, 'bundle.mjs')).href)) as Record<string, unknown>;
    const resolver = dagResolverFromModules([{ file: 'pkg_dag.ts', bundle: b!.bundle, exports: ns }]);
    const dag = resolver.getDag('bundle_pkg')!;
    expect(dag.spec.bundle).toBe(b!.bundle);
    expect(dag.spec.version).not.toBe(dag.spec.structureHash);
    // A later deploy's resolver (no such DAG bundled) loads the version from its record and bundle.
    const store = new MemoryStateStore();
    await store.registerDagVersion(versionEntryOf(dag), new Date(0).toISOString());
    const loader = new VersionLoader({ locate: (d, v) => store.getDagVersion(d, v), importBundle: async (h) => (h === b!.bundle ? ns : undefined) });
    const later = dagResolverFromModules([], { versions: () => loader });
    expect(later.getDag('bundle_pkg', dag.spec.version)).toBeUndefined();
    const loaded = await later.loadVersion('bundle_pkg', dag.spec.version);
    expect(loaded?.spec.version).toBe(dag.spec.version);
    expect(later.getDag('bundle_pkg', dag.spec.version)).toBe(loaded);
  });
});

it('keeps DEFAULT_VERSIONS_RETAINED versions by default', async () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const { stack } = await createAirlessApp({ dagsFolder: 'test/fixtures/cdk', app, stackName: 'AirlessVersionsDefault', nag: false });
  const env = (Template.fromStack(stack).toJSON() as { Resources: Resources }).Resources[stack.getLogicalId(stack.airless.functions.scheduler.node.defaultChild as never)]!.Properties!['Environment'] as { Variables: Record<string, unknown> };
  expect(env.Variables['VERSIONS_RETAINED']).toBe(String(DEFAULT_VERSIONS_RETAINED));
}, 120_000);
