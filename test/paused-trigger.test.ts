// A run of a paused DAG (a manual trigger, or one a triggerDag task starts) stays queued until the DAG
// is unpaused, as in Airflow; unpausing starts it.
import { describe, expect, it } from 'vitest';
import { dag, FakeClock, LocalRunner } from '../lib/index.ts';
import { setDagPaused } from '../lib/scheduler/operations.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');

describe('a trigger of a paused DAG', () => {
  const target = dag({ dagId: 'paused_target' }, ({ task }) => {
    task('work', () => 'done');
  });
  const parent = dag({ dagId: 'paused_parent' }, ({ triggerDag }) => {
    triggerDag('go', { triggerDagId: 'paused_target', waitForCompletion: true });
  });

  it('stays queued, with no task instance, until the DAG is unpaused; then it runs', async () => {
    const r = new LocalRunner({ dags: [target, parent], clock: new FakeClock(T0), captureConsole: false });
    await r.drive((s) => setDagPaused(s, 'paused_target', true));
    const run = await r.trigger({ dagId: 'paused_target', runId: 'manual_1' });
    expect(run.state).toBe('queued');
    await r.idle();
    expect((await r.store.getRun({ dagId: 'paused_target', runId: 'manual_1' }))?.state).toBe('queued');
    expect(await r.store.listTaskInstances({ dagId: 'paused_target', runId: 'manual_1' })).toEqual([]);
    await r.drive((s) => setDagPaused(s, 'paused_target', false));
    expect((await r.waitForRun({ dagId: 'paused_target', runId: 'manual_1' })).state).toBe('success');
    expect(r.errors).toEqual([]);
    r.close();
  });

  it('a run a triggerDag task starts waits too, and its parent with it', async () => {
    const r = new LocalRunner({ dags: [target, parent], clock: new FakeClock(T0), captureConsole: false });
    await r.drive((s) => setDagPaused(s, 'paused_target', true));
    const p = await r.trigger({ dagId: 'paused_parent', runId: 'parent_1' });
    await r.idle();
    const go = await r.store.getTaskInstance({ dagId: 'paused_parent', runId: p.runId, taskId: 'go', mapIndex: -1 });
    expect(go?.state).toBe('deferred');
    const child = await r.store.getRun({ dagId: 'paused_target', runId: go!.externalId! });
    expect(child?.state).toBe('queued');
    expect((await r.store.getRun({ dagId: 'paused_parent', runId: 'parent_1' }))?.state).toBe('running');
    await r.drive((s) => setDagPaused(s, 'paused_target', false));
    expect((await r.waitForRun({ dagId: 'paused_parent', runId: 'parent_1' })).state).toBe('success');
    expect((await r.store.getRun({ dagId: 'paused_target', runId: child!.runId }))?.state).toBe('success');
    r.close();
  });
});
