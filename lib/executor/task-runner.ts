import { AsyncLocalStorage } from 'node:async_hooks';
import { OUTLET_EVENTS_XCOM_KEY, takeOutletExtras } from './outlet-events.ts';
import type { Dag } from '../authoring/dag.ts';
import type { TaskContext } from '../authoring/context.ts';
import {
  errorMessage,
  MappingError,
  NonRetriableError,
  ParamValidationError,
  DagNotFoundError,
  SensorTimeoutError,
  SkipTask,
  TaskTimeoutError,
} from '../errors.ts';
import { arraySizeFor, groupBounds, waveJobName, type ArrayRef } from '../core/arrays.ts';
import type { BatchTaskSpec, IterateSpec, MappingSpec, TaskSpec } from '../model/spec.ts';
import { formatErrorDetail, serializeError } from '../error-info.ts';
import { iso } from '../model/time.ts';
import { dagAtVersion, type DagResolver } from '../authoring/dag-resolver.ts';
import type { TryResult } from '../core/events.ts';
import type { TriggerRequest } from './trigger-request.ts';
import type { DagRunRecord, LogLine, RunRef, TaskInstanceRecord, TiKey, XComRecord } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import { retryTransient, type RetryOptions } from '../store/retry.ts';
import type { BatchBackend, BatchJobStatus, BatchSubmission } from './batch-backend.ts';
import { infrastructureStore, throughInfrastructure, TryInfrastructureError } from './infrastructure.ts';
import { checkJson } from './json-value.ts';
import type { ItemTryCache } from './item-try-cache.ts';
import { TaskContextImpl, type LogWriter } from './task-context.ts';
import { secretsMasker } from '../secrets/masker.ts';
import { mappingItem, mappingLength, type InputResolver, type ResolvedMapping } from './resolve.ts';
import { partitionMapping, withPartition } from './partition-items.ts';
import { kindRunner, type TryOf, type TryTools } from './kinds/index.ts';
import { batchOutcome, batchSubmission } from './kinds/batch.ts';

export { triggeredRunId } from './kinds/trigger-dag.ts';

export interface RunnerServices {
  now(): number;
  triggerRun(req: TriggerRequest): Promise<DagRunRecord>;
  batch: BatchBackend;
  /** An instance changed state here (queued -> running). */
  onState?(ti: TaskInstanceRecord): void;
  /** Each log line as it is written (for live output). */
  onLog?(key: TiKey, tryNumber: number, line: LogLine): void;
  /** How store calls made outside task code (and task code's own, through its context) are retried. */
  retry?: RetryOptions;
  /**
   * Awaited after task code returned, before its result counts: a host that turns a crash of task code
   * (an unhandled rejection, an uncaught exception) into the abort of its try's signal lets the process
   * report what the code left behind (one turn of the event loop), so that `void Promise.reject(e)`
   * followed by a return fails the try with `e`. With it, the try's signal is always raced.
   */
  settle?(): Promise<void>;
  /** Runs the code of tries elsewhere (a worker thread per try); without it, in this process. */
  isolation?: TryIsolation;
  /**
   * What the items of an iteration try share, kept across calls (a Lambda container's): each item then
   * reads only its instance, not the run and the item list again. Default: none (each item reads them).
   */
  itemTries?: ItemTryCache;
  /**
   * The input of an instance given from outside instead of resolved from its upstreams' XComs (`tasks test
   * --input`): `{ value }` for such an instance, undefined for the others.
   */
  givenInput?(ti: TiKey): { value: unknown } | undefined;
}

/** How far a try got (set as it goes): whether any of its task's code has been called. */
export interface TryProgress {
  codeStarted: boolean;
}

/** A try whose code is to run in isolation: what the runner read and marked for it. */
export interface IsolatedTry {
  dag: Dag;
  run: DagRunRecord;
  spec: TaskSpec;
  ti: TaskInstanceRecord;
}

/** Where the code of a try runs when not in this process (see `lib/runner/worker-isolation.ts`). */
export interface TryIsolation {
  /**
   * Run the code part of a try (what {@link TaskRunner.runCode} does) elsewhere and return how it ended,
   * or null when this try cannot be isolated (it then runs in this process; the isolation has said why in
   * the try's log). Log lines go to `write`; `cancel` aborting stops it; `progress.codeStarted` is set
   * when its code may have run. A store failure there is thrown as a {@link TryInfrastructureError}.
   */
  execute(t: IsolatedTry, write: LogWriter, cancel: AbortSignal | undefined, progress: TryProgress): Promise<TryResult | null>;
}

/** Whether a task kind runs user code in its try (what isolation is for): tasks, branches, short-circuits, sensors. */
export function runsTaskCode(spec: TaskSpec): boolean {
  return kindRunner(spec).runsCode;
}

/** How a try ends for an error thrown by (or on behalf of) its code: skip, or a failure, retriable or not. */
export function tryFailure(e: unknown): TryResult {
  if (e instanceof SkipTask) return { kind: 'skip', reason: e.message };
  const retriable = !(e instanceof NonRetriableError || e instanceof SensorTimeoutError || e instanceof ParamValidationError || e instanceof DagNotFoundError || (e instanceof Error && e.name === 'XComSerializationError'));
  return { kind: 'failure', error: serializeError(e), retriable };
}

interface Step {
  ti: TaskInstanceRecord;
  run: DagRunRecord | null;
  dag: Dag | null;
  spec: TaskSpec | null;
  /** Whether this step marked the instance running (false: it continues a try already running). */
  marked: boolean;
  write: LogWriter;
  close(result: TryResult | null): Promise<void>;
}

/** A wave ready to submit: child i is `mapIndexes[i]`. */
export type PreparedWave = { mapIndexes: number[]; submission: BatchSubmission } | { mapIndexes: number[]; error: string };

/**
 * This library's folder (`lib/`, or `dist/lib/` built), as a URL and as a path: its frames are the runner's.
 * None in a bundle (a Lambda function's: the DAG files are in the same file, so no frame is hidden).
 */
const LIBRARY_DIR = new URL('..', import.meta.url);
const LIBRARY_PATHS = LIBRARY_DIR.protocol === 'file:' && LIBRARY_DIR.pathname.endsWith('/lib/') ? [LIBRARY_DIR.href, decodeURIComponent(LIBRARY_DIR.pathname)] : [];

/** Whether a stack frame is in this library (the runner calling the task), not in the task's code. */
function isLibraryFrame(frame: string): boolean {
  return LIBRARY_PATHS.some((p) => frame.includes(p));
}

function sameStrings(a: string[] | null, b: string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** What the current async context knows of the try it runs for. */
export interface TryScope {
  /** The try's log (console output of its code lands here); absent outside its code. */
  write?: LogWriter;
  /** The host's handle of the try (a LocalRunner's, to blame a crash of its code on it). */
  owner?: unknown;
}

/**
 * The try running in the current async context. One AsyncLocalStorage for everything a try's context
 * carries: on Node 22 each instance costs a store propagated on every promise the process makes.
 */
export const currentTry = new AsyncLocalStorage<TryScope>();

/** Run `fn` as the code part of a try whose log is `write` (keeping the host's handle of the try). */
function inTry<T>(write: LogWriter, fn: () => Promise<T>): Promise<T> {
  return currentTry.run({ write, owner: currentTry.getStore()?.owner }, fn);
}



/**
 * Runs one try of one task instance: marks it running, resolves its input, runs the task's code (or
 * submits its Batch job, pokes its sensor, triggers its DAG), stores the result as XCom and the log of
 * the try, and says how the try ended. The local runner calls it in-process; deployed, the task Lambda.
 */
export class TaskRunner {
  /**
   * The store as the runner itself uses it (never task code): each call retried while it fails
   * transiently, and a failure that is left thrown as a {@link TryInfrastructureError}.
   */
  private readonly io: StateStore;
  /** What every try's tools call, made once per runner (a try's tools are then one small object). */
  private means: RunnerMeans | undefined;
  /**
   * Tries run by `run` whose result XCom is held until the try closes (written with its log, in one
   * request): by the instance record the try runs with.
   */
  private readonly heldResults = new WeakMap<TaskInstanceRecord, { xcom: XComRecord | null }>();

  constructor(
    readonly store: StateStore,
    readonly dags: DagResolver,
    readonly services: RunnerServices,
    readonly resolver: InputResolver,
  ) {
    this.io = infrastructureStore(store, services.retry);
  }

  /**
   * Open a step of a try: with `start`, move the instance queued -> running (a resumed try keeps its start
   * time); otherwise check it is running this try. Loads the run, the DAG and the task, and opens the
   * try's log (written to the store by `close`). Null when the instance is not in that state: a duplicate.
   * `onMarked` is called once the instance is running because of this call.
   */
  private async begin(
    key: TiKey,
    tryNumber: number,
    start: boolean | 'or-running',
    onMarked?: (before: TaskInstanceRecord) => void,
    readRun?: () => Promise<DagRunRecord | undefined>,
  ): Promise<Step | null> {
    // Everything is read before the instance is marked running (in one request, or the instance alone
    // when the run comes from what the try's items share), so that fewer store calls can fail between
    // marking it and running its code.
    const { ti: before, run } = readRun ? { ti: await this.io.getTaskInstance(key), run: await readRun() } : await this.io.getTaskInstanceAndRun(key);
    if (!before || before.tryNumber !== tryNumber) return null;
    const mark = before.state === 'queued' && start !== false;
    if (!mark && (before.state !== 'running' || start === true)) return null;
    const dag = run ? await this.dagOfRun(run) : undefined;
    let ti: TaskInstanceRecord = before;
    if (mark) {
      const marked = await this.markRunning(key, tryNumber, before, start === 'or-running');
      if (!marked) return null;
      ti = marked;
      onMarked?.(before);
      this.services.onState?.(ti);
    }
    const lines: LogLine[] = [];
    const write = (level: LogLine['level'], text: string) => {
      // Secrets the try read (lib/secrets/masker.ts) never reach its log.
      const message = secretsMasker.redact(text);
      const line = { time: iso(this.services.now()), level, message };
      lines.push(line);
      this.services.onLog?.(key, tryNumber, line);
    };
    const close = async (result: TryResult | null) => {
      if (result?.kind === 'failure') write('error', formatErrorDetail(result.error, isLibraryFrame));
      else if (result?.kind === 'skip') write('info', `skipped: ${result.reason}`);
      else if (result?.kind === 'success') write('info', 'done: success');
      // Kept until written: a close that failed and is called again writes them then. A result the
      // try's code stored (held back by `run`) goes with them, in one request.
      const held = this.heldResults.get(ti);
      const xcoms = held?.xcom ? [held.xcom] : [];
      if (lines.length || xcoms.length) {
        await this.io.putTryOutput({ xcoms, logs: lines.length ? [{ key, tryNumber, lines }] : [] });
        lines.length = 0;
        if (held) held.xcom = null;
      }
    };
    if (!run || !dag || !dag.taskIndex.has(key.taskId)) {
      return { ti, run: null, dag: null, spec: null, marked: mark, write, close };
    }
    return { ti, run, dag, spec: dag.task(key.taskId), marked: mark, write, close };
  }

  /**
   * The run's version of its DAG (loaded if it is not in memory); undefined when it cannot be had, and the
   * try then runs no code (the scheduler fails the run with a DagVersionUnavailableError saying why).
   */
  private async dagOfRun(run: DagRunRecord): Promise<Dag | undefined> {
    try {
      return await dagAtVersion(this.dags, run.dagId, run.dagVersion);
    } catch {
      return undefined;
    }
  }

  /**
   * queued -> running, conditional on (queued, try number), retried while the store fails transiently.
   * Undefined when the instance is not queued for this try (a duplicate delivery: nothing runs). When an
   * attempt failed, it may have applied all the same: if a later attempt then finds the instance running
   * this try, nobody can tell whether this delivery or another one started it, so the code does not run
   * (at most once per try number) and a {@link TryInfrastructureError} with `started` says the host must
   * settle the try instead of delivering it again. (A step that may continue a running try, `orRunning`,
   * just continues it.)
   */
  private async markRunning(key: TiKey, tryNumber: number, before: TaskInstanceRecord, orRunning: boolean): Promise<TaskInstanceRecord | undefined> {
    const what = 'store.updateTaskInstance (marking the try running)';
    let failed: { error: unknown } | null = null;
    let ti: TaskInstanceRecord | undefined;
    try {
      ti = await retryTransient(async () => {
        try {
          return await this.store.updateTaskInstance(key, { states: ['queued'], tryNumber }, { state: 'running', startDate: before.startDate ?? iso(this.services.now()) });
        } catch (e) {
          failed = { error: e };
          throw e;
        }
      }, this.services.retry);
    } catch (e) {
      throw new TryInfrastructureError(what, e, true);
    }
    if (ti || failed === null) return ti;
    const now = await this.io.getTaskInstance(key);
    if (now?.state !== 'running' || now.tryNumber !== tryNumber) return undefined;
    if (orRunning) return now;
    throw new TryInfrastructureError(what, (failed as { error: unknown }).error, true);
  }

  /**
   * Returns null when the instance was not queued for this try (a duplicate start): nothing ran. `seen`,
   * when given, gets the instance as this call marked it running and its run (for the scheduler's
   * `handleTryResult` in the same process, which then need not read them again). An error
   * of the task's code (or of its input, its result) ends the try as a failure; a store failure that
   * outlasts its retries is thrown as a {@link TryInfrastructureError} instead (the task is not at fault).
   */
  async run(key: TiKey, tryNumber: number, cancel?: AbortSignal, seen?: { ti?: TaskInstanceRecord; run?: DagRunRecord }): Promise<TryResult | null> {
    let before: TaskInstanceRecord | null = null;
    const progress: TryProgress = { codeStarted: false };
    try {
      const step = await this.begin(key, tryNumber, true, (b) => (before = b));
      if (!step) return null;
      const { ti, run, dag, spec, write } = step;
      if (seen && run) Object.assign(seen, { ti, run });
      // The result the code stores is written when the try closes, with its log.
      this.heldResults.set(ti, { xcom: null });
      let result: TryResult;
      if (!run || !dag || !spec) {
        result = tryFailure(new NonRetriableError(`DAG run '${key.runId}' of DAG '${key.dagId}' or its DAG is not available`));
      } else {
        if (ti.externalId === null && ti.pokeCount === 0) write('info', `starting try ${tryNumber} of ${ti.maxTries}`);
        const isolation = runsTaskCode(spec) ? this.services.isolation : undefined;
        const isolated = isolation ? await isolation.execute({ dag, run, spec, ti }, write, cancel, progress) : null;
        result = isolated ?? (await this.runCode(dag, run, spec, ti, write, cancel, progress));
      }
      await step.close(result);
      return result;
    } catch (e) {
      if (e instanceof TryInfrastructureError) throw await this.afterInfrastructureFailure(e, key, tryNumber, before, progress);
      throw e;
    }
  }

  /**
   * A try of `before` (null: not marked running by this call) failed for an infrastructure reason. If it
   * was marked running here and none of its task's code ran, it goes back to queued (as before it was
   * marked), so that delivering it again runs it; otherwise the host must settle it (`started`).
   */
  private async afterInfrastructureFailure(e: TryInfrastructureError, key: TiKey, tryNumber: number, before: TaskInstanceRecord | null, progress: TryProgress): Promise<TryInfrastructureError> {
    if (before === null) return e;
    if (progress.codeStarted) return e.withStarted(true);
    try {
      const back = await this.io.updateTaskInstance(key, { states: ['running'], tryNumber }, { state: 'queued', startDate: before.startDate });
      if (back) {
        this.services.onState?.(back);
        return e.withStarted(false);
      }
    } catch {
      // The store still fails: the try stays running, for the host to settle.
    }
    return e.withStarted(true);
  }

  /**
   * The code part of a try whose instance is running: resolve the input, run the task's code (or poke,
   * trigger, submit), store its result. Returns how the try ended; throws only a
   * {@link TryInfrastructureError}. The worker of an isolated try calls this.
   */
  async runCode(dag: Dag, run: DagRunRecord, spec: TaskSpec, ti: TaskInstanceRecord, write: LogWriter, cancel: AbortSignal | undefined, progress: TryProgress = { codeStarted: false }): Promise<TryResult> {
    try {
      return await inTry(write, () => this.execute(dag, run, spec, ti, write, cancel, progress));
    } catch (e) {
      if (e instanceof TryInfrastructureError) throw e;
      return tryFailure(e);
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Steps of the deployed lifecycles, where Step Functions does the waiting between them: a Batch job
  // (prepare, then `batch:submitJob.sync`, then complete) and an iteration (prepare, a Map state running
  // each item, then complete). Each is idempotent for its try.

  /** Start a Batch try: resolve the job to submit. Calling it again for the same try returns the same job. */
  async prepareBatchJob(key: TiKey, tryNumber: number): Promise<{ submission: BatchSubmission } | { result: TryResult } | null> {
    const step = await this.begin(key, tryNumber, 'or-running');
    if (!step) return null;
    const { ti, run, dag, spec, write } = step;
    try {
      if (!run || !dag || spec?.kind !== 'batch') throw new NonRetriableError(`task '${key.taskId}' is not a Batch job of an available DAG run`);
      // The `batch` machine is Express: a dispatch delivered again starts it again under the same name,
      // and this prepare then finds the try running. It resolves the same job; the try's log says so once.
      const first = step.marked || (await this.io.getLog(key, tryNumber)).length === 0;
      if (first) write('info', `starting try ${tryNumber} of ${ti.maxTries}`);
      const t = { dag, run, spec, ti };
      const submission = await batchSubmission(t, this.tools(t, write, undefined));
      if (first) write('info', `submitting Batch job ${submission.jobName}${submission.command ? `: ${submission.command.join(' ')}` : ''}`);
      await step.close(null);
      return { submission };
    } catch (e) {
      const result = this.failure(e);
      await step.close(result);
      return { result };
    }
  }

  /** End a Batch try with what Batch said (or the error submitting or watching it). */
  async completeBatchJob(key: TiKey, tryNumber: number, job: BatchJobStatus | { error: string }): Promise<TryResult | null> {
    const step = await this.begin(key, tryNumber, false);
    if (!step) return null;
    let result: TryResult;
    try {
      result = await batchOutcome(job, { write: step.write, storeResult: (v) => this.storeResult(step.ti, v) });
    } catch (e) {
      result = this.failure(e);
    }
    await step.close(result);
    return result;
  }

  /**
   * Start a wave of an array group: its instances queued for `tryNumber` become running, and each gets
   * its item (command and environment) resolved. Calling it again for the same wave returns the same
   * wave (the instances already running at `tryNumber`). Null when the wave has no instance left.
   * `error`: the items could not be resolved (every child fails with it).
   */
  async prepareArrayWave(array: ArrayRef, tryNumber: number): Promise<PreparedWave | null> {
    const { from, to } = groupBounds(array.group);
    const tis = (await this.io.listTaskInstanceRange(array, array.taskId, from, to)).filter(
      (ti) => ti.tryNumber === tryNumber && (ti.state === 'queued' || ti.state === 'running'),
    );
    if (tis.length === 0) return null;
    const run = await this.io.getRun(array);
    const dag = run ? await this.dagOfRun(run) : undefined;
    const jobName = waveJobName(run?.dagId ?? '', array, tryNumber);
    // Child i is the wave's i-th instance by map index; each records its number (`<job name>#<i>`).
    const queued = tis.map((ti, i) => ({ ti, i })).filter(({ ti }) => ti.state === 'queued');
    if (queued.length) {
      const now = iso(this.services.now());
      const applied = await this.io.updateTaskInstances(
        queued.map(({ ti, i }) => ({ key: ti, expect: { states: ['queued'], tryNumber }, patch: { state: 'running', startDate: now, externalId: `${jobName}#${i}` } })),
      );
      queued.forEach(({ ti, i }, n) => {
        if (applied[n]) this.services.onState?.({ ...ti, state: 'running', startDate: now, externalId: `${jobName}#${i}` });
      });
    }
    const members = (await this.io.listTaskInstanceRange(array, array.taskId, from, to)).filter((ti) => ti.tryNumber === tryNumber && ti.state === 'running');
    if (members.length === 0) return null;
    const mapIndexes = members.map((ti) => ti.mapIndex);
    const spec = dag?.taskIndex.has(array.taskId) ? dag.task(array.taskId) : undefined;
    if (!run || !dag || spec?.kind !== 'batch' || !spec.mapping) return { mapIndexes, error: `task '${array.taskId}' is not a mapped Batch job of an available DAG run` };
    let submission: BatchSubmission;
    try {
      submission = await this.waveSubmission(dag, run, { ...spec, mapping: spec.mapping }, array, tryNumber, mapIndexes);
    } catch (e) {
      if (e instanceof TryInfrastructureError) throw e;
      return { mapIndexes, error: errorMessage(e) };
    }
    // Each instance started here gets its own log line: which child it is and what it runs.
    const started = new Set(queued.map(({ ti }) => ti.mapIndex));
    const time = iso(this.services.now());
    const size = mapIndexes.length;
    const entries = members.flatMap((ti, i) => {
      if (!started.has(ti.mapIndex)) return [];
      const c = submission.children![i]!;
      const what = size === 1 ? `Batch job ${submission.jobName}` : `child ${i} of Batch array job ${submission.jobName} (${size} children)`;
      const line = { time, level: 'info' as const, message: `starting try ${tryNumber} of ${ti.maxTries} as ${what}${c.command ? `: ${c.command.join(' ')}` : ''}` };
      this.services.onLog?.(ti, tryNumber, line);
      return [{ key: { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex }, tryNumber, lines: [line] }];
    });
    if (entries.length) await this.io.appendLogs(entries);
    return { mapIndexes, submission };
  }

  /** The array job of a wave: the static fields, each child's item, and what every child shares. */
  private async waveSubmission(dag: Dag, run: DagRunRecord, spec: BatchTaskSpec & { mapping: MappingSpec }, array: ArrayRef, tryNumber: number, mapIndexes: number[]): Promise<BatchSubmission> {
    const b = spec.batch;
    const r = (k: unknown) => this.resolveInput(dag, run, k);
    const lists = await this.mappingLists(dag, run, spec.taskId, spec.mapping);
    const n = mappingLength(lists);
    const staticCommand = ((await r(b.command)) ?? null) as string[] | null;
    const staticEnv = ((await r(b.environment)) ?? {}) as Record<string, string>;
    const children = mapIndexes.map((mapIndex) => {
      if (mapIndex >= n) throw new NonRetriableError(`map index ${mapIndex} is out of range (${n} items)`);
      const input = (mappingItem(lists, mapIndex) ?? {}) as Record<string, unknown>;
      if (typeof input !== 'object' || Array.isArray(input)) throw new NonRetriableError(`batchJob input of map index ${mapIndex} must be an object of job fields`);
      for (const f of ['jobName', 'jobQueue', 'jobDefinition', 'arraySize', 'containerOverrides'] as const) {
        if (input[f] !== undefined) throw new NonRetriableError(`map index ${mapIndex} sets '${f}', which an array job cannot vary per child: set it in batchJob()'s options, or use array: false`);
      }
      return {
        command: (input['command'] as string[] | undefined) ?? staticCommand,
        environment: { ...staticEnv, ...((input['environment'] as Record<string, string> | undefined) ?? {}) },
      };
    });
    const size = arraySizeFor(children.length);
    // What every child shares goes in the job's own overrides; the rest only in the manifest.
    const first = children[0]!;
    const sameCommand = children.every((c) => sameStrings(c.command, first.command));
    const shared: Record<string, string> = {};
    for (const [k, v] of Object.entries(first.environment)) if (children.every((c) => c.environment[k] === v)) shared[k] = v;
    return {
      jobName: waveJobName(dag.dagId, array, tryNumber),
      jobQueue: b.jobQueue,
      jobDefinition: b.jobDefinition,
      command: sameCommand ? first.command : null,
      environment: shared,
      containerOverrides: ((await r(b.containerOverrides)) ?? null) as Record<string, unknown> | null,
      arraySize: size,
      children,
      // The executionTimeout is each child's: Batch applies an array job's Timeout to every child.
      attemptDurationSeconds: spec.executionTimeoutMs === null ? null : Math.max(60, Math.ceil(spec.executionTimeoutMs / 1000)),
      local: b.local,
    };
  }

  /**
   * Start an iteration try: the item indexes still to run (items done in earlier tries are kept), and the
   * task's `itemRetries` (how many history events each item may cost its Map).
   */
  async prepareIteration(key: TiKey, tryNumber: number): Promise<{ items: number[]; itemRetries: number } | { result: TryResult } | null> {
    const step = await this.begin(key, tryNumber, 'or-running');
    if (!step) return null;
    const { ti, run, dag, spec, write } = step;
    try {
      if (!run || !dag || !spec?.iterate) throw new NonRetriableError(`task '${key.taskId}' does not iterate`);
      const r = await this.iterationItems(dag, run, { ...spec, iterate: spec.iterate }, ti, write);
      const n = mappingLength(r);
      const done = await this.io.listItemResults(ti);
      const items: number[] = [];
      for (let i = 0; i < n; i++) if (!done.has(i)) items.push(i);
      write('info', `starting try ${tryNumber} of ${ti.maxTries}: ${n} items, ${done.size} kept from earlier tries, ${items.length} to run`);
      await step.close(null);
      return { items, itemRetries: spec.iterate.itemRetries };
    } catch (e) {
      const result = this.failure(e);
      await step.close(result);
      return { result };
    }
  }

  /**
   * Run one item of an iteration (deployed: one iteration of the Map state). Throws when the item fails,
   * so that the Map state's Retry (itemRetries) applies; a NonRetriableError keeps its name.
   */
  async runItem(key: TiKey, tryNumber: number, index: number, itemTry: number | null, cancel?: AbortSignal): Promise<void> {
    const shared = this.services.itemTries;
    const step = await this.begin(key, tryNumber, false, undefined, shared ? () => shared.run(key, tryNumber, () => this.io.getRun(key)) : undefined);
    if (!step) throw new NonRetriableError(`task instance ${key.taskId}[${key.mapIndex}] is not running try ${tryNumber}`);
    const { ti, run, dag, spec, write } = step;
    // The Map state's Retry resends the same payload: count this item's attempts in the store.
    itemTry ??= await this.io.countUp(`item:${key.dagId}:${key.runId}:${key.taskId}:${key.mapIndex}:${tryNumber}:${index}`);
    try {
      if (!run || !dag || !spec?.iterate) throw new NonRetriableError(`task '${key.taskId}' does not iterate`);
      const it = spec.iterate;
      const lists = () => this.iterationItems(dag, run, { ...spec, iterate: it }, ti, write);
      const r = shared ? await shared.lists(key, tryNumber, lists) : await lists();
      const fn = dag.runtime.get(spec.taskId)!.callable!;
      const value = await inTry(write, () =>
        this.withTimeout(spec, cancel, (signal) => {
          const ctx = this.context(dag, run, ti, signal, write, { index, tryNumber: itemTry });
          return Promise.resolve(fn(it.partitioned ? withPartition(ctx, r.partition) : ctx, mappingItem(r, index)));
        }),
      );
      const v = value === undefined ? null : value;
      checkJson(v, `item ${index} result`);
      await this.io.putItemResult(ti, index, v);
      await step.close(null);
    } catch (e) {
      if (e instanceof TryInfrastructureError) throw e;
      if (e instanceof SkipTask) {
        await this.io.putItemResult(ti, index, null);
        await step.close(null);
        return;
      }
      write('warn', `item ${index} try ${itemTry} failed: ${errorMessage(e)}`);
      await step.close(null);
      throw e;
    }
  }

  /** End an iteration try: success with every item's result in order, or a failure naming the missing items. */
  async completeIteration(key: TiKey, tryNumber: number): Promise<TryResult | null> {
    const step = await this.begin(key, tryNumber, false);
    if (!step) return null;
    const { ti, run, dag, spec, write } = step;
    let result: TryResult;
    try {
      if (!run || !dag || !spec?.iterate) throw new NonRetriableError(`task '${key.taskId}' does not iterate`);
      const n = mappingLength(await this.iterationItems(dag, run, { ...spec, iterate: spec.iterate }, ti, write));
      const done = await this.io.listItemResults(ti);
      const missing: number[] = [];
      for (let i = 0; i < n; i++) if (!done.has(i)) missing.push(i);
      if (missing.length) {
        throw new Error(`${missing.length} of ${n} items failed (items ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}); ${done.size} done are kept for the next try`);
      }
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = done.get(i);
      await this.storeResult(ti, out);
      result = { kind: 'success' };
    } catch (e) {
      result = this.failure(e);
    }
    await step.close(result);
    return result;
  }

  /**
   * The items an iteration try runs: the mapping's, or, partitioned, the instance's own partition's
   * (lib/executor/partition-items.ts: its items function runs at most once per instance, in prepare).
   */
  private iterationItems(dag: Dag, run: DagRunRecord, spec: TaskSpec & { iterate: IterateSpec }, ti: TaskInstanceRecord, write: LogWriter): Promise<ResolvedMapping> {
    if (!spec.iterate.partitioned) return this.mappingLists(dag, run, spec.taskId, spec.iterate.mapping);
    // Under the task's executionTimeout: the items function is the task's code.
    return this.withTimeout(spec, undefined, (signal) =>
      partitionMapping({
        dag,
        spec,
        ti,
        io: this.io,
        mappingLists: (m) => this.mappingLists(dag, run, spec.taskId, m),
        resolve: (t) => this.resolveInput(dag, run, t),
        context: () => this.context(dag, run, ti, signal, write, null),
      }),
    );
  }

  /** How a step ends for an error: the task's failure (or skip); an infrastructure failure is thrown on. */
  private failure(e: unknown): TryResult {
    if (e instanceof TryInfrastructureError) throw e;
    return tryFailure(e);
  }

  /**
   * Input templates and mapping lists, resolved from XCom. The resolver retries the store while it fails
   * transiently; an error it throws is either the input's fault (a MappingError: the task's failure) or
   * the store's (an infrastructure failure).
   */
  private async resolveInput(dag: Dag, run: RunRef, t: unknown): Promise<unknown> {
    try {
      return await this.resolver.resolve(dag, run, t);
    } catch (e) {
      throw this.resolverError(e);
    }
  }

  private async mappingLists(dag: Dag, run: RunRef, taskId: string, m: Parameters<InputResolver['mappingLists']>[3]): Promise<ResolvedMapping> {
    try {
      return await this.resolver.mappingLists(dag, run, taskId, m);
    } catch (e) {
      throw this.resolverError(e);
    }
  }

  private resolverError(e: unknown): unknown {
    if (e instanceof MappingError || e instanceof TryInfrastructureError) return e;
    return new TryInfrastructureError('reading XCom (the input)', e, false);
  }

  private context(dag: Dag, run: DagRunRecord, ti: TaskInstanceRecord, signal: AbortSignal, write: LogWriter, item: TaskContext['item']): TaskContext {
    return new TaskContextImpl(this.store, () => this.services.now(), dag, run, ti, signal, write, item, this.services.retry);
  }

  /**
   * Run `fn` (which calls the task's code) under the task's executionTimeout: the signal fires and the try
   * fails when it passes, or when `cancel` fires (the run stopped, the runner closed, the task's code
   * crashed: its reason is the try's error). Marks `progress.codeStarted`. With a `settle` service, the
   * value counts only once what the code left behind has been reported (a crash then fails the try).
   */
  private async withTimeout<T>(spec: TaskSpec, cancel: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>, progress?: TryProgress): Promise<T> {
    if (!this.services.settle) return this.underTimeout(spec, cancel, fn, progress);
    const value = await this.underTimeout(spec, cancel, fn, progress);
    // Outside underTimeout, whose timer and listeners are gone by now: a try waiting here holds little.
    await this.services.settle();
    if (cancel?.aborted) throw cancel.reason;
    return value;
  }

  private async underTimeout<T>(spec: TaskSpec, cancel: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>, progress?: TryProgress): Promise<T> {
    if (spec.executionTimeoutMs === null && cancel && !cancel.aborted) {
      if (progress) progress.codeStarted = true;
      // No timeout: the task gets the run's own signal, and nothing is set up per try. (A task that ignores
      // a cancelled run's signal keeps running, but its late result is discarded: it is no longer running.)
      if (!this.services.settle) return fn(cancel);
      // A host that aborts a try whose code crashed: the try ends then, whatever its code is waiting for.
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_, reject) => cancel.addEventListener('abort', (onAbort = () => reject(cancel.reason)), { once: true }));
      try {
        return await Promise.race([fn(cancel), aborted]);
      } finally {
        cancel.removeEventListener('abort', onAbort!);
      }
    }
    const ac = new AbortController();
    const onCancel = () => ac.abort(cancel?.reason ?? new NonRetriableError('the run was stopped'));
    if (cancel) {
      if (cancel.aborted) onCancel();
      else cancel.addEventListener('abort', onCancel, { once: true });
    }
    let timer: NodeJS.Timeout | undefined;
    const aborted = new Promise<never>((_, reject) => {
      if (ac.signal.aborted) reject(ac.signal.reason);
      else ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true });
    });
    aborted.catch(() => undefined);
    if (spec.executionTimeoutMs !== null) {
      const ms = spec.executionTimeoutMs;
      timer = setTimeout(() => ac.abort(new TaskTimeoutError(`execution timeout: the try ran longer than ${ms} ms`)), ms);
    }
    try {
      if (ac.signal.aborted) throw ac.signal.reason;
      if (progress) progress.codeStarted = true;
      return await Promise.race([fn(ac.signal), aborted]);
    } finally {
      if (timer) clearTimeout(timer);
      cancel?.removeEventListener('abort', onCancel);
    }
  }

  private async storeResult(ti: TaskInstanceRecord, value: unknown): Promise<void> {
    const v = value === undefined ? null : value;
    checkJson(v);
    const x = { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex, key: 'return_value', value: v };
    const held = this.heldResults.get(ti);
    if (held) held.xcom = x;
    else await this.io.putXCom(x);
    // What the code gave its outlets' events (ctx.outletEvents), read by the scheduler on success.
    const outlets = takeOutletExtras(ti);
    if (outlets) await this.io.putXCom({ ...x, key: OUTLET_EVENTS_XCOM_KEY, value: outlets });
  }

  private async input(dag: Dag, run: DagRunRecord, spec: TaskSpec, ti: TaskInstanceRecord): Promise<unknown> {
    const given = this.services.givenInput?.(ti);
    if (given) return given.value;
    if (spec.mapping) {
      const r = await this.mappingLists(dag, run, spec.taskId, spec.mapping);
      if (ti.mapIndex < 0 || ti.mapIndex >= mappingLength(r)) throw new NonRetriableError(`map index ${ti.mapIndex} is out of range`);
      return mappingItem(r, ti.mapIndex);
    }
    return spec.input === null ? undefined : this.resolveInput(dag, run, spec.input);
  }

  /** The runner's means, as a kind's try uses them (kinds/kind-runner.ts), bound to one try. */
  private tools(t: TryOf<TaskSpec>, write: LogWriter, cancel: AbortSignal | undefined, progress: TryProgress = { codeStarted: false }): TryTools {
    this.means ??= {
      io: this.io,
      batch: this.services.batch,
      now: () => this.services.now(),
      triggerRun: (req) => throughInfrastructure('triggering the DAG run', () => this.services.triggerRun(req), this.services.retry),
      input: (x) => this.input(x.dag, x.run, x.spec, x.ti),
      resolve: (x, template) => this.resolveInput(x.dag, x.run, template),
      mappingLists: (x, mapping) => this.mappingLists(x.dag, x.run, x.spec.taskId, mapping),
      underTimeout: (x, c, p, fn) => this.withTimeout(x.spec, c, fn, p),
      context: (x, w, signal, item) => this.context(x.dag, x.run, x.ti, signal, w, item),
      storeResult: (x, value) => this.storeResult(x.ti, value),
    };
    return new BoundTry(this.means, t, write, cancel, progress);
  }

  /** A try of the instance's task, as its kind runs it (kinds/). */
  private async execute(dag: Dag, run: DagRunRecord, spec: TaskSpec, ti: TaskInstanceRecord, write: LogWriter, cancel: AbortSignal | undefined, progress: TryProgress): Promise<TryResult> {
    const t = { dag, run, spec, ti };
    return kindRunner(spec).runTry(t, this.tools(t, write, cancel, progress));
  }
}

/** The task runner's means a try's tools call, each taking the try. */
interface RunnerMeans {
  io: StateStore;
  batch: TryTools['batch'];
  now(): number;
  triggerRun: TryTools['triggerRun'];
  input(t: TryOf<TaskSpec>): Promise<unknown>;
  resolve(t: TryOf<TaskSpec>, template: unknown): Promise<unknown>;
  mappingLists(t: TryOf<TaskSpec>, mapping: MappingSpec): Promise<ResolvedMapping>;
  underTimeout<T>(t: TryOf<TaskSpec>, cancel: AbortSignal | undefined, progress: TryProgress, fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  context(t: TryOf<TaskSpec>, write: LogWriter, signal: AbortSignal, item: TaskContext['item']): TaskContext;
  storeResult(t: TryOf<TaskSpec>, value: unknown): Promise<void>;
}

/**
 * The tools of one try: its state in five fields, its methods on the prototype. A local run can have
 * every instance of a 100,000-wide fan-out in flight at once, so a try's tools must cost little.
 */
class BoundTry implements TryTools {
  constructor(
    private readonly means: RunnerMeans,
    private readonly t: TryOf<TaskSpec>,
    readonly write: LogWriter,
    private readonly cancel: AbortSignal | undefined,
    private readonly progress: TryProgress,
  ) {}

  get io(): StateStore {
    return this.means.io;
  }

  get batch(): TryTools['batch'] {
    return this.means.batch;
  }

  now(): number {
    return this.means.now();
  }

  triggerRun(req: Parameters<TryTools['triggerRun']>[0]): Promise<DagRunRecord> {
    return this.means.triggerRun(req);
  }

  input(): Promise<unknown> {
    return this.means.input(this.t);
  }

  resolve(template: unknown): Promise<unknown> {
    return this.means.resolve(this.t, template);
  }

  mappingLists(mapping: MappingSpec): Promise<ResolvedMapping> {
    return this.means.mappingLists(this.t, mapping);
  }

  underTimeout<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.means.underTimeout(this.t, this.cancel, this.progress, fn);
  }

  context(signal: AbortSignal, item: TaskContext['item']): TaskContext {
    return this.means.context(this.t, this.write, signal, item);
  }

  callable(): (ctx: TaskContext, input: unknown) => unknown {
    const { dag, spec } = this.t;
    const fn = dag.runtime.get(spec.taskId)?.callable;
    if (!fn) throw new Error(`task '${spec.taskId}' of DAG '${dag.dagId}' has no code to run`);
    return fn;
  }

  storeResult(value: unknown): Promise<void> {
    return this.means.storeResult(this.t, value);
  }
}
