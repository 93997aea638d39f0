// `airless dags versions` and `airless tasks clear --run-on-latest-version` against the real API app,
// listening on loopback over a DAG with versions (test/api-versions-fixture.ts); and `dags versions`
// with no server to ask.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiApp } from '../lib/api/app.ts';
import { versionedFixture, type VersionedFixture } from './api-versions-fixture.ts';
import { cli } from './cli-remote/harness.ts';

const TOKEN = 'cli-versions-token-0123456789';

let fx: VersionedFixture;
let app: FastifyInstance;
let url: string;
let emptyHome: string;
/** The bodies of the clear requests, as the API validated them. */
const clearBodies: Record<string, unknown>[] = [];

beforeAll(async () => {
  fx = await versionedFixture();
  app = await createApiApp({ backend: fx.backend, auth: { mode: 'token', token: TOKEN } });
  app.addHook('preHandler', async (request) => {
    if (request.url.endsWith('/clearTaskInstances')) clearBodies.push({ ...(request.body as Record<string, unknown>) });
  });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  emptyHome = mkdtempSync(path.join(os.tmpdir(), 'airless-cli-versions-'));
});
afterAll(async () => {
  await app?.close();
  fx?.close();
  rmSync(emptyHome, { recursive: true, force: true });
});
beforeEach(() => {
  vi.stubEnv('AIRLESS_HOME', emptyHome);
  vi.stubEnv('AIRLESS_API_TOKEN', TOKEN);
  vi.stubEnv('NO_COLOR', '1');
  vi.stubEnv('FORCE_COLOR', undefined);
});

const remote = (...args: string[]) => cli([...args, '--endpoint', url]);

describe('airless dags versions', () => {
  it('a table of the versions, oldest first, the current one marked', async () => {
    const r = await remote('dags', 'versions', 'versioned');
    expect(r.code).toBe(0);
    const { v0, v1, v2 } = fx;
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^# +version +first_seen +runs +bundle +file +code +current$/);
    expect(lines.slice(2).map((l) => l.split(/ {2,}/))).toStrictEqual([
      ['1', v0.spec.version, '2025-12-31 00:00:00', '0', '-', 'flow.ts', 'none'],
      ['2', v1.spec.version, '2026-01-01 00:00:00', '2', v1.spec.bundle!.slice(0, 12), 'flow.ts', 'kept'],
      ['3', v2.spec.version, '2026-01-02 00:00:00', '1', v2.spec.bundle!.slice(0, 12), 'flow.ts', 'kept', '*'],
    ]);
    expect(r.stderr).toBe('');
  });

  it("--json: the API's list", async () => {
    const r = await remote('dags', 'versions', 'versioned', '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { dag_versions: { version: string; version_number: number; runs: number; is_current: boolean }[]; total_entries: number };
    expect(doc.total_entries).toBe(3);
    expect(doc.dag_versions.map((v) => [v.version_number, v.version, v.runs, v.is_current])).toStrictEqual([
      [1, fx.v0.spec.version, 0, false],
      [2, fx.v1.spec.version, 2, false],
      [3, fx.v2.spec.version, 1, true],
    ]);
  });

  it('a DAG with no version recorded says so', async () => {
    const r = await remote('dags', 'versions', 'unversioned');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("No versions of DAG 'unversioned' recorded yet\n");
  });

  it('an unknown DAG is a usage error naming it (exit 2)', async () => {
    const r = await remote('dags', 'versions', 'nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: DAG 'nope' not found/);
  });

  it("with no server: says the versions are in a server's store, and what was tried (exit 2)", async () => {
    const r = await cli(['dags', 'versions', 'versioned']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: a DAG's versions are kept in a server's store \(the standalone's, or a deployed stack's\), and there is no airless server to ask: .*standalone\.json does not exist.*; start one with `npx airless standalone`/);
  });
});

describe('airless tasks clear --run-on-latest-version', () => {
  it('is sent as run_on_latest_version (false without it), in the preview and the clear', async () => {
    clearBodies.length = 0;
    // r1 ran on v1, whose code this server cannot load: rerunning it on its own version is refused, and says how to go on.
    const plain = await remote('tasks', 'clear', 'versioned', '--run-id', 'r1', '--dry-run');
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/the run's DAG version \w+ cannot be loaded .*--run-on-latest-version/);
    expect(clearBodies.map((b) => b['run_on_latest_version'])).toStrictEqual([false]);
    clearBodies.length = 0;
    const latest = await remote('tasks', 'clear', 'versioned', '--run-id', 'r3', '--run-on-latest-version', '--yes', '--json');
    expect(latest.code).toBe(0);
    expect(clearBodies.map((b) => [b['dry_run'], b['run_on_latest_version']])).toStrictEqual([
      [true, true],
      [false, true],
    ]);
    expect((JSON.parse(latest.stdout) as { task_instances: unknown[] }).task_instances.length).toBeGreaterThan(0);
  });
});
