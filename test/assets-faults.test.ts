// Asset events on an at-least-once world: a fault at every store write of the step that records an event
// (and of the step that finishes a producer's try), in each mode (the write fails before it applies; it
// applies and its caller gets an error; it applies and the process dies), then the same delivery again
// in a new process: exactly one consumer run, with both events, and nothing left queued.
import { describe, expect, it } from 'vitest';
import { asset, batchJob, dag } from '../lib/index.ts';
import { FAULT_MODES, FaultInjector, type FaultMode } from '../e2e/faults/fault-store.ts';
import { Scheduler } from '../lib/scheduler/scheduler.ts';
import type { AssetEventInput } from '../lib/scheduler/assets.ts';
import type { StateStore } from '../lib/store/state-store.ts';
import { localStores } from './helpers.ts';

const a = asset('s3://lake/a');
const b = asset('s3://lake/b');
const producer = dag({ dagId: 'fault_asset_producer' }, ({ task }) => void task('write', () => 1, { outlets: [a] }));
const consumer = dag({ dagId: 'fault_asset_consumer', schedule: a.and(b) }, ({ task }) => void task('read', () => 1));
// Three Batch children with an outlet each, run as one array wave.
const waveProducer = dag({ dagId: 'fault_asset_wave' }, () => {
  batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', outlets: [a] }).expandKwargs([0, 1, 2].map((i) => ({ environment: { I: String(i) } })));
});
const all = [producer, consumer, waveProducer];
const dags = { getDag: (id: string) => all.find((d) => d.dagId === id), dags: all };
const T0 = Date.parse('2026-03-01T00:00:00Z');
const eventA: AssetEventInput = { uri: a.uri, dedupeKey: 'sqs:message-1', source: { kind: 'watcher', watcher: 'sqs', detail: {} }, timestamp: '2026-03-01T00:00:01.000Z' };

/** What the first delivery did on a store that faults at write `at` (0: none), then the same delivery again. */
async function deliverTwice(base: StateStore, first: (s: Scheduler) => Promise<unknown>, again: (s: Scheduler) => Promise<unknown>, at: number, mode: FaultMode): Promise<number> {
  const injector = new FaultInjector({ at, mode });
  try {
    await first(new Scheduler(injector.wrap(base), dags, { now: () => T0, arrays: true }));
  } catch {
    // The first delivery failed part way (or its process died): the event is delivered again.
  }
  await again(new Scheduler(base, dags, { now: () => T0 + 1000, arrays: true }));
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

  it.each(FAULT_MODES)("an array wave's report, a fault (%s) at each write, delivered again: each child's outlet event once", async (mode) => {
    const run = { dagId: 'fault_asset_wave', runId: 'w1' };
    const array = { ...run, taskId: 'job', group: 0 };
    const setup = async () => {
      const base = makeStore();
      await new Scheduler(base, dags, { now: () => T0, arrays: true }).triggerRun(run);
      const children = await base.listTaskInstances(run);
      expect(children.map((ti) => [ti.mapIndex, ti.state])).toEqual([0, 1, 2].map((i) => [i, 'queued']));
      await base.updateTaskInstances(children.map((ti) => ({ key: ti, expect: { states: ['queued'], tryNumber: 1 }, patch: { state: 'running', startDate: new Date(T0).toISOString() } })));
      return base;
    };
    const outcomes = [0, 1, 2].map((i) => ({ mapIndex: i, jobId: `J:${i}`, status: 'SUCCEEDED' as const, exitCode: 0, reason: null }));
    const report = (s: Scheduler) => s.handleArrayResult(array, 1, outcomes);
    const writes = await deliverTwice(await setup(), report, report, 0, mode);
    expect(writes).toBeGreaterThan(5);
    for (let at = 1; at <= writes; at++) {
      const base = await setup();
      await deliverTwice(base, report, report, at, mode);
      const what = `fault (${mode}) at write ${at}`;
      const events = (await base.listAssetEvents({ limit: 10, sourceDagId: 'fault_asset_wave' })).events;
      expect(events.map((e) => (e.source.kind === 'task' ? e.source.mapIndex : null)).sort(), what).toEqual([0, 1, 2]);
      expect((await base.getRun(run))?.state, what).toBe('success');
    }
  });
});
