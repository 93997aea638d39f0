// Repairing what a lost event left behind (the reconcile), and carrying a run on after a clear.

import type { Dag } from '../authoring/dag.ts';
import { groupOf } from '../core/arrays.ts';
import { failureInfo, LostTryError } from '../errors.ts';
import type { TaskSpec } from '../model/spec.ts';
import { tiKeyOf, type DagRunRecord, type RunRef, type TaskInstanceRecord } from '../store/records.ts';
import { completeDecision, decide } from './decisions.ts';
import { finalizeIfDone, finalizeRun } from './run-end.ts';
import { startQueuedRuns } from './runs.ts';
import { freeLostSlots } from './slots.ts';
import type { Step } from './step.ts';
import { onTimer } from './timers.ts';
import { queueInstance, resumeDeferred, tryResult } from './tries.ts';
import { resumeIfAnswered } from './hitl.ts';
import { groupInstances, queueWave, retryWave } from './waves.ts';

/** What a reconcile pass found and repaired. */
export interface ReconcileReport {
  dagId: string;
  runId: string;
  redispatched: number;
  timersDelivered: number;
  resumed: number;
  evaluated: number;
  failedStopped: number;
  /** Slots given back that instances of the run no longer queued or running still held. */
  slotsFreed: number;
  finalized: boolean;
}

export interface ReconcileOptions {
  /** An instance queued (or running) this long without news is dispatched again (or asked about). */
  staleMs: number;
  /** Why a running instance's try has stopped without a result (e.g. its lifecycle execution ended), or null. */
  tryStopped?: (ti: TaskInstanceRecord) => Promise<string | null>;
}

export function emptyReport(ref: RunRef): ReconcileReport {
  return { dagId: ref.dagId, runId: ref.runId, redispatched: 0, timersDelivered: 0, resumed: 0, evaluated: 0, failedStopped: 0, slotsFreed: 0, finalized: false };
}

/** See `Scheduler.reconcileRun`. */
export async function reconcile(s: Step, ref: RunRef, options: ReconcileOptions): Promise<ReconcileReport> {
  const { dagId, runId } = ref;
  const report = emptyReport(ref);
  let run = await s.store.getRun(ref);
  if (!run) return report;
  if (run.state === 'queued') {
    await startQueuedRuns(s, run.dagId);
    return report;
  }
  if (run.state !== 'running') return report;
  const dag = await s.dagOf(run);
  const now = s.now();
  const specs = dag.spec.tasks;
  const states = await s.store.getTaskStates(run, specs.map((t) => t.taskId));
  for (let i = 0; i < specs.length; i++) {
    if (states[i]?.decision) continue;
    await decide(s, dag, run, specs[i]!, states[i]);
    report.evaluated++;
  }
  const instances = await s.store.listTaskInstances(ref);
  // Decisions whose instances were not created (a lost write, a process that died between the two).
  const byTask = new Map<string, TaskInstanceRecord[]>();
  for (const ti of instances) {
    const list = byTask.get(ti.taskId);
    if (list) list.push(ti);
    else byTask.set(ti.taskId, [ti]);
  }
  for (let i = 0; i < specs.length; i++) {
    const rec = states[i];
    if (!rec?.decision) continue;
    const have = byTask.get(specs[i]!.taskId) ?? [];
    const expected = rec.decision === 'expanded' ? (rec.mapCount ?? 0) : 1;
    if (have.length < expected) report.evaluated += await completeDecision(s, dag, run, specs[i]!, rec, have);
  }
  report.slotsFreed = await freeLostSlots(s, dag, ref);
  const waves = new Set<string>();
  for (const ti of instances) {
    const due = ti.nextAt !== null && Date.parse(ti.nextAt) <= now;
    const stale = ti.queuedAt !== null && now - Date.parse(ti.queuedAt) >= options.staleMs;
    const t = dag.task(ti.taskId);
    if (s.isArrayTask(t) && ti.mapIndex >= 0) {
      // Array instances move by wave: act once per group, state and try.
      const array = { dagId, runId, taskId: ti.taskId, group: groupOf(ti.mapIndex) };
      const id = `${ti.taskId}\u0000${array.group}\u0000${ti.state}\u0000${ti.tryNumber}`;
      if (waves.has(id)) continue;
      if (ti.state === 'scheduled') {
        waves.add(id);
        await queueWave(s, dag, t, array);
      } else if (ti.state === 'queued' && stale) {
        waves.add(id);
        const size = (await groupInstances(s, array)).filter((x) => x.state === 'queued' && x.tryNumber === ti.tryNumber).length;
        s.dispatchWave({ array, dagId: dag.dagId, tryNumber: ti.tryNumber, size }, dag);
        report.redispatched++;
      } else if (ti.state === 'up_for_retry' && due) {
        waves.add(id);
        await retryWave(s, array, ti.tryNumber);
        report.timersDelivered++;
      }
      continue;
    }
    if (ti.state === 'scheduled') {
      await queueInstance(s, dag, ti);
    } else if (ti.state === 'queued' && stale) {
      s.dispatch(ti, dag);
      report.redispatched++;
    } else if (ti.state === 'up_for_retry' && due) {
      await onTimer(s, { type: 'retry', key: tiKeyOf(ti), tryNumber: ti.tryNumber });
      report.timersDelivered++;
    } else if (ti.state === 'deferred') {
      if (due) {
        await resumeDeferred(s, ti, ti.tryNumber);
        report.timersDelivered++;
      } else if (t.kind === 'hitl') {
        // Answered, but the resume that follows the answer was lost (a process that died between them).
        const before = s.effects.length;
        await resumeIfAnswered(s, ti, ti.tryNumber);
        if (s.effects.length > before) report.resumed++;
      } else if (ti.nextAt === null && ti.externalId && t.kind === 'trigger_dag') {
        const child = await s.store.getRun({ dagId: t.triggerDag.triggerDagId, runId: ti.externalId });
        if (child && (child.state === 'success' || child.state === 'failed')) {
          await resumeDeferred(s, ti, ti.tryNumber);
          report.resumed++;
        }
      }
    } else if (ti.state === 'running' && stale && options.tryStopped) {
      const why = await options.tryStopped(ti);
      if (why !== null) {
        await tryResult(s, ti, ti.tryNumber, { kind: 'failure', error: failureInfo(new LostTryError(why)), retriable: true });
        report.failedStopped++;
      }
    }
  }
  run = await s.store.getRun(run);
  if (run?.state === 'running' && run.pending === 0) {
    await finalizeRun(s, run);
    report.finalized = true;
  }
  return report;
}

/** See `Scheduler.resumeRun`. */
export async function resumeRun(s: Step, ref: RunRef): Promise<void> {
  const run = await s.store.getRun(ref);
  if (run?.state !== 'running') return;
  await resumeTasks(s, await s.dagOf(run), run);
  await finalizeIfDone(s, run);
}

/**
 * Decide a run's undecided tasks, in topological order, and queue its scheduled instances (cleared map
 * indexes; an array task's as a new wave of their group).
 */
export async function resumeTasks(s: Step, dag: Dag, run: DagRunRecord): Promise<void> {
  const specs = topologicalOrder(dag);
  const states = await s.store.getTaskStates(run, specs.map((t) => t.taskId));
  for (let i = 0; i < specs.length; i++) if (!states[i]?.decision) await decide(s, dag, run, specs[i]!, states[i]);
  const waves = new Set<string>();
  for (const ti of await s.store.listTaskInstances(run)) {
    if (ti.state !== 'scheduled') continue;
    const t = dag.task(ti.taskId);
    if (s.isArrayTask(t) && ti.mapIndex >= 0) {
      const array = { dagId: run.dagId, runId: run.runId, taskId: ti.taskId, group: groupOf(ti.mapIndex) };
      const id = `${ti.taskId}\u0000${array.group}`;
      if (waves.has(id)) continue;
      waves.add(id);
      await queueWave(s, dag, t, array);
    } else {
      await queueInstance(s, dag, ti);
    }
  }
}

const topo = new WeakMap<Dag, TaskSpec[]>();

/** The DAG's tasks in an order where every task comes after its upstream tasks. */
export function topologicalOrder(dag: Dag): TaskSpec[] {
  let order = topo.get(dag);
  if (order) return order;
  const indegree = new Map(dag.spec.tasks.map((t) => [t.taskId, t.upstream.length]));
  const ready = dag.spec.tasks.filter((t) => t.upstream.length === 0);
  order = [];
  for (let i = 0; i < ready.length; i++) {
    const t = ready[i]!;
    order.push(t);
    for (const d of t.downstream) {
      const n = indegree.get(d)! - 1;
      indegree.set(d, n);
      if (n === 0) ready.push(dag.task(d));
    }
  }
  topo.set(dag, order);
  return order;
}
