// Timers: what the scheduler asked to be woken for (a `timer` effect) arriving back.

import type { TimerEvent } from '../core/events.ts';
import { timerRun } from '../core/events.ts';
import { errorMessage, RunnableTimeoutError } from '../errors.ts';
import type { RunRef } from '../store/records.ts';
import { onDeadline } from './deadlines.ts';
import { hitlTimeout } from './hitl.ts';
import { stopRunning } from './run-end.ts';
import type { Step } from './step.ts';
import { queueInstance, resumeDeferred } from './tries.ts';
import { groupInstances, retryWave } from './waves.ts';

export async function onTimer(s: Step, event: TimerEvent): Promise<void> {
  switch (event.type) {
    case 'retry': {
      const ti = await s.store.updateTaskInstance(event.key, { states: ['up_for_retry'], tryNumber: event.tryNumber }, { state: 'scheduled', nextAt: null });
      if (!ti) return;
      s.emitTi(ti);
      const run = await s.store.getRun(ti);
      if (run?.state !== 'running') return;
      return queueInstance(s, await s.dagOf(run), ti);
    }
    case 'resume':
      return resumeDeferred(s, event.key, event.tryNumber);
    case 'run_timeout':
      return timeoutRun(s, event);
    case 'array_retry':
      return retryWave(s, event.array, event.tryNumber);
    case 'runnable_check':
      return checkRunnable(s, event);
    case 'deadline':
      return onDeadline(s, event);
    case 'hitl_timeout':
      return hitlTimeout(s, event);
  }
}

/** A run past its dagrunTimeout: fail it; unfinished instances are skipped (as in Airflow). */
async function timeoutRun(s: Step, ref: RunRef): Promise<void> {
  const run = await s.store.getRun({ dagId: ref.dagId, runId: ref.runId });
  if (!run || run.state !== 'running') return;
  const dag = await s.dagOf(run);
  // A timer of an earlier start (the run was cleared and started again since) is not this start's.
  const limit = dag.spec.dagrunTimeoutMs;
  if (limit !== null && run.startDate !== null && s.now() - Date.parse(run.startDate) < limit) return;
  await stopRunning(s, run, `dagrun timeout: the run took longer than ${limit} ms`);
}

/** A job's (or a wave's) runnableTimeout has passed: stop what has not started (its children then fail as any do). */
async function checkRunnable(s: Step, event: Extract<TimerEvent, { type: 'runnable_check' }>): Promise<void> {
  const run = await s.store.getRun(timerRun(event));
  if (!run || run.state !== 'running') return;
  const dag = await s.dagOf(run);
  let stillRunning: boolean;
  if (event.array) stillRunning = (await groupInstances(s, event.array)).some((ti) => ti.state === 'running' && ti.tryNumber === event.tryNumber);
  else {
    const ti = event.key ? await s.store.getTaskInstance(event.key) : undefined;
    stillRunning = !!ti && (ti.state === 'running' || ti.state === 'deferred') && ti.tryNumber === event.tryNumber;
  }
  if (!stillRunning) return;
  const t = dag.task((event.array ?? event.key)!.taskId);
  const limitS = Math.round(((t.kind === 'batch' ? t.batch.runnableTimeoutMs : null) ?? 0) / 1000);
  const reason = errorMessage(new RunnableTimeoutError(`still RUNNABLE ${limitS} s after submission (runnableTimeout): no compute environment of queue '${event.jobQueue ?? '?'}' could place it; check its vCPU limits, instance types and subnets`));
  s.stopRunnable(event.jobQueue, event.jobName, reason);
}
