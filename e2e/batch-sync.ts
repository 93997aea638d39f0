/**
 * `arn:aws:states:::batch:submitJob.sync`, which aws-local-stepfunctions does not run, supplied by the
 * harness the way Step Functions does it: SubmitJob with the state's parameters, then DescribeJobs until
 * the job ends, through the real `@aws-sdk/client-batch` (against the local Batch API, or whatever
 * endpoint the client has). The job detail comes back with Step Functions' PascalCase field names; a
 * job that failed throws `States.TaskFailed` with the detail as JSON in its cause; an error of the API
 * throws `Batch.<error name>`.
 */
import { DescribeJobsCommand, SubmitJobCommand, TerminateJobCommand, type BatchClient, type SubmitJobCommandInput } from '@aws-sdk/client-batch';
import type { HarnessClock } from './harness-clock.ts';

/**
 * Seconds between two DescribeJobs calls of one `.sync` wait. Step Functions does not publish how often
 * it polls a Batch job; this figure decides how many DescribeJobs calls a job costs (they are free).
 */
export const SYNC_POLL_SECONDS = 30;

/** An error as a Task state's Catch sees it: `name` is the ASL error, `message` the cause. */
export class StatesError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

const MAP_FIELDS = new Set(['tags', 'parameters']);

/** Keys with their first letter changed, at every depth (the keys of maps such as tags are data, and kept). */
function rekey(v: unknown, f: (k: string) => string, keepKeys = false): unknown {
  if (Array.isArray(v)) return v.map((x) => rekey(x, f));
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [keepKeys ? k : f(k), rekey(x, f, !keepKeys && MAP_FIELDS.has(k.charAt(0).toLowerCase() + k.slice(1)))]));
}

export const pascalKeys = (v: unknown): unknown => rekey(v, (k) => k.charAt(0).toUpperCase() + k.slice(1));
export const camelKeys = (v: unknown): unknown => rekey(v, (k) => k.charAt(0).toLowerCase() + k.slice(1));

export interface SubmitJobSyncOptions {
  client: BatchClient;
  clock: HarnessClock;
  /** Default {@link SYNC_POLL_SECONDS}. */
  pollSeconds?: number;
  /** Fires when the execution is stopped: the job is terminated (as Step Functions does) and the wait ends. */
  signal?: AbortSignal;
}

/** Run `batch:submitJob.sync` with the Task state's evaluated parameters. */
export async function submitJobSync(parameters: unknown, o: SubmitJobSyncOptions): Promise<unknown> {
  const p = camelKeys(parameters) as SubmitJobCommandInput & { arrayProperties?: { size?: number } };
  const input: SubmitJobCommandInput = { ...p };
  // `ArrayProperties: {}` means "not an array job".
  if (p.arrayProperties?.size === undefined) delete input.arrayProperties;
  let jobId: string | undefined;
  try {
    jobId = (await o.client.send(new SubmitJobCommand(input))).jobId;
  } catch (e) {
    throw new StatesError(`Batch.${e instanceof Error ? e.name : 'Error'}`, e instanceof Error ? e.message : String(e));
  }
  if (!jobId) throw new StatesError('Batch.ServerException', 'SubmitJob returned no jobId');
  const pollMs = (o.pollSeconds ?? SYNC_POLL_SECONDS) * 1000;
  for (;;) {
    await o.clock.sleepUntil(o.clock.now() + pollMs, true);
    if (o.signal?.aborted) {
      await o.client.send(new TerminateJobCommand({ jobId, reason: 'Step Functions execution stopped' }));
      throw new StatesError('States.Aborted', `the execution was stopped; job ${jobId} terminated`);
    }
    let job;
    try {
      job = (await o.client.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0];
    } catch (e) {
      throw new StatesError(`Batch.${e instanceof Error ? e.name : 'Error'}`, e instanceof Error ? e.message : String(e));
    }
    if (!job) throw new StatesError('Batch.ClientException', `job ${jobId} is unknown to Batch`);
    const detail = pascalKeys(job);
    if (job.status === 'SUCCEEDED') return detail;
    if (job.status === 'FAILED') throw new StatesError('States.TaskFailed', JSON.stringify(detail));
  }
}
