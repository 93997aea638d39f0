// The asset part of the SQLite store (asset-store.ts): the tables of schema version 7 and their
// statements. Each writing method runs in the store's transaction (`tx`), so an event, its dedupe key and
// its asset's record are written together or not at all.

import type { DatabaseSync, SQLOutputValue, StatementSync } from 'node:sqlite';
import { assetId, type AssetEventRecord, type AssetRecord } from '../model/asset.ts';
import type { RunRef } from '../model/keys.ts';
import { matchesAssetEventQuery, noAssetClaim, type AssetClaim, type AssetEventQuery, type AssetQueueEntry } from './asset-store.ts';

/**
 * Schema version 7: assets (by uri), their events (the dedupe key unique, so a delivery seen twice is
 * refused by the database itself), and the queue of events each consumer DAG has not consumed (Airflow's
 * AssetDagRunQueue: one row per DAG and event). Also the events that created an asset-triggered run.
 */
export const ASSET_TABLES_SQL = `
CREATE TABLE assets (
  uri TEXT NOT NULL PRIMARY KEY,
  asset_id TEXT NOT NULL,
  name TEXT NOT NULL,
  asset_group TEXT NOT NULL,
  extra TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  last_event_id TEXT
) WITHOUT ROWID;
CREATE TABLE asset_events (
  id TEXT NOT NULL PRIMARY KEY,
  uri TEXT NOT NULL,
  dedupe_key TEXT NOT NULL UNIQUE,
  timestamp TEXT NOT NULL,
  source_dag_id TEXT,
  source_run_id TEXT,
  source_task_id TEXT,
  record TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX asset_events_by_uri ON asset_events (uri, id);
CREATE INDEX asset_events_by_source ON asset_events (source_dag_id, source_run_id, source_task_id, id);
CREATE TABLE asset_queue (
  dag_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  uri TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  PRIMARY KEY (dag_id, event_id)
) WITHOUT ROWID;
ALTER TABLE runs ADD COLUMN triggering_asset_events TEXT;
`;

/** The tables version 7 adds (the store checks a file has them all). */
export const ASSET_TABLES = ['assets', 'asset_events', 'asset_queue'];

/**
 * Schema version 9: each consumer DAG's latest claim on its queue (asset-store.ts `AssetClaim`; the event
 * ids as a JSON array).
 */
export const ASSET_CLAIMS_TABLE_SQL = `
CREATE TABLE asset_claims (
  dag_id TEXT NOT NULL PRIMARY KEY,
  seq INTEGER NOT NULL,
  run_id TEXT NOT NULL,
  event_ids TEXT NOT NULL,
  done INTEGER NOT NULL
) WITHOUT ROWID;
`;

type Row = Record<string, SQLOutputValue>;

function assetFromRow(r: Row): AssetRecord {
  return {
    uri: String(r.uri),
    assetId: String(r.asset_id),
    name: String(r.name),
    group: String(r.asset_group),
    extra: JSON.parse(String(r.extra)) as Record<string, unknown>,
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
    lastEventId: r.last_event_id === null ? null : String(r.last_event_id),
  };
}

const eventFromRow = (r: Row): AssetEventRecord => JSON.parse(String(r.record)) as AssetEventRecord;

export class SqliteAssets {
  private readonly q: Record<string, StatementSync>;

  constructor(
    db: DatabaseSync,
    private readonly tx: <T>(fn: () => T) => T,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      eventByKey: p('SELECT record FROM asset_events WHERE dedupe_key = ?'),
      insertEvent: p('INSERT INTO asset_events (id, uri, dedupe_key, timestamp, source_dag_id, source_run_id, source_task_id, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      touchAsset: p(`INSERT INTO assets (uri, asset_id, name, asset_group, extra, created_at, updated_at, last_event_id) VALUES (?, ?, ?, 'asset', '{}', ?, ?, ?)
        ON CONFLICT (uri) DO UPDATE SET last_event_id = excluded.last_event_id, updated_at = excluded.updated_at
        WHERE assets.last_event_id IS NULL OR assets.last_event_id < excluded.last_event_id`),
      getEvent: p('SELECT record FROM asset_events WHERE id = ?'),
      setEvent: p('UPDATE asset_events SET record = ? WHERE id = ?'),
      eventsAll: p('SELECT record FROM asset_events ORDER BY id'),
      eventsByUri: p('SELECT record FROM asset_events WHERE uri = ? ORDER BY id'),
      eventsBySourceDag: p('SELECT record FROM asset_events WHERE source_dag_id = ? ORDER BY id'),
      upsertAsset: p(`INSERT INTO assets (uri, asset_id, name, asset_group, extra, created_at, updated_at, last_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
        ON CONFLICT (uri) DO UPDATE SET name = excluded.name, asset_group = excluded.asset_group, extra = excluded.extra, updated_at = excluded.updated_at RETURNING *`),
      getAsset: p('SELECT * FROM assets WHERE uri = ?'),
      listAssets: p('SELECT * FROM assets ORDER BY uri'),
      queue: p('INSERT INTO asset_queue (dag_id, event_id, uri, timestamp) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      listQueue: p('SELECT * FROM asset_queue WHERE dag_id = ? ORDER BY event_id'),
      consume: p('DELETE FROM asset_queue WHERE dag_id = ? AND event_id = ?'),
      getClaim: p('SELECT * FROM asset_claims WHERE dag_id = ?'),
      putClaim: p(`INSERT INTO asset_claims (dag_id, seq, run_id, event_ids, done) VALUES (?, ?, ?, ?, 0)
        ON CONFLICT (dag_id) DO UPDATE SET seq = excluded.seq, run_id = excluded.run_id, event_ids = excluded.event_ids, done = 0`),
      finishClaim: p('UPDATE asset_claims SET done = 1 WHERE dag_id = ? AND seq = ?'),
    };
  }

  putAssetEvent(e: AssetEventRecord): { applied: boolean; event: AssetEventRecord } {
    return this.tx(() => {
      const seen = this.q.eventByKey!.get(e.dedupeKey);
      if (seen) return { applied: false, event: eventFromRow(seen) };
      const src = e.source.kind === 'task' ? e.source : null;
      this.q.insertEvent!.run(e.id, e.uri, e.dedupeKey, e.timestamp, src?.dagId ?? null, src?.runId ?? null, src?.taskId ?? null, JSON.stringify(e));
      this.q.touchAsset!.run(e.uri, assetId(e.uri), e.uri, e.timestamp, e.timestamp, e.id);
      return { applied: true, event: structuredClone(e) };
    });
  }

  getAssetEvent(id: string): AssetEventRecord | null {
    const r = this.q.getEvent!.get(id);
    return r ? eventFromRow(r) : null;
  }

  listAssetEvents(q: AssetEventQuery): AssetEventRecord[] {
    const rows = q.uri !== undefined ? this.q.eventsByUri!.all(q.uri) : q.sourceDagId !== undefined ? this.q.eventsBySourceDag!.all(q.sourceDagId) : this.q.eventsAll!.all();
    return rows.map(eventFromRow).filter((e) => matchesAssetEventQuery(e, q));
  }

  addAssetEventRuns(id: string, runs: readonly RunRef[]): void {
    this.tx(() => {
      const r = this.q.getEvent!.get(id);
      if (!r) return;
      const e = eventFromRow(r);
      let changed = false;
      for (const run of runs) {
        if (e.createdRuns.some((c) => c.dagId === run.dagId && c.runId === run.runId)) continue;
        e.createdRuns.push({ dagId: run.dagId, runId: run.runId });
        changed = true;
      }
      if (changed) this.q.setEvent!.run(JSON.stringify(e), id);
    });
  }

  upsertAsset(a: Pick<AssetRecord, 'uri' | 'name' | 'group' | 'extra'>, at: string): AssetRecord {
    return assetFromRow(this.q.upsertAsset!.get(a.uri, assetId(a.uri), a.name, a.group, JSON.stringify(a.extra), at, at)!);
  }

  getAsset(uri: string): AssetRecord | null {
    const r = this.q.getAsset!.get(uri);
    return r ? assetFromRow(r) : null;
  }

  listAssets(): AssetRecord[] {
    return this.q.listAssets!.all().map(assetFromRow);
  }

  queueAssetEvent(e: AssetQueueEntry): void {
    this.q.queue!.run(e.dagId, e.eventId, e.uri, e.timestamp);
  }

  listAssetQueue(dagId: string): AssetQueueEntry[] {
    return this.q.listQueue!.all(dagId).map((r) => ({ dagId: String(r.dag_id), eventId: String(r.event_id), uri: String(r.uri), timestamp: String(r.timestamp) }));
  }

  consumeAssetQueue(dagId: string, eventIds: readonly string[]): void {
    this.tx(() => {
      for (const id of eventIds) this.q.consume!.run(dagId, id);
    });
  }

  getAssetClaim(dagId: string): AssetClaim {
    const r = this.q.getClaim!.get(dagId);
    if (!r) return noAssetClaim(dagId);
    return { dagId, seq: Number(r.seq), runId: String(r.run_id), eventIds: JSON.parse(String(r.event_ids)) as string[], done: Number(r.done) === 1 };
  }

  claimAssetQueue(dagId: string, expectSeq: number, runId: string, eventIds: readonly string[]): AssetClaim | null {
    return this.tx(() => {
      const seq = this.q.getClaim!.get(dagId)?.seq ?? 0;
      if (Number(seq) !== expectSeq) return null;
      this.q.putClaim!.run(dagId, expectSeq + 1, runId, JSON.stringify(eventIds));
      return { dagId, seq: expectSeq + 1, runId, eventIds: [...eventIds], done: false };
    });
  }

  finishAssetClaim(dagId: string, seq: number): void {
    this.q.finishClaim!.run(dagId, seq);
  }
}
