import { groupOf, type ChildOutcome } from '../core/arrays.ts';
import { dagAtVersion } from '../authoring/dag-resolver.ts';
import type { LocalRunner } from '../runner/local-runner.ts';
import { errorMessage, failureInfo, StandaloneInterruptedError, StandaloneResumeError } from '../errors.ts';
import { tiKeyOf, type TryResult } from '../scheduler/host.ts';
import { runHolder, runSemaphore, type ReconcileReport } from '../scheduler/scheduler.ts';
import type { DagResolver } from '../scheduler/host.ts';
import { deadlineTimers } from '../scheduler/deadlines.ts';
import type { TaskInstanceRecord } from '../store/records.ts';

export { StandaloneInterruptedError };

/** A try that was running when the server stopped. */
export const INTERRUPTED_TRY = 'the standalone server stopped while this try was running';
/** A local Batch job (a child process or a simulation) does not outlive the server that ran it. */
export const INTERRUPTED_BATCH = 'the standalone server stopped while the Batch job of this try was running';

/** What {@link resumeRuns} did. */
export interface ResumeReport {
  /** Runs looked at (queued or running). */
  runs: number;
  /** Tries reported failed with StandaloneInterruptedError (they retry if they have retries left). */
  interrupted: number;
  /** Timers of the previous process armed again (retry delays, sensor pokes, dagrun timeouts). */
  rearmed: number;
  /** What `Scheduler.reconcileRun` did per run. */
  reconciled: ReconcileReport[];
}

/** A try's failure for the server having stopped while it ran. */
function interrupted(message: string): TryResult {
  return { kind: 'failure', error: failureInfo(new StandaloneInterruptedError(message)), retriable: true };
}

/**
 * Resume, in a new process, every run the store has queued or running (what a previous server left):
 * - a try that was `running` (its process is gone) fails with a StandaloneInterruptedError, so it
 *   retries if it has retries left, else fails and the run goes on; so does a try waiting on a local
 *   Batch job (the job died with the process), an array wave's children included;
 * - timers are armed again on the runner: retries (`up_for_retry`), sensor pokes (`deferred` until a
 *   time), array retries, dagrun timeouts; a past-due one is delivered now;
 * - then `Scheduler.reconcileRun` settles the rest: queued runs start, undecided tasks are decided,
 *   instances queued before this process are dispatched, a trigger-DAG task whose run has ended
 *   resumes, a run with nothing pending is finalised.
 *
 * Call it once at start, before anything else uses the runner. `startedAt` (the runner clock's time
 * when this process started) tells the previous process's queued instances from this one's.
 */
export async function resumeRuns(runner: LocalRunner, dags: DagResolver, startedAt: number, options: { dagIds?: readonly string[] } = {}): Promise<ResumeReport> {
  const { store, scheduler } = runner;
  const report: ResumeReport = { runs: 0, interrupted: 0, rearmed: 0, reconciled: [] };
  // Units of maxActiveRuns that runs kept when the previous process died between their end and their release.
  for (const dagId of options.dagIds ?? []) if (dags.getDag(dagId)) await runner.drive((s) => s.recoverRunSlots(dagId));
  const runs = [...(await store.listRunsByState('running')), ...(await store.listRunsByState('queued'))];
  for (const run of runs) {
    report.runs++;
    // Its own version: in memory, or loaded from the bundle kept when it was first loaded (its DAG file
    // changed, or this is a new process).
    const dag = await dagAtVersion(dags, run.dagId, run.dagVersion).catch(() => undefined);
    if (!dag && dags.getDag(run.dagId)) {
      // Its version's code cannot be had (never kept, or pruned): the scheduler fails it with a note naming
      // the version it needs (DagVersionUnavailableError), counters untouched.
      report.reconciled.push(await runner.drive((s) => s.reconcileRun(run, { staleMs: 0 })));
      continue;
    }
    if (!dag) {
      // Its DAG file is gone or fails to import: nothing can run it (the scheduler needs the DAG even to
      // fail it). Say so on the run, never drop it; it stays in the store, as do its task instances.
      const note = errorMessage(new StandaloneResumeError(`DAG '${run.dagId}' is not loaded (its file is missing or fails to import), so run '${run.runId}' cannot resume`));
      const failed = await store.updateRun(run, [run.state], { state: 'failed', note, endDate: new Date(runner.clock.now()).toISOString() });
      // A running run held a unit of its maxActiveRuns semaphore: give it back, or the DAG, once loaded again, could run one run fewer.
      if (failed && run.state === 'running') await store.release(runSemaphore(run.dagId, run.backfillId ?? null), 1, runHolder(run));
      continue;
    }
    // Deadlines are computed again from the run's dates; one that fired already does not fire again.
    for (const t of deadlineTimers(dag, run)) {
      runner.arm(t.at, t.event);
      report.rearmed++;
    }
    if (run.state === 'running') {
      if (dag.spec.dagrunTimeoutMs !== null && run.startDate !== null) {
        runner.arm(Date.parse(run.startDate) + dag.spec.dagrunTimeoutMs, { type: 'run_timeout', dagId: run.dagId, runId: run.runId });
        report.rearmed++;
      }
      const tis = await store.listTaskInstances(run);
      const lostWaves = new Map<string, { taskId: string; group: number; tryNumber: number; children: TaskInstanceRecord[] }>();
      for (const ti of tis) {
        const t = dag.task(ti.taskId);
        const isArray = scheduler.isArrayTask(t) && ti.mapIndex >= 0;
        const future = ti.nextAt !== null && Date.parse(ti.nextAt) > runner.clock.now();
        if (ti.state === 'up_for_retry' && future) {
          if (isArray) runner.arm(Date.parse(ti.nextAt!), { type: 'array_retry', array: { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, group: groupOf(ti.mapIndex) }, tryNumber: ti.tryNumber });
          else runner.arm(Date.parse(ti.nextAt!), { type: 'retry', key: tiKeyOf(ti), tryNumber: ti.tryNumber });
          report.rearmed++;
        } else if (ti.state === 'deferred' && future) {
          // A human-in-the-loop request's wait ends at its timeout (which takes the defaults).
          runner.arm(Date.parse(ti.nextAt!), { type: t.kind === 'hitl' ? 'hitl_timeout' : 'resume', key: tiKeyOf(ti), tryNumber: ti.tryNumber });
          report.rearmed++;
        } else if (isArray && (ti.state === 'running' || ti.state === 'deferred')) {
          const id = `${ti.taskId}\u0000${groupOf(ti.mapIndex)}\u0000${ti.tryNumber}`;
          const wave = lostWaves.get(id) ?? { taskId: ti.taskId, group: groupOf(ti.mapIndex), tryNumber: ti.tryNumber, children: [] };
          wave.children.push(ti);
          lostWaves.set(id, wave);
        } else if (ti.state === 'running') {
          await runner.drive((s) => s.handleTryResult(tiKeyOf(ti), ti.tryNumber, interrupted(INTERRUPTED_TRY)));
          report.interrupted++;
        } else if (ti.state === 'deferred' && ti.nextAt === null && t.kind === 'batch') {
          // Back to running for this try, so that its failure is reported as any try's.
          const moved = await store.updateTaskInstance(tiKeyOf(ti), { states: ['deferred'], tryNumber: ti.tryNumber }, { state: 'running' });
          if (moved) {
            await runner.drive((s) => s.handleTryResult(tiKeyOf(ti), ti.tryNumber, interrupted(INTERRUPTED_BATCH)));
            report.interrupted++;
          }
        }
      }
      for (const wave of lostWaves.values()) {
        const outcomes: ChildOutcome[] = wave.children.map((c) => ({ mapIndex: c.mapIndex, jobId: c.externalId ?? '', status: 'FAILED', exitCode: null, reason: errorMessage(new StandaloneInterruptedError(INTERRUPTED_BATCH)) }));
        await runner.drive((s) => s.handleArrayResult({ dagId: run.dagId, runId: run.runId, taskId: wave.taskId, group: wave.group }, wave.tryNumber, outcomes));
        report.interrupted += outcomes.length;
      }
    }
    // Instances queued by the previous process (before startedAt) are dispatched again; this one's are not.
    const staleMs = Math.max(0, runner.clock.now() - startedAt) + 1;
    report.reconciled.push(await runner.drive((s) => s.reconcileRun(run, { staleMs })));
  }
  return report;
}
