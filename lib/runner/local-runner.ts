import type { Dag } from '../authoring/dag.ts';
import { isDag } from '../authoring/dag.ts';
import { dagAtVersion } from '../authoring/dag-resolver.ts';
import { DagNotFoundError, errorMessage, failureInfo, LostTryError, TryNotStartedError } from '../errors.ts';
import { resolveParams } from '../core/params.ts';
import { childOutcomes, failedWave } from '../core/arrays.ts';
import { isTerminalRunState } from '../model/states.ts';
import type { RunState, TiState } from '../model/states.ts';
import { storeUnavailable, TryInfrastructureError } from '../executor/infrastructure.ts';
import { LocalBatch } from '../executor/local-batch.ts';
import { InputResolver } from '../executor/resolve.ts';
import { currentTry, TaskRunner } from '../executor/task-runner.ts';
import { lifecycleNext, type LifecycleCaller } from '../core/lifecycle.ts';
import { timerRun, type ArrayWave, type DagResolver, type SchedulerEvent, type TimerEvent, type TryResult } from '../scheduler/host.ts';
import { drive, effectsLeftBy, type Driven, type Effect, type Outcome } from '../scheduler/effects.ts';
import type { HitlAnswerInput } from '../scheduler/hitl.ts';
import type { HitlRecord } from '../store/hitl-records.ts';
import { Scheduler, type TriggerRequest } from '../scheduler/scheduler.ts';
import { MemoryStateStore } from '../store/memory-store.ts';
import { newTaskInstance, pipelineScopeOf, runKeyText, runRefOf, sameRun, type DagRunRecord, type LogLine, type RunRef, type TaskInstanceRecord, type TiKey } from '../store/records.ts';
import { retryTransient, type RetryOptions } from '../store/retry.ts';
import type { StateStore } from '../store/state-store.ts';
import { FakeClock, RealClock, skipsAhead, type Clock } from './clock.ts';
import { GuardedTry, guardTries } from './crash-guard.ts';
import { WorkerIsolation, type WorkerIsolationOptions } from './worker-isolation.ts';
import { poolNameProblem, poolSlotsProblem } from '../scheduler/pool-rules.ts';

export type RunnerEvent = SchedulerEvent | { type: 'log'; key: TiKey; tryNumber: number; line: LogLine };

export interface LocalRunnerOptions {
  /** The DAGs this runner knows (triggered DAGs must be among them). */
  dags: readonly Dag[] | DagResolver;
  /**
   * Where runs, task instances, XComs and logs are kept.
   * @default a new in-memory store
   */
  store?: StateStore;
  /**
   * The clock of timers (retry delays, sensor pokes, timeouts). A FakeClock skips ahead whenever nothing
   * is running.
   * @default a RealClock
   */
  clock?: Clock;
  /**
   * Pools by name: slots (an integer >= 0, or -1 for unlimited). 'default_pool' has 128 unless given.
   * @default {} ('default_pool' alone, 128 slots)
   */
  pools?: Record<string, number>;
  /**
   * Route console output of task code into the try's log.
   * @default true
   */
  captureConsole?: boolean;
  /**
   * Where the code of a try runs. `'in-process'` (the default; `dags test`, tests): in this process, so
   * breakpoints work. `'worker'` (the standalone server), or its options: each try of a task, branch,
   * short-circuit or sensor in a worker thread of its own with a heap limit, so that a crash, a hang past
   * its executionTimeout or a blown heap fails that try and nothing else (see WorkerIsolation).
   * @default 'in-process'
   */
  isolation?: 'in-process' | 'worker' | ({ mode: 'worker' } & WorkerIsolationOptions);
  /**
   * While the runner is open (until `close`), an uncaught exception or unhandled rejection of task code
   * running in this process fails the try that caused it instead of ending the process (see
   * lib/runner/crash-guard.ts).
   * @default true
   */
  guardCrashes?: boolean;
  /**
   * How store calls of tries are retried while the store fails transiently (`retryTransient`'s options).
   * @default retryTransient's: 6 attempts, backoff from 20 ms, at most 1 s a wait
   */
  storeRetry?: RetryOptions;
  /**
   * Told of every change of a run or a task instance, log line and internal error.
   * @default none
   */
  onEvent?: (e: RunnerEvent) => void;
}

/** Sizes of what a runner keeps per run and per try: all 0 once nothing is running or waited for. */
export interface RunnerBookkeeping {
  /** Runs seen queued or running (not yet ended). */
  liveRuns: number;
  /** Triggered runs recorded under their parent, kept until their whole tree has ended and nobody waits for it. */
  runTrees: number;
  /** Callers of `waitForRun` waiting. */
  runWaiters: number;
  /** Runs with timers set. */
  timers: number;
  /** Tries running (in process or isolated). */
  tries: number;
  /** Worker threads of isolated tries. */
  workers: number;
  /** Local Batch jobs kept (until their run ends). */
  batchJobs: number;
}

/** Internal errors kept in {@link LocalRunner.errors} (the latest). */
export const RUNNER_ERRORS_KEPT = 1000;

/** A try failed for an infrastructure reason: how many times it is dispatched again (or settled) before the runner gives up on it. */
const RECOVERY_ATTEMPTS = 10;
/** Backoff of those attempts: 1 s, 2 s, 4 s... at most 60 s. */
const recoveryDelayMs = (attempt: number) => Math.min(60_000, 1000 * 2 ** attempt);

/** A try running here, with what the runner needs to abort it, blame it, or tell it is in flight. */
class RunningTry extends GuardedTry {
  constructor(
    readonly key: TiKey,
    readonly tryNumber: number,
    readonly controller: AbortController,
    onLate: (e: unknown) => void,
  ) {
    super(`task '${key.taskId}'${key.mapIndex >= 0 ? `[${key.mapIndex}]` : ''} try ${tryNumber} of run ${key.runId} of DAG '${key.dagId}'`, key.runId, (e) => controller.abort(e), onLate);
  }
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
      const write = currentTry.getStore()?.write;
      if (!write) return original(...args);
      write(level, args.map((a) => (typeof a === 'string' ? a : (() => { try { return JSON.stringify(a); } catch { return String(a); } })())).join(' '));
    };
  }
}

/**
 * Runs DAGs in this process: task code runs here (so breakpoints work), or each try in a worker thread of
 * its own (`isolation: 'worker'`); sensors, retry delays and Batch jobs wait on timers, triggered DAGs run
 * in the same runner. The scheduler is the one the Lambda handlers use; this class is only its host.
 */
export class LocalRunner {
  readonly store: StateStore;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly taskRunner: TaskRunner;
  readonly batch: LocalBatch;
  /** Where tries' code runs. */
  readonly isolation: 'in-process' | 'worker';
  private readonly dags: DagResolver;
  private readonly workers: WorkerIsolation | null;
  private readonly retry: RetryOptions | undefined;
  private inflight = 0;
  /** Set by {@link close}: nothing more starts. */
  private closed = false;
  /** The inputs given to `testTask` (`tasks test --input`), by DAG and test run. */
  private readonly givenInputs = new Map<string, { value: unknown }>();
  private idleCheck = false;
  private readonly idleWaiters: (() => void)[] = [];
  // By run (`runKeyText`): waiters, the runs it triggered (and its parent), its timers, who follows it.
  private readonly runWaiters = new Map<string, ((r: DagRunRecord) => void)[]>();
  /** Runs seen queued or running (by their events). */
  private readonly liveRuns = new Set<string>();
  /** Triggered runs under their parent, and back; a tree goes once it has ended and nobody follows it. */
  private readonly children = new Map<string, RunRef[]>();
  private readonly parents = new Map<string, RunRef>();
  /** Run trees someone waits for (`run`, `waitForRunTree`): kept until they are done with them. */
  private readonly follows = new Map<string, number>();
  private readonly timers = new Map<string, Set<() => void>>();
  /** Tries running now. */
  private readonly tries = new Set<RunningTry>();
  private readonly listeners: ((e: RunnerEvent) => void)[] = [];
  private unguard: (() => void) | null = null;
  /** Internal errors (a bug or a store failure), kept so that none is swallowed: the latest {@link RUNNER_ERRORS_KEPT}. */
  readonly errors: { run: RunRef | null; where: string; error: string }[] = [];

  constructor(options: LocalRunnerOptions) {
    this.dags = Array.isArray(options.dags) ? new DagList(options.dags) : (options.dags as DagResolver);
    this.store = options.store ?? new MemoryStateStore();
    this.clock = options.clock ?? new RealClock();
    this.retry = options.storeRetry;
    if (options.onEvent) this.listeners.push(options.onEvent);
    const captureConsole = options.captureConsole ?? true;
    if (captureConsole) patchConsole();
    const iso = options.isolation ?? 'in-process';
    if (iso !== 'in-process' && iso !== 'worker' && (typeof iso !== 'object' || iso === null || iso.mode !== 'worker')) {
      throw new TypeError(`LocalRunner: isolation must be 'in-process', 'worker' or { mode: 'worker', ... }, got ${JSON.stringify(iso)}`);
    }
    this.isolation = iso === 'in-process' ? 'in-process' : 'worker';
    const { sleep: _sleep, random: _random, ...retryNumbers } = this.retry ?? {};
    this.workers =
      this.isolation === 'worker'
        ? new WorkerIsolation(
            {
              store: this.store,
              now: () => this.clock.now(),
              // A FakeClock's time stands still while a try runs; the others' passes.
              realClock: !(this.clock instanceof FakeClock),
              captureConsole,
              retry: retryNumbers,
              dagsFolder: () => {
                const folder = (this.dags as { folder?: unknown }).folder;
                return typeof folder === 'string' ? folder : undefined;
              },
            },
            typeof iso === 'object' ? iso : {},
          )
        : null;
    const guard = options.guardCrashes ?? true;
    if (guard) this.unguard = guardTries({ running: () => this.tries });
    const resolver = new InputResolver(this.store, this.retry);
    this.scheduler = new Scheduler(this.store, this.dags, {
      now: () => this.clock.now(),
      arrays: true,
      externalDone: async (_kind, id) => this.batch.isDone(id),
      resolver,
    });
    this.batch = new LocalBatch({
      now: () => this.clock.now(),
      setTimer: (at, fn) => void this.clock.setTimer(at, () => void this.track(null, 'batch job end', async () => fn())),
      onDone: (owner, status) =>
        void this.track(runRefOf(owner.key), 'batch job end', async () => {
          try {
            if (!owner.wave) return await this.drive((s) => s.resumeDeferred(owner.key, owner.tryNumber));
            const wave = owner.wave;
            const result = await this.batch.waveResult(status.jobId, wave.mapIndexes.length);
            const out = await this.scheduler.handleArrayResult(wave.array, owner.tryNumber, childOutcomes(wave.mapIndexes, result)).catch(this.leaveEffects);
            this.continueLifecycle({ wave: wave.array }, out.effects);
          } finally {
            // A job that ended after its run did is forgotten now (the run's end forgot the others).
            const run = await this.store.getRun(runRefOf(owner.key)).catch(() => undefined);
            if (run && isTerminalRunState(run.state)) this.batch.forgetRun(run);
          }
        }),
      track: (p) => this.track(null, 'batch process', () => p),
    });
    this.taskRunner = new TaskRunner(
      this.store,
      this.dags,
      {
        now: () => this.clock.now(),
        triggerRun: (req) => this.drive((s) => s.triggerRun(req)),
        batch: this.batch,
        onState: (ti) => this.emit({ type: 'ti', ti }),
        onLog: (key, tryNumber, line) => this.emit({ type: 'log', key, tryNumber, line }),
        ...(this.retry ? { retry: this.retry } : {}),
        // With crashes guarded, what task code leaves unhandled is reported before its result counts.
        ...(guard ? { settle: () => new Promise<void>((r) => setImmediate(r)) } : {}),
        ...(this.workers ? { isolation: this.workers } : {}),
        givenInput: (ti) => (ti.runId.startsWith('test__') ? this.givenInputs.get(`${ti.dagId}\u0000${ti.runId}`) : undefined),
      },
      resolver,
    );
    this.poolsReady = this.setPools(options.pools ?? {});
  }

  private readonly poolsReady: Promise<void>;
  private async setPools(pools: Record<string, number>): Promise<void> {
    for (const [name, slots] of Object.entries(pools)) {
      const problem = poolNameProblem(name) ?? poolSlotsProblem(slots);
      if (problem !== null) throw new Error(`pool '${name}': ${problem}`);
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

  /** What the runner keeps per run and per try, by size (each back to 0 once its runs have ended). */
  get bookkeeping(): RunnerBookkeeping {
    return {
      liveRuns: this.liveRuns.size,
      runTrees: this.children.size + this.parents.size + this.follows.size,
      runWaiters: this.runWaiters.size,
      timers: this.timers.size,
      tries: this.tries.size,
      workers: this.workers?.size ?? 0,
      batchJobs: this.batch.size,
    };
  }

  private emit(e: RunnerEvent): void {
    if (e.type === 'run') this.runChanged(e.run);
    if (e.type === 'error') {
      this.errors.push({ run: e.run, where: e.where, error: errorMessage(e.error) });
      if (this.errors.length > RUNNER_ERRORS_KEPT) this.errors.splice(0, this.errors.length - RUNNER_ERRORS_KEPT);
    }
    // Listeners run outside the task's log context (their console output is theirs), and a listener
    // that throws cannot fail a task or the scheduler: its error goes to stderr.
    for (const l of this.listeners) {
      currentTry.exit(() => {
        try {
          l(e);
        } catch (err) {
          process.stderr.write(`airless: an event listener threw: ${errorMessage(err)}\n`);
        }
      });
    }
  }

  /** A run changed state: record it under its parent; when it ended, drop what was kept for it. */
  private runChanged(run: DagRunRecord): void {
    const id = runKeyText(run);
    if (run.parent) {
      const parent = runKeyText(run.parent);
      const list = this.children.get(parent) ?? [];
      if (!list.some((c) => runKeyText(c) === id)) list.push(runRefOf(run));
      this.children.set(parent, list);
      this.parents.set(id, runRefOf(run.parent));
    }
    if (!isTerminalRunState(run.state)) {
      this.liveRuns.add(id);
      return;
    }
    this.liveRuns.delete(id);
    for (const cancel of this.timers.get(id) ?? []) cancel();
    this.timers.delete(id);
    this.batch.forgetRun(run);
    const w = this.runWaiters.get(id) ?? [];
    this.runWaiters.delete(id);
    for (const f of w) f(run);
    this.pruneTree(run);
  }

  /** Forget the tree of triggered runs `run` belongs to once every run of it has ended and nobody follows it. */
  private pruneTree(run: RunRef): void {
    let root = runRefOf(run);
    for (let p = this.parents.get(runKeyText(root)); p !== undefined; p = this.parents.get(runKeyText(root))) root = p;
    const members: string[] = [];
    for (const stack = [root]; stack.length; ) {
      const id = runKeyText(stack.pop()!);
      members.push(id);
      stack.push(...(this.children.get(id) ?? []));
    }
    if (members.some((m) => this.liveRuns.has(m) || this.follows.has(m))) return;
    for (const m of members) {
      this.children.delete(m);
      this.parents.delete(m);
    }
  }

  private follow(run: RunRef): void {
    const id = runKeyText(run);
    this.follows.set(id, (this.follows.get(id) ?? 0) + 1);
  }

  private unfollow(run: RunRef): void {
    const id = runKeyText(run);
    const n = (this.follows.get(id) ?? 1) - 1;
    if (n > 0) this.follows.set(id, n);
    else {
      this.follows.delete(id);
      this.pruneTree(run);
    }
  }

  /** A run's DAG to show it by: its own version if it can be had, else the current one. */
  private async shownDag(run: DagRunRecord): Promise<Dag | undefined> {
    const own = await dagAtVersion(this.dags, run.dagId, run.dagVersion).catch(() => undefined);
    return own ?? this.dags.getDag(run.dagId);
  }

  /** The runs `run` triggered, in the order they were created (from the store when this runner no longer keeps them). */
  private async childrenOf(run: RunRef): Promise<RunRef[]> {
    const id = runKeyText(run);
    const kept = this.children.get(id);
    if (kept || this.liveRuns.has(id) || this.parents.has(id)) return kept ?? [];
    const rec = await this.store.getRun(runRefOf(run));
    const dag = rec ? await this.shownDag(rec) : undefined;
    if (!dag) return [];
    const targets = new Set(dag.spec.tasks.flatMap((t) => (t.triggerDag ? [t.triggerDag.triggerDagId] : [])));
    const found: DagRunRecord[] = [];
    for (const dagId of targets) for (const r of await this.store.listRuns({ dagId })) if (r.parent && sameRun(r.parent, run)) found.push(r);
    found.sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : a.dagId < b.dagId ? -1 : 1));
    return found.map(runRefOf);
  }

  /** Run work, counting it in flight; an error in it is reported and fails its run, never lost. */
  private track<T>(run: RunRef | null, where: string, work: () => Promise<T>): Promise<T | undefined> {
    this.inflight++;
    // Outside any try's context: a crash in the runner's own work is not a task's.
    return currentTry
      .exit(work)
      .catch(async (e: unknown) => {
        this.emit({ type: 'error', run, error: e, where });
        if (run) {
          // Fail the run as any run ends (callbacks, parent, maxActiveRuns unit); if even that fails, say so.
          await this.drive((s) => s.failRun(run, `internal error in ${where}: ${errorMessage(e)}`)).catch((e2: unknown) => {
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
      if (skipsAhead(this.clock) && this.clock.advanceToNext()) {
        if (this.inflight === 0) this.scheduleIdleCheck();
        return;
      }
      if (this.clock.pendingTimers === 0) {
        const w = this.idleWaiters.splice(0);
        for (const f of w) f();
      }
    });
  }

  /**
   * Run one try here, as a try this runner knows is running: its own AbortController (fired by a stop of
   * its run, by `close`, or by a crash of its code), and the async context that blames crashes on it.
   */
  private async runTry(key: TiKey, tryNumber: number): Promise<TryResult | null> {
    const t = new RunningTry(key, tryNumber, new AbortController(), (e) =>
      this.emit({ type: 'error', run: runRefOf(key), error: e, where: `task '${key.taskId}' (its code, after try ${tryNumber} ended)` }),
    );
    this.tries.add(t);
    try {
      return await currentTry.run({ owner: t }, () => this.taskRunner.run(key, tryNumber, t.controller.signal));
    } finally {
      t.active = false;
      this.tries.delete(t);
      if (this.closed && this.tries.size === 0) this.release();
    }
  }

  /** Abort the running tries (of one run, or all) with `reason`: their signal fires, and each fails with it. */
  private abortTries(reason: unknown, run?: RunRef): void {
    for (const t of this.tries) if (run === undefined || sameRun(t.key, run)) t.controller.abort(reason);
  }

  /** Abort one running try with `reason` (a task instance marked while it ran). */
  private abortTry(reason: unknown, key: TiKey, tryNumber: number): void {
    for (const t of this.tries) if (t.tryNumber === tryNumber && sameRun(t.key, key) && t.key.taskId === key.taskId && t.key.mapIndex === key.mapIndex) t.controller.abort(reason);
  }

  private tryRunning(key: TiKey, tryNumber: number): boolean {
    for (const t of this.tries) if (t.tryNumber === tryNumber && sameRun(t.key, key) && t.key.taskId === key.taskId && t.key.mapIndex === key.mapIndex) return true;
    return false;
  }

  /**
   * Carry out what a scheduler step decided (its effects, in order): the local counterpart of a Lambda
   * invocation starting executions.
   */
  private apply(effects: readonly Effect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'dispatch':
          this.dispatch(e.ti);
          break;
        case 'dispatchWave':
          this.dispatchArray(e.wave);
          break;
        case 'timer':
          this.setTimer(e.at, e.event);
          break;
        case 'stopRunnable':
          void this.track(null, `stopping Batch job ${e.jobName}`, () => this.batch.stopRunnable(e.jobQueue, e.jobName, e.reason));
          break;
        case 'cancelRun':
          if (e.only) for (const o of e.only) this.abortTry(new Error(e.reason ?? 'the task instance was marked'), o.key, o.tryNumber);
          else this.abortTries(new Error(e.reason ?? 'the run was stopped: dagrun timeout'), e.run);
          // Its Batch jobs (child processes here) are killed, as TerminateJob does deployed.
          if (e.only) for (const o of e.only) this.batch.stop(e.run, e.reason ?? 'the task instance was marked', o);
          else this.batch.stop(e.run, e.reason ?? 'the run was stopped: dagrun timeout');
          break;
        case 'emit':
          this.emit(e.event);
          break;
        case 'sendTaskSuccess':
          // Only a deployed wait has a task token: a local request never holds one.
          this.emit({ type: 'error', run: null, error: new Error('a sendTaskSuccess effect reached the local runner (a human-in-the-loop request holds a task token, which only a deployed wait has): the answer is stored, but nothing waits on that token here'), where: 'human-in-the-loop answer' });
          break;
      }
    }
  }

  /** A step's effects that a throw left behind are carried out; the error goes on. */
  private readonly leaveEffects = (e: unknown): never => {
    this.apply(effectsLeftBy(e));
    throw e;
  };

  /** The scheduler with this runner as its host: a step run through it has its effects carried out here. */
  get driven(): Driven {
    return { scheduler: this.scheduler, run: this.runStep };
  }

  private readonly runStep = <T>(step: Promise<Outcome<T>>): Promise<T> => drive(step, (effects) => this.apply(effects));

  /** Run a scheduler step and carry out its effects (also those it had decided when it threw); its value. */
  drive<T>(work: (scheduler: Scheduler) => Promise<Outcome<T>>): Promise<T> {
    return this.runStep(work(this.scheduler));
  }

  /**
   * Go on with a lifecycle (a try's loop, or an array group's wave loop) after a step it called: its own
   * next action, picked by the same rule as the deployed state machines follow (lib/core/lifecycle.ts),
   * is carried on here (the try run again, the retry or poke waited for, the next wave), and the rest
   * starts elsewhere.
   */
  private continueLifecycle(caller: LifecycleCaller, effects: readonly Effect[]): void {
    const { claimed, rest } = lifecycleNext(caller, effects);
    this.apply(rest);
    if (!claimed) return;
    if (claimed.type === 'timer') {
      const event = claimed.event;
      this.later(timerRun(event), claimed.at, `timer ${event.type}`, async () => {
        const out = await this.scheduler.onTimer(event).catch(this.leaveEffects);
        this.continueLifecycle(caller, out.effects);
      });
    } else this.apply([claimed]);
  }

  /** `attempt`: how many times this try was dispatched again after an infrastructure failure. */
  private dispatch(ti: TaskInstanceRecord, attempt = 0): void {
    if (this.closed) return;
    const key = { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex };
    void this.track(runRefOf(ti), `task '${ti.taskId}'`, async () => {
      await new Promise<void>((r) => setImmediate(r));
      if (this.closed) return;
      let result: TryResult | null;
      try {
        result = await this.runTry(key, ti.tryNumber);
      } catch (e) {
        if (!(e instanceof TryInfrastructureError)) throw e;
        // A store that fails for a reason waiting does not cure: an internal error (the run fails, with it).
        if (!e.recoverable) throw e.cause;
        this.recoverTry(ti, e, attempt);
        return;
      }
      if (result) await this.reportTry(key, ti.tryNumber, result);
    });
  }

  /**
   * Report a try's result to the scheduler. Reporting is idempotent (conditional on the try running), so
   * while the store is unavailable it is done again after a backoff: the result is not lost, nor is the
   * run failed for it.
   */
  private async reportTry(key: TiKey, tryNumber: number, result: TryResult, attempt = 0): Promise<void> {
    try {
      const out = await retryTransient(() => this.scheduler.handleTryResult(key, tryNumber, result).catch(this.leaveEffects), this.retry);
      this.continueLifecycle({ instance: key }, out.effects);
    } catch (e) {
      if (!storeUnavailable(e) || attempt >= RECOVERY_ATTEMPTS) throw e;
      const where = `task '${key.taskId}' (reporting try ${tryNumber})`;
      if (attempt === 0) this.emit({ type: 'error', run: runRefOf(key), error: e, where });
      this.later(runRefOf(key), this.clock.now() + recoveryDelayMs(attempt), where, () => this.reportTry(key, tryNumber, result, attempt + 1));
    }
  }

  /**
   * A try failed for an infrastructure reason (the store, past its retries): not the task's failure. Once
   * the store answers again (after a backoff), the instance says what to do: still queued at this try
   * (nothing of its code ran), it is dispatched again; running at this try with no delivery of it running
   * here (its code may have run: it must not run twice), it is settled as the deployed reconcile settles a
   * try that stopped without reporting: failed with a `LostTryError` (retriable). Otherwise someone else
   * moved it on. After RECOVERY_ATTEMPTS it is left for the next start (`resumeRuns`).
   */
  private recoverTry(ti: TaskInstanceRecord, error: TryInfrastructureError, attempt: number): void {
    const key = { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex };
    const run = runRefOf(ti);
    const where = `task '${ti.taskId}'`;
    if (attempt === 0) this.emit({ type: 'error', run, error, where });
    if (attempt >= RECOVERY_ATTEMPTS) {
      this.emit({ type: 'error', run, error: new Error(`gave up on try ${ti.tryNumber} after ${attempt} attempts: ${errorMessage(error)}; it is left ${error.started ? 'running' : 'queued'} for the next start`), where });
      return;
    }
    this.later(run, this.clock.now() + recoveryDelayMs(attempt), `recovering ${where}`, async () => {
      try {
        const now = await retryTransient(() => this.store.getTaskInstance(key), this.retry);
        if (!now || now.tryNumber !== ti.tryNumber) return;
        if (now.state === 'queued') {
          this.dispatch(now, attempt + 1);
        } else if (now.state === 'running' && !this.tryRunning(key, ti.tryNumber)) {
          const why = `try ${ti.tryNumber} stopped without a result: ${error.message}`;
          const out = await retryTransient(() => this.scheduler.handleTryResult(key, ti.tryNumber, { kind: 'failure', error: failureInfo(new LostTryError(why)), retriable: true }).catch(this.leaveEffects), this.retry);
          this.continueLifecycle({ instance: key }, out.effects);
        }
      } catch (e) {
        if (!storeUnavailable(e)) throw e;
        this.recoverTry(ti, error, attempt + 1);
      }
    });
  }

  /** Start an array wave: submit its instances as one local array job; its end settles each child. */
  private dispatchArray(wave: ArrayWave, attempt = 0): void {
    if (this.closed) return;
    const { array, tryNumber } = wave;
    const where = `task '${array.taskId}' (array group ${array.group})`;
    void this.track(runRefOf(array), where, async () => {
      await new Promise<void>((r) => setImmediate(r));
      if (this.closed) return;
      let prepared: Awaited<ReturnType<TaskRunner['prepareArrayWave']>>;
      try {
        prepared = await this.taskRunner.prepareArrayWave(array, tryNumber);
      } catch (e) {
        if (!(e instanceof TryInfrastructureError)) throw e;
        if (!e.recoverable || attempt >= RECOVERY_ATTEMPTS) throw e.cause;
        // Preparing a wave is idempotent (the same wave again, the same job by its owner): do it again later.
        if (attempt === 0) this.emit({ type: 'error', run: runRefOf(array), error: e, where });
        this.later(runRefOf(array), this.clock.now() + recoveryDelayMs(attempt), `recovering ${where}`, async () => this.dispatchArray(wave, attempt + 1));
        return;
      }
      if (!prepared) return;
      const key = { dagId: array.dagId, runId: array.runId, taskId: array.taskId, mapIndex: prepared.mapIndexes[0]! };
      if ('error' in prepared) {
        const out = await retryTransient(() => this.scheduler.handleArrayResult(array, tryNumber, failedWave(prepared.mapIndexes, prepared.error)).catch(this.leaveEffects), this.retry);
        this.continueLifecycle({ wave: array }, out.effects);
        return;
      }
      await this.batch.submit(prepared.submission, { key, tryNumber, wave: { array, mapIndexes: prepared.mapIndexes } });
    });
  }

  /** Deliver `event` to the scheduler at `at` on the runner's clock (a timer armed again at a resume). */
  arm(at: number, event: TimerEvent): void {
    this.setTimer(at, event);
  }

  private setTimer(at: number, event: TimerEvent): void {
    this.later(timerRun(event), at, `timer ${event.type}`, () => this.drive((s) => s.onTimer(event)));
  }

  /** Do `work` at time `at` on the clock, as work of run `run` (its timers go when it ends). */
  private later(run: RunRef, at: number, where: string, work: () => Promise<unknown>): void {
    if (this.closed) return;
    const ref = runRefOf(run);
    const id = runKeyText(ref);
    let set = this.timers.get(id);
    if (!set) this.timers.set(id, (set = new Set()));
    const s = set;
    const cancel = this.clock.setTimer(at, () => {
      s.delete(cancel);
      if (s.size === 0 && this.timers.get(id) === s) this.timers.delete(id);
      void this.track(ref, where, work);
    });
    s.add(cancel);
  }

  /** Create a run (validating conf against params) and start it when maxActiveRuns allows. */
  async trigger(req: TriggerRequest): Promise<DagRunRecord> {
    await this.poolsReady;
    this.inflight++;
    try {
      return await this.drive((s) => s.triggerRun(req));
    } finally {
      this.inflight--;
      if (this.inflight === 0) this.scheduleIdleCheck();
    }
  }

  /**
   * Answer a human-in-the-loop request (`Scheduler.respondHitl`), counted as work in flight: a FakeClock
   * does not skip to the request's timeout while the answer is being stored (call it from a listener that
   * sees the instance deferred, and the answer wins over the timeout).
   */
  async respondHitl(key: TiKey, answer: HitlAnswerInput): Promise<HitlRecord> {
    this.inflight++;
    try {
      return await this.drive((s) => s.respondHitl(key, answer));
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
    this.follow(run);
    try {
      await this.waitForRun(run);
      for (const child of await this.childrenOf(run)) await this.waitForRunTree(child);
    } finally {
      this.unfollow(run);
    }
  }

  /** Trigger a DAG and wait for it and everything it triggered; returns the report. */
  async run(req: TriggerRequest): Promise<RunReport> {
    const run = await this.trigger(req);
    this.follow(run);
    try {
      await this.waitForRunTree(run);
      return await this.report(run);
    } finally {
      this.unfollow(run);
    }
  }

  /** Task instance states of a run (every task, in definition order) and of the runs it triggered. */
  async report(ref: RunRef): Promise<RunReport> {
    const run = await this.store.getRun(runRefOf(ref));
    if (!run) throw new Error(`no run '${ref.runId}' of DAG '${ref.dagId}'`);
    const { runId } = run;
    const dag = await this.shownDag(run);
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
    const kids = await this.childrenOf(run);
    if (kids.length) report.triggeredRuns = await Promise.all(kids.map((k) => this.report(k)));
    return report;
  }

  /**
   * Run one task instance alone, as Airflow's `tasks test`: no dependency checks, upstream results read
   * from this runner's store if present. A sensor is poked on the runner's clock until done. Returns the
   * try's outcome, its result and its log.
   */
  async testTask(req: {
    dagId: string;
    taskId: string;
    conf?: Record<string, unknown>;
    mapIndex?: number;
    /** The task's input (its argument; a mapped instance's item), instead of resolving it from XComs. */
    input?: { value: unknown };
    /** XComs of the test run before the try: its upstreams' results (e.g. copied from an earlier run). */
    xcoms?: readonly { taskId: string; mapIndex: number; key: string; value: unknown }[];
  }): Promise<TaskTestResult> {
    const dag = this.dags.getDag(req.dagId);
    if (!dag) throw new DagNotFoundError(`no DAG '${req.dagId}'`, { dagId: req.dagId });
    const spec = dag.task(req.taskId);
    const now = this.clock.now();
    const params = resolveParams(dag.spec.params, req.conf ?? {}, { dagId: dag.dagId }, dag.spec.strictConf === true);
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
    if (req.xcoms?.length) await this.store.putXComs(req.xcoms.map((x) => ({ ...run, ...x })));
    if (req.input) this.givenInputs.set(`${run.dagId}\u0000${runId}`, req.input);
    let result = await this.runTry(key, 1);
    while (result?.kind === 'defer') {
      await this.store.updateTaskInstance(key, { states: ['running'], tryNumber: 1 }, { state: 'queued', ...(result.externalId ? { externalId: result.externalId } : {}) });
      if (result.until !== null) {
        const until = result.until;
        await new Promise<void>((r) => this.clock.setTimer(until, r));
      } else if (spec.kind === 'batch' && result.externalId) {
        const id = result.externalId;
        while (!this.batch.isDone(id)) await new Promise<void>((r) => this.clock.setTimer(this.clock.now() + 100, r));
      } else if (spec.kind === 'trigger_dag' && result.externalId) {
        await this.waitForRunTree({ dagId: spec.triggerDag.triggerDagId, runId: result.externalId });
      }
      result = await this.runTry(key, 1);
    }
    const xcom = await this.store.getXCom(run, spec.taskId, key.mapIndex, 'return_value');
    const log = await this.store.getLog(key, 1);
    await this.store.updateRun(run, null, { state: result?.kind === 'failure' ? 'failed' : 'success', endDate: new Date(this.clock.now()).toISOString() });
    this.scheduler.resolver.forget(run);
    this.batch.forgetRun(run);
    this.givenInputs.delete(`${run.dagId}\u0000${runId}`);
    return { runId, outcome: result ?? { kind: 'failure', error: failureInfo(new TryNotStartedError('the task did not start')), retriable: false }, value: xcom?.value ?? null, log };
  }

  /**
   * Stop: cancel the timers of unfinished runs, abort running tries with `reason` (their `ctx.signal`
   * fires; default `Error('runner closed')`; an isolated try's worker is terminated if it has not ended
   * within its grace), and start nothing more: from here on a dispatch or a timer leaves its instance as
   * the store has it (queued, up_for_retry, deferred), for whoever resumes the store next (the standalone
   * server's resume at its next start). The crash guard goes once the tries running have ended. The
   * process can then exit.
   */
  close(reason: unknown = new Error('runner closed')): void {
    this.closed = true;
    for (const set of this.timers.values()) for (const cancel of set) cancel();
    this.timers.clear();
    this.abortTries(reason);
    if (this.tries.size === 0) this.release();
  }

  private release(): void {
    this.unguard?.();
    this.unguard = null;
  }
}
