import { describe, expect, it } from 'vitest';
import { dag, sensor } from '../lib/index.ts';
import { InvocationHost, type Dispatcher } from '../lib/aws/invocation-host.ts';
import { MAX_LOOPS_PER_EXECUTION } from '../lib/compiler/contract.ts';
import type { DagRunRecord, TaskInstanceRecord } from '../lib/store/records.ts';
import type { Effect } from '../lib/scheduler/effects.ts';

/** One scheduler step that asked for `effects`. */
const step = (effects: Effect[]) => Promise.resolve({ value: undefined, effects });

const d = dag({ dagId: 'host' }, () => {
  sensor('s', () => false, { pokeInterval: '1m' });
});

function ti(pokeCount: number, taskId = 's'): TaskInstanceRecord {
  return {
    dagId: 'host', runId: 'r', taskId, mapIndex: -1, state: 'queued', tryNumber: 1, maxTries: 1, queuedAt: '2026-01-01T00:00:00.000Z',
    startDate: null, endDate: null, nextAt: null, firstPokeAt: null, pokeCount, durationMs: null, error: null, externalId: null, resume: false,
  };
}

function recording(): Dispatcher & { started: string[]; timers: number[] } {
  const started: string[] = [];
  const timers: number[] = [];
  return {
    started,
    timers,
    startLifecycle: async (t) => void started.push(`${t.taskId}:${t.pokeCount}`),
    startTimer: async (at) => void timers.push(at),
    startArrayWaves: async (waves) => void started.push(...waves.map((w) => `array:${w.array.taskId}:g${w.array.group}:t${w.tryNumber}`)),
  };
}

describe('InvocationHost', () => {
  const key = { dagId: 'd', runId: 'r', taskId: 's', mapIndex: -1 };
  it('work for the calling lifecycle becomes its next action; other work starts executions', async () => {
    const rec = recording();
    const host = new InvocationHost(rec, { instance: key });
    await host.run(step([
      { type: 'dispatch', ti: { ...ti(3), dagId: 'd' }, dag: d },
      { type: 'dispatch', ti: ti(0, 'other'), dag: d },
      { type: 'timer', at: Date.UTC(2026, 0, 1, 0, 0, 0, 1), event: { type: 'run_timeout', dagId: 'd', runId: 'r' } },
    ]));
    expect(await host.flush()).toEqual({ action: 'run', tryNumber: 1 });
    expect(rec.started).toEqual(['other:0']);
    expect(rec.timers).toEqual([Date.UTC(2026, 0, 1, 0, 0, 0, 1)]);
  });
  it('a wait for the calling lifecycle is rounded up to the second', async () => {
    const host = new InvocationHost(recording(), { instance: key });
    await host.run(step([{ type: 'timer', at: Date.UTC(2026, 0, 1, 0, 0, 0, 1), event: { type: 'resume', key, tryNumber: 1 } }]));
    expect(await host.flush()).toEqual({ action: 'wait', at: '2026-01-01T00:00:01Z', event: { type: 'resume', key, tryNumber: 1 } });
  });
  it(`continues as new after ${MAX_LOOPS_PER_EXECUTION} loops, keeping each execution under the history limit`, async () => {
    const rec = recording();
    const host = new InvocationHost(rec, { instance: key });
    await host.run(step([{ type: 'dispatch', ti: { ...ti(MAX_LOOPS_PER_EXECUTION), dagId: 'd' }, dag: d }]));
    expect(await host.flush()).toEqual({ action: 'done' });
    expect(rec.started).toEqual([`s:${MAX_LOOPS_PER_EXECUTION}`]);
  });
  it('takes a step of more effects than a call takes arguments (a 200,000-wide fan-out)', async () => {
    const rec = recording();
    const host = new InvocationHost(rec, null);
    const many: Effect[] = Array.from({ length: 200_000 }, (_, i) => ({ type: 'timer', at: i, event: { type: 'run_timeout', dagId: 'd', runId: `r${i}` } }));
    await host.run(step(many));
    expect(await host.flush()).toBeNull();
    expect(rec.timers.length).toBe(200_000);
  });

  it('arms the reconciler once per flush when a step made a run queued (created, reopened) or a run was noted active, and not for other changes', async () => {
    const run = (state: DagRunRecord['state']): Effect => ({
      type: 'emit',
      event: {
        type: 'run',
        run: {
          dagId: 'd', runId: 'r', state, runType: 'manual', conf: {}, params: {}, logicalDate: '2026-01-01T00:00:00.000Z', queuedAt: '2026-01-01T00:00:00.000Z',
          startDate: null, endDate: null, dagVersion: 'v', pending: 1, parent: null, pipelineScope: 'd/r', note: null,
        },
      },
    });
    let armed = 0;
    const host = new InvocationHost(recording(), null, { armReconciler: async () => void armed++ });
    await host.run(step([run('queued'), run('running')]));
    await host.run(step([run('queued')]));
    await host.flush();
    expect(armed).toBe(1);
    // A run started, ended, an instance queued: nothing became active.
    await host.run(step([run('running'), run('success'), { type: 'emit', event: { type: 'ti', ti: ti(0) } }]));
    await host.flush();
    expect(armed).toBe(1);
    // A replayed trigger finds its run (no effect says so): the host is told.
    host.runActive();
    await host.flush();
    expect(armed).toBe(2);
    await host.flush();
    expect(armed).toBe(2);
  });
});

describe('InvocationHost with deadline schedules', () => {
  const deadline = { type: 'deadline' as const, dagId: 'host', runId: 'r', index: 0 };
  function deadlines(armed: boolean) {
    const arms: number[] = [];
    const ended: string[] = [];
    return { arms, ended, arm: async (at: number) => (arms.push(at), armed), runEnded: async (run: DagRunRecord) => void ended.push(`${run.runId}:${run.state}`) };
  }
  const run = (state: DagRunRecord['state']) => ({ dagId: 'host', runId: 'r', state }) as DagRunRecord;

  it("arms a deadline timer as a schedule; every other timer stays a timer execution; an ended run's schedules are dropped", async () => {
    const rec = recording();
    const dl = deadlines(true);
    const host = new InvocationHost(rec, null, { deadlines: dl });
    await host.run(step([
      { type: 'timer', at: 5_000, event: deadline },
      { type: 'timer', at: 6_000, event: { type: 'run_timeout', dagId: 'host', runId: 'r' } },
      { type: 'emit', event: { type: 'run', run: run('running') } },
      { type: 'emit', event: { type: 'run', run: run('failed') } },
    ]));
    await host.flush();
    expect(dl.arms).toEqual([5_000]);
    expect(rec.timers).toEqual([6_000]);
    expect(dl.ended).toEqual(['r:failed']);
  });

  it('starts a timer execution for a deadline the schedules did not arm (already due)', async () => {
    const rec = recording();
    const dl = deadlines(false);
    const host = new InvocationHost(rec, null, { deadlines: dl });
    await host.run(step([{ type: 'timer', at: 5_000, event: deadline }]));
    await host.flush();
    expect(dl.arms).toEqual([5_000]);
    expect(rec.timers).toEqual([5_000]);
  });
});
