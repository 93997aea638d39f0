// A store that fails for a while (StoreUnavailableError) during a try is the infrastructure's failure, not
// the task's: the try's own store calls are retried (retryTransient), and a failure that outlasts the
// retries is thrown out of the TaskRunner as a TryInfrastructureError, which the LocalRunner recovers
// from (dispatching the try again, or settling it as lost), never running a try's code twice.
import { describe, expect, it } from 'vitest';
import { dag, sensor, task } from '../lib/index.ts';
import { StoreUnavailableError } from '../lib/errors.ts';
import { TryInfrastructureError } from '../lib/executor/infrastructure.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import { newTaskInstance, pipelineScopeOf, type RunRef, type TaskInstanceRecord, type TiKey } from '../lib/store/records.ts';
import type { StateStore } from '../lib/store/state-store.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import { fakeRunner, states, tries, errorText } from './helpers.ts';

/** A call to fail: the first `times` calls of `method` whose arguments `match`. */
interface Fault {
  method: keyof StateStore;
  times: number;
  match?: (args: any[]) => boolean;
  /** The call applies, then its answer is lost (it throws all the same). */
  applies?: boolean;
}

/** A MemoryStateStore whose chosen calls throw a StoreUnavailableError; `failed` lists each one thrown. */
function faulty(faults: Fault[]): { store: StateStore; failed: string[] } {
  const inner = new MemoryStateStore();
  const failed: string[] = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        const f = faults.find((x) => x.method === prop && x.times > 0 && (!x.match || x.match(args)));
        if (!f) return fn.apply(target, args);
        f.times--;
        failed.push(String(prop));
        if (f.applies) await fn.apply(target, args);
        throw new StoreUnavailableError(`injected: store.${String(prop)} is unavailable`);
      };
    },
  });
  return { store, failed };
}

const noWait = { sleep: () => Promise.resolve() };
const ofTask = (taskId: string) => (args: any[]) => (args[0] as TiKey).taskId === taskId;
/** A try's output (its result XCom and log, `putTryOutput`) of `taskId`. */
const outputOf = (taskId: string) => (args: any[]) => (args[0] as { logs: { key: TiKey }[] }).logs.some((l) => l.key.taskId === taskId);
const markingRunning = (taskId: string) => (args: any[]) => ofTask(taskId)(args) && (args[2] as Partial<TaskInstanceRecord>).state === 'running';

/** up → t: t gets up's result as its input and counts its calls. */
function chainDag(counter: { t: number }, retries = 0): Dag {
  return dag({ dagId: 'faults', defaultArgs: { retries, retryDelay: '1m' } }, () => {
    const up = task('up', () => 20);
    task('t', (_ctx, x: number) => {
      counter.t++;
      return x + 1;
    })(up);
  });
}

async function xcom(store: StateStore, run: RunRef, taskId: string): Promise<unknown> {
  return (await store.getXCom({ dagId: run.dagId, runId: run.runId }, taskId, -1, 'return_value'))?.value;
}

describe('a try retries its own store calls while the store is unavailable', () => {
  const cases: [string, Fault][] = [
    ['marking the instance running', { method: 'updateTaskInstance', times: 2, match: markingRunning('t') }],
    ['reading the upstream XCom (its input)', { method: 'getXCom', times: 2, match: (a) => a[1] === 'up' }],
    ["writing the result XCom with the try's log", { method: 'putTryOutput', times: 2, match: outputOf('t') }],
  ];
  it.each(cases)('%s: the try succeeds, its code run once', async (_what, fault) => {
    const counter = { t: 0 };
    const { store, failed } = faulty([fault]);
    const r = fakeRunner([chainDag(counter)], { store, storeRetry: noWait });
    const report = await r.run({ dagId: 'faults' });
    expect(failed).toEqual([fault.method, fault.method]);
    expect(states(report)).toEqual({ up: 'success', t: 'success' });
    expect(tries(report)).toEqual({ up: 1, t: 1 });
    expect(counter.t).toBe(1);
    expect(await xcom(store, report, 't')).toBe(21);
    expect(r.errors).toEqual([]);
    const log = await store.getLog({ dagId: 'faults', runId: report.runId, taskId: 't', mapIndex: -1 }, 1);
    expect(log.map((l) => l.message)).toEqual(['starting try 1 of 1', 'done: success']);
  });

  it('an iteration keeps each item result through a failing putItemResult, running each item once', async () => {
    const calls = new Map<number, number>();
    const d = dag({ dagId: 'faults_iter' }, () => {
      task('sq', (_ctx, x: number) => {
        calls.set(x, (calls.get(x) ?? 0) + 1);
        return x * x;
      }).iterate([1, 2, 3], { concurrency: 1 });
    });
    const { store, failed } = faulty([
      { method: 'listItemResults', times: 1 },
      { method: 'putItemResult', times: 3, match: (a) => a[1] === 1 },
    ]);
    const r = fakeRunner([d], { store, storeRetry: noWait });
    const report = await r.run({ dagId: 'faults_iter' });
    expect(failed).toEqual(['listItemResults', 'putItemResult', 'putItemResult', 'putItemResult']);
    expect(states(report)).toEqual({ sq: 'success' });
    expect([...calls]).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    expect(await xcom(store, report, 'sq')).toEqual([1, 4, 9]);
    expect(r.errors).toEqual([]);
  });

  it("a sensor's poke count update is retried; it pokes until done", async () => {
    let pokes = 0;
    const d = dag({ dagId: 'faults_sensor' }, () => {
      sensor('s', () => ++pokes >= 2, { pokeInterval: '1m', timeout: '1h' });
    });
    const { store, failed } = faulty([{ method: 'updateTaskInstance', times: 2, match: (a) => (a[2] as Partial<TaskInstanceRecord>).pokeCount === 2 }]);
    const r = fakeRunner([d], { store, storeRetry: noWait });
    const report = await r.run({ dagId: 'faults_sensor' });
    expect(failed).toEqual(['updateTaskInstance', 'updateTaskInstance']);
    expect(states(report)).toEqual({ s: 'success' });
    expect(pokes).toBe(2);
    expect(r.errors).toEqual([]);
  });

  it("the task's own calls (ctx.xcomPush, ctx.xcomPull) are retried too; when the store stays down, the error is the task's", async () => {
    let calls = 0;
    const d = dag({ dagId: 'faults_ctx', defaultArgs: { retries: 1, retryDelay: '1m' } }, () => {
      task('t', async (ctx) => {
        calls++;
        await ctx.xcomPush('k', calls);
        return (await ctx.xcomPull<number>('t', { key: 'k' })) ?? null;
      });
    });
    const pushes = (a: any[]) => a[0].key === 'k';
    const brief = faulty([
      { method: 'putXCom', times: 2, match: pushes },
      { method: 'getXCom', times: 2, match: (a) => a[3] === 'k' },
    ]);
    const r1 = fakeRunner([d], { store: brief.store, storeRetry: noWait });
    const ok = await r1.run({ dagId: 'faults_ctx' });
    expect(brief.failed).toHaveLength(4);
    expect(states(ok)).toEqual({ t: 'success' });
    expect(calls).toBe(1);
    expect(await xcom(brief.store, ok, 't')).toBe(1);

    calls = 0;
    const down = faulty([{ method: 'putXCom', times: 1000, match: pushes }]);
    const r2 = fakeRunner([d], { store: down.store, storeRetry: noWait });
    const failed = await r2.run({ dagId: 'faults_ctx' });
    expect(states(failed)).toEqual({ t: 'failed' });
    expect(tries(failed)).toEqual({ t: 2 });
    const ti = await down.store.getTaskInstance({ dagId: 'faults_ctx', runId: failed.runId, taskId: 't', mapIndex: -1 });
    expect(errorText(ti?.error)).toBe('StoreUnavailableError: injected: store.putXCom is unavailable');
    expect(r2.errors).toEqual([]);
  });
});

describe('a store failure that outlasts the retries is thrown out of the TaskRunner, not a failed try', () => {
  /** A run of `d` created as `testTask` does, with `taskId` queued at try 1 (and its upstream's result if given). */
  async function queued(store: StateStore, d: Dag, taskId: string): Promise<TiKey> {
    const now = new Date(Date.UTC(2026, 0, 1)).toISOString();
    const runId = 'manual__faults';
    await store.createRun({
      dagId: d.dagId, runId, state: 'running', runType: 'manual', conf: {}, params: {}, logicalDate: now, queuedAt: now, startDate: now,
      endDate: null, dagVersion: d.spec.version, pending: 2, parent: null, pipelineScope: pipelineScopeOf({ dagId: d.dagId, runId }), note: null,
    });
    await store.putXCom({ dagId: d.dagId, runId, taskId: 'up', mapIndex: -1, key: 'return_value', value: 20 });
    const key: TiKey = { dagId: d.dagId, runId, taskId, mapIndex: -1 };
    await store.createTaskInstances([newTaskInstance({ ...key, maxTries: 1, state: 'queued', tryNumber: 1, queuedAt: now })]);
    return key;
  }

  it('after the code ran (the result XCom): started, the instance left running, no failure recorded', async () => {
    const counter = { t: 0 };
    const d = chainDag(counter);
    const { store, failed } = faulty([{ method: 'putTryOutput', times: 6, match: outputOf('t') }]);
    const r = fakeRunner([d], { store, storeRetry: noWait });
    const key = await queued(store, d, 't');
    const err = await r.taskRunner.run(key, 1).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failed).toHaveLength(6);
    expect(err).toBeInstanceOf(TryInfrastructureError);
    expect(err).toMatchObject({ name: 'TryInfrastructureError', where: 'store.putTryOutput', started: true, recoverable: true });
    expect((err as Error).message).toBe('store.putTryOutput failed: StoreUnavailableError: injected: store.putTryOutput is unavailable');
    expect(counter.t).toBe(1);
    const ti = await store.getTaskInstance(key);
    expect(ti).toMatchObject({ state: 'running', tryNumber: 1, error: null });
  });

  it('before the instance is marked running: not started, still queued, nothing ran', async () => {
    const counter = { t: 0 };
    const d = chainDag(counter);
    const { store } = faulty([{ method: 'getTaskInstanceAndRun', times: 6 }]);
    const r = fakeRunner([d], { store, storeRetry: noWait });
    const key = await queued(store, d, 't');
    await expect(r.taskRunner.run(key, 1)).rejects.toMatchObject({ name: 'TryInfrastructureError', where: 'store.getTaskInstanceAndRun', started: false });
    expect(counter.t).toBe(0);
    expect(await store.getTaskInstance(key)).toMatchObject({ state: 'queued', tryNumber: 1 });
  });

  it('after it was marked running but before its code ran (its input): put back in the queue, not started', async () => {
    const counter = { t: 0 };
    const d = chainDag(counter);
    const { store } = faulty([{ method: 'getXCom', times: 6, match: (a) => a[1] === 'up' }]);
    const r = fakeRunner([d], { store, storeRetry: noWait });
    const key = await queued(store, d, 't');
    await expect(r.taskRunner.run(key, 1)).rejects.toMatchObject({ name: 'TryInfrastructureError', where: 'reading XCom (the input)', started: false });
    expect(counter.t).toBe(0);
    expect(await store.getTaskInstance(key)).toMatchObject({ state: 'queued', tryNumber: 1, startDate: null });
    // Delivered again, it runs.
    expect(await r.taskRunner.run(key, 1)).toEqual({ kind: 'success' });
    expect(counter.t).toBe(1);
  });

  it('a mark-running whose answer was lost (it applied): the code does not run, the try is left to be settled', async () => {
    const counter = { t: 0 };
    const d = chainDag(counter);
    const { store } = faulty([{ method: 'updateTaskInstance', times: 1, applies: true, match: markingRunning('t') }]);
    const r = fakeRunner([d], { store, storeRetry: noWait });
    const key = await queued(store, d, 't');
    await expect(r.taskRunner.run(key, 1)).rejects.toMatchObject({ name: 'TryInfrastructureError', started: true });
    expect(counter.t).toBe(0);
    expect(await store.getTaskInstance(key)).toMatchObject({ state: 'running', tryNumber: 1 });
    // A second delivery finds it running: nothing runs (at most once per try number).
    expect(await r.taskRunner.run(key, 1)).toBeNull();
    expect(counter.t).toBe(0);
  });
});

describe('the LocalRunner recovers from a try that failed for an infrastructure reason', () => {
  it('not started: it is dispatched again after a backoff and runs as the same try', async () => {
    const counter = { t: 0 };
    const { store, failed } = faulty([{ method: 'updateTaskInstance', times: 6, match: markingRunning('t') }]);
    const r = fakeRunner([chainDag(counter)], { store, storeRetry: noWait });
    const report = await r.run({ dagId: 'faults' });
    expect(failed).toHaveLength(6);
    expect(states(report)).toEqual({ up: 'success', t: 'success' });
    expect(tries(report)).toEqual({ up: 1, t: 1 });
    expect(counter.t).toBe(1);
    expect(r.errors).toEqual([
      {
        run: { dagId: 'faults', runId: report.runId },
        where: "task 't'",
        error: 'TryInfrastructureError: store.updateTaskInstance (marking the try running) failed: StoreUnavailableError: injected: store.updateTaskInstance is unavailable',
      },
    ]);
  });

  it('put back in the queue (its input could not be read): it runs as the same try', async () => {
    const counter = { t: 0 };
    const { store } = faulty([{ method: 'getXCom', times: 6, match: (a) => a[1] === 'up' }]);
    const r = fakeRunner([chainDag(counter)], { store, storeRetry: noWait });
    const report = await r.run({ dagId: 'faults' });
    expect(states(report)).toEqual({ up: 'success', t: 'success' });
    expect(tries(report)).toEqual({ up: 1, t: 1 });
    expect(counter.t).toBe(1);
    expect(r.errors.map((e) => e.error)).toEqual(['TryInfrastructureError: reading XCom (the input) failed: StoreUnavailableError: injected: store.getXCom is unavailable']);
  });

  it('started (its result could not be stored): settled as a lost try, not as the task failing with the store error; the retry succeeds', async () => {
    const counter = { t: 0 };
    const { store } = faulty([{ method: 'putTryOutput', times: 6, match: outputOf('t') }]);
    const r = fakeRunner([chainDag(counter, 1)], { store, storeRetry: noWait });
    const report = await r.run({ dagId: 'faults' });
    expect(states(report)).toEqual({ up: 'success', t: 'success' });
    expect(tries(report)).toEqual({ up: 1, t: 2 });
    // Once per try number.
    expect(counter.t).toBe(2);
    const ti = await store.getTaskInstance({ dagId: 'faults', runId: report.runId, taskId: 't', mapIndex: -1 });
    expect(ti?.history?.map((h) => [h.tryNumber, h.state, errorText(h.error)])).toEqual([
      [1, 'failed', 'LostTryError: try 1 stopped without a result: store.putTryOutput failed: StoreUnavailableError: injected: store.putTryOutput is unavailable'],
    ]);
    expect(r.errors.map((e) => [e.where, e.error])).toEqual([["task 't'", 'TryInfrastructureError: store.putTryOutput failed: StoreUnavailableError: injected: store.putTryOutput is unavailable']]);
  });

  it('a mark-running that applied but whose answer was lost: its code never runs twice for one try number', async () => {
    const counter = { t: 0 };
    const { store } = faulty([{ method: 'updateTaskInstance', times: 1, applies: true, match: markingRunning('t') }]);
    const r = fakeRunner([chainDag(counter, 1)], { store, storeRetry: noWait });
    const report = await r.run({ dagId: 'faults' });
    expect(states(report)).toEqual({ up: 'success', t: 'success' });
    expect(tries(report)).toEqual({ up: 1, t: 2 });
    expect(counter.t).toBe(1);
    const ti = await store.getTaskInstance({ dagId: 'faults', runId: report.runId, taskId: 't', mapIndex: -1 });
    expect(errorText(ti?.history?.[0]?.error)).toBe(
      'LostTryError: try 1 stopped without a result: store.updateTaskInstance (marking the try running) failed: StoreUnavailableError: injected: store.updateTaskInstance is unavailable',
    );
  });
});
