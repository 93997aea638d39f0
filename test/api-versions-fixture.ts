// A DAG with versions, as a loader records them: a temp DAG folder whose file is edited between runs, each
// version's code collected into a LocalBundleStore, the versions registered in a MemoryStateStore, runs on
// each; and the API backend over them. Shared by the API's and the CLI's version tests.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ApiBackend } from '../lib/api/backend.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import { collectBundle } from '../lib/dagbag/bundle.ts';
import { LocalBundleStore } from '../lib/dagbag/bundle-store.ts';
import { DagBag } from '../lib/dagbag/dag-bag.ts';
import { dag, task } from '../lib/index.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import { fakeRunner } from './helpers.ts';

export const HELPER = "export const greeting = (name: string) => `hello ${name}`;\n";
export const FLOW_V1 = "import { dag, task } from 'airless';\nimport { greeting } from './_helpers.ts';\n\nexport default dag({ dagId: 'versioned' }, () => {\n  task('greet', () => greeting('one'));\n});\n";
export const FLOW_V2 = FLOW_V1.replace("task('greet', () => greeting('one'));", "const g = task('greet', () => greeting('two'));\n  task('after', () => 2).after(g);");

/** The DAG as each file defines it, built in code here (named by its bundle below, as a loader names it). */
const defineV1 = () => dag({ dagId: 'versioned' }, () => void task('greet', () => 'hello one'));
const defineV2 = () =>
  dag({ dagId: 'versioned' }, () => {
    const g = task('greet', () => 'hello two');
    task('after', () => 2).after(g);
  });

const entry = (d: Dag) => ({ dagId: d.dagId, version: d.spec.version, structureHash: d.spec.structureHash, bundle: d.spec.bundle, fileloc: d.spec.fileloc });

export interface VersionedFixture {
  dir: string;
  store: MemoryStateStore;
  bundles: LocalBundleStore;
  /** A version built in code (no bundle), registered first (2025-12-31): its code is never available. No runs. */
  v0: Dag;
  /** flow.ts as FLOW_V1 (registered 2026-01-01); runs r1 and r2. */
  v1: Dag;
  /** flow.ts as FLOW_V2 (registered 2026-01-02), the current version; run r3. */
  v2: Dag;
  /** The API's backend: the DAG `versioned` (v2) and `unversioned` (no version registered), with `bundles`. */
  backend: ApiBackend;
  close(): void;
}

export async function versionedFixture(): Promise<VersionedFixture> {
  const dir = mkdtempSync(path.join(tmpdir(), 'airless-api-versions-'));
  const dags = path.join(dir, 'dags');
  const bundles = new LocalBundleStore(path.join(dir, 'home', 'bundles'));
  mkdirSync(dags);
  writeFileSync(path.join(dir, 'package.json'), '{"private": true, "type": "module"}\n');
  writeFileSync(path.join(dags, '_helpers.ts'), HELPER);
  writeFileSync(path.join(dags, 'flow.ts'), FLOW_V1);
  const b1 = await collectBundle(path.join(dags, 'flow.ts'), dags);
  bundles.put(b1, '2026-01-01T00:00:00.000Z');
  writeFileSync(path.join(dags, 'flow.ts'), FLOW_V2);
  const b2 = await collectBundle(path.join(dags, 'flow.ts'), dags);
  bundles.put(b2, '2026-01-02T00:00:00.000Z');

  const v0 = defineV1().withFileloc('flow.ts');
  const v1 = defineV1().withFileloc('flow.ts').withBundle(b1.manifest.hash);
  const v2 = defineV2().withFileloc('flow.ts').withBundle(b2.manifest.hash);
  const store = new MemoryStateStore();
  await store.registerDagVersion(entry(v0), '2025-12-31T00:00:00.000Z');
  // Two runs on v1, then the file changes: one run on v2 (each runner sees the DAG as it was then).
  await store.registerDagVersion(entry(v1), '2026-01-01T00:00:00.000Z');
  const old = fakeRunner([v1], { store, captureConsole: false });
  await old.run({ dagId: 'versioned', runId: 'r1' });
  await old.run({ dagId: 'versioned', runId: 'r2' });
  old.close();
  await store.registerDagVersion(entry(v2), '2026-01-02T00:00:00.000Z');
  const runner = fakeRunner([v2], { store, captureConsole: false });
  await runner.run({ dagId: 'versioned', runId: 'r3' });

  const other = dag({ dagId: 'unversioned' }, () => void task('t', () => 1));
  const backend: ApiBackend = {
    store,
    dags: new DagBag(dags, [v2, other].sort((a, b) => a.dagId.localeCompare(b.dagId)), []),
    withScheduler: (fn) => fn(runner.driven),
    bundles,
    now: () => new Date(runner.clock.now()),
  };
  return {
    dir,
    store,
    bundles,
    v0,
    v1,
    v2,
    backend,
    close: () => {
      runner.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
