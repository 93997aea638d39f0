// Deciding what runs: a task's trigger rule over its upstream tally, settled once per run (a conditional
// write), then its instance (or, mapped, its instances) created and queued, or a terminal state set
// without running. Finishing an instance lets its downstream tasks decide.

import type { Dag } from '../authoring/dag.ts';
import { arrayGroups, groupOf } from '../core/arrays.ts';
import { evaluateTriggerRule, type UpstreamCounts } from '../core/trigger-rules.ts';
import { errorMessage, failureInfo, MappingError, SchedulerNote, skipInfo } from '../errors.ts';
import type { ErrorInfo } from '../error-info.ts';
import { mappingLength } from '../executor/resolve.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { TerminalTiState } from '../model/states.ts';
import { iso } from '../model/time.ts';
import { newTaskInstance, tiKeyOf, type DagRunRecord, type TaskInstanceRecord, type TaskStateRecord, type TiKey, type TrySummary } from '../store/records.ts';
import { dependentsOnPast, pastDependsMet, wakeNextRun } from './past-depends.ts';
import { hasIndirectSetups, indirectDependents, indirectSetupsAllow, setupCounts } from './setups.ts';
import { finalizeIfDone, finalizeRun } from './run-end.ts';
import { slotReleases, wakeWaiters } from './slots.ts';
import type { Step } from './step.ts';
import { isRejection } from '../core/hitl.ts';
import { queueInstance, queueInstances } from './tries.ts';
import { queueWave } from './waves.ts';

/** Static upstream shape of a task: how many upstream instances are known from the spec alone. */
interface StaticUpstream {
  known: number;
  mappedTasks: number;
}

const staticShapes = new WeakMap<TaskSpec, StaticUpstream>();

function staticShape(dag: Dag, t: TaskSpec): StaticUpstream {
  let shape = staticShapes.get(t);
  if (!shape) {
    shape = { known: 0, mappedTasks: 0 };
    for (const u of t.upstream) {
      if (dag.task(u).mapping) shape.mappedTasks++;
      else shape.known++;
    }
    staticShapes.set(t, shape);
  }
  return shape;
}

function counts(dag: Dag, t: TaskSpec, rec: TaskStateRecord | undefined): UpstreamCounts {
  const shape = staticShape(dag, t);
  const u = rec?.upstream;
  return {
    success: u?.success ?? 0,
    failed: u?.failed ?? 0,
    skipped: u?.skipped ?? 0,
    upstream_failed: u?.upstream_failed ?? 0,
    removed: u?.removed ?? 0,
    total: shape.known + (rec?.upstreamAddedTotal ?? 0),
    unknownTasks: shape.mappedTasks - (rec?.upstreamExpanded ?? 0),
  };
}

/** Evaluate a task's trigger rule and settle it (once) if the rule says so. */
export async function decide(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec, rec: TaskStateRecord | undefined): Promise<void> {
  if (rec?.decision) return;
  let verdict = evaluateTriggerRule(t.triggerRule, counts(dag, t, rec), t.upstream.length);
  if (verdict === 'wait') return;
  // A teardown: what its direct upstream setups did, read once its other upstreams let it go on.
  if (t.triggerRule === 'all_done_setup_success') verdict = evaluateTriggerRule(t.triggerRule, { ...counts(dag, t, rec), setups: await setupCounts(s, dag, run, t) }, t.upstream.length);
  if (verdict === 'wait') return;
  // Airflow's setup constraint: a relevant indirect setup that failed or was skipped settles the task so;
  // one not yet succeeded keeps it waiting (its end decides the task again: `finish`).
  if (hasIndirectSetups(dag, t)) {
    const allow = await indirectSetupsAllow(s, dag, run, t);
    if (allow === 'upstream_failed' || allow === 'skipped') verdict = allow;
    else if (allow === 'wait' && verdict === 'run') return;
  }
  // depends_on_past: neither run nor skipped until the previous run's instance allows (Airflow waits for
  // past depends before skipping too); woken by that instance's finish (wakeNextRun).
  if ((verdict === 'run' || verdict === 'skipped') && !(await pastDependsMet(s, run, t))) return;
  const priorTries = rec?.priorTries ?? 0;
  const priorHistory = rec?.priorHistory;
  if (verdict !== 'run') return settleTerminal(s, dag, run, t, verdict, null, priorTries, priorHistory);
  if ((run.clearNumber ?? 0) > 0) {
    // A cleared task whose branch (or short-circuit) upstream did not run again: skipped again if that
    // upstream skipped it (Airflow's NotPreviouslySkippedDep).
    const why = await skippedByUpstream(s, dag, run, t);
    if (why !== null) return settleTerminal(s, dag, run, t, 'skipped', why, priorTries, priorHistory);
  }
  if (t.mapping) return expand(s, dag, run, t, priorTries, priorHistory);
  if (!(await s.store.claimDecision(run, t.taskId, 'scheduled'))) return settledAlready(s, dag, run, t);
  const ti = newTi(dag, run, t, -1, priorTries, priorHistory);
  await s.store.createTaskInstances([ti]);
  s.emitTi(ti);
  await queueInstance(s, dag, ti);
}

/**
 * A claim to schedule `t` refused: settled already, by a concurrent call, or by this one whose instance
 * was then not created (a lost write, a process that died): finish what the decision started.
 */
async function settledAlready(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec): Promise<void> {
  const now = (await s.store.getTaskStates(run, [t.taskId]))[0];
  if (now?.decision === 'scheduled' && !(await s.store.getTaskInstance({ dagId: run.dagId, runId: run.runId, taskId: t.taskId, mapIndex: -1 }))) await completeDecision(s, dag, run, t, now);
}

/**
 * `decide` for several tasks, in order, with their task states as read. Consecutive tasks that simply
 * run (an unmapped task whose rule says run, in a run never cleared) are settled, created and queued
 * together: their claims, their instances and their slots each in a few requests.
 */
export async function decideAll(s: Step, dag: Dag, run: DagRunRecord, tasks: readonly TaskSpec[], recs: readonly (TaskStateRecord | undefined)[]): Promise<void> {
  let batch: { t: TaskSpec; rec: TaskStateRecord | undefined }[] = [];
  const flush = async () => {
    const b = batch;
    batch = [];
    if (b.length === 1) return decide(s, dag, run, b[0]!.t, b[0]!.rec);
    if (b.length === 0) return;
    const claimed = await s.store.claimDecisions(run, b.map((x) => x.t.taskId), 'scheduled');
    const tis: TaskInstanceRecord[] = [];
    for (let i = 0; i < b.length; i++) {
      const { t, rec } = b[i]!;
      if (claimed[i]) tis.push(newTi(dag, run, t, -1, rec?.priorTries ?? 0, rec?.priorHistory));
      else await settledAlready(s, dag, run, t);
    }
    await s.store.createTaskInstances(tis);
    for (const ti of tis) s.emitTi(ti);
    await queueInstances(s, dag, tis);
  };
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i]!;
    const rec = recs[i];
    if (rec?.decision) continue;
    if (!t.mapping && !t.dependsOnPast && t.triggerRule !== 'all_done_setup_success' && !hasIndirectSetups(dag, t) && (run.clearNumber ?? 0) === 0 && evaluateTriggerRule(t.triggerRule, counts(dag, t, rec), t.upstream.length) === 'run') {
      batch.push({ t, rec });
      continue;
    }
    await flush();
    await decide(s, dag, run, t, rec);
  }
  await flush();
}

/** Let `t`'s downstream tasks decide on their tallies as the store has them, then end the run if nothing is pending. */
export async function decideDownstream(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec): Promise<void> {
  if (run.state !== 'running') return;
  const states = await s.store.getTaskStates(run, t.downstream);
  await decideAll(s, dag, run, t.downstream.map((d) => dag.task(d)), states);
  await finalizeIfDone(s, run);
}

/**
 * A task whose decision is settled but whose instances were not all created (the write that creates
 * them was lost, or the process died between the two): create what is missing and queue it. The
 * instances are those the decision would have created; creating is create-if-absent. Returns how many.
 */
export async function completeDecision(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec, rec: TaskStateRecord, existing?: readonly TaskInstanceRecord[]): Promise<number> {
  const priorTries = rec.priorTries ?? 0;
  if (rec.decision === 'scheduled') {
    const ti = newTi(dag, run, t, -1, priorTries, rec.priorHistory);
    await s.store.createTaskInstances([ti]);
    const now = await s.store.getTaskInstance(ti);
    s.emitTi(now);
    if (now?.state === 'scheduled') await queueInstance(s, dag, now);
    return 1;
  }
  if (rec.decision === 'expanded' && rec.mapCount !== null) {
    const have = new Set((existing ?? (await s.store.listTaskInstances(run, t.taskId))).map((ti) => ti.mapIndex));
    const missing: TaskInstanceRecord[] = [];
    for (let i = 0; i < rec.mapCount; i++) if (!have.has(i)) missing.push(newTi(dag, run, t, i, priorTries));
    if (missing.length === 0) return 0;
    await s.store.createTaskInstances(missing);
    for (const ti of missing) s.emitTi(ti);
    if (s.isArrayTask(t)) {
      const groups = new Set(missing.map((ti) => groupOf(ti.mapIndex)));
      for (const group of groups) await queueWave(s, dag, t, { dagId: run.dagId, runId: run.runId, taskId: t.taskId, group });
    } else {
      for (const ti of missing) await queueInstance(s, dag, ti);
    }
    return missing.length;
  }
  if (rec.decision !== null && rec.decision !== 'expanded') {
    // Settled terminal without its instance: create it now (the reason it was settled for is not kept).
    await finishSettled(s, dag, run, t, rec.decision, failureInfo(new SchedulerNote(`settled ${rec.decision}; its instance was created again after a lost write`)), priorTries, rec.priorHistory);
    return 1;
  }
  return 0;
}

/** Why a direct branch or short-circuit upstream, done, skipped `t` (its recorded result), or null. */
async function skippedByUpstream(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec): Promise<string | null> {
  for (const u of t.upstream) {
    const ut = dag.task(u);
    const kind = ut.kind;
    if (kind !== 'branch' && kind !== 'short_circuit' && kind !== 'hitl') continue;
    const ti = await s.store.getTaskInstance({ dagId: run.dagId, runId: run.runId, taskId: u, mapIndex: -1 });
    if (ti?.state !== 'success') continue;
    const chosen = (await s.store.getXCom(run, u, -1, 'return_value'))?.value;
    if (kind === 'branch' && Array.isArray(chosen) && !chosen.includes(t.taskId)) return `not chosen by branch '${u}'`;
    if (kind === 'short_circuit' && chosen === false) return `short-circuited by '${u}'`;
    if (ut.kind === 'hitl' && rejected(ut.hitl, chosen)) return `short-circuited by '${u}'`;
  }
  return null;
}

/**
 * A new instance, before its first try; `priorTries`: a cleared task's earlier tries, which its next
 * try continues from (with its retries counted again from there, as Airflow's max_tries), and
 * `priorHistory`: those tries' summaries (a cleared unmapped task's), which it carries on.
 */
function newTi(dag: Dag, run: DagRunRecord, t: TaskSpec, mapIndex: number, priorTries = 0, priorHistory?: TrySummary[]): TaskInstanceRecord {
  return newTaskInstance({ dagId: dag.dagId, runId: run.runId, taskId: t.taskId, mapIndex, maxTries: priorTries + t.retries + 1, tryNumber: priorTries, ...(priorHistory?.length ? { history: priorHistory } : {}) });
}

async function expand(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec, priorTries = 0, priorHistory?: TrySummary[]): Promise<void> {
  let n: number;
  try {
    n = mappingLength(await s.env.resolver.mappingLists(dag, run, t.taskId, t.mapping!));
  } catch (e) {
    const error = failureInfo(e instanceof MappingError ? e : new MappingError(`could not resolve the lists to map over: ${errorMessage(e)}`));
    return settleTerminal(s, dag, run, t, 'failed', error, priorTries, priorHistory);
  }
  if (n === 0) return settleTerminal(s, dag, run, t, 'skipped', 'mapped over an empty list', priorTries, priorHistory);
  if (!(await s.store.claimExpansion(run, t.taskId, n, t.downstream))) {
    const now = (await s.store.getTaskStates(run, [t.taskId]))[0];
    if (now?.decision === 'expanded') await completeDecision(s, dag, run, t, now);
    return;
  }
  const tis: TaskInstanceRecord[] = new Array<TaskInstanceRecord>(n);
  for (let i = 0; i < n; i++) tis[i] = newTi(dag, run, t, i, priorTries);
  await s.store.createTaskInstances(tis);
  for (const ti of tis) s.emitTi(ti);
  if (s.isArrayTask(t)) {
    for (const g of arrayGroups(n)) await queueWave(s, dag, t, { dagId: run.dagId, runId: run.runId, taskId: t.taskId, group: g.group }, tis.slice(g.first, g.first + g.count));
    return;
  }
  for (const ti of tis) await queueInstance(s, dag, ti);
}

/**
 * Settle a task without running it: one instance (map index -1) in a terminal state. `priorTries`
 * when the caller knows it (a cleared task's earlier tries); else read when the run was ever cleared.
 * `error`: the instance's error; text is why it was skipped.
 */
export async function settleTerminal(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec, state: TerminalTiState, error: ErrorInfo | string | null, priorTries?: number, priorHistory?: TrySummary[]): Promise<void> {
  if (!(await s.store.claimDecision(run, t.taskId, state))) {
    // Settled already as this: finish it when its instance is missing (creating it is conditional on absence).
    const now = (await s.store.getTaskStates(run, [t.taskId]))[0];
    if (now?.decision === state && !(await s.store.getTaskInstance({ dagId: run.dagId, runId: run.runId, taskId: t.taskId, mapIndex: -1 }))) {
      await finishSettled(s, dag, run, t, state, error, priorTries ?? now.priorTries ?? 0, priorHistory ?? now.priorHistory);
    }
    return;
  }
  await finishSettled(s, dag, run, t, state, error, priorTries, priorHistory);
}

/** Create the terminal instance of a task whose decision this caller has claimed. */
async function finishSettled(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec, state: TerminalTiState, reason: ErrorInfo | string | null, priorTries?: number, priorHistory?: TrySummary[]): Promise<void> {
  const error = typeof reason === 'string' ? skipInfo(reason) : reason;
  const now = iso(s.now());
  if (priorTries === undefined && (run.clearNumber ?? 0) > 0) {
    const rec = (await s.store.getTaskStates(run, [t.taskId]))[0];
    priorTries = rec?.priorTries ?? 0;
    priorHistory = rec?.priorHistory;
  }
  const ti = { ...newTi(dag, run, t, -1, priorTries ?? 0, priorHistory), startDate: now, endDate: now, error };
  await finish(s, dag, ti, 'absent', state, { endDate: now, error }, ti);
}

/**
 * Move an instance to a terminal state and let its downstream tasks decide. Slots go back first: before
 * the successors queue (so they can take them), and before the run can end (a process that dies after
 * the run's end leaves no slot held). False when the instance was not as expected.
 */
export async function finish(
  s: Step,
  dag: Dag,
  key: TiKey,
  expect: { states: TaskInstanceRecord['state'][]; tryNumber: number } | 'absent',
  state: TerminalTiState,
  patch: Partial<TaskInstanceRecord>,
  create?: TaskInstanceRecord,
  holder?: string,
): Promise<boolean> {
  const t = dag.task(key.taskId);
  // The slots go back with the finish itself (one step of the store).
  const release = holder === undefined ? undefined : slotReleases(dag, t, holder);
  const res = await s.store.finishTaskInstance({ key: tiKeyOf(key), expect, ...(create ? { create } : {}), state, patch, downstream: t.downstream, ...(release ? { release } : {}) });
  if (!res) return false;
  s.emitTi(res.ti);
  if (release) for (const name of res.waiters ?? release.map((r) => r.name)) await wakeWaiters(s, name);
  const run = res.run ?? (await s.store.getRun(key));
  if (!run || run.state !== 'running') return true;
  await decideAll(s, dag, run, t.downstream.map((d) => dag.task(d)), res.downstream);
  // The run as read after the finish: its pending count is final when the finish brought it to 0.
  if (res.pending === 0) await finalizeRun(s, run);
  if (t.setup && res.pending > 0) {
    const waiting = indirectDependents(dag, t.taskId);
    if (waiting.length) await decideAll(s, dag, run, waiting, await s.store.getTaskStates(run, waiting.map((w) => w.taskId)));
  }
  if (dependentsOnPast(dag, t.taskId).length > 0) await wakeNextRun(s, dag, run, [t.taskId]);
  return true;
}

// Branching and short-circuit: the downstream tasks a branch did not follow, or a short-circuit cut off,
// are settled skipped.

export async function skipNotFollowed(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec, follow: string[]): Promise<void> {
  for (const d of t.downstream) {
    if (!follow.includes(d)) await settleTerminal(s, dag, run, dag.task(d), 'skipped', `not chosen by branch '${t.taskId}'`);
  }
}

export async function skipForShortCircuit(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec): Promise<void> {
  const direct = t.downstream;
  if (!(t.kind === 'short_circuit' && t.shortCircuit.ignoreDownstreamTriggerRules)) {
    for (const d of direct) await settleTerminal(s, dag, run, dag.task(d), 'skipped', `short-circuited by '${t.taskId}'`);
    return;
  }
  // Every task downstream, in definition order (which is a topological order of what can be skipped).
  const all = new Set<string>();
  const stack = [...direct];
  while (stack.length) {
    const id = stack.pop()!;
    if (all.has(id)) continue;
    all.add(id);
    for (const d of dag.task(id).downstream) stack.push(d);
  }
  // Claim every decision first, so that no skipped task lets a downstream's trigger rule run it.
  const claimed: TaskSpec[] = [];
  for (const spec of dag.spec.tasks) {
    if (all.has(spec.taskId) && (await s.store.claimDecision(run, spec.taskId, 'skipped'))) claimed.push(spec);
  }
  for (const spec of claimed) await finishSettled(s, dag, run, spec, 'skipped', `short-circuited by '${t.taskId}'`);
}

/** Whether a hitl upstream's result (its answer) is an approval's reject. */
function rejected(spec: { mode: string; options: readonly string[] }, answer: unknown): boolean {
  const chosen = (answer as { chosenOptions?: unknown } | null)?.chosenOptions;
  return Array.isArray(chosen) && isRejection(spec, { chosenOptions: chosen as string[] });
}
