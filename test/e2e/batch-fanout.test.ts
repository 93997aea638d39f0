// A DAG of 100 AWS Batch jobs (batch_fanout: a mapped batchJob) in the deployed shape: the mapped task's
// 100 instances are ONE array job of 100 children, submitted by the task's fan-out execution (a
// Distributed Map whose child execution runs the group's waves) with batch:submitJob.sync (the
// harness's, through the real @aws-sdk/client-batch to the local Batch API). Each child reads its item
// from the wave's manifest in S3 and its outcome comes back to its map index. Two tiles fail their first
// job; after batch_fanout's 1-minute retry delay, only they are resubmitted, as an array of 2.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { ArrayManifest } from '../../lib/compiler/contract.ts';
import type { BatchJobResult } from '../../lib/index.ts';
import { useHarness } from './use-harness.ts';

const FAIL_ONCE = new Set(['7', '42']);
const h = useHarness({
  batch: {
    // Children see their own item's environment (the manifest's): tiles 7 and 42 fail the first time.
    failOnce: (job) => (job.environment['TILE'] !== undefined && FAIL_ONCE.has(job.environment['TILE']) ? `tile-${job.environment['TILE']}` : null),
    startKey: (job) => `tile-${job.environment['TILE'] ?? '?'}:${job.jobName}`,
  },
});

describe('batch_fanout: 100 Batch jobs on the local cloud', () => {
  it('runs one array job, maps every child back to its map index, and resubmits only the failed children', async () => {
    const runId = 'e2e__batch_fanout';
    const run = await h().run({ dagId: 'batch_fanout', runId, conf: { n: 100 } });
    expect(run.state).toBe('success');

    const tis = await h().store.listTaskInstances(run);
    const jobs = tis.filter((t) => t.taskId === 'run_job');
    expect(tis.filter((t) => t.taskId !== 'run_job').map((t) => [t.taskId, t.mapIndex, t.state, t.tryNumber])).toStrictEqual([
      ['plan_jobs', -1, 'success', 1],
      ['summarise', -1, 'success', 1],
    ]);
    expect(jobs.map((t) => [t.mapIndex, t.state, t.tryNumber])).toStrictEqual(
      Array.from({ length: 100 }, (_, i) => [i, 'success', FAIL_ONCE.has(String(i)) ? 2 : 1]),
    );

    // Two submissions: an array of 100 children, then an array of the 2 that failed (map indexes 7, 42).
    const submitted = h().batchApi.submitted;
    expect(submitted.map((j) => [j.arraySize, j.jobQueue, j.jobDefinition])).toStrictEqual([
      [100, 'survey-spot', 'reduce-tile:3'],
      [2, 'survey-spot', 'reduce-tile:3'],
    ]);
    const [first, retry] = submitted as [(typeof submitted)[0], (typeof submitted)[0]];
    expect(first.jobName).toMatch(/^batch_fanout-run_job-[0-9a-f]{12}-g0-try1$/);
    expect(retry.jobName).toMatch(/^batch_fanout-run_job-[0-9a-f]{12}-g0-try2$/);
    // Items differ in command: the job carries only what all share (TILES), the rest is in the manifest.
    expect(first.command).toBeNull();
    expect(first.environment['TILES']).toBe('100');
    const manifestOf = async (uri: string) => {
      const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri)!;
      const o = await h().s3.client.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
      return JSON.parse(await o.Body!.transformToString()) as ArrayManifest;
    };
    const m1 = await manifestOf(first.environment['AIRLESS_ARRAY_MANIFEST']!);
    const m2 = await manifestOf(retry.environment['AIRLESS_ARRAY_MANIFEST']!);
    expect(m1.mapIndexes).toStrictEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(m2.mapIndexes).toStrictEqual([7, 42]);
    expect(m2.items.map((it) => it.command)).toStrictEqual(
      [7, 42].map((i) => ['python', '-m', 'reduce_tile', '--tile', String(i), '--out', `s3://survey-products/${runId}/tile-${i}`]),
    );
    expect(m2.items.map((it) => it.environment['TILE'])).toStrictEqual(['7', '42']);

    // Every child ran exactly once per wave: 100 + 2 starts, none twice.
    expect(h().batchApi.maxStarts()).toBe(1);
    expect([...h().batchApi.starts.values()].reduce((a, b) => a + b, 0)).toBe(102);

    for (let i = 0; i < 100; i++) {
      const result = (await h().store.getXCom(run, 'run_job', i, 'return_value'))?.value as BatchJobResult;
      const wave = FAIL_ONCE.has(String(i)) ? retry : first;
      const child = FAIL_ONCE.has(String(i)) ? m2.mapIndexes.indexOf(i) : i;
      expect(result).toStrictEqual({ jobId: `${wave.jobId}:${child}`, jobName: wave.jobName, status: 'SUCCEEDED', exitCode: 0, childExitCodes: null });
    }
    expect((await h().store.getXCom(run, 'summarise', -1, 'return_value'))?.value).toStrictEqual({ jobs: 100, succeeded: 100, distinctJobIds: 100 });
    const failedTry = await h().store.getLog({ dagId: 'batch_fanout', runId, taskId: 'run_job', mapIndex: 42 }, 1);
    expect(failedTry.map((l) => l.message)).toContainEqual(expect.stringMatching(/child 42 of Batch array job .* \(100 children\)/));
    expect(failedTry.map((l) => l.message)).toContainEqual(expect.stringMatching(new RegExp(`child ${first.jobId}:42 failed: .*\\(up for retry\\)$`)));

    // One fan-out execution for the task, whose one group ran both waves in its own child execution:
    // the retry delay was a Wait state there, not a new execution.
    const fanouts = h().sfn.executionsOf(h().naming.lifecycle('batch_array'));
    expect(fanouts.map((e) => e.status)).toStrictEqual(['SUCCEEDED']);
    expect(h().errors).toStrictEqual([]);
  });
});
