import type { RunType } from '../authoring/context.ts';
import { errorMessage } from '../errors.ts';
import type { BatchBackend, BatchJobStatus, BatchSubmission } from '../executor/batch-backend.ts';
import { InputResolver } from '../executor/resolve.ts';
import { TaskRunner } from '../executor/task-runner.ts';
import type { DagResolver, SchedulerEvent, TimerEvent, TryResult } from '../scheduler/host.ts';
import { Scheduler, type ReconcileReport } from '../scheduler/scheduler.ts';
import type { DagRunRecord, TaskInstanceRecord, TiKey } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import { InvocationHost, type Dispatcher } from './invocation-host.ts';
import type { LifecycleNext } from './lifecycle.ts';

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
  | { type: 'try_finished'; key: TiKey; tryNumber: number; result: TryResult }
  /** From a lifecycle's Wait (the next action concerns it), or `standalone` from a timer execution. */
  | { type: 'timer'; event: TimerEvent; standalone?: boolean }
  | { type: 'reconcile'; runIds?: string[]; staleMs?: number };

/**
 * The scheduler function: a try ended, a timer fired, or the periodic reconcile. Returns the next action
 * of the lifecycle that called (for a reconcile: what it repaired).
 */
export async function handleSchedulerRequest(req: SchedulerRequest, svc: AwsServices): Promise<LifecycleNext | { reconciled: ReconcileReport[] }> {
  switch (req.type) {
    case 'try_finished': {
      const { scheduler: s, host } = scheduler(svc, req.key);
      await s.handleTryResult(req.key, req.tryNumber, req.result);
      return host.flush();
    }
    case 'timer': {
      const current = req.standalone || req.event.type === 'run_timeout' ? null : req.event.key;
      const { scheduler: s, host } = scheduler(svc, current);
      await s.onTimer(req.event);
      return host.flush();
    }
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

export type TaskRunnerRequest =
  | { mode: 'run'; key: TiKey; tryNumber: number }
  | { mode: 'batch_prepare'; key: TiKey; tryNumber: number }
  | { mode: 'batch_complete'; key: TiKey; tryNumber: number; job: unknown }
  | { mode: 'iterate_prepare'; key: TiKey; tryNumber: number }
  | { mode: 'item'; key: TiKey; tryNumber: number; index: number; itemTry?: number }
  | { mode: 'iterate_complete'; key: TiKey; tryNumber: number };

const DUPLICATE_MESSAGE = 'DuplicateInvocation: this try is not queued or running any more';
/** A duplicate invocation (the try is not in the expected state): nothing ran; the scheduler ignores it. */
const DUPLICATE: TryResult = { kind: 'failure', error: DUPLICATE_MESSAGE, retriable: false };

/** The task runner function: one step of a try. `signal` fires before the Lambda's own timeout. */
export async function handleTaskRunnerRequest(req: TaskRunnerRequest, svc: AwsServices, signal?: AbortSignal): Promise<unknown> {
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
        return (await runner.run(req.key, req.tryNumber, signal)) ?? DUPLICATE;
      case 'batch_prepare': {
        const r = await runner.prepareBatchJob(req.key, req.tryNumber);
        if (r === null) throw Object.assign(new Error(DUPLICATE_MESSAGE), { name: 'DuplicateInvocation' });
        if ('result' in r) throw Object.assign(new Error(r.result.kind === 'failure' ? r.result.error : 'prepare failed'), { name: 'PrepareFailed' });
        return submitJobParameters(r.submission);
      }
      case 'batch_complete':
        return (await runner.completeBatchJob(req.key, req.tryNumber, batchJobStatusOf(req.job))) ?? DUPLICATE;
      case 'iterate_prepare': {
        const r = await runner.prepareIteration(req.key, req.tryNumber);
        if (r === null) return { items: [] };
        if ('result' in r) return { items: [], result: r.result };
        return r;
      }
      case 'item':
        await runner.runItem(req.key, req.tryNumber, req.index, req.itemTry ?? 1, signal);
        return { index: req.index, ok: true };
      case 'iterate_complete':
        return (await runner.completeIteration(req.key, req.tryNumber)) ?? DUPLICATE;
    }
  } finally {
    await host.flush();
  }
}

/** SubmitJob parameters (as `batch:submitJob.sync` takes them) for a prepared job. */
export function submitJobParameters(j: BatchSubmission): Record<string, unknown> {
  const overrides: Record<string, unknown> = { ...(j.containerOverrides ?? {}) };
  if (j.command) overrides['Command'] = j.command;
  const env = Object.entries(j.environment);
  if (env.length) overrides['Environment'] = env.map(([Name, Value]) => ({ Name, Value }));
  const out: Record<string, unknown> = { JobName: j.jobName, JobQueue: j.jobQueue, JobDefinition: j.jobDefinition };
  if (Object.keys(overrides).length) out['ContainerOverrides'] = overrides;
  if (j.arraySize) out['ArrayProperties'] = { Size: j.arraySize };
  return out;
}

/**
 * What `batch:submitJob.sync` returned (DescribeJobs' job shape) or the error it failed with
 * (`{ Error, Cause }` from a Catch), as the task runner reads it.
 */
export function batchJobStatusOf(job: unknown): BatchJobStatus | { error: string } {
  const j = (job ?? {}) as Record<string, unknown>;
  if (typeof j['Error'] === 'string') {
    // A failed .sync job comes back as States.TaskFailed with the job description in Cause.
    let cause: unknown = j['Cause'];
    try {
      cause = typeof cause === 'string' ? JSON.parse(cause) : cause;
    } catch {
      /* Cause is plain text */
    }
    if (cause && typeof cause === 'object' && 'JobId' in cause) return describeJob(cause as Record<string, unknown>);
    return { error: `${j['Error']}: ${typeof j['Cause'] === 'string' ? j['Cause'] : errorMessage(j['Cause'])}` };
  }
  return describeJob(j);
}

function describeJob(j: Record<string, unknown>): BatchJobStatus {
  const container = (j['Container'] ?? {}) as Record<string, unknown>;
  const status = String(j['Status'] ?? 'FAILED');
  return {
    jobId: String(j['JobId'] ?? ''),
    jobName: String(j['JobName'] ?? ''),
    status: status === 'SUCCEEDED' ? 'SUCCEEDED' : status === 'FAILED' ? 'FAILED' : 'RUNNING',
    exitCode: typeof container['ExitCode'] === 'number' ? container['ExitCode'] : null,
    reason: typeof j['StatusReason'] === 'string' ? j['StatusReason'] : typeof container['Reason'] === 'string' ? container['Reason'] : null,
    childExitCodes: null,
    output: '',
  };
}
