// Asset events on an at-least-once world: a fault at every store write of the step that records an event
// (and of the step that finishes a producer's try), in each mode (the write fails before it applies; it
// applies and its caller gets an error; it applies and the process dies), then the same delivery again
// in a new process: exactly one consumer run, with both events, and nothing left queued.
import { describe, expect, it } from 'vitest';
import { asset, dag } from '../lib/index.ts';
import { FAULT_MODES, FaultInjector, type FaultMode } from '../e2e/faults/fault-store.ts';
import { Scheduler } from '../lib/scheduler/scheduler.ts';
import type { AssetEventInput } from '../lib/scheduler/assets.ts';
import type { StateStore } from '../lib/store/state-store.ts';
import { localStores } from './helpers.ts';

const a = asset('s3://lake/a');
const b = asset('s3://lake/b');
const producer = dag({ dagId: 'fault_asset_producer' }, ({ task }) => void task('write', () => 1, { outlets: [a] }));
const consumer = dag({ dagId: 'fault_asset_consumer', schedule: a.and(b) }, ({ task }) => void task('read', () => 1));
const dags = { getDag: (id: string) => [producer, consumer].find((d) => d.dagId === id), dags: [producer, consumer] };
const T0 = Date.parse('2026-03-01T00:00:00Z');
const eventA: AssetEventInput = { uri: a.uri, dedupeKey: 'sqs:message-1', source: { kind: 'watcher', watcher: 'sqs', detail: {} }, timestamp: '2026-03-01T00:00:01.000Z' };

/** What the first delivery did on a store that faults at write `at` (0: none), then the same delivery again. */
async function deliverTwice(base: StateStore, first: (s: Scheduler) => Promise<unknown>, again: (s: Scheduler) => Promise<unknown>, at: number, mode: FaultMode): Promise<number> {
  const injector = new FaultInjector({ at, mode });
  try {
    await first(new Scheduler(injector.wrap(base), dags, { now: () => T0 }));
  } catch {
    // The first delivery failed part way (or its process died): the event is delivered again.
  }
  await again(new Scheduler(base, dags, { now: () => T0 + 1000 }));
  return injector.writes;
}

async function expectOneRun(base: StateStore, what: string): Promise<void> {
  const runs = await base.listRuns({ dagId: 'fault_asset_consumer' });
  expect(runs.map((r) => r.runType), what).toEqual(['asset_triggered']);
  expect(runs[0]!.triggeringAssetEvents!.map((e) => e.uri).sort(), what).toEqual([a.uri, b.uri]);
  expect(await base.listAssetQueue('fault_asset_consumer'), what).toEqual([]);
  const events = (await base.listAssetEvents({ limit: 10 })).events;
  expect(events.map((e) => e.uri).sort(), what).toEqual([a.uri, b.uri]);
  for (const e of events) expect(e.createdRuns, what).toEqual([{ dagId: 'fault_asset_consumer', runId: runs[0]!.runId }]);
}

describe.each(localStores())('asset events under faults (%s)', (_name, makeStore) => {
  it.each(FAULT_MODES)('a watcher event, a fault (%s) at each write, delivered again: exactly one run', async (mode) => {
    const setup = async () => {
      const base = makeStore();
      await new Scheduler(base, dags, { now: () => T0 }).recordAssetEvent({ uri: b.uri, dedupeKey: 'b', source: { kind: 'api', user: null } });
      return base;
    };
    const deliver = (s: Scheduler) => s.recordAssetEvent(eventA);
    const writes = await deliverTwice(await setup(), deliver, deliver, 0, mode);
    expect(writes).toBeGreaterThan(5);
    for (let at = 1; at <= writes; at++) {
      const base = await setup();
      await deliverTwice(base, deliver, deliver, at, mode);
      await expectOneRun(base, `fault (${mode}) at write ${at}`);
    }
  });

  it.each(FAULT_MODES)("a producer's success, a fault (%s) at each write, its report delivered again: its outlet's event once, one run", async (mode) => {
    const key = { dagId: 'fault_asset_producer', runId: 'p1', taskId: 'write', mapIndex: -1 };
    const setup = async () => {
      const base = makeStore();
      const s = new Scheduler(base, dags, { now: () => T0 });
      await s.recordAssetEvent({ uri: b.uri, dedupeKey: 'b', source: { kind: 'api', user: null } });
      await s.triggerRun({ dagId: 'fault_asset_producer', runId: 'p1' });
      await base.updateTaskInstance(key, { states: ['queued'], tryNumber: 1 }, { state: 'running', startDate: new Date(T0).toISOString() });
      return base;
    };
    const report = (s: Scheduler) => s.handleTryResult(key, 1, { kind: 'success' });
    const writes = await deliverTwice(await setup(), report, report, 0, mode);
    expect(writes).toBeGreaterThan(5);
    for (let at = 1; at <= writes; at++) {
      const base = await setup();
      await deliverTwice(base, report, report, at, mode);
      const what = `fault (${mode}) at write ${at}`;
      await expectOneRun(base, what);
      expect((await base.getRun({ dagId: 'fault_asset_producer', runId: 'p1' }))?.state, what).toBe('success');
    }
  });
});
