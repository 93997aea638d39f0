/**
 * The worker thread of an isolated try (lib/runner/worker-isolation.ts starts one per try, through
 * try-worker-boot.mjs). It loads the DAG file, checks it defines the version the run uses, and runs the
 * code part of the try (`TaskRunner.runCode`) with the state store reached through the runner over the
 * port. A crash of the task's code here (an uncaught exception, an unhandled rejection) fails the try
 * with that error; a hang or a blown heap is the runner's to handle (it terminates this thread).
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { isDag, type Dag } from '../authoring/dag.ts';
import { errorMessage } from '../errors.ts';
import { sha256Bytes } from '../model/hash.ts';
import { registerLibraryResolution } from '../dagbag/library-resolution.ts';
import { registerSnapshotResolution } from '../dagbag/snapshot-import.ts';
import { InputResolver } from '../executor/resolve.ts';
import { TaskRunner, type TryProgress } from '../executor/task-runner.ts';
import { TryInfrastructureError } from '../executor/infrastructure.ts';
import type { BatchBackend } from '../executor/batch-backend.ts';
import type { LogLine } from '../store/records.ts';
import { secretsMasker } from '../secrets/masker.ts';
import type { StateStore } from '../store/state-store.ts';
import { fromWire, toWire, type FromWorker, type ToWorker, type TryWorkerData } from './isolation-protocol.ts';

// The DAG file this worker loads imports 'airless': this thread's library, as in the runner's process.
registerLibraryResolution();

const port = parentPort!;
const data = workerData as TryWorkerData;
const post = (m: FromWorker) => port.postMessage(m);

// The try's signal: the runner's abort, or a crash of the task's code. Set up before anything of the DAG
// file runs, so that a crash while it loads fails the try too.
const controller = new AbortController();
const crash = (e: unknown) => {
  if (!controller.signal.aborted) controller.abort(e === undefined ? new Error('undefined was thrown') : e);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

// Secrets this thread read are masked here: the runner's masker does not know them.
const write = (level: LogLine['level'], message: string) => post({ type: 'log', level, message: secretsMasker.redact(message) });

if (data.captureConsole) {
  const levels = { log: 'info', info: 'info', debug: 'info', warn: 'warn', error: 'error' } as const;
  for (const [method, level] of Object.entries(levels)) {
    (console as unknown as Record<string, (...a: unknown[]) => void>)[method] = (...args: unknown[]) =>
      write(
        level,
        args
          .map((a) => {
            if (typeof a === 'string') return a;
            try {
              return JSON.stringify(a);
            } catch {
              return String(a);
            }
          })
          .join(' '),
      );
  }
}

// The store, through the runner: each call a message, answered in kind.
let nextId = 0;
const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
port.on('message', (m: ToWorker) => {
  if (m.type === 'abort') {
    if (!controller.signal.aborted) controller.abort(fromWire(m.reason));
    return;
  }
  const p = pending.get(m.id);
  if (!p) return;
  pending.delete(m.id);
  if (m.ok) p.resolve(m.value);
  else p.reject(fromWire(m.error));
});
const store = new Proxy({} as StateStore, {
  get(_target, prop) {
    if (typeof prop !== 'string' || prop === 'then') return undefined;
    return (...args: unknown[]) =>
      new Promise((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, { resolve, reject });
        post({ type: 'store', id, method: prop, args });
      });
  },
});

/** The DAG `dagId` among a module's exports (as `loadDagBag` finds DAGs: exports, arrays of them, a default object's fields). */
function findDag(ns: Record<string, unknown>, dagId: string): Dag | undefined {
  const seen: unknown[] = [];
  const add = (v: unknown, depth: number) => {
    if (isDag(v)) {
      seen.push(v);
    } else if (Array.isArray(v)) {
      for (const x of v) if (isDag(x)) seen.push(x);
    } else if (depth === 0 && typeof v === 'object' && v !== null) {
      for (const x of Object.values(v)) add(x, 1);
    }
  };
  for (const [name, v] of Object.entries(ns)) add(v, name === 'default' ? 0 : 1);
  return (seen as Dag[]).find((d) => d.dagId === dagId);
}

/** sha256 of a file's bytes; null when it cannot be read. */
function sha256OfFile(file: string): string | null {
  try {
    return sha256Bytes(readFileSync(file));
  } catch {
    return null;
  }
}

const notUsed = (what: string) => () => Promise.reject(new Error(`${what} is not available in an isolated try`));
const batch: BatchBackend = { submit: notUsed('Batch'), describe: notUsed('Batch') };

async function main(): Promise<void> {
  let dag: Dag | undefined;
  try {
    // A kept bundle's files import their packages from where the DAG file is (the snapshot hook).
    if (data.kept) registerSnapshotResolution();
    // The DAG file as it is now is the run's version only if the files of its bundle hash as they did.
    const changed = !data.kept && data.code !== null && data.code.some((f) => sha256OfFile(f.file) !== f.sha256);
    if (changed) {
      post({ type: 'unavailable', reason: `its DAG file ${data.file} (or a module it imports) changed since version ${data.version} of DAG '${data.dagId}', which this run uses, was loaded`, mismatch: true });
      return;
    }
    dag = findDag((await import(data.url)) as Record<string, unknown>, data.dagId);
    if (dag && data.bundle !== null) dag = dag.withBundle(data.bundle);
  } catch (e) {
    post({ type: 'unavailable', reason: `its DAG file ${data.file} fails to load now (${errorMessage(e)})`, mismatch: false });
    return;
  }
  if (!dag) {
    post({ type: 'unavailable', reason: `its DAG file ${data.file} no longer defines DAG '${data.dagId}'`, mismatch: true });
    return;
  }
  if (dag.spec.version !== data.version) {
    post({
      type: 'unavailable',
      reason: `its DAG file ${data.file} now defines version ${dag.spec.version} of DAG '${data.dagId}', and this run uses version ${data.version}`,
      mismatch: true,
    });
    return;
  }
  const spec = dag.task(data.taskId);
  const frozen = data.frozenNow;
  const now = frozen === null ? () => Date.now() : () => frozen;
  const retry = data.retry;
  const runner = new TaskRunner(
    store,
    { getDag: () => dag },
    {
      now,
      triggerRun: notUsed('triggering a DAG'),
      batch,
      retry,
      // One turn of the event loop after the code returned: a rejection it left unhandled fails the try.
      settle: () => new Promise<void>((r) => setImmediate(r)),
    },
    new InputResolver(store, retry),
  );
  const progress: TryProgress = { codeStarted: false };
  post({ type: 'started' });
  try {
    const result = await runner.runCode(dag, data.run, spec, data.ti, write, controller.signal, progress);
    post({ type: 'result', result });
  } catch (e) {
    if (e instanceof TryInfrastructureError) {
      post({ type: 'infrastructure', where: e.where, cause: toWire(e.cause), codeStarted: progress.codeStarted });
      return;
    }
    throw e;
  }
}

main().catch((e: unknown) => {
  // A bug of this worker, not of the task: reported as such.
  post({ type: 'infrastructure', where: 'the isolated try', cause: toWire(e), codeStarted: true });
});
