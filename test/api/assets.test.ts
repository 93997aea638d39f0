// The assets routes on the real scheduler and the memory store (app.inject): the assets the DAGs declare, a
// producer's success recording events that start the consumers, events created through the API (deduplicated),
// materialize, a run's upstream asset events, and the refusals naming what was wrong.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asset, dag, s3Watcher, sqsWatcher, task } from '../../lib/index.ts';
import { assetId } from '../../lib/model/asset.ts';
import { harness, type Harness } from './harness.ts';

const RAW = 's3://lake/raw.csv';
const CLEAN = 's3://lake/clean.parquet';
const BACKUP = 'file:///backup/clean.parquet';
const SHARED = 's3://lake/shared';
const LANDING = 's3://lake/landing/';

const raw = asset(RAW, { name: 'raw', group: 'lake', extra: { owner: 'ingest' } });
const clean = asset(CLEAN);
const backup = asset(BACKUP);
const shared = asset(SHARED);
const landing = asset(LANDING, { watchers: [s3Watcher(), sqsWatcher({ queueArn: 'arn:aws:sqs:eu-west-1:123456789012:landing' })] });

const producer = dag({ dagId: 'asset_producer' }, () => {
  task(
    'extract',
    (ctx) => {
      ctx.outletEvents(raw).extra = { rows: 3 };
      return 3;
    },
    { outlets: [raw] },
  );
});
const cleaner = dag({ dagId: 'asset_cleaner', schedule: raw }, () => {
  task('clean', () => 1, { outlets: [clean] });
});
const consumer = dag({ dagId: 'asset_consumer', schedule: raw.and(clean.or(backup)) }, () => {
  task('report', (ctx) => Object.keys(ctx.triggeringAssetEvents).sort());
});
const twinA = dag({ dagId: 'asset_twin_a' }, () => {
  task('write', () => 1, { outlets: [shared] });
});
const watched = dag({ dagId: 'asset_watched', schedule: landing }, () => {
  task('load', () => 1);
});
const twinB = dag({ dagId: 'asset_twin_b' }, () => {
  task('write', () => 1, { outlets: [shared] });
});

let h: Harness;
beforeAll(async () => {
  h = await harness([producer, cleaner, consumer, twinA, twinB, watched]);
});
afterAll(async () => {
  await h.app.close();
});

const ref = (uri: string, name = uri, group = 'asset') => ({ asset: { uri, name, group, id: assetId(uri) } });
const runsOf = async (dagId: string) => ((await h.call('GET', `/api/v2/dags/${dagId}/dagRuns?order_by=queued_at`)).json.dag_runs as { dag_run_id: string; run_type: string; state: string }[]);

describe('/api/v2/assets', () => {
  it('lists the assets the DAGs declare, with their producing tasks and consuming DAGs', async () => {
    const r = await h.call('GET', '/api/v2/assets');
    expect(r.status).toBe(200);
    expect(r.json.total_entries).toBe(5);
    const byUri = Object.fromEntries((r.json.assets as { uri: string }[]).map((a) => [a.uri, a]));
    expect(Object.keys(byUri)).toStrictEqual([BACKUP, CLEAN, LANDING, RAW, SHARED]);
    expect(byUri[RAW]).toMatchObject({
      id: assetId(RAW),
      name: 'raw',
      group: 'lake',
      extra: { owner: 'ingest' },
      consuming_dags: [{ dag_id: 'asset_cleaner' }, { dag_id: 'asset_consumer' }],
      producing_tasks: [{ dag_id: 'asset_producer', task_id: 'extract' }],
      watchers: [],
      last_asset_event: null,
    });
    expect(byUri[BACKUP]).toMatchObject({ name: BACKUP, group: 'asset', consuming_dags: [{ dag_id: 'asset_consumer' }], producing_tasks: [] });
    expect(byUri[LANDING]).toMatchObject({
      consuming_dags: [{ dag_id: 'asset_watched' }],
      watchers: [
        { kind: 's3', bucket: 'lake', prefix: 'landing/' },
        { kind: 'sqs', queue_arn: 'arn:aws:sqs:eu-west-1:123456789012:landing' },
      ],
    });
    expect(byUri[SHARED]).toMatchObject({ producing_tasks: [{ dag_id: 'asset_twin_a', task_id: 'write' }, { dag_id: 'asset_twin_b', task_id: 'write' }], consuming_dags: [] });
  });

  it('filters by uri pattern and by DAG, and pages', async () => {
    const byPattern = await h.call('GET', '/api/v2/assets?uri_pattern=LAKE/%25.parquet');
    expect(byPattern.json.assets.map((a: { uri: string }) => a.uri)).toStrictEqual([CLEAN]);
    const byDag = await h.call('GET', '/api/v2/assets?dag_ids=asset_cleaner');
    expect(byDag.json.assets.map((a: { uri: string }) => a.uri)).toStrictEqual([CLEAN, RAW]);
    const page = await h.call('GET', '/api/v2/assets?limit=1&offset=1');
    expect(page.json).toMatchObject({ total_entries: 5, assets: [{ uri: CLEAN }] });
  });

  it('gets one asset by id; an unknown or malformed id is refused', async () => {
    const r = await h.call('GET', `/api/v2/assets/${assetId(CLEAN)}`);
    expect(r.json).toMatchObject({ uri: CLEAN, producing_tasks: [{ dag_id: 'asset_cleaner', task_id: 'clean' }], consuming_dags: [{ dag_id: 'asset_consumer' }] });
    const unknown = await h.call('GET', '/api/v2/assets/0000000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.json.field).toBe('params.asset_id');
    expect(unknown.json.detail).toMatch(/^asset '0000000000000000' not found \(assets: [0-9a-f]{16} \(file:\/\/\/backup\/clean\.parquet\), /);
    const bad = await h.call('GET', '/api/v2/assets/not-an-id');
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe('params.asset_id');
  });

  it("gives a DAG scheduled on assets its asset_expression (null for the others)", async () => {
    const c = await h.call('GET', '/api/v2/dags/asset_consumer');
    expect(c.json.asset_expression).toStrictEqual({ all: [ref(RAW, 'raw', 'lake'), { any: [ref(CLEAN), ref(BACKUP)] }] });
    expect((await h.call('GET', '/api/v2/dags/asset_cleaner')).json.asset_expression).toStrictEqual(ref(RAW, 'raw', 'lake'));
    expect((await h.call('GET', '/api/v2/dags/asset_producer')).json.asset_expression).toBeNull();
    const listed = await h.call('GET', '/api/v2/dags?dag_id_pattern=asset_consumer');
    expect(listed.json.dags[0].asset_expression).toStrictEqual(c.json.asset_expression);
  });
});

describe('materialize, and the events a success records', () => {
  let producerRun = '';

  it('materializes raw: runs its producer; the events start the cleaner, then the consumer', async () => {
    const r = await h.call('POST', `/api/v2/assets/${assetId(RAW)}/materialize`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ dag_id: 'asset_producer', run_type: 'manual' });
    producerRun = r.json.dag_run_id as string;
    await h.idle();
    expect((await h.call('GET', `/api/v2/dags/asset_producer/dagRuns/${producerRun}`)).json.state).toBe('success');
    const cleaned = await runsOf('asset_cleaner');
    expect(cleaned.map((x) => [x.run_type, x.state])).toStrictEqual([['asset_triggered', 'success']]);
    const consumed = await runsOf('asset_consumer');
    expect(consumed.map((x) => [x.run_type, x.state])).toStrictEqual([['asset_triggered', 'success']]);
    expect(consumed[0]!.dag_run_id).toMatch(/^asset_triggered__/);
    const xcom = await h.call('GET', `/api/v2/dags/asset_consumer/dagRuns/${consumed[0]!.dag_run_id}/taskInstances/report/xcomEntries/return_value`);
    expect(xcom.json.value).toStrictEqual([CLEAN, RAW]);
  });

  it('lists the events, oldest first: source task, extra, the runs each created', async () => {
    const r = await h.call('GET', '/api/v2/assets/events');
    expect(r.status).toBe(200);
    expect(r.json.total_entries).toBe(2);
    // The fake clock stands still: both events have one timestamp, so they are told apart by uri.
    const byUri = (uri: string) => (r.json.asset_events as { uri: string }[]).find((e) => e.uri === uri) as Record<string, any>;
    const first = byUri(RAW);
    const second = byUri(CLEAN);
    const cleanerRun = (await runsOf('asset_cleaner'))[0]!.dag_run_id;
    const consumerRun = (await runsOf('asset_consumer'))[0]!.dag_run_id;
    expect(first).toMatchObject({
      asset_id: assetId(RAW),
      uri: RAW,
      name: 'raw',
      group: 'lake',
      extra: { rows: 3 },
      source_kind: 'task',
      source_dag_id: 'asset_producer',
      source_run_id: producerRun,
      source_task_id: 'extract',
      source_map_index: -1,
      source_detail: { try_number: 1 },
      // Each run an event took part in: the cleaner's (raw alone) and the consumer's (raw, then clean).
      created_dagruns: [
        { dag_id: 'asset_cleaner', run_id: cleanerRun, state: 'success' },
        { dag_id: 'asset_consumer', run_id: consumerRun, state: 'success' },
      ],
    });
    expect(second).toMatchObject({ uri: CLEAN, source_dag_id: 'asset_cleaner', source_run_id: cleanerRun, created_dagruns: [{ dag_id: 'asset_consumer', run_id: consumerRun, state: 'success' }] });
    const oldest = await h.call('GET', '/api/v2/assets/events?limit=1');
    const newest = await h.call('GET', '/api/v2/assets/events?order_by=-timestamp&limit=1');
    expect(newest.json.total_entries).toBe(2);
    expect([oldest.json.asset_events[0].id, newest.json.asset_events[0].id].sort()).toStrictEqual([first.id, second.id].sort());
    expect(newest.json.asset_events[0].id > oldest.json.asset_events[0].id).toBe(true);
    const bySource = await h.call('GET', `/api/v2/assets/events?source_dag_id=asset_producer&source_run_id=${producerRun}&source_task_id=extract`);
    expect(bySource.json.asset_events.map((e: { uri: string }) => e.uri)).toStrictEqual([RAW]);
    const byAsset = await h.call('GET', `/api/v2/assets/events?asset_id=${assetId(CLEAN)}`);
    expect(byAsset.json.asset_events.map((e: { uri: string }) => e.uri)).toStrictEqual([CLEAN]);
    const last = (await h.call('GET', `/api/v2/assets/${assetId(RAW)}`)).json.last_asset_event;
    expect(last).toStrictEqual({ id: first.id, timestamp: first.timestamp });
  });

  it("serves a run's upstream asset events (empty for a run not triggered by assets)", async () => {
    const consumerRun = (await runsOf('asset_consumer'))[0]!.dag_run_id;
    const r = await h.call('GET', `/api/v2/dags/asset_consumer/dagRuns/${consumerRun}/upstreamAssetEvents`);
    expect(r.status).toBe(200);
    expect(r.json.total_entries).toBe(2);
    expect(r.json.asset_events.map((e: { uri: string; source_kind: string }) => [e.uri, e.source_kind]).sort()).toStrictEqual([
      [CLEAN, 'task'],
      [RAW, 'task'],
    ]);
    // As stored now: each names the consumer run it created (the run's own copies predate that).
    for (const e of r.json.asset_events) expect(e.created_dagruns).toContainEqual({ dag_id: 'asset_consumer', run_id: consumerRun, state: 'success' });
    expect((await h.call('GET', `/api/v2/dags/asset_producer/dagRuns/${producerRun}/upstreamAssetEvents`)).json).toStrictEqual({ asset_events: [], total_entries: 0 });
    expect((await h.call('GET', '/api/v2/dags/asset_producer/dagRuns/nope/upstreamAssetEvents')).status).toBe(404);
  });

  it('filters runs by run_type asset_triggered', async () => {
    const r = await h.call('GET', '/api/v2/dags/~/dagRuns?run_type=asset_triggered');
    expect(r.json.dag_runs.map((x: { dag_id: string }) => x.dag_id).sort()).toStrictEqual(['asset_cleaner', 'asset_consumer']);
  });

  it('refuses to materialize an asset no DAG produces, or several do (409), or an unknown one (404)', async () => {
    const none = await h.call('POST', `/api/v2/assets/${assetId(BACKUP)}/materialize`);
    expect(none).toStrictEqual({ status: 409, json: { detail: `asset '${BACKUP}' cannot be materialized: no loaded DAG produces it (no task has it among its outlets)`, field: 'params.asset_id' } });
    const several = await h.call('POST', `/api/v2/assets/${assetId(SHARED)}/materialize`);
    expect(several).toStrictEqual({
      status: 409,
      json: { detail: `asset '${SHARED}' cannot be materialized: several DAGs produce it (asset_twin_a, asset_twin_b): trigger the one you mean`, field: 'params.asset_id' },
    });
    expect((await h.call('POST', '/api/v2/assets/0000000000000000/materialize')).status).toBe(404);
  });
});

describe('POST /api/v2/assets/events', () => {
  it('records an event by uri (201): it completes nothing alone', async () => {
    const r = await h.call('POST', '/api/v2/assets/events', { uri: BACKUP, extra: { restored: true } });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ uri: BACKUP, asset_id: assetId(BACKUP), extra: { restored: true }, source_kind: 'api', source_dag_id: null, source_run_id: null, source_task_id: null, source_map_index: -1, source_detail: { user: null }, created_dagruns: [] });
  });

  it('records an event by asset id: with the backup queued, raw completes the consumer again (and starts the cleaner)', async () => {
    const r = await h.call('POST', '/api/v2/assets/events', { asset_id: assetId(RAW) });
    expect(r.status).toBe(201);
    const created = r.json.created_dagruns as { dag_id: string; run_id: string }[];
    expect(created.map((x) => x.dag_id).sort()).toStrictEqual(['asset_cleaner', 'asset_consumer']);
    await h.idle();
    const consumed = await runsOf('asset_consumer');
    expect(consumed.map((x) => x.state)).toStrictEqual(['success', 'success']);
    const second = created.find((x) => x.dag_id === 'asset_consumer')!.run_id;
    const up = await h.call('GET', `/api/v2/dags/asset_consumer/dagRuns/${second}/upstreamAssetEvents`);
    expect(up.json.asset_events.map((e: { uri: string; source_kind: string }) => [e.uri, e.source_kind]).sort()).toStrictEqual([
      [BACKUP, 'api'],
      [RAW, 'api'],
    ]);
  });

  it('records an event of an asset no DAG declares: the asset is listed from then on', async () => {
    const uri = 'gs://elsewhere/table';
    const r = await h.call('POST', '/api/v2/assets/events', { uri });
    expect(r.status).toBe(201);
    expect(r.json.created_dagruns).toStrictEqual([]);
    const a = await h.call('GET', `/api/v2/assets/${assetId(uri)}`);
    expect(a.json).toMatchObject({ uri, name: uri, consuming_dags: [], producing_tasks: [], last_asset_event: { id: r.json.id } });
    expect(a.json.created_at).not.toBeNull();
  });

  it('records one event per dedupe_key: sent again, the first is answered (200) and nothing starts', async () => {
    const first = await h.call('POST', '/api/v2/assets/events', { uri: SHARED, dedupe_key: 'delivery-1', extra: { n: 1 } });
    expect(first.status).toBe(201);
    const again = await h.call('POST', '/api/v2/assets/events', { uri: SHARED, dedupe_key: 'delivery-1', extra: { n: 2 } });
    expect(again.status).toBe(200);
    expect(again.json).toStrictEqual(first.json);
    const listed = await h.call('GET', `/api/v2/assets/events?asset_id=${assetId(SHARED)}`);
    expect(listed.json.total_entries).toBe(1);
  });

  it('refuses bad requests, naming the field', async () => {
    const both = await h.call('POST', '/api/v2/assets/events', { uri: RAW, asset_id: assetId(RAW) });
    expect(both).toStrictEqual({ status: 400, json: { detail: 'give body.asset_id or body.uri, not both', field: 'body.uri' } });
    const neither = await h.call('POST', '/api/v2/assets/events', { extra: {} });
    expect(neither).toStrictEqual({ status: 400, json: { detail: 'give body.asset_id (an asset the server knows) or body.uri', field: 'body.asset_id' } });
    const noScheme = await h.call('POST', '/api/v2/assets/events', { uri: 'lake/raw.csv' });
    expect(noScheme.status).toBe(400);
    expect(noScheme.json.field).toBe('body.uri');
    const spaces = await h.call('POST', '/api/v2/assets/events', { uri: 's3://lake/a b' });
    expect(spaces.json.field).toBe('body.uri');
    const reserved = await h.call('POST', '/api/v2/assets/events', { uri: 'airflow://x' });
    expect(reserved).toStrictEqual({ status: 400, json: { detail: "body.uri: asset uri 'airflow://x': the scheme 'airflow' is reserved", field: 'body.uri' } });
    const extra = await h.call('POST', '/api/v2/assets/events', { uri: RAW, extra: [1] });
    expect(extra).toStrictEqual({ status: 400, json: { detail: 'body.extra must be object', field: 'body.extra' } });
    const typo = await h.call('POST', '/api/v2/assets/events', { uri: RAW, extras: {} });
    expect(typo).toStrictEqual({ status: 400, json: { detail: 'body.extras is not a known field', field: 'body.extras' } });
    const unknown = await h.call('POST', '/api/v2/assets/events', { asset_id: '0000000000000000' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.field).toBe('body.asset_id');
    const events = await h.call('GET', '/api/v2/assets/events?asset_id=0000000000000000');
    expect(events.status).toBe(404);
    expect(events.json.field).toBe('query.asset_id');
    expect((await h.call('GET', '/api/v2/assets/events?order_by=time')).json.field).toBe('query.order_by');
  });
});
