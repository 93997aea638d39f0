// example_workflow in the deployed shape (compiled lifecycles on aws-local-stepfunctions, the real
// handlers, DynamoDB Local) ends exactly as `airless dags test` (LocalRunner.run, in-process) ends it.
import { describe, expect, it } from 'vitest';
import { FakeClock, LocalRunner } from '../../lib/index.ts';
import { outcome, reportFromStore } from '../../e2e/run-report.ts';
import { useHarness } from './use-harness.ts';

const h = useHarness();

describe('example_workflow on the local cloud', () => {
  it('ends with the same task states, tries and triggered runs as LocalRunner.run', async () => {
    const { dags, store } = h();
    const local = new LocalRunner({ dags: dags.dags, clock: new FakeClock(), captureConsole: false });
    const expected = await local.run({ dagId: 'example_workflow', runId: 'local__example_workflow' });
    const expectedSummary = (await local.store.getXCom(expected, 'pipeline_summary', -1, 'return_value'))?.value;
    local.close();

    const runId = 'e2e__example_workflow';
    const run = await h().run({ dagId: 'example_workflow', runId });
    const got = await reportFromStore(store, dags, run);

    expect(outcome(got, dags)).toStrictEqual(outcome(expected, dags));
    expect(run.state).toBe('success');
    // The whole tree: example_workflow, its three stages, and the solver the imaging stage triggers.
    expect(outcome(got, dags).triggeredRuns.map((r) => [r.dagId, r.state, r.triggeredRuns.map((c) => c.dagId)])).toStrictEqual([
      ['stage_calibration', 'success', []],
      ['stage_imaging', 'success', ['solver']],
      ['stage_import_prep', 'success', []],
    ]);
    expect((await store.getXCom(run, 'pipeline_summary', -1, 'return_value'))?.value).toStrictEqual(expectedSummary);
    expect(h().errors).toStrictEqual([]);
    expect([...h().sfn.executions.values()].filter((e) => e.status !== 'SUCCEEDED').map((e) => [e.name, e.status, e.error, e.cause])).toStrictEqual([]);
  });
});
