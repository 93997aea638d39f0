// One call of the scheduler: what it reads and writes with, and the effects it decides. Every room of
// the scheduler (runs, decisions, slots, tries, timers, waves, reconcile) is a set of functions taking
// the Step of the call they serve; the Scheduler class (scheduler.ts) opens one Step per entry point.

import type { Dag } from '../authoring/dag.ts';
import { dagAtVersion } from '../authoring/dag-resolver.ts';
import type { ArrayWave, TimerEvent } from '../core/events.ts';
import { DagNotFoundError, DagVersionUnavailableError } from '../errors.ts';
import type { InputResolver } from '../executor/resolve.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { DagRunRecord, PoolRecord, RunRef, TaskInstanceRecord, TiKey } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import type { Effect } from './effects.ts';
import type { DagResolver } from './host.ts';

/** What every step of one scheduler works with. */
export interface SchedulerEnv {
  store: StateStore;
  dags: DagResolver;
  resolver: InputResolver;
  /** Milliseconds since the epoch (a fake clock in tests). */
  now: () => number;
  /** Whether the host runs array waves (`dispatchWave`); without, a mapped Batch task dispatches per instance. */
  arrays: boolean;
  /** Whether an external job a deferred instance waits on has already ended (closes a race at deferral). */
  externalDone?: ((kind: 'batch', externalId: string) => Promise<boolean>) | undefined;
}

export class Step {
  /** The effects decided so far, in order. */
  readonly effects: Effect[] = [];
  /**
   * Whether this step is a replay: a report that found its try already moved. What it dispatches starts
   * anew (see the `dispatch` effect).
   */
  replaying = false;
  /** Pools read by this step (a finished try and the successors it queues share one read). */
  private readonly pools = new Map<string, PoolRecord | undefined>();

  constructor(readonly env: SchedulerEnv) {}

  get store(): StateStore {
    return this.env.store;
  }

  now(): number {
    return this.env.now();
  }

  /** The DAG `dagId` at its current version (new runs, lookups by id): a DagNotFoundError when none is loaded. */
  dag(dagId: string): Dag {
    const d = this.env.dags.getDag(dagId);
    if (!d) throw new DagNotFoundError(`no DAG '${dagId}' is loaded`, { dagId });
    return d;
  }

  /**
   * The DAG `dagId` at exactly `version` (a run's dagVersion), loaded by the resolver if it is not in
   * memory: a DagVersionUnavailableError when it cannot be had (its code was never kept, or was pruned),
   * which the entry points turn into the run's failure with a note (`guarded` in run-end.ts).
   */
  async dagAt(dagId: string, version: string): Promise<Dag> {
    const d = await dagAtVersion(this.env.dags, dagId, version);
    if (d) return d;
    const current = this.env.dags.getDag(dagId);
    const now = current ? `it is now version ${current.spec.version}` : 'no version of it is loaded now';
    throw new DagVersionUnavailableError(`the run's DAG version ${version} is not loaded and its code cannot be loaded (${now}), so the run cannot go on`, { dagId });
  }

  /** The DAG of a run, at the run's version. */
  dagOf(run: DagRunRecord): Promise<Dag> {
    return this.dagAt(run.dagId, run.dagVersion);
  }

  /** A pool, read once per step. */
  async pool(name: string): Promise<PoolRecord | undefined> {
    if (this.pools.has(name)) return this.pools.get(name);
    const pool = await this.store.getPool(name);
    this.pools.set(name, pool);
    return pool;
  }

  async putPool(pool: PoolRecord): Promise<void> {
    await this.store.putPool(pool);
    this.pools.set(pool.name, pool);
  }

  /** Whether a task's map indexes go to Batch as array jobs (the host must be able to start waves). */
  isArrayTask(t: TaskSpec): boolean {
    return isArrayTask(t, this.env.arrays);
  }

  dispatch(ti: TaskInstanceRecord, dag: Dag): void {
    this.effects.push(this.replaying ? { type: 'dispatch', ti, dag, anew: true } : { type: 'dispatch', ti, dag });
  }

  dispatchWave(wave: ArrayWave, dag: Dag): void {
    this.effects.push({ type: 'dispatchWave', wave, dag });
  }

  timer(at: number, event: TimerEvent): void {
    this.effects.push({ type: 'timer', at, event });
  }

  stopRunnable(jobQueue: string | null, jobName: string, reason: string): void {
    this.effects.push({ type: 'stopRunnable', jobQueue, jobName, reason });
  }

  cancelRun(run: RunRef, reason?: string, only?: readonly { key: TiKey; tryNumber: number }[], inFlight?: readonly TaskInstanceRecord[]): void {
    this.effects.push({ type: 'cancelRun', run: { dagId: run.dagId, runId: run.runId }, ...(reason !== undefined ? { reason } : {}), ...(only ? { only } : {}), ...(inFlight?.length ? { inFlight } : {}) });
  }

  emitTi(ti: TaskInstanceRecord | undefined): void {
    if (ti) this.effects.push({ type: 'emit', event: { type: 'ti', ti } });
  }

  emitRun(run: DagRunRecord): void {
    this.effects.push({ type: 'emit', event: { type: 'run', run } });
  }

  /** An error the step absorbed (a user callback that threw): reported, not thrown. */
  emitError(run: RunRef | null, error: unknown, where: string): void {
    this.effects.push({ type: 'emit', event: { type: 'error', run, error, where } });
  }
}

/** Whether a task's map indexes go to Batch as array jobs, for a host that runs waves when `arrays`. */
export function isArrayTask(t: TaskSpec, arrays: boolean): boolean {
  return arrays && t.kind === 'batch' && t.mapping !== null && t.batch.array;
}
