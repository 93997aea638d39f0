// Assets: an event recorded (exactly once per dedupe key), queued for every DAG whose schedule names its
// asset, and a run created for a consumer DAG whose condition holds over its queue (Airflow's
// AssetDagRunQueue); a task's success records an event per outlet. Every step is idempotent: a delivery
// seen again finishes what an interrupted first delivery left, and starts no second run.

import type { Dag } from '../authoring/dag.ts';
import { OUTLET_EVENTS_XCOM_KEY } from '../executor/outlet-events.ts';
import { assetEventId, assetId, conditionUris, evaluateAssetCondition, taskOutletDedupeKey, uriScheme, type AssetEventRecord, type AssetEventSource } from '../model/asset.ts';
import { sha256 } from '../model/hash.ts';
import { assetCondition, type TaskSpec } from '../model/spec.ts';
import { iso } from '../model/time.ts';
import type { AssetClaim } from '../store/asset-store.ts';
import type { RunRef, TaskInstanceRecord } from '../store/records.ts';
import { OperationError } from './operation-error.ts';
import { startQueuedRuns, triggerRun } from './runs.ts';
import type { Step } from './step.ts';

/** What `Scheduler.recordAssetEvent` takes. */
export interface AssetEventInput {
  /** The asset's uri (a scheme and no spaces). */
  uri: string;
  /** Metadata of the event (plain JSON). @default {} */
  extra?: Record<string, unknown>;
  source: AssetEventSource;
  /** A delivery seen twice (same key) records one event and starts its runs once. */
  dedupeKey: string;
  /** ISO-8601. @default now */
  timestamp?: string;
}

/** What recording an event did. */
export interface RecordedAssetEvent {
  /** The event as stored (the first one recorded with its dedupe key when this was a duplicate). */
  event: AssetEventRecord;
  /** The dedupe key had been seen: nothing new was recorded (what the first delivery left was finished). */
  duplicate: boolean;
  /** The consumer runs this call created (or found created by an interrupted first delivery). */
  runs: RunRef[];
}

/** The DAGs the scheduler can see whose schedule names `uri` (their current versions). */
export function consumersOf(s: Step, uri: string): Dag[] {
  return (s.env.dags.dags ?? []).filter((d) => {
    const c = assetCondition(d.spec.schedule);
    return c !== null && conditionUris(c).includes(uri);
  });
}

/** See `Scheduler.recordAssetEvent`. */
export async function recordAssetEvent(s: Step, input: AssetEventInput): Promise<RecordedAssetEvent> {
  const { uri, dedupeKey } = input;
  if (typeof uri !== 'string' || uriScheme(uri) === null || /\s/.test(uri)) throw new OperationError(`asset uri ${JSON.stringify(uri)} is invalid: it needs a scheme (s3://, file://...) and no whitespace`, { field: 'uri' });
  if (typeof dedupeKey !== 'string' || dedupeKey.length === 0) throw new OperationError('an asset event needs a non-empty dedupe key', { field: 'dedupeKey' });
  const extra = input.extra ?? {};
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) throw new OperationError(`an asset event's extra must be a JSON object, got ${JSON.stringify(extra)}`, { field: 'extra' });
  const timestamp = input.timestamp === undefined ? iso(s.now()) : new Date(input.timestamp).toISOString();
  const e: AssetEventRecord = { id: assetEventId(timestamp, dedupeKey), uri, assetId: assetId(uri), extra, timestamp, source: input.source, dedupeKey, createdRuns: [] };
  const { applied, event } = await s.store.putAssetEvent(e);
  const runs: RunRef[] = [];
  for (const dag of consumersOf(s, event.uri)) {
    // Consumed by a run of this DAG already (a delivery seen again): finish what that run's creation left.
    const done = event.createdRuns.find((r) => r.dagId === dag.dagId);
    if (done) {
      await completeAssetRun(s, done);
      continue;
    }
    await s.store.queueAssetEvent({ dagId: dag.dagId, uri: event.uri, eventId: event.id, timestamp: event.timestamp });
    const run = await createAssetRun(s, dag, event.id);
    if (run) runs.push(run);
  }
  const now = runs.length > 0 || !applied ? await s.store.getAssetEvent(event.id) : null;
  return { event: now ?? event, duplicate: !applied, runs };
}

/**
 * How many times one delivery reads a consumer's queue again after another delivery claimed it first.
 * Each refusal means another claim succeeded; past this the delivery fails, to be delivered again, its
 * event still queued.
 */
const MAX_CLAIM_ROUNDS = 50;

/**
 * A consumer DAG's queue evaluated: when its condition holds over the uris queued (each asset counts
 * once it has an event since the DAG's last asset-triggered run), the queued events are claimed for one
 * run (store `claimAssetQueue`, conditional on the DAG's claim count, so two deliveries evaluating the
 * same queue at once create one run between them), which is created with them (`asset_triggered`,
 * through the usual run creation: maxActiveRuns applies); the events then name the run and leave the
 * queue. A claim left unfinished (its delivery died, or is at work) is finished first, by whoever finds
 * it. A paused DAG keeps its queue (its run is created when it is unpaused). The run id is a function of
 * the events, so finishing a claim twice creates one run. Returns the run this call claimed, else the run
 * of a claim it finished that took `eventId`, else null.
 */
export async function createAssetRun(s: Step, dag: Dag, eventId?: string): Promise<RunRef | null> {
  const condition = assetCondition(dag.spec.schedule);
  if (condition === null) return null;
  let finished: RunRef | null = null;
  for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
    const claim = await s.store.getAssetClaim(dag.dagId);
    if (!claim.done) {
      const ref = await finishAssetClaim(s, dag, claim);
      if (eventId !== undefined && claim.eventIds.includes(eventId)) finished = ref;
    }
    const queue = await s.store.listAssetQueue(dag.dagId);
    // and/or over the assets present: what the whole queue does not satisfy, no part of it does, so the
    // queue's events are read only when a run may follow.
    if (queue.length === 0 || !evaluateAssetCondition(condition, new Set(queue.map((q) => q.uri)))) return finished;
    const events = new Map((await Promise.all(queue.map((q) => s.store.getAssetEvent(q.eventId)))).filter((e): e is AssetEventRecord => e !== null).map((e) => [e.id, e]));
    // An event that created a run of this DAG already, queued again by a delivery that read it before
    // that run named it, is not this DAG's to take again.
    const stale = queue.filter((q) => events.get(q.eventId)?.createdRuns.some((r) => r.dagId === dag.dagId));
    if (stale.length > 0) await s.store.consumeAssetQueue(dag.dagId, stale.map((q) => q.eventId));
    const open = queue.filter((q) => !stale.includes(q) && events.has(q.eventId));
    if (open.length === 0 || !evaluateAssetCondition(condition, new Set(open.map((q) => q.uri)))) return finished;
    if ((await s.store.getDagRecord(dag.dagId))?.paused) return finished;
    const ids = open.map((q) => q.eventId).sort();
    const latest = open.reduce((t, q) => (q.timestamp > t ? q.timestamp : t), open[0]!.timestamp);
    const runId = `asset_triggered__${latest}_${sha256(ids.join('\n')).slice(0, 8)}`;
    const mine = await s.store.claimAssetQueue(dag.dagId, claim.seq, runId, ids);
    // Another delivery claimed the queue since it was read: finish its claim, then read the queue again.
    if (mine) return finishAssetClaim(s, dag, mine);
  }
  throw new Error(`DAG '${dag.dagId}': its asset queue was claimed by other deliveries ${MAX_CLAIM_ROUNDS} times while this one evaluated it; the event stays queued for the next delivery`);
}

/** A claim's run created (or found), its events naming it and out of the queue, the claim marked done. */
async function finishAssetClaim(s: Step, dag: Dag, claim: AssetClaim): Promise<RunRef> {
  const events = (await Promise.all(claim.eventIds.map((id) => s.store.getAssetEvent(id)))).filter((e): e is AssetEventRecord => e !== null);
  const latest = events.reduce((t, e) => (e.timestamp > t ? e.timestamp : t), events[0]?.timestamp ?? iso(s.now()));
  const run = await triggerRun(s, {
    dagId: dag.dagId,
    runId: claim.runId!,
    logicalDate: latest,
    runType: 'asset_triggered',
    triggeringAssetEvents: events.map((e) => ({ ...e, createdRuns: [] })),
  });
  const ref = { dagId: run.dagId, runId: run.runId };
  await completeAssetRun(s, ref, run.triggeringAssetEvents?.map((e) => e.id) ?? claim.eventIds);
  await s.store.finishAssetClaim(dag.dagId, claim.seq);
  return ref;
}

/**
 * After an asset-triggered run was created: its events name it, and they leave its DAG's queue (both
 * idempotent, done again by a delivery that finds an event naming the run already).
 */
async function completeAssetRun(s: Step, ref: RunRef, eventIds?: readonly string[]): Promise<void> {
  const ids = eventIds ?? (await s.store.getRun(ref))?.triggeringAssetEvents?.map((e) => e.id) ?? [];
  for (const id of ids) await s.store.addAssetEventRuns(id, [ref]);
  await s.store.consumeAssetQueue(ref.dagId, ids);
  // A run found queued (the step that created it died before starting it: a delivery seen again) starts
  // now, as far as maxActiveRuns lets it, rather than at the reconcile's next round.
  if ((await s.store.getRun(ref))?.state === 'queued') await startQueuedRuns(s, ref.dagId);
}

/**
 * A task instance succeeded: record an event of each of its outlets (with the extra its code gave
 * `ctx.outletEvents`), deduplicated per instance, try and asset, so a replay records none twice.
 */
export async function recordOutlets(s: Step, t: TaskSpec, ti: TaskInstanceRecord): Promise<void> {
  if (!t.outlets?.length || ti.state !== 'success') return;
  const given = (await s.store.getXCom(ti, ti.taskId, ti.mapIndex, OUTLET_EVENTS_XCOM_KEY))?.value;
  const extras = typeof given === 'object' && given !== null ? (given as Record<string, Record<string, unknown>>) : {};
  const source: AssetEventSource = { kind: 'task', dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex, tryNumber: ti.tryNumber };
  for (const uri of t.outlets) {
    await recordAssetEvent(s, { uri, extra: extras[uri] ?? {}, source, dedupeKey: taskOutletDedupeKey(ti, ti.tryNumber, uri), timestamp: ti.endDate ?? iso(s.now()) });
  }
}
