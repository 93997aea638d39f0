// Deployed stop of a run's work in flight (lib/aws/stop-tries.ts): the Batch half, through the real
// @aws-sdk/client-batch against the local Batch API (e2e/batch-api.ts), with jobs that never start
// (capacity 0: they wait RUNNABLE, as a long queue would) and one running.
import { BatchClient, DescribeJobsCommand, SubmitJobCommand } from '@aws-sdk/client-batch';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBatchApi } from '../e2e/batch-api.ts';
import { SkippingClock } from '../e2e/clock.ts';
import { AwsBatchBackend } from '../lib/aws/batch-client.ts';
import { stopTries } from '../lib/aws/stop-tries.ts';
import { batchJobName, waveJobName } from '../lib/core/arrays.ts';
import { batchJob, dag, task } from '../lib/index.ts';
import { newTaskInstance, type TaskInstanceRecord } from '../lib/store/records.ts';

const opened: { api: LocalBatchApi; client: BatchClient }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    o.client.destroy();
    await o.api.close();
  }
});

const d = dag({ dagId: 'stop_batch' }, () => {
  batchJob('reduce', { jobQueue: 'q', jobDefinition: 'jd:1' });
  batchJob('named', { jobQueue: 'q', jobDefinition: 'jd:1', jobName: 'shared-name' });
  task('plain', () => 1);
});
const arrays = dag({ dagId: 'stop_array' }, () => {
  const items = task('items', () => [0, 1, 2].map((i) => ({ environment: { ITEM: String(i) } })));
  batchJob('solve', { jobQueue: 'q', jobDefinition: 'jd:1', command: ['solve'] }).expandKwargs(items);
});
const dags = { getDag: (id: string) => (id === d.dagId ? d : id === arrays.dagId ? arrays : undefined) };
const ti = (taskId: string, fields: Partial<TaskInstanceRecord> = {}): TaskInstanceRecord =>
  newTaskInstance({ dagId: 'stop_batch', runId: 'r1', taskId, mapIndex: -1, maxTries: 1, state: 'running', tryNumber: 1, ...fields });

async function local(capacity: number, durationMs = 1000) {
  const clock = new SkippingClock();
  const api = new LocalBatchApi({ clock, capacity, behaviour: () => ({ kind: 'simulate', durationMs, exitCode: 0 }) });
  const client = new BatchClient({ endpoint: await api.listen(), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  opened.push({ api, client });
  return { api, clock, client, batch: new AwsBatchBackend({ client }) };
}

const statusOf = async (client: BatchClient, jobId: string) => {
  const j = (await client.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs![0]!;
  return { status: j.status, reason: j.statusReason };
};

describe('stopTries: Batch jobs of a stopped run', () => {
  it('terminates a running try\'s job by its default name, a deferred one\'s by its recorded id, and leaves a custom-named job alone', async () => {
    const { api, clock, client, batch } = await local(0);
    const byName = (await client.send(new SubmitJobCommand({ jobName: batchJobName('stop_batch', 'reduce', -1, 'r1', 1), jobQueue: 'q', jobDefinition: 'jd:1' }))).jobId!;
    const otherTry = (await client.send(new SubmitJobCommand({ jobName: batchJobName('stop_batch', 'reduce', -1, 'r1', 2), jobQueue: 'q', jobDefinition: 'jd:1' }))).jobId!;
    const byId = (await client.send(new SubmitJobCommand({ jobName: 'whatever', jobQueue: 'q', jobDefinition: 'jd:1' }))).jobId!;
    const shared = (await client.send(new SubmitJobCommand({ jobName: 'shared-name', jobQueue: 'q', jobDefinition: 'jd:1' }))).jobId!;
    await clock.idle();
    expect((await statusOf(client, byName)).status).toBe('RUNNABLE');

    const report = await stopTries({ dags, sfn: null, batch }, [ti('reduce'), ti('named'), ti('plain')], 'the run was marked failed');
    expect(report).toStrictEqual({ executions: [], jobs: 1, errors: [] });
    await clock.idle();
    expect(await statusOf(client, byName)).toStrictEqual({ status: 'FAILED', reason: 'the run was marked failed' });
    // Another try's job, and a job named by the DAG (not the run's alone), are not this try's.
    expect((await statusOf(client, otherTry)).status).toBe('RUNNABLE');
    expect((await statusOf(client, shared)).status).toBe('RUNNABLE');

    const deferred = await stopTries({ dags, sfn: null, batch }, [ti('named', { state: 'deferred', externalId: byId })], 'dagrun timeout');
    expect(deferred.jobs).toBe(1);
    await clock.idle();
    expect(await statusOf(client, byId)).toStrictEqual({ status: 'FAILED', reason: 'dagrun timeout' });
    expect(api.calls['TerminateJob']).toBe(2);
  });

  it('a job that has ended is not terminated again; a failure is reported, not thrown', async () => {
    const { client, clock, batch } = await local(10);
    const done = (await client.send(new SubmitJobCommand({ jobName: batchJobName('stop_batch', 'reduce', -1, 'r1', 1), jobQueue: 'q', jobDefinition: 'jd:1' }))).jobId!;
    await clock.idle();
    expect((await statusOf(client, done)).status).toBe('SUCCEEDED');
    expect((await stopTries({ dags, sfn: null, batch }, [ti('reduce')], 'stopped')).jobs).toBe(0);
    const broken = new AwsBatchBackend({ client: new BatchClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 }) });
    const report = await stopTries({ dags, sfn: null, batch: broken }, [ti('reduce', { externalId: 'job-1' })], 'stopped');
    expect(report.jobs).toBe(0);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatch(/^terminating the Batch job of stop_batch\/r1\/reduce try 1: /);
  });

  it('terminates a stopped run\'s array wave whole, found by the wave\'s job name; a marked child alone, by its recorded child index', async () => {
    const SIX_HOURS = 6 * 3600 * 1000;
    const { api, clock, client, batch } = await local(10, SIX_HOURS);
    // No time passes: the children run (for six hours) until they are stopped.
    const release = clock.hold();
    const wave = (tryNumber: number) => waveJobName('stop_array', { dagId: 'stop_array', runId: 'r1', taskId: 'solve', group: 0 }, tryNumber);
    const submit = async (tryNumber: number) => (await client.send(new SubmitJobCommand({ jobName: wave(tryNumber), jobQueue: 'q', jobDefinition: 'jd:1', arrayProperties: { size: 3 } }))).jobId!;
    const parent = await submit(1);
    const otherTry = await submit(2);
    expect(api.status(`${parent}:1`)?.status).toBe('RUNNING');
    // Each running member records the wave's job name and its child index (array_prepare); child i need not be map index i.
    const member = (mapIndex: number, child: number, tryNumber = 1) => ti('solve', { runId: 'r1', dagId: 'stop_array', mapIndex, tryNumber, externalId: `${wave(tryNumber)}#${child}` });
    const forStop = (tis: TaskInstanceRecord[]) => tis.map((t) => ({ ...t, dagId: 'stop_array' }));

    // A marked instance: its child only (map index 2 is child 1); the wave's other children run on.
    const marked = await stopTries({ dags, sfn: null, batch }, forStop([member(2, 1)]), 'the task instance was marked failed', 'instances');
    expect(marked).toStrictEqual({ executions: [], jobs: 1, errors: [] });
    expect(api.status(`${parent}:1`)).toMatchObject({ status: 'FAILED', statusReason: 'the task instance was marked failed' });
    expect([0, 2].map((i) => api.status(`${parent}:${i}`)?.status)).toStrictEqual(['RUNNING', 'RUNNING']);

    // The run stopped: the array job is terminated whole (its parent: Batch ends every child), once for its members.
    const stopped = await stopTries({ dags, sfn: null, batch }, forStop([member(0, 0), member(1, 2), member(2, 1)]), 'the run was marked failed');
    expect(stopped).toStrictEqual({ executions: [], jobs: 1, errors: [] });
    expect(api.status(parent)?.status).toBe('FAILED');
    expect([0, 1, 2].map((i) => api.status(`${parent}:${i}`)?.status)).toStrictEqual(['FAILED', 'FAILED', 'FAILED']);
    expect(api.status(`${parent}:0`)?.statusReason).toBe('the run was marked failed');
    // Another try's wave is another job: not this try's.
    expect([0, 1, 2].map((i) => api.status(`${otherTry}:${i}`)?.status)).toStrictEqual(['RUNNING', 'RUNNING', 'RUNNING']);
    // Two TerminateJob calls in all: the marked child, then the wave's parent (once for its three members).
    expect(api.calls['TerminateJob']).toBe(2);
    release();
  });
});
