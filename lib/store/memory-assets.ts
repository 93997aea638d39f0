// The asset part of the memory store (asset-store.ts): each method atomic, records copied in and out.

import { assetId, type AssetEventRecord, type AssetRecord } from '../model/asset.ts';
import type { RunRef } from '../model/keys.ts';
import { matchesAssetEventQuery, noAssetClaim, pageAssetEvents, type AssetClaim, type AssetEventQuery, type AssetQueueEntry, type AssetStore } from './asset-store.ts';

const copy = <T>(v: T): T => structuredClone(v);

export class MemoryAssets implements AssetStore {
  private readonly assets = new Map<string, AssetRecord>();
  private readonly events = new Map<string, AssetEventRecord>();
  /** dedupe key → event id. */
  private readonly dedupe = new Map<string, string>();
  /** consumer DAG → event id → entry. */
  private readonly queues = new Map<string, Map<string, AssetQueueEntry>>();
  /** consumer DAG → its latest claim. */
  private readonly claims = new Map<string, AssetClaim>();

  async putAssetEvent(e: AssetEventRecord): Promise<{ applied: boolean; event: AssetEventRecord }> {
    const seen = this.dedupe.get(e.dedupeKey);
    if (seen !== undefined) return { applied: false, event: copy(this.events.get(seen)!) };
    this.dedupe.set(e.dedupeKey, e.id);
    this.events.set(e.id, copy(e));
    const a = this.assets.get(e.uri);
    if (!a) {
      this.assets.set(e.uri, { uri: e.uri, assetId: assetId(e.uri), name: e.uri, group: 'asset', extra: {}, createdAt: e.timestamp, updatedAt: e.timestamp, lastEventId: e.id });
    } else if (a.lastEventId === null || a.lastEventId < e.id) {
      this.assets.set(e.uri, { ...a, lastEventId: e.id, updatedAt: e.timestamp });
    }
    return { applied: true, event: copy(e) };
  }

  async getAssetEvent(id: string): Promise<AssetEventRecord | null> {
    const e = this.events.get(id);
    return e ? copy(e) : null;
  }

  async listAssetEvents(q: AssetEventQuery): Promise<{ events: AssetEventRecord[]; total: number }> {
    const page = pageAssetEvents([...this.events.values()].filter((e) => matchesAssetEventQuery(e, q)), q);
    return { events: page.events.map(copy), total: page.total };
  }

  async addAssetEventRuns(id: string, runs: readonly RunRef[]): Promise<void> {
    const e = this.events.get(id);
    if (!e) return;
    for (const r of runs) if (!e.createdRuns.some((c) => c.dagId === r.dagId && c.runId === r.runId)) e.createdRuns.push({ dagId: r.dagId, runId: r.runId });
  }

  async upsertAsset(a: Pick<AssetRecord, 'uri' | 'name' | 'group' | 'extra'>, at: string): Promise<AssetRecord> {
    const old = this.assets.get(a.uri);
    const rec: AssetRecord = { uri: a.uri, assetId: assetId(a.uri), name: a.name, group: a.group, extra: copy(a.extra), createdAt: old?.createdAt ?? at, updatedAt: at, lastEventId: old?.lastEventId ?? null };
    this.assets.set(a.uri, rec);
    return copy(rec);
  }

  async getAsset(uri: string): Promise<AssetRecord | null> {
    const a = this.assets.get(uri);
    return a ? copy(a) : null;
  }

  async listAssets(): Promise<AssetRecord[]> {
    return [...this.assets.values()].sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0)).map(copy);
  }

  async queueAssetEvent(entry: AssetQueueEntry): Promise<void> {
    let q = this.queues.get(entry.dagId);
    if (!q) this.queues.set(entry.dagId, (q = new Map<string, AssetQueueEntry>()));
    if (!q.has(entry.eventId)) q.set(entry.eventId, { ...entry });
  }

  async listAssetQueue(dagId: string): Promise<AssetQueueEntry[]> {
    return [...(this.queues.get(dagId)?.values() ?? [])].sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0)).map((e) => ({ ...e }));
  }

  async consumeAssetQueue(dagId: string, eventIds: readonly string[]): Promise<void> {
    const q = this.queues.get(dagId);
    if (!q) return;
    for (const id of eventIds) q.delete(id);
  }

  async getAssetClaim(dagId: string): Promise<AssetClaim> {
    return copy(this.claims.get(dagId) ?? noAssetClaim(dagId));
  }

  async claimAssetQueue(dagId: string, expectSeq: number, runId: string, eventIds: readonly string[]): Promise<AssetClaim | null> {
    if ((this.claims.get(dagId)?.seq ?? 0) !== expectSeq) return null;
    const claim: AssetClaim = { dagId, seq: expectSeq + 1, runId, eventIds: [...eventIds], done: false };
    this.claims.set(dagId, claim);
    return copy(claim);
  }

  async finishAssetClaim(dagId: string, seq: number): Promise<void> {
    const c = this.claims.get(dagId);
    if (c?.seq === seq) c.done = true;
  }
}
