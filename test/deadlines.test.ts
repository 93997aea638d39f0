import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dag } from '../lib/authoring/dag.ts';
import type { DeadlineContext, DeadlineOption } from '../lib/authoring/deadline-option.ts';
import { sensor, task } from '../lib/authoring/operators.ts';
import { runDeadlines } from '../lib/core/deadlines.ts';
import { FakeClock } from '../lib/runner/clock.ts';
import { LocalRunner, type RunnerEvent } from '../lib/runner/local-runner.ts';
import { resumeRuns } from '../lib/standalone/resume.ts';
import { SqliteStateStore } from '../lib/store/sqlite-store.ts';
import { harness } from './api/harness.ts';
import { fakeRunner } from './helpers.ts';

const T0 = Date.UTC(2026, 0, 1);

/** A DAG whose sensor is done after `pokes` pokes a minute apart, with `deadline`. */
function slowDag(dagId: string, pokes: number, deadline: DeadlineOption | DeadlineOption[]) {
  let n = 0;
  return dag({ dagId, deadline }, () => {
    const s = sensor('wait', () => ++n >= pokes, { pokeInterval: '1m', timeout: '1d' });
    task('after', () => 'done').after(s);
  });
}

describe('deadline alerts on the runner clock', () => {
  it("a run that overruns its deadline gets the callback once, with the run and the deadline; in-time deadlines don't fire", async () => {
    const seen: { ctx: DeadlineContext; at: number }[] = [];
    const clock = { now: () => NaN };
    const d = slowDag('slow', 30, [
      { reference: 'dagrun_queued_at', interval: '10m', callback: (ctx) => void seen.push({ ctx, at: clock.now() }) },
      { reference: 'dagrun_queued_at', interval: '2h', callback: (ctx) => void seen.push({ ctx, at: -1 }) },
    ]);
    const runner = fakeRunner([d]);
    clock.now = () => runner.clock.now();
    const report = await runner.run({ dagId: 'slow', runId: 'r1', conf: {} });
    expect(report.state).toBe('success');
    expect(seen).toHaveLength(1);
    const { ctx, at } = seen[0]!;
    expect(at).toBe(T0 + 10 * 60_000);
    expect(ctx).toMatchObject({ dagId: 'slow', runId: 'r1', state: 'running', deadline: { reference: 'dagrun_queued_at', interval: '10m' } });
    expect(ctx.deadline.at.getTime()).toBe(T0 + 10 * 60_000);
    // The run took 29 minutes of the runner's clock: it missed the first deadline and made the second.
    const run = (await runner.store.getRun({ dagId: 'slow', runId: 'r1' }))!;
    expect(runDeadlines(d.spec.deadlines, run, runner.clock.now()).map((x) => [x.at, x.missed])).toEqual([
      ['2026-01-01T00:10:00.000Z', true],
      ['2026-01-01T02:00:00.000Z', false],
    ]);
    // The 2h deadline's timer went with the run.
    expect(runner.bookkeeping.timers).toBe(0);
  });

  it('a run that finishes in time gets no callback', async () => {
    let calls = 0;
    const d = slowDag('quick', 3, { reference: 'dagrun_queued_at', interval: '10m', callback: () => void calls++ });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'quick' });
    expect(report.state).toBe('success');
    await r.idle();
    expect(calls).toBe(0);
  });

  it('measures from the logical date or a fixed instant; a deadline already past fires at once', async () => {
    const calls: string[] = [];
    const d = slowDag('refs', 2, [
      { reference: 'dagrun_logical_date', interval: '1h', callback: (c) => void calls.push(`logical ${c.deadline.at.toISOString()}`) },
      { reference: new Date(T0 + 30_000), interval: 0, callback: (c) => void calls.push(`fixed ${c.deadline.at.toISOString()}`) },
    ]);
    const r = fakeRunner([d]);
    // A backfill-like run of a day ago: its logical-date deadline passed long ago.
    await r.run({ dagId: 'refs', logicalDate: new Date(T0 - 86_400_000).toISOString() });
    expect(calls).toEqual(['logical 2025-12-31T01:00:00.000Z', 'fixed 2026-01-01T00:00:30.000Z']);
  });

  it('a deadline timer delivered twice runs the callback once; a callback that throws is reported, the run goes on', async () => {
    let calls = 0;
    const d = slowDag('twice', 20, {
      reference: 'dagrun_queued_at',
      interval: '5m',
      callback: () => {
        calls++;
        throw new Error('pager is down');
      },
    });
    const r = fakeRunner([d]);
    const errors: string[] = [];
    r.on((e: RunnerEvent) => {
      if (e.type === 'error') errors.push(`${e.where}: ${(e.error as Error).message}`);
    });
    const report = await r.run({ dagId: 'twice', runId: 'r1' });
    expect(report.state).toBe('success');
    expect(errors).toEqual(["DAG 'twice' deadline 0 (dagrun_queued_at + 5m) callback: pager is down"]);
    // The same timer again (a replay) after the run ended: nothing runs.
    await r.scheduler.onTimer({ type: 'deadline', dagId: 'twice', runId: 'r1', index: 0 });
    expect(calls).toBe(1);
  });

  it('a deadline timer delivered again while the run is still going does not run the callback again', async () => {
    let calls = 0;
    const d = dag({ dagId: 'stuck', deadline: { reference: new Date(T0 - 1000), interval: 0, callback: () => void calls++ } }, () => {
      task('hang', () => new Promise<never>(() => undefined));
    });
    const r = fakeRunner([d]);
    const fired = new Promise<void>((resolve) => r.on((e) => e.type === 'ti' && e.ti.state === 'running' && resolve()));
    await r.trigger({ dagId: 'stuck', runId: 'r1' });
    await fired;
    await r.scheduler.onTimer({ type: 'deadline', dagId: 'stuck', runId: 'r1', index: 0 });
    await r.scheduler.onTimer({ type: 'deadline', dagId: 'stuck', runId: 'r1', index: 0 });
    expect((await r.store.getRun({ dagId: 'stuck', runId: 'r1' }))?.state).toBe('running');
    expect(calls).toBe(1);
  });

  it('refuses a bad deadline, naming the field', () => {
    const body = () => void task('a', () => 1);
    expect(() => dag({ dagId: 'd', deadline: { reference: 'dagrun_started', interval: '1h', callback: () => undefined } as never }, body)).toThrow(
      `DAG 'd', field 'deadline.reference': reference "dagrun_started" is not 'dagrun_queued_at', 'dagrun_logical_date' or a date`,
    );
    expect(() => dag({ dagId: 'd', deadline: [{ reference: 'dagrun_queued_at', interval: 'soon', callback: () => undefined }] }, body)).toThrow(`DAG 'd', field 'deadline[0].interval': 'soon' is not a duration`);
    expect(() => dag({ dagId: 'd', deadline: { reference: 'dagrun_queued_at', interval: '1h' } as never }, body)).toThrow(`field 'deadline.callback': a deadline needs a callback`);
    expect(() => dag({ dagId: 'd', deadline: { reference: 'dagrun_queued_at', interval: '1h', callback: () => undefined, when: 1 } as never }, body)).toThrow(
      `field 'deadline.when': unknown deadline option 'when' (known: reference, interval, callback)`,
    );
  });
});

describe('deadline alerts across a standalone restart', () => {
  const dirs: string[] = [];
  const stores: SqliteStateStore[] = [];
  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** A DAG whose `hang` task hangs on its first try (the process is "killed" while it runs), after `pokes` one-minute pokes. */
  function hangingDag(pokes: number, calls: number[]) {
    let tries = 0;
    let n = 0;
    return dag({ dagId: 'hang', deadline: { reference: 'dagrun_queued_at', interval: '5m', callback: () => void calls.push(1) } }, () => {
      const s = sensor('wait', () => ++n >= pokes, { pokeInterval: '1m' });
      task('hang', () => (++tries === 1 ? new Promise<never>(() => undefined) : 'ok'), { retries: 1, retryDelay: '1s' }).after(s);
    });
  }

  function open(dir: string, d: ReturnType<typeof hangingDag>, at: number) {
    const store = new SqliteStateStore({ path: path.join(dir, 'airless.db') });
    stores.push(store);
    const runner = new LocalRunner({ dags: [d], store, clock: new FakeClock(at), pools: { default_pool: 128 } });
    return { store, runner };
  }

  function running(runner: LocalRunner, taskId: string): Promise<void> {
    return new Promise((resolve) => {
      const off = runner.on((e) => {
        if (e.type === 'ti' && e.ti.taskId === taskId && e.ti.state === 'running') {
          off();
          resolve();
        }
      });
    });
  }

  for (const [name, pokes, firedBefore] of [
    ['missed while the server was down: fires once at the restart', 1, 0],
    ['fired before the server stopped: does not fire again at the restart', 10, 1],
  ] as const) {
    it(name, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'airless-deadline-'));
      dirs.push(dir);
      const calls: number[] = [];
      const d = hangingDag(pokes, calls);
      const a = open(dir, d, T0);
      const hung = running(a.runner, 'hang');
      const run = await a.runner.trigger({ dagId: 'hang', runId: 'r1' });
      await hung;
      // The process dies here (its task hangs, its clock stands still).
      expect(calls).toHaveLength(firedBefore);

      const b = open(dir, d, T0 + 3_600_000);
      await resumeRuns(b.runner, { getDag: (id) => (id === 'hang' ? d : undefined) }, b.runner.clock.now());
      expect((await b.runner.waitForRun(run)).state).toBe('success');
      await b.runner.idle();
      expect(calls).toHaveLength(1);
    });
  }
});

describe("a run's deadlines in the API", () => {
  it('GET dagRuns/{id} gives each deadline, when it falls and whether the run missed it', async () => {
    const d = slowDag('api_deadlines', 30, [
      { reference: 'dagrun_queued_at', interval: '10m', callback: () => undefined },
      { reference: 'dagrun_logical_date', interval: '1d', callback: () => undefined },
    ]);
    const h = await harness([d]);
    await h.runner.run({ dagId: 'api_deadlines', runId: 'r1', logicalDate: '2026-01-01T00:00:00.000Z' });
    const got = await h.call('GET', '/api/v2/dags/api_deadlines/dagRuns/r1');
    expect(got.status).toBe(200);
    expect(got.json.deadlines).toStrictEqual([
      { at: '2026-01-01T00:10:00.000Z', reference: 'dagrun_queued_at', interval: '10m', missed: true },
      { at: '2026-01-02T00:00:00.000Z', reference: 'dagrun_logical_date', interval: '1d', missed: false },
    ]);
    // Listings leave the field out.
    const list = await h.call('GET', '/api/v2/dags/api_deadlines/dagRuns');
    expect(list.json.dag_runs[0].deadlines).toBeUndefined();
    await h.app.close();
  });
});
