/**
 * The operations behind Airflow's "clear" (rerun task instances), "delete DAG" and "backfill": what a
 * CLI, a REST API or a web UI calls. They read the store, plan, then change it through the store's
 * conditional methods and let the scheduler carry the runs on, so they are safe while the scheduler
 * works (each instance is reset exactly once; a run ends once everything is done again).
 *
 * Clearing (Airflow 3's `clear_task_instances`):
 * - A cleared instance loses its state and runs again; its try number keeps counting (the next try is
 *   n + 1) and its retries apply again (`maxTries` becomes n + retries + 1: Airflow's
 *   `max_tries = try_number + retries`). Its XComs and item results are deleted (a rerun starts from
 *   nothing); the logs of its earlier tries stay.
 * - Undoing a finish: the instance's state is taken back out of its task's own tally, each downstream
 *   task's upstream tally and the run's pending count (`StateStore.resetTaskInstances`), so trigger rules
 *   see exactly the upstreams that are done, never one twice.
 * - A task that is not mapped (or was settled without expanding) goes back to undecided, its instance
 *   removed ("no state"): the scheduler decides it again from its trigger rule as soon as its upstreams
 *   are done, at once for the topmost cleared tasks and, for a task with a cleared upstream, when that
 *   upstream has finished again, as in a fresh run. A task a branch or short-circuit skipped is skipped
 *   again unless that upstream is cleared too (Airflow's NotPreviouslySkippedDep).
 * - Map indexes of a mapped task whose upstreams are not cleared go back to `scheduled` and run alone.
 *   An array task's come back as a new wave of their group; its try number continues from the group's
 *   highest (wave job names are per group and try, and must not repeat), which may skip numbers.
 * - A mapped task with a cleared upstream expands again (Airflow re-expands when the upstream that gives
 *   its list reruns): all its instances are removed, the expansion is withdrawn from the downstream
 *   tallies and the run's pending count (`StateStore.withdrawExpansion`), and the task is decided anew
 *   when the upstream finishes, with as many instances as the new list has; their tries continue from
 *   the highest of the old instances'.
 * - Instances that have not finished (queued, running, deferred, up for retry) are left as they are,
 *   and reported: airless cannot stop a running try the way Airflow's `restarting` does.
 * - A finished run goes back to queued (end date cleared) and starts when its maxActiveRuns allows; it
 *   ends again when everything is done. A running run goes on.
 *
 * Backfills (Airflow 3's `airflow backfill create`): runs of type `backfill` for the schedule's logical
 * dates in [from, to] that are past; an existing run for a date is skipped (`none`), cleared when it
 * failed (`failed`) or when it finished in any state (`completed`), and always skipped while queued or
 * running. The backfill's maxActiveRuns (default 10) limits its runs, independently of the DAG's
 * maxActiveRuns (Airflow counts a backfill's runs apart from the DAG's other runs). There can be one
 * running backfill per DAG. Its runs do not start while the DAG is paused (Airflow's scheduler leaves
 * the queued runs of a paused DAG alone); unpausing with {@link setDagPaused} starts them.
 */
import type { Dag } from '../authoring/dag.ts';
import { groupOf } from '../core/arrays.ts';
import { resolveParams } from '../core/params.ts';
import { AirlessError, DagNotFoundError } from '../errors.ts';
import { nextScheduleTime } from '../model/schedule.ts';
import type { TaskSpec } from '../model/spec.ts';
import { isTerminalRunState, isTerminalTiState, type RunState, type TerminalTiState, type TiState } from '../model/states.ts';
import { iso } from '../model/time.ts';
import type { BackfillRecord, DagRecord, DagRunRecord, ReprocessBehavior, TaskInstanceRecord, TiKey } from '../store/records.ts';
import { notStarted, pipelineScopeOf } from '../store/records.ts';
import type { DeletedRun, ResetRequest, StateStore } from '../store/state-store.ts';
import { DEFAULT_BACKFILL_MAX_ACTIVE_RUNS, runSemaphore, type Scheduler } from './scheduler.ts';

/** An operation refused (what was asked does not fit the state of things), saying why. */
export class OperationError extends AirlessError {
  override name = 'OperationError';
}

const tiKey = (ti: TiKey): TiKey => ({ dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex });

function loadedDag(scheduler: Scheduler, dagId: string): Dag {
  const dag = scheduler.dags.getDag(dagId);
  if (!dag) throw new DagNotFoundError(`no DAG '${dagId}' is loaded`, { dagId });
  return dag;
}

// -------------------------------------------------------------------------------------------------------
// Clear

export interface ClearOptions {
  dagId: string;
  runId: string;
  /**
   * Tasks to clear.
   * @default every task of the DAG
   */
  taskIds?: readonly string[];
  /**
   * Only these map indexes of the tasks in `taskIds` (-1: a task that is not mapped).
   * @default all
   */
  mapIndexes?: readonly number[];
  /**
   * Only instances that failed or are upstream_failed (Airflow's `only_failed`).
   * @default false
   */
  onlyFailed?: boolean;
  /**
   * Also every task downstream of them, transitively (Airflow's `include_downstream`).
   * @default false
   */
  downstream?: boolean;
  /**
   * Also every task upstream of them, transitively (Airflow's `include_upstream`).
   * @default false
   */
  upstream?: boolean;
  /**
   * Say what would be cleared; change nothing.
   * @default false
   */
  dryRun?: boolean;
}

/** An instance cleared (or, in a dry run, that would be). */
export interface ClearedInstance {
  taskId: string;
  mapIndex: number;
  /** The state it had. */
  state: TerminalTiState;
  /** The try it had reached. */
  tryNumber: number;
  /** The number its next try will have (if it runs). */
  nextTry: number;
  /**
   * `rerun`: back to scheduled, it runs again as soon as its run runs (a map index whose upstreams are
   * not cleared). `redecide`: back to no state, its task is decided again from its trigger rule when its
   * upstreams are done (a mapped one expands again).
   */
  mode: 'rerun' | 'redecide';
}

/** A selected instance left as it is. */
export interface SkippedInstance {
  taskId: string;
  mapIndex: number;
  state: TiState;
  reason: string;
}

export interface ClearResult {
  dagId: string;
  runId: string;
  dryRun: boolean;
  cleared: ClearedInstance[];
  skipped: SkippedInstance[];
  /** The run's state before, and after (a finished run with instances cleared goes back to queued, then running). */
  runState: { before: RunState; after: RunState };
}

interface TaskPlan {
  t: TaskSpec;
  mode: 'rerun' | 'redecide';
  /** Redecide of an expanded task: its expansion is withdrawn once its instances are gone. */
  expanded: boolean;
  reqs: ResetRequest[];
  cleared: ClearedInstance[];
}

/** Every task reachable from `ids` through `next` (the ids themselves not included unless reached). */
function reachable(dag: Dag, ids: Iterable<string>, next: (t: TaskSpec) => readonly string[]): Set<string> {
  const out = new Set<string>();
  const stack = [...ids].flatMap((id) => next(dag.task(id)));
  while (stack.length) {
    const id = stack.pop()!;
    if (out.has(id)) continue;
    out.add(id);
    stack.push(...next(dag.task(id)));
  }
  return out;
}

/**
 * Clear task instances of a run so that they run again (Airflow's "Clear", `airflow tasks clear`, the
 * REST API's clearTaskInstances): see the module's documentation for the semantics. Returns what was
 * cleared, what was left and why, and the run's state.
 */
export async function clearTaskInstances(scheduler: Scheduler, options: ClearOptions): Promise<ClearResult> {
  return clearRun(scheduler, options, {});
}

/** Clearing, with what a backfill adopting a run adds: a patch for the reopened run, and not starting it yet. */
async function clearRun(scheduler: Scheduler, options: ClearOptions, internal: { runPatch?: Partial<DagRunRecord>; start?: boolean }): Promise<ClearResult> {
  const { store } = scheduler;
  const dag = loadedDag(scheduler, options.dagId);
  const run = await store.getRun({ dagId: dag.dagId, runId: options.runId });
  if (!run) throw new OperationError(`no run '${options.runId}' of DAG '${dag.dagId}'`, { dagId: options.dagId });
  const unknown = (options.taskIds ?? []).filter((id) => !dag.spec.tasks.some((t) => t.taskId === id));
  if (unknown.length) throw new OperationError(`no task ${unknown.map((id) => `'${id}'`).join(', ')} in the DAG`, { dagId: dag.dagId });

  const { plans, skipped } = planClear(scheduler, dag, await store.listTaskInstances(run), options);
  const cleared = plans.flatMap((p) => p.cleared);
  const result: ClearResult = {
    dagId: dag.dagId,
    runId: run.runId,
    dryRun: options.dryRun ?? false,
    cleared,
    skipped,
    runState: { before: run.state, after: cleared.length && isTerminalRunState(run.state) ? 'queued' : run.state },
  };
  if (options.dryRun || cleared.length === 0) return result;

  // Counted first: a cleared run re-checks branch skips when it decides (see Scheduler.decide).
  await store.updateRun(run, null, { clearNumber: (run.clearNumber ?? 0) + 1 });
  await store.deleteTaskResults(cleared.map((c) => ({ dagId: run.dagId, runId: run.runId, taskId: c.taskId, mapIndex: c.mapIndex })));
  const done: ClearedInstance[] = [];
  for (const plan of plans) {
    const res = await store.resetTaskInstances(plan.reqs);
    plan.reqs.forEach((r, i) => {
      const c = plan.cleared[i]!;
      if (!res.applied[i]) {
        skipped.push({ taskId: c.taskId, mapIndex: c.mapIndex, state: c.state, reason: 'it changed while being cleared (cleared by someone else?)' });
        return;
      }
      done.push(c);
      if (r.to !== 'absent') scheduler.host.emit?.({ type: 'ti', ti: { ...plan.tis.get(c.mapIndex)!, ...r.to } });
    });
  }
  // A mapped task expanding again: once none of its instances is left, withdraw its expansion.
  const states = await store.getTaskStates(run, plans.map((p) => p.t.taskId));
  for (let i = 0; i < plans.length; i++) {
    const plan = plans[i]!;
    const s = states[i];
    if (!plan.expanded || s?.decision !== 'expanded' || s.mapCount === null) continue;
    if ((await store.listTaskInstances(run, plan.t.taskId)).length > 0) continue;
    const priorTries = plan.cleared.reduce((m, c) => Math.max(m, c.tryNumber), 0);
    await store.withdrawExpansion(run, plan.t.taskId, s.mapCount, plan.t.downstream, priorTries);
  }
  result.cleared = done;
  if (done.length === 0) return result;

  const ref = { dagId: run.dagId, runId: run.runId };
  let now = await store.getRun(ref);
  if (now && isTerminalRunState(now.state)) {
    await scheduler.reopenRun(ref, internal.runPatch ?? {}, { start: internal.start ?? true });
  } else if (now?.state === 'running') {
    await scheduler.resumeRun(ref);
    // It ended meanwhile (a finish that saw nothing pending just before these resets): run it again.
    now = await store.getRun(ref);
    if (now && isTerminalRunState(now.state) && now.pending > 0) await scheduler.reopenRun(ref, internal.runPatch ?? {}, { start: internal.start ?? true });
  }
  result.runState.after = (await store.getRun(ref))?.state ?? result.runState.after;
  return result;
}

/** Which instances a clear resets, and how (see the module's documentation). */
function planClear(scheduler: Scheduler, dag: Dag, tis: readonly TaskInstanceRecord[], options: ClearOptions): { plans: (TaskPlan & { tis: Map<number, TaskInstanceRecord> })[]; skipped: SkippedInstance[] } {
  const byTask = new Map<string, TaskInstanceRecord[]>();
  for (const ti of tis) {
    const list = byTask.get(ti.taskId);
    if (list) list.push(ti);
    else byTask.set(ti.taskId, [ti]);
  }
  const named = options.taskIds ? new Set(options.taskIds) : null;
  const base = named ?? new Set(dag.spec.tasks.map((t) => t.taskId));
  const selected = new Set(base);
  if (options.downstream) for (const id of reachable(dag, base, (t) => t.downstream)) selected.add(id);
  if (options.upstream) for (const id of reachable(dag, base, (t) => t.upstream)) selected.add(id);

  const skipped: SkippedInstance[] = [];
  const skip = (ti: TaskInstanceRecord, reason: string) => skipped.push({ taskId: ti.taskId, mapIndex: ti.mapIndex, state: ti.state, reason });
  const order = scheduler.topologicalOrder(dag);
  // The instances picked, finished ones only.
  const picked = new Map<string, TaskInstanceRecord[]>();
  for (const t of order) {
    if (!selected.has(t.taskId)) continue;
    for (const ti of byTask.get(t.taskId) ?? []) {
      if (options.mapIndexes && named?.has(t.taskId) && !options.mapIndexes.includes(ti.mapIndex)) continue;
      if (options.onlyFailed && ti.state !== 'failed' && ti.state !== 'upstream_failed') continue;
      if (!isTerminalTiState(ti.state)) {
        skip(ti, `it is ${ti.state}: only finished instances can be cleared (clear it when it has finished)`);
        continue;
      }
      const list = picked.get(t.taskId);
      if (list) list.push(ti);
      else picked.set(t.taskId, [ti]);
    }
  }
  const expanded = (id: string) => (byTask.get(id) ?? []).some((ti) => ti.mapIndex >= 0);
  const busy = (ti: TaskInstanceRecord) => !isTerminalTiState(ti.state);
  // Tasks left out whole, and why: to a fixpoint, as leaving a task out may free its downstream tasks.
  const excluded = new Map<string, string>();
  const inClear = (id: string) => picked.has(id) && !excluded.has(id);
  const waits = (t: TaskSpec) => t.upstream.some(inClear);
  const busyGroups = (id: string) => new Set((byTask.get(id) ?? []).filter(busy).map((ti) => groupOf(ti.mapIndex)));
  for (let changed = true; changed; ) {
    changed = false;
    for (const id of picked.keys()) {
      if (excluded.has(id) || !expanded(id)) continue;
      const t = dag.task(id);
      if (waits(t)) {
        if ((byTask.get(id) ?? []).some(busy)) {
          excluded.set(id, 'a mapped task whose upstream is cleared expands again, but some of its instances have not finished');
          changed = true;
        }
      } else if (scheduler.isArrayTask(t)) {
        const groups = busyGroups(id);
        if (picked.get(id)!.every((ti) => groups.has(groupOf(ti.mapIndex)))) {
          excluded.set(id, 'its array group has a wave in flight: clear it when the wave has ended');
          changed = true;
        }
      }
    }
  }

  const plans: (TaskPlan & { tis: Map<number, TaskInstanceRecord> })[] = [];
  for (const t of order) {
    const chosen = picked.get(t.taskId);
    if (!chosen) continue;
    const why = excluded.get(t.taskId);
    if (why !== undefined) {
      for (const ti of chosen) skip(ti, why);
      continue;
    }
    const all = byTask.get(t.taskId) ?? [];
    const plan: TaskPlan & { tis: Map<number, TaskInstanceRecord> } = { t, mode: 'redecide', expanded: false, reqs: [], cleared: [], tis: new Map() };
    const add = (ti: TaskInstanceRecord, to: ResetRequest['to'], nextTry: number, undecide?: { priorTries: number }) => {
      const state = ti.state as TerminalTiState;
      plan.reqs.push({ key: tiKey(ti), expect: { state, tryNumber: ti.tryNumber }, to, downstream: t.downstream, ...(undecide ? { undecide } : {}) });
      plan.cleared.push({ taskId: t.taskId, mapIndex: ti.mapIndex, state, tryNumber: ti.tryNumber, nextTry, mode: plan.mode });
      plan.tis.set(ti.mapIndex, ti);
    };
    if (!expanded(t.taskId)) {
      // One instance (map index -1): the task is decided again.
      for (const ti of chosen) add(ti, 'absent', ti.tryNumber + 1, { priorTries: ti.tryNumber });
    } else if (waits(t)) {
      // Expands again once its cleared upstream has finished: every instance goes.
      plan.expanded = true;
      const next = all.reduce((m, ti) => Math.max(m, ti.tryNumber), 0) + 1;
      for (const ti of all) add(ti, 'absent', next);
    } else {
      plan.mode = 'rerun';
      const array = scheduler.isArrayTask(t);
      const groups = array ? busyGroups(t.taskId) : new Set<number>();
      const groupMax = new Map<number, number>();
      if (array) for (const ti of all) groupMax.set(groupOf(ti.mapIndex), Math.max(groupMax.get(groupOf(ti.mapIndex)) ?? 0, ti.tryNumber));
      for (const ti of chosen) {
        if (groups.has(groupOf(ti.mapIndex))) {
          skip(ti, 'its array group has a wave in flight: clear it when the wave has ended');
          continue;
        }
        const from = array ? groupMax.get(groupOf(ti.mapIndex))! : ti.tryNumber;
        add(ti, rerunPatch(t, from), from + 1);
      }
    }
    if (plan.reqs.length) plans.push(plan);
  }
  return { plans, skipped };
}

/** An instance back to scheduled, its next try `from + 1` with the task's retries counted from there. */
function rerunPatch(t: TaskSpec, from: number): Partial<TaskInstanceRecord> {
  return { state: 'scheduled', tryNumber: from, maxTries: from + t.retries + 1, ...notStarted() };
}

// -------------------------------------------------------------------------------------------------------
// Delete a DAG

export interface DeleteDagOptions {
  /**
   * Delete even though runs are queued or running. With `scheduler` (and the DAG loaded in it), those
   * runs are first stopped as at a dagrun timeout (their unfinished instances give back their slots, a
   * run waiting for them as a triggered run is resumed); without, they are deleted as they are.
   */
  force?: boolean;
  scheduler?: Scheduler;
}

export interface DeleteDagResult {
  dagId: string;
  /** What was deleted, per run. */
  runs: DeletedRun[];
  /** Sums over the runs. */
  totals: Omit<DeletedRun, 'dagId' | 'runId'> & { runs: number };
  /** Whether the DAG's registry record (version, paused flag) was deleted. */
  dagRecord: boolean;
  backfills: number;
  /** Runs that were queued or running, stopped before being deleted (force). */
  stopped: string[];
  /** What a forced delete could not tidy up. */
  warnings: string[];
}

/**
 * Delete every run of a DAG with its task instances, XComs, item results, logs and pipeline context,
 * its backfills, its registry record and its concurrency counters (Airflow's `airflow dags delete`,
 * which refuses while task instances run). Refused while a run is queued or running unless `force`.
 * The DAG's code is not touched: a DAG still in the DAGs folder registers again on its next run.
 */
export async function deleteDag(store: StateStore, dagId: string, options: DeleteDagOptions = {}): Promise<DeleteDagResult> {
  const runs = await store.listRuns({ dagId });
  const active = runs.filter((r) => r.state === 'queued' || r.state === 'running');
  if (active.length && !options.force) {
    const list = active.slice(0, 5).map((r) => `${r.runId} (${r.state})`).join(', ');
    throw new OperationError(`${active.length} run(s) are queued or running: ${list}${active.length > 5 ? ', ...' : ''}; wait for them to end, or delete with force`, { dagId });
  }
  const record: DagRecord | undefined = await store.getDagRecord(dagId);
  const backfills = await store.listBackfills(dagId);
  if (runs.length === 0 && !record && backfills.length === 0) throw new DagNotFoundError(`nothing of DAG '${dagId}' is in the store`, { dagId });
  const dag = options.scheduler?.dags.getDag(dagId);
  const result: DeleteDagResult = {
    dagId,
    runs: [],
    totals: { runs: 0, taskInstances: 0, xcoms: 0, itemResults: 0, logs: 0, pipelineSaves: 0 },
    dagRecord: false,
    backfills: 0,
    stopped: [],
    warnings: [],
  };
  if (active.length) {
    if (options.scheduler && dag) {
      for (const r of active) {
        await options.scheduler.stopRun(r, 'the DAG was deleted');
        result.stopped.push(r.runId);
      }
    } else {
      result.warnings.push(
        `${active.length} queued or running run(s) were deleted without being stopped (no scheduler with the DAG loaded was given): slots their running tries hold in shared pools are not given back, and a run waiting for one of them as a triggered run waits on`,
      );
    }
  }
  for (const r of runs) {
    const d = await store.deleteRun(r);
    if (!d) continue;
    result.runs.push(d);
    result.totals.runs++;
    result.totals.taskInstances += d.taskInstances;
    result.totals.xcoms += d.xcoms;
    result.totals.itemResults += d.itemResults;
    result.totals.logs += d.logs;
    result.totals.pipelineSaves += d.pipelineSaves;
  }
  const deleted = await store.deleteDagRecord(dagId);
  result.dagRecord = deleted.dagRecord;
  result.backfills = deleted.backfills;
  // Its concurrency counters: maxActiveRuns, maxActiveTasks, maxActiveTisPerDag (named by the loaded DAG), backfills'.
  await store.deleteSemaphores([
    runSemaphore(dagId, null),
    `dag:${dagId}`,
    ...backfills.map((b) => runSemaphore(dagId, b.backfillId)),
    ...(dag?.spec.tasks.map((t) => `task:${dagId}:${t.taskId}`) ?? []),
  ]);
  return result;
}

// -------------------------------------------------------------------------------------------------------
// Pause

/**
 * Pause or unpause a DAG. Paused, its schedule creates no runs and its backfill runs wait; unpausing
 * starts the queued runs its maxActiveRuns (and its backfill's) allow.
 */
export async function setDagPaused(scheduler: Scheduler, dagId: string, paused: boolean): Promise<DagRecord> {
  const rec = await scheduler.store.setDagPaused(dagId, paused, iso(scheduler.host.now()));
  if (!paused && scheduler.dags.getDag(dagId)) await scheduler.startQueuedRuns(dagId);
  return rec;
}

// -------------------------------------------------------------------------------------------------------
// Backfill

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
export async function createBackfill(scheduler: Scheduler, options: BackfillOptions): Promise<BackfillResult> {
  const { store } = scheduler;
  const dag = loadedDag(scheduler, options.dagId);
  const dagId = dag.dagId;
  const spec = dag.spec;
  if (!spec.schedule || spec.schedule.kind === 'once') {
    throw new OperationError(`the DAG has ${spec.schedule ? "the '@once' schedule" : 'no schedule'}: a backfill needs a periodic schedule`, { dagId, field: 'schedule' });
  }
  const behavior = options.reprocessBehavior ?? 'none';
  if (!['none', 'failed', 'completed'].includes(behavior)) throw new OperationError(`reprocessBehavior must be 'none', 'failed' or 'completed', got '${String(behavior)}'`, { dagId });
  const maxActiveRuns = options.maxActiveRuns ?? DEFAULT_BACKFILL_MAX_ACTIVE_RUNS;
  if (!Number.isInteger(maxActiveRuns) || maxActiveRuns < 1) throw new OperationError(`maxActiveRuns must be an integer >= 1, got ${maxActiveRuns}`, { dagId });
  const from = toDate(options.fromDate, 'fromDate', dagId);
  const to = toDate(options.toDate, 'toDate', dagId);
  if (from > to) throw new OperationError(`fromDate (${from.toISOString()}) must not be after toDate (${to.toISOString()})`, { dagId });
  const now = scheduler.host.now();
  if (from.getTime() >= now && to.getTime() >= now) throw new OperationError('a backfill cannot be run for future dates', { dagId });
  const conf = options.conf ?? {};
  const params = resolveParams(spec.params, conf, { dagId });

  // The schedule's logical dates in [from, to] that are past (a run is due once its logical date has come).
  const start = spec.startDate ? new Date(spec.startDate) : null;
  const dates: Date[] = [];
  for (let t = nextScheduleTime(spec.schedule, new Date(from.getTime() - 1), start); t !== null && t <= to && t.getTime() < now; t = nextScheduleTime(spec.schedule, t, start)) {
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
  if ((await store.getDagRecord(dagId))?.version !== spec.version) await store.registerDagVersion(dagId, spec.version, spec.fileloc, nowIso);

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
      };
      if (await store.createRun(run)) scheduler.host.emit?.({ type: 'run', run });
      else Object.assign(d, { action: 'skip', reason: 'in flight' });
    } else if (d.action === 'clear') {
      const runPatch: Partial<DagRunRecord> = { runType: 'backfill', backfillId, ...(options.conf ? { conf, params } : {}) };
      const res = await clearRun(scheduler, { dagId, runId: d.runId! }, { runPatch, start: false });
      if (res.cleared.length === 0 || res.runState.after !== 'queued') Object.assign(d, { action: 'skip', reason: 'in flight' });
    }
  }
  const counts = count(plan);
  let backfill = (await store.updateBackfill(dagId, backfillId, null, { counts })) ?? { ...record, counts };
  await scheduler.startQueuedRuns(dagId);
  if (counts.created + counts.cleared === 0) backfill = (await scheduler.checkBackfill(dagId, backfillId)) ?? backfill;
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
