// Outlets in worker isolation (the standalone's): the extra a try's code gives ctx.outletEvents in its
// worker thread reaches the event its success records, and the consumer's try reads its triggering
// events in its own worker.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDagBag } from '../lib/dagbag/dag-bag.ts';
import { FakeClock } from '../lib/runner/clock.ts';
import { LocalRunner } from '../lib/runner/local-runner.ts';
import { SqliteStateStore } from '../lib/store/sqlite-store.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const TMP = mkdtempSync(path.join(tmpdir(), 'airless-assets-isolation-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const DAGS = `
import { asset, dag } from 'airless';
const table = asset('s3://lake/table');
export const producer = dag({ dagId: 'iso_producer' }, ({ task }) => {
  task('write', (ctx) => {
    ctx.outletEvents(table).extra = { rows: 7, thread: 'worker' };
    return 1;
  }, { outlets: [table] });
});
export const consumer = dag({ dagId: 'iso_consumer', schedule: table }, ({ task }) => {
  task('read', (ctx) => ctx.triggeringAssetEvents['s3://lake/table'].map((e) => e.extra));
});
`;

describe('assets in worker isolation', () => {
  it("a worker's outlet extra is recorded with the event, and the consumer's worker reads it", async () => {
    const dir = path.join(TMP, 'dags');
    mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    symlinkSync(ROOT, path.join(dir, 'node_modules', 'airless'));
    writeFileSync(path.join(dir, 'assets.ts'), DAGS);
    const bag = await loadDagBag(dir);
    expect(bag.importErrors).toEqual([]);
    const store = new SqliteStateStore({ path: path.join(TMP, 'airless.db') });
    const r = new LocalRunner({ dags: bag, store, clock: new FakeClock(Date.UTC(2026, 0, 1)), isolation: 'worker', captureConsole: false });
    try {
      expect((await r.run({ dagId: 'iso_producer', runId: 'p1' })).state).toBe('success');
      await r.idle();
      const [run] = await store.listRuns({ dagId: 'iso_consumer' });
      expect(run?.state).toBe('success');
      expect((await store.getXCom(run!, 'read', -1, 'return_value'))?.value).toEqual([{ rows: 7, thread: 'worker' }]);
    } finally {
      r.close();
      store.close();
    }
  });
});
