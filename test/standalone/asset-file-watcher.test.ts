// The standalone's file:// watcher: a real server on a temp home; writing the file of a fileWatcher()
// asset records an event and starts the DAG scheduled on it; the watcher follows the DAGs loaded.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { asset, dag, fileWatcher } from '../../lib/index.ts';
import { DagBag } from '../../lib/dagbag/dag-bag.ts';
import { AssetFileWatcher } from '../../lib/standalone/asset-file-watcher.ts';
import { startStandalone, type StandaloneServer } from '../../lib/standalone/server.ts';
import type { AssetEventInput } from '../../lib/scheduler/assets.ts';

const ROOT = mkdtempSync(path.join(tmpdir(), 'airless-file-assets-'));
const DATA = path.join(ROOT, 'data');
mkdirSync(DATA);
const FILE = path.join(DATA, 'orders.csv');
let server: StandaloneServer | undefined;

afterAll(async () => {
  await server?.stop();
  rmSync(ROOT, { recursive: true, force: true });
});

const orders = asset(pathToFileURL(FILE).href, { watchers: [fileWatcher()] });
const consumer = dag({ dagId: 'on_orders_file', schedule: orders }, ({ task }) => {
  task('read', (ctx) => ctx.triggeringAssetEvents[orders.uri]?.map((e) => e.extra));
});

/** Waits (bounded: a loop of short sleeps) until `check` gives a value. */
async function eventually<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('gave up waiting');
}

describe('the standalone watches the files of fileWatcher() assets', () => {
  it('writing the file (created, then changed) records an event each time and starts the consumer', async () => {
    const home = path.join(ROOT, 'home');
    const bag = new DagBag(path.join(ROOT, 'dags'), [consumer], []);
    server = await startStandalone({ bag, home, port: 0, env: { AIRLESS_API_TOKEN: 'file-asset-token-0123' }, uiDir: null, watch: false, warn: () => undefined, assetDebounceMs: 20 });
    const store = server.runner.store;
    writeFileSync(FILE, 'id,amount\n1,10\n');
    const first = await eventually(async () => {
      const runs = await store.listRuns({ dagId: 'on_orders_file', states: ['success'] });
      return runs.length >= 1 ? runs[0] : undefined;
    });
    expect(first.runType).toBe('asset_triggered');
    const [event] = first.triggeringAssetEvents!;
    expect(event!.uri).toBe(orders.uri);
    expect(event!.source).toMatchObject({ kind: 'watcher', watcher: 'file', detail: { path: FILE, size: 15 } });
    expect(event!.extra).toMatchObject({ path: FILE, size: 15 });
    const xcom = await store.getXCom(first, 'read', -1, 'return_value');
    expect(xcom?.value).toEqual([event!.extra]);

    writeFileSync(FILE, 'id,amount\n1,10\n2,20\n');
    const runs = await eventually(async () => {
      const rs = await store.listRuns({ dagId: 'on_orders_file', states: ['success'] });
      return rs.length >= 2 ? rs : undefined;
    });
    expect(runs.map((r) => r.triggeringAssetEvents![0]!.extra.size).sort()).toEqual([15, 20]);
    // One event per change the file went through (a change seen twice by fs.watch is one event).
    expect((await store.listAssetEvents({ uri: orders.uri, limit: 10 })).total).toBe(2);
  });

  it('follows the DAGs loaded: a reload that drops the asset stops watching its file, one that adds it starts', async () => {
    const recorded: AssetEventInput[] = [];
    const w = new AssetFileWatcher({ record: async (e) => void recorded.push(e), warn: () => undefined, debounceMs: 10 });
    const other = path.join(DATA, 'other.json');
    const second = asset(pathToFileURL(other).href, { watchers: [fileWatcher()] });
    const d2 = dag({ dagId: 'on_other', schedule: second }, ({ empty }) => void empty('e'));
    w.setDags([consumer]);
    expect(w.paths).toEqual([FILE]);
    w.setDags([consumer, d2]);
    expect(w.paths).toEqual([other, FILE].sort());
    w.setDags([d2]);
    expect(w.paths).toEqual([other]);
    writeFileSync(other, '{}');
    await eventually(async () => (recorded.length > 0 ? true : undefined));
    expect(recorded[0]).toMatchObject({ uri: second.uri, dedupeKey: expect.stringMatching(/^file:.*other\.json:[0-9.]+:2$/) as unknown });
    await w.stop();
    expect(w.paths).toEqual([]);
  });
});
