// Backfill: runs of type `backfill` for a schedule's past logical dates (see operations.ts).

import { resolveParams } from '../core/params.ts';
import { nextScheduleTime } from '../model/schedule.ts';
import { timeSchedule } from '../model/spec.ts';
import type { RunState } from '../model/states.ts';
import { iso } from '../model/time.ts';
import type { BackfillRecord, DagRunRecord, ReprocessBehavior } from '../store/records.ts';
import { pipelineScopeOf } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import { clearRun } from './clear.ts';
import type { Outcome } from './effects.ts';
import { loadedDag, OperationError } from './operation-error.ts';
import { checkBackfill, pinVersions, startQueuedRuns, versionEntryOf } from './runs.ts';
import type { Scheduler } from './scheduler.ts';
import { DEFAULT_BACKFILL_MAX_ACTIVE_RUNS } from './slots.ts';
import type { Step } from './step.ts';


export interface BackfillOptions {
  dagId: string;
  /** The first and last logical dates to consider (both included): ISO-8601 or Date. */
  fromDate: string | Date;
  toDate: string | Date;
  /**
   * What to do with a date that has a run already.
   * @default 'none'
   */
  reprocessBehavior?: ReprocessBehavior;
  /**
   * Runs of this backfill running at once.
   * @default 10 (Airflow's)
   */
  maxActiveRuns?: number;
  /**
   * Conf of the runs (validated against the DAG's params; a reprocessed run takes it too).
   * @default {} (a reprocessed run keeps its own)
   */
  conf?: Record<string, unknown>;
  /**
   * Say what would happen per date; change nothing.
   * @default false
   */
  dryRun?: boolean;
}

/** What a backfill does with one logical date. */
export interface BackfillDate {
  logicalDate: string;
  /** `create` a run; `clear` (rerun) the existing one; `skip` it. */
  action: 'create' | 'clear' | 'skip';
  runId: string | null;
  /** The existing run's state, if there is one. */
  existingState: RunState | null;
  /** Why a date is skipped: 'in flight' (its run is queued or running) or 'already exists'. */
  reason: string | null;
}

export interface BackfillResult {
  /** The backfill created (null in a dry run). */
  backfill: BackfillRecord | null;
  dates: BackfillDate[];
  dryRun: boolean;
  /** The DAG is paused: the backfill's runs wait until it is unpaused ({@link setDagPaused}). */
  dagPaused: boolean;
}

/** Most logical dates one backfill may cover. */
export const MAX_BACKFILL_DATES = 50_000;

function toDate(v: string | Date, field: string, dagId: string): Date {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new OperationError(`${field} '${String(v)}' is not a date`, { dagId, field });
  return d;
}

/** The latest run of each logical date (latest started first, as Airflow picks it). */
function runsByDate(runs: readonly DagRunRecord[]): Map<string, DagRunRecord> {
  const out = new Map<string, DagRunRecord>();
  const key = (r: DagRunRecord) => `${r.startDate === null ? '0' : `1${r.startDate}`}#${r.queuedAt}`;
  for (const r of runs) {
    const prev = out.get(r.logicalDate);
    if (!prev || key(r) > key(prev)) out.set(r.logicalDate, r);
  }
  return out;
}

/** Why a backfill does not rerun an existing run (Airflow's `_get_dag_run_no_create_reason`), or null. */
function noRerunReason(state: RunState, behavior: ReprocessBehavior): string | null {
  if (state !== 'success' && state !== 'failed') return 'in flight';
  if (behavior === 'none') return 'already exists';
  if (behavior === 'failed' && state !== 'failed') return 'already exists';
  return null;
}

/**
 * Backfill a DAG over [fromDate, toDate] (Airflow 3's `airflow backfill create`; see the module's
 * documentation): plan each logical date, then (unless `dryRun`) store the backfill, create or clear its
 * runs (queued) and start as many as its maxActiveRuns allows. The rest start as runs end; the backfill
 * completes when its last run has ended. Listed by {@link listBackfills}.
 */
export function createBackfill(scheduler: Scheduler, options: BackfillOptions): Promise<Outcome<BackfillResult>> {
  return scheduler.step((s) => backfill(s, options));
}

async function backfill(s: Step, options: BackfillOptions): Promise<BackfillResult> {
  const { store } = s;
  const dag = loadedDag(s, options.dagId);
  const dagId = dag.dagId;
  const spec = dag.spec;
  // An assets-or-time schedule is backfilled on its time part.
  const schedule = timeSchedule(spec.schedule);
  if (!schedule || schedule.kind === 'once') {
    throw new OperationError(`the DAG has ${schedule ? "the '@once' schedule" : spec.schedule ? 'no time schedule (only assets)' : 'no schedule'}: a backfill needs a periodic schedule`, { dagId, field: 'schedule' });
  }
  const behavior = options.reprocessBehavior ?? 'none';
  if (!['none', 'failed', 'completed'].includes(behavior)) throw new OperationError(`reprocessBehavior must be 'none', 'failed' or 'completed', got '${String(behavior)}'`, { dagId });
  const maxActiveRuns = options.maxActiveRuns ?? DEFAULT_BACKFILL_MAX_ACTIVE_RUNS;
  if (!Number.isInteger(maxActiveRuns) || maxActiveRuns < 1) throw new OperationError(`maxActiveRuns must be an integer >= 1, got ${maxActiveRuns}`, { dagId });
  const from = toDate(options.fromDate, 'fromDate', dagId);
  const to = toDate(options.toDate, 'toDate', dagId);
  if (from > to) throw new OperationError(`fromDate (${from.toISOString()}) must not be after toDate (${to.toISOString()})`, { dagId });
  const now = s.now();
  if (from.getTime() >= now && to.getTime() >= now) throw new OperationError('a backfill cannot be run for future dates', { dagId });
  const conf = options.conf ?? {};
  const params = resolveParams(spec.params, conf, { dagId }, spec.strictConf === true);

  // The schedule's logical dates in [from, to] that are past (a run is due once its logical date has come).
  const start = spec.startDate ? new Date(spec.startDate) : null;
  const dates: Date[] = [];
  for (let t = nextScheduleTime(schedule, new Date(from.getTime() - 1), start); t !== null && t <= to && t.getTime() < now; t = nextScheduleTime(schedule, t, start)) {
    if (dates.length >= MAX_BACKFILL_DATES) throw new OperationError(`more than ${MAX_BACKFILL_DATES} logical dates between ${from.toISOString()} and ${to.toISOString()}: backfill a shorter range`, { dagId });
    dates.push(t);
  }
  if (dates.length === 0) throw new OperationError(`no logical date of the schedule between ${from.toISOString()} and ${to.toISOString()} has come yet`, { dagId });
  const running = (await store.listBackfills(dagId)).find((b) => b.state === 'running');
  if (running) throw new OperationError(`backfill ${running.backfillId} is running: there can be only one running backfill per DAG`, { dagId });

  const existing = runsByDate(await store.listRuns({ dagId }));
  const plan: BackfillDate[] = dates.map((d) => {
    const logicalDate = d.toISOString();
    const run = existing.get(logicalDate);
    if (!run) return { logicalDate, action: 'create', runId: `backfill__${logicalDate}`, existingState: null, reason: null };
    const reason = noRerunReason(run.state, behavior);
    return { logicalDate, action: reason === null ? 'clear' : 'skip', runId: run.runId, existingState: run.state, reason };
  });
  const dagPaused = (await store.getDagRecord(dagId))?.paused ?? false;
  if (options.dryRun) return { backfill: null, dates: plan, dryRun: true, dagPaused };

  const nowIso = iso(now);
  const backfillId = String(await store.countUp('backfill-ids'));
  const count = (p: readonly BackfillDate[]) => ({
    dates: p.length,
    created: p.filter((d) => d.action === 'create').length,
    cleared: p.filter((d) => d.action === 'clear').length,
    skipped: p.filter((d) => d.action === 'skip').length,
  });
  const record: BackfillRecord = {
    backfillId,
    dagId,
    fromDate: from.toISOString(),
    toDate: to.toISOString(),
    reprocessBehavior: behavior,
    maxActiveRuns,
    conf,
    state: 'running',
    createdAt: nowIso,
    completedAt: null,
    counts: count(plan),
  };
  if (!(await store.createBackfill(record))) throw new OperationError(`backfill id ${backfillId} is taken`, { dagId });
  if ((await store.getDagRecord(dagId))?.version !== spec.version) await store.registerDagVersion(versionEntryOf(dag), nowIso);
  const pinned = pinVersions(s, dag);

  for (const d of plan) {
    if (d.action === 'create') {
      const run: DagRunRecord = {
        dagId,
        runId: d.runId!,
        state: 'queued',
        runType: 'backfill',
        conf,
        params,
        logicalDate: d.logicalDate,
        queuedAt: nowIso,
        startDate: null,
        endDate: null,
        dagVersion: spec.version,
        pending: spec.tasks.length,
        parent: null,
        pipelineScope: pipelineScopeOf({ dagId, runId: d.runId! }),
        note: null,
        backfillId,
        ...(pinned ? { pinnedVersions: pinned } : {}),
      };
      if (await store.createRun(run)) s.emitRun(run);
      else Object.assign(d, { action: 'skip', reason: 'in flight' });
    } else if (d.action === 'clear') {
      const runPatch: Partial<DagRunRecord> = { runType: 'backfill', backfillId, ...(options.conf ? { conf, params } : {}) };
      const res = await clearRun(s, { dagId, runId: d.runId! }, { runPatch, start: false });
      if (res.cleared.length === 0 || res.runState.after !== 'queued') Object.assign(d, { action: 'skip', reason: 'in flight' });
    }
  }
  const counts = count(plan);
  let backfill = (await store.updateBackfill(dagId, backfillId, null, { counts })) ?? { ...record, counts };
  await startQueuedRuns(s, dagId);
  if (counts.created + counts.cleared === 0) backfill = (await checkBackfill(s, dagId, backfillId)) ?? backfill;
  return { backfill: (await store.getBackfill(dagId, backfillId)) ?? backfill, dates: plan, dryRun: false, dagPaused };
}

/** A DAG's backfills, oldest first. */
export async function listBackfills(store: StateStore, dagId: string): Promise<BackfillRecord[]> {
  return store.listBackfills(dagId);
}

/** The runs of a backfill, oldest logical date first. */
export async function listBackfillRuns(store: StateStore, dagId: string, backfillId: string): Promise<DagRunRecord[]> {
  return (await store.listRuns({ dagId })).filter((r) => r.backfillId === backfillId);
}
