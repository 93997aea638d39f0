/**
 * A local endpoint that speaks enough of the AWS Batch API (REST JSON, as `@aws-sdk/client-batch` sends
 * it) for airless and for the `.sync` integration: `POST /v1/submitjob`, `/v1/describejobs`,
 * `/v1/listjobs`, `/v1/terminatejob`, `/v1/canceljob`. Point the real client at it (`endpoint`, or
 * `AWS_ENDPOINT_URL_BATCH`); it checks no signature.
 *
 * Jobs and the children of array jobs (`arrayProperties.size` 2 to 10,000; child `i` is
 * `<array job id>:<i>`) run as simulations (a duration on the harness clock, an exit code, optionally
 * failing the first time a key is seen) or as child processes (`command`, with the job's environment and
 * `AWS_BATCH_JOB_ARRAY_INDEX`). Statuses follow Batch: a job or child is RUNNABLE once submitted, RUNNING
 * when the queue has capacity (FIFO), then SUCCEEDED or FAILED; an array parent is PENDING from the time
 * its children are RUNNABLE until they have all ended ("Array job parents are updated to PENDING when any
 * child job is updated to RUNNABLE and remain in PENDING status while child jobs are running", ListJobs'
 * API reference), then SUCCEEDED if every child succeeded and FAILED otherwise. Job details carry what
 * DescribeJobs would (container exit code and reason, attempts, tags, array properties with the parent's
 * status summary or the child's index).
 *
 * Scale: a submission of n children costs O(n); ends are kept in a heap with one clock sleep armed at a
 * time; DescribeJobs of a parent reads counters kept per status; paging through ListJobs costs O(jobs
 * scanned) in all, not per page.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ARRAY_MANIFEST_ENV, type ArrayManifest } from '../lib/compiler/contract.ts';
import { REAL_TIME, type HarnessClock } from './harness-clock.ts';
import { LoopbackEndpoint } from './loopback-server.ts';

/** A job as submitted (the SDK's SubmitJob input, camelCase). */
export interface SubmittedJob {
  /** The job's id; in the view of one child of an array job given to the options' callbacks, the child's (`<array job id>:<i>`). */
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

/** How a job (or one child of an array job) runs. */
export type JobBehaviour =
  /** `reason`: the container's reason when it fails (default "Essential container in task exited"). */
  | { kind: 'simulate'; durationMs: number; exitCode: number; reason?: string }
  /** Run `command` as a child process (an array job's child: with AWS_BATCH_JOB_ARRAY_INDEX). */
  | { kind: 'process' };

/** What one child runs: its item of the array's manifest. */
export interface ChildItem {
  command: string[] | null;
  environment: Record<string, string>;
}

/**
 * Options. The callbacks get the job as one child sees it (its id, and the command and environment of its
 * item when `childItem` gives one) and the child's index (`null` for a plain job).
 */
export interface BatchApiOptions {
  /** Default: real time. The harness passes its skipping clock, so simulated jobs take no real time. */
  clock?: HarnessClock;
  /** How each job or child runs. Default {@link defaultBehaviour}. */
  behaviour?: (job: SubmittedJob, childIndex: number | null) => JobBehaviour;
  /**
   * Fail-once: the first job or child for which this returns a key (not null) fails with exit code 1;
   * later ones with the same key run as `behaviour` says. Default: none fails.
   */
  failOnce?: (job: SubmittedJob, childIndex: number | null) => string | null;
  /**
   * The item a child runs (e.g. {@link manifestChildItem}): its command and environment replace and
   * extend the job's. Resolved when the child starts; `null`: the job's own. Default: none.
   */
  childItem?: (job: SubmittedJob, childIndex: number | null) => Promise<ChildItem | null>;
  /** The key under which a start is counted in {@link LocalBatchApi.starts}. Default: job name and child index. */
  startKey?: (job: SubmittedJob, childIndex: number | null) => string;
  /**
   * How many jobs or children may be RUNNING at once (the compute environment's size); the others wait
   * RUNNABLE, first in first out. 0: nothing ever starts. Default: unlimited.
   */
  capacity?: number;
  /**
   * SubmitJob calls accepted per second (a token bucket on the clock, holding `submitBurst` tokens); over
   * it a call gets HTTP 429 `TooManyRequestsException` and creates nothing. Default: unlimited. AWS
   * publishes 50.
   */
  submitRatePerSecond?: number;
  /** Default: `submitRatePerSecond`. */
  submitBurst?: number;
  region?: string;
  accountId?: string;
}

export type JobStatus = 'SUBMITTED' | 'PENDING' | 'RUNNABLE' | 'STARTING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
const STATUSES: readonly JobStatus[] = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED'];
const isDone = (s: JobStatus) => s === 'SUCCEEDED' || s === 'FAILED';
const notStarted = (s: JobStatus) => s === 'SUBMITTED' || s === 'PENDING' || s === 'RUNNABLE';

/** A plain job, or one child of an array job: what runs. */
interface Unit {
  rec: JobRecord;
  /** The child index; null for a plain job. */
  index: number | null;
  status: JobStatus;
  startedAt: number | null;
  stoppedAt: number | null;
  exitCode: number | null;
  /** The container's reason. */
  reason: string | null;
  statusReason: string | null;
  /** The item it ran (resolved at start). */
  item: ChildItem | null;
  process: ChildProcess | null;
}

interface JobRecord {
  job: SubmittedJob;
  /** One unit for a plain job; the children of an array job. */
  units: Unit[];
  /** Units by status. */
  counts: Record<JobStatus, number>;
  /** First start and last end of its units (an array parent's times). */
  startedAt: number | null;
  stoppedAt: number | null;
  /** The reason of a TerminateJob/CancelJob on the parent. */
  stopReason: string | null;
}

/** An API error: `ClientException` (HTTP 400), `ServerException` (500), `TooManyRequestsException` (429). */
class ApiError extends Error {
  constructor(
    readonly type: 'ClientException' | 'ServerException' | 'TooManyRequestsException',
    message: string,
  ) {
    super(message);
  }

  get httpStatus(): number {
    return this.type === 'ClientException' ? 400 : this.type === 'TooManyRequestsException' ? 429 : 500;
  }
}

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const DESCRIBE_MAX = 100;
const ARRAY_MAX = 10_000;
const OUTPUT_MAX = 64 * 1024;
const OPERATIONS: Record<string, string> = {
  '/v1/submitjob': 'SubmitJob',
  '/v1/describejobs': 'DescribeJobs',
  '/v1/listjobs': 'ListJobs',
  '/v1/terminatejob': 'TerminateJob',
  '/v1/canceljob': 'CancelJob',
};

/**
 * The default simulation: 1 s plus a deterministic 0-500 ms from the job name (and the child index, for
 * a child), exit 0.
 */
export function defaultBehaviour(job: SubmittedJob, childIndex: number | null = null): JobBehaviour {
  const seed = childIndex === null ? job.jobName : `${job.jobName}:${childIndex}`;
  return { kind: 'simulate', durationMs: 1000 + (createHash('sha1').update(seed).digest().readUInt32BE(0) % 501), exitCode: 0 };
}

/**
 * `childItem` for {@link BatchApiOptions}: the child's item of the array's manifest, the S3 object named
 * by the job's `AIRLESS_ARRAY_MANIFEST` (`s3://bucket/key`), read once per manifest. A plain job with a
 * manifest runs its item 0; a job without one runs its own command and environment.
 */
export function manifestChildItem(s3: S3Client): (job: SubmittedJob, childIndex: number | null) => Promise<ChildItem | null> {
  const manifests = new Map<string, Promise<ArrayManifest>>();
  const read = async (uri: string): Promise<ArrayManifest> => {
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
    if (!m) throw new Error(`${ARRAY_MANIFEST_ENV} '${uri}' is not an s3://bucket/key URI`);
    const res = await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
    const text = await res.Body?.transformToString('utf8');
    if (text === undefined) throw new Error(`the array manifest ${uri} is empty`);
    return JSON.parse(text) as ArrayManifest;
  };
  return async (job, childIndex) => {
    const uri = job.environment[ARRAY_MANIFEST_ENV];
    if (!uri) return null;
    let manifest = manifests.get(uri);
    if (!manifest) {
      manifest = read(uri);
      manifests.set(uri, manifest);
      // A failed read is tried again by the next child.
      manifest.catch(() => manifests.delete(uri));
    }
    const items = (await manifest).items;
    const item = items[childIndex ?? 0];
    if (!item) throw new Error(`the array manifest ${uri} has ${items.length} items, none for child ${childIndex ?? 0}`);
    return item;
  };
}

interface EndEntry {
  at: number;
  seq: number;
  unit: Unit;
  exitCode: number;
  reason: string | null;
}

/** A binary min-heap of job ends by (time, order of scheduling). */
class EndHeap {
  private readonly a: EndEntry[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): EndEntry | undefined {
    return this.a[0];
  }

  push(e: EndEntry): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): EndEntry | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || !last) return top;
    a[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && less(a[l]!, a[m]!)) m = l;
      if (r < a.length && less(a[r]!, a[m]!)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
    return top;
  }
}

const less = (x: EndEntry, y: EndEntry) => x.at < y.at || (x.at === y.at && x.seq < y.seq);

export class LocalBatchApi extends LoopbackEndpoint {
  private readonly clock: HarnessClock;
  private readonly behaviour: (job: SubmittedJob, childIndex: number | null) => JobBehaviour;
  private readonly failOnce: ((job: SubmittedJob, childIndex: number | null) => string | null) | undefined;
  private readonly childItem: ((job: SubmittedJob, childIndex: number | null) => Promise<ChildItem | null>) | undefined;
  private readonly startKey: (job: SubmittedJob, childIndex: number | null) => string;
  private readonly capacity: number;
  private readonly submitRate: number | null;
  private readonly submitBurst: number;
  private submitTokens: number;
  private submitRefilledAt: number;
  private readonly failedKeys = new Set<string>();
  /** Plain jobs and array parents by id. */
  private readonly jobs = new Map<string, JobRecord>();
  /** The same, in submission order. */
  private readonly order: JobRecord[] = [];
  /** By job name, lower case (JOB_NAME filters are case-insensitive). */
  private readonly byName = new Map<string, JobRecord[]>();
  /** Units waiting for capacity, first in first out, from `runnableHead`. */
  private runnable: Unit[] = [];
  private runnableHead = 0;
  private runningUnits = 0;
  private readonly ends = new EndHeap();
  private endSeq = 0;
  /** The time of the earliest clock sleep armed for ends (later sleeps may be pending too). */
  private armedAt: number | null = null;
  private readonly processes = new Set<ChildProcess>();
  private readonly outputs = new Map<Unit, string>();
  private readonly drops: ((operation: string, body: any) => boolean)[] = [];
  private readonly region: string;
  private readonly accountId: string;
  /** Requests served, by operation (SubmitJob, DescribeJobs, ListJobs, TerminateJob, CancelJob), throttled ones included. */
  readonly calls: Record<string, number> = {};
  /** Requests refused with TooManyRequestsException, by operation. */
  readonly throttled: Record<string, number> = {};
  /** Every job created (plain jobs and array parents), in order. */
  readonly submitted: SubmittedJob[] = [];
  /** How many times each job or child started, by {@link BatchApiOptions.startKey}: more than 1 means it ran twice. */
  readonly starts = new Map<string, number>();

  constructor(options: BatchApiOptions = {}) {
    super();
    this.clock = options.clock ?? REAL_TIME;
    this.behaviour = options.behaviour ?? defaultBehaviour;
    this.failOnce = options.failOnce;
    this.childItem = options.childItem;
    this.startKey = options.startKey ?? ((job, i) => (i === null ? job.jobName : `${job.jobName}:${i}`));
    this.capacity = options.capacity ?? Infinity;
    if (!(this.capacity >= 0)) throw new RangeError(`capacity must be 0 or more, got ${this.capacity}`);
    this.submitRate = options.submitRatePerSecond ?? null;
    if (this.submitRate !== null && !(this.submitRate > 0)) throw new RangeError(`submitRatePerSecond must be positive, got ${this.submitRate}`);
    this.submitBurst = options.submitBurst ?? this.submitRate ?? Infinity;
    this.submitTokens = this.submitBurst;
    this.submitRefilledAt = this.clock.now();
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
  }


  override async close(): Promise<void> {
    for (const p of this.processes) p.kill('SIGKILL');
    await super.close();
  }

  /**
   * Test hook: the next request for which `predicate(operation, body)` holds is carried out (a SubmitJob
   * creates its job) but its connection is closed without a response, as a lost response would be.
   */
  dropResponseOnce(predicate: (operation: string, body: any) => boolean): void {
    this.drops.push(predicate);
  }

  /** Jobs and children RUNNING now. */
  get running(): number {
    return this.runningUnits;
  }

  /** The largest number of starts of any job or child (1 when none ran twice; 0 when none ran). */
  maxStarts(): number {
    let max = 0;
    for (const n of this.starts.values()) max = Math.max(max, n);
    return max;
  }

  /** A job's, an array parent's or a child's current status, for tests. */
  status(jobId: string): { status: JobStatus; exitCode: number | null; statusReason: string | null } | undefined {
    const rec = this.jobs.get(jobId);
    if (rec) return rec.job.arraySize === null ? this.unitStatus(rec.units[0]!) : { status: this.parentStatus(rec), exitCode: null, statusReason: this.parentReason(rec) };
    const u = this.childUnit(jobId);
    return u && this.unitStatus(u);
  }

  /** The captured output of a job or child run as a process (its last 64 KiB). */
  output(jobId: string): string {
    const rec = this.jobs.get(jobId);
    const u = rec ? rec.units[0] : this.childUnit(jobId);
    return (u && this.outputs.get(u)) ?? '';
  }

  private unitStatus(u: Unit): { status: JobStatus; exitCode: number | null; statusReason: string | null } {
    return { status: u.status, exitCode: u.exitCode, statusReason: u.statusReason };
  }

  private childUnit(jobId: string): Unit | undefined {
    const m = /^(.+):(\d+)$/.exec(jobId);
    if (!m) return undefined;
    const rec = this.jobs.get(m[1]!);
    return rec && rec.job.arraySize !== null ? rec.units[Number(m[2])] : undefined;
  }

  protected override async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const ops: Record<string, (body: any) => unknown> = {
      SubmitJob: (b) => this.submitJob(b),
      DescribeJobs: (b) => this.describeJobs(b),
      ListJobs: (b) => this.listJobs(b),
      TerminateJob: (b) => this.stopJob(b, 'terminate'),
      CancelJob: (b) => this.stopJob(b, 'cancel'),
    };
    const path = (req.url ?? '').split('?')[0]!;
    const name = OPERATIONS[path];
    const op = name ? ops[name] : undefined;
    const reply = (status: number, body: unknown, errorType?: string) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(errorType ? { 'x-amzn-errortype': errorType } : {}), 'x-amzn-requestid': randomUUID() });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || !op || !name) return reply(404, { message: `${req.method} ${path} is not an operation of this local Batch API` }, 'UnknownOperationException');
    this.calls[name] = (this.calls[name] ?? 0) + 1;
    let body: any = {};
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      body = text ? JSON.parse(text) : {};
      if (name === 'SubmitJob') this.takeSubmitToken();
      const out = op(body);
      const drop = this.drops.findIndex((p) => p(name, body));
      if (drop >= 0) {
        this.drops.splice(drop, 1);
        req.socket.destroy();
        return;
      }
      reply(200, out);
    } catch (e) {
      if (e instanceof ApiError) {
        if (e.type === 'TooManyRequestsException') this.throttled[name] = (this.throttled[name] ?? 0) + 1;
        reply(e.httpStatus, { message: e.message }, e.type);
      } else reply(500, { message: e instanceof Error ? e.message : String(e) }, 'ServerException');
    }
  }

  /** The SubmitJob token bucket: refilled at `submitRatePerSecond` on the clock, up to `submitBurst`. */
  private takeSubmitToken(): void {
    if (this.submitRate === null) return;
    const now = this.clock.now();
    this.submitTokens = Math.min(this.submitBurst, this.submitTokens + ((now - this.submitRefilledAt) * this.submitRate) / 1000);
    this.submitRefilledAt = now;
    if (this.submitTokens < 1) throw new ApiError('TooManyRequestsException', 'Too Many Requests');
    this.submitTokens -= 1;
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
    const size = b.arrayProperties?.size as unknown;
    if (size !== undefined && size !== null && (typeof size !== 'number' || !Number.isInteger(size) || size < 2 || size > ARRAY_MAX)) {
      throw new ApiError('ClientException', `arrayProperties.size must be an integer from 2 to 10,000, got ${JSON.stringify(size)}`);
    }
    const env: Record<string, string> = {};
    for (const e of (b.containerOverrides?.environment ?? []) as { name?: string; value?: string }[]) if (e.name) env[e.name] = e.value ?? '';
    const now = this.clock.now();
    const job: SubmittedJob = {
      jobId: randomUUID(),
      jobName: b.jobName,
      jobQueue: b.jobQueue,
      jobDefinition: b.jobDefinition,
      command: Array.isArray(b.containerOverrides?.command) ? b.containerOverrides.command : null,
      environment: env,
      arraySize: typeof size === 'number' ? size : null,
      tags: { ...(b.tags ?? {}) },
      submittedAt: now,
    };
    const n = job.arraySize ?? 1;
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    const rec: JobRecord = { job, units: new Array<Unit>(n), counts, startedAt: null, stoppedAt: null, stopReason: null };
    for (let i = 0; i < n; i++) {
      const u: Unit = { rec, index: job.arraySize === null ? null : i, status: 'RUNNABLE', startedAt: null, stoppedAt: null, exitCode: null, reason: null, statusReason: null, item: null, process: null };
      rec.units[i] = u;
      this.runnable.push(u);
    }
    counts.RUNNABLE = n;
    this.jobs.set(job.jobId, rec);
    this.order.push(rec);
    const key = job.jobName.toLowerCase();
    const same = this.byName.get(key);
    if (same) same.push(rec);
    else this.byName.set(key, [rec]);
    this.submitted.push(job);
    this.pump();
    return { jobArn: this.arn('job', job.jobId), jobName: job.jobName, jobId: job.jobId };
  }

  private setStatus(u: Unit, s: JobStatus): void {
    const rec = u.rec;
    rec.counts[u.status]--;
    rec.counts[s]++;
    u.status = s;
    const now = this.clock.now();
    if (s === 'RUNNING') {
      u.startedAt = now;
      rec.startedAt ??= now;
    }
    if (isDone(s)) {
      u.stoppedAt = now;
      if (rec.counts.SUCCEEDED + rec.counts.FAILED === rec.units.length) rec.stoppedAt = now;
    }
  }

  /** Start RUNNABLE units, first in first out, while there is capacity. */
  private pump(): void {
    while (this.runningUnits < this.capacity && this.runnableHead < this.runnable.length) {
      const u = this.runnable[this.runnableHead++]!;
      if (u.status === 'RUNNABLE') this.start(u);
    }
    if (this.runnableHead > 1024 && this.runnableHead * 2 > this.runnable.length) {
      this.runnable = this.runnable.slice(this.runnableHead);
      this.runnableHead = 0;
    }
  }

  private start(u: Unit): void {
    this.runningUnits++;
    this.setStatus(u, 'RUNNING');
    if (!this.childItem) return this.launch(u);
    const release = this.clock.hold();
    this.childItem(u.rec.job, u.index).then(
      (item) => {
        release();
        u.item = item;
        if (u.status === 'RUNNING') this.launch(u);
      },
      (e: unknown) => {
        release();
        this.finish(u, null, `CannotStartContainerError: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
  }

  /** The job as unit `u` sees it (its id, its item's command and environment). */
  private view(u: Unit): SubmittedJob {
    const { job } = u.rec;
    if (u.index === null && !u.item) return job;
    return {
      ...job,
      jobId: this.unitId(u),
      command: u.item?.command ?? job.command,
      environment: u.item ? { ...job.environment, ...u.item.environment } : job.environment,
    };
  }

  private unitId(u: Unit): string {
    return u.index === null ? u.rec.job.jobId : `${u.rec.job.jobId}:${u.index}`;
  }

  private launch(u: Unit): void {
    const job = this.view(u);
    const key = this.failOnce?.(job, u.index) ?? null;
    const failNow = key !== null && !this.failedKeys.has(key);
    if (key !== null) this.failedKeys.add(key);
    const startKey = this.startKey(job, u.index);
    this.starts.set(startKey, (this.starts.get(startKey) ?? 0) + 1);
    const behaviour: JobBehaviour = failNow ? { ...simulation(this.behaviour(job, u.index)), exitCode: 1 } : this.behaviour(job, u.index);
    if (behaviour.kind === 'simulate') {
      const reason = behaviour.exitCode === 0 ? null : (behaviour.reason ?? 'Essential container in task exited');
      this.scheduleEnd(u, u.startedAt! + behaviour.durationMs, behaviour.exitCode, reason);
      return;
    }
    if (!job.command?.length) {
      this.finish(u, null, 'CannotStartContainerError: the job has no command to run locally');
      return;
    }
    this.runProcess(u, job);
  }

  /** A simulated end: kept in a heap, with a clock sleep armed at the earliest. */
  private scheduleEnd(unit: Unit, at: number, exitCode: number, reason: string | null): void {
    this.ends.push({ at, seq: this.endSeq++, unit, exitCode, reason });
    this.arm();
  }

  private arm(): void {
    const top = this.ends.peek();
    if (!top || (this.armedAt !== null && this.armedAt <= top.at)) return;
    const at = top.at;
    this.armedAt = at;
    void this.clock.sleepUntil(at).then(() => this.onEndTimer(at));
  }

  private onEndTimer(at: number): void {
    if (this.armedAt === at) this.armedAt = null;
    const now = Math.max(this.clock.now(), at);
    for (let top = this.ends.peek(); top && top.at <= now; top = this.ends.peek()) {
      this.ends.pop();
      // A unit stopped meanwhile is FAILED already (units never run again).
      if (top.unit.status === 'RUNNING') this.finish(top.unit, top.exitCode, top.reason);
    }
    if (this.armedAt !== null && this.armedAt < now) this.armedAt = null;
    this.arm();
  }

  private runProcess(u: Unit, job: SubmittedJob): void {
    const [cmd, ...args] = job.command!;
    const release = this.clock.hold();
    const child = spawn(cmd!, args, {
      env: {
        ...process.env,
        ...job.environment,
        AWS_BATCH_JOB_ID: job.jobId,
        AWS_BATCH_JQ_NAME: job.jobQueue,
        ...(u.index !== null ? { AWS_BATCH_JOB_ARRAY_INDEX: String(u.index) } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    u.process = child;
    this.processes.add(child);
    const collect = (b: Buffer) => {
      this.outputs.set(u, ((this.outputs.get(u) ?? '') + b.toString()).slice(-OUTPUT_MAX));
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let ended = false;
    const end = (code: number | null) => {
      if (ended) return;
      ended = true;
      this.processes.delete(child);
      u.process = null;
      this.finish(u, code, code === 0 ? null : 'Essential container in task exited');
      release();
    };
    child.once('error', (e) => {
      collect(Buffer.from(`${e.message}\n`));
      end(null);
    });
    child.once('exit', (code) => end(code));
  }

  /** A running unit ended with `exitCode`. */
  private finish(u: Unit, exitCode: number | null, reason: string | null): void {
    if (isDone(u.status)) return;
    const wasRunning = u.status === 'RUNNING' || u.status === 'STARTING';
    u.exitCode = exitCode;
    u.reason = reason;
    u.statusReason = exitCode === 0 ? 'Essential container in task exited' : (reason ?? `exit code ${exitCode}`);
    this.setStatus(u, exitCode === 0 ? 'SUCCEEDED' : 'FAILED');
    if (wasRunning) {
      this.runningUnits--;
      this.pump();
    }
  }

  /** TerminateJob (any unfinished unit) or CancelJob (units not started yet): FAILED with `reason`. */
  private stopUnit(u: Unit, reason: string, how: 'terminate' | 'cancel'): boolean {
    if (isDone(u.status) || (how === 'cancel' && !notStarted(u.status))) return false;
    const wasRunning = u.status === 'RUNNING' || u.status === 'STARTING';
    u.process?.kill('SIGTERM');
    u.exitCode = null;
    u.reason = reason;
    u.statusReason = reason;
    this.setStatus(u, 'FAILED');
    if (wasRunning) this.runningUnits--;
    return wasRunning;
  }

  private parentStatus(rec: JobRecord): JobStatus {
    const { counts, units } = rec;
    if (counts.SUCCEEDED + counts.FAILED === units.length) return counts.FAILED > 0 ? 'FAILED' : 'SUCCEEDED';
    return counts.SUBMITTED === units.length ? 'SUBMITTED' : 'PENDING';
  }

  private parentReason(rec: JobRecord): string | null {
    if (this.parentStatus(rec) !== 'FAILED') return null;
    return rec.stopReason ?? `${rec.counts.FAILED} of ${rec.units.length} child jobs failed`;
  }

  private attempts(u: Unit, logStreamName: string): unknown[] {
    if (!isDone(u.status) || u.startedAt === null) return [];
    return [
      {
        container: { ...(u.exitCode !== null ? { exitCode: u.exitCode } : {}), ...(u.reason ? { reason: u.reason } : {}), logStreamName },
        startedAt: u.startedAt,
        stoppedAt: u.stoppedAt,
        statusReason: u.statusReason,
      },
    ];
  }

  /** DescribeJobs' detail of a plain job or a child. */
  private unitDetail(u: Unit): Record<string, unknown> {
    const job = this.view(u);
    const done = isDone(u.status);
    const logStreamName = `${job.jobDefinition.split(':')[0]}/default/${job.jobId.replace(':', '/')}`;
    return {
      ...this.common(u.rec),
      jobArn: this.arn('job', job.jobId),
      jobId: job.jobId,
      status: u.status,
      ...(u.statusReason ? { statusReason: u.statusReason } : {}),
      attempts: this.attempts(u, logStreamName),
      ...(u.startedAt !== null ? { startedAt: u.startedAt } : {}),
      ...(u.stoppedAt !== null ? { stoppedAt: u.stoppedAt } : {}),
      container: {
        command: job.command ?? [],
        environment: Object.entries(job.environment).map(([name, value]) => ({ name, value })),
        ...(done && u.exitCode !== null ? { exitCode: u.exitCode } : {}),
        ...(done && u.reason ? { reason: u.reason } : {}),
        logStreamName,
      },
      ...(u.index !== null ? { arrayProperties: { index: u.index } } : {}),
    };
  }

  private common(rec: JobRecord): Record<string, unknown> {
    const { job } = rec;
    return {
      jobName: job.jobName,
      jobQueue: this.arn('job-queue', job.jobQueue),
      createdAt: job.submittedAt,
      dependsOn: [],
      jobDefinition: this.arn('job-definition', job.jobDefinition),
      parameters: {},
      tags: job.tags,
      platformCapabilities: ['FARGATE'],
    };
  }

  private statusSummary(rec: JobRecord): Record<string, number> {
    return { ...rec.counts };
  }

  /** DescribeJobs' detail of an array parent. */
  private parentDetail(rec: JobRecord): Record<string, unknown> {
    const { job } = rec;
    const reason = this.parentReason(rec);
    return {
      ...this.common(rec),
      jobArn: this.arn('job', job.jobId),
      jobId: job.jobId,
      status: this.parentStatus(rec),
      ...(reason ? { statusReason: reason } : {}),
      attempts: [],
      ...(rec.startedAt !== null ? { startedAt: rec.startedAt } : {}),
      ...(rec.stoppedAt !== null ? { stoppedAt: rec.stoppedAt } : {}),
      container: { command: job.command ?? [], environment: Object.entries(job.environment).map(([name, value]) => ({ name, value })) },
      arrayProperties: { size: job.arraySize, statusSummary: this.statusSummary(rec), statusSummaryLastUpdatedAt: this.clock.now() },
    };
  }

  private describeJobs(b: any): unknown {
    const ids = b?.jobs;
    if (!Array.isArray(ids)) throw new ApiError('ClientException', 'jobs is required');
    if (ids.length > DESCRIBE_MAX) throw new ApiError('ClientException', `DescribeJobs takes at most ${DESCRIBE_MAX} job ids, got ${ids.length}`);
    const out: unknown[] = [];
    for (const id of ids) {
      const rec = this.jobs.get(String(id));
      if (rec) {
        out.push(rec.job.arraySize === null ? this.unitDetail(rec.units[0]!) : this.parentDetail(rec));
        continue;
      }
      const u = this.childUnit(String(id));
      if (u) out.push(this.unitDetail(u));
    }
    return { jobs: out };
  }

  private unitSummary(u: Unit): Record<string, unknown> {
    const id = this.unitId(u);
    return {
      jobArn: this.arn('job', id),
      jobId: id,
      jobName: u.rec.job.jobName,
      createdAt: u.rec.job.submittedAt,
      status: u.status,
      ...(u.statusReason ? { statusReason: u.statusReason } : {}),
      ...(u.startedAt !== null ? { startedAt: u.startedAt } : {}),
      ...(u.stoppedAt !== null ? { stoppedAt: u.stoppedAt } : {}),
      container: { ...(u.exitCode !== null ? { exitCode: u.exitCode } : {}), ...(u.reason ? { reason: u.reason } : {}) },
      ...(u.index !== null ? { arrayProperties: { index: u.index } } : {}),
      jobDefinition: this.arn('job-definition', u.rec.job.jobDefinition),
    };
  }

  private recSummary(rec: JobRecord): Record<string, unknown> {
    if (rec.job.arraySize === null) return this.unitSummary(rec.units[0]!);
    const reason = this.parentReason(rec);
    return {
      jobArn: this.arn('job', rec.job.jobId),
      jobId: rec.job.jobId,
      jobName: rec.job.jobName,
      createdAt: rec.job.submittedAt,
      status: this.parentStatus(rec),
      ...(reason ? { statusReason: reason } : {}),
      ...(rec.startedAt !== null ? { startedAt: rec.startedAt } : {}),
      ...(rec.stoppedAt !== null ? { stoppedAt: rec.stoppedAt } : {}),
      arrayProperties: { size: rec.job.arraySize, statusSummary: this.statusSummary(rec), statusSummaryLastUpdatedAt: this.clock.now() },
      jobDefinition: this.arn('job-definition', rec.job.jobDefinition),
    };
  }

  private statusOf(rec: JobRecord): JobStatus {
    return rec.job.arraySize === null ? rec.units[0]!.status : this.parentStatus(rec);
  }

  /**
   * ListJobs, as AWS: by `arrayJobId` (its children) or by `jobQueue` (plain jobs and array parents), in
   * `jobStatus` (default RUNNING) or, with `filters`, in any status (JOB_NAME is case-insensitive, a
   * trailing `*` matches a prefix; filtered results newest first, at most 100 a page); `maxResults`
   * (default 100, at most 1000) and `nextToken` (an opaque position).
   */
  private listJobs(b: any): unknown {
    const filters = (b?.filters ?? []) as { name?: string; values?: string[] }[];
    const status = (b?.jobStatus as string | undefined) ?? 'RUNNING';
    if (!STATUSES.includes(status as JobStatus)) throw new ApiError('ClientException', `jobStatus '${status}' is not a job status`);
    const maxAsked = b?.maxResults === undefined || b?.maxResults === null ? 100 : Number(b.maxResults);
    if (!Number.isInteger(maxAsked) || maxAsked < 1) throw new ApiError('ClientException', `maxResults must be a positive integer, got ${String(b?.maxResults)}`);
    const max = Math.min(maxAsked, filters.length && !b?.arrayJobId ? 100 : 1000);
    let start = 0;
    if (b?.nextToken !== undefined && b?.nextToken !== null) {
      start = Number(b.nextToken);
      if (!Number.isInteger(start) || start < 0) throw new ApiError('ClientException', `invalid nextToken '${String(b.nextToken)}'`);
    }
    const page = (items: { length: number; at(i: number): JobRecord | Unit | undefined }, match: (x: JobRecord | Unit) => boolean, summary: (x: any) => unknown) => {
      const out: unknown[] = [];
      let i = start;
      for (; i < items.length && out.length < max; i++) {
        const x = items.at(i)!;
        if (match(x)) out.push(summary(x));
      }
      // Only a token when more may follow (a last page may still end with one, as AWS's may).
      return { jobSummaryList: out, ...(i < items.length ? { nextToken: String(i) } : {}) };
    };

    if (b?.arrayJobId) {
      const rec = this.jobs.get(String(b.arrayJobId));
      if (!rec || rec.job.arraySize === null) return { jobSummaryList: [] };
      // Filters do not apply to children.
      return page(rec.units, (u) => filters.length > 0 || (u as Unit).status === status, (u: Unit) => this.unitSummary(u));
    }
    if (!b?.jobQueue) throw new ApiError('ClientException', 'one of jobQueue, arrayJobId or multiNodeJobId is required');
    const queue = this.arn('job-queue', String(b.jobQueue));
    const inQueue = (rec: JobRecord) => this.arn('job-queue', rec.job.jobQueue) === queue;
    if (!filters.length) return page(this.order, (r) => inQueue(r as JobRecord) && this.statusOf(r as JobRecord) === status, (r: JobRecord) => this.recSummary(r));

    // With filters, every status, newest first.
    if (filters.length > 1) throw new ApiError('ClientException', 'only one filter can be used at a time');
    const f = filters[0]!;
    const v = f.values?.[0] ?? '';
    const prefix = v.endsWith('*');
    let candidates: JobRecord[];
    let match: (rec: JobRecord) => boolean;
    if (f.name === 'JOB_NAME') {
      const lower = v.toLowerCase();
      candidates = prefix ? this.order : (this.byName.get(lower) ?? []);
      match = prefix ? (r) => r.job.jobName.toLowerCase().startsWith(lower.slice(0, -1)) : () => true;
    } else if (f.name === 'JOB_DEFINITION') {
      candidates = this.order;
      match = (r) => (prefix ? r.job.jobDefinition.startsWith(v.slice(0, -1)) : r.job.jobDefinition === v || r.job.jobDefinition.split(':')[0] === v);
    } else if (f.name === 'BEFORE_CREATED_AT') {
      candidates = this.order;
      match = (r) => r.job.submittedAt < Number(v);
    } else if (f.name === 'AFTER_CREATED_AT') {
      candidates = this.order;
      match = (r) => r.job.submittedAt > Number(v);
    } else throw new ApiError('ClientException', `unknown filter '${String(f.name)}'`);
    const newestFirst = { length: candidates.length, at: (i: number) => candidates[candidates.length - 1 - i] };
    return page(newestFirst, (r) => inQueue(r as JobRecord) && match(r as JobRecord), (r: JobRecord) => this.recSummary(r));
  }

  /**
   * TerminateJob / CancelJob of a plain job, an array parent (every unfinished child: terminated; not
   * started: cancelled) or one child.
   */
  private stopJob(b: any, how: 'terminate' | 'cancel'): unknown {
    const id = String(b?.jobId);
    if (typeof b?.reason !== 'string') throw new ApiError('ClientException', 'reason is required');
    const rec = this.jobs.get(id);
    const units = rec ? rec.units : [this.childUnit(id)].filter((u): u is Unit => u !== undefined);
    if (!units.length) throw new ApiError('ClientException', `Job ${id} not found`);
    let freed = false;
    let stopped = 0;
    for (const u of units) {
      const before = u.status;
      if (this.stopUnit(u, b.reason, how)) freed = true;
      if (u.status !== before) stopped++;
    }
    if (rec && rec.job.arraySize !== null && stopped > 0) rec.stopReason = b.reason;
    if (freed) this.pump();
    return {};
  }
}

function simulation(b: JobBehaviour): { kind: 'simulate'; durationMs: number; exitCode: number; reason?: string } {
  return b.kind === 'simulate' ? b : { kind: 'simulate', durationMs: 1000, exitCode: 0 };
}
