import type { Dag } from '../authoring/dag.ts';
import { isDag } from '../authoring/dag.ts';
import { DagNotFoundError, errorMessage } from '../errors.ts';
import { resolveParams } from '../core/params.ts';
import { childOutcomes } from '../core/arrays.ts';
import { isTerminalRunState } from '../model/states.ts';
import type { RunState, TiState } from '../model/states.ts';
import { LocalBatch } from '../executor/local-batch.ts';
import { InputResolver } from '../executor/resolve.ts';
import { currentTryLog, TaskRunner } from '../executor/task-runner.ts';
import { timerRun, type ArrayWave, type DagResolver, type SchedulerEvent, type SchedulerHost, type TimerEvent, type TryResult } from '../scheduler/host.ts';
import { Scheduler, type TriggerRequest } from '../scheduler/scheduler.ts';
import { MemoryStateStore } from '../store/memory-store.ts';
import { newTaskInstance, pipelineScopeOf, runKeyText, runRefOf, type DagRunRecord, type LogLine, type RunRef, type TaskInstanceRecord, type TiKey } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import { FakeClock, RealClock, type Clock } from './clock.ts';

export type RunnerEvent = SchedulerEvent | { type: 'log'; key: TiKey; tryNumber: number; line: LogLine };

export interface LocalRunnerOptions {
  /** The DAGs this runner knows (triggered DAGs must be among them). */
  dags: readonly Dag[] | DagResolver;
  /** Default: a new in-memory store. */
  store?: StateStore;
  /** Default: the real clock. A FakeClock skips ahead whenever nothing is running. */
  clock?: Clock;
  /** Pools by name: slots. 'default_pool' has 128 unless given. */
  pools?: Record<string, number>;
  /** Route console output of task code into the try's log. Default true. */
  captureConsole?: boolean;
  onEvent?(e: RunnerEvent): void;
}

export interface TaskReport {
  taskId: string;
  mapIndex: number | null;
  state: TiState | null;
  tryNumber: number;
}

export interface TaskTestResult {
  /** The throwaway run the task ran in. */
  runId: string;
  outcome: TryResult;
  /** The task's result (XCom return value), null if none. */
  value: unknown;
  log: LogLine[];
}

export interface RunReport {
  dagId: string;
  runId: string;
  state: RunState;
  tasks: TaskReport[];
  triggeredRuns?: RunReport[];
}

class DagList implements DagResolver {
  private readonly byId = new Map<string, Dag>();
  constructor(dags: readonly Dag[]) {
    for (const d of dags) {
      if (!isDag(d)) throw new TypeError('LocalRunner: dags must be Dag objects made by dag()');
      this.byId.set(d.dagId, d);
    }
  }
  getDag(dagId: string): Dag | undefined {
    return this.byId.get(dagId);
  }
}

let consolePatched = false;
function patchConsole(): void {
  if (consolePatched) return;
  consolePatched = true;
  const levels = { log: 'info', info: 'info', debug: 'info', warn: 'warn', error: 'error' } as const;
  for (const [method, level] of Object.entries(levels)) {
    const original = (console as unknown as Record<string, (...a: unknown[]) => void>)[method]!.bind(console);
    (console as unknown as Record<string, (...a: unknown[]) => void>)[method] = (...args: unknown[]) => {
      const write = currentTryLog.getStore();
      if (!write) return original(...args);
      write(level, args.map((a) => (typeof a === 'string' ? a : (() => { try { return JSON.stringify(a); } catch { return String(a); } })())).join(' '));
    };
  }
}

/**
 * Runs DAGs in this process: task code runs here (so breakpoints work), sensors, retry delays and Batch
 * jobs wait on timers, triggered DAGs run in the same runner. The scheduler is the one the Lambda
 * handlers use; this class is only its host.
 */
export class LocalRunner {
  readonly store: StateStore;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly taskRunner: TaskRunner;
  readonly batch: LocalBatch;
  private readonly dags: DagResolver;
  private inflight = 0;
  /** Set by {@link close}: nothing more starts. */
  private closed = false;
  private idleCheck = false;
  private readonly idleWaiters: (() => void)[] = [];
  // By run (`runKeyText`): waiters, the runs it triggered, its timers, its tries' abort controller.
  private readonly runWaiters = new Map<string, ((r: DagRunRecord) => void)[]>();
  private readonly children = new Map<string, RunRef[]>();
  private readonly timers = new Map<string, Set<() => void>>();
  private readonly cancels = new Map<string, AbortController>();
  private readonly listeners: ((e: RunnerEvent) => void)[] = [];
  /** Internal errors (a bug or a store failure), kept so that none is swallowed. */
  readonly errors: { run: RunRef | null; where: string; error: string }[] = [];

  constructor(options: LocalRunnerOptions) {
    this.dags = Array.isArray(options.dags) ? new DagList(options.dags) : (options.dags as DagResolver);
    this.store = options.store ?? new MemoryStateStore();
    this.clock = options.clock ?? new RealClock();
    if (options.onEvent) this.listeners.push(options.onEvent);
    if (options.captureConsole ?? true) patchConsole();
    const resolver = new InputResolver(this.store);
    const host: SchedulerHost = {
      now: () => this.clock.now(),
      dispatch: (ti) => this.dispatch(ti),
      dispatchArray: (wave) => this.dispatchArray(wave),
      stopRunnable: (queue, name, reason) => this.batch.stopRunnable(queue, name, reason),
      setTimer: (at, event) => this.setTimer(at, event),
      cancelRun: (run) => this.cancels.get(runKeyText(run))?.abort(new Error('the run was stopped: dagrun timeout')),
      externalDone: async (_kind, id) => this.batch.isDone(id),
      emit: (e) => this.emit(e),
    };
    this.scheduler = new Scheduler(this.store, this.dags, host, resolver);
    this.batch = new LocalBatch({
      now: () => this.clock.now(),
      setTimer: (at, fn) => void this.clock.setTimer(at, () => void this.track(null, 'batch job end', async () => fn())),
      onDone: (owner, status) =>
        void this.track(runRefOf(owner.key), 'batch job end', async () => {
          if (!owner.wave) return this.scheduler.resumeDeferred(owner.key, owner.tryNumber);
          const result = await this.batch.waveResult(status.jobId, owner.wave.mapIndexes.length);
          await this.scheduler.handleArrayResult(owner.wave.array, owner.tryNumber, childOutcomes(owner.wave.mapIndexes, result));
        }),
      track: (p) => this.track(null, 'batch process', () => p),
    });
    this.taskRunner = new TaskRunner(
      this.store,
      this.dags,
      {
        now: () => this.clock.now(),
        triggerRun: (req) => this.scheduler.triggerRun(req),
        batch: this.batch,
        onState: (ti) => this.emit({ type: 'ti', ti }),
        onLog: (key, tryNumber, line) => this.emit({ type: 'log', key, tryNumber, line }),
      },
      resolver,
    );
    this.poolsReady = this.setPools(options.pools ?? {});
  }

  private readonly poolsReady: Promise<void>;
  private async setPools(pools: Record<string, number>): Promise<void> {
    for (const [name, slots] of Object.entries(pools)) {
      if (!Number.isInteger(slots) || slots < 1) throw new Error(`pool '${name}': slots must be an integer >= 1, got ${slots}`);
      await this.store.putPool({ name, slots, description: '' });
    }
  }

  on(listener: (e: RunnerEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private emit(e: RunnerEvent): void {
    if (e.type === 'run') {
      const id = runKeyText(e.run);
      if (e.run.parent) {
        const parent = runKeyText(e.run.parent);
        const list = this.children.get(parent) ?? [];
        if (!list.some((c) => runKeyText(c) === id)) list.push(runRefOf(e.run));
        this.children.set(parent, list);
      }
      if (isTerminalRunState(e.run.state)) {
        for (const cancel of this.timers.get(id) ?? []) cancel();
        this.timers.delete(id);
        this.cancels.delete(id);
        const w = this.runWaiters.get(id) ?? [];
        this.runWaiters.delete(id);
        for (const f of w) f(e.run);
      }
    }
    if (e.type === 'error') this.errors.push({ run: e.run, where: e.where, error: errorMessage(e.error) });
    // Listeners run outside the task's log context (their console output is theirs), and a listener
    // that throws cannot fail a task or the scheduler: its error goes to stderr.
    for (const l of this.listeners) {
      currentTryLog.exit(() => {
        try {
          l(e);
        } catch (err) {
          process.stderr.write(`airless: an event listener threw: ${errorMessage(err)}\n`);
        }
      });
    }
  }

  /** Run work, counting it in flight; an error in it is reported and fails its run, never lost. */
  private track<T>(run: RunRef | null, where: string, work: () => Promise<T>): Promise<T | undefined> {
    this.inflight++;
    return work()
      .catch(async (e: unknown) => {
        this.emit({ type: 'error', run, error: e, where });
        if (run) {
          // Fail the run as any run ends (callbacks, parent, maxActiveRuns unit); if even that fails, say so.
          await this.scheduler.failRun(run, `internal error in ${where}: ${errorMessage(e)}`).catch((e2: unknown) => {
            this.emit({ type: 'error', run, error: e2, where: `failing run ${run.runId} of DAG '${run.dagId}' after an internal error` });
          });
        }
        return undefined;
      })
      .finally(() => {
        this.inflight--;
        if (this.inflight === 0) this.scheduleIdleCheck();
      });
  }

  private scheduleIdleCheck(): void {
    if (this.idleCheck) return;
    this.idleCheck = true;
    setImmediate(() => {
      this.idleCheck = false;
      if (this.inflight > 0) return;
      if (this.clock instanceof FakeClock && this.clock.advanceToNext()) {
        if (this.inflight === 0) this.scheduleIdleCheck();
        return;
      }
      if (this.clock.pendingTimers === 0) {
        const w = this.idleWaiters.splice(0);
        for (const f of w) f();
      }
    });
  }

  private dispatch(ti: TaskInstanceRecord): void {
    if (this.closed) return;
    const key = { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex };
    const run = runRefOf(ti);
    let ac = this.cancels.get(runKeyText(run));
    if (!ac) this.cancels.set(runKeyText(run), (ac = new AbortController()));
    const signal = ac.signal;
    void this.track(run, `task '${ti.taskId}'`, async () => {
      await new Promise<void>((r) => setImmediate(r));
      const result = await this.taskRunner.run(key, ti.tryNumber, signal);
      if (result) await this.scheduler.handleTryResult(key, ti.tryNumber, result);
    });
  }

  /** Start an array wave: submit its instances as one local array job; its end settles each child. */
  private dispatchArray(wave: ArrayWave): void {
    if (this.closed) return;
    const { array, tryNumber } = wave;
    void this.track(runRefOf(array), `task '${array.taskId}' (array group ${array.group})`, async () => {
      await new Promise<void>((r) => setImmediate(r));
      const prepared = await this.taskRunner.prepareArrayWave(array, tryNumber);
      if (!prepared) return;
      const key = { dagId: array.dagId, runId: array.runId, taskId: array.taskId, mapIndex: prepared.mapIndexes[0]! };
      if ('error' in prepared) {
        const failed = new Map(prepared.mapIndexes.map((_, i) => [i, { exitCode: null, reason: prepared.error }]));
        const result = { jobId: '', jobName: '', status: 'FAILED' as const, failed, reason: prepared.error };
        await this.scheduler.handleArrayResult(array, tryNumber, childOutcomes(prepared.mapIndexes, result));
        return;
      }
      await this.batch.submit(prepared.submission, { key, tryNumber, wave: { array, mapIndexes: prepared.mapIndexes } });
    });
  }

  private setTimer(at: number, event: TimerEvent): void {
    if (this.closed) return;
    const run = timerRun(event);
    let set = this.timers.get(runKeyText(run));
    if (!set) this.timers.set(runKeyText(run), (set = new Set()));
    const s = set;
    const cancel = this.clock.setTimer(at, () => {
      s.delete(cancel);
      void this.track(run, `timer ${event.type}`, () => this.scheduler.onTimer(event));
    });
    s.add(cancel);
  }

  /** Create a run (validating conf against params) and start it when maxActiveRuns allows. */
  async trigger(req: TriggerRequest): Promise<DagRunRecord> {
    await this.poolsReady;
    this.inflight++;
    try {
      return await this.scheduler.triggerRun(req);
    } finally {
      this.inflight--;
      if (this.inflight === 0) this.scheduleIdleCheck();
    }
  }

  /** Resolves when the run has ended. */
  waitForRun(run: RunRef): Promise<DagRunRecord> {
    const ref = runRefOf(run);
    return new Promise((resolve, reject) => {
      this.store.getRun(ref).then((r) => {
        if (!r) return reject(new Error(`no run '${ref.runId}' of DAG '${ref.dagId}'`));
        if (isTerminalRunState(r.state)) return resolve(r);
        const list = this.runWaiters.get(runKeyText(ref)) ?? [];
        list.push(resolve);
        this.runWaiters.set(runKeyText(ref), list);
        this.scheduleIdleCheck();
      }, reject);
    });
  }

  /** Resolves when nothing is in flight and no timer is pending. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.scheduleIdleCheck();
    });
  }

  /** Wait for a run and every run it triggered (recursively). */
  async waitForRunTree(run: RunRef): Promise<void> {
    await this.waitForRun(run);
    for (const child of this.children.get(runKeyText(run)) ?? []) await this.waitForRunTree(child);
  }

  /** Trigger a DAG and wait for it and everything it triggered; returns the report. */
  async run(req: TriggerRequest): Promise<RunReport> {
    const run = await this.trigger(req);
    await this.waitForRunTree(run);
    return this.report(run);
  }

  /** Task instance states of a run (every task, in definition order) and of the runs it triggered. */
  async report(ref: RunRef): Promise<RunReport> {
    const run = await this.store.getRun(runRefOf(ref));
    if (!run) throw new Error(`no run '${ref.runId}' of DAG '${ref.dagId}'`);
    const { runId } = run;
    const dag = this.dags.getDag(run.dagId, run.dagVersion);
    const tis = await this.store.listTaskInstances(run);
    const byTask = new Map<string, TaskInstanceRecord[]>();
    for (const ti of tis) {
      const l = byTask.get(ti.taskId) ?? [];
      l.push(ti);
      byTask.set(ti.taskId, l);
    }
    const tasks: TaskReport[] = [];
    for (const t of dag?.spec.tasks ?? []) {
      const list = byTask.get(t.taskId);
      if (!list) tasks.push({ taskId: t.taskId, mapIndex: null, state: null, tryNumber: 0 });
      else for (const ti of list) tasks.push({ taskId: ti.taskId, mapIndex: ti.mapIndex < 0 ? null : ti.mapIndex, state: ti.state, tryNumber: ti.tryNumber });
    }
    const report: RunReport = { dagId: run.dagId, runId, state: run.state, tasks };
    const kids = this.children.get(runKeyText(run));
    if (kids?.length) report.triggeredRuns = await Promise.all(kids.map((k) => this.report(k)));
    return report;
  }

  /**
   * Run one task instance alone, as Airflow's `tasks test`: no dependency checks, upstream results read
   * from this runner's store if present. A sensor is poked on the runner's clock until done. Returns the
   * try's outcome, its result and its log.
   */
  async testTask(req: { dagId: string; taskId: string; conf?: Record<string, unknown>; mapIndex?: number }): Promise<TaskTestResult> {
    const dag = this.dags.getDag(req.dagId);
    if (!dag) throw new DagNotFoundError(`no DAG '${req.dagId}'`, { dagId: req.dagId });
    const spec = dag.task(req.taskId);
    const now = this.clock.now();
    const params = resolveParams(dag.spec.params, req.conf ?? {}, { dagId: dag.dagId });
    const runId = `test__${new Date(now).toISOString()}__${spec.taskId}`;
    const run = { dagId: dag.dagId, runId };
    await this.store.createRun({
      dagId: dag.dagId, runId, state: 'running', runType: 'manual', conf: req.conf ?? {}, params,
      logicalDate: new Date(now).toISOString(), queuedAt: new Date(now).toISOString(), startDate: new Date(now).toISOString(),
      endDate: null, dagVersion: dag.spec.version, pending: Number.MAX_SAFE_INTEGER, parent: null, pipelineScope: pipelineScopeOf(run), note: null,
    });
    const key = { dagId: dag.dagId, runId, taskId: spec.taskId, mapIndex: spec.mapping ? (req.mapIndex ?? 0) : -1 };
    await this.store.createTaskInstances([
      newTaskInstance({ ...key, maxTries: 1, state: 'queued', tryNumber: 1, queuedAt: new Date(now).toISOString() }),
    ]);
    let result = await this.taskRunner.run(key, 1);
    while (result?.kind === 'defer') {
      await this.store.updateTaskInstance(key, { states: ['running'], tryNumber: 1 }, { state: 'queued', ...(result.externalId ? { externalId: result.externalId } : {}) });
      if (result.until !== null) {
        const until = result.until;
        await new Promise<void>((r) => this.clock.setTimer(until, r));
      } else if (spec.kind === 'batch' && result.externalId) {
        const id = result.externalId;
        while (!this.batch.isDone(id)) await new Promise<void>((r) => this.clock.setTimer(this.clock.now() + 100, r));
      } else if (spec.kind === 'trigger_dag' && result.externalId) {
        await this.waitForRunTree({ dagId: spec.triggerDag!.triggerDagId, runId: result.externalId });
      }
      result = await this.taskRunner.run(key, 1);
    }
    const xcom = await this.store.getXCom(run, spec.taskId, key.mapIndex, 'return_value');
    const log = await this.store.getLog(key, 1);
    await this.store.updateRun(run, null, { state: result?.kind === 'failure' ? 'failed' : 'success', endDate: new Date(this.clock.now()).toISOString() });
    return { runId, outcome: result ?? { kind: 'failure', error: 'the task did not start', retriable: false }, value: xcom?.value ?? null, log };
  }

  /**
   * Stop: cancel the timers of unfinished runs, abort running tries with `reason` (their `ctx.signal`
   * fires; default `Error('runner closed')`), and start nothing more: from here on a dispatch or a timer
   * leaves its instance as the store has it (queued, up_for_retry, deferred), for whoever resumes the
   * store next (the standalone server's resume at its next start). The process can then exit.
   */
  close(reason: unknown = new Error('runner closed')): void {
    this.closed = true;
    for (const set of this.timers.values()) for (const cancel of set) cancel();
    this.timers.clear();
    for (const ac of this.cancels.values()) ac.abort(reason);
  }
}
