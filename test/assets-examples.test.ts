// The asset example DAGs of dags/: the producer's success starts the consumer (local runner, SQLite and
// memory stores); `dags test --asset-event` runs a consumer as an asset-triggered run (the real CLI).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock, LocalRunner } from '../lib/index.ts';
import { assetConsumer, type ImagingPlan } from '../dags/asset_consumer.ts';
import { assetOrTimeDag } from '../dags/asset_or_time.ts';
import { assetProducer } from '../dags/asset_producer.ts';
import { localStores } from './helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const HOME = mkdtempSync(path.join(os.tmpdir(), 'airless-assets-cli-'));
afterAll(() => rmSync(HOME, { recursive: true, force: true }));

describe.each(localStores())('the asset example DAGs (%s)', (_name, makeStore) => {
  it('asset_producer updates three assets: asset_consumer and asset_or_time each run once, with the events', async () => {
    const r = new LocalRunner({ dags: [assetProducer, assetConsumer, assetOrTimeDag], store: makeStore(), clock: new FakeClock(Date.parse('2026-03-01T00:00:00Z')), captureConsole: false });
    expect((await r.run({ dagId: 'asset_producer' })).state).toBe('success');
    await r.idle();
    const [consumed] = await r.store.listRuns({ dagId: 'asset_consumer' });
    expect(consumed).toMatchObject({ runType: 'asset_triggered', state: 'success' });
    const plan = (await r.store.getXCom(consumed!, 'plan_imaging', -1, 'return_value'))?.value as ImagingPlan;
    expect(plan.scans).toBe(12);
    // Every event queued when the condition held: calibrated, and both the flags and the sky model (or
    // only the first of them to be recorded, the condition holding then).
    expect(plan.inputs).toContain('s3://airless-example/visibilities/calibrated.ms');
    const [report] = await r.store.listRuns({ dagId: 'asset_or_time' });
    expect(report).toMatchObject({ runType: 'asset_triggered', state: 'success' });
    expect((await r.store.getXCom(report!, 'report', -1, 'return_value'))?.value).toEqual({ runType: 'asset_triggered', skyModelEvents: 1 });
    expect(r.errors).toEqual([]);
    r.close();
  });
});

function airless(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, AIRLESS_HOME: HOME, NO_COLOR: '1' };
  delete env['FORCE_COLOR'];
  delete env['AIRLESS_DAGS_FOLDER'];
  return new Promise((resolve) => {
    execFile(path.join(ROOT, 'node_modules/.bin/node'), ['bin/airless.js', ...args], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

describe('airless dags test --asset-event', () => {
  it('runs the DAG as an asset-triggered run whose ctx.triggeringAssetEvents are the events given', async () => {
    const r = await airless(['dags', 'test', 'asset_consumer', '--dags-folder', 'dags', '--json', '--asset-event', 's3://airless-example/visibilities/calibrated.ms={"scans": 3}', '--asset-event', 's3://airless-example/flags/rfi.json']);
    expect(r.stderr).not.toContain('Error');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { runId: string; state: string };
    expect(doc.state).toBe('success');
    expect(doc.runId).toMatch(/^asset_triggered__/);
    const log = readFileSync(path.join(HOME, 'logs', 'dag_id=asset_consumer', `run_id=${doc.runId}`, 'task_id=plan_imaging', 'attempt=1.log'), 'utf8');
    expect(log).toContain('imaging 3 scans from s3://airless-example/flags/rfi.json, s3://airless-example/visibilities/calibrated.ms');
  });

  it('a value that is not an asset uri, or bad JSON after =, is a usage error (exit 2)', async () => {
    const bad = await airless(['dags', 'test', 'asset_consumer', '--dags-folder', 'dags', '--asset-event', 'calibrated.ms']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--asset-event: 'calibrated.ms' is not an asset uri (it needs a scheme, e.g. s3://bucket/key, and no spaces)");
    const json = await airless(['dags', 'test', 'asset_consumer', '--dags-folder', 'dags', '--asset-event', 's3://x/y={"scans": }']);
    expect(json.code).toBe(2);
    expect(json.stderr).toContain("--asset-event s3://x/y: the extra after '=' is not JSON");
  });
});
