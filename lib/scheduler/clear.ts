// Clear: task instances of a run run again (Airflow 3's `clear_task_instances`; see operations.ts for
// the semantics).

import type { Dag } from '../authoring/dag.ts';
import { groupOf } from '../core/arrays.ts';
import { setupsAndTeardownsToClear } from '../core/setup-teardown.ts';
import { DagVersionUnavailableError } from '../errors.ts';
import { isTerminalRunState, isTerminalTiState, type RunState, type TerminalTiState, type TiState } from '../model/states.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { DagRunRecord, TaskInstanceRecord } from '../store/records.ts';
import { notStarted, tiKeyOf } from '../store/records.ts';
import type { ResetRequest } from '../store/state-store.ts';
import type { Outcome } from './effects.ts';
import { loadedDag, OperationError } from './operation-error.ts';
import { resumeRun, topologicalOrder } from './reconcile.ts';
import { guarded } from './run-end.ts';
import { reopenRun } from './runs.ts';
import type { Scheduler } from './scheduler.ts';
import type { Step } from './step.ts';


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
  /**
   * Rerun the cleared tasks on the DAG's latest version (the run's version becomes it), as Airflow 3's
   * `run_on_latest_version`; otherwise they rerun on the run's own version.
   * @default false
   */
  runOnLatestVersion?: boolean;
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
    for (const d of next(dag.task(id))) stack.push(d);
  }
  return out;
}

/**
 * Clear task instances of a run so that they run again (Airflow's "Clear", `airflow tasks clear`, the
 * REST API's clearTaskInstances): see the module's documentation for the semantics. Returns what was
 * cleared, what was left and why, and the run's state.
 */
export function clearTaskInstances(scheduler: Scheduler, options: ClearOptions): Promise<Outcome<ClearResult>> {
  return scheduler.step((s) => clearRun(s, options, {}));
}

/** The run's own version of its DAG; an OperationError naming the version and the way out when its code cannot be had. */
async function versionToRerun(s: Step, run: DagRunRecord): Promise<Dag> {
  try {
    return await s.dagOf(run);
  } catch (e) {
    if (!(e instanceof DagVersionUnavailableError)) throw e;
    throw new OperationError(
      `the run's DAG version ${run.dagVersion} cannot be loaded (its code is no longer kept), so its tasks cannot rerun on it; clear with runOnLatestVersion (--run-on-latest-version) to rerun them on the latest version`,
      { dagId: run.dagId },
    );
  }
}

/** Clearing, with what a backfill adopting a run adds: a patch for the reopened run, and not starting it yet. */
export async function clearRun(s: Step, options: ClearOptions, internal: { runPatch?: Partial<DagRunRecord>; start?: boolean }): Promise<ClearResult> {
  const { store } = s;
  const latest = loadedDag(s, options.dagId);
  const run = await store.getRun({ dagId: latest.dagId, runId: options.runId });
  if (!run) throw new OperationError(`no run '${options.runId}' of DAG '${latest.dagId}'`, { dagId: options.dagId });
  const onLatest = options.runOnLatestVersion ?? false;
  // The version the cleared tasks rerun on, had before anything is written: one whose code cannot be had
  // refuses the clear.
  const dag = onLatest ? latest : await versionToRerun(s, run);
  const unknown = (options.taskIds ?? []).filter((id) => !dag.spec.tasks.some((t) => t.taskId === id));
  if (unknown.length) throw new OperationError(`no task ${unknown.map((id) => `'${id}'`).join(', ')} in the DAG`, { dagId: dag.dagId });

  const { plans, skipped } = planClear(s, dag, await store.listTaskInstances(run), options);
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
  await store.updateRun(run, null, { clearNumber: (run.clearNumber ?? 0) + 1, ...(onLatest ? { dagVersion: latest.spec.version } : {}) });
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
      if (r.to !== 'absent') s.emitTi({ ...plan.tis.get(c.mapIndex)!, ...r.to });
    });
  }
  // A mapped task expanding again: once none of its instances is left, withdraw its expansion.
  const states = await store.getTaskStates(run, plans.map((p) => p.t.taskId));
  for (let i = 0; i < plans.length; i++) {
    const plan = plans[i]!;
    const rec = states[i];
    if (!plan.expanded || rec?.decision !== 'expanded' || rec.mapCount === null) continue;
    if ((await store.listTaskInstances(run, plan.t.taskId)).length > 0) continue;
    const priorTries = plan.cleared.reduce((m, c) => Math.max(m, c.tryNumber), 0);
    await store.withdrawExpansion(run, plan.t.taskId, rec.mapCount, plan.t.downstream, priorTries);
  }
  result.cleared = done;
  if (done.length === 0) return result;

  const ref = { dagId: run.dagId, runId: run.runId };
  let now = await store.getRun(ref);
  if (now && isTerminalRunState(now.state)) {
    await reopenRun(s, ref, internal.runPatch ?? {}, internal.start ?? true, onLatest);
  } else if (now?.state === 'running') {
    await guarded(s, ref, () => resumeRun(s, ref), undefined);
    // It ended meanwhile (a finish that saw nothing pending just before these resets): run it again.
    now = await store.getRun(ref);
    if (now && isTerminalRunState(now.state) && now.pending > 0) await reopenRun(s, ref, internal.runPatch ?? {}, internal.start ?? true, onLatest);
  }
  result.runState.after = (await store.getRun(ref))?.state ?? result.runState.after;
  return result;
}

/** Which instances a clear resets, and how (see the module's documentation). */
function planClear(s: Step, dag: Dag, tis: readonly TaskInstanceRecord[], options: ClearOptions): { plans: (TaskPlan & { tis: Map<number, TaskInstanceRecord> })[]; skipped: SkippedInstance[] } {
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
  // With each task, its relevant setups and their teardowns (Airflow 2.7's clear of setup/teardown).
  for (const id of [...selected]) for (const x of setupsAndTeardownsToClear(id, (i) => dag.task(i))) selected.add(x);

  const skipped: SkippedInstance[] = [];
  const skip = (ti: TaskInstanceRecord, reason: string) => skipped.push({ taskId: ti.taskId, mapIndex: ti.mapIndex, state: ti.state, reason });
  const order = topologicalOrder(dag);
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
      } else if (s.isArrayTask(t)) {
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
      plan.reqs.push({ key: tiKeyOf(ti), expect: { state, tryNumber: ti.tryNumber }, to, downstream: t.downstream, ...(undecide ? { undecide } : {}) });
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
      const array = s.isArrayTask(t);
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
