// Baseline B, the deferrable operator model (Airflow's BatchOperator with deferrable=True): a worker
// submits each job alone (one SubmitJob per job, paced at 50/s with jittered backoff on
// TooManyRequestsException) and defers; the triggerer, one async loop, calls DescribeJobs for each
// deferred job (one job id per call, as the BatchJobTrigger does) every 30 s of job time until it ends.
// A failed job's instance is retried after the 1-minute retry delay (submitted again, deferred again).
import type { BatchClient } from '@aws-sdk/client-batch';
import type { ScaledClock } from '../../e2e/scaled-clock.ts';
import { describeOne, ReadyQueue, Submitter, type ReadyTask } from './baseline-common.ts';
import { POLL_MS } from './jobs.ts';
import type { SystemRun } from './result.ts';

/** The worker slots that run the instances' submitting part (Airflow's default parallelism). */
export const DEFERRABLE_WORKERS = 32;
/** Triggers one triggerer runs at most (Airflow's `[triggerer] capacity` default), for the cost model. */
export const TRIGGERER_CAPACITY = 1000;

interface Deferred {
  task: ReadyTask;
  jobId: string;
  at: number;
}

export async function runDeferrable(o: { items: number; clock: ScaledClock; client: BatchClient }): Promise<SystemRun> {
  const client = o.client;
  const submitter = new Submitter(client, o.clock, 'deferrable', o.items);
  const queue = new ReadyQueue(o.items, o.clock);

  // The triggerer: every deferred job's next poll is 30 s after it was deferred or last polled, so the
  // polls come due in the order they were queued (a FIFO is a time-ordered queue here).
  let fifo: Deferred[] = [];
  let head = 0;
  let deferred = 0;
  let peakDeferred = 0;
  let wake: (() => void) | null = null;
  let workersDone = false;
  const kick = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const defer = (d: Deferred) => {
    fifo.push(d);
    kick();
  };
  // An error of the API ends the scenario (a benchmark of a broken run measures nothing).
  let fail!: (e: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  const poll = async (d: Deferred) => {
    try {
      const status = (await describeOne(client, d.jobId)).status;
      if (status === 'SUCCEEDED' || status === 'FAILED') {
        deferred--;
        queue.ended(d.task, status === 'SUCCEEDED');
      } else defer({ ...d, at: o.clock.now() + POLL_MS });
    } catch (e) {
      fail(e);
    }
  };
  const triggerer = async () => {
    const inFlight = new Set<Promise<void>>();
    for (;;) {
      if (head === fifo.length) {
        if (workersDone && deferred === 0) break;
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      const d = fifo[head]!;
      await o.clock.sleepUntil(d.at);
      // Every poll due now, each its own coroutine (as each trigger is one in Airflow's triggerer).
      const now = o.clock.now();
      while (head < fifo.length && fifo[head]!.at <= now) {
        const p = poll(fifo[head++]!).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (head > 4096 && head * 2 > fifo.length) {
        fifo = fifo.slice(head);
        head = 0;
      }
      if (head === fifo.length && inFlight.size) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  };

  const worker = async () => {
    for (let t = await queue.take(); t !== null; t = await queue.take()) {
      const jobId = await submitter.submit(t.item, t.tryNumber);
      deferred++;
      peakDeferred = Math.max(peakDeferred, deferred);
      defer({ task: t, jobId, at: o.clock.now() + POLL_MS });
    }
  };
  const trig = triggerer();
  await Promise.race([Promise.all(Array.from({ length: DEFERRABLE_WORKERS }, worker)), failed]);
  workersDone = true;
  kick();
  await Promise.race([trig, failed]);
  return {
    finished: queue.finished,
    endAt: o.clock.now(),
    extra: { workers: DEFERRABLE_WORKERS, peakDeferred, triggerers: Math.ceil(peakDeferred / TRIGGERER_CAPACITY), clientThrottled: submitter.throttled, gaveUp: queue.gaveUp },
  };
}
