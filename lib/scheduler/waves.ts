// Array jobs: a mapped Batch task's instances, submitted in waves of one AWS Batch array job per group
// (lib/core/arrays.ts). A wave holds one unit of each slot limit (it is one submission), whatever its
// size; its instances move together, in bulk, and each child's outcome settles its own instance.

import { recordOutlets } from './assets.ts';
import type { Dag } from '../authoring/dag.ts';
import { groupBounds, waveJobName, type ArrayRef, type ChildOutcome } from '../core/arrays.ts';
import { decideAfterFailure } from '../core/retry.ts';
import { BatchJobFailedError, failureInfo, PoolError } from '../errors.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { TerminalTiState } from '../model/states.ts';
import { iso } from '../model/time.ts';
import { historyWithCurrentTry, tiKeyOf, type DagRunRecord, type TaskInstanceRecord } from '../store/records.ts';
import type { BulkFinishResult, FinishRequest, TiUpdate } from '../store/state-store.ts';
import { taskCallback } from './callbacks.ts';
import { decideAll, decideDownstream } from './decisions.ts';
import { finalizeRun } from './run-end.ts';
import { releaseSlots, takeSlots, waveHolder } from './slots.ts';
import type { Step } from './step.ts';

/** The instances of an array group, in map-index order. */
export function groupInstances(s: Step, array: ArrayRef): Promise<TaskInstanceRecord[]> {
  const { from, to } = groupBounds(array.group);
  return s.store.listTaskInstanceRange(array, array.taskId, from, to);
}

/**
 * Queue the scheduled instances of a group as waves (one per try number: normally one) and start them.
 * `known`: the group's instances when the caller has them (just created), saving a read.
 */
export async function queueWave(s: Step, dag: Dag, t: TaskSpec, array: ArrayRef, known?: readonly TaskInstanceRecord[]): Promise<void> {
  const members = (known ?? (await groupInstances(s, array))).filter((ti) => ti.state === 'scheduled');
  if (members.length === 0) return;
  const byTry = new Map<number, TaskInstanceRecord[]>();
  for (const ti of members) {
    const list = byTry.get(ti.tryNumber);
    if (list) list.push(ti);
    else byTry.set(ti.tryNumber, [ti]);
  }
  for (const [prevTry, wave] of [...byTry].sort((a, b) => a[0] - b[0])) {
    const tryNumber = prevTry + 1;
    const holder = waveHolder(array, tryNumber);
    // Refused, the group waits through its first instance: whoever gives a unit back wakes the group.
    const slots = await takeSlots(s, dag, t, holder, wave[0]!);
    if (!slots.taken) {
      if (slots.error === null) return;
      const now = iso(s.now());
      const error = failureInfo(new PoolError(slots.error));
      await finishMany(s, dag, t, wave, 'failed', () => ({ error, endDate: now }), ['scheduled']);
      continue;
    }
    const patch: Partial<TaskInstanceRecord> = { state: 'queued', tryNumber, queuedAt: iso(s.now()), startDate: null, endDate: null, externalId: null, nextAt: null };
    const applied = await s.store.updateTaskInstances(wave.map((ti) => ({ key: tiKeyOf(ti), expect: { states: ['scheduled'], tryNumber: prevTry }, patch })));
    const queued = wave.filter((_, i) => applied[i]);
    if (queued.length === 0) {
      // Queued by a concurrent call with the same holder: the slots are that wave's.
      const taken = (await groupInstances(s, array)).some((x) => (x.state === 'queued' || x.state === 'running') && x.tryNumber === tryNumber);
      if (!taken) await releaseSlots(s, dag, t, holder);
      continue;
    }
    for (const ti of queued) s.emitTi({ ...ti, ...patch });
    s.dispatchWave({ array, dagId: dag.dagId, tryNumber, size: queued.length }, dag);
    const batch = t.kind === 'batch' ? t.batch : null;
    if (batch?.runnableTimeoutMs != null) {
      s.timer(s.now() + batch.runnableTimeoutMs, { type: 'runnable_check', array, tryNumber, jobName: waveJobName(dag.dagId, array, tryNumber), jobQueue: batch.jobQueue });
    }
  }
}

/**
 * Move many instances of one task to a terminal state (each on its own condition: one of `states` at its
 * try). Returns the instances that moved and the store's result (null when there were none).
 */
async function finishMany(
  s: Step,
  dag: Dag,
  t: TaskSpec,
  tis: readonly TaskInstanceRecord[],
  state: TerminalTiState,
  patch: (ti: TaskInstanceRecord) => Partial<TaskInstanceRecord>,
  states: TaskInstanceRecord['state'][],
): Promise<{ moved: TaskInstanceRecord[]; result: BulkFinishResult | null }> {
  if (tis.length === 0) return { moved: [], result: null };
  const reqs: FinishRequest[] = tis.map((ti) => ({ key: tiKeyOf(ti), expect: { states, tryNumber: ti.tryNumber }, state, patch: patch(ti), downstream: t.downstream }));
  const result = await s.store.finishTaskInstances(reqs);
  const moved: TaskInstanceRecord[] = [];
  tis.forEach((ti, i) => {
    if (!result.applied[i]) return;
    const done = { ...ti, ...reqs[i]!.patch, state };
    moved.push(done);
    s.emitTi(done);
  });
  return { moved, result };
}

/** After instances of `t` finished in bulk: let its downstream tasks decide, and end the run if nothing is pending. */
async function afterBulkFinish(s: Step, dag: Dag, array: ArrayRef, t: TaskSpec, result: BulkFinishResult): Promise<void> {
  const run = await s.store.getRun(array);
  if (!run || run.state !== 'running') return;
  await decideAll(s, dag, run, t.downstream.map((d) => dag.task(d)), result.downstream);
  if (result.pending === 0) await finalizeRun(s, run);
}

/** See `Scheduler.handleArrayResult`. */
export async function arrayResult(s: Step, array: ArrayRef, tryNumber: number, outcomes: readonly ChildOutcome[]): Promise<void> {
  const run = await s.store.getRun(array);
  if (!run) return;
  const dag = await s.dagOf(run);
  const t = dag.task(array.taskId);
  const byIndex = new Map(outcomes.map((o) => [o.mapIndex, o]));
  const group = await groupInstances(s, array);
  const running = group.filter((ti) => ti.state === 'running' && ti.tryNumber === tryNumber);
  if (running.length === 0) return afterWave(s, dag, run, t, array, tryNumber, group);
  const now = s.now();
  const nowIso = iso(now);
  const jobName = waveJobName(dag.dagId, array, tryNumber);
  const ok: TaskInstanceRecord[] = [];
  const retry: { ti: TaskInstanceRecord; at: number; error: string }[] = [];
  const failed: { ti: TaskInstanceRecord; error: string }[] = [];
  for (const ti of running) {
    const o = byIndex.get(ti.mapIndex) ?? { mapIndex: ti.mapIndex, jobId: '', status: 'FAILED' as const, exitCode: null, reason: 'the array job reported no outcome for this child' };
    if (o.status === 'SUCCEEDED') {
      ok.push({ ...ti, externalId: o.jobId });
      continue;
    }
    const error = `Batch job ${jobName} child ${o.jobId || '?'} failed: ${o.reason ?? `exit code ${o.exitCode}`}`;
    const d = decideAfterFailure({ ...t, retries: ti.maxTries - 1 }, tryNumber, true, `${dag.dagId}#${t.taskId}#${ti.mapIndex}#${run.logicalDate}`);
    if (d.next === 'retry') retry.push({ ti: { ...ti, externalId: o.jobId || ti.externalId }, at: now + d.delayMs, error });
    else failed.push({ ti: { ...ti, externalId: o.jobId || ti.externalId }, error });
  }
  const duration = (ti: TaskInstanceRecord) => (ti.startDate ? now - Date.parse(ti.startDate) : null);
  // Results first: an instance seen succeeded has its XCom.
  if (ok.length) {
    await s.store.putXComs(
      ok.map((ti) => ({
        dagId: ti.dagId,
        runId: ti.runId,
        taskId: ti.taskId,
        mapIndex: ti.mapIndex,
        key: 'return_value',
        value: { jobId: ti.externalId, jobName, status: 'SUCCEEDED', exitCode: byIndex.get(ti.mapIndex)?.exitCode ?? 0, childExitCodes: null },
      })),
    );
    for (const ti of ok) await taskCallback(s, dag, t, 'onSuccess', ti, tryNumber, null);
  }
  for (const f of failed) await taskCallback(s, dag, t, 'onFailure', f.ti, tryNumber, f.error);
  let last: BulkFinishResult | null = null;
  let moved = 0;
  const a = await finishMany(s, dag, t, ok, 'success', (ti) => ({ endDate: nowIso, durationMs: duration(ti), error: null, externalId: ti.externalId }), ['running']);
  moved += a.moved.length;
  last = a.result ?? last;
  await recordWaveOutlets(s, t, array, tryNumber);
  const errors = new Map(failed.map((f) => [f.ti.mapIndex, f.error]));
  const b = await finishMany(s, dag, t, failed.map((f) => f.ti), 'failed', (ti) => ({ endDate: nowIso, durationMs: duration(ti), error: failureInfo(new BatchJobFailedError(errors.get(ti.mapIndex) ?? 'failed')), externalId: ti.externalId }), ['running']);
  moved += b.moved.length;
  last = b.result ?? last;
  let retryAt = 0;
  if (retry.length) {
    const updates: TiUpdate[] = retry.map((r) => {
      const ended = { endDate: nowIso, durationMs: duration(r.ti), error: failureInfo(new BatchJobFailedError(r.error)), externalId: r.ti.externalId };
      const history = historyWithCurrentTry({ ...r.ti, ...ended }, 'failed');
      return { key: tiKeyOf(r.ti), expect: { states: ['running'], tryNumber }, patch: { state: 'up_for_retry', ...ended, nextAt: iso(r.at), ...(history ? { history } : {}) } };
    });
    const applied = await s.store.updateTaskInstances(updates);
    retry.forEach((r, i) => {
      if (!applied[i]) return;
      moved++;
      retryAt = Math.max(retryAt, r.at);
      s.emitTi({ ...r.ti, ...updates[i]!.patch });
    });
    for (const r of retry) await taskCallback(s, dag, t, 'onRetry', r.ti, tryNumber, r.error);
  }
  if (moved === 0) return; // a replay: the first delivery did all of this
  const logs = [
    ...ok.map((ti) => ({ ti, level: 'info' as const, message: `Batch job ${ti.externalId} succeeded` })),
    ...retry.map((r) => ({ ti: r.ti, level: 'error' as const, message: `${r.error} (up for retry)` })),
    ...failed.map((f) => ({ ti: f.ti, level: 'error' as const, message: f.error })),
  ];
  await s.store.appendLogs(logs.map((l) => ({ key: tiKeyOf(l.ti), tryNumber, lines: [{ time: nowIso, level: l.level, message: l.message }] })));
  await releaseSlots(s, dag, t, waveHolder(array, tryNumber));
  if (retryAt > 0) s.timer(retryAt, { type: 'array_retry', array, tryNumber });
  if (last) await afterBulkFinish(s, dag, array, t, last);
}

/**
 * What follows a wave's end, done again when a report finds none of its children running (a replay,
 * or a first delivery that stopped part way): its slots back, the retry timer of children up for
 * retry, the downstream decisions and the run's end. Idempotent steps only.
 */
async function afterWave(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec, array: ArrayRef, tryNumber: number, group: readonly TaskInstanceRecord[]): Promise<void> {
  const ofWave = group.filter((ti) => ti.tryNumber === tryNumber);
  if (ofWave.length === 0 || ofWave.some((ti) => ti.state === 'queued')) return;
  await releaseSlots(s, dag, t, waveHolder(array, tryNumber));
  await recordWaveOutlets(s, t, array, tryNumber, ofWave);
  let retryAt = 0;
  for (const ti of ofWave) if (ti.state === 'up_for_retry' && ti.nextAt !== null) retryAt = Math.max(retryAt, Date.parse(ti.nextAt));
  if (retryAt > 0) s.timer(retryAt, { type: 'array_retry', array, tryNumber });
  await decideDownstream(s, dag, run, t);
}

/**
 * Each child of the wave that succeeded records its outlets' events (as a mapped task's instances do),
 * once per key: done by every delivery of the wave's report, so a replay records what a first delivery
 * that stopped part way (between the children's finish and their events) did not.
 */
async function recordWaveOutlets(s: Step, t: TaskSpec, array: ArrayRef, tryNumber: number, group?: readonly TaskInstanceRecord[]): Promise<void> {
  if (!t.outlets?.length) return;
  for (const ti of group ?? (await groupInstances(s, array))) if (ti.state === 'success' && ti.tryNumber === tryNumber) await recordOutlets(s, t, ti);
}

/** The failed children of a wave are due: queue them as the group's next wave. */
export async function retryWave(s: Step, array: ArrayRef, tryNumber: number): Promise<void> {
  const run = await s.store.getRun(array);
  if (!run || run.state !== 'running') return;
  const dag = await s.dagOf(run);
  const t = dag.task(array.taskId);
  const waiting = (await groupInstances(s, array)).filter((ti) => ti.state === 'up_for_retry' && ti.tryNumber === tryNumber);
  if (waiting.length === 0) return;
  const patch: Partial<TaskInstanceRecord> = { state: 'scheduled', nextAt: null };
  const applied = await s.store.updateTaskInstances(waiting.map((ti) => ({ key: tiKeyOf(ti), expect: { states: ['up_for_retry'], tryNumber }, patch })));
  const scheduled = waiting.filter((_, i) => applied[i]).map((ti) => ({ ...ti, ...patch }));
  for (const ti of scheduled) s.emitTi(ti);
  await queueWave(s, dag, t, array, scheduled);
}
