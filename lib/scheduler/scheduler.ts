import type { Dag } from '../authoring/dag.ts';
import type { ArrayRef, ChildOutcome } from '../core/arrays.ts';
import { timerRun, type TimerEvent, type TryResult } from '../core/events.ts';
import { InputResolver } from '../executor/resolve.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { BackfillRecord, DagRunRecord, RunRef, TiKey } from '../store/records.ts';
import { ResilientStateStore } from '../store/resilient-store.ts';
import type { StateStore } from '../store/state-store.ts';
import { leaveEffects, type Outcome } from './effects.ts';
import type { DagResolver } from './host.ts';
import { emptyReport, reconcile, resumeRun, topologicalOrder, type ReconcileOptions, type ReconcileReport } from './reconcile.ts';
import { failRun, guarded, stopRun } from './run-end.ts';
import { checkBackfill, recoverRunSlots, reopenRun, startQueuedRuns, triggerRun, type TriggerRequest } from './runs.ts';
import { isArrayTask, Step, type SchedulerEnv } from './step.ts';
import { onTimer } from './timers.ts';
import { respondHitl, type HitlAnswerInput } from './hitl.ts';
import type { HitlRecord } from '../store/hitl-records.ts';
import { resumeDeferred, tryResult, type TrySeen } from './tries.ts';
import { arrayResult } from './waves.ts';

export { generateRunId, type TriggerRequest } from './runs.ts';
export type { ReconcileReport } from './reconcile.ts';
export type { TrySeen } from './tries.ts';
export { DEFAULT_BACKFILL_MAX_ACTIVE_RUNS, runHolder, runSemaphore, tiHolder, waveHolder } from './slots.ts';

export interface SchedulerOptions {
  /**
   * Milliseconds since the epoch.
   * @default Date.now
   */
  now?: () => number;
  /**
   * Whether the host runs array waves (`dispatchWave` effects): a mapped Batch task with `array: true`
   * then goes to Batch as array jobs; without, its map indexes are dispatched one by one.
   * @default false
   */
  arrays?: boolean;
  /** Whether an external job a deferred instance waits on has already ended (closes a race at deferral). */
  externalDone?: (kind: 'batch', externalId: string) => Promise<boolean>;
  /** The XCom resolver (its per-run cache). @default a new one on the store */
  resolver?: InputResolver;
}

/**
 * The scheduling engine: the same code runs in the local runner and in the Lambda handlers. Every
 * decision comes from the pure rules in `core/`; every change is a conditional write in the store, so
 * every entry point can be called twice, late or out of order and change nothing the second time.
 *
 * It never starts, waits or tells anything itself: each entry point returns its value with the effects
 * its step decided ({@link Outcome}: tries to dispatch, waves to start, timers to set, jobs to stop, events
 * to tell), in order, and the host carries them out (`drive` in effects.ts). A step that throws leaves the
 * effects it had decided on the error (`effectsLeftBy`).
 *
 * The rooms: runs.ts (triggering, starting, reopening), run-end.ts (every way a run ends),
 * decisions.ts (trigger rules, expansion, finishing, branching), slots.ts (pools and limits), tries.ts
 * (queueing, results, resuming), timers.ts, waves.ts (array jobs), reconcile.ts, callbacks.ts.
 */
export class Scheduler {
  /** The store, its calls retried on transient failures (see {@link ResilientStateStore}). */
  readonly store: StateStore;
  readonly resolver: InputResolver;
  private readonly env: SchedulerEnv;

  constructor(
    store: StateStore,
    readonly dags: DagResolver,
    options: SchedulerOptions = {},
  ) {
    this.store = ResilientStateStore.wrap(store);
    this.resolver = options.resolver ?? new InputResolver(this.store);
    this.env = { store: this.store, dags, resolver: this.resolver, now: options.now ?? Date.now, arrays: options.arrays ?? false, externalDone: options.externalDone };
  }

  /** The scheduler's clock. */
  now(): number {
    return this.env.now();
  }

  /** Run one step: its value and the effects it decided (left on the error when it throws). */
  async step<T>(work: (s: Step) => Promise<T>): Promise<Outcome<T>> {
    const s = new Step(this.env);
    try {
      return { value: await work(s), effects: s.effects };
    } catch (e) {
      leaveEffects(e, s.effects);
      throw e;
    }
  }

  /** A step for one run: its DAG version unavailable, the run fails with a note and `fallback` is the value. */
  private runStep<T>(ref: RunRef, fallback: T, work: (s: Step) => Promise<T>): Promise<Outcome<T>> {
    return this.step((s) => guarded(s, ref, () => work(s), fallback));
  }

  /**
   * Create a run (queued), validating conf against the DAG's params, then start it if maxActiveRuns
   * allows. Run ids are unique per DAG (as in Airflow: two DAGs on one schedule each have their
   * `scheduled__<logicalDate>`). A trigger that names its run (a run id, or a logical date: the id is then
   * `<runType>__<logicalDate>`) finds the DAG's run with that id if there is one and returns it
   * (idempotent; `exclusive` refuses with a RunExistsError instead). A trigger that names neither gets a
   * new run with a new id (`generateRunId`).
   */
  triggerRun(req: TriggerRequest): Promise<Outcome<DagRunRecord>> {
    return this.step((s) => triggerRun(s, req));
  }

  /**
   * Start queued runs of a DAG while maxActiveRuns allows: the run just created when given (no index
   * read, which may lag), else the queued runs oldest first. Each running run holds one unit of the
   * `runs:<dagId>` semaphore, so the limit holds however many schedulers run at once. A run of a
   * backfill holds a unit of `backfill:<id>` instead (the backfill's maxActiveRuns, applied independently
   * of the DAG's, as in Airflow). No run starts while its DAG is paused (as in Airflow, a manual or
   * triggered run of a paused DAG stays queued until it is unpaused: unpausing starts them).
   */
  startQueuedRuns(dagId: string): Promise<Outcome<void>> {
    return this.step((s) => startQueuedRuns(s, dagId));
  }

  /**
   * Give back the maxActiveRuns units of a DAG's runs that ended without giving theirs back (a process
   * that died between a run's end and its release), then start queued runs that now fit. The resume at
   * start and the reconcile call it; a refused start does the same for its semaphore.
   */
  recoverRunSlots(dagId: string): Promise<Outcome<number>> {
    return this.step((s) => recoverRunSlots(s, dagId));
  }

  /** Mark a backfill completed once none of its runs is queued or running. Returns the backfill as it is now. */
  checkBackfill(dagId: string, backfillId: string): Promise<Outcome<BackfillRecord | undefined>> {
    return this.step((s) => checkBackfill(s, dagId, backfillId));
  }

  /** Fail a run that cannot go on (e.g. its host hit an internal error): as any run end, exactly once. */
  failRun(ref: RunRef, note: string): Promise<Outcome<void>> {
    return this.step((s) => failRun(s, ref, note));
  }

  /**
   * Stop a run now (e.g. its DAG is being deleted): it fails with `note`; its unfinished instances are
   * skipped and give back their slots, as at a dagrun timeout. A queued run simply fails.
   */
  stopRun(ref: RunRef, note: string): Promise<Outcome<void>> {
    return this.step((s) => stopRun(s, ref, note));
  }

  /**
   * A try ended. Idempotent: only the first report for (instance, try) while it runs moves it; a report
   * that finds the try already moved (a replay, or a first delivery whose process died or whose write
   * reported an error after it applied) finishes what follows that move: slots given back, downstream
   * tasks decided, the run finalised, a retry timer armed. Each of those steps is idempotent.
   *
   * `seen`: the instance and its run as the try's runner in this process left them (`TaskRunner.run`'s
   * `seen`), used instead of reading them again. Default: both are read.
   */
  handleTryResult(key: TiKey, tryNumber: number, result: TryResult, seen?: TrySeen): Promise<Outcome<void>> {
    return this.runStep(key, undefined, (s) => tryResult(s, key, tryNumber, result, seen));
  }

  /** Put a deferred instance back in the queue to continue its try (a poke, a finished job or run). */
  resumeDeferred(key: TiKey, tryNumber: number): Promise<Outcome<void>> {
    return this.step((s) => resumeDeferred(s, key, tryNumber));
  }

  /**
   * Answer a human-in-the-loop request (the latest try's of the instance): checked against its options and
   * form fields (a `HitlResponseError` 400 naming the field), its assignees (403), and its state (404 no
   * request; 409 answered already, naming who and when, or no longer waiting). Stored exactly once; then
   * the deferred try resumes (locally), or, when the request holds a deployed wait's task token, a
   * `sendTaskSuccess` effect hands the answer to it. The request as answered.
   */
  respondHitl(key: TiKey, answer: HitlAnswerInput): Promise<Outcome<HitlRecord>> {
    return this.step((s) => respondHitl(s, key, answer));
  }

  /** A timer the scheduler asked for is due. */
  onTimer(event: TimerEvent): Promise<Outcome<void>> {
    return this.runStep(timerRun(event), undefined, (s) => onTimer(s, event));
  }

  /**
   * A wave of an array group ended: settle each child's instance (running at `tryNumber`) with its
   * outcome. Succeeded children finish with their job as XCom; failed ones go up for retry (together:
   * the group's next wave, after the latest of their retry delays) or fail. Idempotent: instances that
   * are no longer running at `tryNumber` are left alone.
   */
  handleArrayResult(array: ArrayRef, tryNumber: number, outcomes: readonly ChildOutcome[]): Promise<Outcome<void>> {
    return this.runStep(array, undefined, (s) => arrayResult(s, array, tryNumber, outcomes));
  }

  /**
   * A finished run whose instances were cleared runs again: back to queued (its end date cleared), then
   * started when maxActiveRuns allows (unless `start` is false). `patch` is applied with it (a backfill
   * adopting the run). Undefined if the run was not finished.
   */
  reopenRun(ref: RunRef, patch: Partial<DagRunRecord> = {}, options: { start?: boolean } = {}): Promise<Outcome<DagRunRecord | undefined>> {
    return this.step((s) => reopenRun(s, ref, patch, options.start ?? true));
  }

  /**
   * Carry on a running run after instances of it were cleared: decide its undecided tasks (the cleared
   * ones whose upstreams are done run, or settle, now; the others wait for their upstreams as in a fresh
   * run) and queue its scheduled instances (cleared map indexes; an array task's as a new wave of their
   * group). Ends the run if nothing is pending.
   */
  resumeRun(ref: RunRef): Promise<Outcome<void>> {
    return this.runStep(ref, undefined, (s) => resumeRun(s, ref));
  }

  /**
   * Bring a run back in line with its state, as if every event had arrived: start it if it may start,
   * finish it if nothing is pending, settle tasks whose upstreams are done, re-dispatch instances queued
   * longer than `staleMs` (dispatch is idempotent), deliver retry and poke timers that are past due,
   * resume deferred instances whose triggered run has ended, and report instances whose try stopped
   * without a result (`tryStopped` says so, e.g. their lifecycle execution ended). Safe to call any time,
   * any number of times: every step is a conditional write.
   */
  reconcileRun(ref: RunRef, options: ReconcileOptions): Promise<Outcome<ReconcileReport>> {
    const { dagId, runId } = ref;
    return this.runStep({ dagId, runId }, emptyReport(ref), (s) => reconcile(s, { dagId, runId }, options));
  }

  /** Whether a task's map indexes go to Batch as array jobs (the host must be able to start waves). */
  isArrayTask(t: TaskSpec): boolean {
    return isArrayTask(t, this.env.arrays);
  }

  /** The DAG's tasks in an order where every task comes after its upstream tasks. */
  topologicalOrder(dag: Dag): TaskSpec[] {
    return topologicalOrder(dag);
  }
}
