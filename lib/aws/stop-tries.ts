// Deployed, a run stopped (marked failed or success, past its dagrunTimeout) or an instance marked while
// its try is in flight must not leave that work running and billing: the instances' lifecycle executions
// are stopped (StopExecution) and their Batch jobs terminated (TerminateJob). Their late reports, if any,
// find the instances moved already and change nothing (every finish is conditional on the running try).

import { batchJobName, groupOf, waveJobName } from '../core/arrays.ts';
import { errorMessage } from '../errors.ts';
import type { DagResolver } from '../scheduler/host.ts';
import type { TaskInstanceRecord } from '../store/records.ts';
import type { AwsBatchBackend } from './batch-client.ts';
import type { SfnDispatcher } from './sfn-dispatcher.ts';

/** What stopping the work of instances did: executions stopped, jobs terminated, and what failed (never thrown: a stop is best effort). */
export interface StopReport {
  executions: string[];
  jobs: number;
  errors: string[];
}

/**
 * What a stop covers: `run` (the run was stopped: each array wave of `tis` is terminated whole, its
 * parent job with every child) or `instances` (instances were marked: only their own children of a wave
 * are terminated, the wave's other children run on).
 */
export type StopScope = 'run' | 'instances';

/** A wave's children to stop: the wave's job name and queue, and the child indexes of its members (recorded by `array_prepare`). */
interface WaveStop {
  jobQueue: string;
  jobName: string;
  children: number[];
  what: string;
}

/**
 * Stop the work in flight of `tis` (as they were before the stop: their queued version names their
 * lifecycle executions): their Standard lifecycle executions, and the Batch jobs of Batch tasks (the job
 * id recorded on a deferred instance, else the job the try submits by its default name in its queue).
 * Array children (a mapped Batch task run as array jobs) are stopped with their wave: its array job,
 * found by the wave's deterministic job name (`waveJobName`, which `array_prepare` records on each member
 * with its child index, a conditional write) in the task's queue, is terminated whole (`scope` `run`:
 * Batch terminates its children) or child by child (`instances`). The wave's lifecycle (a Distributed Map
 * child execution, not addressable by a name airless knows) then ends by itself: its wait sees the job
 * fail, and its report finds the instances moved.
 */
export async function stopTries(
  deps: { dags: DagResolver; sfn: SfnDispatcher | null; batch: AwsBatchBackend | null },
  tis: readonly TaskInstanceRecord[],
  reason: string,
  scope: StopScope = 'run',
): Promise<StopReport> {
  const report: StopReport = { executions: [], jobs: 0, errors: [] };
  const what = (ti: TaskInstanceRecord) => `${ti.dagId}/${ti.runId}/${ti.taskId}${ti.mapIndex >= 0 ? `[${ti.mapIndex}]` : ''} try ${ti.tryNumber}`;
  const waves = new Map<string, WaveStop>();
  const single = tis.filter((ti) => {
    const spec = deps.dags.getDag(ti.dagId)?.taskIndex.get(ti.taskId);
    if (spec?.kind !== 'batch' || !spec.batch.array || spec.mapping === null || ti.mapIndex < 0) return true;
    // An array child: its wave's job (no lifecycle execution of its own).
    if (!deps.batch || !spec.batch.jobQueue) return false;
    const jobName = waveJobName(ti.dagId, { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, group: groupOf(ti.mapIndex) }, ti.tryNumber);
    const m = /#(\d+)$/.exec(ti.externalId ?? '');
    const wave = waves.get(jobName) ?? { jobQueue: spec.batch.jobQueue, jobName, children: [], what: `${ti.dagId}/${ti.runId}/${ti.taskId} wave ${jobName}` };
    waves.set(jobName, wave);
    if (m) wave.children.push(Number(m[1]));
    return false;
  });
  await Promise.all(
    [...waves.values()].map(async (w) => {
      // Marked instances not prepared yet have no child: nothing of theirs runs (the wave will not submit them).
      if (scope === 'instances' && w.children.length === 0) return;
      try {
        report.jobs += await deps.batch!.terminateWave(w.jobQueue, w.jobName, scope === 'run' ? null : w.children, reason);
      } catch (e) {
        report.errors.push(`terminating the Batch array job of ${w.what}: ${errorMessage(e)}`);
      }
    }),
  );
  await Promise.all(
    single.map(async (ti) => {
      const spec = deps.dags.getDag(ti.dagId)?.taskIndex.get(ti.taskId);
      if (deps.sfn) {
        try {
          report.executions.push(...(await deps.sfn.stopLifecycle(ti, reason)));
        } catch (e) {
          report.errors.push(`stopping the lifecycle of ${what(ti)}: ${errorMessage(e)}`);
        }
      }
      if (deps.batch && spec?.kind === 'batch') {
        // By its default name only for an unmapped task: a custom name is not the run's alone, and mapped
        // instances go as array children, whose ids the wave records.
        const jobName = spec.batch.jobName === null && ti.mapIndex < 0 ? batchJobName(ti.dagId, ti.taskId, ti.mapIndex, ti.runId, ti.tryNumber) : null;
        if (!ti.externalId && jobName === null) return;
        try {
          report.jobs += await deps.batch.terminateJob({ jobId: ti.externalId, jobQueue: spec.batch.jobQueue, jobName }, reason);
        } catch (e) {
          report.errors.push(`terminating the Batch job of ${what(ti)}: ${errorMessage(e)}`);
        }
      }
    }),
  );
  return report;
}
