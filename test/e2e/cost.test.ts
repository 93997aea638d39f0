// What a task instance costs in the deployed shape, as the cost scenario measures it (e2e/cost.ts;
// `npm run bench -- --json --only cost` prints the figures). The counts that do not depend on timing are
// asserted exactly: the Lambda invocations, state transitions, executions and Batch calls of a task.
// (The dollar goals are the benchmark's to show, not a test's.)
import { describe, expect, inject, it } from 'vitest';
import { measureCost, type CostRun } from '../../e2e/cost.ts';
import { targetFromEnv } from '../../e2e/backends.ts';

describe('cost per task instance', () => {
  let runs: CostRun[];
  const measured = async () => {
    const emulators = inject('emulators');
    return (runs ??= await measureCost({ target: targetFromEnv(), ...(emulators ? { emulators } : {}) }));
  };

  it('a Lambda task: one Express execution of one state, one task-runner invocation (which reports the try), under $0.03 per 1,000', async () => {
    const lambda = (await measured()).find((r) => r.kind === 'lambda')!;
    const c = lambda.counts;
    expect([c.executions, c.expressExecutions, c.transitions, c.expressTransitions, c.lambdaByFunction, c.batchCalls]).toStrictEqual([
      100,
      100,
      100,
      100,
      { 'airless-e2e-trigger': 1, 'airless-e2e-task-runner': 100 },
      0,
    ]);
    expect(lambda.figures).toMatchObject({ kind: 'lambda', lambdaInvocations: 1.01, transitions: 1, batchCalls: 0 });
    expect(lambda.figures.ddbReads).toBeGreaterThan(0);
    expect(lambda.figures.ddbWrites).toBeGreaterThan(0);
    expect(lambda.figures.usdPer1k).toBeGreaterThan(0);
  });

  it('a Batch task: an Express start (prepare) and a Standard execution of 2 transitions (submit .sync, complete), one SubmitJob and a DescribeJobs per 30 s of job', async () => {
    const batch = (await measured()).find((r) => r.kind === 'batch')!;
    const c = batch.counts;
    expect([c.executions, c.expressExecutions, c.transitions - c.expressTransitions, c.lambdaByFunction, c.batchByOperation]).toStrictEqual([
      200,
      100,
      200,
      { 'airless-e2e-trigger': 1, 'airless-e2e-task-runner': 200 },
      { SubmitJob: 100, DescribeJobs: 200 },
    ]);
    // The Express start's states: Prepare, CheckPrepared, StartJob.
    expect(c.expressTransitions).toBe(300);
    expect(batch.figures).toMatchObject({ kind: 'batch', lambdaInvocations: 2.01, transitions: 5, batchCalls: 3 });
    expect(batch.figures.usdPer1k).toBeGreaterThan(0);
  });
});
