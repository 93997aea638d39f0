// The real @aws-sdk/client-batch against the local Batch API (e2e/batch-api.ts) on a skipping clock:
// throttled and lost SubmitJob calls through submitIdempotent, an array wave's failed children through
// AwsBatchBackend.waveResult (with the calls it costs), stopRunnable, and the array status rules.
import { BatchClient, DescribeJobsCommand, ListJobsCommand, SubmitJobCommand, type JobDetail, type SubmitJobCommandInput } from '@aws-sdk/client-batch';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBatchApi, manifestChildItem, type BatchApiOptions } from '../e2e/batch-api.ts';
import { SkippingClock } from '../e2e/clock.ts';
import { AwsBatchBackend, ownerFromTags } from '../lib/aws/batch-client.ts';
import { BatchSubmitError, submitIdempotent, TokenBucket, type SubmitIdempotentOptions } from '../lib/aws/batch-submit.ts';
import { childOutcomes } from '../lib/core/arrays.ts';
import type { BatchSubmission } from '../lib/executor/batch-backend.ts';

interface Local {
  api: LocalBatchApi;
  clock: SkippingClock;
  client: BatchClient;
  /** Options that make submitIdempotent wait on the skipping clock (call it inside `clock.track`). */
  onClock: Pick<SubmitIdempotentOptions, 'now' | 'sleep'>;
}

const opened: Local[] = [];
afterEach(async () => {
  for (const l of opened.splice(0)) {
    l.client.destroy();
    await l.api.close();
  }
});

async function local(options: Omit<BatchApiOptions, 'clock'> = {}): Promise<Local> {
  const clock = new SkippingClock();
  const api = new LocalBatchApi({ ...options, clock });
  const endpoint = await api.listen();
  const client = new BatchClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const l: Local = {
    api,
    clock,
    client,
    onClock: { now: () => clock.now(), sleep: (ms) => clock.sleepUntil(clock.now() + ms, true) },
  };
  opened.push(l);
  return l;
}

const input = (jobName: string, extra: Partial<SubmitJobCommandInput> = {}): SubmitJobCommandInput => ({ jobName, jobQueue: 'q', jobDefinition: 'jd:1', ...extra });
const calls = (api: LocalBatchApi) => ({ ...api.calls });
const delta = (api: LocalBatchApi, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(api.calls).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v !== 0));
const describeOne = async (client: BatchClient, jobId: string): Promise<JobDetail> => (await client.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs![0]!;

describe('submitIdempotent against the local Batch API', () => {
  it('TooManyRequestsException: 300 jobs at once against 50/s without a limiter are each created exactly once', async () => {
    const { api, clock, client, onClock } = await local({ submitRatePerSecond: 50 });
    const names = Array.from({ length: 300 }, (_, i) => `burst-${i}`);
    const t0 = clock.now();
    const outcomes = await Promise.all(names.map((n) => clock.track(() => submitIdempotent(client, input(n), { ...onClock, limiter: null }))));

    expect(api.submitted.map((j) => j.jobName).sort()).toStrictEqual([...names].sort());
    expect(new Set(outcomes.map((o) => o.jobId)).size).toBe(300);
    expect(outcomes.map((o) => o.jobId).sort()).toStrictEqual(api.submitted.map((j) => j.jobId).sort());
    // Throttling really happened, every call is accounted for, and none was ambiguous.
    const throttled = outcomes.reduce((n, o) => n + o.throttled, 0);
    expect(api.throttled['SubmitJob']).toBe(throttled);
    expect(throttled).toBeGreaterThanOrEqual(250);
    expect(api.calls['SubmitJob']).toBe(outcomes.reduce((n, o) => n + o.attempts, 0));
    expect(outcomes.filter((o) => o.found)).toStrictEqual([]);
    expect(api.calls['ListJobs']).toBeUndefined();
    // 50 at once, then 50 a second: at least 5 s of the emulator's time.
    expect(clock.now() - t0).toBeGreaterThanOrEqual(5000);
  });

  it('a limiter at the service\'s rate is never throttled', async () => {
    const { api, clock, client, onClock } = await local({ submitRatePerSecond: 50 });
    const limiter = new TokenBucket({ ratePerSecond: 50, ...onClock });
    const outcomes = await Promise.all(Array.from({ length: 300 }, (_, i) => clock.track(() => submitIdempotent(client, input(`paced-${i}`), { ...onClock, limiter }))));
    expect(api.submitted).toHaveLength(300);
    expect(api.throttled).toStrictEqual({});
    expect(outcomes.every((o) => o.attempts === 1)).toBe(true);
  });

  it('a lost response: the job is found by name, not submitted again', async () => {
    const { api, clock, client, onClock } = await local();
    api.dropResponseOnce((op, body) => op === 'SubmitJob' && body.jobName === 'lost-1');
    const out = await clock.track(() => submitIdempotent(client, input('lost-1'), { ...onClock, limiter: null }));
    expect(api.submitted.map((j) => j.jobName)).toStrictEqual(['lost-1']);
    expect(out).toStrictEqual({ jobId: api.submitted[0]!.jobId, attempts: 1, throttled: 0, found: true });
    expect(api.calls).toStrictEqual({ SubmitJob: 1, ListJobs: 1 });
  });

  it('a lost response through AwsBatchBackend.submit: the owner try\'s job is found (tags checked)', async () => {
    const { api, clock, client, onClock } = await local();
    const backend = new AwsBatchBackend({ client, submit: { ...onClock, limiter: null } });
    const job: BatchSubmission = {
      jobName: 'etl-load-r1-try1',
      jobQueue: 'q',
      jobDefinition: 'jd:1',
      command: ['load'],
      environment: {},
      containerOverrides: null,
      arraySize: 3,
      local: { mode: 'process' },
    };
    const owner = { key: { dagId: 'd', runId: 'r1', taskId: 'load', mapIndex: -1 }, tryNumber: 1 };
    api.dropResponseOnce((op) => op === 'SubmitJob');
    const jobId = await clock.track(() => backend.submit(job, owner));
    expect(api.submitted.map((j) => [j.jobId, j.arraySize])).toStrictEqual([[jobId, 3]]);
    expect(ownerFromTags(api.submitted[0]!.tags)).toStrictEqual(owner);
    // Submitted again (a retried Lambda): the same job.
    expect(await clock.track(() => backend.submit(job, owner))).toBe(jobId);
    expect(api.calls['SubmitJob']).toBe(1);
  });

  it('refused: a ClientException is thrown at once, naming the field', async () => {
    const { api, clock, client, onClock } = await local();
    for (const size of [1, 10_001]) {
      const err = await clock.track(() => submitIdempotent(client, input(`bad-${size}`, { arrayProperties: { size } }), { ...onClock, limiter: null })).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'ClientException', message: expect.stringContaining('arrayProperties.size') });
    }
    expect(api.calls['SubmitJob']).toBe(2);
    expect(api.submitted).toStrictEqual([]);
  });

  it('gives up after its time with an error naming the job', async () => {
    const { api, clock, client, onClock } = await local({ submitRatePerSecond: 0.001, submitBurst: 1 });
    await client.send(new SubmitJobCommand(input('takes-the-token')));
    const err = await clock.track(() => submitIdempotent(client, input('starved'), { ...onClock, limiter: null, timeoutMs: 10_000 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchSubmitError);
    expect((err as BatchSubmitError).jobName).toBe('starved');
    expect((err as Error).message).toMatch(/SubmitJob of 'starved' in queue 'q' gave up after \d+ calls in 10 s \(\d+ throttled\); last error: TooManyRequestsException/);
    expect(api.submitted.map((j) => j.jobName)).toStrictEqual(['takes-the-token']);
  });
});

describe('AwsBatchBackend.waveResult', () => {
  const FAILING = Array.from({ length: 37 }, (_, k) => 13 + k * 67);
  const code = (i: number) => 10 + FAILING.indexOf(i);

  it('a 2,500-child array with 37 failed children: their indexes, exit codes and reasons, in 2 DescribeJobs and 1 ListJobs', async () => {
    const failing = new Set(FAILING);
    const { api, clock, client } = await local({
      behaviour: (_job, i) =>
        i !== null && failing.has(i)
          ? { kind: 'simulate', durationMs: 2000, exitCode: code(i), reason: `child ${i}: disk full` }
          : { kind: 'simulate', durationMs: 1000, exitCode: 0 },
    });
    const { jobId } = await client.send(new SubmitJobCommand(input('wave-2500', { arrayProperties: { size: 2500 } })));
    await clock.idle();
    const backend = new AwsBatchBackend({ client });
    const before = calls(api);
    const result = await backend.waveResult(jobId!, 2500);
    expect(delta(api, before)).toStrictEqual({ DescribeJobs: 1 + Math.ceil(37 / 100), ListJobs: 1 });
    expect(result).toStrictEqual({
      jobId,
      jobName: 'wave-2500',
      status: 'FAILED',
      failed: new Map(FAILING.map((i) => [i, { exitCode: code(i), reason: `child ${i}: disk full` }])),
      reason: '37 of 2500 child jobs failed',
    });
    const outcomes = childOutcomes(Array.from({ length: 2500 }, (_, i) => 5000 + i), result);
    expect(outcomes.filter((o) => o.status === 'FAILED').map((o) => [o.mapIndex, o.jobId, o.exitCode])).toStrictEqual(FAILING.map((i) => [5000 + i, `${jobId}:${i}`, code(i)]));
    expect(api.maxStarts()).toBe(1);
    expect(api.starts.size).toBe(2500);
  });

  it('250 failed children: 3 ListJobs pages and 3 + 1 DescribeJobs; a succeeded array: 1 DescribeJobs; a plain job: 1', async () => {
    const { api, clock, client } = await local({ behaviour: (job, i) => ({ kind: 'simulate', durationMs: 500, exitCode: job.jobName === 'many' && i !== null && i % 4 === 0 ? 1 : 0 }) });
    const many = (await client.send(new SubmitJobCommand(input('many', { arrayProperties: { size: 1000 } })))).jobId!;
    const fine = (await client.send(new SubmitJobCommand(input('fine', { arrayProperties: { size: 1000 } })))).jobId!;
    const plain = (await client.send(new SubmitJobCommand(input('plain')))).jobId!;
    await clock.idle();
    const backend = new AwsBatchBackend({ client });

    let before = calls(api);
    const r = await backend.waveResult(many, 1000);
    expect(delta(api, before)).toStrictEqual({ DescribeJobs: 4, ListJobs: 3 });
    expect([...r.failed.keys()].sort((a, b) => a - b)).toStrictEqual(Array.from({ length: 250 }, (_, k) => k * 4));
    expect(r.failed.get(8)).toStrictEqual({ exitCode: 1, reason: 'Essential container in task exited' });

    before = calls(api);
    expect(await backend.waveResult(fine, 1000)).toStrictEqual({ jobId: fine, jobName: 'fine', status: 'SUCCEEDED', failed: new Map(), reason: null });
    expect(delta(api, before)).toStrictEqual({ DescribeJobs: 1 });

    before = calls(api);
    expect(await backend.waveResult(plain, 1)).toStrictEqual({ jobId: plain, jobName: 'plain', status: 'SUCCEEDED', failed: new Map(), reason: null, exitCodes: new Map([[0, 0]]) });
    expect(delta(api, before)).toStrictEqual({ DescribeJobs: 1 });

    await expect(backend.waveResult(fine, 999)).rejects.toThrow(/an array of 1000, not of 999/);
  });

  it('refuses a job that has not finished', async () => {
    const { clock, client } = await local({ capacity: 0 });
    const { jobId } = await client.send(new SubmitJobCommand(input('waiting', { arrayProperties: { size: 2 } })));
    await clock.idle();
    await expect(new AwsBatchBackend({ client }).waveResult(jobId!, 2)).rejects.toThrow(/has not finished \(PENDING\)/);
  });
});

describe('AwsBatchBackend.stopRunnable', () => {
  const REASON = 'RUNNABLE for more than 10 minutes';

  it('capacity 0: terminates the RUNNABLE job, and a RUNNABLE array with one TerminateJob of its parent', async () => {
    const { api, clock, client } = await local({ capacity: 0 });
    const plain = (await client.send(new SubmitJobCommand(input('wait-plain')))).jobId!;
    const array = (await client.send(new SubmitJobCommand(input('wait-array', { arrayProperties: { size: 5 } })))).jobId!;
    await clock.idle();
    expect((await describeOne(client, plain)).status).toBe('RUNNABLE');
    expect((await describeOne(client, array)).status).toBe('PENDING');
    const backend = new AwsBatchBackend({ client });

    let before = calls(api);
    expect(await backend.stopRunnable('q', 'wait-plain', REASON)).toBe(1);
    expect(delta(api, before)).toStrictEqual({ ListJobs: 1, TerminateJob: 1 });
    before = calls(api);
    expect(await backend.stopRunnable('q', 'wait-array', REASON)).toBe(5);
    expect(delta(api, before)).toStrictEqual({ ListJobs: 1, TerminateJob: 1 });

    const p = await describeOne(client, plain);
    expect([p.status, p.statusReason, p.container?.exitCode]).toStrictEqual(['FAILED', REASON, undefined]);
    const a = await describeOne(client, array);
    expect([a.status, a.statusReason, a.arrayProperties?.statusSummary?.['FAILED'], a.arrayProperties?.statusSummary?.['RUNNABLE']]).toStrictEqual(['FAILED', REASON, 5, 0]);
    const c = await describeOne(client, `${array}:3`);
    expect([c.status, c.statusReason, c.arrayProperties?.index]).toStrictEqual(['FAILED', REASON, 3]);
    // Nothing is left to stop; another queue has no such job.
    expect(await backend.stopRunnable('q', 'wait-array', REASON)).toBe(0);
    expect(await backend.stopRunnable('other', 'wait-plain', REASON)).toBe(0);
    expect(api.starts.size).toBe(0);
  });

  it('an array partly running: terminates only the children not started, one TerminateJob each', async () => {
    const { api, clock, client } = await local({ capacity: 2, behaviour: () => ({ kind: 'simulate', durationMs: 3_600_000, exitCode: 0 }) });
    const backend = new AwsBatchBackend({ client });
    const release = clock.hold();
    const array = (await client.send(new SubmitJobCommand(input('half', { arrayProperties: { size: 5 } })))).jobId!;
    const before = calls(api);
    expect(await backend.stopRunnable('q', 'half', REASON)).toBe(3);
    expect(delta(api, before)).toStrictEqual({ ListJobs: 4, TerminateJob: 3 });
    const children = (await client.send(new DescribeJobsCommand({ jobs: [0, 1, 2, 3, 4].map((i) => `${array}:${i}`) }))).jobs!;
    expect(children.map((c) => [c.status, c.statusReason ?? null])).toStrictEqual([['RUNNING', null], ['RUNNING', null], ['FAILED', REASON], ['FAILED', REASON], ['FAILED', REASON]]);
    release();
    await clock.idle();
    const a = await describeOne(client, array);
    expect([a.status, a.statusReason, a.arrayProperties?.statusSummary?.['SUCCEEDED'], a.arrayProperties?.statusSummary?.['FAILED']]).toStrictEqual(['FAILED', '3 of 5 child jobs failed', 2, 3]);
  });
});

describe('the local Batch API: array jobs', () => {
  it('a parent is PENDING while children wait or run (FIFO under capacity), then FAILED if any child failed, SUCCEEDED if all succeeded', async () => {
    const { api, clock, client } = await local({
      capacity: 3,
      behaviour: (job, i) => ({ kind: 'simulate', durationMs: 1000 * ((i ?? 0) + 1), exitCode: job.jobName === 'mixed' && i === 4 ? 7 : 0 }),
    });
    const release = clock.hold();
    const t0 = clock.now();
    const mixed = (await client.send(new SubmitJobCommand(input('mixed', { arrayProperties: { size: 10 } })))).jobId!;
    const p = await describeOne(client, mixed);
    expect(p.status).toBe('PENDING');
    expect(p.arrayProperties).toMatchObject({ size: 10, statusSummary: { SUBMITTED: 0, PENDING: 0, RUNNABLE: 7, STARTING: 0, RUNNING: 3, SUCCEEDED: 0, FAILED: 0 } });
    const c0 = await describeOne(client, `${mixed}:0`);
    expect([c0.jobId, c0.jobName, c0.status, c0.arrayProperties]).toStrictEqual([`${mixed}:0`, 'mixed', 'RUNNING', { index: 0 }]);
    expect((await describeOne(client, `${mixed}:5`)).status).toBe('RUNNABLE');
    // Children by status, paged.
    const runnable: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(new ListJobsCommand({ arrayJobId: mixed, jobStatus: 'RUNNABLE', maxResults: 3, ...(nextToken ? { nextToken } : {}) }));
      runnable.push(...page.jobSummaryList!.map((j) => j.jobId!));
      nextToken = page.nextToken;
      pages++;
    } while (nextToken);
    expect(runnable).toStrictEqual([3, 4, 5, 6, 7, 8, 9].map((i) => `${mixed}:${i}`));
    expect(pages).toBe(3);
    // The parent is listed as PENDING in its queue, and by name in any status.
    expect((await client.send(new ListJobsCommand({ jobQueue: 'q', jobStatus: 'PENDING' }))).jobSummaryList!.map((j) => [j.jobId, j.arrayProperties?.size])).toStrictEqual([[mixed, 10]]);
    expect((await client.send(new ListJobsCommand({ jobQueue: 'q', jobStatus: 'RUNNING' }))).jobSummaryList).toStrictEqual([]);
    expect((await client.send(new ListJobsCommand({ jobQueue: 'q', filters: [{ name: 'JOB_NAME', values: ['MIXED'] }] }))).jobSummaryList!.map((j) => j.jobId)).toStrictEqual([mixed]);
    release();
    await clock.idle();

    const done = await describeOne(client, mixed);
    expect([done.status, done.statusReason, done.arrayProperties?.statusSummary?.['SUCCEEDED'], done.arrayProperties?.statusSummary?.['FAILED']]).toStrictEqual(['FAILED', '1 of 10 child jobs failed', 9, 1]);
    const c4 = await describeOne(client, `${mixed}:4`);
    expect([c4.status, c4.container?.exitCode, c4.statusReason]).toStrictEqual(['FAILED', 7, 'Essential container in task exited']);
    // FIFO: child 3 started when child 0 (1 s) ended; the parent ended with its last child.
    const c3 = await describeOne(client, `${mixed}:3`);
    expect(c3.startedAt! - t0).toBeGreaterThanOrEqual(1000);
    expect(c3.startedAt).toBe(c0.stoppedAt ?? (await describeOne(client, `${mixed}:0`)).stoppedAt);
    expect(done.stoppedAt).toBe(Math.max(...(await client.send(new DescribeJobsCommand({ jobs: Array.from({ length: 10 }, (_, i) => `${mixed}:${i}`) }))).jobs!.map((j) => j.stoppedAt!)));

    const ok = (await client.send(new SubmitJobCommand(input('all-ok', { arrayProperties: { size: 4 } })))).jobId!;
    await clock.idle();
    const okDetail = await describeOne(client, ok);
    expect([okDetail.status, okDetail.statusReason, okDetail.arrayProperties?.statusSummary?.['SUCCEEDED']]).toStrictEqual(['SUCCEEDED', undefined, 4]);
    expect(api.maxStarts()).toBe(1);
  });

  it('refuses what AWS refuses: array sizes outside 2..10,000, DescribeJobs of more than 100 ids, ListJobs without a queue or array', async () => {
    const { client } = await local();
    await expect(client.send(new SubmitJobCommand(input('one', { arrayProperties: { size: 1 } })))).rejects.toMatchObject({ name: 'ClientException', message: expect.stringContaining('arrayProperties.size') });
    await expect(client.send(new DescribeJobsCommand({ jobs: Array.from({ length: 101 }, (_, i) => `j${i}`) }))).rejects.toMatchObject({ name: 'ClientException', message: expect.stringContaining('at most 100') });
    await expect(client.send(new ListJobsCommand({ jobStatus: 'RUNNING' }))).rejects.toMatchObject({ name: 'ClientException' });
  });

  it('children run their manifest item as processes, with AWS_BATCH_JOB_ARRAY_INDEX; each manifest is read once', async () => {
    const manifest = {
      version: 1,
      dagId: 'd',
      runId: 'r',
      taskId: 't',
      tryNumber: 1,
      mapIndexes: [10, 11, 12],
      items: [10, 11, 12].map((m) => ({ command: null, environment: { MAP_INDEX: String(m) } })),
    };
    let reads = 0;
    const s3 = {
      send: async () => {
        reads++;
        return { Body: { transformToString: async () => JSON.stringify(manifest) } };
      },
    } as unknown as S3Client;
    const { api, clock, client } = await local({ behaviour: () => ({ kind: 'process' }), childItem: manifestChildItem(s3), startKey: (job) => `map-${job.environment['MAP_INDEX']}` });
    const script = 'process.exit(Number(process.env.MAP_INDEX) - 10 + 2 * Number(process.env.AWS_BATCH_JOB_ARRAY_INDEX))';
    const { jobId } = await client.send(
      new SubmitJobCommand(input('procs', { arrayProperties: { size: 3 }, containerOverrides: { command: [process.execPath, '-e', script], environment: [{ name: 'AIRLESS_ARRAY_MANIFEST', value: 's3://b/m.json' }] } })),
    );
    await clock.idle();
    const children = (await client.send(new DescribeJobsCommand({ jobs: [0, 1, 2].map((i) => `${jobId}:${i}`) }))).jobs!;
    // Child i exits with (MAP_INDEX - 10) + 2 i = 3 i.
    expect(children.map((c) => [c.status, c.container?.exitCode])).toStrictEqual([['SUCCEEDED', 0], ['FAILED', 3], ['FAILED', 6]]);
    expect(children[1]!.container?.environment).toContainEqual({ name: 'MAP_INDEX', value: '11' });
    expect(reads).toBe(1);
    expect([...api.starts]).toStrictEqual([['map-10', 1], ['map-11', 1], ['map-12', 1]]);
  });
});
