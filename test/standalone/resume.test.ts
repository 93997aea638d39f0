import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dag, task } from '../../lib/index.ts';
import type { Dag } from '../../lib/authoring/dag.ts';
import { FakeClock } from '../../lib/runner/clock.ts';
import { LocalRunner } from '../../lib/runner/local-runner.ts';
import { resumeRuns } from '../../lib/standalone/resume.ts';
import type { TaskInstanceRecord } from '../../lib/store/records.ts';
import { SqliteStateStore } from '../../lib/store/sqlite-store.ts';

const T0 = Date.UTC(2026, 0, 10, 10, 0);
const dirs: string[] = [];
const stores: SqliteStateStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function home(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'airless-resume-'));
  dirs.push(d);
  return d;
}

/** One "process": a store on the home's database file and a runner on it. */
function open(dir: string, dags: Dag[], at = T0) {
  const store = new SqliteStateStore({ path: path.join(dir, 'airless.db') });
  stores.push(store);
  const runner = new LocalRunner({ dags, store, clock: new FakeClock(at), pools: { default_pool: 128 } });
  const tis: TaskInstanceRecord[] = [];
  runner.on((e) => {
    if (e.type === 'ti') tis.push(e.ti);
  });
  return { store, runner, tis };
}

/** Resolves at the first TI event that matches. */
function when(runner: LocalRunner, match: (ti: TaskInstanceRecord) => boolean): Promise<TaskInstanceRecord> {
  return new Promise((resolve) => {
    const off = runner.on((e) => {
      if (e.type === 'ti' && match(e.ti)) {
        off();
        resolve(e.ti);
      }
    });
  });
}

/** A DAG whose task hangs on its first try (the process is "killed" while it runs), then succeeds. */
function hangingDag(retries: number) {
  let calls = 0;
  return dag({ dagId: 'hang', defaultArgs: { retries, retryDelay: '30s' } }, () => {
    const first = task('first', () => {
      calls++;
      if (calls === 1) return new Promise<never>(() => undefined);
      return 'ok';
    });
    task('after', (_ctx, x: string) => `${x}!`)(first);
  });
}

describe('standalone resume', () => {
  it('keeps runs and task instances across a restart, and retries a try that was running when the process died', async () => {
    const dir = home();
    const d = hangingDag(1);
    const a = open(dir, [d]);
    const run = await a.runner.trigger({ dagId: 'hang', runId: 'r1' });
    await when(a.runner, (ti) => ti.taskId === 'first' && ti.state === 'running');
    // The process dies here: nothing more is written by it.

    const b = open(dir, [d], T0 + 60_000);
    expect((await b.store.getRun({ dagId: 'hang', runId: 'r1' }))?.state).toBe('running');
    expect((await b.store.getTaskInstance({ dagId: 'hang', runId: 'r1', taskId: 'first', mapIndex: -1 }))?.state).toBe('running');
    const report = await resumeRuns(b.runner, { getDag: (id) => (id === 'hang' ? d : undefined) }, b.runner.clock.now());
    expect(report).toMatchObject({ runs: 1, interrupted: 1 });
    const done = await b.runner.waitForRun(run);
    expect(done.state).toBe('success');
    const retried = b.tis.find((t) => t.taskId === 'first' && t.state === 'up_for_retry');
    expect(retried?.error).toEqual({ name: 'StandaloneInterruptedError', message: 'the standalone server stopped while this try was running' });
    expect(await b.store.getTaskInstance({ dagId: 'hang', runId: 'r1', taskId: 'first', mapIndex: -1 })).toMatchObject({ state: 'success', tryNumber: 2 });
    expect((await b.store.getXCom({ dagId: 'hang', runId: 'r1' }, 'after', -1, 'return_value'))?.value).toBe('ok!');
  });

  it('fails the try with the clear error when no retry is left, and the run goes on to its end', async () => {
    const dir = home();
    const d = hangingDag(0);
    const a = open(dir, [d]);
    await a.runner.trigger({ dagId: 'hang', runId: 'r2' });
    await when(a.runner, (ti) => ti.taskId === 'first' && ti.state === 'running');

    const b = open(dir, [d], T0 + 60_000);
    await resumeRuns(b.runner, { getDag: () => d }, b.runner.clock.now());
    const done = await b.runner.waitForRun({ dagId: 'hang', runId: 'r2' });
    expect(done.state).toBe('failed');
    expect(await b.store.getTaskInstance({ dagId: 'hang', runId: 'r2', taskId: 'first', mapIndex: -1 })).toMatchObject({
      state: 'failed',
      error: { name: 'StandaloneInterruptedError', message: 'the standalone server stopped while this try was running' },
    });
    expect((await b.store.getTaskInstance({ dagId: 'hang', runId: 'r2', taskId: 'after', mapIndex: -1 }))?.state).toBe('upstream_failed');
  });

  it('re-arms the retry timer of an instance that was waiting for its retry', async () => {
    const dir = home();
    let calls = 0;
    const d = dag({ dagId: 'flaky', defaultArgs: { retries: 2, retryDelay: '1h' } }, () => {
      task('flaky', () => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return calls;
      });
    });
    const a = open(dir, [d]);
    await a.runner.trigger({ dagId: 'flaky', runId: 'r3' });
    const waiting = await when(a.runner, (ti) => ti.state === 'up_for_retry');
    a.runner.close(); // the process stops before the retry is due

    // Restarted 10 minutes later: the retry is due 50 minutes from then.
    const b = open(dir, [d], T0 + 10 * 60_000);
    const report = await resumeRuns(b.runner, { getDag: () => d }, b.runner.clock.now());
    expect(report).toMatchObject({ runs: 1, interrupted: 0, rearmed: 1 });
    const done = await b.runner.waitForRun({ dagId: 'flaky', runId: 'r3' });
    expect(done.state).toBe('success');
    const ti = await b.store.getTaskInstance({ dagId: 'flaky', runId: 'r3', taskId: 'flaky', mapIndex: -1 });
    expect(ti).toMatchObject({ state: 'success', tryNumber: 2 });
    expect(Date.parse(ti!.startDate!)).toBeGreaterThanOrEqual(Date.parse(waiting.nextAt!));
  });

  it('starts a run left queued and fails a run whose DAG is no longer loaded, saying why', async () => {
    const dir = home();
    const d = hangingDag(0);
    const other = dag({ dagId: 'gone', maxActiveRuns: 1 }, () => {
      task('t', () => 1);
    });
    const a = open(dir, [d, other]);
    await a.store.createRun({
      dagId: 'hang', runId: 'queued1', state: 'queued', runType: 'manual', conf: {}, params: {}, logicalDate: new Date(T0).toISOString(),
      queuedAt: new Date(T0).toISOString(), startDate: null, endDate: null, dagVersion: d.spec.version, pending: d.spec.tasks.length, parent: null,
      pipelineScope: 'hang/queued1', note: null,
    });
    await a.store.createRun({
      dagId: 'gone', runId: 'orphan', state: 'queued', runType: 'manual', conf: {}, params: {}, logicalDate: new Date(T0).toISOString(),
      queuedAt: new Date(T0).toISOString(), startDate: null, endDate: null, dagVersion: other.spec.version, pending: 1, parent: null,
      pipelineScope: 'gone/orphan', note: null,
    });
    await a.store.createRun({
      dagId: 'gone', runId: 'orphan2', state: 'running', runType: 'manual', conf: {}, params: {}, logicalDate: new Date(T0).toISOString(),
      queuedAt: new Date(T0).toISOString(), startDate: new Date(T0).toISOString(), endDate: null, dagVersion: other.spec.version, pending: 1, parent: null,
      pipelineScope: 'gone/orphan2', note: null,
    });
    expect(await a.store.tryAcquire('runs:gone', 1, 1, 'run/gone/orphan2')).toBe(true);
    const b = open(dir, [d], T0 + 1000);
    const started = when(b.runner, (ti) => ti.runId === 'queued1' && ti.state === 'running');
    await resumeRuns(b.runner, { getDag: (id) => (id === 'hang' ? d : undefined) }, b.runner.clock.now());
    await started;
    const orphan = await b.store.getRun({ dagId: 'gone', runId: 'orphan' });
    expect(orphan?.state).toBe('failed');
    expect(orphan?.note).toMatch(/DAG 'gone' is not loaded/);
    expect((await b.store.getRun({ dagId: 'gone', runId: 'orphan2' }))?.state).toBe('failed');
    // The running orphan's unit of maxActiveRuns (1) was given back.
    expect(await b.store.tryAcquire('runs:gone', 1, 1, 'check')).toBe(true);
  });
});
