import { afterEach, describe, expect, it } from 'vitest';
import { dag, task } from '../../lib/index.ts';
import type { Dag } from '../../lib/authoring/dag.ts';
import { FakeClock } from '../../lib/runner/clock.ts';
import { ScheduleLoop } from '../../lib/standalone/schedule-loop.ts';
import { fakeRunner } from '../helpers.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 10, 10, 30); // 2026-01-10T10:30Z

function scheduled(dagId: string, options: Omit<Parameters<typeof dag>[0], 'dagId'>): Dag {
  return dag({ dagId, ...options }, () => {
    task('work', () => 'done');
  });
}

/** A loop on its own fake clock (moved by the test) over a runner that runs the created runs. */
function setup(dags: Dag[], start = T0) {
  const runner = fakeRunner(dags);
  const clock = new FakeClock(start);
  const errors: string[] = [];
  const loop = new ScheduleLoop({
    store: runner.store,
    dags,
    clock,
    trigger: (req) => runner.trigger(req),
    onError: (dagId, e) => errors.push(`${dagId}: ${String(e)}`),
  });
  const runIds = async (dagId: string) => (await runner.store.listRuns({ dagId })).map((r) => r.runId).sort();
  /** Move the loop's clock `ms` forward a minute at a time (the instants here are whole minutes), letting each firing finish. */
  const advance = async (ms: number) => {
    const end = clock.now() + ms;
    await loop.settled();
    while (clock.now() < end) {
      clock.advance(Math.min(60_000, end - clock.now()));
      await loop.settled();
    }
  };
  loops.push(loop);
  return { runner, clock, loop, errors, runIds, advance };
}

const loops: ScheduleLoop[] = [];
afterEach(async () => {
  for (const l of loops.splice(0)) await l.stop();
});

describe('ScheduleLoop', () => {
  it('fires a cron DAG at its instants with run id scheduled__<logicalDate>, and says when it fires next', async () => {
    const d = scheduled('hourly', { schedule: '@hourly', startDate: '2026-01-01T00:00:00Z' });
    const { loop, runIds, advance, runner, errors } = setup([d]);
    await loop.start();
    // Without catchup, only the latest due instant runs at start.
    expect(await runIds('hourly')).toEqual(['scheduled__2026-01-10T10:00:00.000Z']);
    expect(await loop.nextRun('hourly')).toBe('2026-01-10T11:00:00.000Z');
    await advance(2 * HOUR);
    expect(await runIds('hourly')).toEqual([
      'scheduled__2026-01-10T10:00:00.000Z',
      'scheduled__2026-01-10T11:00:00.000Z',
      'scheduled__2026-01-10T12:00:00.000Z',
    ]);
    const run = await runner.store.getRun({ dagId: 'hourly', runId: 'scheduled__2026-01-10T11:00:00.000Z' });
    expect(run).toMatchObject({ runType: 'scheduled', logicalDate: '2026-01-10T11:00:00.000Z' });
    expect(await loop.nextRun('hourly')).toBe('2026-01-10T13:00:00.000Z');
    expect(errors).toEqual([]);
  });

  it('fires a rate on the grid of its startDate', async () => {
    const d = scheduled('every20', { schedule: 'rate(20 minutes)', startDate: '2026-01-10T10:05:00Z' });
    const { loop, runIds, advance } = setup([d]);
    await loop.start();
    expect(await runIds('every20')).toEqual(['scheduled__2026-01-10T10:25:00.000Z']);
    await advance(40 * 60_000);
    expect(await runIds('every20')).toEqual([
      'scheduled__2026-01-10T10:25:00.000Z',
      'scheduled__2026-01-10T10:45:00.000Z',
      'scheduled__2026-01-10T11:05:00.000Z',
    ]);
  });

  it('with catchup, creates every instant missed since the startDate, then since the latest scheduled run', async () => {
    const d = scheduled('caught', { schedule: '0 */3 * * *', startDate: '2026-01-10T00:00:00Z', catchup: true });
    const { loop, runIds, runner } = setup([d]);
    await loop.start();
    expect(await runIds('caught')).toEqual(['00', '03', '06', '09'].map((h) => `scheduled__2026-01-10T${h}:00:00.000Z`));
    await loop.stop();
    // A later start (the server was down for 7 hours) fills the gap.
    const clock = new FakeClock(T0 + 7 * HOUR);
    const later = new ScheduleLoop({ store: runner.store, dags: [d], clock, trigger: (req) => runner.trigger(req) });
    loops.push(later);
    await later.start();
    expect(await runIds('caught')).toEqual(['00', '03', '06', '09', '12', '15'].map((h) => `scheduled__2026-01-10T${h}:00:00.000Z`));
  });

  it('without catchup, runs only the latest due instant after a gap', async () => {
    const d = scheduled('nocatch', { schedule: '0 */3 * * *', startDate: '2026-01-01T00:00:00Z' });
    const { loop, runIds, clock } = setup([d]);
    await loop.start();
    expect(await runIds('nocatch')).toEqual(['scheduled__2026-01-10T09:00:00.000Z']);
    // The clock jumps 7 hours at once (a laptop asleep): one run, the latest.
    clock.advance(7 * HOUR);
    await loop.settled();
    expect(await runIds('nocatch')).toEqual(['scheduled__2026-01-10T09:00:00.000Z', 'scheduled__2026-01-10T15:00:00.000Z']);
  });

  it('fires nothing for a paused DAG; unpausing fires what is due (the gap, with catchup) and arms again', async () => {
    const c = scheduled('pc', { schedule: '@hourly', startDate: '2026-01-10T09:00:00Z', catchup: true });
    const n = scheduled('pn', { schedule: '@hourly', startDate: '2026-01-10T09:00:00Z' });
    const { loop, runIds, advance, runner, clock, errors } = setup([c, n]);
    const at = () => new Date(clock.now()).toISOString();
    await runner.store.setDagPaused('pc', true, at());
    await runner.store.setDagPaused('pn', true, at());
    await loop.start();
    await advance(3 * HOUR);
    expect(await runIds('pc')).toEqual([]);
    expect(await runIds('pn')).toEqual([]);
    expect(await loop.nextRun('pc')).toBe('2026-01-10T14:00:00.000Z');
    await runner.store.setDagPaused('pc', false, at());
    await runner.store.setDagPaused('pn', false, at());
    await loop.refresh('pc');
    await loop.refresh('pn');
    expect(await runIds('pc')).toEqual(['09', '10', '11', '12', '13'].map((h) => `scheduled__2026-01-10T${h}:00:00.000Z`));
    expect(errors).toEqual([]);
    // Run ids are per DAG: both DAGs have their run of the same instant under the same id.
    expect(await runIds('pn')).toEqual(['scheduled__2026-01-10T13:00:00.000Z']);
    await advance(HOUR);
    expect((await runIds('pc')).at(-1)).toBe('scheduled__2026-01-10T14:00:00.000Z');
    expect((await runIds('pn')).at(-1)).toBe('scheduled__2026-01-10T14:00:00.000Z');
    // Pausing again stops the firing at the next instant.
    await runner.store.setDagPaused('pn', true, at());
    await advance(2 * HOUR);
    expect((await runIds('pn')).at(-1)).toBe('scheduled__2026-01-10T14:00:00.000Z');
  });

  it('two DAGs on one schedule each have their run of an instant, with the same id and their own state', async () => {
    const x = dag({ dagId: 'twin_x', schedule: '@hourly', startDate: '2026-01-01T00:00:00Z' }, () => void task('work', () => 'x'));
    const y = dag({ dagId: 'twin_y', schedule: '@hourly', startDate: '2026-01-01T00:00:00Z' }, () => void task('work', () => 'y'));
    const { loop, runIds, advance, runner, errors } = setup([x, y]);
    await loop.start();
    await advance(HOUR);
    const ids = ['scheduled__2026-01-10T10:00:00.000Z', 'scheduled__2026-01-10T11:00:00.000Z'];
    expect(await runIds('twin_x')).toEqual(ids);
    expect(await runIds('twin_y')).toEqual(ids);
    await runner.idle();
    for (const [dagId, value] of [['twin_x', 'x'], ['twin_y', 'y']] as const) {
      const run = { dagId, runId: ids[1]! };
      expect(await runner.store.getRun(run)).toMatchObject({ state: 'success', runType: 'scheduled', pipelineScope: `${dagId}/${ids[1]}` });
      expect((await runner.store.getXCom(run, 'work', -1, 'return_value'))?.value).toBe(value);
    }
    // A firing delivered again finds each DAG's own run.
    const again = await runner.trigger({ dagId: 'twin_y', runId: ids[1]!, logicalDate: '2026-01-10T11:00:00.000Z', runType: 'scheduled' });
    expect([again.dagId, again.runId, again.state]).toEqual(['twin_y', ids[1], 'success']);
    expect(await runIds('twin_y')).toEqual(ids);
    expect(errors).toEqual([]);
  });

  it('runs @once once: at its startDate when that comes, or at start when it has passed', async () => {
    const future = scheduled('once_future', { schedule: '@once', startDate: '2026-01-10T12:00:00Z' });
    const past = scheduled('once_past', { schedule: '@once', startDate: '2026-01-05T00:00:00Z' });
    const { loop, runIds, advance, runner } = setup([future, past]);
    await loop.start();
    expect(await runIds('once_future')).toEqual([]);
    expect(await runIds('once_past')).toEqual(['scheduled__2026-01-05T00:00:00.000Z']);
    expect(await loop.nextRun('once_future')).toBe('2026-01-10T12:00:00.000Z');
    expect(await loop.nextRun('once_past')).toBeNull();
    await advance(3 * HOUR);
    expect(await runIds('once_future')).toEqual(['scheduled__2026-01-10T12:00:00.000Z']);
    expect(await loop.nextRun('once_future')).toBeNull();
    // A restart does not run it again.
    await loop.stop();
    const again = new ScheduleLoop({ store: runner.store, dags: [future, past], clock: new FakeClock(T0 + 5 * HOUR), trigger: (req) => runner.trigger(req) });
    loops.push(again);
    await again.start();
    expect(await runIds('once_future')).toHaveLength(1);
    expect(await runIds('once_past')).toHaveLength(1);
  });

  it('honours startDate and endDate', async () => {
    const later = scheduled('later', { schedule: '@hourly', startDate: '2026-01-10T12:30:00Z' });
    const ended = scheduled('ended', { schedule: '@hourly', startDate: '2026-01-10T00:00:00Z', endDate: '2026-01-10T11:00:00Z', catchup: true });
    const { loop, runIds, advance } = setup([later, ended]);
    await loop.start();
    expect(await runIds('later')).toEqual([]);
    expect(await loop.nextRun('later')).toBe('2026-01-10T13:00:00.000Z');
    expect(await runIds('ended')).toHaveLength(11); // 00:00 .. 10:00
    await advance(4 * HOUR);
    expect(await runIds('later')).toEqual(['scheduled__2026-01-10T13:00:00.000Z', 'scheduled__2026-01-10T14:00:00.000Z']);
    expect(await runIds('ended')).toHaveLength(12); // and 11:00, its endDate
    expect((await runIds('ended')).at(-1)).toBe('scheduled__2026-01-10T11:00:00.000Z');
    expect(await loop.nextRun('ended')).toBeNull();
  });

  it('ignores DAGs without a schedule and reports a firing that fails, then goes on', async () => {
    const manual = dag({ dagId: 'manual' }, () => {
      task('t', () => 1);
    });
    const needsConf = dag({ dagId: 'needs_conf', schedule: '@hourly', params: { n: { type: 'integer' } } }, () => {
      task('t', () => 1);
    });
    const { loop, runIds, advance, errors } = setup([manual, needsConf]);
    expect(loop.dagIds).toEqual(['needs_conf']);
    await loop.start();
    expect(await runIds('needs_conf')).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^needs_conf: ParamValidationError/);
    expect(await loop.nextRun('manual')).toBeNull();
    await advance(HOUR);
    expect(errors).toHaveLength(2);
  });

  it('takes the DAGs of a reload: a new DAG starts firing, a changed schedule re-arms, a removed DAG stops', async () => {
    const hourly = scheduled('a', { schedule: '@hourly', startDate: '2026-01-01T00:00:00Z' });
    const daily = scheduled('a', { schedule: '@daily', startDate: '2026-01-01T00:00:00Z' });
    const b = scheduled('b', { schedule: '@hourly', startDate: '2026-01-01T00:00:00Z' });
    const { loop: first } = setup([hourly]);
    await first.stop();
    // The runner knows the reloaded definitions (as the standalone's VersionedDags does); the loop starts with the first.
    const { runner, clock, runIds, errors } = setup([daily, b]);
    const loop = new ScheduleLoop({ store: runner.store, dags: [hourly], clock, trigger: (req) => runner.trigger(req), onError: (dagId, e) => errors.push(`${dagId}: ${String(e)}`) });
    loops.push(loop);
    const advance = async (ms: number) => {
      const end = clock.now() + ms;
      await loop.settled();
      while (clock.now() < end) {
        clock.advance(Math.min(60_000, end - clock.now()));
        await loop.settled();
      }
    };
    await loop.start();
    expect(await loop.nextRun('a')).toBe('2026-01-10T11:00:00.000Z');

    await loop.setDags([daily, b]);
    expect(loop.dagIds.sort()).toEqual(['a', 'b']);
    expect(await loop.nextRun('a')).toBe('2026-01-11T00:00:00.000Z');
    expect(await runIds('b')).toEqual(['scheduled__2026-01-10T10:00:00.000Z']); // the same id as 'a''s run of that instant

    await loop.setDags([b]);
    expect(loop.dagIds).toEqual(['b']);
    expect(await loop.nextRun('a')).toBeNull();
    await advance(24 * HOUR);
    expect(await runIds('a')).toEqual(['scheduled__2026-01-10T10:00:00.000Z']);
    expect((await runIds('b')).length).toBe(25);
    expect(errors).toEqual([]);
  });
});
