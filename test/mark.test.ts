import { describe, expect, it } from 'vitest';
import { dag, sensor, task } from '../lib/index.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import type { TaskContext } from '../lib/authoring/context.ts';
import type { RunnerEvent } from '../lib/runner/local-runner.ts';
import { markRunState, markTaskInstances, OperationError, setRunNote, setTaskInstanceNote, type MarkTaskInstancesResult } from '../lib/scheduler/operations.ts';
import type { StateStore } from '../lib/store/state-store.ts';
import { fakeRunner, localStores, states, tries } from './helpers.ts';

const STORES = localStores();

function runner(makeStore: () => StateStore, dags: Dag[]) {
  const runEvents: { runId: string; state: string }[] = [];
  const r = fakeRunner(dags, { store: makeStore(), captureConsole: false, onEvent: (e: RunnerEvent) => e.type === 'run' && runEvents.push({ runId: e.run.runId, state: e.run.state }) });
  return Object.assign(r, { ends: (runId: string) => runEvents.filter((e) => e.runId === runId && (e.state === 'success' || e.state === 'failed')).length });
}

/** A try that waits until its signal fires (recording the reason), then fails with it. */
function untilAborted(seen: string[]): Promise<never> {
  return new Promise((_, reject) => {
    const ctx = current!;
    ctx.signal.addEventListener('abort', () => {
      seen.push(String((ctx.signal.reason as Error)?.message ?? ctx.signal.reason));
      reject(ctx.signal.reason as Error);
    });
  });
}
let current: TaskContext | null = null;

describe.each(STORES)('marking a run (%s)', (_name, makeStore) => {
  it('failed stops a running run: its running try sees its abort signal and fails, the rest is skipped; a late result changes nothing', async () => {
    const aborted: string[] = [];
    const d = dag({ dagId: 'mk_fail' }, () => {
      const a = task('a', () => 1);
      const long = task('long', (ctx) => {
        current = ctx;
        setImmediate(() => void r.drive((s) => markRunState(s, { dagId: 'mk_fail', runId: ctx.runId, state: 'failed' })));
        return untilAborted(aborted);
      }).after(a);
      task('after', () => 'never').after(long);
    });
    const r = runner(makeStore, [d]);
    const report = await r.run({ dagId: 'mk_fail' });
    expect(report.state).toBe('failed');
    expect(aborted).toEqual(['the run was marked failed']);
    // The running instance failed, the task not decided yet was skipped.
    expect(states(report)).toEqual({ a: 'success', long: 'failed', after: 'skipped' });
    expect(r.ends(report.runId)).toBe(1);
    // The aborted try's failure, reported after the mark, did not move the instance.
    expect(tries(report).long).toBe(1);
    expect((await r.store.getTaskInstance({ dagId: 'mk_fail', runId: report.runId, taskId: 'long', mapIndex: -1 }))?.state).toBe('failed');
    expect(r.errors).toEqual([]);
  });

  it('success ends a running run in success: unfinished instances and undecided tasks are marked success', async () => {
    const aborted: string[] = [];
    const d = dag({ dagId: 'mk_ok' }, () => {
      const long = task('long', (ctx) => {
        current = ctx;
        setImmediate(() => void r.drive((s) => markRunState(s, { dagId: 'mk_ok', runId: ctx.runId, state: 'success' })));
        return untilAborted(aborted);
      });
      task('after', () => 'never').after(long);
    });
    const r = runner(makeStore, [d]);
    const report = await r.run({ dagId: 'mk_ok' });
    expect(report.state).toBe('success');
    expect(aborted).toEqual(['the run was marked success']);
    expect(states(report)).toEqual({ long: 'success', after: 'success' });
    expect(r.ends(report.runId)).toBe(1);
  });

  it('a finished run marked the other way changes state only; marked the same way nothing changes', async () => {
    const d = dag({ dagId: 'mk_done' }, () => {
      task('boom', () => {
        throw new Error('boom');
      });
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'mk_done' });
    expect(first.state).toBe('failed');
    const endDate = (await r.store.getRun(first))?.endDate;
    expect(endDate).not.toBeNull();
    const res = await r.drive((s) => markRunState(s, { dagId: 'mk_done', runId: first.runId, state: 'success' }));
    expect(res.runState).toEqual({ before: 'failed', after: 'success' });
    const again = await r.drive((s) => markRunState(s, { dagId: 'mk_done', runId: first.runId, state: 'success' }));
    expect(again.runState).toEqual({ before: 'success', after: 'success' });
    expect(states(await r.report(first))).toEqual({ boom: 'failed' });
    expect((await r.store.getRun(first))?.endDate).toBe(endDate);
  });

  it('queued runs a finished run again as it is (it ends again by its leaves); a running run cannot be queued; unknown runs are refused', async () => {
    let refused: unknown = null;
    const d = dag({ dagId: 'mk_queue' }, () => {
      sensor(
        'wait',
        async (ctx) => {
          refused ??= await r.drive((s) => markRunState(s, { dagId: 'mk_queue', runId: ctx.runId, state: 'queued' })).catch((e: unknown) => e);
          return true;
        },
        { pokeInterval: '1m' },
      );
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'mk_queue' });
    expect(refused).toBeInstanceOf(OperationError);
    expect((refused as Error).message).toMatch(/is running: it cannot be queued again/);
    await r.drive((s) => markRunState(s, { dagId: 'mk_queue', runId: first.runId, state: 'failed' }));
    expect((await r.store.getRun(first))?.state).toBe('failed');
    await r.drive((s) => markRunState(s, { dagId: 'mk_queue', runId: first.runId, state: 'queued' }));
    const ended = await r.waitForRun(first);
    expect(ended.state).toBe('success');
    await expect(r.drive((s) => markRunState(s, { dagId: 'mk_queue', runId: 'nope', state: 'failed' }))).rejects.toThrow("no run 'nope' of DAG 'mk_queue'");
  });
});

describe.each(STORES)('marking task instances (%s)', (_name, makeStore) => {
  it('a running instance marked success: its try is aborted, its downstream is scheduled once and runs, the run ends success once', async () => {
    const aborted: string[] = [];
    let afterRuns = 0;
    const d = dag({ dagId: 'mk_ti' }, () => {
      const long = task('long', (ctx) => {
        current = ctx;
        setImmediate(() => void r.drive((s) => markTaskInstances(s, { dagId: 'mk_ti', runId: ctx.runId, taskId: 'long', state: 'success' })));
        return untilAborted(aborted);
      });
      task('after', () => ++afterRuns).after(long);
    });
    const r = runner(makeStore, [d]);
    const report = await r.run({ dagId: 'mk_ti' });
    expect(report.state).toBe('success');
    expect(aborted).toEqual(['the task instance was marked success']);
    expect(states(report)).toEqual({ long: 'success', after: 'success' });
    expect(afterRuns).toBe(1);
    expect(r.ends(report.runId)).toBe(1);
    expect((await r.store.getRun(report))?.pending).toBe(0);
  });

  it('a failed instance marked success, with downstream: the tallies count the new states, a dry run changes nothing', async () => {
    const d = dag({ dagId: 'mk_down' }, () => {
      const a = task('a', () => {
        throw new Error('a fails');
      });
      const b = task('b', () => 'b').after(a);
      task('c', () => 'c').after(b);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'mk_down' });
    expect(states(first)).toEqual({ a: 'failed', b: 'upstream_failed', c: 'upstream_failed' });
    const dry = await r.drive((s) => markTaskInstances(s, { dagId: 'mk_down', runId: first.runId, taskId: 'a', state: 'success', downstream: true, dryRun: true }));
    expect(dry).toEqual<MarkTaskInstancesResult>({
      dryRun: true,
      marked: [
        { dagId: 'mk_down', runId: first.runId, taskId: 'a', mapIndex: -1, state: 'failed' },
        { dagId: 'mk_down', runId: first.runId, taskId: 'b', mapIndex: -1, state: 'upstream_failed' },
        { dagId: 'mk_down', runId: first.runId, taskId: 'c', mapIndex: -1, state: 'upstream_failed' },
      ],
    });
    expect(states(await r.report(first))).toEqual({ a: 'failed', b: 'upstream_failed', c: 'upstream_failed' });
    const res = await r.drive((s) => markTaskInstances(s, { dagId: 'mk_down', runId: first.runId, taskId: 'a', state: 'success', downstream: true }));
    expect(res.marked.map((m) => m.taskId)).toEqual(['a', 'b', 'c']);
    expect(states(await r.report(first))).toEqual({ a: 'success', b: 'success', c: 'success' });
    const [ts] = await r.store.getTaskStates(first, ['b']);
    expect(ts?.upstream).toMatchObject({ success: 1, failed: 0 });
    expect((await r.store.getRun(first))?.pending).toBe(0);
    // Marking again changes nothing.
    expect((await r.drive((s) => markTaskInstances(s, { dagId: 'mk_down', runId: first.runId, taskId: 'a', state: 'success', downstream: true }))).marked).toEqual([]);
  });

  it('a failed instance marked success alone: its failed downstream is cleared and runs, the finished run runs again and succeeds', async () => {
    const ran: string[] = [];
    const d = dag({ dagId: 'mk_resume' }, () => {
      const a = task('a', () => {
        throw new Error('a fails');
      });
      const b = task('b', () => (ran.push('b'), 'b')).after(a);
      task('c', () => (ran.push('c'), 'c')).after(b);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'mk_resume' });
    expect(states(first)).toEqual({ a: 'failed', b: 'upstream_failed', c: 'upstream_failed' });
    const res = await r.drive((s) => markTaskInstances(s, { dagId: 'mk_resume', runId: first.runId, taskId: 'a', state: 'success' }));
    expect(res.marked.map((m) => [m.taskId, m.state])).toEqual([['a', 'failed']]);
    const ended = await r.waitForRun(first);
    expect(ended.state).toBe('success');
    expect(states(await r.report(first))).toEqual({ a: 'success', b: 'success', c: 'success' });
    expect(ran).toEqual(['b', 'c']);
    expect(tries(await r.report(first))).toEqual({ a: 1, b: 1, c: 1 });
  });

  it('upstream, past and future reach the same tasks in the other runs; bad requests name what is wrong', async () => {
    const d = dag({ dagId: 'mk_span' }, () => {
      const a = task('a', () => 1);
      task('b', () => 2).after(a);
    });
    const r = runner(makeStore, [d]);
    const runs = [];
    for (const day of ['2026-01-01', '2026-01-02', '2026-01-03']) runs.push(await r.run({ dagId: 'mk_span', logicalDate: `${day}T00:00:00.000Z` }));
    const mid = runs[1]!;
    const onlyPast = await r.drive((s) => markTaskInstances(s, { dagId: 'mk_span', runId: mid.runId, taskId: 'b', state: 'failed', past: true, dryRun: true }));
    expect(onlyPast.marked.map((m) => [m.runId, m.taskId])).toEqual([
      [runs[0]!.runId, 'b'],
      [mid.runId, 'b'],
    ]);
    const all = await r.drive((s) => markTaskInstances(s, { dagId: 'mk_span', runId: mid.runId, taskId: 'b', state: 'skipped', upstream: true, past: true, future: true }));
    expect(all.marked).toHaveLength(6);
    for (const run of runs) expect(states(await r.report(run))).toEqual({ a: 'skipped', b: 'skipped' });
    await expect(r.drive((s) => markTaskInstances(s, { dagId: 'mk_span', runId: mid.runId, taskId: 'zz', state: 'success' }))).rejects.toThrow("no task 'zz' in DAG 'mk_span' (tasks: a, b)");
    await expect(r.drive((s) => markTaskInstances(s, { dagId: 'mk_span', runId: mid.runId, taskId: 'a', state: 'running' as 'success' }))).rejects.toThrow("cannot mark a task instance 'running': the state must be one of success, failed, skipped");
    await expect(r.drive((s) => markTaskInstances(s, { dagId: 'mk_span', runId: mid.runId, taskId: 'a', mapIndex: 3, state: 'success' }))).rejects.toThrow("task 'a' has no map index 3");
  });

  it('notes on a run and on a task instance are kept, changed and removed', async () => {
    const d = dag({ dagId: 'mk_note' }, () => {
      task('a', () => 1);
    });
    const r = runner(makeStore, [d]);
    const first = await r.run({ dagId: 'mk_note' });
    const key = { dagId: 'mk_note', runId: first.runId, taskId: 'a', mapIndex: -1 };
    expect((await r.drive((s) => setRunNote(s, first, 'checked by hand'))).note).toBe('checked by hand');
    expect((await r.store.getRun(first))?.note).toBe('checked by hand');
    expect((await r.drive((s) => setTaskInstanceNote(s, key, 'flaky input'))).note).toBe('flaky input');
    expect(await r.store.getTaskInstance(key)).toMatchObject({ state: 'success', note: 'flaky input' });
    // A note survives a mark.
    await r.drive((s) => markTaskInstances(s, { dagId: 'mk_note', runId: first.runId, taskId: 'a', state: 'failed' }));
    expect(await r.store.getTaskInstance(key)).toMatchObject({ state: 'failed', note: 'flaky input' });
    await r.drive((s) => setTaskInstanceNote(s, key, null));
    expect((await r.store.getTaskInstance(key))?.note ?? null).toBeNull();
    await expect(r.drive((s) => setTaskInstanceNote(s, { ...key, taskId: 'zz' }, 'x'))).rejects.toThrow(/no instance of task 'zz'/);
  });
});
