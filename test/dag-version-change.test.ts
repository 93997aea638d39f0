// A DAG file edited under runs in flight (a task removed, added or renamed), then a restart: the new
// process always starts, a run whose DAG version is no longer loaded fails with a note naming it, its
// counters untouched, and new runs use the new version.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dag, FakeClock, LocalRunner, type Dag } from '../lib/index.ts';
import { resumeRuns } from '../lib/standalone/resume.ts';
import { SqliteStateStore } from '../lib/store/sqlite-store.ts';

const T0 = Date.parse('2026-04-01T00:00:00Z');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** v1: t1 → (t2, t4); t2 waits on `gate`. v2: t4 removed, t5 added after t2. */
function versions(gate: Promise<void>): { v1: Dag; v2: Dag } {
  const v1 = dag({ dagId: 'edited' }, ({ task }) => {
    const t1 = task('t1', () => 1);
    task('t2', async () => {
      await gate;
      return 2;
    }).after(t1);
    task('t4', () => 4).after(t1);
  });
  const v2 = dag({ dagId: 'edited' }, ({ task }) => {
    const t1 = task('t1', () => 1);
    const t2 = task('t2', () => 2).after(t1);
    task('t5', () => 5).after(t2);
  });
  return { v1, v2 };
}

function resolverOf(d: Dag) {
  return { getDag: (id: string) => (id === d.dagId ? d : undefined) };
}

describe('a DAG edited under a run in flight, then a restart', () => {
  it('the new process starts; the old run fails with a note naming its version; a new run runs the new version', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'airless-version-'));
    dirs.push(dir);
    const file = path.join(dir, 'airless.db');
    const { v1, v2 } = versions(new Promise<void>(() => undefined));
    expect(v1.spec.version).not.toBe(v2.spec.version);

    const storeA = new SqliteStateStore({ path: file });
    const a = new LocalRunner({ dags: [v1], store: storeA, clock: new FakeClock(T0), captureConsole: false });
    await a.trigger({ dagId: 'edited', runId: 'old' });
    // t1 and t4 done, t2 running (it waits forever): the process stops here.
    for (let i = 0; i < 50 && (await storeA.getTaskInstance({ dagId: 'edited', runId: 'old', taskId: 't4', mapIndex: -1 }))?.state !== 'success'; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await storeA.getTaskInstance({ dagId: 'edited', runId: 'old', taskId: 't2', mapIndex: -1 }))?.state).toBe('running');
    a.close();
    storeA.close();

    const storeB = new SqliteStateStore({ path: file });
    const b = new LocalRunner({ dags: [v2], store: storeB, clock: new FakeClock(T0 + 60_000), captureConsole: false });
    try {
      const report = await resumeRuns(b, resolverOf(v2), b.clock.now(), { dagIds: ['edited'] });
      expect(report.runs).toBe(1);
      const old = await storeB.getRun({ dagId: 'edited', runId: 'old' });
      expect(old?.state).toBe('failed');
      expect(old?.note).toBe(
        `DagVersionUnavailableError: DAG 'edited': the run's DAG version ${v1.spec.version} is not loaded and its code cannot be loaded (it is now version ${v2.spec.version}), so the run cannot go on`,
      );
      // Counters as they were: t2 still counted pending (it never finished), nothing below zero.
      expect(old?.pending).toBeGreaterThan(0);
      // Its maxActiveRuns unit was given back, and a new run uses v2.
      expect((await storeB.semaphoreHolders('runs:edited')).size).toBe(0);
      const fresh = await b.run({ dagId: 'edited', runId: 'new' });
      expect(fresh.state).toBe('success');
      expect(Object.fromEntries(fresh.tasks.map((t) => [t.taskId, t.state]))).toEqual({ t1: 'success', t2: 'success', t5: 'success' });
      expect(b.errors).toEqual([]);
    } finally {
      b.close();
      storeB.close();
    }
  });

  it('a late event of the old run (a try result, a timer) fails it the same way instead of throwing', async () => {
    const { v1, v2 } = versions(new Promise<void>(() => undefined));
    const a = new LocalRunner({ dags: [v1], clock: new FakeClock(T0), captureConsole: false });
    await a.trigger({ dagId: 'edited', runId: 'old' });
    for (let i = 0; i < 50 && (await a.store.getTaskInstance({ dagId: 'edited', runId: 'old', taskId: 't2', mapIndex: -1 }))?.state !== 'running'; i++) await new Promise((r) => setTimeout(r, 10));
    a.close();
    const b = new LocalRunner({ dags: [v2], store: a.store, clock: new FakeClock(T0 + 1000), captureConsole: false });
    await b.drive((s) => s.handleTryResult({ dagId: 'edited', runId: 'old', taskId: 't2', mapIndex: -1 }, 1, { kind: 'success' }));
    const old = await b.store.getRun({ dagId: 'edited', runId: 'old' });
    expect(old?.state).toBe('failed');
    expect(old?.note).toMatch(/^DagVersionUnavailableError: .*version .* is not loaded/);
    // Nothing of v2 was decided in the v1 run.
    expect((await b.store.listTaskInstances({ dagId: 'edited', runId: 'old' })).map((ti) => ti.taskId).sort()).toEqual(['t1', 't2', 't4']);
    b.close();
  });
});
