// Setup and teardown in the deployed shape (compiled lifecycles on aws-local-stepfunctions, the real
// handlers, DynamoDB Local): the scheduling rules live in the one core the scheduler function runs, so a
// failing work task still lets the teardown run, and the run's state comes from the work, not the teardown.
import { describe, expect, it } from 'vitest';
import { errorText } from '../helpers.ts';
import { useHarness } from './use-harness.ts';

const h = useHarness();

describe('setup_teardown on the local cloud', () => {
  it('the work fails: the teardown still runs (its setup succeeded) and the run fails', async () => {
    const runId = 'e2e__setup_teardown_fails';
    const run = await h().run({ dagId: 'setup_teardown', runId, conf: { fail_imaging: true } });
    expect(run.state).toBe('failed');
    expect((await h().store.listTaskInstances(run)).map((t) => [t.taskId, t.state, t.tryNumber])).toStrictEqual([
      ['create_workspace', 'success', 1],
      ['image_channels', 'failed', 1],
      ['release_workspace', 'success', 1],
      ['stage_visibilities', 'success', 1],
    ]);
    const failed = await h().store.getTaskInstance({ dagId: 'setup_teardown', runId, taskId: 'image_channels', mapIndex: -1 });
    expect(errorText(failed?.error)).toBe('Error: imaging /scratch/e2e__setup_teardown_fails/NGC253.ms failed: out of scratch space');
    expect((await h().store.getXCom(run, 'release_workspace', -1, 'return_value'))?.value).toStrictEqual({ released: '/scratch/e2e__setup_teardown_fails' });
    expect(h().errors).toStrictEqual([]);
  });

  it('nothing fails: every task succeeds, and so does the run', async () => {
    const run = await h().run({ dagId: 'setup_teardown', runId: 'e2e__setup_teardown_ok' });
    expect(run.state).toBe('success');
    expect((await h().store.listTaskInstances(run)).map((t) => [t.taskId, t.state])).toStrictEqual([
      ['create_workspace', 'success'],
      ['image_channels', 'success'],
      ['release_workspace', 'success'],
      ['stage_visibilities', 'success'],
    ]);
  });
});
