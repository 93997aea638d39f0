// What the two Airflow-style baselines share: submitting one job per call through the real
// @aws-sdk/client-batch (paced at Batch's 50 SubmitJob/s, with jittered exponential backoff when the API
// answers TooManyRequestsException), and the queue of task instances ready to run, the way Airflow's
// scheduler hands them to a worker pool (a retry, once its delay is over, comes before items never
// started: Airflow orders ready instances by priority weight, then map index, and a retried one has a
// lower map index than any item not started yet).
import { BatchClient, DescribeJobsCommand, SubmitJobCommand, type JobDetail } from '@aws-sdk/client-batch';
import type { ScaledClock } from '../../e2e/scaled-clock.ts';
import { RETRY_DELAY_MS, SUBMIT_RATE_PER_S } from './jobs.ts';

/** Tries per item: one retry, as batch_fanout's `retries: 1`. */
export const TRIES = 2;

export function baselineClient(endpoint: string): BatchClient {
  // maxAttempts 1: the SDK's own retries would back off in real time; the baselines back off on the scaled clock.
  return new BatchClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, maxAttempts: 1 });
}

/**
 * Before the timed span: one DescribeJobs of no job, so that the SDK's lazily loaded modules are loaded
 * (a one-off of the process, which airless's harness start also pays before its timed span).
 */
export async function warmUp(client: BatchClient): Promise<void> {
  await client.send(new DescribeJobsCommand({ jobs: [] }));
}

/** Submits one job per call, at most `ratePerS` a second (job time), backing off on throttling. */
export class Submitter {
  private nextSlot = 0;
  /** TooManyRequestsException answers received. */
  throttled = 0;

  constructor(
    private readonly client: BatchClient,
    private readonly clock: ScaledClock,
    private readonly system: string,
    private readonly items: number,
    private readonly ratePerS = SUBMIT_RATE_PER_S,
  ) {}

  /** Submit item `item`'s job for try `tryNumber`; resolves with its job id. */
  async submit(item: number, tryNumber: number): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const now = this.clock.now();
      const slot = Math.max(now, this.nextSlot);
      this.nextSlot = slot + 1000 / this.ratePerS;
      await this.clock.sleepUntil(slot);
      try {
        const out = await this.client.send(
          new SubmitJobCommand({
            jobName: `bench-${this.system}-${item}-try${tryNumber}`,
            jobQueue: 'survey-spot',
            jobDefinition: 'reduce-tile:3',
            containerOverrides: {
              command: ['python', '-m', 'reduce_tile', '--tile', String(item)],
              environment: [
                { name: 'TILE', value: String(item) },
                { name: 'TILES', value: String(this.items) },
              ],
            },
          }),
        );
        if (!out.jobId) throw new Error(`SubmitJob of item ${item} returned no jobId`);
        return out.jobId;
      } catch (e) {
        if ((e as Error).name !== 'TooManyRequestsException' || attempt >= 20) throw e;
        this.throttled++;
        // Full jitter: a random wait up to 100 ms * 2^attempt of job time, at most 20 s.
        await this.clock.sleepUntil(this.clock.now() + Math.random() * Math.min(20_000, 100 * 2 ** attempt));
      }
    }
  }
}

/** DescribeJobs of one job id (the model of both baselines: one id per call). */
export async function describeOne(client: BatchClient, jobId: string): Promise<JobDetail> {
  const job = (await client.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0];
  if (!job) throw new Error(`DescribeJobs does not know job ${jobId}`);
  return job;
}

export interface ReadyTask {
  item: number;
  tryNumber: number;
}

/**
 * Task instances ready to run: due retries first, then the items never started, in order. `take()`
 * resolves null once every item has ended (succeeded, or failed its last try).
 */
export class ReadyQueue {
  private nextItem = 0;
  private readonly retries: ReadyTask[] = [];
  private retriesHead = 0;
  private outstanding: number;
  private readonly waiters: ((t: ReadyTask | null) => void)[] = [];
  /** Items that ended SUCCEEDED, and that failed their last try. */
  finished = 0;
  gaveUp = 0;

  constructor(
    readonly items: number,
    private readonly clock: ScaledClock,
  ) {
    this.outstanding = items;
  }

  take(): Promise<ReadyTask | null> {
    const t = this.poll();
    if (t || this.outstanding === 0) return Promise.resolve(t);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private poll(): ReadyTask | null {
    if (this.retriesHead < this.retries.length) return this.retries[this.retriesHead++]!;
    if (this.nextItem < this.items) return { item: this.nextItem++, tryNumber: 1 };
    return null;
  }

  /** The item's job ended: SUCCEEDED, or FAILED (retried after the retry delay while tries remain). */
  ended(t: ReadyTask, succeeded: boolean): void {
    if (succeeded) {
      this.finished++;
      this.settle();
    } else if (t.tryNumber < TRIES) {
      void this.clock.sleepUntil(this.clock.now() + RETRY_DELAY_MS).then(() => {
        const next = { item: t.item, tryNumber: t.tryNumber + 1 };
        const w = this.waiters.shift();
        if (w) w(next);
        else this.retries.push(next);
      });
    } else {
      this.gaveUp++;
      this.settle();
    }
  }

  private settle(): void {
    this.outstanding--;
    if (this.outstanding === 0) for (const w of this.waiters.splice(0)) w(null);
  }
}
