// Deployed, a run stopped (marked failed or success, past its dagrunTimeout) or an instance marked while
// its try is in flight must not leave that work running and billing: the instances' lifecycle executions
// are stopped (StopExecution) and their Batch jobs terminated (TerminateJob). Their late reports, if any,
// find the instances moved already and change nothing (every finish is conditional on the running try).

import { batchJobName } from '../core/arrays.ts';
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
 * Stop the work in flight of `tis` (as they were before the stop: their queued version names their
 * lifecycle executions): their Standard lifecycle executions, and the Batch jobs of Batch tasks (the job
 * id recorded on a deferred instance, else the job the try submits by its default name in its queue).
 * Array children are stopped with their wave (the wave's Batch array job, by its children's job ids).
 */
export async function stopTries(deps: { dags: DagResolver; sfn: SfnDispatcher | null; batch: AwsBatchBackend | null }, tis: readonly TaskInstanceRecord[], reason: string): Promise<StopReport> {
  const report: StopReport = { executions: [], jobs: 0, errors: [] };
  const what = (ti: TaskInstanceRecord) => `${ti.dagId}/${ti.runId}/${ti.taskId}${ti.mapIndex >= 0 ? `[${ti.mapIndex}]` : ''} try ${ti.tryNumber}`;
  await Promise.all(
    tis.map(async (ti) => {
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
