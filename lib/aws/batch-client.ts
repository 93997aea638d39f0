import {
  BatchClient,
  DescribeJobsCommand,
  paginateListJobs,
  TerminateJobCommand,
  type BatchClientConfig,
  type ContainerOverrides,
  type JobDetail,
  type JobStatus,
  type JobSummary,
  type SubmitJobCommandInput,
} from '@aws-sdk/client-batch';
import { childIndexOf, type WaveResult } from '../core/arrays.ts';
import type { BatchBackend, BatchJobStatus, BatchSubmission } from '../executor/batch-backend.ts';
import type { TiKey } from '../store/records.ts';
import { submitIdempotent, type SubmitIdempotentOptions } from './batch-submit.ts';
import { baseClientConfig, type Env } from '../clients/aws-clients.ts';

/** DescribeJobs takes at most this many job ids. */
export const DESCRIBE_JOBS_MAX = 100;

/** The try a job was submitted for, as its tags carry it. */
export interface JobOwner {
  key: TiKey;
  tryNumber: number;
}

/** A job as DescribeJobs returns it, with what airless reads from it. */
export interface DescribedJob {
  status: BatchJobStatus;
  /** The try that submitted it (from its tags); null for a job submitted outside airless. */
  owner: JobOwner | null;
}

/** Batch jobs described many at a time: what the Batch watcher's describe-jobs function needs. */
export interface BatchJobDescriber {
  /** One DescribeJobs call for up to {@link DESCRIBE_JOBS_MAX} ids; ids Batch does not know are absent. */
  describeJobs(jobIds: readonly string[]): Promise<Map<string, DescribedJob>>;
}

/** A Batch client (endpoint from `AWS_ENDPOINT_URL_BATCH` / `AWS_ENDPOINT_URL`, which the SDK reads). */
export function batchClient(config: BatchClientConfig = {}, env: Env = process.env): BatchClient {
  return new BatchClient({ ...baseClientConfig(env), ...config });
}

/** Tag keys that carry a job's owner: `airless:owner.0`, `.1`... (base64url of JSON, 256 characters each). */
export const OWNER_TAG_PREFIX = 'airless:owner.';
const TAG_VALUE_MAX = 256;

/** The tags that record a job's owner (tag values allow base64url's alphabet). */
export function ownerTags(owner: JobOwner): Record<string, string> {
  const text = Buffer.from(JSON.stringify([owner.key.dagId, owner.key.runId, owner.key.taskId, owner.key.mapIndex, owner.tryNumber]), 'utf8').toString('base64url');
  const tags: Record<string, string> = {};
  for (let i = 0; i * TAG_VALUE_MAX < text.length; i++) tags[`${OWNER_TAG_PREFIX}${i}`] = text.slice(i * TAG_VALUE_MAX, (i + 1) * TAG_VALUE_MAX);
  return tags;
}

/** The owner recorded by {@link ownerTags}, or null when the tags hold none. */
export function ownerFromTags(tags: Record<string, string> | undefined): JobOwner | null {
  if (!tags) return null;
  let text = '';
  for (let i = 0; tags[`${OWNER_TAG_PREFIX}${i}`] !== undefined; i++) text += tags[`${OWNER_TAG_PREFIX}${i}`];
  if (!text) return null;
  try {
    const v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(v) || v.length !== 5) return null;
    const [dagId, runId, taskId, mapIndex, tryNumber] = v as unknown[];
    if (typeof dagId !== 'string' || typeof runId !== 'string' || typeof taskId !== 'string' || typeof mapIndex !== 'number' || typeof tryNumber !== 'number') return null;
    return { key: { dagId, runId, taskId, mapIndex }, tryNumber };
  } catch {
    return null;
  }
}

/** A job detail as the task runner reads it. */
export function jobStatusOf(job: JobDetail): BatchJobStatus {
  const s = job.status;
  const lastAttempt = job.attempts?.[job.attempts.length - 1];
  const exitCode = job.container?.exitCode ?? lastAttempt?.container?.exitCode;
  return {
    jobId: job.jobId ?? '',
    jobName: job.jobName ?? '',
    status: s === 'SUCCEEDED' ? 'SUCCEEDED' : s === 'FAILED' ? 'FAILED' : s === 'STARTING' || s === 'RUNNING' ? 'RUNNING' : 'SUBMITTED',
    exitCode: typeof exitCode === 'number' ? exitCode : null,
    reason: job.statusReason ?? job.container?.reason ?? lastAttempt?.statusReason ?? null,
    childExitCodes: null,
    output: '',
  };
}

/** Keys as the SDK writes them (camelCase) from keys as Step Functions' SubmitJob parameters write them (PascalCase). */
function camelKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.charAt(0).toLowerCase() + k.slice(1), camelKeys(x)]));
}

/** SubmitJob input for a prepared job (the same fields `batch:submitJob.sync` gets, in the SDK's shape). */
export function submitJobInput(job: BatchSubmission, owner: JobOwner): SubmitJobCommandInput {
  if (!job.jobQueue || !job.jobDefinition) {
    throw new Error(`Batch job '${job.jobName}' needs a jobQueue and a jobDefinition (got ${job.jobQueue ?? 'none'} and ${job.jobDefinition ?? 'none'})`);
  }
  const overrides = camelKeys(job.containerOverrides ?? {}) as ContainerOverrides;
  if (job.command) overrides.command = job.command;
  const env = Object.entries(job.environment);
  if (env.length) overrides.environment = env.map(([name, value]) => ({ name, value }));
  return {
    jobName: job.jobName.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128),
    jobQueue: job.jobQueue,
    jobDefinition: job.jobDefinition,
    containerOverrides: overrides,
    ...(job.arraySize ? { arrayProperties: { size: job.arraySize } } : {}),
    ...(job.attemptDurationSeconds ? { timeout: { attemptDurationSeconds: job.attemptDurationSeconds } } : {}),
    tags: ownerTags(owner),
  };
}

export interface AwsBatchBackendOptions {
  client: BatchClient;
  /** Called after a job is submitted (or found submitted): poll mode starts a Batch watcher for it. */
  onSubmitted?: (jobId: string) => Promise<void>;
  /** How SubmitJob is throttled and retried (default: the process's shared limiter; see batch-submit.ts). */
  submit?: Omit<SubmitIdempotentOptions, 'findExisting'>;
  /** TerminateJob calls `stopRunnable` has in flight at once. Default 10. */
  terminateConcurrency?: number;
}

/** Statuses of a job that has not started yet. */
const NOT_STARTED: readonly JobStatus[] = ['SUBMITTED', 'PENDING', 'RUNNABLE'];

/**
 * AWS Batch as the task runner's {@link BatchBackend} (Batch tasks in poll mode: the runner submits and
 * defers, a watcher polls) and as the watcher's {@link BatchJobDescriber}. Submitting is idempotent per
 * owner try: the job carries its owner in tags, and a job of the same name and owner already in the
 * queue is returned instead of submitting another (ListJobs, then DescribeJobs of the candidates); the
 * submission itself is throttled and never sent twice for one job ({@link submitIdempotent}).
 */
export class AwsBatchBackend implements BatchBackend, BatchJobDescriber {
  readonly client: BatchClient;
  private readonly onSubmitted: ((jobId: string) => Promise<void>) | undefined;
  private readonly submitOptions: Omit<SubmitIdempotentOptions, 'findExisting'>;
  private readonly terminateConcurrency: number;

  constructor(options: AwsBatchBackendOptions) {
    this.client = options.client;
    this.onSubmitted = options.onSubmitted;
    this.submitOptions = options.submit ?? {};
    this.terminateConcurrency = Math.max(1, options.terminateConcurrency ?? 10);
  }

  async submit(job: BatchSubmission, owner: JobOwner): Promise<string> {
    const input = submitJobInput(job, owner);
    const findExisting = () => this.findSubmitted(input, owner);
    const jobId = (await findExisting()) ?? (await submitIdempotent(this.client, input, { ...this.submitOptions, findExisting })).jobId;
    await this.onSubmitted?.(jobId);
    return jobId;
  }

  /** A job of this name submitted for this owner try, if one is in the queue. */
  private async findSubmitted(input: SubmitJobCommandInput, owner: JobOwner): Promise<string | undefined> {
    const ids: string[] = [];
    for await (const page of paginateListJobs({ client: this.client }, { jobQueue: input.jobQueue, filters: [{ name: 'JOB_NAME', values: [input.jobName!] }] })) {
      for (const j of page.jobSummaryList ?? []) if (j.jobId && j.jobName === input.jobName) ids.push(j.jobId);
    }
    const same = (o: JobOwner | null) => o !== null && o.tryNumber === owner.tryNumber && o.key.dagId === owner.key.dagId && o.key.runId === owner.key.runId && o.key.taskId === owner.key.taskId && o.key.mapIndex === owner.key.mapIndex;
    for (let i = 0; i < ids.length; i += DESCRIBE_JOBS_MAX) {
      for (const [id, d] of await this.describeJobs(ids.slice(i, i + DESCRIBE_JOBS_MAX))) if (same(d.owner)) return id;
    }
    return undefined;
  }

  /**
   * How a finished wave ended. A plain job (`size` 1): one DescribeJobs. An array job: DescribeJobs of
   * the parent; when it FAILED, ListJobs of its FAILED children (pages of 100) and DescribeJobs of each
   * page for their exit codes and reasons. Nothing is asked per succeeded child. Throws when the job is
   * unknown, not finished, or when the listing finds fewer failed children than the parent's status
   * summary counts (a lagging listing: ask again later).
   */
  async waveResult(jobId: string, size: number): Promise<WaveResult> {
    const parent = (await this.client.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.find((j) => j.jobId === jobId);
    if (!parent) throw new Error(`Batch job ${jobId} is unknown to Batch`);
    const status = parent.status;
    if (status !== 'SUCCEEDED' && status !== 'FAILED') throw new Error(`Batch job ${jobId} has not finished (${status ?? 'no status'})`);
    const own = jobStatusOf(parent);
    const base = { jobId, jobName: parent.jobName ?? '', status } as const;
    if (size === 1) {
      if (status === 'SUCCEEDED') return { ...base, failed: new Map(), reason: null, exitCodes: new Map([[0, own.exitCode]]) };
      return { ...base, failed: new Map([[0, { exitCode: own.exitCode, reason: own.reason }]]), reason: own.reason };
    }
    const actualSize = parent.arrayProperties?.size;
    if (actualSize !== size) throw new Error(`Batch job ${jobId} is ${actualSize === undefined ? 'not an array job' : `an array of ${actualSize}`}, not of ${size}`);
    if (status === 'SUCCEEDED') return { ...base, failed: new Map(), reason: null };

    const failed = new Map<number, { exitCode: number | null; reason: string | null }>();
    const pages = paginateListJobs({ client: this.client, pageSize: DESCRIBE_JOBS_MAX }, { arrayJobId: jobId, jobStatus: 'FAILED' });
    for await (const page of pages) {
      const ids = (page.jobSummaryList ?? []).map((j) => j.jobId).filter((id): id is string => typeof id === 'string');
      for (let i = 0; i < ids.length; i += DESCRIBE_JOBS_MAX) {
        const res = await this.client.send(new DescribeJobsCommand({ jobs: ids.slice(i, i + DESCRIBE_JOBS_MAX) }));
        for (const child of res.jobs ?? []) {
          const index = child.arrayProperties?.index ?? (child.jobId ? childIndexOf(child.jobId) : null);
          if (index === null || index === undefined || child.status !== 'FAILED') continue;
          const s = jobStatusOf(child);
          failed.set(index, { exitCode: s.exitCode, reason: s.reason });
        }
      }
    }
    const counted = parent.arrayProperties?.statusSummary?.['FAILED'] ?? 0;
    if (failed.size < counted) throw new Error(`Batch array job ${jobId}: its status summary counts ${counted} failed children, ListJobs/DescribeJobs found ${failed.size}; ask again later`);
    return { ...base, failed, reason: own.reason };
  }

  /**
   * Terminate what has not started yet (SUBMITTED, PENDING, RUNNABLE) of the job named `jobName` in
   * `jobQueue`, with `reason`: a plain job; an array job as a whole (one TerminateJob of the parent) when
   * none of its unfinished children has started, else each of its children not started yet (ListJobs by
   * status, then one TerminateJob each). Returns how many jobs or children it stopped.
   *
   * A child that starts between the listing and its TerminateJob is terminated while it runs.
   */
  /**
   * Terminate a job that has not ended (a stopped run's, a marked instance's): the job `jobId` when known,
   * else every job named `jobName` in `jobQueue` that has not ended. Returns how many it terminated.
   */
  async terminateJob(job: { jobId?: string | null; jobQueue?: string | null; jobName?: string | null }, reason: string): Promise<number> {
    const ids = new Set<string>();
    if (job.jobId) ids.add(job.jobId);
    else if (job.jobQueue && job.jobName) {
      for await (const page of paginateListJobs({ client: this.client }, { jobQueue: job.jobQueue, filters: [{ name: 'JOB_NAME', values: [job.jobName] }] })) {
        for (const j of page.jobSummaryList ?? []) if (j.jobId && j.status !== 'SUCCEEDED' && j.status !== 'FAILED') ids.add(j.jobId);
      }
    }
    for (const jobId of ids) await this.client.send(new TerminateJobCommand({ jobId, reason: reason.slice(0, 1000) }));
    return ids.size;
  }

  /**
   * Terminate an array wave's job, found by its (deterministic) name in its queue: the whole job (every
   * unfinished child with it) when `childIndexes` is null, else only those children (a wave of one is a
   * plain job: the job). Returns how many jobs or children it terminated.
   */
  async terminateWave(jobQueue: string, jobName: string, childIndexes: readonly number[] | null, reason: string): Promise<number> {
    let n = 0;
    for await (const page of paginateListJobs({ client: this.client }, { jobQueue, filters: [{ name: 'JOB_NAME', values: [jobName] }] })) {
      for (const j of page.jobSummaryList ?? []) {
        if (!j.jobId || j.jobName !== jobName || j.status === 'SUCCEEDED' || j.status === 'FAILED') continue;
        const ids = childIndexes === null || !j.arrayProperties?.size ? [j.jobId] : childIndexes.map((i) => `${j.jobId}:${i}`);
        for (const jobId of ids) await this.client.send(new TerminateJobCommand({ jobId, reason: reason.slice(0, 1000) }));
        n += ids.length;
      }
    }
    return n;
  }

  async stopRunnable(jobQueue: string | null, jobName: string, reason: string): Promise<number> {
    if (!jobQueue) throw new Error(`stopRunnable of '${jobName}' needs the job queue`);
    const jobs: JobSummary[] = [];
    for await (const page of paginateListJobs({ client: this.client }, { jobQueue, filters: [{ name: 'JOB_NAME', values: [jobName] }] })) {
      for (const j of page.jobSummaryList ?? []) if (j.jobId && j.jobName === jobName) jobs.push(j);
    }
    let stopped = 0;
    for (const job of jobs) {
      const jobId = job.jobId!;
      if (job.status === 'SUCCEEDED' || job.status === 'FAILED') continue;
      const size = job.arrayProperties?.size;
      if (!size) {
        if (job.status && NOT_STARTED.includes(job.status)) {
          await this.client.send(new TerminateJobCommand({ jobId, reason }));
          stopped++;
        }
        continue;
      }
      const summary = job.arrayProperties?.statusSummary ?? (await this.client.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0]?.arrayProperties?.statusSummary;
      if (summary) {
        const waiting = NOT_STARTED.reduce((n, s) => n + (summary[s] ?? 0), 0);
        const started = (summary['STARTING'] ?? 0) + (summary['RUNNING'] ?? 0);
        if (waiting === 0) continue;
        if (started === 0) {
          await this.client.send(new TerminateJobCommand({ jobId, reason }));
          stopped += waiting;
          continue;
        }
      }
      const children: string[] = [];
      for (const jobStatus of NOT_STARTED) {
        for await (const page of paginateListJobs({ client: this.client, pageSize: 1000 }, { arrayJobId: jobId, jobStatus })) {
          for (const c of page.jobSummaryList ?? []) if (c.jobId) children.push(c.jobId);
        }
      }
      let next = 0;
      const worker = async () => {
        while (next < children.length) {
          const id = children[next++]!;
          await this.client.send(new TerminateJobCommand({ jobId: id, reason }));
          stopped++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.terminateConcurrency, children.length) }, worker));
    }
    return stopped;
  }

  async describe(jobId: string): Promise<BatchJobStatus | undefined> {
    return (await this.describeJobs([jobId])).get(jobId)?.status;
  }

  async describeJobs(jobIds: readonly string[]): Promise<Map<string, DescribedJob>> {
    if (jobIds.length > DESCRIBE_JOBS_MAX) throw new RangeError(`DescribeJobs takes at most ${DESCRIBE_JOBS_MAX} job ids, got ${jobIds.length}`);
    const out = new Map<string, DescribedJob>();
    if (jobIds.length === 0) return out;
    const res = await this.client.send(new DescribeJobsCommand({ jobs: [...jobIds] }));
    for (const j of res.jobs ?? []) if (j.jobId) out.set(j.jobId, { status: jobStatusOf(j), owner: ownerFromTags(j.tags) });
    return out;
  }
}
