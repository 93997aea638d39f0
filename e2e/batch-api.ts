/**
 * A local endpoint that speaks enough of the AWS Batch API (REST JSON, as `@aws-sdk/client-batch` sends
 * it) for airless and for the `.sync` integration: `POST /v1/submitjob`, `/v1/describejobs`,
 * `/v1/listjobs`, `/v1/terminatejob`. Point the real client at it (`endpoint`, or
 * `AWS_ENDPOINT_URL_BATCH`); it checks no signature.
 *
 * Jobs run as simulations (a duration on the harness clock, an exit code, optionally failing the first
 * time a key is seen) or as child processes (`command`, with the job's environment). Statuses go
 * SUBMITTED → RUNNING at once, then SUCCEEDED or FAILED; job details carry what DescribeJobs would
 * (container exit code and reason, attempts, tags, array properties).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { REAL_TIME, type HarnessClock } from './harness-clock.ts';
import { listenOnLoopback } from './loopback-server.ts';

/** A job as submitted (the SDK's SubmitJob input, camelCase). */
export interface SubmittedJob {
  jobId: string;
  jobName: string;
  jobQueue: string;
  jobDefinition: string;
  command: string[] | null;
  environment: Record<string, string>;
  arraySize: number | null;
  tags: Record<string, string>;
  submittedAt: number;
}

/** How a job runs. */
export type JobBehaviour =
  | { kind: 'simulate'; durationMs: number; exitCode: number }
  /** Run `command` as a child process (array jobs: one per child, with AWS_BATCH_JOB_ARRAY_INDEX). */
  | { kind: 'process' };

export interface BatchApiOptions {
  /** Default: real time. The harness passes its skipping clock, so simulated jobs take no real time. */
  clock?: HarnessClock;
  /** How each job runs. Default: a simulation of 1 s (plus up to 500 ms, from the job name's hash) that exits 0. */
  behaviour?: (job: SubmittedJob) => JobBehaviour;
  /**
   * Fail-once: the first job for which this returns a key (not null) fails with exit code 1; later jobs
   * with the same key run as `behaviour` says. Default: none fails.
   */
  failOnce?: (job: SubmittedJob) => string | null;
  region?: string;
  accountId?: string;
}

type Status = 'SUBMITTED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

interface JobRecord {
  job: SubmittedJob;
  status: Status;
  startedAt: number | null;
  stoppedAt: number | null;
  exitCode: number | null;
  reason: string | null;
  statusReason: string | null;
  children: ChildProcess[];
  output: string;
}

/** A Batch API error: `ClientException` (HTTP 400) or `ServerException` (500). */
class ApiError extends Error {
  constructor(
    readonly type: 'ClientException' | 'ServerException',
    message: string,
  ) {
    super(message);
  }
}

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const DESCRIBE_MAX = 100;

/** The default simulation: 1 s plus a deterministic 0-500 ms from the job name, exit 0. */
export function defaultBehaviour(job: SubmittedJob): JobBehaviour {
  return { kind: 'simulate', durationMs: 1000 + (createHash('sha1').update(job.jobName).digest().readUInt32BE(0) % 501), exitCode: 0 };
}

export class LocalBatchApi {
  private readonly clock: HarnessClock;
  private readonly behaviour: (job: SubmittedJob) => JobBehaviour;
  private readonly failOnce: ((job: SubmittedJob) => string | null) | undefined;
  private readonly failedKeys = new Set<string>();
  private readonly jobs = new Map<string, JobRecord>();
  private readonly region: string;
  private readonly accountId: string;
  private server: Server | null = null;
  /** Requests served, by operation (SubmitJob, DescribeJobs, ListJobs, TerminateJob). */
  readonly calls: Record<string, number> = {};
  /** Every job submitted, in order. */
  readonly submitted: SubmittedJob[] = [];
  endpoint = '';

  constructor(options: BatchApiOptions = {}) {
    this.clock = options.clock ?? REAL_TIME;
    this.behaviour = options.behaviour ?? defaultBehaviour;
    this.failOnce = options.failOnce;
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
  }

  /** Listen on a free port of 127.0.0.1; resolves with the endpoint (http://127.0.0.1:port). */
  async listen(): Promise<string> {
    const { server, endpoint } = await listenOnLoopback((req, res) => this.serve(req, res));
    this.server = server;
    this.endpoint = endpoint;
    return endpoint;
  }

  async close(): Promise<void> {
    for (const j of this.jobs.values()) for (const c of j.children) c.kill('SIGKILL');
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** A job's current status, for tests. */
  status(jobId: string): { status: Status; exitCode: number | null; statusReason: string | null } | undefined {
    const j = this.jobs.get(jobId);
    return j && { status: j.status, exitCode: j.exitCode, statusReason: j.statusReason };
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const ops: Record<string, (body: any) => unknown> = {
      '/v1/submitjob': (b) => this.submitJob(b),
      '/v1/describejobs': (b) => this.describeJobs(b),
      '/v1/listjobs': (b) => this.listJobs(b),
      '/v1/terminatejob': (b) => this.terminateJob(b),
    };
    const path = (req.url ?? '').split('?')[0]!;
    const op = ops[path];
    const name = { '/v1/submitjob': 'SubmitJob', '/v1/describejobs': 'DescribeJobs', '/v1/listjobs': 'ListJobs', '/v1/terminatejob': 'TerminateJob' }[path];
    const reply = (status: number, body: unknown, errorType?: string) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(errorType ? { 'x-amzn-errortype': errorType } : {}), 'x-amzn-requestid': randomUUID() });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || !op || !name) return reply(404, { message: `${req.method} ${path} is not an operation of this local Batch API` }, 'UnknownOperationException');
    this.calls[name] = (this.calls[name] ?? 0) + 1;
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      const body: unknown = text ? JSON.parse(text) : {};
      reply(200, op(body));
    } catch (e) {
      if (e instanceof ApiError) reply(e.type === 'ClientException' ? 400 : 500, { message: e.message }, e.type);
      else reply(500, { message: e instanceof Error ? e.message : String(e) }, 'ServerException');
    }
  }

  private arn(kind: 'job' | 'job-queue' | 'job-definition', id: string): string {
    return id.startsWith('arn:') ? id : `arn:aws:batch:${this.region}:${this.accountId}:${kind}/${id}`;
  }

  private submitJob(b: any): unknown {
    if (typeof b?.jobName !== 'string' || !JOB_NAME.test(b.jobName)) {
      throw new ApiError('ClientException', `jobName '${String(b?.jobName)}' must be 1-128 letters, digits, hyphens or underscores, starting with a letter or digit`);
    }
    if (typeof b.jobQueue !== 'string' || !b.jobQueue) throw new ApiError('ClientException', 'jobQueue is required');
    if (typeof b.jobDefinition !== 'string' || !b.jobDefinition) throw new ApiError('ClientException', 'jobDefinition is required');
    const size = b.arrayProperties?.size as number | undefined;
    if (size !== undefined && (!Number.isInteger(size) || size < 2 || size > 10_000)) throw new ApiError('ClientException', `arrayProperties.size must be 2 to 10,000, got ${size}`);
    const env: Record<string, string> = {};
    for (const e of (b.containerOverrides?.environment ?? []) as { name?: string; value?: string }[]) if (e.name) env[e.name] = e.value ?? '';
    const job: SubmittedJob = {
      jobId: randomUUID(),
      jobName: b.jobName,
      jobQueue: b.jobQueue,
      jobDefinition: b.jobDefinition,
      command: Array.isArray(b.containerOverrides?.command) ? b.containerOverrides.command : null,
      environment: env,
      arraySize: size ?? null,
      tags: { ...(b.tags ?? {}) },
      submittedAt: this.clock.now(),
    };
    const rec: JobRecord = { job, status: 'SUBMITTED', startedAt: null, stoppedAt: null, exitCode: null, reason: null, statusReason: null, children: [], output: '' };
    this.jobs.set(job.jobId, rec);
    this.submitted.push(job);
    this.start(rec);
    return { jobArn: this.arn('job', job.jobId), jobName: job.jobName, jobId: job.jobId };
  }

  private start(rec: JobRecord): void {
    const { job } = rec;
    rec.status = 'RUNNING';
    rec.startedAt = this.clock.now();
    const key = this.failOnce?.(job) ?? null;
    const failNow = key !== null && !this.failedKeys.has(key);
    if (key !== null) this.failedKeys.add(key);
    const behaviour: JobBehaviour = failNow ? { ...simulation(this.behaviour(job)), exitCode: 1 } : this.behaviour(job);
    if (behaviour.kind === 'simulate') {
      void this.clock.sleepUntil(job.submittedAt + behaviour.durationMs).then(() => this.end(rec, behaviour.exitCode, behaviour.exitCode === 0 ? null : 'Essential container in task exited'));
      return;
    }
    if (!job.command?.length) {
      this.end(rec, null, 'CannotStartContainerError: the job has no command to run locally');
      return;
    }
    const release = this.clock.hold();
    const n = job.arraySize ?? 1;
    const runs = Array.from({ length: n }, (_, i) => this.runProcess(rec, job.arraySize ? i : null));
    void Promise.all(runs).then((codes) => {
      const failed = codes.find((c) => c !== 0);
      this.end(rec, failed === undefined ? 0 : failed, failed === undefined ? null : 'Essential container in task exited');
      release();
    });
  }

  private runProcess(rec: JobRecord, index: number | null): Promise<number | null> {
    const [cmd, ...args] = rec.job.command!;
    return new Promise((resolve) => {
      const child = spawn(cmd!, args, {
        env: { ...process.env, ...rec.job.environment, AWS_BATCH_JOB_ID: rec.job.jobId, ...(index !== null ? { AWS_BATCH_JOB_ARRAY_INDEX: String(index) } : {}) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      rec.children.push(child);
      const collect = (b: Buffer) => {
        rec.output = (rec.output + b.toString()).slice(-64 * 1024);
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.once('error', (e) => {
        collect(Buffer.from(`${e.message}\n`));
        resolve(null);
      });
      child.once('exit', (code) => resolve(code));
    });
  }

  private end(rec: JobRecord, exitCode: number | null, reason: string | null): void {
    if (rec.status === 'SUCCEEDED' || rec.status === 'FAILED') return;
    rec.exitCode = exitCode;
    rec.reason = reason;
    rec.stoppedAt = this.clock.now();
    rec.status = exitCode === 0 ? 'SUCCEEDED' : 'FAILED';
    rec.statusReason = exitCode === 0 ? 'Essential container in task exited' : (reason ?? `exit code ${exitCode}`);
  }

  private detail(rec: JobRecord): Record<string, unknown> {
    const { job } = rec;
    const done = rec.status === 'SUCCEEDED' || rec.status === 'FAILED';
    const logStreamName = `${job.jobDefinition.split(':')[0]}/default/${job.jobId}`;
    const container = {
      command: job.command ?? [],
      environment: Object.entries(job.environment).map(([name, value]) => ({ name, value })),
      ...(done && rec.exitCode !== null ? { exitCode: rec.exitCode } : {}),
      ...(done && rec.reason ? { reason: rec.reason } : {}),
      logStreamName,
    };
    return {
      jobArn: this.arn('job', job.jobId),
      jobName: job.jobName,
      jobId: job.jobId,
      jobQueue: this.arn('job-queue', job.jobQueue),
      status: rec.status,
      ...(rec.statusReason ? { statusReason: rec.statusReason } : {}),
      attempts: done
        ? [{ container: { ...(rec.exitCode !== null ? { exitCode: rec.exitCode } : {}), ...(rec.reason ? { reason: rec.reason } : {}), logStreamName }, startedAt: rec.startedAt, stoppedAt: rec.stoppedAt, statusReason: rec.statusReason }]
        : [],
      createdAt: job.submittedAt,
      ...(rec.startedAt !== null ? { startedAt: rec.startedAt } : {}),
      ...(rec.stoppedAt !== null ? { stoppedAt: rec.stoppedAt } : {}),
      dependsOn: [],
      jobDefinition: this.arn('job-definition', job.jobDefinition),
      parameters: {},
      container,
      tags: job.tags,
      platformCapabilities: ['FARGATE'],
      ...(job.arraySize
        ? { arrayProperties: { size: job.arraySize, statusSummary: { [rec.status]: job.arraySize } } }
        : {}),
    };
  }

  private describeJobs(b: any): unknown {
    const ids = b?.jobs;
    if (!Array.isArray(ids)) throw new ApiError('ClientException', 'jobs is required');
    if (ids.length > DESCRIBE_MAX) throw new ApiError('ClientException', `DescribeJobs takes at most ${DESCRIBE_MAX} job ids, got ${ids.length}`);
    const out: unknown[] = [];
    for (const id of ids) {
      const rec = this.jobs.get(String(id));
      if (rec) out.push(this.detail(rec));
    }
    return { jobs: out };
  }

  private listJobs(b: any): unknown {
    const filters = (b?.filters ?? []) as { name?: string; values?: string[] }[];
    let list = [...this.jobs.values()];
    if (b?.jobQueue) list = list.filter((j) => j.job.jobQueue === b.jobQueue || this.arn('job-queue', j.job.jobQueue) === b.jobQueue);
    if (filters.length) {
      // With filters, ListJobs returns jobs in every status (jobStatus is ignored), as AWS does.
      for (const f of filters) {
        const v = f.values?.[0] ?? '';
        const match = (s: string) => (v.endsWith('*') ? s.startsWith(v.slice(0, -1)) : s === v);
        if (f.name === 'JOB_NAME') list = list.filter((j) => match(j.job.jobName));
        else if (f.name === 'JOB_DEFINITION') list = list.filter((j) => match(j.job.jobDefinition));
        else if (f.name === 'BEFORE_CREATED_AT') list = list.filter((j) => j.job.submittedAt < Number(v));
        else if (f.name === 'AFTER_CREATED_AT') list = list.filter((j) => j.job.submittedAt > Number(v));
        else throw new ApiError('ClientException', `unknown filter '${f.name}'`);
      }
    } else {
      const status = (b?.jobStatus as string | undefined) ?? 'RUNNING';
      list = list.filter((j) => j.status === status);
    }
    const start = Number(b?.nextToken ?? 0);
    const max = Math.min(Number(b?.maxResults ?? 100), 1000);
    const page = list.slice(start, start + max);
    return {
      jobSummaryList: page.map((rec) => ({
        jobArn: this.arn('job', rec.job.jobId),
        jobId: rec.job.jobId,
        jobName: rec.job.jobName,
        createdAt: rec.job.submittedAt,
        status: rec.status,
        ...(rec.statusReason ? { statusReason: rec.statusReason } : {}),
        ...(rec.startedAt !== null ? { startedAt: rec.startedAt } : {}),
        ...(rec.stoppedAt !== null ? { stoppedAt: rec.stoppedAt } : {}),
        container: { ...(rec.exitCode !== null ? { exitCode: rec.exitCode } : {}), ...(rec.reason ? { reason: rec.reason } : {}) },
        jobDefinition: this.arn('job-definition', rec.job.jobDefinition),
      })),
      ...(start + max < list.length ? { nextToken: String(start + max) } : {}),
    };
  }

  private terminateJob(b: any): unknown {
    const rec = this.jobs.get(String(b?.jobId));
    if (!rec) throw new ApiError('ClientException', `Job ${String(b?.jobId)} not found`);
    if (typeof b.reason !== 'string') throw new ApiError('ClientException', 'reason is required');
    for (const c of rec.children) c.kill('SIGTERM');
    if (rec.status !== 'SUCCEEDED' && rec.status !== 'FAILED') {
      rec.reason = b.reason;
      rec.stoppedAt = this.clock.now();
      rec.status = 'FAILED';
      rec.statusReason = b.reason;
    }
    return {};
  }
}

function simulation(b: JobBehaviour): { kind: 'simulate'; durationMs: number; exitCode: number } {
  return b.kind === 'simulate' ? b : { kind: 'simulate', durationMs: 1000, exitCode: 0 };
}
