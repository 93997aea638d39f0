import { WATCHER_MAX_JOB_IDS, type DescribeJobsOutput, type DescribeJobsRequest } from '../compiler/contract.ts';
import { InputResolver } from '../executor/resolve.ts';
import { Scheduler } from '../scheduler/scheduler.ts';
import type { AwsServices } from './handlers.ts';
import type { BatchJobDescriber } from './batch-client.ts';
import { InvocationHost } from './invocation-host.ts';

/**
 * Rounds after which a watcher execution continues as new: a round is about 9 history events, so 2,500
 * rounds stay well under Step Functions' 25,000-event limit.
 */
export const WATCHER_ROUNDS_PER_EXECUTION = 2500;
/** Bounds of the seconds between two rounds (a Wait state's SecondsPath). */
export const WATCHER_MIN_INTERVAL_SECONDS = 1;
export const WATCHER_MAX_INTERVAL_SECONDS = 3600;

/**
 * One round of a Batch watcher: ONE DescribeJobs call for all the ids, then every finished job whose
 * owner try is deferred on it is resumed (the scheduler queues it and starts its lifecycle, whose try reads
 * the job's outcome). A finished job whose owner has not deferred yet (the try that submitted it is still
 * reporting) stays pending for the next round; a job Batch no longer knows is dropped (and reported as an
 * error event). Idempotent: resuming is conditional on the instance being deferred on this try.
 */
export async function handleDescribeJobs(req: DescribeJobsRequest, svc: AwsServices, batch: BatchJobDescriber): Promise<DescribeJobsOutput> {
  const jobIds = [...new Set(req.jobIds)];
  if (jobIds.length > WATCHER_MAX_JOB_IDS) throw new RangeError(`a Batch watcher watches at most ${WATCHER_MAX_JOB_IDS} jobs, got ${jobIds.length}`);
  const now = svc.now ?? Date.now;
  const interval = Math.min(WATCHER_MAX_INTERVAL_SECONDS, Math.max(WATCHER_MIN_INTERVAL_SECONDS, Math.round(Number(req.intervalSeconds) || WATCHER_MIN_INTERVAL_SECONDS)));
  const jobs = await batch.describeJobs(jobIds);
  const host = new InvocationHost(svc.dispatcher, null, { ...(svc.onEvent ? { onEvent: svc.onEvent } : {}), ...(svc.deadlines ? { deadlines: svc.deadlines } : {}) });
  const scheduler = new Scheduler(svc.store, svc.dags, { now, arrays: true, resolver: new InputResolver(svc.store) });
  const pending: string[] = [];
  const finished: DescribeJobsOutput['finished'] = [];
  for (const jobId of jobIds) {
    const job = jobs.get(jobId);
    if (!job) {
      svc.onEvent?.({ type: 'error', run: null, error: new Error(`Batch job ${jobId} is unknown to Batch: no longer watched`), where: 'Batch watcher' });
      continue;
    }
    const { status, owner } = job;
    if (status.status !== 'SUCCEEDED' && status.status !== 'FAILED') {
      pending.push(jobId);
      continue;
    }
    if (owner) {
      const ti = await svc.store.getTaskInstance(owner.key);
      if (ti && ti.tryNumber === owner.tryNumber && ti.state === 'running') {
        // The try that submitted it has not deferred yet: deliver it next round.
        pending.push(jobId);
        continue;
      }
      if (ti && ti.tryNumber === owner.tryNumber && ti.state === 'deferred' && ti.externalId === jobId) {
        await host.run(scheduler.resumeDeferred(owner.key, owner.tryNumber));
      }
    }
    finished.push({ jobId, status: status.status });
  }
  await host.flush();
  const startedAt = Date.parse(req.startedAt);
  const rounds = Number.isNaN(startedAt) ? 0 : Math.floor((now() - startedAt) / 1000 / interval);
  return { pending, finished, intervalSeconds: interval, continueAsNew: pending.length > 0 && rounds >= WATCHER_ROUNDS_PER_EXECUTION };
}
