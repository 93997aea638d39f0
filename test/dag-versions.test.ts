// A DAG version names its code: the DAG file, the local modules it imports and the packages' versions.
// Runs record it; clears rerun on it (or on the latest when asked); triggered runs run on the version
// their top-level run pinned; the code of versions no run needs is pruned.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundlesDir, LocalBundleStore } from '../lib/dagbag/bundle-store.ts';
import { collectBundle } from '../lib/dagbag/bundle.ts';
import { loadDagBag, type DagBag } from '../lib/dagbag/dag-bag.ts';
import { localVersionLoader } from '../lib/dagbag/version-loader.ts';
import { FakeClock } from '../lib/runner/clock.ts';
import { LocalRunner } from '../lib/runner/local-runner.ts';
import { clearTaskInstances, OperationError } from '../lib/scheduler/operations.ts';
import { pruneVersions } from '../lib/scheduler/prune-versions.ts';
import { versionEntryOf } from '../lib/scheduler/runs.ts';
import { VersionedDags } from '../lib/standalone/dag-reloader.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const TMP = mkdtempSync(path.join(tmpdir(), 'airless-dag-versions-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const T0 = Date.UTC(2026, 5, 1);

let projects = 0;
/**
 * A project as a user has one: ESM, the library installed as a package (linked), DAGs in `dags/`, the home
 * (`.airless`) inside it. Each call is a new folder: a module path is loaded once per test process.
 */
function project(files: Record<string, string>): { root: string; dags: string; home: string } {
  const root = path.join(TMP, `p${++projects}`);
  mkdirSync(path.join(root, 'node_modules'), { recursive: true });
  writeFileSync(path.join(root, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(ROOT, path.join(root, 'node_modules', 'airless'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return { root, dags: path.join(root, 'dags'), home: path.join(root, '.airless') };
}

const LEDGER = path.join(TMP, 'ledger.txt');
const ledger = (runId: string) =>
  readFileSync(LEDGER, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${runId} `))
    .map((l) => l.slice(runId.length + 1));

const helper = (code: string) => `export const CODE = '${code}';\n`;
const CHAIN = `import { appendFileSync } from 'node:fs';
import { dag, task } from 'airless';
import { CODE } from './_code.ts';
const mark = (run: string, t: string) => appendFileSync(${JSON.stringify(LEDGER)}, run + ' ' + t + ' ' + CODE + '\\n');
export const chain = dag({ dagId: 'ver_chain' }, () => {
  const a = task('a', ({ runId }) => { mark(runId, 'a'); return CODE; });
  task('b', ({ runId }) => { mark(runId, 'b'); return CODE; }).after(a);
});
`;

async function load(dags: string, home: string): Promise<DagBag> {
  const bag = await loadDagBag(dags, { bundles: new LocalBundleStore(bundlesDir(home)) });
  expect(bag.importErrors).toEqual([]);
  return bag;
}

describe('a version is the code', () => {
  it('editing only a helper module, or a package version, is a new version of the same structure', async () => {
    const p = project({ 'dags/chain.ts': CHAIN, 'dags/_code.ts': helper('v1'), 'node_modules/left-pad/package.json': '{ "name": "left-pad", "version": "1.0.0" }' });
    const file = path.join(p.dags, 'chain.ts');
    const v1 = await collectBundle(file, p.dags);
    expect(v1.manifest.files.map((f) => f.path)).toEqual(['dags/_code.ts', 'dags/chain.ts']);
    expect(v1.manifest.packages).toEqual({ airless: expect.any(String) });
    expect(v1.manifest.entry).toBe('dags/chain.ts');

    writeFileSync(path.join(p.dags, '_code.ts'), helper('v2'));
    const v2 = await collectBundle(file, p.dags);
    expect(v2.manifest.hash).not.toBe(v1.manifest.hash);

    // A package the helper imports: its installed version is part of the bundle.
    writeFileSync(path.join(p.dags, '_code.ts'), `import pad from 'left-pad';\nexport const CODE = String(pad);\n`);
    const withPkg = await collectBundle(file, p.dags);
    expect(withPkg.manifest.packages).toEqual({ airless: expect.any(String), 'left-pad': '1.0.0' });
    writeFileSync(path.join(p.root, 'node_modules/left-pad/package.json'), '{ "name": "left-pad", "version": "1.0.1" }');
    const bumped = await collectBundle(file, p.dags);
    expect(bumped.manifest.packages['left-pad']).toBe('1.0.1');
    expect(bumped.manifest.hash).not.toBe(withPkg.manifest.hash);
    // Nothing changed: the same hash.
    expect((await collectBundle(file, p.dags)).manifest.hash).toBe(bumped.manifest.hash);

    // Loaded: the DAG's version differs, its structure hash does not.
    const a = project({ 'dags/chain.ts': CHAIN, 'dags/_code.ts': helper('v1') });
    const b = project({ 'dags/chain.ts': CHAIN, 'dags/_code.ts': helper('v2') });
    const da = (await load(a.dags, a.home)).getDag('ver_chain')!;
    const db = (await load(b.dags, b.home)).getDag('ver_chain')!;
    expect(da.spec.structureHash).toBe(db.spec.structureHash);
    expect(da.spec.version).not.toBe(db.spec.version);
    expect(da.spec.bundle).toBe(v1.manifest.hash);
  });

  it('a file esbuild cannot follow is an import error naming the file and line', async () => {
    const p = project({ 'dags/broken.ts': `import { dag } from 'airless';\nimport { nope } from './_missing.ts';\nexport const d = dag({ dagId: 'broken' }, () => { void nope; });\n` });
    const bag = await loadDagBag(p.dags);
    expect(bag.dags).toEqual([]);
    expect(bag.importErrors).toHaveLength(1);
    expect(bag.importErrors[0]!.file).toBe('broken.ts');
  });
});

/** A runner over a folder's DAGs as the standalone has them: every version kept, older ones loaded from the home's bundles. */
async function runnerOn(p: { dags: string; home: string }, store = new MemoryStateStore()) {
  const bag = await load(p.dags, p.home);
  const bundles = new LocalBundleStore(bundlesDir(p.home));
  const dags = new VersionedDags(bag, localVersionLoader(store, bundles));
  for (const d of bag.dags) await store.registerDagVersion(versionEntryOf(d), new Date(T0).toISOString());
  const runner = new LocalRunner({ dags, store, clock: new FakeClock(T0), captureConsole: false });
  return { runner, dags, store, bundles, bag };
}

describe('runs keep their version', () => {
  it('a clear reruns on the run’s own version, loaded from its kept bundle; with runOnLatestVersion on the latest', async () => {
    const p = project({ 'dags/chain.ts': CHAIN, 'dags/_code.ts': helper('v1') });
    // The first process: r1 runs on v1.
    const first = await runnerOn(p);
    const r1 = await first.runner.run({ dagId: 'ver_chain', runId: 'c1' });
    expect(r1.state).toBe('success');
    const v1 = first.bag.getDag('ver_chain')!.spec.version;
    first.runner.close();

    // The helper is edited; a new process (same store, as after a restart) loads v2 only.
    const moved = project({ 'dags/chain.ts': CHAIN, 'dags/_code.ts': helper('v2') });
    // The same home: v1's bundle is there.
    rmSync(moved.home, { recursive: true, force: true });
    symlinkSync(p.home, moved.home);
    const second = await runnerOn(moved, first.store);
    const v2 = second.bag.getDag('ver_chain')!.spec.version;
    expect(v2).not.toBe(v1);
    expect(second.dags.versionsOf('ver_chain')).toEqual([v2]);

    const cleared = await second.runner.drive((s) => clearTaskInstances(s, { dagId: 'ver_chain', runId: 'c1', taskIds: ['b'] }));
    expect(cleared.cleared.map((c) => c.taskId)).toEqual(['b']);
    await second.runner.waitForRun({ dagId: 'ver_chain', runId: 'c1' });
    expect((await second.store.getRun({ dagId: 'ver_chain', runId: 'c1' }))).toMatchObject({ state: 'success', dagVersion: v1 });
    expect(ledger('c1')).toEqual(['a v1', 'b v1', 'b v1']);
    // v1 was loaded from its bundle, and is kept in memory now.
    expect(second.dags.versionsOf('ver_chain')).toEqual([v2, v1]);

    await second.runner.drive((s) => clearTaskInstances(s, { dagId: 'ver_chain', runId: 'c1', taskIds: ['b'], runOnLatestVersion: true }));
    await second.runner.waitForRun({ dagId: 'ver_chain', runId: 'c1' });
    expect((await second.store.getRun({ dagId: 'ver_chain', runId: 'c1' }))).toMatchObject({ state: 'success', dagVersion: v2 });
    expect(ledger('c1')).toEqual(['a v1', 'b v1', 'b v1', 'b v2']);

    // A version whose code is gone: the clear is refused before anything changes, and says how to go on.
    const r2 = await second.runner.run({ dagId: 'ver_chain', runId: 'c2' });
    expect(r2.state).toBe('success');
    await second.store.createRun({ ...(await second.store.getRun({ dagId: 'ver_chain', runId: 'c2' }))!, runId: 'c3', dagVersion: 'ffffffffffffffff' });
    await expect(second.runner.drive((s) => clearTaskInstances(s, { dagId: 'ver_chain', runId: 'c3' }))).rejects.toThrow(OperationError);
    await expect(second.runner.drive((s) => clearTaskInstances(s, { dagId: 'ver_chain', runId: 'c3' }))).rejects.toThrow(
      /the run's DAG version ffffffffffffffff cannot be loaded .*clear with runOnLatestVersion \(--run-on-latest-version\)/,
    );
    expect((await second.store.getRun({ dagId: 'ver_chain', runId: 'c3' }))?.clearNumber).toBeUndefined();
    second.runner.close();
  });

  it('a triggered run runs on the version its top-level run pinned when it started', async () => {
    const PARENT = `import { dag, task, triggerDag } from 'airless';
export const parent = dag({ dagId: 'ver_parent' }, () => {
  const gate = task('gate', async () => { while (!(globalThis as any).__verGate) await new Promise((r) => setTimeout(r, 5)); return 1; });
  triggerDag('kick', { triggerDagId: 'ver_chain', waitForCompletion: true }).after(gate);
});
`;
    const p = project({ 'dags/chain.ts': CHAIN, 'dags/_code.ts': helper('p1'), 'dags/parent.ts': PARENT });
    const { runner, store, dags, bag } = await runnerOn(p);
    const childV1 = bag.getDag('ver_chain')!.spec.version;
    const parentRun = await runner.trigger({ dagId: 'ver_parent', runId: 'pp' });
    expect(parentRun.pinnedVersions).toEqual({ ver_chain: childV1 });

    // While the parent waits at its gate, the child DAG's helper changes (a reload in the standalone).
    const edited = project({ 'dags/chain.ts': CHAIN, 'dags/_code.ts': helper('p2'), 'dags/parent.ts': PARENT });
    const next = await load(edited.dags, p.home);
    dags.swap(next);
    await store.registerDagVersion(versionEntryOf(next.getDag('ver_chain')!), new Date(T0).toISOString());
    expect(dags.getDag('ver_chain')!.spec.version).not.toBe(childV1);

    (globalThis as Record<string, unknown>)['__verGate'] = true;
    const done = await runner.waitForRun({ dagId: 'ver_parent', runId: 'pp' });
    expect(done.state).toBe('success');
    const [child] = await store.listRuns({ dagId: 'ver_chain' });
    expect(child).toMatchObject({ dagVersion: childV1, pinnedVersions: { ver_chain: childV1 } });
    expect(ledger(child!.runId)).toEqual(['a p1', 'b p1']);
    // A run triggered now, not by the parent, runs the current code.
    const fresh = await runner.run({ dagId: 'ver_chain', runId: 'fresh' });
    expect(fresh.state).toBe('success');
    expect(ledger('fresh')).toEqual(['a p2', 'b p2']);
    runner.close();
  });
});

describe('pruning', () => {
  it('prunes the code of versions no active run uses (beyond those retained), keeps the current one and those in use', async () => {
    const p = project({ 'dags/chain.ts': CHAIN, 'dags/_code.ts': helper('q1') });
    const store = new MemoryStateStore();
    const bundles = new LocalBundleStore(bundlesDir(p.home));
    const at = (i: number) => new Date(T0 + i * 1000).toISOString();
    const versions: { version: string; bundle: string }[] = [];
    for (const [i, code] of ['q1', 'q2', 'q3', 'q4'].entries()) {
      const q = project({ 'dags/chain.ts': CHAIN, 'dags/_code.ts': helper(code) });
      const d = (await loadDagBag(q.dags, { bundles })).getDag('ver_chain')!;
      await store.registerDagVersion(versionEntryOf(d), at(i));
      versions.push({ version: d.spec.version, bundle: d.spec.bundle! });
    }
    expect(bundles.list()).toEqual(versions.map((v) => v.bundle).sort());
    const [q1, q2, q3, q4] = versions as [(typeof versions)[0], (typeof versions)[0], (typeof versions)[0], (typeof versions)[0]];
    // A running run on q2; a queued one that pinned q1 for its triggers.
    const base = { runType: 'manual' as const, conf: {}, params: {}, logicalDate: at(9), queuedAt: at(9), startDate: null, endDate: null, pending: 2, parent: null, note: null };
    await store.createRun({ ...base, dagId: 'ver_chain', runId: 'busy', state: 'running', dagVersion: q2.version, pipelineScope: 'ver_chain/busy' });
    await store.createRun({ ...base, dagId: 'other', runId: 'pins', state: 'queued', dagVersion: 'x', pipelineScope: 'other/pins', pinnedVersions: { ver_chain: q1.version } });

    const deleted: string[] = [];
    // Retaining three: q2..q4 are the newest, q1 is pinned: nothing goes.
    const retained = await pruneVersions({ store, dagIds: ['ver_chain'], current: new Map([['ver_chain', q4.version]]), deleteBundle: async (b) => bundles.delete(b), retain: 3, now: at(10) });
    expect(retained).toEqual({ pruned: [], bundlesDeleted: [] });
    const report = await pruneVersions({
      store,
      dagIds: ['ver_chain'],
      current: new Map([['ver_chain', q4.version]]),
      deleteBundle: async (b) => {
        deleted.push(b);
        return bundles.delete(b);
      },
      retain: 0,
      now: at(10),
    });
    expect(report.pruned).toEqual([{ dagId: 'ver_chain', version: q3.version, bundle: q3.bundle }]);
    expect(report.bundlesDeleted).toEqual([q3.bundle]);
    expect(bundles.list()).toEqual([q1.bundle, q2.bundle, q4.bundle].sort());
    expect((await store.getDagVersion('ver_chain', q3.version))?.prunedAt).toBe(at(10));

    // The runs end: q1 and q2 go too; q4 (current) stays. A second pruning deletes nothing again.
    await store.updateRun({ dagId: 'ver_chain', runId: 'busy' }, null, { state: 'success' });
    await store.updateRun({ dagId: 'other', runId: 'pins' }, null, { state: 'failed' });
    const again = await pruneVersions({ store, dagIds: ['ver_chain'], current: new Map([['ver_chain', q4.version]]), deleteBundle: async (b) => bundles.delete(b), retain: 0, now: at(11) });
    expect(again.pruned.map((v) => v.version)).toEqual([q1.version, q2.version]);
    expect(bundles.list()).toEqual([q4.bundle]);
    const third = await pruneVersions({ store, dagIds: ['ver_chain'], current: new Map([['ver_chain', q4.version]]), deleteBundle: async (b) => bundles.delete(b), retain: 0, now: at(12) });
    expect(third).toEqual({ pruned: [], bundlesDeleted: [] });
    expect((await store.listDagVersions('ver_chain')).map((v) => v.prunedAt !== null)).toEqual([true, true, true, false]);
    expect(deleted).toEqual([q3.bundle]);
  });
});
