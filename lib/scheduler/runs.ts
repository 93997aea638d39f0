// Runs: created by a trigger (conf validated against the params), started when maxActiveRuns allows,
// reopened when a finished run's instances are cleared. How a run ends is run-end.ts.

import { randomInt } from 'node:crypto';
import type { Dag } from '../authoring/dag.ts';
import type { RunType } from '../authoring/context.ts';
import { resolveParams } from '../core/params.ts';
import { RunExistsError } from '../errors.ts';
import { iso } from '../model/time.ts';
import type { TriggerRequest } from '../executor/trigger-request.ts';
import { pipelineScopeOf, runRefOf, type BackfillRecord, type DagRunRecord, type DagVersionEntry, type RunRef } from '../store/records.ts';
import { armDeadlines } from './deadlines.ts';
import { decideAll } from './decisions.ts';
import { resumeTasks } from './reconcile.ts';
import { finalizeIfDone, finalizeRun, guarded } from './run-end.ts';
import { DEFAULT_BACKFILL_MAX_ACTIVE_RUNS, runHolder, runSemaphore } from './slots.ts';
import type { Step } from './step.ts';

export type { TriggerRequest } from '../executor/trigger-request.ts';

/** Letters and digits of a generated run id's suffix (Airflow's `get_random_string`). */
const RUN_ID_SUFFIX_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A new run id for a trigger that names neither a run id nor a logical date, in Airflow 3's shape:
 * `<runType>__<ISO time>_<8 random letters and digits>` (62^8, about 2·10^14, per millisecond), so two
 * triggers of a DAG in the same millisecond make two runs.
 */
export function generateRunId(runType: RunType, at: string): string {
  let suffix = '';
  for (let i = 0; i < 8; i++) suffix += RUN_ID_SUFFIX_CHARS[randomInt(RUN_ID_SUFFIX_CHARS.length)];
  return `${runType}__${at}_${suffix}`;
}

/** See `Scheduler.triggerRun`. */
export async function triggerRun(s: Step, req: TriggerRequest): Promise<DagRunRecord> {
  const dag = req.dagVersion !== undefined ? await s.dagAt(req.dagId, req.dagVersion) : s.dag(req.dagId);
  if (req.runId !== undefined || req.logicalDate !== undefined) return createRun(s, dag, req, req.runId);
  // Named by neither: a new id, drawn again in the (about 1 in 10^14) case another trigger drew it too.
  const logicalDate = iso(s.now());
  for (let attempt = 1; ; attempt++) {
    try {
      return await createRun(s, dag, { ...req, logicalDate, exclusive: true }, generateRunId(req.runType ?? 'manual', logicalDate));
    } catch (e) {
      if (!(e instanceof RunExistsError) || attempt >= 5) throw e;
    }
  }
}

/** A trigger with the run id given (default `<runType>__<logicalDate>`): the run created, or the DAG's run found with that id. */
async function createRun(s: Step, dag: Dag, req: TriggerRequest, id: string | undefined): Promise<DagRunRecord> {
  const conf = req.conf ?? {};
  const params = resolveParams(dag.spec.params, conf, { dagId: dag.dagId }, dag.spec.strictConf === true);
  const now = s.now();
  const logical = req.logicalDate === undefined ? iso(now) : new Date(req.logicalDate).toISOString();
  const runType = req.runType ?? 'manual';
  const runId = id ?? `${runType}__${logical}`;
  const run: DagRunRecord = {
    dagId: dag.dagId,
    runId,
    state: 'queued',
    runType,
    conf,
    params,
    logicalDate: logical,
    queuedAt: iso(now),
    startDate: null,
    endDate: null,
    dagVersion: dag.spec.version,
    pending: dag.spec.tasks.length,
    parent: req.parent ?? null,
    pipelineScope: req.pipelineScope ?? pipelineScopeOf({ dagId: dag.dagId, runId }),
    note: null,
  };
  const pinned = req.pinnedVersions !== undefined ? req.pinnedVersions : pinVersions(s, dag);
  if (pinned) run.pinnedVersions = pinned;
  if (req.triggeringAssetEvents?.length) run.triggeringAssetEvents = req.triggeringAssetEvents;
  if (!(await s.store.createRun(run))) {
    const existing = (await s.store.getRun(run))!;
    if (req.exclusive) throw new RunExistsError(`run '${runId}' of DAG '${dag.dagId}' exists already (${existing.state})`, { dagId: dag.dagId });
    return existing;
  }
  // Keep the DAG registry's version current (the paused flag lives there too); a run of an older version
  // (a triggered run on its pinned version) changes nothing there.
  if (s.env.dags.getDag(dag.dagId) === dag) {
    const registered = await s.store.getDagRecord(dag.dagId);
    if (registered?.version !== dag.spec.version) await s.store.registerDagVersion(versionEntryOf(dag), iso(now));
  }
  s.emitRun(run);
  armDeadlines(s, dag, run);
  await startQueuedRuns(s, dag.dagId, runId);
  return (await s.store.getRun(run))!;
}

/** See `Scheduler.startQueuedRuns`. */
export async function startQueuedRuns(s: Step, dagId: string, justCreated?: string): Promise<void> {
  const dag = s.dag(dagId);
  const candidates: { runId: string; backfillId: string | null }[] = justCreated
    ? [{ runId: justCreated, backfillId: null }]
    : (await s.store.listRuns({ dagId, states: ['queued'] })).map((r) => ({ runId: r.runId, backfillId: r.backfillId ?? null }));
  if (candidates.length === 0 || (await s.store.getDagRecord(dagId))?.paused) return;
  const freed = new Set<string>();
  const refused = new Set<string>();
  const backfillLimits = new Map<string, number>();
  for (const { runId, backfillId } of candidates) {
    const sem = runSemaphore(dagId, backfillId);
    if (refused.has(sem)) continue;
    let limit = dag.spec.maxActiveRuns;
    if (backfillId !== null) {
      let l = backfillLimits.get(backfillId);
      if (l === undefined) backfillLimits.set(backfillId, (l = (await s.store.getBackfill(dagId, backfillId))?.maxActiveRuns ?? DEFAULT_BACKFILL_MAX_ACTIVE_RUNS));
      limit = l;
    }
    const holder = runHolder({ dagId, runId });
    let acquired = await s.store.tryAcquire(sem, 1, limit, holder);
    // Refused: first give back units held by runs that are no longer running (a run that ended while
    // its release was lost), then try once more.
    if (!acquired && !freed.has(sem)) {
      freed.add(sem);
      if ((await freeEndedRunHolders(s, sem)) > 0) acquired = await s.store.tryAcquire(sem, 1, limit, holder);
    }
    if (!acquired) {
      refused.add(sem);
      continue;
    }
    const ref = { dagId, runId };
    if (!(await guarded(s, ref, () => startRun(s, ref), true))) {
      // Not started by this call: keep the unit only if the run is running (it was started, by this
      // call's write that reported an error, or by a concurrent one with the same holder).
      if ((await s.store.getRun(ref))?.state !== 'running') await s.store.release(sem, 1, holder);
    }
  }
}

/** See `Scheduler.recoverRunSlots`. */
export async function recoverRunSlots(s: Step, dagId: string): Promise<number> {
  const freed = await freeEndedRunHolders(s, runSemaphore(dagId, null));
  if (freed > 0) await startQueuedRuns(s, dagId);
  return freed;
}

/** Units of a runs semaphore held by runs that are no longer running: given back. Returns how many. */
async function freeEndedRunHolders(s: Step, sem: string): Promise<number> {
  let freed = 0;
  for (const [holder, n] of await s.store.semaphoreHolders(sem)) {
    const m = /^run\/([^/]+)\/(.+)$/.exec(holder);
    if (!m) continue;
    const run = await s.store.getRun({ dagId: m[1]!, runId: m[2]! });
    if (run?.state === 'running') continue;
    await s.store.release(sem, n, holder);
    freed++;
  }
  return freed;
}

/** See `Scheduler.checkBackfill`. */
export async function checkBackfill(s: Step, dagId: string, backfillId: string): Promise<BackfillRecord | undefined> {
  const b = await s.store.getBackfill(dagId, backfillId);
  if (!b || b.state !== 'running') return b;
  // The run listing reads an index that may lag: confirm each candidate with a consistent read.
  for (const r of await s.store.listRuns({ dagId, states: ['queued', 'running'] })) {
    if (r.backfillId !== backfillId) continue;
    const now = await s.store.getRun(r);
    if (now && (now.state === 'queued' || now.state === 'running') && now.backfillId === backfillId) return b;
  }
  return (await s.store.updateBackfill(dagId, backfillId, ['running'], { state: 'completed', completedAt: iso(s.now()) })) ?? (await s.store.getBackfill(dagId, backfillId));
}

async function startRun(s: Step, ref: RunRef): Promise<boolean> {
  const now = s.now();
  const run = await s.store.updateRun(ref, ['queued'], { state: 'running', startDate: iso(now) });
  if (!run) return false;
  s.emitRun(run);
  const dag = await s.dagOf(run);
  if (dag.spec.dagrunTimeoutMs !== null) s.timer(now + dag.spec.dagrunTimeoutMs, { type: 'run_timeout', ...runRefOf(run) });
  if (dag.spec.tasks.length === 0) {
    await finalizeRun(s, run);
    return true;
  }
  if ((run.clearNumber ?? 0) > 0) {
    // A cleared run starting again: its cleared tasks are decided anew and its rerun instances queued.
    await resumeTasks(s, dag, run);
    await finalizeIfDone(s, run);
    return true;
  }
  const roots = dag.spec.tasks.filter((t) => t.upstream.length === 0);
  await decideAll(s, dag, run, roots, roots.map(() => undefined));
  return true;
}

/** See `Scheduler.reopenRun`. */
export async function reopenRun(s: Step, ref: RunRef, patch: Partial<DagRunRecord>, start: boolean, onLatest = false): Promise<DagRunRecord | undefined> {
  const now = iso(s.now());
  const current = await s.store.getRun(ref);
  if (!current) return undefined;
  // It reruns on its own version (its code loaded now, so that a version that cannot be had refuses the
  // clear instead of failing the run), or on the latest when asked (Airflow 3's run_on_latest_version).
  const dagVersion = onLatest ? s.dag(current.dagId).spec.version : (await s.dagAt(current.dagId, current.dagVersion)).spec.version;
  const run = await s.store.updateRun(current, ['success', 'failed'], { ...patch, dagVersion, state: 'queued', queuedAt: now, startDate: null, endDate: null, note: null });
  if (!run) return undefined;
  await s.store.reviveRun?.(runRefOf(run));
  s.emitRun(run);
  if (start) await startQueuedRuns(s, run.dagId);
  return (await s.store.getRun(run)) ?? run;
}

/**
 * The versions a new top-level run of `dag` pins for the runs its triggerDag tasks start: every DAG
 * reachable through triggerDag tasks (transitively) at its current version. Null when it triggers none
 * (nothing is stored).
 */
export function pinVersions(s: Step, dag: Dag): Record<string, string> | null {
  const pinned: Record<string, string> = {};
  const visit = (d: Dag) => {
    for (const t of d.spec.tasks) {
      const target = t.triggerDag?.triggerDagId;
      if (target === undefined || target in pinned) continue;
      const child = s.env.dags.getDag(target);
      if (!child) continue;
      pinned[target] = child.spec.version;
      visit(child);
    }
  };
  visit(dag);
  return Object.keys(pinned).length === 0 ? null : pinned;
}

/** What registering a DAG's version records. */
export function versionEntryOf(dag: Dag): DagVersionEntry {
  return { dagId: dag.dagId, version: dag.spec.version, structureHash: dag.spec.structureHash, bundle: dag.spec.bundle, fileloc: dag.spec.fileloc };
}
