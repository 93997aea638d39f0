// Baseline A, blocking sensors: Airflow's default parallelism of 32 worker slots, each holding one task
// instance for its whole life: it submits the item's job (one SubmitJob), then polls it with one
// DescribeJobs every 30 s of job time until it ends. A failed job's instance goes up for retry and frees
// its slot; after the 1-minute retry delay it is ready again and the next free worker resubmits it.
import type { BatchClient } from '@aws-sdk/client-batch';
import type { ScaledClock } from '../../e2e/scaled-clock.ts';
import { describeOne, ReadyQueue, Submitter } from './baseline-common.ts';
import { POLL_MS } from './jobs.ts';
import type { SystemRun } from './result.ts';

/** Airflow's `[core] parallelism` default. */
export const BLOCKING_WORKERS = 32;

export async function runBlocking(o: { items: number; clock: ScaledClock; client: BatchClient }): Promise<SystemRun> {
  const client = o.client;
  const submitter = new Submitter(client, o.clock, 'blocking', o.items);
  const queue = new ReadyQueue(o.items, o.clock);
  const worker = async () => {
    for (let t = await queue.take(); t !== null; t = await queue.take()) {
      const jobId = await submitter.submit(t.item, t.tryNumber);
      for (;;) {
        await o.clock.sleepUntil(o.clock.now() + POLL_MS);
        const status = (await describeOne(client, jobId)).status;
        if (status === 'SUCCEEDED' || status === 'FAILED') {
          queue.ended(t, status === 'SUCCEEDED');
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: BLOCKING_WORKERS }, worker));
  return {
    finished: queue.finished,
    endAt: o.clock.now(),
    extra: { workers: BLOCKING_WORKERS, clientThrottled: submitter.throttled, gaveUp: queue.gaveUp },
  };
}
