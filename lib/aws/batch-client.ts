import {
  BatchClient,
  DescribeJobsCommand,
  ListJobsCommand,
  SubmitJobCommand,
  type BatchClientConfig,
  type ContainerOverrides,
  type JobDetail,
  type SubmitJobCommandInput,
} from '@aws-sdk/client-batch';
import type { BatchBackend, BatchJobStatus, BatchSubmission } from '../executor/batch-backend.ts';
import type { TiKey } from '../store/records.ts';
import { baseClientConfig, type Env } from './clients.ts';

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
  const text = Buffer.from(JSON.stringify([owner.key.runId, owner.key.taskId, owner.key.mapIndex, owner.tryNumber]), 'utf8').toString('base64url');
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
    if (!Array.isArray(v) || v.length !== 4) return null;
    const [runId, taskId, mapIndex, tryNumber] = v as unknown[];
    if (typeof runId !== 'string' || typeof taskId !== 'string' || typeof mapIndex !== 'number' || typeof tryNumber !== 'number') return null;
    return { key: { runId, taskId, mapIndex }, tryNumber };
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
    tags: ownerTags(owner),
  };
}

export interface AwsBatchBackendOptions {
  client: BatchClient;
  /** Called after a job is submitted (or found submitted): poll mode starts a Batch watcher for it. */
  onSubmitted?: (jobId: string) => Promise<void>;
}

/**
 * AWS Batch as the task runner's {@link BatchBackend} (Batch tasks in poll mode: the runner submits and
 * defers, a watcher polls) and as the watcher's {@link BatchJobDescriber}. Submitting is idempotent per
 * owner try: the job carries its owner in tags, and a job of the same name and owner already in the
 * queue is returned instead of submitting another (ListJobs, then DescribeJobs of the candidates).
 */
export class AwsBatchBackend implements BatchBackend, BatchJobDescriber {
  readonly client: BatchClient;
  private readonly onSubmitted: ((jobId: string) => Promise<void>) | undefined;

  constructor(options: AwsBatchBackendOptions) {
    this.client = options.client;
    this.onSubmitted = options.onSubmitted;
  }

  async submit(job: BatchSubmission, owner: JobOwner): Promise<string> {
    const input = submitJobInput(job, owner);
    const jobId = (await this.findSubmitted(input, owner)) ?? (await this.client.send(new SubmitJobCommand(input))).jobId;
    if (!jobId) throw new Error(`SubmitJob returned no jobId for '${input.jobName}'`);
    await this.onSubmitted?.(jobId);
    return jobId;
  }

  /** A job of this name submitted for this owner try, if one is in the queue. */
  private async findSubmitted(input: SubmitJobCommandInput, owner: JobOwner): Promise<string | undefined> {
    const listed = await this.client.send(new ListJobsCommand({ jobQueue: input.jobQueue, filters: [{ name: 'JOB_NAME', values: [input.jobName!] }] }));
    const ids = (listed.jobSummaryList ?? []).map((j) => j.jobId).filter((id): id is string => typeof id === 'string').slice(0, DESCRIBE_JOBS_MAX);
    if (ids.length === 0) return undefined;
    const same = (o: JobOwner | null) => o !== null && o.tryNumber === owner.tryNumber && o.key.runId === owner.key.runId && o.key.taskId === owner.key.taskId && o.key.mapIndex === owner.key.mapIndex;
    for (const [id, d] of await this.describeJobs(ids)) if (same(d.owner)) return id;
    return undefined;
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
