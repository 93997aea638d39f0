// A whole team's DAGs on the local cloud: the deploy-scale benchmark's generated set of 20 DAGs of 20 mixed
// tasks (plain, mapped, iterated, sensors, single and array Batch jobs; Express- and Standard-shaped
// retries and timeouts) run through the shared lifecycle machines, all 20 runs at once, and each ends as
// LocalRunner ends it.
import { describe, expect, it } from 'vitest';
import { generateDags } from '../../bench/deploy-scale/generate-dags.ts';
import { reportFromStore } from '../../e2e/run-report.ts';
import { FakeClock } from '../../lib/runner/clock.ts';
import { LocalRunner } from '../../lib/runner/local-runner.ts';
import { useHarness } from './use-harness.ts';

const DAGS = generateDags({ dags: 20, tasksPerDag: 20 });

describe('20 generated DAGs of 20 mixed tasks on the local cloud', () => {
  // The DAGs are the test's own, so the harness calls the lib/aws cores of the functions.
  const h = useHarness({ handlers: 'core', dags: DAGS, batch: { behaviour: () => ({ kind: 'simulate', durationMs: 1_000, exitCode: 0 }) } });

  it('runs all 20 at once to success, each task as LocalRunner runs it, on the fixed set of machines', async () => {
    expect(DAGS.flatMap((d) => d.spec.tasks)).toHaveLength(400);
    const runs = await Promise.all(DAGS.map((d) => h().trigger({ dagId: d.dagId, runId: `gen__${d.dagId}` })));
    await h().settle();
    const local = new LocalRunner({ dags: DAGS, clock: new FakeClock(), captureConsole: false });
    try {
      for (const r of runs) {
        const run = (await h().store.getRun(r))!;
        const expected = await local.run({ dagId: r.dagId, runId: `local__${r.dagId}` });
        const got = await reportFromStore(h().store, h().dags, run);
        const want = await reportFromStore(local.store, h().dags, expected);
        expect([r.dagId, run.state]).toStrictEqual([r.dagId, 'success']);
        const states = (rep: typeof got) => rep.tasks.map((t) => [t.taskId, t.mapIndex, t.state, t.tryNumber]);
        expect(states(got)).toStrictEqual(states(want));
      }
    } finally {
      local.close();
    }
    // Every execution ran on the stack's fixed set of machines (and their Distributed Maps' children).
    const machines = new Set([...h().sfn.executions.values()].map((e) => e.stateMachineName.split('/')[0]));
    expect([...machines].every((m) => h().naming.all().includes(m!))).toBe(true);
    expect(h().errors).toStrictEqual([]);
  });
});
