// Asset-triggered runs on the local runner (memory and SQLite stores): a producer's outlets complete a
// consumer's condition `a & (b | c)`, the consumer's run gets the triggering events, a delivery seen
// twice records one event and starts one run, a paused consumer keeps its queue, assets-or-time keeps
// its time part.
import { describe, expect, it } from 'vitest';
import { and, asset, assetOrTime, dag, FakeClock, LocalRunner, or, type AssetEvent } from '../lib/index.ts';
import { deleteDag, setDagPaused } from '../lib/scheduler/operations.ts';
import { versionEntryOf } from '../lib/scheduler/runs.ts';
import { scheduledRunDates } from '../lib/core/schedule-dates.ts';
import { localStores } from './helpers.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const a = asset('s3://lake/a');
const b = asset('s3://lake/b');
const c = asset('s3://lake/c', { name: 'c table' });

/** What the consumer's task saw of its triggering events, per run. */
const seen: Record<string, Record<string, readonly AssetEvent[]>> = {};

const producer = dag({ dagId: 'asset_producer_t' }, ({ task }) => {
  const first = task(
    'write_a',
    (ctx) => {
      ctx.outletEvents(a).extra = { rows: 42 };
      return 'a';
    },
    { outlets: [a] },
  );
  task('write_b', () => 'b', { outlets: [b] }).after(first);
});
const onlyC = dag({ dagId: 'asset_c_writer' }, ({ empty }) => {
  empty('touch_c', { outlets: [c] });
});
const consumer = dag({ dagId: 'asset_consumer_t', schedule: a.and(or(b, c)) }, ({ task }) => {
  task('read', (ctx) => {
    seen[ctx.runId] = ctx.triggeringAssetEvents;
    return Object.keys(ctx.triggeringAssetEvents).sort();
  });
});

function runner(store: ReturnType<ReturnType<typeof localStores>[number][1]>) {
  return new LocalRunner({ dags: [producer, onlyC, consumer], store, clock: new FakeClock(T0), captureConsole: false });
}

describe.each(localStores())('asset-triggered runs (%s)', (_name, makeStore) => {
  it("a producer's outlets start the consumer once a & (b | c) holds, with the events that made it hold", async () => {
    const r = runner(makeStore());
    const p = await r.run({ dagId: 'asset_producer_t', runId: 'p1' });
    expect(p.state).toBe('success');
    await r.idle();
    const runs = await r.store.listRuns({ dagId: 'asset_consumer_t' });
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.runType).toBe('asset_triggered');
    expect(run.runId).toMatch(/^asset_triggered__2026-03-01T00:00:00\.000Z_[0-9a-f]{8}$/);
    expect(run.state).toBe('success');
    expect(run.triggeringAssetEvents!.map((e) => e.uri).sort()).toEqual(['s3://lake/a', 's3://lake/b']);
    const events = seen[run.runId]!;
    expect(Object.keys(events).sort()).toEqual(['s3://lake/a', 's3://lake/b']);
    expect(events['s3://lake/a']![0]!.extra).toEqual({ rows: 42 });
    expect(events['s3://lake/a']![0]!.source).toEqual({ kind: 'task', dagId: 'asset_producer_t', runId: 'p1', taskId: 'write_a', mapIndex: -1, tryNumber: 1 });
    // The events name the run they created; the assets have records, with their latest event.
    const { events: stored, total } = await r.store.listAssetEvents({ limit: 10 });
    expect(total).toBe(2);
    for (const e of stored) expect(e.createdRuns).toEqual([{ dagId: 'asset_consumer_t', runId: run.runId }]);
    expect((await r.store.getAsset('s3://lake/a'))?.lastEventId).toBe(stored.find((e) => e.uri === 's3://lake/a')!.id);
    expect(await r.store.listAssetQueue('asset_consumer_t')).toEqual([]);
    expect(r.errors).toEqual([]);
    r.close();
  });

  it('a alone starts nothing; c (the other side of the or) completes it; the queue counts each asset once', async () => {
    const r = runner(makeStore());
    await r.recordAssetEvent({ uri: 's3://lake/a', dedupeKey: 'a-1' });
    await r.recordAssetEvent({ uri: 's3://lake/a', dedupeKey: 'a-2', extra: { n: 2 } });
    await r.idle();
    expect(await r.store.listRuns({ dagId: 'asset_consumer_t' })).toEqual([]);
    expect((await r.store.listAssetQueue('asset_consumer_t')).map((q) => q.uri)).toEqual(['s3://lake/a', 's3://lake/a']);
    await r.run({ dagId: 'asset_c_writer', runId: 'c1' });
    await r.idle();
    const runs = await r.store.listRuns({ dagId: 'asset_consumer_t' });
    expect(runs).toHaveLength(1);
    // Both events of a, and c's, in the run (Airflow: every queued event is a triggering event).
    expect(runs[0]!.triggeringAssetEvents!.map((e) => e.uri).sort()).toEqual(['s3://lake/a', 's3://lake/a', 's3://lake/c']);
    expect(runs[0]!.state).toBe('success');
    // The next run needs a new a: b alone does nothing.
    await r.recordAssetEvent({ uri: 's3://lake/b', dedupeKey: 'b-1' });
    await r.idle();
    expect(await r.store.listRuns({ dagId: 'asset_consumer_t' })).toHaveLength(1);
    r.close();
  });

  it("deleting a consumer DAG empties its queue: registered again, it waits for a new a", async () => {
    const r = runner(makeStore());
    await r.recordAssetEvent({ uri: 's3://lake/a', dedupeKey: 'a-old' });
    await r.idle();
    expect(await r.store.listAssetQueue('asset_consumer_t')).toHaveLength(1);
    await r.store.registerDagVersion(versionEntryOf(consumer), new Date(T0).toISOString());
    // A claim some delivery made and did not finish (it died) goes too.
    const claim = await r.store.getAssetClaim('asset_consumer_t');
    expect(await r.store.claimAssetQueue('asset_consumer_t', claim.seq, 'asset_triggered__left', ['some-event'])).not.toBeNull();
    await deleteDag(r.store, 'asset_consumer_t');
    expect(await r.store.listAssetQueue('asset_consumer_t')).toEqual([]);
    expect((await r.store.getAssetClaim('asset_consumer_t')).done).toBe(true);
    await r.recordAssetEvent({ uri: 's3://lake/b', dedupeKey: 'b-new' });
    await r.idle();
    expect(await r.store.listRuns({ dagId: 'asset_consumer_t' })).toEqual([]);
    await r.recordAssetEvent({ uri: 's3://lake/a', dedupeKey: 'a-new' });
    await r.idle();
    const runs = await r.store.listRuns({ dagId: 'asset_consumer_t' });
    expect(runs.map((x) => x.triggeringAssetEvents!.map((e) => e.dedupeKey).sort())).toEqual([['a-new', 'b-new']]);
    r.close();
  });

  it('the same delivery twice (same dedupe key) records one event and starts one run', async () => {
    const r = runner(makeStore());
    await r.recordAssetEvent({ uri: 's3://lake/b', dedupeKey: 'b' });
    const first = await r.recordAssetEvent({ uri: 's3://lake/a', dedupeKey: 'sqs-message-1', timestamp: '2026-03-01T00:00:01.000Z' });
    const again = await r.recordAssetEvent({ uri: 's3://lake/a', dedupeKey: 'sqs-message-1', timestamp: '2026-03-01T00:00:02.000Z' });
    await r.idle();
    expect(first.duplicate).toBe(false);
    expect(first.runs).toHaveLength(1);
    expect(again.duplicate).toBe(true);
    expect(again.event.id).toBe(first.event.id);
    expect(again.runs).toEqual([]);
    expect(await r.store.listRuns({ dagId: 'asset_consumer_t' })).toHaveLength(1);
    expect((await r.store.listAssetEvents({ limit: 10, uri: 's3://lake/a' })).total).toBe(1);
    r.close();
  });

  it('an unknown uri is recorded with an asset record and starts nothing', async () => {
    const r = runner(makeStore());
    const out = await r.recordAssetEvent({ uri: 'postgres://db/orders', dedupeKey: 'x' });
    expect(out.runs).toEqual([]);
    expect(await r.store.getAsset('postgres://db/orders')).toMatchObject({ uri: 'postgres://db/orders', name: 'postgres://db/orders', group: 'asset', lastEventId: out.event.id });
    r.close();
  });

  it('a paused consumer keeps its queue; unpaused, its run is created with the events queued meanwhile', async () => {
    const r = runner(makeStore());
    await r.drive((s) => setDagPaused(s, 'asset_consumer_t', true));
    await r.run({ dagId: 'asset_producer_t', runId: 'p1' });
    await r.idle();
    expect(await r.store.listRuns({ dagId: 'asset_consumer_t' })).toEqual([]);
    expect(await r.store.listAssetQueue('asset_consumer_t')).toHaveLength(2);
    await r.drive((s) => setDagPaused(s, 'asset_consumer_t', false));
    await r.idle();
    const runs = await r.store.listRuns({ dagId: 'asset_consumer_t' });
    expect(runs).toHaveLength(1);
    expect(runs[0]!.state).toBe('success');
    expect(runs[0]!.triggeringAssetEvents).toHaveLength(2);
    r.close();
  });

  it('maxActiveRuns holds: a second asset-triggered run waits queued while the first runs', async () => {
    const gate: { open: () => void } = { open: () => undefined };
    const opened = new Promise<void>((res) => (gate.open = res));
    const limited = dag({ dagId: 'asset_limited', schedule: a, maxActiveRuns: 1 }, ({ task }) => {
      task('slow', async () => {
        await opened;
      });
    });
    const r = new LocalRunner({ dags: [limited], store: makeStore(), clock: new FakeClock(T0), captureConsole: false });
    const one = await r.recordAssetEvent({ uri: 's3://lake/a', dedupeKey: '1' });
    const two = await r.recordAssetEvent({ uri: 's3://lake/a', dedupeKey: '2', timestamp: '2026-03-01T00:00:05.000Z' });
    expect((await r.store.getRun(one.runs[0]!))?.state).toBe('running');
    expect((await r.store.getRun(two.runs[0]!))?.state).toBe('queued');
    gate.open();
    expect((await r.waitForRun(two.runs[0]!)).state).toBe('success');
    r.close();
  });
});

describe('assets or time', () => {
  const both = dag({ dagId: 'asset_or_time_t', schedule: assetOrTime({ schedule: '@daily', assets: and(a, b) }), startDate: '2026-01-01' }, ({ task }) => {
    task('work', (ctx) => ctx.runType);
  });

  it('keeps its time part: the schedule fires at its instants as a cron schedule does', () => {
    expect(both.spec.schedule).toEqual({ kind: 'assets_or_time', condition: { and: [{ asset: 's3://lake/a' }, { asset: 's3://lake/b' }] }, time: { kind: 'cron', expression: '0 0 * * *', timezone: 'UTC' } });
    const fired = scheduledRunDates(both.spec, new Date('2026-03-02T00:00:00Z'), []);
    expect(fired.dates.map((d) => d.toISOString())).toEqual(['2026-03-02T00:00:00.000Z']);
  });

  it('runs on a scheduled trigger and on its assets', async () => {
    const r = new LocalRunner({ dags: [both], clock: new FakeClock(T0), captureConsole: false });
    const scheduled = await r.run({ dagId: 'asset_or_time_t', runType: 'scheduled', logicalDate: '2026-03-01T00:00:00Z' });
    expect(scheduled.state).toBe('success');
    await r.recordAssetEvent({ uri: 's3://lake/a', dedupeKey: 'a' });
    const out = await r.recordAssetEvent({ uri: 's3://lake/b', dedupeKey: 'b' });
    expect((await r.waitForRun(out.runs[0]!)).runType).toBe('asset_triggered');
    expect((await r.store.listRuns({ dagId: 'asset_or_time_t' })).map((x) => x.runType).sort()).toEqual(['asset_triggered', 'scheduled']);
    r.close();
  });
});
