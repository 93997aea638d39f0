import { describe, expect, it } from 'vitest';
import { dag, sensor } from '../lib/index.ts';
import { InvocationHost, type Dispatcher } from '../lib/aws/invocation-host.ts';
import { MAX_LOOPS_PER_EXECUTION } from '../lib/compiler/contract.ts';
import type { TaskInstanceRecord } from '../lib/store/records.ts';

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
    const host = new InvocationHost(rec, key, () => 0);
    host.dispatch(ti(3), d);
    host.dispatch(ti(0, 'other'), d);
    host.setTimer(Date.UTC(2026, 0, 1, 0, 0, 0, 1), { type: 'run_timeout', dagId: 'd', runId: 'r' });
    expect(host.decided).toBe(true);
    expect(await host.flush()).toEqual({ action: 'run', tryNumber: 1 });
    expect(rec.started).toEqual(['other:0']);
    expect(rec.timers).toEqual([Date.UTC(2026, 0, 1, 0, 0, 0, 1)]);
  });
  it('a wait for the calling lifecycle is rounded up to the second', async () => {
    const host = new InvocationHost(recording(), key, () => 0);
    host.setTimer(Date.UTC(2026, 0, 1, 0, 0, 0, 1), { type: 'resume', key, tryNumber: 1 });
    expect(await host.flush()).toEqual({ action: 'wait', at: '2026-01-01T00:00:01Z', event: { type: 'resume', key, tryNumber: 1 } });
  });
  it(`continues as new after ${MAX_LOOPS_PER_EXECUTION} loops, keeping each execution under the history limit`, async () => {
    const rec = recording();
    const host = new InvocationHost(rec, key, () => 0);
    host.dispatch(ti(MAX_LOOPS_PER_EXECUTION), d);
    expect(host.decided).toBe(false);
    expect(await host.flush()).toEqual({ action: 'done' });
    expect(rec.started).toEqual([`s:${MAX_LOOPS_PER_EXECUTION}`]);
  });
});
