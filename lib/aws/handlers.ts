import type { RunType } from '../authoring/context.ts';
import { ConfigurationError, errorMessage } from '../errors.ts';
import { errorInfoOf } from '../error-info.ts';
import type { BatchJobStatus, BatchSubmission } from '../executor/batch-backend.ts';
import { InputResolver } from '../executor/resolve.ts';
import { ItemTryCache } from '../executor/item-try-cache.ts';
import { TaskRunner } from '../executor/task-runner.ts';
import { timerTiKey, type TimerEvent, type TryResult } from '../scheduler/host.ts';
import { Scheduler, type ReconcileReport, type TrySeen } from '../scheduler/scheduler.ts';
import { childOutcomes, failedWave, groupBounds, type ArrayRef } from '../core/arrays.ts';
import { runRefOf, type DagRunRecord, type RunRef, type TaskInstanceRecord, type TiKey } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import { InvocationHost } from './invocation-host.ts';
import { pruneVersions, type PruneReport } from '../scheduler/prune-versions.ts';
import { parseReconcilerLoop, ReconcilerFlag, reconcilerRound } from './reconciler.ts';
import type { ReconcilerLoop, ReconcilerReply } from '../compiler/reconciler.ts';
import { DynamoDbStateStore } from '../store/dynamodb-store.ts';
import { itemListOutput } from './item-list.ts';
import { handleHitlStep } from './hitl-steps.ts';
import { nextFromInstance, nextFromWave, type LifecycleCaller } from '../core/lifecycle.ts';
import type { LifecycleNext } from './lifecycle.ts';
import type { AwsServices } from './services.ts';
import {
  batchJobDetail,
  ARRAY_MANIFEST_ENV,
  type ArrayManifest,
  type ArrayPrepareOutput,
  type ArraySubmitParameters,
  type ArraySubmitOutput,
  type ArrayPollOutput,
  type BatchJobDetail,
  type BatchJobOutcome,
  type BatchPrepareOutput,
  type HitlPrepareOutput,
  type IteratePrepareOutput,
  type SchedulerRequest as ContractSchedulerRequest,
  type SensorPokeRequest,
  type SubmitJobParameters,
  type TaskRunnerRequest as ContractTaskRunnerRequest,
} from '../compiler/contract.ts';

export type { AwsServices } from './services.ts';

/** A scheduler for one invocation, and the host that carries out its effects for the lifecycle that called. */
export function scheduler(svc: AwsServices, caller: LifecycleCaller | null): { scheduler: Scheduler; host: InvocationHost } {
  const batch = svc.batch;
  const host = new InvocationHost(svc.dispatcher, caller, {
    ...(svc.onEvent ? { onEvent: svc.onEvent } : {}),
    ...(batch.stopRunnable ? { stopRunnable: (q: string | null, name: string, reason: string) => batch.stopRunnable!(q, name, reason) } : {}),
    ...(svc.stopTries ? { stopTries: svc.stopTries } : {}),
    ...(svc.reconciler ? { armReconciler: () => svc.reconciler!.arm() } : {}),
    ...(svc.deadlines ? { deadlines: svc.deadlines } : {}),
  });
  return { scheduler: new Scheduler(svc.store, svc.dags, { now: svc.now ?? Date.now, arrays: true, resolver: new InputResolver(svc.store) }), host };
}

// ---------------------------------------------------------------------------------------------------
// The scheduler function

export type SchedulerRequest =
  | ContractSchedulerRequest
  /** From a timer execution rather than a lifecycle: whatever the scheduler starts, it starts anew. */
  | { type: 'timer'; event: TimerEvent; standalone: true }
  /**
   * `runs`: the runs to reconcile (default: every queued or running run). `loop`: a round of the
   * reconciler state machine (lib/aws/reconciler.ts), which replies whether to go on.
   */
  | { type: 'reconcile'; runs?: RunRef[]; staleMs?: number; loop?: ReconcilerLoop };

/** The next action of an instance's try loop as its state says (a replayed event gets what the first got). */
async function nextOfInstance(store: StateStore, key: TiKey): Promise<LifecycleNext> {
  return nextFromInstance(await store.getTaskInstance(key));
}

/** The next action of an array group's wave loop after wave `tryNumber`, as its instances say. */
async function nextOfWave(store: StateStore, array: ArrayRef, tryNumber: number): Promise<LifecycleNext> {
  const { from, to } = groupBounds(array.group);
  return nextFromWave(array, tryNumber, await store.listTaskInstanceRange(array, array.taskId, from, to));
}

/**
 * The scheduler function: a try ended, a timer fired, or a reconcile. Returns the next action of the
 * lifecycle that called; for a round of the reconciler (`loop`), whether its loop goes on
 * (lib/aws/reconciler.ts); for a direct reconcile, what it repaired.
 */
export async function handleSchedulerRequest(req: SchedulerRequest, svc: AwsServices): Promise<LifecycleNext | { reconciled: ReconcileReport[] } | ReconcilerReply> {
  switch (req.type) {
    case 'try_finished': {
      const caller = lifecycleCallerOf(svc, req.key);
      const { scheduler: s, host } = scheduler(svc, caller);
      // The compiled TryFailed state writes a failure's error as "Error: Cause" text.
      const result = req.result?.kind === 'failure' ? { ...req.result, error: errorInfoOf(req.result.error) } : req.result;
      if (result) await host.run(s.handleTryResult(req.key, req.tryNumber, result));
      const next = await host.flush();
      if (next) return next;
      if (!caller) return DONE;
      // The instance as this invocation wrote it, if it did: no read needed.
      const written = host.callerWritten;
      return written ? nextFromInstance(written) : nextOfInstance(svc.store, req.key);
    }
    case 'timer': {
      const standalone = 'standalone' in req && req.standalone;
      const instance = standalone ? null : timerTiKey(req.event);
      const wave = !standalone && req.event.type === 'array_retry' ? req.event.array : null;
      const { scheduler: s, host } = scheduler(svc, instance ? { instance } : wave ? { wave } : null);
      await host.run(s.onTimer(req.event));
      const next = await host.flush();
      if (next) return next;
      if (wave && req.event.type === 'array_retry') return nextOfWave(svc.store, wave, req.event.tryNumber);
      return instance === null ? { action: 'done' } : nextOfInstance(svc.store, instance);
    }
    case 'array_finished': {
      const { scheduler: s, host } = scheduler(svc, { wave: req.array });
      await settleWave(s, host, svc, req.array, req.tryNumber, req.job);
      return (await host.flush()) ?? nextOfWave(svc.store, req.array, req.tryNumber);
    }
    case 'reconcile': {
      if (req.loop !== undefined) {
        const loop = parseReconcilerLoop(req.loop);
        return reconcilerRound(reconcilerFlagOf(svc), loop, (svc.now ?? Date.now)(), async () => {
          const active = (await reconcileRuns(req, svc)).length;
          // Once per round (never while the loop is not armed): the code of versions no run needs any more.
          await pruneDeployedVersions(svc);
          return active;
        });
      }
      return { reconciled: await reconcileRuns(req, svc) };
    }
  }
}

/** The reconciler's flag: an item of the DynamoDB store's table. */
function reconcilerFlagOf(svc: AwsServices): ReconcilerFlag {
  if (svc.reconciler) return svc.reconciler.flag;
  if (svc.store instanceof DynamoDbStateStore) return new ReconcilerFlag(svc.store.doc, svc.store.tableName);
  throw new ConfigurationError("a reconciler round needs the DynamoDB store: the reconciler's flag is an item of its table");
}

/**
 * Prune the code of the bundled DAGs' versions that no queued or running run uses, beyond the newest
 * `versionsRetained` (lib/scheduler/prune-versions.ts): their records are marked pruned and their bundles
 * deleted from the bucket. Nothing without the bucket's bundles or a listing resolver. A failure is
 * reported as a scheduler event (`where: 'prune versions'`), not thrown: the round's reconcile stands and
 * the next round prunes again.
 */
export async function pruneDeployedVersions(svc: AwsServices): Promise<PruneReport | null> {
  const bundles = svc.bundles;
  const deployed = svc.dags.dags;
  if (!bundles || !deployed) return null;
  try {
    return await pruneVersions({
      store: svc.store,
      dagIds: deployed.map((d) => d.dagId),
      current: new Map(deployed.map((d) => [d.dagId, d.spec.version])),
      deleteBundle: (bundle) => bundles.deleteBundle(bundle),
      ...(svc.versionsRetained !== undefined ? { retain: svc.versionsRetained } : {}),
      now: new Date((svc.now ?? Date.now)()).toISOString(),
    });
  } catch (error) {
    svc.onEvent?.({ type: 'error', where: 'prune versions', run: null, error });
    return null;
  }
}

/** Reconcile `req.runs`, or every queued or running run (queued listed first: a run starting in between is in one listing). */
async function reconcileRuns(req: { runs?: RunRef[]; staleMs?: number }, svc: AwsServices): Promise<ReconcileReport[]> {
  const { scheduler: s, host } = scheduler(svc, null);
  const runs = req.runs ?? [...(await svc.store.listRunsByState('queued')), ...(await svc.store.listRunsByState('running'))].map(runRefOf);
  const reconciled: ReconcileReport[] = [];
  // Units of maxActiveRuns that ended runs kept (their release lost): given back, queued runs started.
  const listed = svc.dags.dags;
  if (!req.runs) for (const dag of listed ?? []) await host.run(s.recoverRunSlots(dag.dagId));
  for (const run of runs) {
    reconciled.push(await host.run(s.reconcileRun(run, { staleMs: req.staleMs ?? 5 * 60_000, ...(svc.tryStopped ? { tryStopped: svc.tryStopped } : {}) })));
  }
  await host.flush();
  return reconciled;
}

// ---------------------------------------------------------------------------------------------------
// The trigger function

export interface TriggerEvent {
  dagId: string;
  conf?: Record<string, unknown>;
  runId?: string;
  /** ISO-8601; EventBridge Scheduler passes the scheduled time. Default now. */
  logicalDate?: string;
  runType?: RunType;
}

/** Create a run (validating conf) and start it when maxActiveRuns allows. Idempotent on runId. */
export async function handleTrigger(ev: TriggerEvent, svc: AwsServices): Promise<DagRunRecord> {
  const { scheduler: s, host } = scheduler(svc, null);
  const run = await host.run(s.triggerRun({
    dagId: ev.dagId,
    ...(ev.conf ? { conf: ev.conf } : {}),
    ...(ev.runId ? { runId: ev.runId } : {}),
    ...(ev.logicalDate ? { logicalDate: ev.logicalDate } : {}),
    runType: ev.runType ?? 'manual',
  }));
  // Also when the run was found (a replay whose first delivery may have died before arming).
  if (run.state === 'queued' || run.state === 'running') host.runActive();
  await host.flush();
  return run;
}

// ---------------------------------------------------------------------------------------------------
// The task runner function

export type TaskRunnerRequest = ContractTaskRunnerRequest | SensorPokeRequest | { mode: 'item'; key: TiKey; tryNumber: number; index: number; itemTry?: number };

/** The reply of a step whose lifecycle does not read it: whatever comes next starts in new executions. */
const DONE: LifecycleNext = { action: 'done' };

/**
 * The lifecycle that calls the scheduler about `key`'s try, when its machine reads the scheduler's reply
 * (a sensor's poke loop waits for its next poke in its execution); null for the machines that end once
 * the try is reported (try, batch, iterate: a retry's delay is a timer execution, the next try a new
 * execution), whose next actions all start elsewhere.
 */
function lifecycleCallerOf(svc: AwsServices, key: TiKey): LifecycleCaller | null {
  return svc.dags.getDag(key.dagId)?.taskIndex.get(key.taskId)?.kind === 'sensor' ? { instance: key } : null;
}

/** What the items of an iteration try share, per container (its services). */
const itemTries = new WeakMap<AwsServices, ItemTryCache>();
function itemTriesOf(svc: AwsServices): ItemTryCache {
  let c = itemTries.get(svc);
  if (!c) itemTries.set(svc, (c = new ItemTryCache()));
  return c;
}

/**
 * The task runner function (and the sensor-poke function, `mode: 'poke'`): one step of a try, answering
 * as lib/compiler/contract.ts says. A step that ends the try reports it to the scheduler in the same
 * invocation (no second invocation, no second read of the instance) and returns the lifecycle's next
 * action. `signal` fires before the Lambda's own timeout.
 */
export async function handleTaskRunnerRequest(
  req: TaskRunnerRequest,
  svc: AwsServices,
  signal?: AbortSignal,
): Promise<LifecycleNext | BatchPrepareOutput | IteratePrepareOutput | ArrayPrepareOutput | ArraySubmitOutput | ArrayPollOutput | HitlPrepareOutput | { index: number }> {
  const caller = 'key' in req ? lifecycleCallerOf(svc, req.key) : null;
  const { scheduler: s, host } = scheduler(svc, caller);
  const runner = new TaskRunner(
    svc.store,
    svc.dags,
    { now: svc.now ?? Date.now, triggerRun: (r) => host.run(s.triggerRun(r)), batch: svc.batch, itemTries: itemTriesOf(svc) },
    s.resolver,
  );
  /** Report a try's result (null: nothing ran here) and carry out what the scheduler decided. */
  const report = async (key: TiKey, tryNumber: number, result: TryResult | null, seen?: TrySeen): Promise<LifecycleNext> => {
    if (result) await host.run(s.handleTryResult(key, tryNumber, result, seen));
    const next = await host.flush();
    if (next) return next;
    return caller ? nextOfInstance(svc.store, key) : DONE;
  };
  try {
    switch (req.mode) {
      case 'run':
      case 'poke': {
        // The instance and run the try read as it started: its report in this invocation reads neither again.
        const seen: Partial<TrySeen> = {};
        const result = await runner.run(req.key, req.tryNumber, signal, seen);
        return await report(req.key, req.tryNumber, result, seen.ti && seen.run ? { ti: seen.ti, run: seen.run } : undefined);
      }
      case 'batch_prepare': {
        const r = await runner.prepareBatchJob(req.key, req.tryNumber);
        if (r === null) return { submit: null };
        if ('result' in r) {
          await report(req.key, req.tryNumber, r.result);
          return { submit: null };
        }
        // The executionTimeout is the job's own: Batch stops it (at least 60 s, Batch's minimum).
        const ms = svc.dags.getDag(req.key.dagId)?.taskIndex.get(req.key.taskId)?.executionTimeoutMs ?? null;
        return { submit: { ...submitJobParameters(r.submission), Timeout: ms === null ? {} : { AttemptDurationSeconds: Math.max(60, Math.ceil(ms / 1000)) } } };
      }
      case 'batch_complete':
        return await report(req.key, req.tryNumber, await runner.completeBatchJob(req.key, req.tryNumber, batchJobStatusOf(req.job)));
      case 'iterate_prepare': {
        const r = await runner.prepareIteration(req.key, req.tryNumber);
        if (r === null) return { items: null, itemsObject: null };
        if ('result' in r) {
          await report(req.key, req.tryNumber, r.result);
          return { items: null, itemsObject: null };
        }
        // A list too long for the state, or for the execution's history, goes to S3 (a Distributed Map).
        return await itemListOutput(req.key, req.tryNumber, r, svc.blobs);
      }
      case 'item':
        await runner.runItem(req.key, req.tryNumber, req.index, ('itemTry' in req ? req.itemTry : undefined) ?? null, signal);
        return { index: req.index };
      case 'iterate_complete':
        return await report(req.key, req.tryNumber, await runner.completeIteration(req.key, req.tryNumber));
      case 'array_prepare':
        return await prepareWave(runner, s, host, svc, req.array, req.tryNumber);
      case 'array_submit': {
        const sub = submissionOf(req.submit);
        const jobId = await svc.batch.submit(sub, { key: { dagId: req.array.dagId, runId: req.array.runId, taskId: req.array.taskId, mapIndex: -1 }, tryNumber: req.tryNumber });
        return { jobId };
      }
      case 'array_poll': {
        const st = await svc.batch.describe(req.jobId);
        if (!st) throw new Error(`Batch job ${req.jobId} is unknown to Batch`);
        if (st.status !== 'SUCCEEDED' && st.status !== 'FAILED') return { done: false, job: null };
        const detail: BatchJobDetail = { JobId: st.jobId, JobName: st.jobName, Status: st.status, ...(st.reason ? { StatusReason: st.reason } : {}) };
        return { done: true, job: st.status === 'SUCCEEDED' ? detail : { Error: 'States.TaskFailed', Cause: JSON.stringify(detail) } };
      }
      case 'hitl_prepare':
      case 'hitl_token':
      case 'hitl_complete':
      case 'hitl_timeout':
        return await handleHitlStep(req, { svc, runner, scheduler, report, now: svc.now ?? Date.now, ...(signal ? { signal } : {}) });
    }
  } finally {
    await host.flush();
  }
}

/** SubmitJob parameters (as `batch:submitJob.sync` takes them) for a prepared job: every field present. */
export function submitJobParameters(j: BatchSubmission): SubmitJobParameters {
  const overrides: SubmitJobParameters['ContainerOverrides'] = { ...(j.containerOverrides ?? {}) };
  if (j.command) overrides.Command = j.command;
  const env = Object.entries(j.environment);
  if (env.length) overrides.Environment = env.map(([Name, Value]) => ({ Name, Value }));
  return {
    JobName: j.jobName,
    JobQueue: j.jobQueue ?? '',
    JobDefinition: j.jobDefinition ?? '',
    ContainerOverrides: overrides,
    ArrayProperties: j.arraySize ? { Size: j.arraySize } : {},
  };
}

/** What `batch:submitJob.sync` returned (or the error that ended it), as the task runner reads it. */
export function batchJobStatusOf(job: BatchJobOutcome): BatchJobStatus | { error: string } {
  const detail = batchJobDetail(job);
  if (detail === null) {
    const e = job as { Error?: string; Cause?: string };
    return { error: `${e.Error ?? 'Error'}: ${e.Cause ?? ''}` };
  }
  const status = detail.Status;
  return {
    jobId: detail.JobId,
    jobName: detail.JobName,
    status: status === 'SUCCEEDED' ? 'SUCCEEDED' : status === 'FAILED' ? 'FAILED' : 'RUNNING',
    exitCode: typeof detail.Container?.ExitCode === 'number' ? detail.Container.ExitCode : null,
    reason: detail.StatusReason ?? detail.Container?.Reason ?? null,
    childExitCodes: null,
    output: '',
  };
}

// ---------------------------------------------------------------------------------------------------
// Array waves (a mapped Batch task as array jobs: lib/core/arrays.ts)

/** Where a wave's manifest goes (one object per wave). */
function manifestKey(array: ArrayRef, tryNumber: number): string {
  return `${array.dagId}/${array.runId}/arrays/${array.taskId}/g${array.group}/try-${tryNumber}/manifest.json`;
}

/** Fail every child of a wave with `error` (its items could not be prepared). */
async function failWave(s: Scheduler, host: InvocationHost, array: ArrayRef, tryNumber: number, mapIndexes: number[], error: string): Promise<void> {
  await host.run(s.handleArrayResult(array, tryNumber, failedWave(mapIndexes, error)));
}

/** `array_prepare`: the wave's instances become running; its manifest goes to S3; the job to submit comes back. */
async function prepareWave(runner: TaskRunner, s: Scheduler, host: InvocationHost, svc: AwsServices, array: ArrayRef, tryNumber: number): Promise<ArrayPrepareOutput> {
  const p = await runner.prepareArrayWave(array, tryNumber);
  if (!p) return { submit: null, size: 0 };
  if ('error' in p) {
    await failWave(s, host, array, tryNumber, p.mapIndexes, p.error);
    return { submit: null, size: 0 };
  }
  const sub = p.submission;
  const size = p.mapIndexes.length;
  const blobs = svc.blobs;
  if (!blobs) {
    await failWave(s, host, array, tryNumber, p.mapIndexes, errorMessage(new ConfigurationError(`array job ${sub.jobName} needs a bucket for its manifest (BUCKET_NAME is not set)`)));
    return { submit: null, size: 0 };
  }
  const manifest: ArrayManifest = {
    version: 1,
    dagId: array.dagId,
    runId: array.runId,
    taskId: array.taskId,
    tryNumber,
    mapIndexes: p.mapIndexes,
    items: sub.children!,
  };
  const at = await blobs.put(manifestKey(array, tryNumber), JSON.stringify(manifest));
  const only = size === 1 ? sub.children![0]! : null;
  const job: BatchSubmission = {
    ...sub,
    command: only ? only.command : sub.command,
    environment: { ...(only ? only.environment : sub.environment), [ARRAY_MANIFEST_ENV]: `s3://${at.Bucket}/${at.Key}` },
  };
  return { submit: { ...submitJobParameters(job), Timeout: sub.attemptDurationSeconds ? { AttemptDurationSeconds: sub.attemptDurationSeconds } : {} }, size };
}

/** The child index of each running member of a wave, from what `array_prepare` recorded on it. */
function childIndexOfMember(ti: TaskInstanceRecord): number | null {
  const m = /#(\d+)$/.exec(ti.externalId ?? '');
  return m ? Number(m[1]) : null;
}

/** `array_finished`: ask Batch which children failed and settle every child of the wave. */
async function settleWave(s: Scheduler, host: InvocationHost, svc: AwsServices, array: ArrayRef, tryNumber: number, job: BatchJobOutcome | null): Promise<void> {
  if (job === null) return;
  const { from, to } = groupBounds(array.group);
  const members = (await svc.store.listTaskInstanceRange(array, array.taskId, from, to)).filter((ti) => ti.state === 'running' && ti.tryNumber === tryNumber);
  if (members.length === 0) return;
  // Child i is the member array_prepare numbered i (a member without a number: its place by map index).
  const mapIndexes: number[] = new Array<number>(members.length);
  members.forEach((ti, i) => {
    const c = childIndexOfMember(ti);
    mapIndexes[c !== null && c < members.length ? c : i] = ti.mapIndex;
  });
  for (let i = 0; i < mapIndexes.length; i++) if (mapIndexes[i] === undefined) throw new Error(`array wave ${array.taskId} group ${array.group} try ${tryNumber}: child ${i} has no instance`);
  const detail = batchJobDetail(job);
  if (detail === null) {
    const e = job as { Error?: string; Cause?: string };
    return failWave(s, host, array, tryNumber, mapIndexes, `Batch job could not be run: ${e.Error ?? 'Error'}: ${e.Cause ?? ''}`);
  }
  if (!svc.batch.waveResult) throw new Error('the Batch backend cannot list the children of an array job (waveResult)');
  const result = await svc.batch.waveResult(detail.JobId, mapIndexes.length);
  await host.run(s.handleArrayResult(array, tryNumber, childOutcomes(mapIndexes, result)));
}

/** A job to submit, back from SubmitJob parameters (poll mode submits what `array_prepare` returned). */
function submissionOf(p: ArraySubmitParameters): BatchSubmission {
  const { Command, Environment, ...rest } = p.ContainerOverrides;
  return {
    jobName: p.JobName,
    jobQueue: p.JobQueue || null,
    jobDefinition: p.JobDefinition || null,
    command: Command ?? null,
    environment: Object.fromEntries((Environment ?? []).map((e) => [e.Name, e.Value])),
    containerOverrides: Object.keys(rest).length ? rest : null,
    arraySize: p.ArrayProperties.Size ?? null,
    attemptDurationSeconds: p.Timeout.AttemptDurationSeconds ?? null,
    local: { mode: 'process' },
  };
}
