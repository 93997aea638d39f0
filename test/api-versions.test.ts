// The DAG version routes (list, one version with its code's manifest, one file's source) and the clear
// option run_on_latest_version, on the real app over a MemoryStateStore: versions registered as a loader
// registers them, their code collected from a temp DAG folder into a LocalBundleStore (api-versions-fixture.ts).
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../lib/api/app.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import type { LocalBundleStore } from '../lib/dagbag/bundle-store.ts';
import type { MemoryStateStore } from '../lib/store/memory-store.ts';
import { FLOW_V1, FLOW_V2, HELPER, versionedFixture, type VersionedFixture } from './api-versions-fixture.ts';

const TOKEN = 'versions-token-0123456789';

let fx: VersionedFixture;
let app: FastifyInstance;
let bundles: LocalBundleStore;
let store: MemoryStateStore;
let v0: Dag;
let v1: Dag;
let v2: Dag;
/** The bodies of the clear requests, as validated (defaults applied). */
const clearBodies: Record<string, unknown>[] = [];

async function call(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: r.statusCode, json: r.body === '' ? null : (JSON.parse(r.body) as unknown) };
}

beforeAll(async () => {
  fx = await versionedFixture();
  ({ store, bundles, v0, v1, v2 } = fx);
  app = await createApiApp({ backend: fx.backend, auth: { mode: 'token', token: TOKEN } });
  app.addHook('preHandler', async (request) => {
    if (request.url.endsWith('/clearTaskInstances')) clearBodies.push({ ...(request.body as Record<string, unknown>) });
  });
});

afterAll(async () => {
  await app?.close();
  fx?.close();
});

describe('GET /api/v2/dags/{dag_id}/dagVersions', () => {
  it('lists the versions oldest first, numbered, with their runs and the current one', async () => {
    const r = await call('GET', '/api/v2/dags/versioned/dagVersions');
    expect(r.status).toBe(200);
    expect(r.json.total_entries).toBe(3);
    expect(r.json.dag_versions).toStrictEqual([
      { version: v0.spec.version, version_number: 1, dag_id: 'versioned', structure_hash: v0.spec.structureHash, bundle: null, fileloc: 'flow.ts', created_at: '2025-12-31T00:00:00.000Z', pruned_at: null, runs: 0, is_current: false },
      { version: v1.spec.version, version_number: 2, dag_id: 'versioned', structure_hash: v1.spec.structureHash, bundle: v1.spec.bundle, fileloc: 'flow.ts', created_at: '2026-01-01T00:00:00.000Z', pruned_at: null, runs: 2, is_current: false },
      { version: v2.spec.version, version_number: 3, dag_id: 'versioned', structure_hash: v2.spec.structureHash, bundle: v2.spec.bundle, fileloc: 'flow.ts', created_at: '2026-01-02T00:00:00.000Z', pruned_at: null, runs: 1, is_current: true },
    ]);
  });

  it('a DAG with no version registered has none', async () => {
    expect((await call('GET', '/api/v2/dags/unversioned/dagVersions')).json).toStrictEqual({ dag_versions: [], total_entries: 0 });
  });

  it('404 for an unknown DAG, naming it', async () => {
    const r = await call('GET', '/api/v2/dags/nope/dagVersions');
    expect(r.status).toBe(404);
    expect(r.json).toStrictEqual({ detail: "DAG 'nope' not found (DAGs: unversioned, versioned)", field: 'params.dag_id' });
  });
});

describe('DAG runs name their version', () => {
  it('dag_version is the version the run ran on', async () => {
    const runs = (await call('GET', '/api/v2/dags/versioned/dagRuns?order_by=queued_at')).json.dag_runs as { dag_run_id: string; dag_version: string }[];
    expect(runs.map((r) => [r.dag_run_id, r.dag_version])).toStrictEqual([
      ['r1', v1.spec.version],
      ['r2', v1.spec.version],
      ['r3', v2.spec.version],
    ]);
    expect((await call('GET', '/api/v2/dags/versioned/dagRuns/r1')).json.dag_version).toBe(v1.spec.version);
  });
});

describe('GET /api/v2/dags/{dag_id}/dagVersions/{version}', () => {
  it("gives the version and its code's manifest", async () => {
    const r = await call('GET', `/api/v2/dags/versioned/dagVersions/${v1.spec.version}`);
    expect(r.status).toBe(200);
    const manifest = (await bundles.manifest(v1.spec.bundle!))!;
    expect(r.json).toMatchObject({ version: v1.spec.version, version_number: 2, runs: 2, is_current: false, entry: manifest.entry, packages: manifest.packages });
    expect(r.json.files).toStrictEqual(manifest.files.map((f) => ({ path: f.path, bytes: f.bytes, sha256: f.sha256 })));
    expect((r.json.files as { path: string }[]).map((f) => f.path)).toStrictEqual(['dags/_helpers.ts', 'dags/flow.ts']);
    expect(r.json.entry).toBe('dags/flow.ts');
  });

  it('files null for a version whose code is not available (built in code)', async () => {
    const r = await call('GET', `/api/v2/dags/versioned/dagVersions/${v0.spec.version}`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ version: v0.spec.version, bundle: null, files: null, entry: null, packages: null });
  });

  it('404 for an unknown version, naming it and the versions', async () => {
    const r = await call('GET', '/api/v2/dags/versioned/dagVersions/0123456789abcdef');
    expect(r.status).toBe(404);
    expect(r.json).toStrictEqual({ detail: `version '0123456789abcdef' of DAG 'versioned' not found (versions: ${v0.spec.version}, ${v1.spec.version}, ${v2.spec.version})`, field: 'params.version' });
  });
});

describe('GET /api/v2/dags/{dag_id}/dagVersions/{version}/source', () => {
  it("gives a file of the version's code as it was", async () => {
    const r1 = await call('GET', `/api/v2/dags/versioned/dagVersions/${v1.spec.version}/source?path=dags/flow.ts`);
    expect(r1.status).toBe(200);
    expect(r1.json).toStrictEqual({ path: 'dags/flow.ts', content: FLOW_V1 });
    const r2 = await call('GET', `/api/v2/dags/versioned/dagVersions/${v2.spec.version}/source?path=${encodeURIComponent('dags/flow.ts')}`);
    expect(r2.json).toStrictEqual({ path: 'dags/flow.ts', content: FLOW_V2 });
    const helper = await call('GET', `/api/v2/dags/versioned/dagVersions/${v2.spec.version}/source?path=dags/_helpers.ts`);
    expect(helper.json.content).toBe(HELPER);
  });

  it('404 naming the file when the version holds no such file', async () => {
    const r = await call('GET', `/api/v2/dags/versioned/dagVersions/${v1.spec.version}/source?path=dags/other.ts`);
    expect(r.status).toBe(404);
    expect(r.json).toStrictEqual({ detail: `file 'dags/other.ts' not found in version '${v1.spec.version}' of DAG 'versioned' (files: dags/_helpers.ts, dags/flow.ts)`, field: 'query.path' });
  });

  it('404 naming the version when its code is not available', async () => {
    const r = await call('GET', `/api/v2/dags/versioned/dagVersions/${v0.spec.version}/source?path=dags/flow.ts`);
    expect(r.status).toBe(404);
    expect(r.json).toStrictEqual({ detail: `the code of version '${v0.spec.version}' of DAG 'versioned' is not available: it was built in code, not loaded from a file`, field: 'params.version' });
  });

  it('400 without a path', async () => {
    const r = await call('GET', `/api/v2/dags/versioned/dagVersions/${v1.spec.version}/source`);
    expect(r.status).toBe(400);
    expect(r.json.field).toBe('query.path');
  });
});

describe('POST /api/v2/dags/{dag_id}/clearTaskInstances run_on_latest_version', () => {
  it('defaults to false, and is passed as given', async () => {
    clearBodies.length = 0;
    // r1 ran on v1, whose code this backend cannot load: on its own version the clear is refused, on the latest it goes.
    const dflt = await call('POST', '/api/v2/dags/versioned/clearTaskInstances', { dag_run_id: 'r1', dry_run: true });
    expect(dflt.status).toBe(400);
    expect(dflt.json.detail).toMatch(/the run's DAG version \w+ cannot be loaded .*clear with runOnLatestVersion \(--run-on-latest-version\)/);
    const latest = await call('POST', '/api/v2/dags/versioned/clearTaskInstances', { dag_run_id: 'r1', dry_run: true, run_on_latest_version: true });
    expect(latest.status).toBe(200);
    expect(latest.json.task_instances.map((t: { task_id: string }) => t.task_id)).toEqual(['greet']);
    expect(clearBodies.map((b) => b['run_on_latest_version'])).toStrictEqual([false, true]);
  });

  it('refuses a non-boolean', async () => {
    const r = await call('POST', '/api/v2/dags/versioned/clearTaskInstances', { dag_run_id: 'r1', run_on_latest_version: 'yes' });
    expect(r.status).toBe(400);
    expect(r.json.field).toBe('body.run_on_latest_version');
  });
});

// Last: it prunes v1.
describe('a pruned version', () => {
  it('is listed with pruned_at; its files are null and its sources 404 saying when it was pruned', async () => {
    // Pruned as a pruner does it: the bundle goes, the version record says when.
    bundles.delete(v1.spec.bundle!);
    await store.markDagVersionPruned('versioned', v1.spec.version, '2026-02-01T00:00:00.000Z');
    const listed = (await call('GET', '/api/v2/dags/versioned/dagVersions')).json.dag_versions as { version: string; pruned_at: string | null; runs: number }[];
    expect(listed.map((v) => [v.version, v.pruned_at, v.runs])).toStrictEqual([
      [v0.spec.version, null, 0],
      [v1.spec.version, '2026-02-01T00:00:00.000Z', 2],
      [v2.spec.version, null, 1],
    ]);
    const one = await call('GET', `/api/v2/dags/versioned/dagVersions/${v1.spec.version}`);
    expect(one.json).toMatchObject({ pruned_at: '2026-02-01T00:00:00.000Z', files: null, entry: null, packages: null });
    const source = await call('GET', `/api/v2/dags/versioned/dagVersions/${v1.spec.version}/source?path=dags/flow.ts`);
    expect(source.status).toBe(404);
    expect(source.json.detail).toBe(`the code of version '${v1.spec.version}' of DAG 'versioned' is not available: it was pruned at 2026-02-01T00:00:00.000Z`);
  });
});
