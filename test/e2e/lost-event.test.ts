// A lost event: the StartExecution of one task's lifecycle never happens (the scheduler was told it
// started). The run stalls with the task queued; the scheduler's reconcile
// (`{type: 'reconcile', staleMs: 0}`) re-dispatches it, and the run ends success.
import { describe, expect, it } from 'vitest';
import { outcome, reportFromStore } from '../../e2e/run-report.ts';
import { useHarness } from './use-harness.ts';

const h = useHarness();

describe('a lost StartExecution is repaired by the reconcile', () => {
  it('stalls the run with the task queued, then the reconcile re-dispatches it and the run succeeds', async () => {
    const runId = 'e2e__lost_event';
    const ref = { dagId: 'e2e_chain', runId };
    const transform = h().naming.lifecycle('try');
    const isTransform = (input: unknown) => (input as { key?: { taskId?: string } }).key?.taskId === 'transform';
    let lost = false;
    h().sfn.onStartExecution = (req) => {
      if (req.stateMachineName !== transform || !isTransform(req.input) || lost) return;
      lost = true;
      return 'drop';
    };

    const stalled = await h().run({ dagId: 'e2e_chain', runId });
    expect(stalled.state).toBe('running');
    expect((await h().store.listTaskInstances(ref)).map((t) => [t.taskId, t.state, t.tryNumber])).toStrictEqual([
      ['extract', 'success', 1],
      ['transform', 'queued', 1],
    ]);
    expect(h().sfn.dropped.map((d) => d.stateMachineName)).toStrictEqual([transform]);
    expect(h().sfn.executionsOf(transform).filter((e) => isTransform(JSON.parse(e.input)))).toStrictEqual([]);

    const reply = await h().reconcile({ staleMs: 0 });
    await h().settle();

    expect(reply).toStrictEqual({
      reconciled: [{ dagId: 'e2e_chain', runId, redispatched: 1, timersDelivered: 0, resumed: 0, evaluated: 1, failedStopped: 0, slotsFreed: 0, finalized: false }],
    });
    const run = await h().store.getRun(ref);
    expect(run?.state).toBe('success');
    expect(outcome(await reportFromStore(h().store, h().dags, ref), h().dags)).toStrictEqual({
      dagId: 'e2e_chain',
      state: 'success',
      tasks: [
        { taskId: 'extract', mapIndex: null, state: 'success', tryNumber: 1 },
        { taskId: 'transform', mapIndex: null, state: 'success', tryNumber: 1 },
        { taskId: 'load', mapIndex: null, state: 'success', tryNumber: 1 },
      ],
      triggeredRuns: [],
    });
    expect((await h().store.getXCom(ref, 'load', -1, 'return_value'))?.value).toStrictEqual({ loaded: 3 });
    // The re-dispatch started the execution the lost request would have: same deterministic name.
    expect(h().sfn.executionsOf(transform).filter((e) => isTransform(JSON.parse(e.input))).map((e) => [e.name, e.status])).toStrictEqual([[h().sfn.dropped[0]!.name, 'SUCCEEDED']]);
    expect(h().errors).toStrictEqual([]);
  });
});
