import { describe, expect, it } from 'vitest';
import { formatError } from '../lib/error-info.ts';
import { batchJob, dag, sensor, task, triggerDag } from '../lib/index.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import { handleSchedulerRequest, handleTaskRunnerRequest, handleTrigger, type AwsServices } from '../lib/aws/handlers.ts';
import type { Dispatcher } from '../lib/aws/invocation-host.ts';
import type { LifecycleNext } from '../lib/aws/lifecycle.ts';
import type { BatchJobOutcome, BatchPrepareOutput, IteratePrepareOutput, SubmitJobParameters } from '../lib/compiler/contract.ts';
import { LocalBatch } from '../lib/executor/local-batch.ts';
import type { ArrayWave, TimerEvent, TryResult } from '../lib/scheduler/host.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import type { RunRef, TaskInstanceRecord } from '../lib/store/records.ts';
import { errorText } from './helpers.ts';

/**
 * Drives the real handler code the way the compiled lifecycle state machines do (the contract in
 * lib/aws/lifecycle.ts): run a try, report it, then run again, wait until a time, or stop. Step Functions
 * itself is stood in for by this loop; its own tests run the compiled ASL.
 */
function world(dags: Dag[]) {
  let now = Date.UTC(2026, 0, 1);
  const started: TaskInstanceRecord[] = [];
  const timers: { at: number; event: TimerEvent }[] = [];
  const waves: ArrayWave[] = [];
  let dropNextStart = false;
  const dispatcher: Dispatcher = {
    async startLifecycle(ti) {
      if (dropNextStart) {
        dropNextStart = false;
        return;
      }
      started.push(ti);
    },
    async startTimer(at, event) {
      timers.push({ at, event });
    },
    async startArrayWaves(w) {
      waves.push(...w);
    },
  };
  const byId = new Map(dags.map((d) => [d.dagId, d]));
  const svc: AwsServices = {
    store: new MemoryStateStore(),
    dags: { getDag: (id) => byId.get(id) },
    dispatcher,
    batch: new LocalBatch({ now: () => now, setTimer: () => undefined, onDone: () => undefined }),
    now: () => now,
  };
  const sync = new Map<string, (job: SubmitJobParameters) => BatchJobOutcome>();

  /**
   * One lifecycle execution, as the shared machine of its task runs it: the steps that end a try (`run`,
   * `poke`, `batch_complete`, `iterate_complete`) report it themselves; only a sensor's machine follows the
   * reply (its next poke in the same execution); the others end, what comes next starting anew.
   */
  async function lifecycle(ti: TaskInstanceRecord): Promise<void> {
    const dag = byId.get(ti.dagId)!;
    const spec = dag.task(ti.taskId);
    let tryNumber = ti.tryNumber;
    const key = { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex };
    if (spec.kind === 'batch') {
      const prep = (await handleTaskRunnerRequest({ mode: 'batch_prepare', key, tryNumber }, svc)) as BatchPrepareOutput;
      if (prep.submit) await handleTaskRunnerRequest({ mode: 'batch_complete', key, tryNumber, job: sync.get(spec.taskId)!(prep.submit) }, svc);
      return;
    }
    if (spec.kind === 'task' && spec.iterate) {
      const prep = (await handleTaskRunnerRequest({ mode: 'iterate_prepare', key, tryNumber }, svc)) as IteratePrepareOutput;
      if (prep.items === null) return;
      for (const index of prep.items) {
        for (let itemTry = 1; itemTry <= spec.iterate.itemRetries + 1; itemTry++) {
          const ok = await handleTaskRunnerRequest({ mode: 'item', key, tryNumber, index, itemTry }, svc).then(() => true, () => false);
          if (ok) break;
        }
      }
      await handleTaskRunnerRequest({ mode: 'iterate_complete', key, tryNumber }, svc);
      return;
    }
    if (spec.kind !== 'sensor') {
      expect(await handleTaskRunnerRequest({ mode: 'run', key, tryNumber }, svc)).toStrictEqual({ action: 'done' });
      return;
    }
    for (let guard = 0; guard < 100; guard++) {
      let next = (await handleTaskRunnerRequest({ mode: 'poke', key, tryNumber }, svc)) as LifecycleNext;
      while (next.action === 'wait') {
        now = Math.max(now, Date.parse(next.at));
        next = (await handleSchedulerRequest({ type: 'timer', event: next.event }, svc)) as LifecycleNext;
      }
      if (next.action === 'done') return;
      tryNumber = next.tryNumber;
    }
    throw new Error('lifecycle did not end');
  }

  async function drain(): Promise<void> {
    for (let guard = 0; guard < 1000 && (started.length || timers.length); guard++) {
      const ti = started.shift();
      if (ti) {
        await lifecycle(ti);
        continue;
      }
      timers.sort((a, b) => a.at - b.at);
      const t = timers.shift()!;
      now = Math.max(now, t.at);
      await handleSchedulerRequest({ type: 'timer', event: t.event, standalone: true }, svc);
    }
  }

  return { svc, started, timers, sync, drain, dropNextStart: () => (dropNextStart = true), advance: (ms: number) => (now += ms) };
}

const tiStates = async (svc: AwsServices, run: RunRef) =>
  Object.fromEntries((await svc.store.listTaskInstances(run)).map((t) => [t.mapIndex < 0 ? t.taskId : `${t.taskId}[${t.mapIndex}]`, `${t.state}/${t.tryNumber}`]));

describe('the deployed handlers, driven as the lifecycle state machines drive them', () => {
  it('a retried Lambda task, a sensor, a Batch job (.sync), an iteration with partial retry, a triggered DAG', async () => {
    let flaky = 0;
    const itemCalls = new Map<number, number>();
    const child = dag({ dagId: 'child_aws', params: { n: { type: 'integer', default: 1 } } }, ({ task }) => {
      task('double', (ctx) => ctx.params.n * 2);
    });
    const d = dag({ dagId: 'aws_shape', defaultArgs: { retries: 1, retryDelay: '30s' } }, () => {
      const a = task('flaky', () => {
        if (++flaky === 1) throw new Error('first try fails');
        return 5;
      });
      let pokes = 0;
      const s = sensor('wait', () => ++pokes >= 3, { pokeInterval: '1m' }).after(a);
      const job = batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', command: ['solve', '--n'], environment: { MODE: 'fast' } }).after(s);
      const it = task('items', (ctx, x: number) => {
        itemCalls.set(x, (itemCalls.get(x) ?? 0) + 1);
        if (x === 2 && ctx.tryNumber === 1) throw new Error('item 2 fails on try 1');
        return x * 10;
      }).iterate([0, 1, 2, 3], { concurrency: 2 });
      it.after(job);
      triggerDag('child', { triggerDagId: 'child_aws', conf: { n: a }, waitForCompletion: true }).after(it);
    });
    const w = world([d, child]);
    const submitted: SubmitJobParameters[] = [];
    w.sync.set('job', (params) => {
      submitted.push(params);
      return { JobId: 'job-1', JobName: params.JobName, Status: 'SUCCEEDED', Container: { ExitCode: 0 } };
    });
    const run = await handleTrigger({ dagId: 'aws_shape', runId: 'r1' }, w.svc);
    expect(run.state).toBe('running');
    await w.drain();
    expect((await w.svc.store.getRun({ dagId: 'aws_shape', runId: 'r1' }))?.state).toBe('success');
    expect(await tiStates(w.svc, { dagId: 'aws_shape', runId: 'r1' })).toEqual({
      flaky: 'success/2',
      wait: 'success/1',
      job: 'success/1',
      items: 'success/2',
      child: 'success/1',
    });
    expect(submitted).toEqual([
      {
        JobName: 'aws_shape-job-r1-try1',
        JobQueue: 'q',
        JobDefinition: 'jd',
        ContainerOverrides: { Command: ['solve', '--n'], Environment: [{ Name: 'MODE', Value: 'fast' }] },
        ArrayProperties: {},
        // No executionTimeout: no Timeout for Batch to enforce.
        Timeout: {},
      },
    ]);
    expect(Object.fromEntries(itemCalls)).toEqual({ 0: 1, 1: 1, 2: 2, 3: 1 });
    expect((await w.svc.store.getXCom({ dagId: 'aws_shape', runId: 'r1' }, 'items', -1, 'return_value'))?.value).toEqual([0, 10, 20, 30]);
    const childRun = (await w.svc.store.listRuns({ dagId: 'child_aws' }))[0]!;
    expect((await w.svc.store.getXCom(childRun, 'double', -1, 'return_value'))?.value).toBe(10);
  });

  it('a failed Batch job is retried as a new submission, then fails the task', async () => {
    const d = dag({ dagId: 'batch_fail', defaultArgs: { retries: 1, retryDelay: '10s' } }, () => {
      batchJob('job', { jobQueue: 'q', jobDefinition: 'jd' });
    });
    const w = world([d]);
    const names: unknown[] = [];
    w.sync.set('job', (p) => {
      names.push(p.JobName);
      return { Error: 'States.TaskFailed', Cause: JSON.stringify({ JobId: 'j', JobName: p.JobName, Status: 'FAILED', StatusReason: 'Essential container in task exited', Container: { ExitCode: 2 } }) };
    });
    await handleTrigger({ dagId: 'batch_fail', runId: 'r2' }, w.svc);
    await w.drain();
    expect(await tiStates(w.svc, { dagId: 'batch_fail', runId: 'r2' })).toEqual({ job: 'failed/2' });
    expect(names).toEqual(['batch_fail-job-r2-try1', 'batch_fail-job-r2-try2']);
    const ti = await w.svc.store.getTaskInstance({ dagId: 'batch_fail', runId: 'r2', taskId: 'job', mapIndex: -1 });
    expect(errorText(ti?.error)).toBe('Error: Batch job batch_fail-job-r2-try2 (j) failed: Essential container in task exited');
  });

  it('a Batch try prepared twice (its Express machine started again by a repeated dispatch) resolves the same job and logs its start once', async () => {
    const d = dag({ dagId: 'batch_twice' }, () => {
      batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', command: ['run', '--all'] });
    });
    const w = world([d]);
    await handleTrigger({ dagId: 'batch_twice', runId: 'r3' }, w.svc);
    const key = { dagId: 'batch_twice', runId: 'r3', taskId: 'job', mapIndex: -1 };
    const first = (await handleTaskRunnerRequest({ mode: 'batch_prepare', key, tryNumber: 1 }, w.svc)) as BatchPrepareOutput;
    const second = (await handleTaskRunnerRequest({ mode: 'batch_prepare', key, tryNumber: 1 }, w.svc)) as BatchPrepareOutput;
    expect(first.submit?.JobName).toBe('batch_twice-job-r3-try1');
    expect(second).toStrictEqual(first);
    expect((await w.svc.store.getLog(key, 1)).map((l) => l.message)).toStrictEqual([
      'starting try 1 of 1',
      'submitting Batch job batch_twice-job-r3-try1: run --all',
    ]);
    const job = { JobId: 'j', JobName: 'batch_twice-job-r3-try1', Status: 'SUCCEEDED', Container: { ExitCode: 0 } };
    await handleTaskRunnerRequest({ mode: 'batch_complete', key, tryNumber: 1, job }, w.svc);
    expect(await tiStates(w.svc, { dagId: 'batch_twice', runId: 'r3' })).toEqual({ job: 'success/1' });
  });

  it('a lost lifecycle start is repaired by the reconcile; reconciling again changes nothing', async () => {
    const d = dag({ dagId: 'lost' }, () => {
      const a = task('a', () => 1);
      task('b', (_c, x: number) => x + 1)(a);
    });
    const w = world([d]);
    await handleTrigger({ dagId: 'lost', runId: 'r3' }, w.svc);
    const first = w.started.shift()!;
    w.dropNextStart();
    // Run a's try (which reports itself); the start of b's lifecycle is lost.
    expect(await handleTaskRunnerRequest({ mode: 'run', key: first, tryNumber: 1 }, w.svc)).toStrictEqual({ action: 'done' });
    expect(w.started).toHaveLength(0);
    expect(await tiStates(w.svc, { dagId: 'lost', runId: 'r3' })).toEqual({ a: 'success/1', b: 'queued/1' });
    w.advance(10 * 60_000);
    const rec = (await handleSchedulerRequest({ type: 'reconcile' }, w.svc)) as { reconciled: { redispatched: number }[] };
    expect(rec.reconciled.map((r) => r.redispatched)).toEqual([1]);
    await w.drain();
    expect(await tiStates(w.svc, { dagId: 'lost', runId: 'r3' })).toEqual({ a: 'success/1', b: 'success/1' });
    expect((await w.svc.store.getRun({ dagId: 'lost', runId: 'r3' }))?.state).toBe('success');
    const again = (await handleSchedulerRequest({ type: 'reconcile', runs: [{ dagId: 'lost', runId: 'r3' }] }, w.svc)) as { reconciled: { redispatched: number; finalized: boolean }[] };
    expect(again.reconciled).toEqual([{ dagId: 'lost', runId: 'r3', redispatched: 0, timersDelivered: 0, resumed: 0, evaluated: 0, failedStopped: 0, slotsFreed: 0, finalized: false }]);
    expect(w.started).toHaveLength(0);
  });

  it('a try whose lifecycle stopped without reporting is failed (and retried) by the reconcile', async () => {
    const d = dag({ dagId: 'stopped', defaultArgs: { retries: 1, retryDelay: '1s' } }, () => {
      task('a', () => 'ok');
    });
    const w = world([d]);
    w.svc.tryStopped = async (ti) => (ti.tryNumber === 1 ? 'lifecycle execution TIMED_OUT' : null);
    const retried: (string | null)[] = [];
    w.svc.onEvent = (e) => {
      if (e.type === 'ti' && e.ti.state === 'up_for_retry') retried.push(e.ti.error && formatError(e.ti.error));
    };
    await handleTrigger({ dagId: 'stopped', runId: 'r4' }, w.svc);
    const ti = w.started.shift()!;
    // The try starts, then its Lambda and lifecycle die without a report.
    await w.svc.store.updateTaskInstance(ti, { states: ['queued'], tryNumber: 1 }, { state: 'running' });
    w.advance(10 * 60_000);
    await handleSchedulerRequest({ type: 'reconcile' }, w.svc);
    await w.drain();
    expect(await tiStates(w.svc, { dagId: 'stopped', runId: 'r4' })).toEqual({ a: 'success/2' });
    expect(retried).toEqual(['LostTryError: lifecycle execution TIMED_OUT']);
    const ti2 = await w.svc.store.getTaskInstance({ dagId: 'stopped', runId: 'r4', taskId: 'a', mapIndex: -1 });
    expect(ti2?.error).toBeNull();
    expect((await w.svc.store.getRun({ dagId: 'stopped', runId: 'r4' }))?.state).toBe('success');
  });

  it('a replayed report or timer changes nothing; a duplicate start of a try runs nothing', async () => {
    const d = dag({ dagId: 'replayed', defaultArgs: { retries: 1, retryDelay: '90s' } }, () => {
      task('a', (ctx) => {
        if (ctx.tryNumber === 1) throw new Error('once');
        return 1;
      });
      let pokes = 0;
      sensor('s', () => ++pokes >= 2, { pokeInterval: '1m' });
    });
    const w = world([d]);
    await handleTrigger({ dagId: 'replayed', runId: 'r5' }, w.svc);
    const ti = w.started.find((t) => t.taskId === 'a')!;
    const key = { dagId: 'replayed', runId: 'r5', taskId: 'a', mapIndex: -1 };
    // The try runs and reports itself; its retry waits in a timer execution, not in its lifecycle.
    expect(await handleTaskRunnerRequest({ mode: 'run', key: ti, tryNumber: 1 }, w.svc)).toStrictEqual({ action: 'done' });
    expect(w.timers).toEqual([{ at: Date.parse('2026-01-01T00:01:30Z'), event: { type: 'retry', key, tryNumber: 1 } }]);
    // The invocation failing after its report (say): the machine's Report delivers a failure of the same
    // try again, which changes nothing.
    const failure: TryResult = { kind: 'failure', error: { name: 'Error', message: 'Lambda.Unknown' }, retriable: true };
    expect(await handleSchedulerRequest({ type: 'try_finished', key: ti, tryNumber: 1, result: failure }, w.svc)).toEqual({ action: 'done' });
    expect(await tiStates(w.svc, { dagId: 'replayed', runId: 'r5' })).toMatchObject({ a: 'up_for_retry/1' });
    // A duplicate start of the same try runs nothing.
    expect(await handleTaskRunnerRequest({ mode: 'run', key: ti, tryNumber: 1 }, w.svc)).toStrictEqual({ action: 'done' });
    w.advance(90_000);
    const event = w.timers.shift()!.event;
    await handleSchedulerRequest({ type: 'timer', event, standalone: true }, w.svc);
    await handleSchedulerRequest({ type: 'timer', event, standalone: true }, w.svc);
    expect(await tiStates(w.svc, { dagId: 'replayed', runId: 'r5' })).toMatchObject({ a: 'queued/2' });
    expect(w.started.filter((t) => t.taskId === 'a').map((t) => t.tryNumber)).toEqual([1, 2]);

    // A sensor's machine follows the reply: a poke that is not done waits in its execution; a replayed
    // timer gets the same reply as the first delivery.
    const sKey = { dagId: 'replayed', runId: 'r5', taskId: 's', mapIndex: -1 };
    const poke = (await handleTaskRunnerRequest({ mode: 'poke', key: sKey, tryNumber: 1 }, w.svc)) as LifecycleNext;
    expect(poke).toMatchObject({ action: 'wait', event: { type: 'resume', key: sKey, tryNumber: 1 } });
    w.advance(60_000);
    const resumed = await handleSchedulerRequest({ type: 'timer', event: (poke as { event: TimerEvent }).event }, w.svc);
    expect(resumed).toEqual({ action: 'run', tryNumber: 1 });
    expect(await handleSchedulerRequest({ type: 'timer', event: (poke as { event: TimerEvent }).event }, w.svc)).toEqual(resumed);
  });
});
