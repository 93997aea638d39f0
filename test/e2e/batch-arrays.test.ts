// Array jobs in the deployed shape, where AWS Batch pushes back: a SubmitJob rate limit that answers
// TooManyRequestsException, a queue that never places a job (RUNNABLE timeout), and poll mode.
import { describe, expect, it } from 'vitest';
import { useHarness } from './use-harness.ts';
import { errorText } from '../helpers.ts';

describe('SubmitJob throttled (TooManyRequestsException)', () => {
  // One SubmitJob per 10 s of (skipped) time: three arrays submitted at once are throttled.
  const h = useHarness({ batch: { submitRatePerSecond: 1 / 10, submitBurst: 1 } });

  it('retries with jittered backoff until each array is submitted: nothing lost, nothing doubled', async () => {
    const run = await h().run({ dagId: 'e2e_three_arrays', runId: 'e2e__three_arrays', conf: { n: 20 } });
    const bad = (await h().store.listTaskInstances(run)).filter((t) => t.state !== 'success');
    expect(bad.map((t) => `${t.taskId}[${t.mapIndex}] ${t.state}: ${errorText(t.error)}`).slice(0, 3)).toStrictEqual([]);
    expect(run.state).toBe('success');
    const api = h().batchApi;
    expect(api.throttled['SubmitJob']).toBeGreaterThan(0);
    // Three array jobs exist, one per task, each of 20 children that ran once.
    expect(api.submitted.map((j) => [j.jobName.replace(/-[0-9a-f]{12}-/, '-<run>-'), j.arraySize]).sort()).toStrictEqual([
      ['e2e_three_arrays-a-<run>-g0-try1', 20],
      ['e2e_three_arrays-b-<run>-g0-try1', 20],
      ['e2e_three_arrays-c-<run>-g0-try1', 20],
    ]);
    expect(api.maxStarts()).toBe(1);
    expect([...api.starts.values()].reduce((a, b) => a + b, 0)).toBe(60);
    const tis = (await h().store.listTaskInstances(run)).filter((t) => t.taskId !== 'items');
    expect(tis.map((t) => `${t.state}/${t.tryNumber}`)).toStrictEqual(Array(60).fill('success/1'));
    expect(h().errors).toStrictEqual([]);
  });
});

describe('a queue that never places the job', () => {
  const h = useHarness({ batch: { capacity: 0 } });

  it('fails each child still RUNNABLE after runnableTimeout, saying why', async () => {
    const run = await h().run({ dagId: 'e2e_stuck_array', runId: 'e2e__stuck_array' });
    expect(run.state).toBe('failed');
    const tis = (await h().store.listTaskInstances(run)).filter((t) => t.taskId === 'gpu_job');
    expect(tis.map((t) => t.state)).toStrictEqual(['failed', 'failed', 'failed', 'failed']);
    for (const ti of tis) {
      expect(errorText(ti.error)).toMatch(/RunnableTimeoutError: still RUNNABLE 1800 s after submission \(runnableTimeout\): no compute environment of queue 'gpu-queue' could place it/);
      expect(Date.parse(ti.endDate!) - Date.parse(ti.startDate!)).toBeGreaterThanOrEqual(30 * 60_000);
    }
    // Stopped with TerminateJob: one call for the whole array, whose children had none started.
    expect(h().batchApi.calls['TerminateJob']).toBe(1);
    expect(h().errors).toStrictEqual([]);
  });
});

describe('poll mode', () => {
  const h = useHarness({ batchWatch: 'poll' });

  it('watches an array of 200 with one DescribeJobs per interval for the whole array', async () => {
    const before = { ...h().batchApi.calls };
    const run = await h().run({ dagId: 'batch_fanout', runId: 'e2e__poll_fanout', conf: { n: 200 } });
    expect(run.state).toBe('success');
    const api = h().batchApi;
    const describes = (api.calls['DescribeJobs'] ?? 0) - (before['DescribeJobs'] ?? 0);
    expect(api.submitted.filter((j) => j.jobName.startsWith('batch_fanout-run_job')).map((j) => j.arraySize)).toStrictEqual([200]);
    // Jobs of 1-1.5 s, polled every 30 s: a round or two, plus the one that confirms the outcome.
    expect(describes).toBeGreaterThanOrEqual(1);
    expect(describes).toBeLessThanOrEqual(4);
    expect((await h().store.getXCom(run, 'summarise', -1, 'return_value'))?.value).toStrictEqual({ jobs: 200, succeeded: 200, distinctJobIds: 200 });
    expect(h().errors).toStrictEqual([]);
  });
});
