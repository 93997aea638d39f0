import type { RunType } from '../authoring/context.ts';
import type { BatchBackend, BatchJobStatus, BatchSubmission } from '../executor/batch-backend.ts';
import { InputResolver } from '../executor/resolve.ts';
import { TaskRunner } from '../executor/task-runner.ts';
import { timerTiKey, type DagResolver, type SchedulerEvent, type TimerEvent, type TryResult } from '../scheduler/host.ts';
import { Scheduler, type ReconcileReport } from '../scheduler/scheduler.ts';
import type { DagRunRecord, TaskInstanceRecord, TiKey } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import { InvocationHost, type Dispatcher } from './invocation-host.ts';
import type { LifecycleNext } from './lifecycle.ts';
import {
  aslTimestamp,
  batchJobDetail,
  type BatchJobOutcome,
  type BatchPrepareOutput,
  type IteratePrepareOutput,
  type SchedulerRequest as ContractSchedulerRequest,
  type SensorPokeRequest,
  type SubmitJobParameters,
  type TaskRunnerRequest as ContractTaskRunnerRequest,
} from '../compiler/contract.ts';

/** What every handler needs: built once per Lambda container from the environment. */
export interface AwsServices {
  store: StateStore;
  dags: DagResolver;
  dispatcher: Dispatcher;
  /** Batch jobs (poll mode, and `.sync` outputs described the same way). */
  batch: BatchBackend;
  now?: () => number;
  /** Scheduler events (errors in callbacks, state changes) for the function's logger. */
  onEvent?: (e: SchedulerEvent) => void;
  /** Whether a running instance's try has stopped without a result (its lifecycle execution ended). */
  tryStopped?: (ti: TaskInstanceRecord) => Promise<string | null>;
}

function scheduler(svc: AwsServices, current: TiKey | null): { scheduler: Scheduler; host: InvocationHost } {
  const host = new InvocationHost(svc.dispatcher, current, svc.now ?? Date.now, svc.onEvent);
  return { scheduler: new Scheduler(svc.store, svc.dags, host, new InputResolver(svc.store)), host };
}

// ---------------------------------------------------------------------------------------------------
// The scheduler function

export type SchedulerRequest =
  | ContractSchedulerRequest
  /** From a timer execution rather than a lifecycle: whatever the scheduler starts, it starts anew. */
  | { type: 'timer'; event: TimerEvent; standalone: true }
  | { type: 'reconcile'; runIds?: string[]; staleMs?: number };

/**
 * The next action of a lifecycle, read from its instance's state: what a replayed event must get back
 * when the first delivery already moved the instance (the reply depends on the state, not on whether this
 * call changed it).
 */
async function nextFromState(store: StateStore, key: TiKey): Promise<LifecycleNext> {
  const ti = await store.getTaskInstance(key);
  if (!ti) return { action: 'done' };
  const k = { runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex };
  if (ti.state === 'up_for_retry' && ti.nextAt) return { action: 'wait', at: aslTimestamp(Date.parse(ti.nextAt)), event: { type: 'retry', key: k, tryNumber: ti.tryNumber } };
  if (ti.state === 'deferred' && ti.nextAt) return { action: 'wait', at: aslTimestamp(Date.parse(ti.nextAt)), event: { type: 'resume', key: k, tryNumber: ti.tryNumber } };
  // Queued again by the first delivery: run it here (a second start elsewhere finds it running and does nothing).
  if (ti.state === 'queued') return { action: 'run', tryNumber: ti.tryNumber };
  return { action: 'done' };
}

/**
 * The scheduler function: a try ended, a timer fired, or the periodic reconcile. Returns the next action
 * of the lifecycle that called (for a reconcile: what it repaired).
 */
export async function handleSchedulerRequest(req: SchedulerRequest, svc: AwsServices): Promise<LifecycleNext | { reconciled: ReconcileReport[] }> {
  switch (req.type) {
    case 'try_finished': {
      const { scheduler: s, host } = scheduler(svc, req.key);
      if (req.result) await s.handleTryResult(req.key, req.tryNumber, req.result);
      const decided = host.decided;
      const next = await host.flush();
      return decided ? next : nextFromState(svc.store, req.key);
    }
    case 'timer': {
      const standalone = 'standalone' in req && req.standalone;
      const current = standalone ? null : timerTiKey(req.event);
      const { scheduler: s, host } = scheduler(svc, current);
      await s.onTimer(req.event);
      const decided = host.decided;
      const next = await host.flush();
      return decided || current === null ? next : nextFromState(svc.store, current);
    }
    case 'array_finished':
      throw new Error('TODO(array): array_finished');
    case 'reconcile': {
      const { scheduler: s, host } = scheduler(svc, null);
      const runIds = req.runIds ?? [...(await svc.store.listRunsByState('running')), ...(await svc.store.listRunsByState('queued'))].map((r) => r.runId);
      const reconciled: ReconcileReport[] = [];
      for (const runId of runIds) {
        reconciled.push(await s.reconcileRun(runId, { staleMs: req.staleMs ?? 5 * 60_000, ...(svc.tryStopped ? { tryStopped: svc.tryStopped } : {}) }));
      }
      await host.flush();
      return { reconciled };
    }
  }
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
  const run = await s.triggerRun({
    dagId: ev.dagId,
    ...(ev.conf ? { conf: ev.conf } : {}),
    ...(ev.runId ? { runId: ev.runId } : {}),
    ...(ev.logicalDate ? { logicalDate: ev.logicalDate } : {}),
    runType: ev.runType ?? 'manual',
  });
  await host.flush();
  return run;
}

// ---------------------------------------------------------------------------------------------------
// The task runner function

export type TaskRunnerRequest = ContractTaskRunnerRequest | SensorPokeRequest | { mode: 'item'; key: TiKey; tryNumber: number; index: number; itemTry?: number };

/**
 * The task runner function (and the sensor-poke function, `mode: 'poke'`): one step of a try, answering
 * as lib/compiler/contract.ts says. `signal` fires before the Lambda's own timeout.
 */
export async function handleTaskRunnerRequest(req: TaskRunnerRequest, svc: AwsServices, signal?: AbortSignal): Promise<TryResult | BatchPrepareOutput | IteratePrepareOutput | { index: number } | null> {
  const { scheduler: s, host } = scheduler(svc, null);
  const runner = new TaskRunner(
    svc.store,
    svc.dags,
    { now: svc.now ?? Date.now, triggerRun: (r) => s.triggerRun(r), batch: svc.batch },
    s.resolver,
  );
  try {
    switch (req.mode) {
      case 'run':
      case 'poke':
        return await runner.run(req.key, req.tryNumber, signal);
      case 'batch_prepare': {
        const r = await runner.prepareBatchJob(req.key, req.tryNumber);
        if (r === null) return { submit: null, result: null };
        if ('result' in r) return { submit: null, result: r.result };
        return { submit: submitJobParameters(r.submission), result: null };
      }
      case 'batch_complete':
        return await runner.completeBatchJob(req.key, req.tryNumber, batchJobStatusOf(req.job));
      case 'iterate_prepare': {
        const r = await runner.prepareIteration(req.key, req.tryNumber);
        if (r === null) return { items: null, result: null };
        if ('result' in r) return { items: null, result: r.result };
        return { items: r.items, result: null };
      }
      case 'item':
        await runner.runItem(req.key, req.tryNumber, req.index, ('itemTry' in req ? req.itemTry : undefined) ?? null, signal);
        return { index: req.index };
      case 'iterate_complete':
        return await runner.completeIteration(req.key, req.tryNumber);
      case 'array_prepare':
        throw new Error('TODO(array): array_prepare');
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
