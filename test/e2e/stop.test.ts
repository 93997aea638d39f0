// A run stopped by its dagrunTimeout in the deployed shape, on the local cloud: its Batch job's
// lifecycle execution (batch_job, waiting with batch:submitJob.sync) is stopped with StopExecution and
// the job terminated in the local Batch API, so nothing keeps running (and billing) after the run failed.
import { describe, expect, it } from 'vitest';
import { useHarness } from './use-harness.ts';

const SIX_HOURS = 6 * 3600 * 1000;
const h = useHarness({
  batch: { behaviour: (job) => ({ kind: 'simulate', durationMs: job.jobName.startsWith('e2e_stop') ? SIX_HOURS : 1000, exitCode: 0 }) },
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
