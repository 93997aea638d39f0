import { randomInt } from 'node:crypto';
import type { Dag } from '../authoring/dag.ts';
import type { RunType } from '../authoring/context.ts';
import { DEFAULT_POOL, DEFAULT_POOL_SLOTS } from '../authoring/options.ts';
import { DagNotFoundError, DagVersionUnavailableError, errorMessage, MappingError, RunExistsError } from '../errors.ts';
import { resolveParams } from '../core/params.ts';
import { decideAfterFailure } from '../core/retry.ts';
import { arrayGroups, batchJobName, groupBounds, groupOf, waveJobName, type ArrayRef, type ChildOutcome } from '../core/arrays.ts';
import { runOutcome } from '../core/run-outcome.ts';
import { evaluateTriggerRule, type UpstreamCounts } from '../core/trigger-rules.ts';
import type { TaskSpec } from '../model/spec.ts';
import { iso } from '../model/time.ts';
import { isTerminalTiState, type TerminalTiState } from '../model/states.ts';
import { InputResolver, mappingLength } from '../executor/resolve.ts';
import { historyWithCurrentTry, newTaskInstance, pipelineScopeOf, runRefOf, type BackfillRecord, type DagRunRecord, type RunRef, type TaskInstanceRecord, type TaskStateRecord, type TiKey, type TrySummary } from '../store/records.ts';
import type { BulkFinishResult, FinishRequest, StateStore, TiUpdate } from '../store/state-store.ts';
import { ResilientStateStore } from '../store/resilient-store.ts';
import { tiKeyOf, timerRun, type DagResolver, type SchedulerHost, type TimerEvent, type TryResult } from './host.ts';
import type { TriggerRequest } from '../executor/trigger-request.ts';

export type { TriggerRequest } from '../executor/trigger-request.ts';

/** Letters and digits of a generated run id's suffix (Airflow's `get_random_string`). */
const RUN_ID_SUFFIX_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A new run id for a trigger that names neither a run id nor a logical date, in Airflow 3's shape:
 * `<runType>__<ISO time>_<8 random letters and digits>` (62^8, about 2·10^14, per millisecond), so two
 * triggers of a DAG in the same millisecond make two runs.
 */
export function generateRunId(runType: RunType, at: string): string {
  let suffix = '';
  for (let i = 0; i < 8; i++) suffix += RUN_ID_SUFFIX_CHARS[randomInt(RUN_ID_SUFFIX_CHARS.length)];
  return `${runType}__${at}_${suffix}`;
}


/** What a reconcile pass found and repaired. */
export interface ReconcileReport {
  dagId: string;
  runId: string;
  redispatched: number;
  timersDelivered: number;
  resumed: number;
  evaluated: number;
  failedStopped: number;
  /** Slots given back that instances of the run no longer queued or running still held. */
  slotsFreed: number;
  finalized: boolean;
}

/** Runs of a backfill that may run at once when its record does not say (Airflow's default). */
export const DEFAULT_BACKFILL_MAX_ACTIVE_RUNS = 10;

/** The counting semaphore a running run holds a unit of: its backfill's, or its DAG's (maxActiveRuns). */
export function runSemaphore(dagId: string, backfillId: string | null): string {
  return backfillId === null ? `runs:${dagId}` : `backfill:${backfillId}`;
}

/** The holder of a run's unit of its maxActiveRuns (or backfill) semaphore. */
export function runHolder(run: Pick<DagRunRecord, 'dagId' | 'runId'>): string {
  return `run/${run.dagId}/${run.runId}`;
}

/** The holder of the slots one try of an instance takes. */
export function tiHolder(key: TiKey, tryNumber: number): string {
  return `ti/${key.dagId}/${key.runId}/${key.taskId}/${key.mapIndex}/${tryNumber}`;
}

/** The holder of the slots an array wave takes (one unit of each limit for the whole wave). */
export function waveHolder(array: ArrayRef, tryNumber: number): string {
  return `wave/${array.dagId}/${array.runId}/${array.taskId}/${array.group}/${tryNumber}`;
}

/** Static upstream shape of a task: how many upstream instances are known from the spec alone. */
interface StaticUpstream {
  known: number;
  mappedTasks: number;
}

/**
 * The scheduling engine: the same code runs in the local runner and in the Lambda handlers. Every
 * decision comes from the pure rules in `core/`; every change is a conditional write in the store, so
 * every entry point can be called twice, late or out of order and change nothing the second time.
 */
export class Scheduler {
  readonly resolver: InputResolver;
  private readonly staticUpstream = new WeakMap<TaskSpec, StaticUpstream>();
  private readonly leaves = new WeakMap<Dag, string[]>();
  private readonly topo = new WeakMap<Dag, TaskSpec[]>();

  /** The store, its calls retried on transient failures (see {@link ResilientStateStore}). */
  readonly store: StateStore;

  constructor(
    store: StateStore,
    readonly dags: DagResolver,
    readonly host: SchedulerHost,
    resolver?: InputResolver,
  ) {
    this.store = ResilientStateStore.wrap(store);
    this.resolver = resolver ?? new InputResolver(this.store);
  }

  /**
   * The DAG `dagId`; with `version` (a run's dagVersion), exactly that version: a DagVersionUnavailableError
   * when the resolver does not have it (the DAG file changed, or is gone, since the run started), which
   * the entry points turn into the run's failure with a note ({@link guarded}).
   */
  private dag(dagId: string, version?: string): Dag {
    const d = this.dags.getDag(dagId, version);
    if (version !== undefined && d?.spec.version !== version) {
      const now = d ? `it is now version ${d.spec.version}` : 'no version of it is loaded now';
      throw new DagVersionUnavailableError(`the run's DAG version ${version} is not loaded (the DAG file changed or failed to load since the run started; ${now}), so the run cannot go on`, { dagId });
    }
    if (!d) throw new DagNotFoundError(`no DAG '${dagId}' is loaded`, { dagId });
    return d;
  }

  /**
   * Run `work` for a run; if the run's DAG version cannot be had, fail the run with a note saying so
   * (its instances and counters are left as they are), give back its maxActiveRuns unit and wake its parent.
   */
  private async guarded<T>(ref: RunRef, work: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (!(e instanceof DagVersionUnavailableError)) throw e;
      const ended = await this.store.updateRun(runRefOf(ref), ['running', 'queued'], { state: 'failed', endDate: iso(this.host.now()), note: `${e.name}: ${e.message}` });
      if (ended) {
        this.resolver.forget(ended);
        this.host.emit?.({ type: 'run', run: ended });
        this.host.cancelRun?.(runRefOf(ended));
        if (ended.parent) await this.resumeDeferred(ended.parent, ended.parent.tryNumber);
        await this.afterRunEnded(ended);
      }
      return fallback;
    }
  }

  private emitTi(ti: TaskInstanceRecord | undefined): void {
    if (ti) this.host.emit?.({ type: 'ti', ti });
  }

  // ---------------------------------------------------------------------------------------------------
  // Runs

  /**
   * Create a run (queued), validating conf against the DAG's params, then start it if maxActiveRuns
   * allows. Run ids are unique per DAG (as in Airflow: two DAGs on one schedule each have their
   * `scheduled__<logicalDate>`). A trigger that names its run (a run id, or a logical date: the id is then
   * `<runType>__<logicalDate>`) finds the DAG's run with that id if there is one and returns it
   * (idempotent; `exclusive` refuses with a RunExistsError instead). A trigger that names neither gets a
   * new run with a new id ({@link generateRunId}).
   */
  async triggerRun(req: TriggerRequest): Promise<DagRunRecord> {
    const dag = this.dag(req.dagId);
    if (req.runId !== undefined || req.logicalDate !== undefined) return this.createRunOf(dag, req, req.runId);
    // Named by neither: a new id, drawn again in the (about 1 in 10^14) case another trigger drew it too.
    const logicalDate = iso(this.host.now());
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.createRunOf(dag, { ...req, logicalDate, exclusive: true }, generateRunId(req.runType ?? 'manual', logicalDate));
      } catch (e) {
        if (!(e instanceof RunExistsError) || attempt >= 5) throw e;
      }
    }
  }

  /** {@link triggerRun} with the run id given (default `<runType>__<logicalDate>`): the run created, or the DAG's run found with that id. */
  private async createRunOf(dag: Dag, req: TriggerRequest, id: string | undefined): Promise<DagRunRecord> {
    const conf = req.conf ?? {};
    const params = resolveParams(dag.spec.params, conf, { dagId: dag.dagId });
    const now = this.host.now();
    const logical = req.logicalDate === undefined ? iso(now) : new Date(req.logicalDate).toISOString();
    const runType = req.runType ?? 'manual';
    const runId = id ?? `${runType}__${logical}`;
    const run: DagRunRecord = {
      dagId: dag.dagId,
      runId,
      state: 'queued',
      runType,
      conf,
      params,
      logicalDate: logical,
      queuedAt: iso(now),
      startDate: null,
      endDate: null,
      dagVersion: dag.spec.version,
      pending: dag.spec.tasks.length,
      parent: req.parent ?? null,
      pipelineScope: req.pipelineScope ?? pipelineScopeOf({ dagId: dag.dagId, runId }),
      note: null,
    };
    if (!(await this.store.createRun(run))) {
      const existing = (await this.store.getRun(run))!;
      if (req.exclusive) throw new RunExistsError(`run '${runId}' of DAG '${dag.dagId}' exists already (${existing.state})`, { dagId: dag.dagId });
      return existing;
    }
    // Keep the DAG registry's version current (the paused flag lives there too).
    const registered = await this.store.getDagRecord(dag.dagId);
    if (registered?.version !== dag.spec.version) await this.store.registerDagVersion(dag.dagId, dag.spec.version, dag.spec.fileloc, iso(now));
    this.host.emit?.({ type: 'run', run });
    await this.startQueuedRuns(dag.dagId, runId);
    return (await this.store.getRun(run))!;
  }

  /**
   * Start queued runs of a DAG while maxActiveRuns allows: the run just created when given (no index
   * read, which may lag), else the queued runs oldest first. Each running run holds one unit of the
   * `runs:<dagId>` semaphore, so the limit holds however many schedulers run at once. A run of a
   * backfill holds a unit of `backfill:<id>` instead (the backfill's maxActiveRuns, applied independently
   * of the DAG's, as in Airflow). No run starts while its DAG is paused (as in Airflow, a manual or
   * triggered run of a paused DAG stays queued until it is unpaused: unpausing starts them).
   */
  async startQueuedRuns(dagId: string, justCreated?: string): Promise<void> {
    const dag = this.dag(dagId);
    const candidates: { runId: string; backfillId: string | null }[] = justCreated
      ? [{ runId: justCreated, backfillId: null }]
      : (await this.store.listRuns({ dagId, states: ['queued'] })).map((r) => ({ runId: r.runId, backfillId: r.backfillId ?? null }));
    if (candidates.length === 0 || (await this.store.getDagRecord(dagId))?.paused) return;
    const freed = new Set<string>();
    const refused = new Set<string>();
    const backfillLimits = new Map<string, number>();
    for (const { runId, backfillId } of candidates) {
      const sem = runSemaphore(dagId, backfillId);
      if (refused.has(sem)) continue;
      let limit = dag.spec.maxActiveRuns;
      if (backfillId !== null) {
        let l = backfillLimits.get(backfillId);
        if (l === undefined) backfillLimits.set(backfillId, (l = (await this.store.getBackfill(dagId, backfillId))?.maxActiveRuns ?? DEFAULT_BACKFILL_MAX_ACTIVE_RUNS));
        limit = l;
      }
      const holder = runHolder({ dagId, runId });
      let acquired = await this.store.tryAcquire(sem, 1, limit, holder);
      // Refused: first give back units held by runs that are no longer running (a run that ended while
      // its release was lost), then try once more.
      if (!acquired && !freed.has(sem)) {
        freed.add(sem);
        if ((await this.freeEndedRunHolders(sem)) > 0) acquired = await this.store.tryAcquire(sem, 1, limit, holder);
      }
      if (!acquired) {
        refused.add(sem);
        continue;
      }
      const ref = { dagId, runId };
      if (!(await this.guarded(ref, () => this.startRun(ref), true))) {
        // Not started by this call: keep the unit only if the run is running (it was started, by this
        // call's write that reported an error, or by a concurrent one with the same holder).
        if ((await this.store.getRun(ref))?.state !== 'running') await this.store.release(sem, 1, holder);
      }
    }
  }

  /**
   * Give back the maxActiveRuns units of a DAG's runs that ended without giving theirs back (a process
   * that died between a run's end and its release), then start queued runs that now fit. The resume at
   * start and the periodic reconcile call it; a refused start does the same for its semaphore.
   */
  async recoverRunSlots(dagId: string): Promise<number> {
    const freed = await this.freeEndedRunHolders(runSemaphore(dagId, null));
    if (freed > 0) await this.startQueuedRuns(dagId);
    return freed;
  }

  /** Units of a runs semaphore held by runs that are no longer running: given back. Returns how many. */
  private async freeEndedRunHolders(sem: string): Promise<number> {
    let freed = 0;
    for (const [holder, n] of await this.store.semaphoreHolders(sem)) {
      const m = /^run\/([^/]+)\/(.+)$/.exec(holder);
      if (!m) continue;
      const run = await this.store.getRun({ dagId: m[1]!, runId: m[2]! });
      if (run?.state === 'running') continue;
      await this.store.release(sem, n, holder);
      freed++;
    }
    return freed;
  }

  /** Let the run's data expire after the store's retention, and give its maxActiveRuns unit to a queued run. */
  private async afterRunEnded(run: DagRunRecord): Promise<void> {
    if (run.endDate) await this.store.expireRun?.(runRefOf(run), run.endDate);
    await this.store.release(runSemaphore(run.dagId, run.backfillId ?? null), 1, runHolder(run));
    // A run failed because no version of its DAG is loaded any more has no queued runs to start.
    if (this.dags.getDag(run.dagId)) await this.startQueuedRuns(run.dagId);
    if (run.backfillId) await this.checkBackfill(run.dagId, run.backfillId);
  }

  /**
   * Mark a backfill completed once none of its runs is queued or running (called when one of them ends).
   * Returns the backfill as it is now.
   */
  async checkBackfill(dagId: string, backfillId: string): Promise<BackfillRecord | undefined> {
    const b = await this.store.getBackfill(dagId, backfillId);
    if (!b || b.state !== 'running') return b;
    // The run listing reads an index that may lag: confirm each candidate with a consistent read.
    for (const r of await this.store.listRuns({ dagId, states: ['queued', 'running'] })) {
      if (r.backfillId !== backfillId) continue;
      const now = await this.store.getRun(r);
      if (now && (now.state === 'queued' || now.state === 'running') && now.backfillId === backfillId) return b;
    }
    return (await this.store.updateBackfill(dagId, backfillId, ['running'], { state: 'completed', completedAt: iso(this.host.now()) })) ?? (await this.store.getBackfill(dagId, backfillId));
  }

  private async startRun(ref: RunRef): Promise<boolean> {
    const now = this.host.now();
    const run = await this.store.updateRun(ref, ['queued'], { state: 'running', startDate: iso(now) });
    if (!run) return false;
    this.host.emit?.({ type: 'run', run });
    const dag = this.dag(run.dagId, run.dagVersion);
    if (dag.spec.dagrunTimeoutMs !== null) this.host.setTimer(now + dag.spec.dagrunTimeoutMs, { type: 'run_timeout', ...runRefOf(run) });
    if (dag.spec.tasks.length === 0) {
      await this.finalizeRun(run);
      return true;
    }
    if ((run.clearNumber ?? 0) > 0) {
      // A cleared run starting again: its cleared tasks are decided anew and its rerun instances queued.
      await this.resumeTasks(dag, run);
      await this.finalizeIfDone(run);
      return true;
    }
    for (const t of dag.spec.tasks) if (t.upstream.length === 0) await this.decide(dag, run, t, undefined);
    return true;
  }

  private async finalizeIfDone(ref: RunRef): Promise<void> {
    const run = await this.store.getRun(ref);
    if (run?.state === 'running' && run.pending === 0) await this.finalizeRun(run);
  }

  private async finalizeRun(ref: RunRef): Promise<void> {
    const run = await this.store.getRun(ref);
    // pending > 0: instances were cleared after the caller saw it reach 0; the run goes on.
    if (!run || run.state !== 'running' || run.pending > 0) return;
    const dag = this.dag(run.dagId, run.dagVersion);
    let leaves = this.leaves.get(dag);
    if (!leaves) this.leaves.set(dag, (leaves = dag.spec.tasks.filter((t) => t.downstream.length === 0).map((t) => t.taskId)));
    const states = await this.store.getTaskStates(run, leaves);
    const state = runOutcome(states.map((s) => s?.self ?? { failed: 0, upstream_failed: 0 }));
    await this.endRun(run, state, null);
  }

  /** Fail a run that cannot go on (e.g. its host hit an internal error): as any run end, exactly once. */
  async failRun(ref: RunRef, note: string): Promise<void> {
    const run = await this.store.getRun(ref);
    if (run && (run.state === 'running' || run.state === 'queued')) await this.endRun(run, 'failed', note);
  }

  private async endRun(run: DagRunRecord, state: 'success' | 'failed', note: string | null): Promise<void> {
    const ended = await this.store.updateRun(runRefOf(run), ['running', 'queued'], { state, endDate: iso(this.host.now()), note });
    if (!ended) {
      // Ended already (a replay, or this call's write reported an error after it applied): finish what
      // follows an end, each step idempotent.
      const now = await this.store.getRun(run);
      if (now && (now.state === 'success' || now.state === 'failed')) {
        if (now.parent) await this.resumeDeferred(now.parent, now.parent.tryNumber);
        await this.afterRunEnded(now);
      }
      return;
    }
    this.resolver.forget(run);
    this.host.emit?.({ type: 'run', run: ended });
    // The DAG's callbacks, when the run's version is loaded (a run failed because it is not has none to call).
    const found = this.dags.getDag(run.dagId, run.dagVersion);
    const dag = found?.spec.version === run.dagVersion ? found : undefined;
    const cb = dag && (state === 'success' ? dag.callbacks.onSuccess : dag.callbacks.onFailure);
    if (cb) {
      try {
        await cb({ dagId: ended.dagId, runId: ended.runId, state, conf: ended.conf, logicalDate: new Date(ended.logicalDate) });
      } catch (e) {
        this.host.emit?.({ type: 'error', run: runRefOf(run), error: e, where: `DAG '${dag.dagId}' ${state === 'success' ? 'onSuccess' : 'onFailure'} callback` });
      }
    }
    if (ended.parent) await this.resumeDeferred(ended.parent, ended.parent.tryNumber);
    await this.afterRunEnded(ended);
  }

  // ---------------------------------------------------------------------------------------------------
  // Deciding what runs

  private staticShape(dag: Dag, t: TaskSpec): StaticUpstream {
    let s = this.staticUpstream.get(t);
    if (!s) {
      s = { known: 0, mappedTasks: 0 };
      for (const u of t.upstream) {
        if (dag.task(u).mapping) s.mappedTasks++;
        else s.known++;
      }
      this.staticUpstream.set(t, s);
    }
    return s;
  }

  private counts(dag: Dag, t: TaskSpec, rec: TaskStateRecord | undefined): UpstreamCounts {
    const s = this.staticShape(dag, t);
    const u = rec?.upstream;
    return {
      success: u?.success ?? 0,
      failed: u?.failed ?? 0,
      skipped: u?.skipped ?? 0,
      upstream_failed: u?.upstream_failed ?? 0,
      removed: u?.removed ?? 0,
      total: s.known + (rec?.upstreamAddedTotal ?? 0),
      unknownTasks: s.mappedTasks - (rec?.upstreamExpanded ?? 0),
    };
  }

  /** Evaluate a task's trigger rule and settle it (once) if the rule says so. */
  private async decide(dag: Dag, run: DagRunRecord, t: TaskSpec, rec: TaskStateRecord | undefined): Promise<void> {
    if (rec?.decision) return;
    const verdict = evaluateTriggerRule(t.triggerRule, this.counts(dag, t, rec), t.upstream.length);
    if (verdict === 'wait') return;
    const priorTries = rec?.priorTries ?? 0;
    const priorHistory = rec?.priorHistory;
    if (verdict !== 'run') return this.settleTerminal(dag, run, t, verdict, null, priorTries, priorHistory);
    if ((run.clearNumber ?? 0) > 0) {
      // A cleared task whose branch (or short-circuit) upstream did not run again: skipped again if that
      // upstream skipped it (Airflow's NotPreviouslySkippedDep).
      const why = await this.skippedByUpstream(dag, run, t);
      if (why !== null) return this.settleTerminal(dag, run, t, 'skipped', why, priorTries, priorHistory);
    }
    if (t.mapping) return this.expand(dag, run, t, priorTries, priorHistory);
    if (!(await this.store.claimDecision(run, t.taskId, 'scheduled'))) {
      // Settled already: by a concurrent call, or by this one whose instance was then not created (a
      // lost write, a process that died): finish what the decision started.
      const now = (await this.store.getTaskStates(run, [t.taskId]))[0];
      if (now?.decision === 'scheduled' && !(await this.store.getTaskInstance({ dagId: run.dagId, runId: run.runId, taskId: t.taskId, mapIndex: -1 }))) await this.completeDecision(dag, run, t, now);
      return;
    }
    const ti = this.newTi(dag, run, t, -1, priorTries, priorHistory);
    await this.store.createTaskInstances([ti]);
    this.emitTi(ti);
    await this.queueOrRun(dag, ti);
  }

  /**
   * A task whose decision is settled but whose instances were not all created (the write that creates
   * them was lost, or the process died between the two): create what is missing and queue it. The
   * instances are those the decision would have created; creating is create-if-absent.
   */
  private async completeDecision(dag: Dag, run: DagRunRecord, t: TaskSpec, rec: TaskStateRecord, existing?: readonly TaskInstanceRecord[]): Promise<number> {
    const priorTries = rec.priorTries ?? 0;
    if (rec.decision === 'scheduled') {
      const ti = this.newTi(dag, run, t, -1, priorTries, rec.priorHistory);
      await this.store.createTaskInstances([ti]);
      const now = await this.store.getTaskInstance(ti);
      if (now) this.emitTi(now);
      if (now?.state === 'scheduled') await this.queueOrRun(dag, now);
      return 1;
    }
    if (rec.decision === 'expanded' && rec.mapCount !== null) {
      const have = new Set((existing ?? (await this.store.listTaskInstances(run, t.taskId))).map((ti) => ti.mapIndex));
      const missing: TaskInstanceRecord[] = [];
      for (let i = 0; i < rec.mapCount; i++) if (!have.has(i)) missing.push(this.newTi(dag, run, t, i, priorTries));
      if (missing.length === 0) return 0;
      await this.store.createTaskInstances(missing);
      for (const ti of missing) this.emitTi(ti);
      if (this.isArrayTask(t)) {
        const groups = new Set(missing.map((ti) => groupOf(ti.mapIndex)));
        for (const group of groups) await this.queueWave(dag, t, { dagId: run.dagId, runId: run.runId, taskId: t.taskId, group });
      } else {
        for (const ti of missing) await this.queueOrRun(dag, ti);
      }
      return missing.length;
    }
    if (rec.decision !== null && rec.decision !== 'expanded') {
      // Settled terminal without its instance: create it now (the reason it was settled for is not kept).
      await this.finishSettled(dag, run, t, rec.decision, `settled ${rec.decision}; its instance was created again after a lost write`, priorTries, rec.priorHistory);
      return 1;
    }
    return 0;
  }

  /** Why a direct branch or short-circuit upstream, done, skipped `t` (its recorded result), or null. */
  private async skippedByUpstream(dag: Dag, run: DagRunRecord, t: TaskSpec): Promise<string | null> {
    for (const u of t.upstream) {
      const kind = dag.task(u).kind;
      if (kind !== 'branch' && kind !== 'short_circuit') continue;
      const ti = await this.store.getTaskInstance({ dagId: run.dagId, runId: run.runId, taskId: u, mapIndex: -1 });
      if (ti?.state !== 'success') continue;
      const chosen = (await this.store.getXCom(run, u, -1, 'return_value'))?.value;
      if (kind === 'branch' && Array.isArray(chosen) && !chosen.includes(t.taskId)) return `not chosen by branch '${u}'`;
      if (kind === 'short_circuit' && chosen === false) return `short-circuited by '${u}'`;
    }
    return null;
  }

  /**
   * A new instance, before its first try; `priorTries`: a cleared task's earlier tries, which its next
   * try continues from (with its retries counted again from there, as Airflow's max_tries), and
   * `priorHistory`: those tries' summaries (a cleared unmapped task's), which it carries on.
   */
  private newTi(dag: Dag, run: DagRunRecord, t: TaskSpec, mapIndex: number, priorTries = 0, priorHistory?: TrySummary[]): TaskInstanceRecord {
    return newTaskInstance({ dagId: dag.dagId, runId: run.runId, taskId: t.taskId, mapIndex, maxTries: priorTries + t.retries + 1, tryNumber: priorTries, ...(priorHistory?.length ? { history: priorHistory } : {}) });
  }

  private async expand(dag: Dag, run: DagRunRecord, t: TaskSpec, priorTries = 0, priorHistory?: TrySummary[]): Promise<void> {
    let n: number;
    try {
      n = mappingLength(await this.resolver.mappingLists(dag, run, t.taskId, t.mapping!));
    } catch (e) {
      const msg = e instanceof MappingError ? errorMessage(e) : `MappingError: could not resolve the lists to map over: ${errorMessage(e)}`;
      return this.settleTerminal(dag, run, t, 'failed', msg, priorTries, priorHistory);
    }
    if (n === 0) return this.settleTerminal(dag, run, t, 'skipped', 'mapped over an empty list', priorTries, priorHistory);
    if (!(await this.store.claimExpansion(run, t.taskId, n, t.downstream))) {
      const now = (await this.store.getTaskStates(run, [t.taskId]))[0];
      if (now?.decision === 'expanded') await this.completeDecision(dag, run, t, now);
      return;
    }
    const tis: TaskInstanceRecord[] = new Array(n);
    for (let i = 0; i < n; i++) tis[i] = this.newTi(dag, run, t, i, priorTries);
    await this.store.createTaskInstances(tis);
    for (const ti of tis) this.emitTi(ti);
    if (this.isArrayTask(t)) {
      for (const g of arrayGroups(n)) await this.queueWave(dag, t, { dagId: run.dagId, runId: run.runId, taskId: t.taskId, group: g.group }, tis.slice(g.first, g.first + g.count));
      return;
    }
    for (const ti of tis) await this.queueOrRun(dag, ti);
  }

  /**
   * Settle a task without running it: one instance (map index -1) in a terminal state. `priorTries`
   * when the caller knows it (a cleared task's earlier tries); else read when the run was ever cleared.
   */
  private async settleTerminal(dag: Dag, run: DagRunRecord, t: TaskSpec, state: TerminalTiState, error: string | null, priorTries?: number, priorHistory?: TrySummary[]): Promise<void> {
    if (!(await this.store.claimDecision(run, t.taskId, state))) {
      // Settled already as this: finish it when its instance is missing (creating it is conditional on absence).
      const now = (await this.store.getTaskStates(run, [t.taskId]))[0];
      if (now?.decision === state && !(await this.store.getTaskInstance({ dagId: run.dagId, runId: run.runId, taskId: t.taskId, mapIndex: -1 }))) {
        await this.finishSettled(dag, run, t, state, error, priorTries ?? now.priorTries ?? 0, priorHistory ?? now.priorHistory);
      }
      return;
    }
    await this.finishSettled(dag, run, t, state, error, priorTries, priorHistory);
  }

  /** Create the terminal instance of a task whose decision this caller has claimed. */
  private async finishSettled(dag: Dag, run: DagRunRecord, t: TaskSpec, state: TerminalTiState, error: string | null, priorTries?: number, priorHistory?: TrySummary[]): Promise<void> {
    const now = iso(this.host.now());
    if (priorTries === undefined && (run.clearNumber ?? 0) > 0) {
      const rec = (await this.store.getTaskStates(run, [t.taskId]))[0];
      priorTries = rec?.priorTries ?? 0;
      priorHistory = rec?.priorHistory;
    }
    const ti = { ...this.newTi(dag, run, t, -1, priorTries ?? 0, priorHistory), startDate: now, endDate: now, error };
    await this.finish(dag, ti, 'absent', state, { endDate: now, error }, ti);
  }

  /** Move an instance to a terminal state and let its downstream tasks decide. */
  private async finish(
    dag: Dag,
    key: TiKey,
    expect: { states: TaskInstanceRecord['state'][]; tryNumber: number } | 'absent',
    state: TerminalTiState,
    patch: Partial<TaskInstanceRecord>,
    create?: TaskInstanceRecord,
    holder?: string,
  ): Promise<boolean> {
    const t = dag.task(key.taskId);
    const res = await this.store.finishTaskInstance({
      key: tiKeyOf(key),
      expect,
      ...(create ? { create } : {}),
      state,
      patch,
      downstream: t.downstream,
    });
    if (!res) return false;
    this.emitTi(res.ti);
    // Slots go back first: before the successors queue (so they can take them), and before the run can
    // end (a process that dies after the run's end leaves no slot held).
    if (holder !== undefined) await this.releaseSlots(dag, t, holder);
    const run = await this.store.getRun(key);
    if (!run || run.state !== 'running') return true;
    for (let i = 0; i < t.downstream.length; i++) {
      await this.decide(dag, run, dag.task(t.downstream[i]!), res.downstream[i]);
    }
    if (res.pending === 0) await this.finalizeRun(run);
    return true;
  }

  // ---------------------------------------------------------------------------------------------------
  // Slots: pools, maxActiveTasks, maxActiveTisPerDag

  private async limits(dag: Dag, t: TaskSpec): Promise<{ name: string; n: number; limit: number }[] | string> {
    let pool = await this.store.getPool(t.pool);
    if (!pool && t.pool === DEFAULT_POOL) {
      pool = { name: DEFAULT_POOL, slots: DEFAULT_POOL_SLOTS, description: 'Default pool' };
      await this.store.putPool(pool);
    }
    if (!pool) return `pool '${t.pool}' does not exist (define it with the runner's pools option or 'airless pools set')`;
    if (t.poolSlots > pool.slots) return `task needs ${t.poolSlots} slots but pool '${pool.name}' has only ${pool.slots}`;
    const out = [
      { name: `dag:${dag.dagId}`, n: 1, limit: dag.spec.maxActiveTasks },
      { name: `pool:${pool.name}`, n: t.poolSlots, limit: pool.slots },
    ];
    if (t.maxActiveTisPerDag !== null) out.push({ name: `task:${dag.dagId}:${t.taskId}`, n: 1, limit: t.maxActiveTisPerDag });
    return out;
  }

  /** Take slots and queue the instance for its try; or leave it scheduled, waiting for a slot. */
  private async queueOrRun(dag: Dag, ti: TaskInstanceRecord): Promise<void> {
    const t = dag.task(ti.taskId);
    if (this.isArrayTask(t) && ti.mapIndex >= 0) {
      return this.queueWave(dag, t, { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, group: groupOf(ti.mapIndex) });
    }
    if (t.kind === 'empty') {
      const now = iso(this.host.now());
      await this.finish(dag, ti, { states: ['scheduled'], tryNumber: ti.tryNumber }, 'success', {
        tryNumber: ti.tryNumber + 1,
        startDate: now,
        endDate: now,
        durationMs: 0,
      });
      return;
    }
    const limits = await this.limits(dag, t);
    if (typeof limits === 'string') {
      await this.finish(dag, ti, { states: ['scheduled'], tryNumber: ti.tryNumber }, 'failed', {
        error: `PoolError: ${limits}`,
        endDate: iso(this.host.now()),
      });
      return;
    }
    const nextTry = ti.resume ? ti.tryNumber : ti.tryNumber + 1;
    const holder = tiHolder(ti, nextTry);
    for (let attempt = 0; attempt < 2; attempt++) {
      const blocked = await this.acquireAll(limits, holder);
      if (blocked === null) {
        let queued = await this.store.updateTaskInstance(
          ti,
          { states: ['scheduled'], tryNumber: ti.tryNumber },
          ti.resume
            ? { state: 'queued', resume: false, queuedAt: iso(this.host.now()) }
            : {
                state: 'queued',
                tryNumber: nextTry,
                queuedAt: iso(this.host.now()),
                startDate: null,
                endDate: null,
                externalId: null,
                firstPokeAt: null,
                pokeCount: 0,
              },
        );
        if (!queued) {
          // Queued already for this try (by a concurrent call holding the same slots, or by this call's
          // write that reported an error after it applied): it keeps the slots, and a dispatch is
          // idempotent. Otherwise the slots go back.
          const now = await this.store.getTaskInstance(ti);
          if (now?.state !== 'queued' || now.tryNumber !== nextTry) {
            if (now?.state !== 'running' || now.tryNumber !== nextTry) await this.releaseSlots(dag, t, holder);
            return;
          }
          queued = now;
        }
        this.emitTi(queued);
        this.host.dispatch(queued, dag);
        if (t.kind === 'batch' && t.batch!.runnableTimeoutMs !== null && !ti.resume) {
          this.host.setTimer(this.host.now() + t.batch!.runnableTimeoutMs, {
            type: 'runnable_check',
            key: tiKeyOf(queued),
            tryNumber: queued.tryNumber,
            jobName: t.batch!.jobName ?? batchJobName(dag.dagId, t.taskId, queued.mapIndex, queued.runId, queued.tryNumber),
            jobQueue: t.batch!.jobQueue,
          });
        }
        return;
      }
      // Wait on the limit that refused; try once more in case it was released meanwhile.
      if (attempt === 0) await this.store.enqueueWaiter(blocked, tiKeyOf(ti));
    }
  }

  /**
   * Take one holder's units of every limit, in order; on a refusal, give back what this call took and
   * return the name of the limit that refused (null: all taken).
   */
  private async acquireAll(limits: readonly { name: string; n: number; limit: number }[], holder: string): Promise<string | null> {
    const taken: { name: string; n: number }[] = [];
    for (const l of limits) {
      if (await this.store.tryAcquire(l.name, l.n, l.limit, holder)) {
        taken.push(l);
        continue;
      }
      for (const x of taken) await this.store.release(x.name, x.n, holder);
      return l.name;
    }
    return null;
  }

  /** Take the slots of one unit of work (an instance's try, or an array wave), or say what refused. */
  private async takeSlots(dag: Dag, t: TaskSpec, holder: string): Promise<{ taken: true } | { taken: false; blocked: string | null; error: string | null }> {
    const limits = await this.limits(dag, t);
    if (typeof limits === 'string') return { taken: false, blocked: null, error: limits };
    const blocked = await this.acquireAll(limits, holder);
    return blocked === null ? { taken: true } : { taken: false, blocked, error: null };
  }

  /** Give back what `holder` holds of the task's limits (nothing if it holds none) and wake their waiters. */
  private async releaseSlots(dag: Dag, t: TaskSpec, holder: string): Promise<void> {
    const limits = await this.limits(dag, t);
    if (typeof limits === 'string') return;
    for (const l of limits) await this.store.release(l.name, l.n, holder);
    for (const l of limits) await this.wakeWaiters(l.name);
  }

  private async wakeWaiters(name: string): Promise<void> {
    for (;;) {
      const key = await this.store.dequeueWaiter(name);
      if (!key) return;
      const ti = await this.store.getTaskInstance(key);
      if (!ti || ti.state !== 'scheduled') continue; // stale entry
      const run = await this.store.getRun(ti);
      if (!run || run.state !== 'running') continue;
      const dag = this.dag(run.dagId, run.dagVersion);
      await this.queueOrRun(dag, ti);
      const after = await this.store.getTaskInstance(key);
      if (after?.state === 'scheduled') return; // still no room
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Results of tries, timers, external events

  /**
   * A try ended. Idempotent: only the first report for (instance, try) while it runs moves it; a report
   * that finds the try already moved (a replay, or a first delivery whose process died or whose write
   * reported an error after it applied) finishes what follows that move: slots given back, downstream
   * tasks decided, the run finalised, a retry timer armed. Each of those steps is idempotent.
   */
  async handleTryResult(key: TiKey, tryNumber: number, result: TryResult): Promise<void> {
    return this.guarded(key, () => this.tryResult(key, tryNumber, result), undefined);
  }

  private async tryResult(key: TiKey, tryNumber: number, result: TryResult): Promise<void> {
    const run = await this.store.getRun(key);
    if (!run) return;
    const dag = this.dag(run.dagId, run.dagVersion);
    const t = dag.task(key.taskId);
    const now = this.host.now();
    const expect = { states: ['running' as const], tryNumber };
    const holder = tiHolder(key, tryNumber);
    const current = await this.store.getTaskInstance(key);
    if (!current || current.tryNumber !== tryNumber) return;
    if (current.state !== 'running') return this.afterTryMoved(dag, run, t, current);
    const durationMs = current.startDate ? now - Date.parse(current.startDate) : null;
    switch (result.kind) {
      case 'success': {
        if (result.follow) await this.skipNotFollowed(dag, run, t, result.follow);
        if (result.shortCircuit === false) await this.skipForShortCircuit(dag, run, t);
        // Callbacks run before the state is committed, so they have run when the run is seen to end.
        await this.callback(dag, t, 'onSuccess', key, tryNumber, null);
        await this.finishTry(dag, t, key, expect, 'success', { endDate: iso(now), durationMs, error: null }, holder);
        return;
      }
      case 'skip': {
        await this.finishTry(dag, t, key, expect, 'skipped', { endDate: iso(now), durationMs, error: result.reason }, holder);
        return;
      }
      case 'failure': {
        // Tries left by the instance's maxTries (its task's retries, counted again from a clear).
        const d = decideAfterFailure({ ...t, retries: current.maxTries - 1 }, tryNumber, result.retriable, `${dag.dagId}#${key.taskId}#${key.mapIndex}#${run.logicalDate}`);
        if (d.next === 'retry') {
          const at = now + d.delayMs;
          const ended = { endDate: iso(now), durationMs, error: result.error };
          // The patch is conditional on this try running, so the history read with it is the one it replaces.
          const history = historyWithCurrentTry({ ...current, ...ended }, 'failed');
          const ti = await this.store.updateTaskInstance(key, expect, {
            state: 'up_for_retry',
            ...ended,
            nextAt: iso(at),
            ...(history ? { history } : {}),
          });
          if (!ti) return this.afterTryMovedByOther(dag, run, t, key, tryNumber);
          this.emitTi(ti);
          await this.releaseSlots(dag, t, holder);
          await this.callback(dag, t, 'onRetry', key, tryNumber, result.error);
          this.host.setTimer(at, { type: 'retry', key: tiKeyOf(key), tryNumber });
          return;
        }
        await this.callback(dag, t, 'onFailure', key, tryNumber, result.error);
        await this.finishTry(dag, t, key, expect, 'failed', { endDate: iso(now), durationMs, error: result.error }, holder);
        return;
      }
      case 'defer': {
        const ti = await this.store.updateTaskInstance(key, expect, {
          state: 'deferred',
          nextAt: result.until === null ? null : iso(result.until),
          ...(result.externalId !== undefined ? { externalId: result.externalId } : {}),
        });
        if (!ti) return this.afterTryMovedByOther(dag, run, t, key, tryNumber);
        this.emitTi(ti);
        await this.releaseSlots(dag, t, holder);
        if (result.until !== null) this.host.setTimer(result.until, { type: 'resume', key: tiKeyOf(key), tryNumber });
        else await this.resumeIfExternalDone(dag, t, ti);
        return;
      }
    }
  }

  /** Finish a running try in a terminal state; then (or when it finished already) what follows. */
  private async finishTry(dag: Dag, t: TaskSpec, key: TiKey, expect: { states: TaskInstanceRecord['state'][]; tryNumber: number }, state: TerminalTiState, patch: Partial<TaskInstanceRecord>, holder: string): Promise<void> {
    if (await this.finish(dag, key, expect, state, patch, undefined, holder)) return;
    const run = await this.store.getRun(key);
    if (run) await this.afterTryMovedByOther(dag, run, t, key, expect.tryNumber);
  }

  private async afterTryMovedByOther(dag: Dag, run: DagRunRecord, t: TaskSpec, key: TiKey, tryNumber: number): Promise<void> {
    const now = await this.store.getTaskInstance(key);
    if (now && now.tryNumber === tryNumber && now.state !== 'running') await this.afterTryMoved(dag, run, t, now);
  }

  /**
   * What follows a try's move out of running, done again for an instance found already moved (a report
   * delivered again, or one whose first delivery stopped part way): idempotent steps only.
   */
  private async afterTryMoved(dag: Dag, run: DagRunRecord, t: TaskSpec, ti: TaskInstanceRecord): Promise<void> {
    if (this.isArrayTask(t) && ti.mapIndex >= 0) return; // array children move by wave (handleArrayResult)
    const holder = tiHolder(ti, ti.tryNumber);
    switch (ti.state) {
      case 'success':
      case 'failed':
      case 'skipped':
      case 'upstream_failed': {
        await this.releaseSlots(dag, t, holder);
        await this.decideDownstream(dag, run, t);
        return;
      }
      case 'up_for_retry':
        await this.releaseSlots(dag, t, holder);
        if (ti.nextAt !== null) this.host.setTimer(Date.parse(ti.nextAt), { type: 'retry', key: tiKeyOf(ti), tryNumber: ti.tryNumber });
        return;
      case 'deferred':
        await this.releaseSlots(dag, t, holder);
        if (ti.nextAt !== null) this.host.setTimer(Date.parse(ti.nextAt), { type: 'resume', key: tiKeyOf(ti), tryNumber: ti.tryNumber });
        else await this.resumeIfExternalDone(dag, t, ti);
        return;
      default:
        return;
    }
  }

  /** A deferred instance waiting on an external end that may have happened before it deferred: resume it then. */
  private async resumeIfExternalDone(_dag: Dag, t: TaskSpec, ti: TaskInstanceRecord): Promise<void> {
    if (t.kind === 'trigger_dag' && ti.externalId) {
      // The triggered run may have ended before we deferred: then nobody else will wake us.
      const child = await this.store.getRun({ dagId: t.triggerDag!.triggerDagId, runId: ti.externalId });
      if (child && (child.state === 'success' || child.state === 'failed')) await this.resumeDeferred(ti, ti.tryNumber);
    } else if (t.kind === 'batch' && ti.externalId && (await this.host.externalDone?.('batch', ti.externalId))) {
      await this.resumeDeferred(ti, ti.tryNumber);
    }
  }

  /** Put a deferred instance back in the queue to continue its try (a poke, a finished job or run). */
  async resumeDeferred(key: TiKey, tryNumber: number): Promise<void> {
    return this.guarded(key, async () => {
      const run = await this.store.getRun(key);
      if (!run) return;
      const dag = this.dag(run.dagId, run.dagVersion);
      const ti = await this.store.updateTaskInstance(key, { states: ['deferred'], tryNumber }, { state: 'scheduled', resume: true, nextAt: null });
      if (!ti) return;
      this.emitTi(ti);
      await this.queueOrRun(dag, ti);
    }, undefined);
  }

  async onTimer(event: TimerEvent): Promise<void> {
    return this.guarded(timerRun(event), () => this.timer(event), undefined);
  }

  private async timer(event: TimerEvent): Promise<void> {
    switch (event.type) {
      case 'retry': {
        const ti = await this.store.updateTaskInstance(event.key, { states: ['up_for_retry'], tryNumber: event.tryNumber }, { state: 'scheduled', nextAt: null });
        if (!ti) return;
        this.emitTi(ti);
        const run = await this.store.getRun(ti);
        if (run?.state !== 'running') return;
        await this.queueOrRun(this.dag(run.dagId, run.dagVersion), ti);
        return;
      }
      case 'resume':
        return this.resumeDeferred(event.key, event.tryNumber);
      case 'run_timeout':
        return this.timeoutRun(event);
      case 'array_retry':
        return this.retryWave(event.array, event.tryNumber);
      case 'runnable_check':
        return this.checkRunnable(event);
    }
  }

  /** A run past its dagrunTimeout: fail it; unfinished instances are skipped (as in Airflow). */
  private async timeoutRun(ref: RunRef): Promise<void> {
    const run = await this.store.getRun({ dagId: ref.dagId, runId: ref.runId });
    if (!run || run.state !== 'running') return;
    const dag = this.dag(run.dagId, run.dagVersion);
    // A timer of an earlier start (the run was cleared and started again since) is not this start's.
    const limit = dag.spec.dagrunTimeoutMs;
    if (limit !== null && run.startDate !== null && this.host.now() - Date.parse(run.startDate) < limit) return;
    await this.stopRunning(run, `dagrun timeout: the run took longer than ${limit} ms`);
  }

  /**
   * Stop a run now (e.g. its DAG is being deleted): it fails with `note`; its unfinished instances are
   * skipped and give back their slots, as at a dagrun timeout. A queued run simply fails.
   */
  async stopRun(ref: RunRef, note: string): Promise<void> {
    const run = await this.store.getRun(ref);
    if (run?.state === 'queued') await this.failRun(run, note);
    else if (run?.state === 'running') await this.guarded(run, () => this.stopRunning(run, note), undefined);
  }

  private async stopRunning(run: DagRunRecord, note: string): Promise<void> {
    const runId = run.runId;
    const ref = runRefOf(run);
    const dag = this.dag(run.dagId, run.dagVersion);
    const ended = await this.store.updateRun(ref, ['running'], { state: 'failed', endDate: iso(this.host.now()), note });
    if (!ended) return;
    this.host.cancelRun?.(ref);
    const wavesReleased = new Set<string>();
    // Unfinished instances are skipped, counted in the tallies and the pending count as any finish (so
    // that clearing them later takes back exactly what was counted), one bulk call per task.
    const unfinished = new Map<string, TaskInstanceRecord[]>();
    for (const ti of await this.store.listTaskInstances(ref)) {
      if (isTerminalTiState(ti.state)) continue;
      const list = unfinished.get(ti.taskId);
      if (list) list.push(ti);
      else unfinished.set(ti.taskId, [ti]);
    }
    const endDate = iso(this.host.now());
    for (const [taskId, tis] of unfinished) {
      const t = dag.task(taskId);
      const res = await this.store.finishTaskInstances(
        tis.map((ti) => ({ key: tiKeyOf(ti), expect: { states: [ti.state], tryNumber: ti.tryNumber }, state: 'skipped', patch: { endDate }, downstream: t.downstream })),
      );
      for (let i = 0; i < tis.length; i++) {
        const ti = tis[i]!;
        if (!res.applied[i]) continue;
        this.emitTi({ ...ti, state: 'skipped', endDate });
        if (ti.state !== 'queued' && ti.state !== 'running') continue;
        // An array wave holds one unit for all its instances.
        if (this.isArrayTask(t)) {
          const wave = `${ti.taskId}\u0000${groupOf(ti.mapIndex)}\u0000${ti.tryNumber}`;
          if (wavesReleased.has(wave)) continue;
          wavesReleased.add(wave);
          await this.releaseSlots(dag, t, waveHolder({ dagId: run.dagId, runId: run.runId, taskId: ti.taskId, group: groupOf(ti.mapIndex) }, ti.tryNumber));
          continue;
        }
        await this.releaseSlots(dag, t, tiHolder(ti, ti.tryNumber));
      }
    }
    this.host.emit?.({ type: 'run', run: ended });
    this.resolver.forget(ref);
    const cb = dag.callbacks.onFailure;
    if (cb) {
      try {
        await cb({ dagId: ended.dagId, runId, state: 'failed', conf: ended.conf, logicalDate: new Date(ended.logicalDate) });
      } catch (e) {
        this.host.emit?.({ type: 'error', run: ref, error: e, where: `DAG '${dag.dagId}' onFailure callback` });
      }
    }
    if (ended.parent) await this.resumeDeferred(ended.parent, ended.parent.tryNumber);
    await this.afterRunEnded(ended);
  }

  // ---------------------------------------------------------------------------------------------------
  // Clearing (lib/scheduler/operations.ts resets the instances; these carry the run on)

  /** The DAG's tasks in an order where every task comes after its upstream tasks. */
  topologicalOrder(dag: Dag): TaskSpec[] {
    let order = this.topo.get(dag);
    if (order) return order;
    const indegree = new Map(dag.spec.tasks.map((t) => [t.taskId, t.upstream.length]));
    const ready = dag.spec.tasks.filter((t) => t.upstream.length === 0);
    order = [];
    for (let i = 0; i < ready.length; i++) {
      const t = ready[i]!;
      order.push(t);
      for (const d of t.downstream) {
        const n = indegree.get(d)! - 1;
        indegree.set(d, n);
        if (n === 0) ready.push(dag.task(d));
      }
    }
    this.topo.set(dag, order);
    return order;
  }

  /**
   * A finished run whose instances were cleared runs again: back to queued (its end date cleared), then
   * started when maxActiveRuns allows (unless `start` is false). `patch` is applied with it (a backfill
   * adopting the run). Undefined if the run was not finished.
   */
  async reopenRun(ref: RunRef, patch: Partial<DagRunRecord> = {}, options: { start?: boolean } = {}): Promise<DagRunRecord | undefined> {
    const now = iso(this.host.now());
    const current = await this.store.getRun(ref);
    if (!current) return undefined;
    // It runs the DAG's current code: its version is the current one.
    const dagVersion = this.dag(current.dagId).spec.version;
    const run = await this.store.updateRun(current, ['success', 'failed'], { ...patch, dagVersion, state: 'queued', queuedAt: now, startDate: null, endDate: null, note: null });
    if (!run) return undefined;
    await this.store.reviveRun?.(runRefOf(run));
    this.host.emit?.({ type: 'run', run });
    if (options.start ?? true) await this.startQueuedRuns(run.dagId);
    return (await this.store.getRun(run)) ?? run;
  }

  /**
   * Carry on a running run after instances of it were cleared: decide its undecided tasks (the cleared
   * ones whose upstreams are done run, or settle, now; the others wait for their upstreams as in a fresh
   * run) and queue its scheduled instances (cleared map indexes; an array task's as a new wave of their
   * group). Ends the run if nothing is pending.
   */
  async resumeRun(ref: RunRef): Promise<void> {
    return this.guarded(ref, () => this.resumeRunOf(ref), undefined);
  }

  private async resumeRunOf(ref: RunRef): Promise<void> {
    const run = await this.store.getRun(ref);
    if (run?.state !== 'running') return;
    await this.resumeTasks(this.dag(run.dagId, run.dagVersion), run);
    await this.finalizeIfDone(run);
  }

  private async resumeTasks(dag: Dag, run: DagRunRecord): Promise<void> {
    const specs = this.topologicalOrder(dag);
    const states = await this.store.getTaskStates(run, specs.map((t) => t.taskId));
    for (let i = 0; i < specs.length; i++) if (!states[i]?.decision) await this.decide(dag, run, specs[i]!, states[i]);
    const waves = new Set<string>();
    for (const ti of await this.store.listTaskInstances(run)) {
      if (ti.state !== 'scheduled') continue;
      const t = dag.task(ti.taskId);
      if (this.isArrayTask(t) && ti.mapIndex >= 0) {
        const array = { dagId: run.dagId, runId: run.runId, taskId: ti.taskId, group: groupOf(ti.mapIndex) };
        const id = `${ti.taskId}\u0000${array.group}`;
        if (waves.has(id)) continue;
        waves.add(id);
        await this.queueWave(dag, t, array);
      } else {
        await this.queueOrRun(dag, ti);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Reconcile: repair what a lost event left behind

  /**
   * Bring a run back in line with its state, as if every event had arrived: start it if it may start,
   * finish it if nothing is pending, settle tasks whose upstreams are done, re-dispatch instances queued
   * longer than `staleMs` (dispatch is idempotent), deliver retry and poke timers that are past due,
   * resume deferred instances whose triggered run has ended, and report instances whose try stopped
   * without a result (`tryStopped` says so, e.g. their lifecycle execution ended). Safe to call any time,
   * any number of times: every step is a conditional write.
   */
  async reconcileRun(ref: RunRef, options: { staleMs: number; tryStopped?: (ti: TaskInstanceRecord) => Promise<string | null> }): Promise<ReconcileReport> {
    const { dagId, runId } = ref;
    const none: ReconcileReport = { dagId, runId, redispatched: 0, timersDelivered: 0, resumed: 0, evaluated: 0, failedStopped: 0, slotsFreed: 0, finalized: false };
    return this.guarded({ dagId, runId }, () => this.reconcile({ dagId, runId }, options), none);
  }

  private async reconcile(ref: RunRef, options: { staleMs: number; tryStopped?: (ti: TaskInstanceRecord) => Promise<string | null> }): Promise<ReconcileReport> {
    const { dagId, runId } = ref;
    const report: ReconcileReport = { dagId, runId, redispatched: 0, timersDelivered: 0, resumed: 0, evaluated: 0, failedStopped: 0, slotsFreed: 0, finalized: false };
    let run = await this.store.getRun(ref);
    if (!run) return report;
    if (run.state === 'queued') {
      await this.startQueuedRuns(run.dagId);
      return report;
    }
    if (run.state !== 'running') return report;
    const dag = this.dag(run.dagId, run.dagVersion);
    const now = this.host.now();
    const specs = dag.spec.tasks;
    const states = await this.store.getTaskStates(run, specs.map((t) => t.taskId));
    for (let i = 0; i < specs.length; i++) {
      if (states[i]?.decision) continue;
      await this.decide(dag, run, specs[i]!, states[i]);
      report.evaluated++;
    }
    const instances = await this.store.listTaskInstances(ref);
    // Decisions whose instances were not created (a lost write, a process that died between the two).
    const byTask = new Map<string, TaskInstanceRecord[]>();
    for (const ti of instances) {
      const list = byTask.get(ti.taskId);
      if (list) list.push(ti);
      else byTask.set(ti.taskId, [ti]);
    }
    for (let i = 0; i < specs.length; i++) {
      const rec = states[i];
      if (!rec?.decision) continue;
      const have = byTask.get(specs[i]!.taskId) ?? [];
      const expected = rec.decision === 'expanded' ? (rec.mapCount ?? 0) : 1;
      if (have.length < expected) report.evaluated += await this.completeDecision(dag, run, specs[i]!, rec, have);
    }
    report.slotsFreed = await this.freeLostSlots(dag, ref);
    const waves = new Set<string>();
    for (const ti of instances) {
      const due = ti.nextAt !== null && Date.parse(ti.nextAt) <= now;
      const stale = ti.queuedAt !== null && now - Date.parse(ti.queuedAt) >= options.staleMs;
      const t = dag.task(ti.taskId);
      if (this.isArrayTask(t) && ti.mapIndex >= 0) {
        // Array instances move by wave: act once per group, state and try.
        const array = { dagId, runId, taskId: ti.taskId, group: groupOf(ti.mapIndex) };
        const id = `${ti.taskId}\u0000${array.group}\u0000${ti.state}\u0000${ti.tryNumber}`;
        if (waves.has(id)) continue;
        if (ti.state === 'scheduled') {
          waves.add(id);
          await this.queueWave(dag, t, array);
        } else if (ti.state === 'queued' && stale) {
          waves.add(id);
          const size = (await this.groupInstances(array)).filter((x) => x.state === 'queued' && x.tryNumber === ti.tryNumber).length;
          this.host.dispatchArray!({ array, dagId: dag.dagId, tryNumber: ti.tryNumber, size }, dag);
          report.redispatched++;
        } else if (ti.state === 'up_for_retry' && due) {
          waves.add(id);
          await this.retryWave(array, ti.tryNumber);
          report.timersDelivered++;
        }
        continue;
      }
      if (ti.state === 'scheduled') {
        await this.queueOrRun(dag, ti);
      } else if (ti.state === 'queued' && stale) {
        this.host.dispatch(ti, dag);
        report.redispatched++;
      } else if (ti.state === 'up_for_retry' && due) {
        await this.onTimer({ type: 'retry', key: tiKeyOf(ti), tryNumber: ti.tryNumber });
        report.timersDelivered++;
      } else if (ti.state === 'deferred') {
        if (due) {
          await this.resumeDeferred(ti, ti.tryNumber);
          report.timersDelivered++;
        } else if (ti.nextAt === null && ti.externalId && dag.task(ti.taskId).kind === 'trigger_dag') {
          const child = await this.store.getRun({ dagId: dag.task(ti.taskId).triggerDag!.triggerDagId, runId: ti.externalId });
          if (child && (child.state === 'success' || child.state === 'failed')) {
            await this.resumeDeferred(ti, ti.tryNumber);
            report.resumed++;
          }
        }
      } else if (ti.state === 'running' && stale && options.tryStopped) {
        const why = await options.tryStopped(ti);
        if (why !== null) {
          await this.handleTryResult(ti, ti.tryNumber, { kind: 'failure', error: `LostTryError: ${why}`, retriable: true });
          report.failedStopped++;
        }
      }
    }
    run = await this.store.getRun(run);
    if (run?.state === 'running' && run.pending === 0) {
      await this.finalizeRun(run);
      report.finalized = true;
    }
    return report;
  }

  /**
   * Give back the slots that instances (and array waves) of a run hold although they are no longer
   * queued or running at that try: a release lost with a write, or a process that died before it.
   * Reads the holders of the DAG's limits (its maxActiveTasks, its tasks' pools and per-task limits).
   */
  async freeLostSlots(dag: Dag, ref: RunRef): Promise<number> {
    const { dagId, runId } = ref;
    const names = new Set<string>([`dag:${dag.dagId}`]);
    for (const t of dag.spec.tasks) {
      names.add(`pool:${t.pool}`);
      if (t.maxActiveTisPerDag !== null) names.add(`task:${dag.dagId}:${t.taskId}`);
    }
    let freed = 0;
    for (const name of names) {
      let any = false;
      for (const [holder, n] of await this.store.semaphoreHolders(name)) {
        const kind = holder.startsWith(`ti/${dagId}/${runId}/`) ? 'ti' : holder.startsWith(`wave/${dagId}/${runId}/`) ? 'wave' : null;
        if (kind === null) continue;
        // `<kind>/<dag>/<run>/<task>/<map index or group>/<try>`: the run id may hold '/', the rest does not.
        const rest = holder.slice(kind.length + dagId.length + runId.length + 3).split('/');
        if (rest.length !== 3) continue;
        const [taskId, index, tryText] = rest as [string, string, string];
        const tryNumber = Number(tryText);
        if (!Number.isInteger(tryNumber)) continue;
        // A scheduled instance about to be queued for that try holds its slots too (taken just before the move).
        const holds = (ti: TaskInstanceRecord | undefined) =>
          !!ti && (((ti.state === 'queued' || ti.state === 'running') && ti.tryNumber === tryNumber) || (ti.state === 'scheduled' && ti.tryNumber === (ti.resume ? tryNumber : tryNumber - 1)));
        const live = kind === 'ti' ? holds(await this.store.getTaskInstance({ dagId, runId, taskId, mapIndex: Number(index) })) : (await this.groupInstances({ dagId, runId, taskId, group: Number(index) })).some(holds);
        if (live) continue;
        await this.store.release(name, n, holder);
        any = true;
        freed++;
      }
      if (any) await this.wakeWaiters(name);
    }
    return freed;
  }

  // ---------------------------------------------------------------------------------------------------
  // Array jobs: a mapped Batch task's instances, submitted in waves of one AWS Batch array job per group
  // (lib/core/arrays.ts). A wave holds one unit of each slot limit (it is one submission), whatever its
  // size; its instances move together, in bulk, and each child's outcome settles its own instance.

  /** Whether a task's map indexes go to Batch as array jobs (the host must be able to start waves). */
  isArrayTask(t: TaskSpec): boolean {
    return t.kind === 'batch' && t.mapping !== null && t.batch?.array === true && this.host.dispatchArray !== undefined;
  }

  /**
   * Queue the scheduled instances of a group as waves (one per try number: normally one) and start them.
   * `known`: the group's instances when the caller has them (just created), saving a read.
   */
  private async queueWave(dag: Dag, t: TaskSpec, array: ArrayRef, known?: readonly TaskInstanceRecord[]): Promise<void> {
    const members = (known ?? (await this.groupInstances(array))).filter((ti) => ti.state === 'scheduled');
    if (members.length === 0) return;
    const byTry = new Map<number, TaskInstanceRecord[]>();
    for (const ti of members) {
      const list = byTry.get(ti.tryNumber);
      if (list) list.push(ti);
      else byTry.set(ti.tryNumber, [ti]);
    }
    for (const [prevTry, wave] of [...byTry].sort((a, b) => a[0] - b[0])) {
      const holder = waveHolder(array, prevTry + 1);
      const slots = await this.takeSlots(dag, t, holder);
      if (!slots.taken) {
        if (slots.error !== null) {
          const now = iso(this.host.now());
          await this.finishMany(dag, t, wave, 'failed', () => ({ error: `PoolError: ${slots.error}`, endDate: now }), { states: ['scheduled'] });
          continue;
        }
        // Wait on the limit that refused; whoever releases it wakes the group through its first instance.
        await this.store.enqueueWaiter(slots.blocked!, tiKeyOf(wave[0]!));
        return;
      }
      const tryNumber = prevTry + 1;
      const now = iso(this.host.now());
      const patch: Partial<TaskInstanceRecord> = { state: 'queued', tryNumber, queuedAt: now, startDate: null, endDate: null, externalId: null, nextAt: null };
      const applied = await this.store.updateTaskInstances(wave.map((ti) => ({ key: tiKeyOf(ti), expect: { states: ['scheduled'], tryNumber: prevTry }, patch })));
      const queued = wave.filter((_, i) => applied[i]);
      if (queued.length === 0) {
        // Queued by a concurrent call with the same holder: the slots are that wave's.
        const taken = (await this.groupInstances(array)).some((x) => (x.state === 'queued' || x.state === 'running') && x.tryNumber === tryNumber);
        if (!taken) await this.releaseSlots(dag, t, holder);
        continue;
      }
      for (const ti of queued) this.emitTi({ ...ti, ...patch });
      this.host.dispatchArray!({ array, dagId: dag.dagId, tryNumber, size: queued.length }, dag);
      if (t.batch!.runnableTimeoutMs !== null) {
        this.host.setTimer(this.host.now() + t.batch!.runnableTimeoutMs, {
          type: 'runnable_check',
          array,
          tryNumber,
          jobName: waveJobName(dag.dagId, array, tryNumber),
          jobQueue: t.batch!.jobQueue,
        });
      }
    }
  }

  private async groupInstances(array: ArrayRef): Promise<TaskInstanceRecord[]> {
    const { from, to } = groupBounds(array.group);
    return this.store.listTaskInstanceRange(array, array.taskId, from, to);
  }

  /**
   * Move many instances of one task to a terminal state (each on its own condition) and let the
   * downstream tasks decide once. Returns the instances that moved.
   */
  private async finishMany(
    dag: Dag,
    t: TaskSpec,
    tis: readonly TaskInstanceRecord[],
    state: TerminalTiState,
    patch: (ti: TaskInstanceRecord) => Partial<TaskInstanceRecord>,
    expect: { states: TaskInstanceRecord['state'][] },
  ): Promise<{ moved: TaskInstanceRecord[]; result: BulkFinishResult | null }> {
    if (tis.length === 0) return { moved: [], result: null };
    const reqs: FinishRequest[] = tis.map((ti) => ({ key: tiKeyOf(ti), expect: { states: expect.states, tryNumber: ti.tryNumber }, state, patch: patch(ti), downstream: t.downstream }));
    const result = await this.store.finishTaskInstances(reqs);
    const moved: TaskInstanceRecord[] = [];
    tis.forEach((ti, i) => {
      if (!result.applied[i]) return;
      const done = { ...ti, ...reqs[i]!.patch, state };
      moved.push(done);
      this.emitTi(done);
    });
    return { moved, result };
  }

  /** After instances of `t` finished in bulk: let its downstream tasks decide, and end the run if nothing is pending. */
  private async afterBulkFinish(dag: Dag, ref: RunRef, t: TaskSpec, result: BulkFinishResult): Promise<void> {
    const run = await this.store.getRun(ref);
    if (!run || run.state !== 'running') return;
    for (let i = 0; i < t.downstream.length; i++) await this.decide(dag, run, dag.task(t.downstream[i]!), result.downstream[i]);
    if (result.pending === 0) await this.finalizeRun(run);
  }

  /**
   * A wave of an array group ended: settle each child's instance (running at `tryNumber`) with its
   * outcome. Succeeded children finish with their job as XCom; failed ones go up for retry (together:
   * the group's next wave, after the latest of their retry delays) or fail. Idempotent: instances that
   * are no longer running at `tryNumber` are left alone.
   */
  async handleArrayResult(array: ArrayRef, tryNumber: number, outcomes: readonly ChildOutcome[]): Promise<void> {
    return this.guarded(array, () => this.arrayResult(array, tryNumber, outcomes), undefined);
  }

  private async arrayResult(array: ArrayRef, tryNumber: number, outcomes: readonly ChildOutcome[]): Promise<void> {
    const run = await this.store.getRun(array);
    if (!run) return;
    const dag = this.dag(run.dagId, run.dagVersion);
    const t = dag.task(array.taskId);
    const byIndex = new Map(outcomes.map((o) => [o.mapIndex, o]));
    const group = await this.groupInstances(array);
    const running = group.filter((ti) => ti.state === 'running' && ti.tryNumber === tryNumber);
    if (running.length === 0) return this.afterWave(dag, run, t, array, tryNumber, group);
    const now = this.host.now();
    const nowIso = iso(now);
    const jobName = waveJobName(dag.dagId, array, tryNumber);
    const ok: TaskInstanceRecord[] = [];
    const retry: { ti: TaskInstanceRecord; at: number; error: string }[] = [];
    const failed: { ti: TaskInstanceRecord; error: string }[] = [];
    for (const ti of running) {
      const o = byIndex.get(ti.mapIndex) ?? { mapIndex: ti.mapIndex, jobId: '', status: 'FAILED' as const, exitCode: null, reason: 'the array job reported no outcome for this child' };
      if (o.status === 'SUCCEEDED') {
        ok.push({ ...ti, externalId: o.jobId });
        continue;
      }
      const error = `Batch job ${jobName} child ${o.jobId || '?'} failed: ${o.reason ?? `exit code ${o.exitCode}`}`;
      const d = decideAfterFailure({ ...t, retries: ti.maxTries - 1 }, tryNumber, true, `${dag.dagId}#${t.taskId}#${ti.mapIndex}#${run.logicalDate}`);
      if (d.next === 'retry') retry.push({ ti: { ...ti, externalId: o.jobId || ti.externalId }, at: now + d.delayMs, error });
      else failed.push({ ti: { ...ti, externalId: o.jobId || ti.externalId }, error });
    }
    const duration = (ti: TaskInstanceRecord) => (ti.startDate ? now - Date.parse(ti.startDate) : null);
    // Results first: an instance seen succeeded has its XCom.
    if (ok.length) {
      await this.store.putXComs(
        ok.map((ti) => ({
          dagId: ti.dagId,
          runId: ti.runId,
          taskId: ti.taskId,
          mapIndex: ti.mapIndex,
          key: 'return_value',
          value: { jobId: ti.externalId, jobName, status: 'SUCCEEDED', exitCode: byIndex.get(ti.mapIndex)?.exitCode ?? 0, childExitCodes: null },
        })),
      );
      for (const ti of ok) await this.callback(dag, t, 'onSuccess', ti, tryNumber, null);
    }
    for (const f of failed) await this.callback(dag, t, 'onFailure', f.ti, tryNumber, f.error);
    let last: BulkFinishResult | null = null;
    let moved = 0;
    const running1 = { states: ['running' as const] };
    const a = await this.finishMany(dag, t, ok, 'success', (ti) => ({ endDate: nowIso, durationMs: duration(ti), error: null, externalId: ti.externalId }), running1);
    moved += a.moved.length;
    last = a.result ?? last;
    const errors = new Map(failed.map((f) => [f.ti.mapIndex, f.error]));
    const b = await this.finishMany(dag, t, failed.map((f) => f.ti), 'failed', (ti) => ({ endDate: nowIso, durationMs: duration(ti), error: errors.get(ti.mapIndex)!, externalId: ti.externalId }), running1);
    moved += b.moved.length;
    last = b.result ?? last;
    let retryAt = 0;
    if (retry.length) {
      const updates: TiUpdate[] = retry.map((r) => {
        const ended = { endDate: nowIso, durationMs: duration(r.ti), error: r.error, externalId: r.ti.externalId };
        const history = historyWithCurrentTry({ ...r.ti, ...ended }, 'failed');
        return {
          key: tiKeyOf(r.ti),
          expect: { states: ['running'], tryNumber },
          patch: { state: 'up_for_retry', ...ended, nextAt: iso(r.at), ...(history ? { history } : {}) },
        };
      });
      const applied = await this.store.updateTaskInstances(updates);
      retry.forEach((r, i) => {
        if (!applied[i]) return;
        moved++;
        retryAt = Math.max(retryAt, r.at);
        this.emitTi({ ...r.ti, ...updates[i]!.patch });
      });
      for (const r of retry) await this.callback(dag, t, 'onRetry', r.ti, tryNumber, r.error);
    }
    if (moved === 0) return; // a replay: the first delivery did all of this
    const logs = [
      ...ok.map((ti) => ({ ti, level: 'info' as const, message: `Batch job ${ti.externalId} succeeded` })),
      ...retry.map((r) => ({ ti: r.ti, level: 'error' as const, message: `${r.error} (up for retry)` })),
      ...failed.map((f) => ({ ti: f.ti, level: 'error' as const, message: f.error })),
    ];
    await this.store.appendLogs(logs.map((l) => ({ key: tiKeyOf(l.ti), tryNumber, lines: [{ time: nowIso, level: l.level, message: l.message }] })));
    await this.releaseSlots(dag, t, waveHolder(array, tryNumber));
    if (retryAt > 0) this.host.setTimer(retryAt, { type: 'array_retry', array, tryNumber });
    if (last) await this.afterBulkFinish(dag, array, t, last);
  }

  /**
   * What follows a wave's end, done again when a report finds none of its children running (a replay,
   * or a first delivery that stopped part way): its slots back, the retry timer of children up for
   * retry, the downstream decisions and the run's end. Idempotent steps only.
   */
  private async afterWave(dag: Dag, run: DagRunRecord, t: TaskSpec, array: ArrayRef, tryNumber: number, group: readonly TaskInstanceRecord[]): Promise<void> {
    const ofWave = group.filter((ti) => ti.tryNumber === tryNumber);
    if (ofWave.length === 0 || ofWave.some((ti) => ti.state === 'queued')) return;
    await this.releaseSlots(dag, t, waveHolder(array, tryNumber));
    let retryAt = 0;
    for (const ti of ofWave) if (ti.state === 'up_for_retry' && ti.nextAt !== null) retryAt = Math.max(retryAt, Date.parse(ti.nextAt));
    if (retryAt > 0) this.host.setTimer(retryAt, { type: 'array_retry', array, tryNumber });
    await this.decideDownstream(dag, run, t);
  }

  /** Let `t`'s downstream tasks decide on their tallies as the store has them, then end the run if nothing is pending. */
  private async decideDownstream(dag: Dag, run: DagRunRecord, t: TaskSpec): Promise<void> {
    if (run.state !== 'running') return;
    const states = await this.store.getTaskStates(run, t.downstream);
    for (let i = 0; i < t.downstream.length; i++) await this.decide(dag, run, dag.task(t.downstream[i]!), states[i]);
    await this.finalizeIfDone(run);
  }

  /** The failed children of a wave are due: queue them as the group's next wave. */
  private async retryWave(array: ArrayRef, tryNumber: number): Promise<void> {
    const run = await this.store.getRun(array);
    if (!run || run.state !== 'running') return;
    const dag = this.dag(run.dagId, run.dagVersion);
    const t = dag.task(array.taskId);
    const waiting = (await this.groupInstances(array)).filter((ti) => ti.state === 'up_for_retry' && ti.tryNumber === tryNumber);
    if (waiting.length === 0) return;
    const patch: Partial<TaskInstanceRecord> = { state: 'scheduled', nextAt: null };
    const applied = await this.store.updateTaskInstances(waiting.map((ti) => ({ key: tiKeyOf(ti), expect: { states: ['up_for_retry'], tryNumber }, patch })));
    const scheduled = waiting.filter((_, i) => applied[i]).map((ti) => ({ ...ti, ...patch }));
    for (const ti of scheduled) this.emitTi(ti);
    await this.queueWave(dag, t, array, scheduled);
  }

  /** A wave's runnableTimeout has passed: stop what has not started (its children then fail as any do). */
  private async checkRunnable(event: Extract<TimerEvent, { type: 'runnable_check' }>): Promise<void> {
    const run = await this.store.getRun(timerRun(event));
    if (!run || run.state !== 'running') return;
    const dag = this.dag(run.dagId, run.dagVersion);
    let stillRunning: boolean;
    if (event.array) stillRunning = (await this.groupInstances(event.array)).some((ti) => ti.state === 'running' && ti.tryNumber === event.tryNumber);
    else {
      const ti = event.key ? await this.store.getTaskInstance(event.key) : undefined;
      stillRunning = !!ti && (ti.state === 'running' || ti.state === 'deferred') && ti.tryNumber === event.tryNumber;
    }
    if (!stillRunning || !this.host.stopRunnable) return;
    const t = dag.task((event.array ?? event.key)!.taskId);
    const limitS = Math.round((t.batch?.runnableTimeoutMs ?? 0) / 1000);
    const reason = `RunnableTimeoutError: still RUNNABLE ${limitS} s after submission (runnableTimeout): no compute environment of queue '${event.jobQueue ?? '?'}' could place it; check its vCPU limits, instance types and subnets`;
    await this.host.stopRunnable(event.jobQueue, event.jobName, reason);
  }

  // ---------------------------------------------------------------------------------------------------
  // Branching and short-circuit

  private async skipNotFollowed(dag: Dag, run: DagRunRecord, t: TaskSpec, follow: string[]): Promise<void> {
    for (const d of t.downstream) {
      if (!follow.includes(d)) await this.settleTerminal(dag, run, dag.task(d), 'skipped', `not chosen by branch '${t.taskId}'`);
    }
  }

  private async skipForShortCircuit(dag: Dag, run: DagRunRecord, t: TaskSpec): Promise<void> {
    const direct = t.downstream;
    if (!t.shortCircuit?.ignoreDownstreamTriggerRules) {
      for (const d of direct) await this.settleTerminal(dag, run, dag.task(d), 'skipped', `short-circuited by '${t.taskId}'`);
      return;
    }
    // Every task downstream, in definition order (which is a topological order of what can be skipped).
    const all = new Set<string>();
    const stack = [...direct];
    while (stack.length) {
      const id = stack.pop()!;
      if (all.has(id)) continue;
      all.add(id);
      stack.push(...dag.task(id).downstream);
    }
    // Claim every decision first, so that no skipped task lets a downstream's trigger rule run it.
    const claimed: TaskSpec[] = [];
    for (const spec of dag.spec.tasks) {
      if (all.has(spec.taskId) && (await this.store.claimDecision(run, spec.taskId, 'skipped'))) claimed.push(spec);
    }
    for (const spec of claimed) await this.finishSettled(dag, run, spec, 'skipped', `short-circuited by '${t.taskId}'`);
  }

  private async callback(dag: Dag, t: TaskSpec, which: 'onSuccess' | 'onFailure' | 'onRetry', key: TiKey, tryNumber: number, error: string | null): Promise<void> {
    const cb = dag.runtime.get(t.taskId)?.[which];
    if (!cb) return;
    try {
      await cb({ dagId: dag.dagId, runId: key.runId, taskId: key.taskId, mapIndex: key.mapIndex < 0 ? null : key.mapIndex, tryNumber, error });
    } catch (e) {
      this.host.emit?.({ type: 'error', run: runRefOf(key), error: e, where: `task '${t.taskId}' ${which} callback` });
    }
  }
}
