import { describe, expect, it } from 'vitest';
import { assetEventId, assetId, type AssetEventRecord } from '../lib/model/asset.ts';
import { pipelineScopeOf, type DagRunRecord } from '../lib/store/records.ts';
import type { StateStore } from '../lib/store/state-store.ts';

let seq = 0;
/** Unique across tests and files (stores may share a table). */
const uid = (p: string) => `${p}-${process.pid}-${Date.now().toString(36)}-${seq++}`;

function event(uri: string, dedupeKey: string, timestamp: string, over: Partial<AssetEventRecord> = {}): AssetEventRecord {
  return {
    id: assetEventId(timestamp, dedupeKey),
    uri,
    assetId: assetId(uri),
    extra: { rows: 3, nested: { list: [1, 'two', null] } },
    timestamp,
    source: { kind: 'task', dagId: 'producer', runId: 'r1', taskId: 'write', mapIndex: -1, tryNumber: 1 },
    dedupeKey,
    createdRuns: [],
    ...over,
  };
}

/** The asset part of the StateStore contract (lib/store/asset-store.ts). */
export function describeAssetStoreContract(makeStore: () => Promise<StateStore> | StateStore): void {
  describe('assets', () => {
    it('records an event once per dedupe key: a second put returns the first event and writes nothing', async () => {
      const s = await makeStore();
      const uri = `s3://bucket/${uid('a')}/x y#ü`;
      const e = event(uri, `k-${uid('k')}`, '2026-01-01T00:00:00.000Z');
      const first = await s.putAssetEvent(e);
      expect(first).toStrictEqual({ applied: true, event: e });
      const again = await s.putAssetEvent({ ...e, id: assetEventId('2026-01-01T00:00:09.000Z', e.dedupeKey), timestamp: '2026-01-01T00:00:09.000Z', extra: { other: true } });
      expect(again).toStrictEqual({ applied: false, event: e });
      expect(await s.getAssetEvent(e.id)).toStrictEqual(e);
      expect(await s.getAssetEvent('2099-01-01T00:00:00.000Z_00000000')).toBeNull();
      expect((await s.listAssetEvents({ uri, limit: 10 })).total).toBe(1);
    });

    it("an event creates its asset's record (name = uri, group 'asset'), whose lastEventId moves only forward", async () => {
      const s = await makeStore();
      const uri = `file:///data/${uid('f')}.csv`;
      const later = event(uri, uid('k'), '2026-01-01T00:05:00.000Z');
      const earlier = event(uri, uid('k'), '2026-01-01T00:01:00.000Z');
      await s.putAssetEvent(later);
      await s.putAssetEvent(earlier);
      expect(await s.getAsset(uri)).toStrictEqual({ uri, assetId: assetId(uri), name: uri, group: 'asset', extra: {}, createdAt: later.timestamp, updatedAt: later.timestamp, lastEventId: later.id });
      // A DAG's declaration names it; its events stay.
      const named = await s.upsertAsset({ uri, name: 'daily file', group: 'files', extra: { owner: 'ana' } }, '2026-01-02T00:00:00.000Z');
      expect(named).toStrictEqual({ uri, assetId: assetId(uri), name: 'daily file', group: 'files', extra: { owner: 'ana' }, createdAt: later.timestamp, updatedAt: '2026-01-02T00:00:00.000Z', lastEventId: later.id });
      expect(await s.getAsset(uri)).toStrictEqual(named);
      expect(await s.getAsset(`${uri}.missing`)).toBeNull();
      const fresh = `s3://b/${uid('new')}`;
      expect(await s.upsertAsset({ uri: fresh, name: 'n', group: 'g', extra: {} }, '2026-01-03T00:00:00.000Z')).toStrictEqual({ uri: fresh, assetId: assetId(fresh), name: 'n', group: 'g', extra: {}, createdAt: '2026-01-03T00:00:00.000Z', updatedAt: '2026-01-03T00:00:00.000Z', lastEventId: null });
      const mine = (await s.listAssets()).filter((a) => a.uri === uri || a.uri === fresh).map((a) => a.uri);
      expect(mine).toStrictEqual([uri, fresh].sort());
    });

    it('lists events by asset and by source, oldest or newest first, paged, with the total', async () => {
      const s = await makeStore();
      const p = uid('list');
      const [u1, u2] = [`s3://b/${p}/one`, `s3://b/${p}/two`];
      const e1 = event(u1, `${p}-1`, '2026-01-01T00:00:01.000Z');
      const e2 = event(u2, `${p}-2`, '2026-01-01T00:00:02.000Z', { source: { kind: 'task', dagId: 'producer', runId: 'r2', taskId: 'other', mapIndex: 0, tryNumber: 2 } });
      const e3 = event(u1, `${p}-3`, '2026-01-01T00:00:03.000Z', { source: { kind: 'watcher', watcher: 's3', detail: { key: 'one' } } });
      for (const e of [e2, e3, e1]) await s.putAssetEvent(e);
      expect(await s.listAssetEvents({ uri: u1, limit: 10 })).toStrictEqual({ events: [e1, e3], total: 2 });
      expect(await s.listAssetEvents({ uri: u1, limit: 1, newestFirst: true })).toStrictEqual({ events: [e3], total: 2 });
      expect(await s.listAssetEvents({ uri: u1, limit: 5, offset: 1 })).toStrictEqual({ events: [e3], total: 2 });
      const ofRun = await s.listAssetEvents({ sourceDagId: 'producer', sourceRunId: 'r2', limit: 10 });
      expect(ofRun.events.filter((e) => e.uri.includes(p))).toStrictEqual([e2]);
      const ofTask = await s.listAssetEvents({ sourceDagId: 'producer', sourceTaskId: 'write', limit: 1000 });
      expect(ofTask.events.filter((e) => e.uri.includes(p))).toStrictEqual([e1]);
      const all = (await s.listAssetEvents({ limit: 1000, newestFirst: true })).events.filter((e) => e.uri.includes(p));
      expect(all).toStrictEqual([e3, e2, e1]);
    });

    it('adds the runs an event created, each once', async () => {
      const s = await makeStore();
      const e = event(`s3://b/${uid('runs')}`, uid('k'), '2026-01-01T00:00:00.000Z');
      await s.putAssetEvent(e);
      await s.addAssetEventRuns(e.id, [{ dagId: 'consumer', runId: 'asset_triggered__1' }]);
      await s.addAssetEventRuns(e.id, [{ dagId: 'consumer', runId: 'asset_triggered__1' }, { dagId: 'other', runId: 'asset_triggered__2' }]);
      expect((await s.getAssetEvent(e.id))?.createdRuns).toStrictEqual([
        { dagId: 'consumer', runId: 'asset_triggered__1' },
        { dagId: 'other', runId: 'asset_triggered__2' },
      ]);
      await s.addAssetEventRuns('2099-01-01T00:00:00.000Z_00000000', [{ dagId: 'x', runId: 'y' }]);
      expect(await s.getAssetEvent('2099-01-01T00:00:00.000Z_00000000')).toBeNull();
    });

    it("a consumer DAG's queue: idempotent puts, oldest first, consumed by id (events queued since stay)", async () => {
      const s = await makeStore();
      const dagId = uid('consumer');
      const q = (uri: string, eventId: string) => ({ dagId, uri, eventId, timestamp: eventId.slice(0, 24) });
      const [x, y, z] = [q('s3://b/a', '2026-01-01T00:00:02.000Z_bbbbbbbb'), q('s3://b/b', '2026-01-01T00:00:01.000Z_aaaaaaaa'), q('s3://b/a', '2026-01-01T00:00:03.000Z_cccccccc')];
      await s.queueAssetEvent(x);
      await s.queueAssetEvent(y);
      await s.queueAssetEvent(x);
      expect(await s.listAssetQueue(dagId)).toStrictEqual([y, x]);
      expect(await s.listAssetQueue(`${dagId}-other`)).toStrictEqual([]);
      await s.queueAssetEvent(z);
      await s.consumeAssetQueue(dagId, [y.eventId, x.eventId, 'not-queued']);
      expect(await s.listAssetQueue(dagId)).toStrictEqual([z]);
    });

    it("a consumer DAG's claim: none at first, conditional on the claim count, marked done at its own count only", async () => {
      const s = await makeStore();
      const dagId = uid('claimer');
      expect(await s.getAssetClaim(dagId)).toStrictEqual({ dagId, seq: 0, runId: null, eventIds: [], done: true });
      const first = await s.claimAssetQueue(dagId, 0, 'run-1', ['e1', 'e2']);
      expect(first).toStrictEqual({ dagId, seq: 1, runId: 'run-1', eventIds: ['e1', 'e2'], done: false });
      expect(await s.getAssetClaim(dagId)).toStrictEqual(first);
      // Two deliveries that read count 0: the second is refused, and changes nothing.
      expect(await s.claimAssetQueue(dagId, 0, 'run-other', ['e1'])).toBeNull();
      expect(await s.claimAssetQueue(dagId, 2, 'run-other', ['e1'])).toBeNull();
      expect(await s.getAssetClaim(dagId)).toStrictEqual(first);
      await s.finishAssetClaim(dagId, 1);
      await s.finishAssetClaim(dagId, 1);
      expect(await s.getAssetClaim(dagId)).toStrictEqual({ ...first, done: true });
      const second = await s.claimAssetQueue(dagId, 1, 'run-2', ['e3']);
      expect(second).toStrictEqual({ dagId, seq: 2, runId: 'run-2', eventIds: ['e3'], done: false });
      // Finishing an older claim does not finish the newer one.
      await s.finishAssetClaim(dagId, 1);
      expect(await s.getAssetClaim(dagId)).toStrictEqual(second);
      expect(await s.getAssetClaim(`${dagId}-other`)).toStrictEqual({ dagId: `${dagId}-other`, seq: 0, runId: null, eventIds: [], done: true });
    });

    it("keeps a run's triggering asset events (absent on other runs)", async () => {
      const s = await makeStore();
      const e = event(`s3://b/${uid('trig')}`, uid('k'), '2026-01-01T00:00:00.000Z');
      const runId = uid('asset_triggered_');
      const run: DagRunRecord = {
        dagId: 'consumer_dag',
        runId,
        state: 'queued',
        runType: 'asset_triggered',
        conf: {},
        params: {},
        logicalDate: e.timestamp,
        queuedAt: e.timestamp,
        startDate: null,
        endDate: null,
        dagVersion: 'v1',
        pending: 1,
        parent: null,
        pipelineScope: pipelineScopeOf({ dagId: 'consumer_dag', runId }),
        note: null,
        triggeringAssetEvents: [e],
      };
      expect(await s.createRun(run)).toBe(true);
      expect(await s.getRun(run)).toStrictEqual(run);
      const plain = { ...run, runId: `${runId}-plain`, runType: 'manual' as const, pipelineScope: pipelineScopeOf({ dagId: 'consumer_dag', runId: `${runId}-plain` }) };
      delete plain.triggeringAssetEvents;
      await s.createRun(plain);
      expect(await s.getRun(plain)).toStrictEqual(plain);
      expect(await s.updateRun(run, ['queued'], { state: 'running' })).toStrictEqual({ ...run, state: 'running' });
    });
  });
}
