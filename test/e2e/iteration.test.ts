// Dynamic task iteration in the deployed shape: a Map state over the items still to run, the Map's
// Retry for itemRetries (the handler counts each item's attempts in the store), the results in order.
import { describe, expect, it } from 'vitest';
import { FakeClock, LocalRunner } from '../../lib/index.ts';
import { outcome, reportFromStore } from '../../e2e/run-report.ts';
import { useHarness } from './use-harness.ts';

const h = useHarness();

describe('iteration_vs_mapping on the local cloud', () => {
  it('ends as LocalRunner.run ends it, with the same item results', async () => {
    const { dags, store } = h();
    const local = new LocalRunner({ dags: dags.dags, clock: new FakeClock(), captureConsole: false });
    const expected = await local.run({ dagId: 'iteration_vs_mapping', runId: 'local__iter' });
    const expectedCompare = (await local.store.getXCom('local__iter', 'compare', -1, 'return_value'))?.value;
    local.close();
    expect(expected.state).toBe('success');

    const runId = 'e2e__iter';
    const run = await h().run({ dagId: 'iteration_vs_mapping', runId });
    const got = await reportFromStore(store, dags, runId);
    expect(run.state).toBe('success');
    expect(outcome(got, dags)).toStrictEqual(outcome(expected, dags));
    expect((await store.getXCom(runId, 'compare', -1, 'return_value'))?.value).toStrictEqual(expectedCompare);
    expect(h().errors).toStrictEqual([]);
  });
});
