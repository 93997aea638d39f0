import { describe, expect, it } from 'vitest';
import { dag, task } from '../lib/index.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import { effectsLeftBy, type Effect } from '../lib/scheduler/effects.ts';
import { Scheduler } from '../lib/scheduler/scheduler.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import type { TiKey } from '../lib/store/records.ts';
import type { StateStore } from '../lib/store/state-store.ts';

const boom = { name: 'Error', message: 'boom' };

// The scheduler alone, with no host: every entry point returns what it asks for, as data.

const T0 = Date.UTC(2026, 0, 1);

function setup(d: Dag, store: StateStore = new MemoryStateStore()) {
  let now = T0;
  const scheduler = new Scheduler(store, { getDag: (id) => (id === d.dagId ? d : undefined) }, { now: () => now });
  return { store, scheduler, advance: (ms: number) => (now += ms), now: () => now };
}

/** The effects that are not emits, in a short form: `dispatch a#1`, `timer retry a@<ms>`, ... */
function asked(effects: readonly Effect[]): string[] {
  return effects.flatMap((e) => {
    switch (e.type) {
      case 'dispatch':
        return [`dispatch ${e.ti.taskId}#${e.ti.tryNumber}`];
      case 'dispatchWave':
        return [`wave ${e.wave.array.taskId}/${e.wave.array.group}#${e.wave.tryNumber}`];
      case 'timer':
        return [`timer ${e.event.type} @${e.at - T0}`];
      case 'stopRunnable':
        return [`stop ${e.jobName}`];
      case 'cancelRun':
        return [`cancel ${e.run.runId}`];
      case 'sendTaskSuccess':
        return [`send task success ${e.token}`];
      case 'emit':
        return [];
    }
  });
}

function emitted(effects: readonly Effect[]): string[] {
  return effects.flatMap((e) => (e.type !== 'emit' ? [] : e.event.type === 'ti' ? [`ti ${e.event.ti.taskId} ${e.event.ti.state}`] : e.event.type === 'run' ? [`run ${e.event.run.state}`] : [`error ${e.event.where}`]));
}

async function start(store: StateStore, key: TiKey, tryNumber: number, at: number): Promise<void> {
  await store.updateTaskInstance(key, { states: ['queued'], tryNumber }, { state: 'running', startDate: new Date(at).toISOString() });
}

const chain = dag({ dagId: 'fx_chain', defaultArgs: { retries: 1, retryDelay: '10s' }, dagrunTimeout: '1h' }, () => {
  const a = task('a', () => 1);
  task('b', () => 2).after(a);
});

describe('the scheduler returns effects', () => {
  it('a trigger: the run starts, its root is dispatched, its dagrun timeout is set; every change is told', async () => {
    const { scheduler } = setup(chain);
    const { value: run, effects } = await scheduler.triggerRun({ dagId: 'fx_chain', runId: 'r' });
    expect(run.state).toBe('running');
    expect(asked(effects)).toEqual(['timer run_timeout @3600000', 'dispatch a#1']);
    expect(emitted(effects)).toEqual(['run queued', 'run running', 'ti a scheduled', 'ti a queued']);
  });

  it("a try's success dispatches its successor; a failure with retries left asks for a retry timer at its delay", async () => {
    const { store, scheduler, advance, now } = setup(chain);
    await scheduler.triggerRun({ dagId: 'fx_chain', runId: 'r' });
    const a = { dagId: 'fx_chain', runId: 'r', taskId: 'a', mapIndex: -1 };
    await start(store, a, 1, now());
    advance(1000);
    const ok = await scheduler.handleTryResult(a, 1, { kind: 'success' });
    expect(asked(ok.effects)).toEqual(['dispatch b#1']);
    expect(emitted(ok.effects)).toEqual(['ti a success', 'ti b scheduled', 'ti b queued']);

    const b = { ...a, taskId: 'b' };
    await start(store, b, 1, now());
    const failed = await scheduler.handleTryResult(b, 1, { kind: 'failure', error: boom, retriable: true });
    expect(asked(failed.effects)).toEqual(['timer retry @11000']);
    // Delivered again, the result changes nothing and asks for the same timer (a replay finishes what the first began).
    expect(asked((await scheduler.handleTryResult(b, 1, { kind: 'failure', error: boom, retriable: true })).effects)).toEqual(['timer retry @11000']);

    advance(10_000);
    const retried = await scheduler.onTimer({ type: 'retry', key: b, tryNumber: 1 });
    expect(asked(retried.effects)).toEqual(['dispatch b#2']);
  });

  it('a dagrun timeout stops the run: its work in flight is cancelled, what is unfinished skipped', async () => {
    const { scheduler, advance } = setup(chain);
    await scheduler.triggerRun({ dagId: 'fx_chain', runId: 'r' });
    advance(3_600_000);
    const out = await scheduler.onTimer({ type: 'run_timeout', dagId: 'fx_chain', runId: 'r' });
    expect(asked(out.effects)).toEqual(['cancel r']);
    expect(emitted(out.effects)).toEqual(['ti a skipped', 'run failed']);
  });

  it('a callback that throws is told as an error effect, not thrown', async () => {
    const d = dag({ dagId: 'fx_cb' }, () => {
      task('a', () => 1, {
        onSuccess: () => {
          throw new Error('callback broke');
        },
      });
    });
    const { store, scheduler, now } = setup(d);
    await scheduler.triggerRun({ dagId: 'fx_cb', runId: 'r' });
    const a = { dagId: 'fx_cb', runId: 'r', taskId: 'a', mapIndex: -1 };
    await start(store, a, 1, now());
    const out = await scheduler.handleTryResult(a, 1, { kind: 'success' });
    expect(emitted(out.effects)).toEqual(["error task 'a' onSuccess callback", 'ti a success', 'run success']);
  });

  it('root tasks decided together are dispatched once each, holding their slots; past maxActiveTasks the rest wait and are woken one by one', async () => {
    const wide = dag({ dagId: 'fx_wide', maxActiveTasks: 3 }, () => {
      for (const id of ['a', 'b']) task(id, () => 1);
    });
    const two = setup(wide);
    const { effects } = await two.scheduler.triggerRun({ dagId: 'fx_wide', runId: 'r' });
    expect(asked(effects)).toEqual(['dispatch a#1', 'dispatch b#1']);
    expect(emitted(effects)).toEqual(['run queued', 'run running', 'ti a scheduled', 'ti b scheduled', 'ti a queued', 'ti b queued']);
    expect([...(await two.store.semaphoreHolders('dag:fx_wide')).keys()].sort()).toEqual(['ti/fx_wide/r/a/-1/1', 'ti/fx_wide/r/b/-1/1']);

    const five = dag({ dagId: 'fx_five', maxActiveTasks: 3 }, () => {
      for (const id of ['a', 'b', 'c', 'd', 'e']) task(id, () => 1);
    });
    const { store, scheduler } = setup(five);
    const first = await scheduler.triggerRun({ dagId: 'fx_five', runId: 'r' });
    // Refused together (5 > 3), taken one by one: the first three run, the others wait.
    expect(asked(first.effects)).toEqual(['dispatch a#1', 'dispatch b#1', 'dispatch c#1']);
    expect((await store.semaphoreHolders('dag:fx_five')).size).toBe(3);
    const k = (taskId: string): TiKey => ({ dagId: 'fx_five', runId: 'r', taskId, mapIndex: -1 });
    await start(store, k('a'), 1, T0);
    const done = await scheduler.handleTryResult(k('a'), 1, { kind: 'success' });
    expect(asked(done.effects)).toEqual(['dispatch d#1']);
    expect([...(await store.semaphoreHolders('dag:fx_five')).keys()].sort()).toEqual(['ti/fx_five/r/b/-1/1', 'ti/fx_five/r/c/-1/1', 'ti/fx_five/r/d/-1/1']);
  });

  it("a report given what its try's runner saw reads neither the instance nor the run again; a stale one is refused by the store, which is then read", async () => {
    const store = new MemoryStateStore();
    const reads: string[] = [];
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (prop === 'getTaskInstanceAndRun' || prop === 'getTaskInstance' || prop === 'getRun') reads.push(prop);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const { scheduler } = setup(chain, counting);
    await scheduler.triggerRun({ dagId: 'fx_chain', runId: 'r' });
    const k = (taskId: string): TiKey => ({ dagId: 'fx_chain', runId: 'r', taskId, mapIndex: -1 });
    const seenOf = async (key: TiKey) => ({ ti: (await store.getTaskInstance(key))!, run: (await store.getRun(key))! });
    await start(store, k('a'), 1, T0);
    const seenA = await seenOf(k('a'));
    reads.length = 0;
    const a = await scheduler.handleTryResult(k('a'), 1, { kind: 'success' }, seenA);
    expect(reads).toEqual([]);
    expect(asked(a.effects)).toEqual(['dispatch b#1']);
    expect((await store.getTaskInstance(k('a')))?.state).toBe('success');

    await start(store, k('b'), 1, T0);
    const seenB = await seenOf(k('b'));
    await scheduler.handleTryResult(k('b'), 1, { kind: 'success' });
    expect((await store.getRun(k('b')))?.state).toBe('success');
    reads.length = 0;
    const again = await scheduler.handleTryResult(k('b'), 1, { kind: 'failure', error: boom, retriable: true }, seenB);
    expect(reads).toEqual(['getTaskInstanceAndRun']);
    expect(asked(again.effects)).toEqual([]);
    expect(await store.getTaskInstance(k('b'))).toMatchObject({ state: 'success', tryNumber: 1 });
  });

  it('a step that throws part way leaves what it had decided on the error, for the host to carry out', async () => {
    const d = dag({ dagId: 'fx_two' }, () => {
      task('a', () => 1);
      // Mapped, so decided on its own after a (tasks that simply run are created together).
      task('b', (_c, x: number) => x).expand([2]);
    });
    const store = new MemoryStateStore();
    // b's instance cannot be created: a's instance was created and queued before.
    const broken = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'createTaskInstances') {
          return async (tis: { taskId: string }[]) => {
            if (tis.some((ti) => ti.taskId === 'b')) throw new Error('disk full');
            return target.createTaskInstances(tis as never);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const { scheduler } = setup(d, broken);
    const error = await scheduler.triggerRun({ dagId: 'fx_two', runId: 'r' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(asked(effectsLeftBy(error))).toEqual(['dispatch a#1']);
    // Handed out once.
    expect(effectsLeftBy(error)).toEqual([]);
  });
});
