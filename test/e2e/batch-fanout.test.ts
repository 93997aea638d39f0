// A DAG of 100 AWS Batch jobs (batch_fanout: a mapped batchJob) in the deployed shape: each instance's
// lifecycle submits its job with batch:submitJob.sync (the harness's, through the real
// @aws-sdk/client-batch to the local Batch API), and each job's outcome comes back to its map index.
// Two tiles fail their first job and are retried (after batch_fanout's 1-minute retry delay).
import { describe, expect, it } from 'vitest';
import type { BatchJobResult } from '../../lib/index.ts';
import { useHarness } from './use-harness.ts';

const FAIL_ONCE = new Set(['7', '42']);
const h = useHarness({
  batch: {
    failOnce: (job) => (job.environment['TILE'] !== undefined && FAIL_ONCE.has(job.environment['TILE']) ? `tile-${job.environment['TILE']}` : null),
  },
});

describe('batch_fanout: 100 Batch jobs on the local cloud', () => {
  it('succeeds, with every job outcome at its map index and the failed tiles retried once', async () => {
    const runId = 'e2e__batch_fanout';
    const run = await h().run({ dagId: 'batch_fanout', runId, conf: { n: 100 } });
    expect(run.state).toBe('success');

    const tis = await h().store.listTaskInstances(runId);
    const jobs = tis.filter((t) => t.taskId === 'run_job');
    expect(tis.filter((t) => t.taskId !== 'run_job').map((t) => [t.taskId, t.mapIndex, t.state, t.tryNumber])).toStrictEqual([
      ['plan_jobs', -1, 'success', 1],
      ['summarise', -1, 'success', 1],
    ]);
    expect(jobs.map((t) => [t.mapIndex, t.state, t.tryNumber])).toStrictEqual(
      Array.from({ length: 100 }, (_, i) => [i, 'success', FAIL_ONCE.has(String(i)) ? 2 : 1]),
    );

    // 102 jobs submitted: one per tile, and a second one for each tile that failed.
    const submitted = h().batchApi.submitted;
    expect(submitted.length).toBe(102);
    for (let i = 0; i < 100; i++) {
      const mine = submitted.filter((j) => j.environment['TILE'] === String(i));
      expect(mine.map((j) => [j.jobQueue, j.jobDefinition, j.command, j.environment['TILES']])).toStrictEqual(
        mine.map(() => ['survey-spot', 'reduce-tile:3', ['python', '-m', 'reduce_tile', '--tile', String(i), '--out', `s3://survey-products/${runId}/tile-${i}`], '100']),
      );
      expect(mine.map((j) => h().batchApi.status(j.jobId)?.status)).toStrictEqual(FAIL_ONCE.has(String(i)) ? ['FAILED', 'SUCCEEDED'] : ['SUCCEEDED']);
      // The instance's result is the outcome of its tile's last job.
      const last = mine.at(-1)!;
      const result = (await h().store.getXCom(runId, 'run_job', i, 'return_value'))?.value as BatchJobResult;
      expect(result).toStrictEqual({ jobId: last.jobId, jobName: last.jobName, status: 'SUCCEEDED', exitCode: 0, childExitCodes: null });
      expect(last.jobName).toBe(`batch_fanout-run_job-${i}-${runId}-try${FAIL_ONCE.has(String(i)) ? 2 : 1}`);
    }
    expect((await h().store.getXCom(runId, 'summarise', -1, 'return_value'))?.value).toStrictEqual({ jobs: 100, succeeded: 100, distinctJobIds: 100 });

    // Each instance's lifecycle ran once per try, in Standard executions that all succeeded. A retried
    // instance waited for its retry delay in its execution; when the delay ended with all 16 of the DAG's
    // task slots taken (maxActiveTasks), it queued for a slot and its execution ended: whoever freed the
    // slot started a new execution for the second try.
    const lifecycles = h().sfn.executionsOf(h().naming.lifecycle('batch_fanout', 'run_job'));
    expect(lifecycles.filter((e) => e.status !== 'SUCCEEDED')).toStrictEqual([]);
    const aTry = ['Prepare', 'CheckPrepared', 'Submit', 'Complete', 'Report', 'Decide'];
    for (let i = 0; i < 100; i++) {
      const mine = lifecycles.filter((e) => e.key?.mapIndex === i);
      if (!FAIL_ONCE.has(String(i))) {
        expect(mine.map((e) => e.path)).toStrictEqual([[...aTry, 'Done']]);
        continue;
      }
      const wait = [...aTry, 'WaitUntil', 'Timer', 'Decide'];
      expect(mine.map((e) => e.path)).toStrictEqual(
        mine.length === 1 ? [[...wait, 'NextTry', ...aTry, 'Done']] : [[...wait, 'Done'], [...aTry, 'Done']],
      );
    }
    expect(h().errors).toStrictEqual([]);
  });
});
