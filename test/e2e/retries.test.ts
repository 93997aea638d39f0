// A failing task retried with exponential backoff, then failed, in the deployed shape: each try is an
// Express execution of the shared try machine whose one invocation runs the try and reports it; the retry
// delays are timer executions, each waiting until the time the scheduler computed (lib/core's
// retryDelayMs, Airflow's rule), and every try is recorded.
import { describe, expect, it } from 'vitest';
import { aslTimestamp } from '../../lib/compiler/contract.ts';
import { retryDelayMs } from '../../lib/core/retry.ts';
import { useHarness } from './use-harness.ts';
import { errorText } from '../helpers.ts';

const h = useHarness();

describe('e2e_retry: retried with backoff, then failed', () => {
  it('waits for each backoff delay in a timer execution, runs each try in its own execution, records four tries, and fails the run', async () => {
    const runId = 'e2e__retry';
    const run = await h().run({ dagId: 'e2e_retry', runId });
    const spec = h().dags.getDag('e2e_retry')!.task('always_fails');
    const key = { dagId: 'e2e_retry', runId, taskId: 'always_fails', mapIndex: -1 };

    expect(run.state).toBe('failed');
    expect((await h().store.listTaskInstances(run)).map((t) => [t.taskId, t.state, t.tryNumber, t.maxTries, errorText(t.error)])).toStrictEqual([
      ['after', 'upstream_failed', 0, 1, null],
      ['always_fails', 'failed', 4, 4, 'Error: the source is unavailable'],
    ]);

    // Every try was one task-runner invocation, which ran it and reported it itself: no scheduler call.
    const runs = h().invocations.filter((c) => (c.payload as { mode?: string; key?: { taskId?: string } }).mode === 'run' && (c.payload as { key: { taskId: string } }).key.taskId === 'always_fails');
    expect(runs.map((c) => [c.functionName, c.payload])).toStrictEqual([1, 2, 3, 4].map((tryNumber) => ['airless-e2e-task-runner', { mode: 'run', key, tryNumber }]));
    expect(h().invocations.filter((c) => (c.payload as { type?: string }).type === 'try_finished')).toStrictEqual([]);
    // The instance's error is structured: name, message and the stack of the task's code.
    const ti = await h().store.getTaskInstance(key);
    expect(ti?.error).toStrictEqual({ name: 'Error', message: 'the source is unavailable', data: { stack: expect.stringMatching(/^Error: the source is unavailable\n {4}at .*e2e_retry\.ts:/) } });
    // Every try has its log.
    for (const n of [1, 2, 3, 4]) {
      expect((await h().store.getLog(key, n)).map((l) => `${l.level}: ${l.message}`)).toStrictEqual([
        `info: starting try ${n} of 4`,
        `info: try ${n} of 4: calling the source`,
        // The error, then its traceback: the DAG file's frame (the runner's own frames left out).
        expect.stringMatching(/^error: Error: the source is unavailable\n {4}at .*e2e\/dags\/e2e_retry\.ts:15:13$/),
      ]);
    }

    // Four executions of the try machine (one per try, one state each), and three timers between them.
    const tries = h().sfn.executionsOf(h().naming.lifecycle('try')).filter((e) => (JSON.parse(e.input) as { key: { taskId: string } }).key.taskId === 'always_fails');
    expect(tries.map((e) => [e.status, e.path])).toStrictEqual([1, 2, 3, 4].map(() => ['SUCCEEDED', ['RunTry']]));
    const timers = h().sfn.executionsOf(h().naming.timer);
    expect(timers.map((e) => [e.status, e.path])).toStrictEqual([1, 2, 3].map(() => ['SUCCEEDED', ['WaitUntil', 'Deliver', 'Done']]));

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
    expect(timers.map((e) => e.waits)).toStrictEqual(retries.map((t) => [{ state: 'WaitUntil', until: new Date(Date.parse(aslTimestamp(Date.parse(t.nextAt!)))).toISOString() }]));
    // And each next try started only once its wait was over (on the harness clock): its log's first line.
    for (let n = 2; n <= 4; n++) {
      const [first] = await h().store.getLog(key, n);
      expect(Date.parse(first!.time)).toBeGreaterThanOrEqual(Date.parse(timers[n - 2]!.waits[0]!.until));
    }

    expect(h().errors).toStrictEqual([]);
  });
});
