import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Dag } from '../authoring/dag.ts';
import { TaskCrashedError, TaskOutOfMemoryError, TaskTimeoutError } from '../errors.ts';
import { TryInfrastructureError } from '../executor/infrastructure.ts';
import type { LogWriter } from '../executor/task-context.ts';
import { currentTry, tryFailure, type IsolatedTry, type TryIsolation, type TryProgress } from '../executor/task-runner.ts';
import type { TryResult } from '../scheduler/host.ts';
import type { TiKey } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import { GuardedTry } from './crash-guard.ts';
import { fromWire, ISOLATED_STORE_METHODS, toWire, type FromWorker, type ToWorker, type TryWorkerData } from './isolation-protocol.ts';

/** How tries are isolated when `LocalRunner`'s `isolation` is `'worker'` (or these options). */
export interface WorkerIsolationOptions {
  /**
   * Heap limit of each try's worker thread, in MB (V8's old generation: `resourceLimits.maxOldGenerationSizeMb`).
   * A try that needs more fails with a TaskOutOfMemoryError naming the limit.
   * @default 1024
   */
  maxHeapMb?: number;
  /**
   * How long a try's worker gets to end after its executionTimeout passed, or after its signal fired (its
   * run stopped, the runner closed), before it is terminated and the try fails (ms).
   * @default 2000
   */
  graceMs?: number;
  /**
   * The folder DAG files' `fileloc` is relative to.
   * @default the runner's DAG resolver's `folder` (a DagBag's, the standalone's)
   */
  dagsFolder?: string;
  /**
   * Where the versions' bundles are kept (the standalone's `<home>/bundles`): a try's worker imports its
   * run's version from there. Default: none (the worker imports the DAG file as it is now and runs it
   * only if it still defines the run's version).
   */
  bundles?: { entryUrl(bundle: string): string | undefined };
}

export const DEFAULT_MAX_HEAP_MB = 1024;
export const DEFAULT_ISOLATION_GRACE_MS = 2000;

/** What the isolation needs from its runner. */
export interface WorkerIsolationHost {
  store: StateStore;
  now(): number;
  /** Whether the runner's clock is the real one (else a worker's time stands still at the dispatch's, as a fake clock's does while a try runs). */
  realClock: boolean;
  captureConsole: boolean;
  retry: { attempts?: number; baseMs?: number; maxMs?: number };
  /** The DAGs folder, when the runner's DAGs come from one. */
  dagsFolder(): string | undefined;
}

/** The worker's entry (made when first needed: a bundle that never isolates a try never resolves it). */
let boot: URL | null = null;
const bootUrl = () => (boot ??= new URL('./try-worker-boot.mjs', import.meta.url));

function sameTi(k: unknown, ti: TiKey): boolean {
  const x = k as Partial<TiKey> | null;
  return typeof x === 'object' && x !== null && x.dagId === ti.dagId && x.runId === ti.runId && x.taskId === ti.taskId && x.mapIndex === ti.mapIndex;
}

/**
 * Runs the code part of each try in a worker thread of its own (`node:worker_threads`, with a heap limit),
 * as Airflow runs each try in a process of its own: what the task's code does to its thread (an uncaught
 * exception, an unhandled rejection, a hang past its executionTimeout, a heap blown) fails that try with
 * its error, and the runner's process (the standalone server: its API, its other tries) goes on.
 *
 * The worker loads the DAG's file itself (a fresh module graph: the file as it is now), and runs it only if
 * it defines the run's version of the DAG (`dagVersion`); otherwise (the DAG's structure was
 * edited since the run started, its file is gone or fails to load) the try runs in the runner's process on
 * the version the runner keeps in memory, as the in-process default does, and its log says so. The state
 * store stays the runner's: the worker calls it over the port (XCom, item results, pipeline saves, its
 * instance's poke count); the try's log lines (the code's console output too) come back as they are
 * written; the runner's abort of the try is passed on.
 */
export class WorkerIsolation implements TryIsolation {
  private readonly workers = new Set<Worker>();
  /** DAG versions (kept in memory) whose file now defines another version: their tries run in process. */
  private readonly stale = new WeakSet<Dag>();
  readonly maxHeapMb: number;
  readonly graceMs: number;

  constructor(
    private readonly host: WorkerIsolationHost,
    private readonly options: WorkerIsolationOptions = {},
  ) {
    this.maxHeapMb = options.maxHeapMb ?? DEFAULT_MAX_HEAP_MB;
    this.graceMs = options.graceMs ?? DEFAULT_ISOLATION_GRACE_MS;
    if (!(this.maxHeapMb >= 16)) throw new RangeError(`isolation maxHeapMb must be at least 16, got ${this.maxHeapMb}`);
    if (!(this.graceMs >= 0)) throw new RangeError(`isolation graceMs must be >= 0, got ${this.graceMs}`);
  }

  /** Worker threads alive (one per try running isolated). */
  get size(): number {
    return this.workers.size;
  }

  execute(t: IsolatedTry, write: LogWriter, cancel: AbortSignal | undefined, progress: TryProgress): Promise<TryResult | null> {
    const { dag, run, spec, ti } = t;
    const inProcess = (why: string): null => {
      write('warn', `this try runs in the runner's process, not isolated: ${why}`);
      return null;
    };
    const folder = this.options.dagsFolder ?? this.host.dagsFolder();
    if (dag.spec.fileloc === null || folder === undefined) return Promise.resolve(inProcess(`DAG '${dag.dagId}' was not loaded from a DAGs folder`));
    const file = path.resolve(folder, dag.spec.fileloc);
    if (this.stale.has(dag)) return Promise.resolve(inProcess(`its DAG file ${file} no longer defines version ${run.dagVersion} of DAG '${dag.dagId}', which this run uses`));
    // The run's version's code as it was kept, when it was: an edit of the file since changes nothing.
    const kept = dag.spec.bundle !== null ? this.options.bundles?.entryUrl(dag.spec.bundle) : undefined;
    const data: TryWorkerData = {
      file,
      url: kept ?? pathToFileURL(file).href,
      bundle: dag.spec.bundle,
      kept: kept !== undefined,
      code: dag.code,
      dagId: dag.dagId,
      version: run.dagVersion,
      taskId: spec.taskId,
      run,
      ti,
      frozenNow: this.host.realClock ? null : this.host.now(),
      captureConsole: this.host.captureConsole,
      retry: this.host.retry,
    };
    const grace = this.graceMs;
    // While its code runs in the worker, a crash of this process is not the try's (see crash-guard.ts).
    const owner = currentTry.getStore()?.owner;
    const guarded = owner instanceof GuardedTry ? owner : null;
    if (guarded) guarded.isolated = true;
    return new Promise<TryResult | null>((resolve, reject) => {
      let worker: Worker;
      try {
        worker = new Worker(bootUrl(), { workerData: data, resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb }, execArgv: [] });
      } catch (e) {
        if (guarded) guarded.isolated = false;
        reject(new TryInfrastructureError("starting the try's worker thread", e, false));
        return;
      }
      this.workers.add(worker);
      let done = false;
      let watchdog: NodeJS.Timeout | undefined;
      let grant: NodeJS.Timeout | undefined;
      const finish = (outcome: { result: TryResult | null } | { error: unknown }) => {
        if (done) return;
        done = true;
        clearTimeout(watchdog);
        clearTimeout(grant);
        cancel?.removeEventListener('abort', onAbort);
        this.workers.delete(worker);
        // Whatever the task's code left running (timers, sockets) ends with its thread.
        void worker.terminate();
        if (guarded) guarded.isolated = false;
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.result);
      };
      const fail = (e: unknown) => finish({ result: tryFailure(e) });
      const send = (m: ToWorker) => {
        if (done) return;
        try {
          worker.postMessage(m);
        } catch (e) {
          if (m.type === 'store') worker.postMessage({ type: 'store', id: m.id, ok: false, error: toWire(e) } satisfies ToWorker);
        }
      };
      const onAbort = () => {
        const reason: unknown = cancel!.reason;
        send({ type: 'abort', reason: toWire(reason) });
        // Code that ignores its signal (or blocks its thread) is stopped for it.
        grant ??= setTimeout(() => fail(reason), grace);
      };
      if (cancel) {
        if (cancel.aborted) onAbort();
        else cancel.addEventListener('abort', onAbort, { once: true });
      }
      worker.on('message', (m: FromWorker) => {
        if (done) return;
        switch (m.type) {
          case 'log':
            write(m.level, m.message);
            break;
          case 'store':
            this.storeCall(ti, m, send);
            break;
          case 'unavailable':
            // The DAG kept in memory is the run's version, and its file no longer defines it: so for its other tries.
            if (m.mismatch && dag.spec.version === run.dagVersion) this.stale.add(dag);
            finish({ result: inProcess(m.reason) });
            break;
          case 'started':
            if (spec.executionTimeoutMs !== null) {
              const ms = spec.executionTimeoutMs;
              // The worker's own timer fails the try at `ms`; this one is for code that blocks its thread.
              watchdog = setTimeout(
                () => fail(new TaskTimeoutError(`execution timeout: the try ran longer than ${ms} ms (its worker thread did not end within ${grace} ms more and was terminated)`)),
                ms + grace,
              );
            }
            break;
          case 'result':
            finish({ result: m.result });
            break;
          case 'infrastructure':
            progress.codeStarted = m.codeStarted;
            finish({ error: new TryInfrastructureError(m.where, fromWire(m.cause), false) });
            break;
        }
      });
      worker.on('error', (e: Error & { code?: string }) => {
        if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          fail(new TaskOutOfMemoryError(`the try ran out of memory: its worker thread's heap is limited to ${this.maxHeapMb} MB (the runner's isolation option maxHeapMb)`));
        } else {
          fail(e);
        }
      });
      worker.on('exit', (code) => {
        if (!done) fail(new TaskCrashedError(`the try's worker thread exited (code ${code}) before the try ended`));
      });
    });
  }

  /** A store call of an isolated try, answered over its port (its errors with their names and retry hints). */
  private storeCall(ti: TiKey, m: Extract<FromWorker, { type: 'store' }>, send: (m: ToWorker) => void): void {
    const refuse = (why: string) => send({ type: 'store', id: m.id, ok: false, error: toWire(new Error(why)) });
    if (!ISOLATED_STORE_METHODS.has(m.method)) return refuse(`store.${m.method} is not available to an isolated try`);
    // Writes are the try's own: its instance, its XComs, its items.
    const own = m.method === 'putXCom' ? sameTi(m.args[0], ti) : m.method === 'updateTaskInstance' || m.method === 'putItemResult' ? sameTi(m.args[0], ti) : true;
    if (!own) return refuse(`store.${m.method}: an isolated try writes only its own task instance's records`);
    let p: Promise<unknown>;
    try {
      p = (this.host.store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[m.method]!(...m.args);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (value) => send({ type: 'store', id: m.id, ok: true, value }),
      (e: unknown) => send({ type: 'store', id: m.id, ok: false, error: toWire(e) }),
    );
  }
}
