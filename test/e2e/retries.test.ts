// A failing task retried with exponential backoff, then failed, in the deployed shape: the retry delays
// are Wait states of the task's lifecycle execution, each waiting until the time the scheduler computed
// (lib/core's retryDelayMs, Airflow's rule), and every try is recorded.
import { describe, expect, it } from 'vitest';
import { aslTimestamp } from '../../lib/compiler/contract.ts';
import { retryDelayMs } from '../../lib/core/retry.ts';
import { useHarness } from './use-harness.ts';
import { errorText } from '../helpers.ts';

const h = useHarness();

describe('e2e_retry: retried with backoff, then failed', () => {
  it('waits for each backoff delay in its lifecycle, records four tries, and fails the run', async () => {
    const runId = 'e2e__retry';
    const run = await h().run({ dagId: 'e2e_retry', runId });
    const spec = h().dags.getDag('e2e_retry')!.task('always_fails');
    const key = { dagId: 'e2e_retry', runId, taskId: 'always_fails', mapIndex: -1 };

    expect(run.state).toBe('failed');
    expect((await h().store.listTaskInstances(run)).map((t) => [t.taskId, t.state, t.tryNumber, t.maxTries, errorText(t.error)])).toStrictEqual([
      ['after', 'upstream_failed', 0, 1, null],
      ['always_fails', 'failed', 4, 4, 'Error: the source is unavailable'],
    ]);

    // Every try was reported to the scheduler function, as a failure.
    const reports = h().invocations.filter((c) => (c.payload as { type?: string }).type === 'try_finished').map((c) => c.payload);
    // The task runner's result carries the error structured: name, message and the stack of the task's code.
    const thrown = { name: 'Error', message: 'the source is unavailable', data: { stack: expect.stringMatching(/^Error: the source is unavailable\n {4}at .*e2e_retry\.ts:/) } };
    expect(reports).toStrictEqual([1, 2, 3, 4].map((tryNumber) => ({ type: 'try_finished', key, tryNumber, result: { kind: 'failure', error: thrown, retriable: true } })));
    // Every try has its log.
    for (const n of [1, 2, 3, 4]) {
      expect((await h().store.getLog(key, n)).map((l) => `${l.level}: ${l.message}`)).toStrictEqual([
        `info: starting try ${n} of 4`,
        `info: try ${n} of 4: calling the source`,
        'error: Error: the source is unavailable',
      ]);
    }

    // One Standard execution ran all four tries, waiting between them.
    const [execution, ...others] = h().sfn.executionsOf(h().naming.lifecycle('e2e_retry', 'always_fails'));
    expect(others).toStrictEqual([]);
    expect(execution!.status).toBe('SUCCEEDED');
    const loop = ['WaitUntil', 'Timer', 'Decide', 'NextTry', 'RunTry', 'Report', 'Decide'];
    expect(execution!.path).toStrictEqual(['RunTry', 'Report', 'Decide', ...loop, ...loop, ...loop, 'Done']);

    // Each wait lasted the scheduler's delay for that try: exponential (10 s * 2^(try-1), plus up to as
    // much again of deterministic jitter, capped at 2 minutes), from the time the try failed.
    const identity = `e2e_retry#always_fails#-1#${run.logicalDate}`;
    const retries = h().tiEvents.filter((t) => t.runId === runId && t.taskId === 'always_fails' && t.state === 'up_for_retry');
    expect(retries.map((t) => t.tryNumber)).toStrictEqual([1, 2, 3]);
    const delays = retries.map((t) => Date.parse(t.nextAt!) - Date.parse(t.endDate!));
    expect(delays).toStrictEqual([1, 2, 3].map((n) => retryDelayMs(spec, n, identity)));
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(10_000 * 2 ** i);
      expect(d).toBeLessThanOrEqual(Math.min(120_000, 2 * 10_000 * 2 ** i));
    });
    expect(execution!.waits).toStrictEqual(retries.map((t) => ({ state: 'WaitUntil', until: new Date(Date.parse(aslTimestamp(Date.parse(t.nextAt!)))).toISOString() })));
    // And each next try started only once its wait was over (on the harness clock): its log's first line.
    for (let n = 2; n <= 4; n++) {
      const [first] = await h().store.getLog(key, n);
      expect(Date.parse(first!.time)).toBeGreaterThanOrEqual(Date.parse(execution!.waits[n - 2]!.until));
    }

    expect(h().errors).toStrictEqual([]);
  });
});
