// How a run ends: finalised by Airflow's leaf rule when nothing is pending, failed (a host's internal
// error, a DAG version that cannot be had), or stopped (a dagrun timeout, a stop, a deleted DAG) with its
// unfinished instances skipped. Every way goes through endRun, so what follows an end (callbacks, the
// parent woken, the maxActiveRuns unit given back, the next queued run started) is written once.

import type { Dag } from '../authoring/dag.ts';
import { groupOf } from '../core/arrays.ts';
import { runOutcome } from '../core/run-outcome.ts';
import { effectiveLeaves } from '../core/setup-teardown.ts';
import { dagAtVersion } from '../authoring/dag-resolver.ts';
import { DagVersionUnavailableError } from '../errors.ts';
import { isTerminalTiState, type TerminalTiState } from '../model/states.ts';
import { iso } from '../model/time.ts';
import { runRefOf, tiKeyOf, type DagRunRecord, type RunRef, type TaskInstanceRecord } from '../store/records.ts';
import { pauseIfFailingInARow } from './auto-pause.ts';
import { dagCallback } from './callbacks.ts';
import { wakeNextRun } from './past-depends.ts';
import { checkBackfill, startQueuedRuns } from './runs.ts';
import { releaseSlots, runHolder, runSemaphore, tiHolder, waveHolder } from './slots.ts';
import type { Step } from './step.ts';
import { resumeDeferred } from './tries.ts';

/**
 * Run `work` for a run; if the run's DAG version cannot be had, fail the run with a note saying so (its
 * instances and counters are left as they are), give back its maxActiveRuns unit and wake its parent.
 */
export async function guarded<T>(s: Step, ref: RunRef, work: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (!(e instanceof DagVersionUnavailableError)) throw e;
    const run = await s.store.getRun(runRefOf(ref));
    if (run) await endRun(s, run, 'failed', `${e.name}: ${e.message}`, { cancel: true });
    return fallback;
  }
}

/** End the run if it is running with nothing pending. */
export async function finalizeIfDone(s: Step, ref: RunRef): Promise<void> {
  const run = await s.store.getRun(ref);
  if (run) await finalizeRun(s, run);
}

/** End `run` (as just read) by Airflow's leaf rule, if it is running with nothing pending. */
export async function finalizeRun(s: Step, run: DagRunRecord): Promise<void> {
  // pending > 0: instances were cleared after the caller saw it reach 0; the run goes on.
  if (run.state !== 'running' || run.pending > 0) return;
  const dag = await s.dagOf(run);
  const states = await s.store.getTaskStates(run, leavesOf(dag));
  const state = runOutcome(states.map((x) => x?.self ?? { failed: 0, upstream_failed: 0 }));
  await endRun(s, run, state, null);
}

const leaves = new WeakMap<Dag, string[]>();

function leavesOf(dag: Dag): string[] {
  let l = leaves.get(dag);
  // Teardowns do not count (unless onFailureFailDagrun): Airflow's leaves for the run's state.
  if (!l) leaves.set(dag, (l = effectiveLeaves(dag.spec.tasks, (id) => dag.task(id))));
  return l;
}

/** Fail a run that cannot go on (e.g. its host hit an internal error): as any run end, exactly once. */
export async function failRun(s: Step, ref: RunRef, note: string): Promise<void> {
  const run = await s.store.getRun(ref);
  if (run && (run.state === 'running' || run.state === 'queued')) await endRun(s, run, 'failed', note);
}

/**
 * Stop a run now (e.g. its DAG is being deleted): it fails with `note`; its unfinished instances are
 * skipped and give back their slots, as at a dagrun timeout. A queued run simply fails.
 */
export function stopRun(s: Step, ref: RunRef, note: string): Promise<void> {
  return guarded(
    s,
    ref,
    async () => {
      const run = await s.store.getRun(ref);
      if (run?.state === 'queued') await failRun(s, run, note);
      else if (run?.state === 'running') await stopRunning(s, run, note);
    },
    undefined,
  );
}

/**
 * Stop a running run now: it fails with `note`, its work in flight is cancelled, and its unfinished instances
 * are skipped (giving back their slots), as at a dagrun timeout.
 */
export function stopRunning(s: Step, run: DagRunRecord, note: string): Promise<void> {
  return endRun(s, run, 'failed', note, { cancel: true, skipUnfinished: true });
}

interface EndHow {
  /** Stop the run's work in flight (the host's `cancelRun`). */
  cancel?: boolean;
  /** Skip its unfinished instances (needs the run's DAG version). */
  skipUnfinished?: boolean;
  /** With `skipUnfinished`: the state each unfinished instance ends in instead of skipped. */
  endStateOf?: (ti: TaskInstanceRecord) => TerminalTiState;
  /** With `cancel`: why (the aborted tries fail with it). */
  reason?: string;
  /** With `skipUnfinished`: after the instances, settle the tasks not decided yet (see lib/scheduler/mark.ts). */
  settleUndecided?: (dag: Dag, ended: DagRunRecord) => Promise<void>;
}

/**
 * End a queued or running run as marked (see lib/scheduler/mark.ts): in `state`, its work in flight
 * cancelled with `reason`, each unfinished instance ended in `endStateOf(ti)`, then its undecided tasks
 * settled. False when it was not queued or running (nothing done).
 */
export async function endRunMarked(
  s: Step,
  run: DagRunRecord,
  state: 'success' | 'failed',
  reason: string,
  endStateOf: (ti: TaskInstanceRecord) => TerminalTiState,
  settleUndecided: (dag: Dag, ended: DagRunRecord) => Promise<void>,
): Promise<void> {
  await guarded(s, run, () => endRun(s, run, state, run.note, { cancel: true, skipUnfinished: true, endStateOf, reason, settleUndecided }), undefined);
}

/**
 * End a queued or running run in `state`, exactly once; a call that finds it ended already (a replay, or
 * this call's write that reported an error after it applied) finishes what follows an end, each step
 * idempotent.
 */
async function endRun(s: Step, run: DagRunRecord, state: 'success' | 'failed', note: string | null, how: EndHow = {}): Promise<void> {
  // The run's DAG when its version is loaded (a run failed because it is not has no callbacks to call).
  const dag = how.skipUnfinished ? await s.dagOf(run) : await loadedVersion(s, run);
  const ended = await s.store.updateRun(runRefOf(run), ['running', 'queued'], { state, endDate: iso(s.now()), note });
  if (!ended) {
    const now = await s.store.getRun(run);
    if (now && (now.state === 'success' || now.state === 'failed')) {
      if (now.parent) await resumeDeferred(s, now.parent, now.parent.tryNumber);
      await afterRunEnded(s, now);
    }
    return;
  }
  // The cancel goes with the instances that were in flight (a deployed host stops their executions and jobs).
  if (how.cancel && !(how.skipUnfinished && dag)) s.cancelRun(ended, how.reason);
  if (how.skipUnfinished && dag) {
    const inFlight = await skipUnfinished(s, dag, ended, how.endStateOf);
    if (how.cancel) s.cancelRun(ended, how.reason, undefined, inFlight);
  }
  if (how.settleUndecided && dag) await how.settleUndecided(dag, ended);
  s.env.resolver.forget(ended);
  s.emitRun(ended);
  if (dag) await dagCallback(s, dag, ended, state);
  if (ended.parent) await resumeDeferred(s, ended.parent, ended.parent.tryNumber);
  await afterRunEnded(s, ended);
}

function loadedVersion(s: Step, run: DagRunRecord): Promise<Dag | undefined> {
  return dagAtVersion(s.env.dags, run.dagId, run.dagVersion);
}

/**
 * Skip a stopped run's unfinished instances, counted in the tallies and the pending count as any finish
 * (so that clearing them later takes back exactly what was counted), one bulk call per task; those that
 * were queued or running give back their slots (an array wave's once for the wave).
 */
async function skipUnfinished(s: Step, dag: Dag, run: DagRunRecord, endStateOf: (ti: TaskInstanceRecord) => TerminalTiState = () => 'skipped'): Promise<TaskInstanceRecord[]> {
  const inFlight: TaskInstanceRecord[] = [];
  const unfinished = new Map<string, TaskInstanceRecord[]>();
  for (const ti of await s.store.listTaskInstances(runRefOf(run))) {
    if (isTerminalTiState(ti.state)) continue;
    const list = unfinished.get(ti.taskId);
    if (list) list.push(ti);
    else unfinished.set(ti.taskId, [ti]);
  }
  const endDate = iso(s.now());
  const wavesReleased = new Set<string>();
  for (const [taskId, tis] of unfinished) {
    const t = dag.task(taskId);
    const res = await s.store.finishTaskInstances(
      tis.map((ti) => ({ key: tiKeyOf(ti), expect: { states: [ti.state], tryNumber: ti.tryNumber }, state: endStateOf(ti), patch: { endDate }, downstream: t.downstream })),
    );
    for (let i = 0; i < tis.length; i++) {
      const ti = tis[i]!;
      if (!res.applied[i]) continue;
      s.emitTi({ ...ti, state: endStateOf(ti), endDate });
      if (ti.state === 'queued' || ti.state === 'running' || ti.state === 'deferred') inFlight.push(ti);
      if (ti.state !== 'queued' && ti.state !== 'running') continue;
      if (!s.isArrayTask(t)) {
        await releaseSlots(s, dag, t, tiHolder(ti, ti.tryNumber));
        continue;
      }
      const array = { dagId: run.dagId, runId: run.runId, taskId: ti.taskId, group: groupOf(ti.mapIndex) };
      const wave = `${ti.taskId}\u0000${array.group}\u0000${ti.tryNumber}`;
      if (wavesReleased.has(wave)) continue;
      wavesReleased.add(wave);
      await releaseSlots(s, dag, t, waveHolder(array, ti.tryNumber));
    }
  }
  return inFlight;
}

/** Let the run's data expire after the store's retention, and give its maxActiveRuns unit to a queued run. */
async function afterRunEnded(s: Step, run: DagRunRecord): Promise<void> {
  if (run.endDate) await s.store.expireRun?.(runRefOf(run), run.endDate);
  await s.store.release(runSemaphore(run.dagId, run.backfillId ?? null), 1, runHolder(run));
  const latest = s.env.dags.getDag(run.dagId);
  if (latest) {
    await pauseIfFailingInARow(s, latest, run);
    // The next run's tasks that depend on this one's instances (some may have been skipped in bulk).
    await wakeNextRun(s, latest, run);
  }
  // A run failed because no version of its DAG is loaded any more has no queued runs to start.
  if (s.env.dags.getDag(run.dagId)) await startQueuedRuns(s, run.dagId);
  if (run.backfillId) await checkBackfill(s, run.dagId, run.backfillId);
}
