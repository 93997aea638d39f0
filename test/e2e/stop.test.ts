// A run stopped in the deployed shape, on the local cloud, by its dagrunTimeout and through the API
// function (PATCH state failed): its Batch job's lifecycle execution (batch_job, waiting with
// batch:submitJob.sync) is stopped with StopExecution and the job terminated in the local Batch API, so
// nothing keeps running (and billing) after the run failed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalFunctionUrl } from '../../e2e/function-url.ts';
import { unwrap, type ApiClient } from '../../lib/api/client.ts';
import { startDeployedApi } from './deployed-api.ts';
import { useHarness } from './use-harness.ts';

const SIX_HOURS = 6 * 3600 * 1000;
/** The API-stopped run's job has started: the clock is held (no time passes) until the stop is made. */
let startedApiJob: (release: () => void) => void = () => undefined;
const apiJobStarted = new Promise<() => void>((resolve) => (startedApiJob = resolve));
/** The same for the job of the run whose task instance is marked, and for the array job whose child is. */
let startedMarkJob: (release: () => void) => void = () => undefined;
const markJobStarted = new Promise<() => void>((resolve) => (startedMarkJob = resolve));
let holdArray = false;
const jobsOfEarlierRuns = new Set<string>();
let startedArrayJob: (release: () => void) => void = () => undefined;
const arrayJobStarted = new Promise<() => void>((resolve) => (startedArrayJob = resolve));
const h = useHarness({
  batch: {
    behaviour: (job) => {
      if (job.jobName.includes('stop_api')) startedApiJob(h().clock.hold());
      if (job.jobName.includes('mark_api')) startedMarkJob(h().clock.hold());
      if (holdArray && job.jobName.startsWith('e2e_stop_array')) {
        holdArray = false; // once (the behaviour is asked for each child)
        startedArrayJob(h().clock.hold());
      }
      return { kind: 'simulate', durationMs: job.jobName.startsWith('e2e_stop') ? SIX_HOURS : 1000, exitCode: 0 };
    },
  },
});
const REGION = 'eu-west-1';
const CALLER = { accessKeyId: 'AKIDSTOPE2E', secretAccessKey: 'stop-e2e-secret' };
let url: LocalFunctionUrl;
let api: ApiClient;
beforeAll(async () => {
  ({ url, api } = await startDeployedApi(CALLER, REGION));
});
afterAll(async () => {
  await url?.close();
});

describe('e2e_stop: a dagrunTimeout stops the run\'s work in flight', () => {
  it('fails the run at the timeout, stops the Batch lifecycle execution and terminates the job', async () => {
    const runId = 'e2e__stop_timeout';
    const run = await h().run({ dagId: 'e2e_stop', runId });
    expect(run.state).toBe('failed');
    expect(run.note).toMatch(/^dagrun timeout/);
    const tis = await h().store.listTaskInstances(run);
    expect(tis.map((t) => [t.taskId, t.state])).toStrictEqual([['long_job', 'skipped']]);

    // The job: submitted once, terminated long before its six hours.
    const jobs = h().batchApi.submitted.filter((j) => j.jobName.startsWith('e2e_stop'));
    expect(jobs).toHaveLength(1);
    const status = h().batchApi.status(jobs[0]!.jobId);
    expect(status?.status).toBe('FAILED');
    // Terminated by the scheduler's stop (by the try's job name), before the stopped .sync wait would.
    expect(status?.statusReason).toBe('the run was stopped: dagrun timeout');
    expect(Date.parse(run.endDate!) - Date.parse(run.startDate!)).toBeLessThan(SIX_HOURS);

    // Its lifecycle execution was stopped (ABORTED with airless's error), not left waiting on the job.
    const executions = h().sfn.executionsOf(h().naming.lifecycle('batch_job')).filter((e) => e.key?.runId === runId);
    expect(executions.map((e) => [e.status, e.error])).toStrictEqual([['ABORTED', 'airless.Stopped']]);
    expect(executions[0]!.cause).toMatch(/dagrun timeout/);
    expect(h().errors).toStrictEqual([]);
  });
});

describe('e2e_stop: PATCH state failed through the API function stops the run\'s work in flight', () => {
  it('fails the run, stops the Batch lifecycle execution and terminates the running job', async () => {
    const runId = 'e2e__stop_api';
    await h().trigger({ dagId: 'e2e_stop', runId });
    const release = await apiJobStarted;
    let run;
    try {
      run = unwrap(await api.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path: { dag_id: 'e2e_stop', dag_run_id: runId } }, body: { state: 'failed' } }));
    } finally {
      release();
    }
    expect(run.state).toBe('failed');
    await h().settle();
    const ti = await h().store.getTaskInstance({ dagId: 'e2e_stop', runId, taskId: 'long_job', mapIndex: -1 });
    expect(ti?.state).toBe('failed');
    const jobs = h().batchApi.submitted.filter((j) => j.jobName.includes('stop_api'));
    expect(jobs).toHaveLength(1);
    // Terminated by the API's stop, or by the stopped execution's .sync wait (as Step Functions does), whichever came first.
    expect(h().batchApi.status(jobs[0]!.jobId)).toMatchObject({ status: 'FAILED', statusReason: expect.stringMatching(/^(the run was marked failed|Step Functions execution stopped)$/) });
    const executions = h().sfn.executionsOf(h().naming.lifecycle('batch_job')).filter((e) => e.key?.runId === runId);
    expect(executions.map((e) => [e.status, e.error, e.cause])).toStrictEqual([['ABORTED', 'airless.Stopped', 'the run was marked failed']]);
    expect((await h().store.getRun({ dagId: 'e2e_stop', runId }))?.state).toBe('failed');
  });
});

describe('e2e_stop_array: a dagrunTimeout terminates the run\'s Batch array job', () => {
  it('fails the run at the timeout and terminates the array job, every child with it; the wave\'s execution ends', async () => {
    const runId = 'e2e__stop_array';
    const run = await h().run({ dagId: 'e2e_stop_array', runId });
    expect(run.state).toBe('failed');
    expect(run.note).toMatch(/^dagrun timeout/);
    expect(Date.parse(run.endDate!) - Date.parse(run.startDate!)).toBeLessThan(SIX_HOURS);
    const tis = await h().store.listTaskInstances(run);
    expect(tis.filter((t) => t.taskId === 'solve').map((t) => t.state)).toStrictEqual(['skipped', 'skipped', 'skipped']);

    // One array job of three children, terminated whole by the scheduler's stop (found by the wave's job name).
    const jobs = h().batchApi.submitted.filter((j) => j.jobName.startsWith('e2e_stop_array-solve'));
    expect(jobs.map((j) => j.arraySize)).toStrictEqual([3]);
    const parent = jobs[0]!.jobId;
    jobsOfEarlierRuns.add(parent);
    expect(h().batchApi.status(parent)).toMatchObject({ status: 'FAILED', statusReason: 'the run was stopped: dagrun timeout' });
    expect([0, 1, 2].map((i) => h().batchApi.status(`${parent}:${i}`))).toStrictEqual(
      [0, 1, 2].map(() => ({ status: 'FAILED', exitCode: null, statusReason: 'the run was stopped: dagrun timeout' })),
    );
    expect(h().batchApi.calls['TerminateJob']).toBeGreaterThanOrEqual(1);

    // The wave's lifecycle (the fan-out's Distributed Map child) saw its job end, reported, and ended: nothing waits on.
    const fanouts = h().sfn.executionsOf(h().naming.lifecycle('batch_array')).filter((e) => e.input.includes(runId));
    expect(fanouts.map((e) => e.status)).toStrictEqual(['SUCCEEDED']);
    expect(h().errors).toStrictEqual([]);
  });
});

describe('e2e_stop: marking a task instance through the API function stops its work in flight', () => {
  it('a running Batch instance marked failed: its lifecycle execution is stopped and its job terminated', async () => {
    const runId = 'e2e__mark_api';
    await h().trigger({ dagId: 'e2e_stop', runId });
    const release = await markJobStarted;
    try {
      unwrap(await api.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', { params: { path: { dag_id: 'e2e_stop', dag_run_id: runId, task_id: 'long_job' } }, body: { new_state: 'failed' } }));
    } finally {
      release();
    }
    await h().settle();
    expect((await h().store.getTaskInstance({ dagId: 'e2e_stop', runId, taskId: 'long_job', mapIndex: -1 }))?.state).toBe('failed');
    expect((await h().store.getRun({ dagId: 'e2e_stop', runId }))?.state).toBe('failed');
    const jobs = h().batchApi.submitted.filter((j) => j.jobName.includes('mark_api'));
    expect(jobs).toHaveLength(1);
    expect(h().batchApi.status(jobs[0]!.jobId)).toMatchObject({ status: 'FAILED', statusReason: expect.stringMatching(/^(the task instance was marked failed|Step Functions execution stopped)$/) });
    const executions = h().sfn.executionsOf(h().naming.lifecycle('batch_job')).filter((e) => e.key?.runId === runId);
    expect(executions.map((e) => [e.status, e.error, e.cause])).toStrictEqual([['ABORTED', 'airless.Stopped', 'the task instance was marked failed']]);
  });

  it('a running array child marked failed: its child job alone is terminated; the others run on until the dagrun timeout stops them', async () => {
    const runId = 'e2e__mark_array';
    holdArray = true;
    await h().trigger({ dagId: 'e2e_stop_array', runId });
    const release = await arrayJobStarted;
    try {
      unwrap(await api.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}', { params: { path: { dag_id: 'e2e_stop_array', dag_run_id: runId, task_id: 'solve', map_index: 1 } }, body: { new_state: 'failed' } }));
    } finally {
      release();
    }
    await h().settle();
    const run = await h().store.getRun({ dagId: 'e2e_stop_array', runId });
    expect(run?.state).toBe('failed');
    expect(run?.note).toMatch(/^dagrun timeout/);
    const parents = h().batchApi.submitted.filter((j) => j.jobName.startsWith('e2e_stop_array-solve') && !jobsOfEarlierRuns.has(j.jobId));
    expect(parents.map((j) => j.arraySize)).toStrictEqual([3]);
    const parent = parents[0]!.jobId;
    // Map index i is child i here (the wave's members in map-index order).
    expect([0, 1, 2].map((i) => h().batchApi.status(`${parent}:${i}`)?.statusReason)).toStrictEqual([
      'the run was stopped: dagrun timeout',
      'the task instance was marked failed',
      'the run was stopped: dagrun timeout',
    ]);
    const tis = await h().store.listTaskInstances({ dagId: 'e2e_stop_array', runId });
    expect(tis.filter((t) => t.taskId === 'solve').map((t) => [t.mapIndex, t.state])).toStrictEqual([
      [0, 'skipped'],
      [1, 'failed'],
      [2, 'skipped'],
    ]);
    expect(h().errors).toStrictEqual([]);
  });
});
