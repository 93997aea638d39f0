// Tries: queueing an instance for its try, a try's result, and a deferred try resumed.

import type { Dag } from '../authoring/dag.ts';
import { batchJobName, groupOf } from '../core/arrays.ts';
import type { TimerEvent, TryResult } from '../core/events.ts';
import { failureInfo, PoolError, skipInfo } from '../errors.ts';
import { formatError } from '../error-info.ts';
import { decideAfterFailure } from '../core/retry.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { TerminalTiState } from '../model/states.ts';
import { iso } from '../model/time.ts';
import { historyWithCurrentTry, tiKeyOf, type DagRunRecord, type TaskInstanceRecord, type TiKey } from '../store/records.ts';
import { taskCallback } from './callbacks.ts';
import { decideDownstream, finish, skipForShortCircuit, skipNotFollowed } from './decisions.ts';
import { resumeIfAnswered } from './hitl.ts';
import { guarded } from './run-end.ts';
import { releaseSlots, takeSlots, takeSlotsMany, tiHolder } from './slots.ts';
import type { Step } from './step.ts';
import { queueWave } from './waves.ts';

/** Take slots and queue the instance for its try; or leave it scheduled, waiting for a slot. */
export async function queueInstance(s: Step, dag: Dag, ti: TaskInstanceRecord): Promise<void> {
  const t = dag.task(ti.taskId);
  if (s.isArrayTask(t) && ti.mapIndex >= 0) {
    return queueWave(s, dag, t, { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, group: groupOf(ti.mapIndex) });
  }
  if (t.kind === 'empty') {
    const now = iso(s.now());
    await finish(s, dag, ti, { states: ['scheduled'], tryNumber: ti.tryNumber }, 'success', { tryNumber: ti.tryNumber + 1, startDate: now, endDate: now, durationMs: 0 });
    return;
  }
  const nextTry = ti.resume ? ti.tryNumber : ti.tryNumber + 1;
  const holder = tiHolder(ti, nextTry);
  const slots = await takeSlots(s, dag, t, holder, ti);
  if (!slots.taken) {
    if (slots.error !== null) {
      await finish(s, dag, ti, { states: ['scheduled'], tryNumber: ti.tryNumber }, 'failed', { error: failureInfo(new PoolError(slots.error)), endDate: iso(s.now()) });
    }
    return;
  }
  const queuedAt = iso(s.now());
  const queued =
    (await s.store.updateTaskInstance(
      ti,
      { states: ['scheduled'], tryNumber: ti.tryNumber },
      ti.resume
        ? { state: 'queued', resume: false, queuedAt }
        : { state: 'queued', tryNumber: nextTry, queuedAt, startDate: null, endDate: null, externalId: null, firstPokeAt: null, pokeCount: 0 },
    )) ?? (await queuedElsewhere(s, dag, t, ti, nextTry));
  if (queued) dispatchQueued(s, dag, t, ti, queued);
}

/**
 * `queueInstance` for instances created together (scheduled, before their first try): their slots are
 * taken in a few updates and they are queued in bulk; those that cannot go that way (an empty task, an
 * array task's, a refused limit) are queued one by one.
 */
export async function queueInstances(s: Step, dag: Dag, tis: readonly TaskInstanceRecord[]): Promise<void> {
  const bulk: TaskInstanceRecord[] = [];
  const single: TaskInstanceRecord[] = [];
  for (const ti of tis) {
    const t = dag.task(ti.taskId);
    if (ti.state !== 'scheduled' || ti.resume || t.kind === 'empty' || (s.isArrayTask(t) && ti.mapIndex >= 0)) single.push(ti);
    else bulk.push(ti);
  }
  if (bulk.length < 2 || !(await takeSlotsMany(s, dag, bulk))) {
    for (const ti of tis) await queueInstance(s, dag, ti);
    return;
  }
  const queuedAt = iso(s.now());
  const patches = bulk.map((ti) => ({ state: 'queued' as const, tryNumber: ti.tryNumber + 1, queuedAt, startDate: null, endDate: null, externalId: null, firstPokeAt: null, pokeCount: 0 }));
  const applied = await s.store.updateTaskInstances(bulk.map((ti, i) => ({ key: tiKeyOf(ti), expect: { states: ['scheduled'], tryNumber: ti.tryNumber }, patch: patches[i]! })));
  for (let i = 0; i < bulk.length; i++) {
    const ti = bulk[i]!;
    const t = dag.task(ti.taskId);
    // The instance as written: the one read, moved by its patch (the move was conditional on its state and try).
    const queued = applied[i] ? { ...ti, ...patches[i]! } : await queuedElsewhere(s, dag, t, ti, ti.tryNumber + 1);
    if (queued) dispatchQueued(s, dag, t, ti, queued);
  }
  for (const ti of single) await queueInstance(s, dag, ti);
}

/**
 * An instance whose move to queued for `nextTry` did not apply, holding that try's slots: queued
 * already for this try (by a concurrent call holding the same slots, or by this call's write that
 * reported an error after it applied) it keeps them, and a dispatch is idempotent; otherwise the slots
 * go back (unless it is running that try). The instance to dispatch, or undefined.
 */
async function queuedElsewhere(s: Step, dag: Dag, t: TaskSpec, ti: TiKey, nextTry: number): Promise<TaskInstanceRecord | undefined> {
  const now = await s.store.getTaskInstance(ti);
  if (now?.state === 'queued' && now.tryNumber === nextTry) return now;
  if (now?.state !== 'running' || now.tryNumber !== nextTry) await releaseSlots(s, dag, t, tiHolder(ti, nextTry));
  return undefined;
}

/** Tell of an instance queued for its try and dispatch it (a Batch job's runnable check armed with a new try). */
function dispatchQueued(s: Step, dag: Dag, t: TaskSpec, before: TaskInstanceRecord, queued: TaskInstanceRecord): void {
  s.emitTi(queued);
  s.dispatch(queued, dag);
  if (t.kind === 'batch' && t.batch.runnableTimeoutMs !== null && !before.resume) {
    s.timer(s.now() + t.batch.runnableTimeoutMs, {
      type: 'runnable_check',
      key: tiKeyOf(queued),
      tryNumber: queued.tryNumber,
      jobName: t.batch.jobName ?? batchJobName(dag.dagId, t.taskId, queued.mapIndex, queued.runId, queued.tryNumber),
      jobQueue: t.batch.jobQueue,
    });
  }
}

/**
 * An instance (running a try) and its run as the try's runner in the same process last read or wrote
 * them: the report of the try uses them instead of reading them again. Every move it makes is
 * conditional on the instance's state and try all the same, and a refused move reads both again.
 */
export interface TrySeen {
  ti: TaskInstanceRecord;
  run: DagRunRecord;
}

const sameInstance = (a: TiKey, b: TiKey) => a.dagId === b.dagId && a.runId === b.runId && a.taskId === b.taskId && a.mapIndex === b.mapIndex;

/**
 * A try ended. Idempotent: only the first report for (instance, try) while it runs moves it; a report
 * that finds the try already moved (a replay, or a first delivery whose process died or whose write
 * reported an error after it applied) finishes what follows that move: slots given back, downstream
 * tasks decided, the run finalised, a retry timer armed. Each of those steps is idempotent.
 */
export async function tryResult(s: Step, key: TiKey, tryNumber: number, result: TryResult, seen?: TrySeen): Promise<void> {
  const { run, ti: current } = seen && sameInstance(seen.ti, key) ? seen : await s.store.getTaskInstanceAndRun(key);
  if (!run) return;
  const dag = await s.dagOf(run);
  const t = dag.task(key.taskId);
  const now = s.now();
  const expect = { states: ['running' as const], tryNumber };
  const holder = tiHolder(key, tryNumber);
  if (!current || current.tryNumber !== tryNumber) return;
  if (current.state !== 'running') return afterTryMoved(s, dag, run, t, current);
  const durationMs = current.startDate ? now - Date.parse(current.startDate) : null;
  switch (result.kind) {
    case 'success': {
      if (result.follow) await skipNotFollowed(s, dag, run, t, result.follow);
      if (result.shortCircuit === false) await skipForShortCircuit(s, dag, run, t);
      // Callbacks run before the state is committed, so they have run when the run is seen to end.
      await taskCallback(s, dag, t, 'onSuccess', key, tryNumber, null);
      return finishTry(s, dag, t, key, expect, 'success', { endDate: iso(now), durationMs, error: null }, holder);
    }
    case 'skip':
      return finishTry(s, dag, t, key, expect, 'skipped', { endDate: iso(now), durationMs, error: skipInfo(result.reason) }, holder);
    case 'failure': {
      // Tries left by the instance's maxTries (its task's retries, counted again from a clear).
      const d = decideAfterFailure({ ...t, retries: current.maxTries - 1 }, tryNumber, result.retriable, `${dag.dagId}#${key.taskId}#${key.mapIndex}#${run.logicalDate}`);
      if (d.next !== 'retry') {
        await taskCallback(s, dag, t, 'onFailure', key, tryNumber, formatError(result.error));
        return finishTry(s, dag, t, key, expect, 'failed', { endDate: iso(now), durationMs, error: result.error }, holder);
      }
      const at = now + d.delayMs;
      const ended = { endDate: iso(now), durationMs, error: result.error };
      // The patch is conditional on this try running, so the history read with it is the one it replaces.
      const history = historyWithCurrentTry({ ...current, ...ended }, 'failed');
      const ti = await s.store.updateTaskInstance(key, expect, { state: 'up_for_retry', ...ended, nextAt: iso(at), ...(history ? { history } : {}) });
      if (!ti) return afterTryMovedByOther(s, dag, t, key, tryNumber);
      s.emitTi(ti);
      await releaseSlots(s, dag, t, holder);
      await taskCallback(s, dag, t, 'onRetry', key, tryNumber, formatError(result.error));
      s.timer(at, { type: 'retry', key: tiKeyOf(key), tryNumber });
      return;
    }
    case 'defer': {
      const ti = await s.store.updateTaskInstance(key, expect, {
        state: 'deferred',
        nextAt: result.until === null ? null : iso(result.until),
        ...(result.externalId !== undefined ? { externalId: result.externalId } : {}),
      });
      if (!ti) return afterTryMovedByOther(s, dag, t, key, tryNumber);
      s.emitTi(ti);
      await releaseSlots(s, dag, t, holder);
      if (result.until !== null) s.timer(result.until, deferTimer(t, key, tryNumber));
      if (result.until === null || t.kind === 'hitl') await resumeIfExternalDone(s, t, ti);
      return;
    }
  }
}

/** Finish a running try in a terminal state; then (or when it finished already) what follows. */
async function finishTry(s: Step, dag: Dag, t: TaskSpec, key: TiKey, expect: { states: TaskInstanceRecord['state'][]; tryNumber: number }, state: TerminalTiState, patch: Partial<TaskInstanceRecord>, holder: string): Promise<void> {
  if (await finish(s, dag, key, expect, state, patch, undefined, holder)) return;
  await afterTryMovedByOther(s, dag, t, key, expect.tryNumber);
}

/** A move of a running try refused: read the instance and its run again, and finish what followed the move. */
async function afterTryMovedByOther(s: Step, dag: Dag, t: TaskSpec, key: TiKey, tryNumber: number): Promise<void> {
  const { ti: now, run } = await s.store.getTaskInstanceAndRun(key);
  if (run && now && now.tryNumber === tryNumber && now.state !== 'running') await afterTryMoved(s, dag, run, t, now);
}

/**
 * What follows a try's move out of running, done again for an instance found already moved (a report
 * delivered again, or one whose first delivery stopped part way): idempotent steps only.
 */
async function afterTryMoved(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec, ti: TaskInstanceRecord): Promise<void> {
  s.replaying = true;
  if (s.isArrayTask(t) && ti.mapIndex >= 0) return; // array children move by wave (handleArrayResult)
  const holder = tiHolder(ti, ti.tryNumber);
  switch (ti.state) {
    case 'success':
    case 'failed':
    case 'skipped':
    case 'upstream_failed':
      await releaseSlots(s, dag, t, holder);
      return decideDownstream(s, dag, run, t);
    case 'up_for_retry':
      await releaseSlots(s, dag, t, holder);
      if (ti.nextAt !== null) s.timer(Date.parse(ti.nextAt), { type: 'retry', key: tiKeyOf(ti), tryNumber: ti.tryNumber });
      return;
    case 'deferred':
      await releaseSlots(s, dag, t, holder);
      if (ti.nextAt !== null) s.timer(Date.parse(ti.nextAt), deferTimer(t, ti, ti.tryNumber));
      if (ti.nextAt === null || t.kind === 'hitl') await resumeIfExternalDone(s, t, ti);
      return;
    case 'scheduled':
    case 'queued':
    case 'running':
    case 'removed':
      // Not moved on by a try's end (queued or running again: a later try's; scheduled: waiting for a slot).
      return;
  }
}

/** The timer of a try deferred until a time: a hitl request's timeout, else the try's resume. */
function deferTimer(t: TaskSpec, key: TiKey, tryNumber: number): TimerEvent {
  return t.kind === 'hitl' ? { type: 'hitl_timeout', key: tiKeyOf(key), tryNumber } : { type: 'resume', key: tiKeyOf(key), tryNumber };
}

/** A deferred instance waiting on an external end that may have happened before it deferred: resume it then. */
async function resumeIfExternalDone(s: Step, t: TaskSpec, ti: TaskInstanceRecord): Promise<void> {
  if (t.kind === 'trigger_dag' && ti.externalId) {
    // The triggered run may have ended before we deferred: then nobody else will wake us.
    const child = await s.store.getRun({ dagId: t.triggerDag.triggerDagId, runId: ti.externalId });
    if (child && (child.state === 'success' || child.state === 'failed')) await resumeDeferred(s, ti, ti.tryNumber);
  } else if (t.kind === 'hitl') {
    await resumeIfAnswered(s, ti, ti.tryNumber);
  } else if (t.kind === 'batch' && ti.externalId && (await s.env.externalDone?.('batch', ti.externalId))) {
    await resumeDeferred(s, ti, ti.tryNumber);
  }
}

/**
 * Put a deferred instance back in the queue to continue its try (a poke, a finished job or run). Guarded
 * for the instance's run, which may be another than the caller's (a parent woken by its child's end).
 */
export function resumeDeferred(s: Step, key: TiKey, tryNumber: number): Promise<void> {
  return guarded(s, key, () => resumeDeferredTry(s, key, tryNumber), undefined);
}

async function resumeDeferredTry(s: Step, key: TiKey, tryNumber: number): Promise<void> {
  const run = await s.store.getRun(key);
  if (!run) return;
  const dag = await s.dagOf(run);
  const ti = await s.store.updateTaskInstance(key, { states: ['deferred'], tryNumber }, { state: 'scheduled', resume: true, nextAt: null });
  if (!ti) return;
  s.emitTi(ti);
  await queueInstance(s, dag, ti);
}
