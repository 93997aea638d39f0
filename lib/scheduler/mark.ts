// Marking: a run set to success, failed or queued, and task instances set to success, failed or skipped
// (Airflow 3's "Mark as", `PATCH dagRuns/{run}` and `PATCH taskInstances/{task}`); notes on runs and
// task instances. Every change is a conditional write on the state read, so a try that ends while it is
// marked (or is aborted by the mark) cannot overwrite the mark, and a mark made twice changes nothing more.
//
// Runs (Airflow 3's set_dag_run_state_to_*):
// - `failed` stops a queued or running run: it fails, its running tries are aborted (locally their
//   AbortSignal fires; deployed, the host stops what it can), its running and deferred instances fail,
//   its other unfinished instances and its tasks not decided yet are skipped.
// - `success` ends it in success: its running tries are aborted and every unfinished instance, and every
//   task not decided yet, is marked success.
// - A finished run marked the other way changes state only (its instances stay as they are).
// - `queued` runs a finished run again as it is: nothing is cleared, so it ends again at once by its
//   leaves (clear task instances to rerun them); a queued run stays queued; a running one is refused.
//
// Task instances (Airflow 3's set_state): the instances of a task (one map index, or all) in a run, with
// its upstream and downstream tasks (transitively) and the same tasks in earlier and later runs when
// asked. Each one not already in the new state is moved to it: an unfinished one finishes (a running try
// is aborted, its slots given back); a finished one has its old state uncounted and the new one counted,
// so the downstream tallies are right; a task not decided yet is settled in the state. In a running
// run, the downstream tasks then decide on their trigger rules as after any finish (a task downstream of
// an instance marked success gets scheduled, once), and the run ends when nothing is pending. Then, as
// Airflow's set_task_instance_state, the failed and upstream_failed tasks downstream of the task (those
// not marked) are cleared in each run marked, so they run on from the new state (a finished run runs again).

import type { Dag } from '../authoring/dag.ts';
import { skipInfo } from '../errors.ts';
import { isTerminalRunState, isTerminalTiState, type RunState, type TerminalTiState, type TiState } from '../model/states.ts';
import type { TaskSpec } from '../model/spec.ts';
import { iso } from '../model/time.ts';
import { runRefOf, tiKeyOf, type DagRunRecord, type TaskInstanceRecord, type TiKey } from '../store/records.ts';
import { finish, settleTerminal } from './decisions.ts';
import { clearRun } from './clear.ts';
import type { Outcome } from './effects.ts';
import { loadedDag, OperationError } from './operation-error.ts';
import { endRunMarked, guarded } from './run-end.ts';
import { reopenRun } from './runs.ts';
import type { Scheduler } from './scheduler.ts';
import { tiHolder } from './slots.ts';
import type { Step } from './step.ts';

/** The states a run can be marked in (Airflow 3's DAGRunPatchStates). */
export const RUN_MARK_STATES = ['success', 'failed', 'queued'] as const;
export type RunMarkState = (typeof RUN_MARK_STATES)[number];

/** The states a task instance can be marked in (Airflow 3's `new_state`). */
export const TI_MARK_STATES = ['success', 'failed', 'skipped'] as const;
export type TiMarkState = (typeof TI_MARK_STATES)[number];

export interface MarkRunOptions {
  dagId: string;
  runId: string;
  /** The state to set. */
  state: RunMarkState;
}

export interface MarkRunResult {
  dagId: string;
  runId: string;
  /** The run's state before, and after. */
  runState: { before: RunState; after: RunState };
}

/** An instance marked (or, in a dry run, that would be). `mapIndex` -1 and `state` null: a task not decided yet, settled. */
export interface MarkedInstance {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  /** Its state before (null: the task had no instance). */
  state: TiState | null;
}

export interface MarkTaskInstancesOptions {
  dagId: string;
  runId: string;
  taskId: string;
  /**
   * Only this map index of the task (-1: a task that is not mapped). Its upstream and downstream tasks
   * are marked whole.
   * @default every instance of the task
   */
  mapIndex?: number;
  /** The state to set. */
  state: TiMarkState;
  /**
   * Also every task upstream of it, transitively (Airflow's `include_upstream`).
   * @default false
   */
  upstream?: boolean;
  /**
   * Also every task downstream of it, transitively (Airflow's `include_downstream`).
   * @default false
   */
  downstream?: boolean;
  /**
   * Also the same tasks in the DAG's runs with a later logical date (Airflow's `include_future`).
   * @default false
   */
  future?: boolean;
  /**
   * Also the same tasks in the DAG's runs with an earlier logical date (Airflow's `include_past`).
   * @default false
   */
  past?: boolean;
  /**
   * Say what would be marked; change nothing (Airflow's `dry_run`).
   * @default false
   */
  dryRun?: boolean;
}

export interface MarkTaskInstancesResult {
  dryRun: boolean;
  /** The instances marked (in a dry run, that would be), run by run in logical-date order, tasks in DAG order. */
  marked: MarkedInstance[];
}

/** See the module's documentation. */
export function markRunState(scheduler: Scheduler, options: MarkRunOptions): Promise<Outcome<MarkRunResult>> {
  return scheduler.step((s) => markRun(s, options));
}

/** See the module's documentation. */
export function markTaskInstances(scheduler: Scheduler, options: MarkTaskInstancesOptions): Promise<Outcome<MarkTaskInstancesResult>> {
  return scheduler.step((s) => markTis(s, options));
}

/** Set (or, with null, remove) a run's note. */
export function setRunNote(scheduler: Scheduler, ref: { dagId: string; runId: string }, note: string | null): Promise<Outcome<DagRunRecord>> {
  return scheduler.step(async (s) => {
    const dag = loadedDag(s, ref.dagId);
    const run = await s.store.updateRun({ dagId: dag.dagId, runId: ref.runId }, null, { note });
    if (!run) throw new OperationError(`no run '${ref.runId}' of DAG '${dag.dagId}'`, { dagId: dag.dagId });
    s.emitRun(run);
    return run;
  });
}

/** Set (or, with null, remove) a task instance's note. Refused for a task with no instance yet. */
export function setTaskInstanceNote(scheduler: Scheduler, key: TiKey, note: string | null): Promise<Outcome<TaskInstanceRecord>> {
  return scheduler.step(async (s) => {
    loadedDag(s, key.dagId);
    // Conditional on the state and try read: a try moving it meanwhile is read again (the note never
    // overwrites a move).
    for (let attempt = 1; ; attempt++) {
      const ti = await s.store.getTaskInstance(key);
      if (!ti) {
        throw new OperationError(`no instance of task '${key.taskId}'${key.mapIndex >= 0 ? ` [${key.mapIndex}]` : ''} in run '${key.runId}' of DAG '${key.dagId}' (a task that has not been decided has no instance to note)`, { dagId: key.dagId, taskId: key.taskId });
      }
      const updated = await s.store.updateTaskInstance(key, { states: [ti.state], tryNumber: ti.tryNumber }, { note });
      if (updated) {
        s.emitTi(updated);
        return updated;
      }
      if (attempt >= 10) throw new OperationError(`task instance '${key.taskId}' kept changing while its note was written; try again`, { dagId: key.dagId, taskId: key.taskId });
    }
  });
}

async function getRunOrThrow(s: Step, dagId: string, runId: string): Promise<{ dag: Dag; run: DagRunRecord }> {
  const dag = loadedDag(s, dagId);
  const run = await s.store.getRun({ dagId: dag.dagId, runId });
  if (!run) throw new OperationError(`no run '${runId}' of DAG '${dag.dagId}'`, { dagId: dag.dagId });
  return { dag, run };
}

async function markRun(s: Step, options: MarkRunOptions): Promise<MarkRunResult> {
  const { dag, run } = await getRunOrThrow(s, options.dagId, options.runId);
  const ref = runRefOf(run);
  const result: MarkRunResult = { dagId: dag.dagId, runId: run.runId, runState: { before: run.state, after: run.state } };
  const target = options.state;
  if (target === 'queued') {
    if (run.state === 'running') throw new OperationError(`run '${run.runId}' of DAG '${dag.dagId}' is running: it cannot be queued again (mark it failed, or clear its task instances when it has ended)`, { dagId: dag.dagId });
    if (isTerminalRunState(run.state)) await guarded(s, ref, () => reopenRun(s, ref, { clearNumber: (run.clearNumber ?? 0) + 1 }, true), undefined);
  } else if (run.state === target) {
    // Already so: nothing to do.
  } else if (isTerminalRunState(run.state)) {
    const ended = await s.store.updateRun(ref, [run.state], { state: target });
    if (!ended) throw new OperationError(`run '${run.runId}' of DAG '${dag.dagId}' changed while being marked; try again`, { dagId: dag.dagId });
    s.emitRun(ended);
  } else {
    const reason = `the run was marked ${target}`;
    const endStateOf = (ti: TaskInstanceRecord): TerminalTiState => (target === 'success' ? 'success' : ti.state === 'running' || ti.state === 'deferred' ? 'failed' : 'skipped');
    await endRunMarked(s, run, target, reason, endStateOf, (d, ended) => settleUndecided(s, d, ended, target === 'success' ? 'success' : 'skipped', reason));
  }
  result.runState.after = (await s.store.getRun(ref))?.state ?? result.runState.after;
  return result;
}

/** Settle in `state` every task of a run that has no decision yet (its instance created finished; nothing is decided downstream: the run has ended). */
async function settleUndecided(s: Step, dag: Dag, run: DagRunRecord, state: TerminalTiState, reason: string): Promise<void> {
  const tasks = dag.spec.tasks;
  const recs = await s.store.getTaskStates(run, tasks.map((t) => t.taskId));
  for (let i = 0; i < tasks.length; i++) {
    if (recs[i]?.decision) continue;
    await settleTerminal(s, dag, run, tasks[i]!, state, state === 'skipped' ? reason : null);
  }
}

/** Every task reachable from `id` through `next`, `id` not included. */
function reachable(dag: Dag, id: string, next: (t: TaskSpec) => readonly string[]): Set<string> {
  const out = new Set<string>();
  const stack = [...next(dag.task(id))];
  while (stack.length) {
    const d = stack.pop()!;
    if (out.has(d)) continue;
    out.add(d);
    stack.push(...next(dag.task(d)));
  }
  return out;
}

interface Planned {
  run: DagRunRecord;
  dag: Dag;
  t: TaskSpec;
  /** An instance to move, or, for a task with no decision yet, none (it is settled). */
  ti: TaskInstanceRecord | null;
}

async function markTis(s: Step, options: MarkTaskInstancesOptions): Promise<MarkTaskInstancesResult> {
  const { dag: latest, run } = await getRunOrThrow(s, options.dagId, options.runId);
  if (!(TI_MARK_STATES as readonly string[]).includes(options.state)) {
    throw new OperationError(`cannot mark a task instance '${String(options.state)}': the state must be one of ${TI_MARK_STATES.join(', ')}`, { dagId: latest.dagId });
  }
  const dag = await s.dagOf(run);
  if (!dag.taskIndex.has(options.taskId)) throw new OperationError(`no task '${options.taskId}' in DAG '${dag.dagId}' (tasks: ${[...dag.taskIndex.keys()].join(', ')})`, { dagId: dag.dagId, taskId: options.taskId });
  const taskIds = new Set([options.taskId]);
  if (options.upstream) for (const id of reachable(dag, options.taskId, (t) => t.upstream)) taskIds.add(id);
  if (options.downstream) for (const id of reachable(dag, options.taskId, (t) => t.downstream)) taskIds.add(id);

  const runs: DagRunRecord[] = [run];
  if (options.past || options.future) {
    for (const r of await s.store.listRuns({ dagId: dag.dagId })) {
      if (r.runId === run.runId) continue;
      if ((options.past && r.logicalDate < run.logicalDate) || (options.future && r.logicalDate > run.logicalDate)) runs.push(r);
    }
    runs.sort((a, b) => (a.logicalDate < b.logicalDate ? -1 : a.logicalDate > b.logicalDate ? 1 : 0));
  }

  const plan: Planned[] = [];
  for (const r of runs) {
    const rDag = r.runId === run.runId ? dag : await s.dagOf(r);
    const tasks = rDag.spec.tasks.filter((t) => taskIds.has(t.taskId));
    const recs = await s.store.getTaskStates(r, tasks.map((t) => t.taskId));
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[i]!;
      const tis = await s.store.listTaskInstances(r, t.taskId);
      const only = t.taskId === options.taskId && options.mapIndex !== undefined ? options.mapIndex : undefined;
      if (tis.length === 0) {
        if (!recs[i]?.decision && (only === undefined || only === -1)) plan.push({ run: r, dag: rDag, t, ti: null });
        continue;
      }
      for (const ti of tis) {
        if (only !== undefined && ti.mapIndex !== only) continue;
        if (ti.state === options.state) continue;
        plan.push({ run: r, dag: rDag, t, ti });
      }
    }
  }
  if (options.mapIndex !== undefined && !plan.some((p) => p.run.runId === run.runId && p.t.taskId === options.taskId)) {
    const exists = await s.store.getTaskInstance({ dagId: run.dagId, runId: run.runId, taskId: options.taskId, mapIndex: options.mapIndex });
    if (!exists && options.mapIndex >= 0) throw new OperationError(`task '${options.taskId}' has no map index ${options.mapIndex} in run '${run.runId}'`, { dagId: dag.dagId, taskId: options.taskId });
  }
  const marked = (p: Planned): MarkedInstance => ({ dagId: p.run.dagId, runId: p.run.runId, taskId: p.t.taskId, mapIndex: p.ti?.mapIndex ?? -1, state: p.ti?.state ?? null });
  if (options.dryRun) return { dryRun: true, marked: plan.map(marked) };

  const done: MarkedInstance[] = [];
  for (const p of plan) if (await markOne(s, p, options.state)) done.push(marked(p));
  // As Airflow's set_task_instance_state: the failed and upstream_failed tasks downstream of the task are
  // cleared (those marked left out), so that they run on from the new state; a finished run runs again.
  const resume = [...reachable(dag, options.taskId, (t) => t.downstream)].filter((id) => !taskIds.has(id));
  if (resume.length > 0) {
    for (const runId of new Set(done.map((m) => m.runId))) {
      await clearRun(s, { dagId: dag.dagId, runId, taskIds: resume, onlyFailed: true }, {});
    }
  }
  return { dryRun: false, marked: done };
}

/** Move one instance (or settle one undecided task) to `state`; false when it changed meanwhile (left as it is). */
async function markOne(s: Step, p: Planned, state: TiMarkState): Promise<boolean> {
  const { dag, t, ti } = p;
  const now = iso(s.now());
  const reason = `marked ${state}`;
  const run = (await s.store.getRun(p.run)) ?? p.run;
  if (ti === null) {
    // Settled exactly once by its decision's claim (a decision taken meanwhile wins).
    const claimed = await s.store.claimDecision(run, t.taskId, state);
    if (!claimed) return false;
    await settleClaimed(s, dag, run, t, state, reason);
    return true;
  }
  const error = state === 'skipped' ? skipInfo(reason) : null;
  const patch: Partial<TaskInstanceRecord> = { endDate: now, error, ...(ti.startDate === null ? { startDate: now } : {}) };
  if (isTerminalTiState(ti.state)) {
    // Its old state uncounted (back to scheduled for a moment, its task still decided), then the new one counted.
    const res = await s.store.resetTaskInstances([{ key: tiKeyOf(ti), expect: { state: ti.state, tryNumber: ti.tryNumber }, to: { state: 'scheduled' }, downstream: t.downstream }]);
    if (!res.applied[0]) return false;
    return finish(s, dag, ti, { states: ['scheduled'], tryNumber: ti.tryNumber }, state, patch);
  }
  const holds = (ti.state === 'queued' || ti.state === 'running') && !s.isArrayTask(t);
  const moved = await finish(s, dag, ti, { states: [ti.state], tryNumber: ti.tryNumber }, state, patch, undefined, holds ? tiHolder(ti, ti.tryNumber) : undefined);
  if (moved && (ti.state === 'running' || ti.state === 'queued' || ti.state === 'deferred')) s.cancelRun(run, `the task instance was marked ${state}`, [{ key: tiKeyOf(ti), tryNumber: ti.tryNumber }], [ti]);
  return moved;
}

/** The instance of a task whose decision this call claimed, created in `state` (downstream decided in a running run). */
async function settleClaimed(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec, state: TerminalTiState, reason: string): Promise<void> {
  // settleTerminal finds the decision claimed as this state with no instance, and creates it.
  await settleTerminal(s, dag, run, t, state, state === 'skipped' ? reason : null);
}
