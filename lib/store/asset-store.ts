// What every StateStore keeps of assets (Airflow 3's data-aware scheduling): the assets, their events
// (recorded once per dedupe key), and per consumer DAG the queue of events its asset condition has not
// yet consumed (Airflow's AssetDagRunQueue).

import type { AssetEventRecord, AssetRecord } from '../model/asset.ts';
import type { RunRef } from '../model/keys.ts';

/** A query of asset events (`listAssetEvents`). */
export interface AssetEventQuery {
  /** Only events of this asset. */
  uri?: string;
  /** Only events a task of this DAG recorded (and of this run, this task). */
  sourceDagId?: string;
  sourceRunId?: string;
  sourceTaskId?: string;
  /** Most events returned. */
  limit: number;
  /** Events skipped first. @default 0 */
  offset?: number;
  /** Newest first. @default false (oldest first) */
  newestFirst?: boolean;
}

/** One event waiting in a consumer DAG's queue. */
export interface AssetQueueEntry {
  dagId: string;
  uri: string;
  eventId: string;
  /** The event's timestamp (ISO-8601). */
  timestamp: string;
}

/**
 * A consumer DAG's claim on its queue: the run its asset condition creates and the queued events it takes.
 * `seq` counts the DAG's claims (0: none yet). A claim is conditional on the `seq` read before the queue,
 * so of two deliveries that evaluated the same queue one claims it and the other, refused, reads it again
 * after finishing the first one's claim. A claim is finished (`done`) once its run exists, its events name
 * the run and they left the queue; a claim found not done (its delivery died, or is still at work) is
 * finished by whoever finds it, every step being idempotent.
 */
export interface AssetClaim {
  dagId: string;
  seq: number;
  /** The run the claim creates (null before the DAG's first claim). */
  runId: string | null;
  /** The queued events it takes, sorted. */
  eventIds: string[];
  done: boolean;
}

/** The claim of a DAG that has made none. */
export const noAssetClaim = (dagId: string): AssetClaim => ({ dagId, seq: 0, runId: null, eventIds: [], done: true });

export interface AssetStore {
  /**
   * Record an event, conditional on its dedupe key being unseen: `applied` true and the event as given;
   * else `applied` false and the event first recorded with that key (nothing written). In the same step,
   * the event's asset record is created if missing (name = uri, group 'asset') and its `lastEventId` and
   * `updatedAt` moved to this event when it is the latest.
   */
  putAssetEvent(e: AssetEventRecord): Promise<{ applied: boolean; event: AssetEventRecord }>;
  getAssetEvent(id: string): Promise<AssetEventRecord | null>;
  /** Events matching the query (by id, i.e. by time), a page of them and how many match in all. */
  listAssetEvents(q: AssetEventQuery): Promise<{ events: AssetEventRecord[]; total: number }>;
  /** Add runs to an event's `createdRuns` (each once: a run already there is not added again). */
  addAssetEventRuns(id: string, runs: readonly RunRef[]): Promise<void>;
  /**
   * Create or update an asset's record from a DAG's declaration: name, group and extra set; `createdAt`
   * and `lastEventId` of an existing record kept. Returns the record as stored.
   */
  upsertAsset(a: Pick<AssetRecord, 'uri' | 'name' | 'group' | 'extra'>, at: string): Promise<AssetRecord>;
  getAsset(uri: string): Promise<AssetRecord | null>;
  /** Every asset record, by uri. */
  listAssets(): Promise<AssetRecord[]>;
  /** Put an event in a consumer DAG's queue (idempotent: an event queued already stays once). */
  queueAssetEvent(entry: AssetQueueEntry): Promise<void>;
  /** A consumer DAG's queue, oldest event first. */
  listAssetQueue(dagId: string): Promise<AssetQueueEntry[]>;
  /** Take these events out of a consumer DAG's queue (those not in it are ignored); events queued since stay. */
  consumeAssetQueue(dagId: string, eventIds: readonly string[]): Promise<void>;
  /** A consumer DAG's latest claim ({@link noAssetClaim} when it made none). */
  getAssetClaim(dagId: string): Promise<AssetClaim>;
  /**
   * Claim events of a consumer DAG's queue for a run, conditional on its claim count still being
   * `expectSeq`: the new claim (`seq` = expectSeq + 1, not done), or null when another claim came first.
   */
  claimAssetQueue(dagId: string, expectSeq: number, runId: string, eventIds: readonly string[]): Promise<AssetClaim | null>;
  /** Mark claim `seq` done (nothing when the DAG's claim count has moved past it, or it is done already). */
  finishAssetClaim(dagId: string, seq: number): Promise<void>;
}

/** Events of a list matching a query's filters (what every store applies after reading its keys). */
export function matchesAssetEventQuery(e: AssetEventRecord, q: AssetEventQuery): boolean {
  if (q.uri !== undefined && e.uri !== q.uri) return false;
  if (q.sourceDagId !== undefined || q.sourceRunId !== undefined || q.sourceTaskId !== undefined) {
    if (e.source.kind !== 'task') return false;
    if (q.sourceDagId !== undefined && e.source.dagId !== q.sourceDagId) return false;
    if (q.sourceRunId !== undefined && e.source.runId !== q.sourceRunId) return false;
    if (q.sourceTaskId !== undefined && e.source.taskId !== q.sourceTaskId) return false;
  }
  return true;
}

/** A page of events sorted by id (oldest first, or newest first), and the count of all. */
export function pageAssetEvents(all: AssetEventRecord[], q: AssetEventQuery): { events: AssetEventRecord[]; total: number } {
  const sorted = [...all].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (q.newestFirst) sorted.reverse();
  const offset = q.offset ?? 0;
  return { events: sorted.slice(offset, offset + q.limit), total: sorted.length };
}
