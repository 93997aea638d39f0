import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createApiApp } from '../api/app.ts';
import { apiUser } from './api-user.ts';
import { builtUiDir } from '../api/serve-ui.ts';
import type { DagBag } from '../dagbag/dag-bag.ts';
import { bundlesDir, LocalBundleStore } from '../dagbag/bundle-store.ts';
import { localVersionLoader } from '../dagbag/version-loader.ts';
import { pruneVersions } from '../scheduler/prune-versions.ts';
import { versionEntryOf } from '../scheduler/runs.ts';
import { AirlessError, errorMessage } from '../errors.ts';
import { isTerminalRunState } from '../model/states.ts';
import { LogFileWriter } from './log-files.ts';
import { LocalRunner } from '../runner/local-runner.ts';
import { sqliteDatabasePath, SqliteStateStore } from '../store/sqlite-store.ts';
import { INTERRUPTED_TRY, resumeRuns, StandaloneInterruptedError, type ResumeReport } from './resume.ts';
import { DagReloader, VersionedDags } from './dag-reloader.ts';
import { ScheduleLoop } from './schedule-loop.ts';
import { API_TOKEN_FILE, mkdirPrivate, pidAlive, readApiToken, securePrivateTree, STANDALONE_FILE, writePrivateFile, type StandaloneInfo } from './home-files.ts';
import { LOCK_FILE, lockHome, type HomeLock } from './home-lock.ts';

export { API_TOKEN_ENV, API_TOKEN_FILE, STANDALONE_FILE, type StandaloneInfo } from './home-files.ts';
export { LOCK_FILE } from './home-lock.ts';

/** The server cannot start: another one runs on the same home, or the port is taken. Exit code 2. */
export class StandaloneStartError extends AirlessError {
  override name = 'StandaloneStartError';
}

export interface StandaloneOptions {
  /** The loaded DAGs folder. */
  bag: DagBag;
  /** The airless home folder (absolute): database, token, logs, standalone.json. */
  home: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to listen on. Default '127.0.0.1'. */
  host?: string;
  /** Environment (for AIRLESS_API_TOKEN). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Folder of the built UI. Default `<package>/ui/dist` if it exists, else none. */
  uiDir?: string | null;
  /** How long tries get to end after their AbortSignal fired, at stop (ms). Default 5000. */
  graceMs?: number;
  /**
   * Load the DAGs folder again when a file under it changes (added, edited, removed): new runs use the new
   * DAGs, runs under way keep the version they started with. Default true.
   */
  watch?: boolean;
  /** How long the DAGs folder must stay quiet after a change before it is loaded again (ms). Default 300. */
  reloadDebounceMs?: number;
  /** Lines for the user (errors of the scheduler, of log files, reloads of the DAGs folder). Default: stderr. */
  warn?: (line: string) => void;
  /**
   * How many of each DAG's newest versions keep their code under `<home>/bundles` beside the current one
   * and those active runs use; older ones are pruned at start and whenever a run ends (`pruneVersions`).
   * @default DEFAULT_VERSIONS_RETAINED (10)
   */
  versionsRetained?: number;
}

/** A running standalone server. */
export interface StandaloneServer {
  /** `http://host:port` (the real port). */
  readonly url: string;
  readonly token: string;
  readonly home: string;
  readonly runner: LocalRunner;
  readonly loop: ScheduleLoop;
  /** The DAGs: the latest load of the folder, and the versions runs under way started with. */
  readonly dags: VersionedDags;
  /** Loads the DAGs folder again (null when `watch` is false). */
  readonly reloader: DagReloader | null;
  readonly app: FastifyInstance;
  /** What was resumed at start. */
  readonly resumed: ResumeReport;
  /** What it keeps in memory: the tries it sees running, the tries whose log file is open. Both are forgotten as they end. */
  readonly tracked: { readonly runningTries: number; readonly tryLogs: number };
  /**
   * Stop cleanly: no more requests, no more schedule firings, running tries aborted (their AbortSignal)
   * and given `graceMs` to end; a try still running then stays `running` in the store and is reported
   * failed (StandaloneInterruptedError) by the next start. Logs flushed, store closed, standalone.json
   * removed. Calling it again returns the same promise.
   */
  stop(): Promise<void>;
}


/** What `<home>/standalone.json` says, when it names a live process (this one included); else null. */
function standaloneInfo(home: string): StandaloneInfo | null {
  let info: StandaloneInfo;
  try {
    info = JSON.parse(readFileSync(path.join(home, STANDALONE_FILE), 'utf8')) as StandaloneInfo;
  } catch {
    return null; // none, or being written
  }
  return typeof info.pid === 'number' && (info.pid === process.pid || pidAlive(info.pid)) ? info : null;
}

/** The standalone server of a home folder, if another process runs one (a stale file of a dead process is ignored). */
export function runningStandalone(home: string): StandaloneInfo | null {
  const info = standaloneInfo(home);
  return info && info.pid !== process.pid ? info : null;
}

/** How long a start that found the home locked waits for the holder to say where it listens (ms). */
const HOLDER_WAIT_MS = 15_000;

/**
 * Take the home folder's lock (`<home>/standalone.lock`). When another server holds it, fail naming it
 * (its `standalone.json`); one that is still starting is waited for, until it writes that file, or lets
 * the lock go (it stopped, or failed to start: then the lock is taken).
 */
async function lockOrFail(home: string): Promise<HomeLock> {
  const deadline = Date.now() + HOLDER_WAIT_MS;
  for (;;) {
    const lock = lockHome(home);
    if (lock) return lock;
    const holder = standaloneInfo(home);
    if (holder) throw new StandaloneStartError(`a standalone server already runs on ${home} (pid ${holder.pid}, ${holder.url}); stop it first`);
    if (Date.now() >= deadline) {
      throw new StandaloneStartError(`a standalone server is starting on ${home} (it holds ${path.join(home, LOCK_FILE)}, and has not written ${STANDALONE_FILE} yet); stop it first`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The API token: `AIRLESS_API_TOKEN` if set, else `<home>/api-token`, created (32 random bytes, base64url, mode 0600) if missing. */
export function apiToken(home: string, env: NodeJS.ProcessEnv = process.env): string {
  const existing = readApiToken(home, env);
  if (existing !== undefined) return existing;
  const token = randomBytes(32).toString('base64url');
  writePrivateFile(path.join(home, API_TOKEN_FILE), `${token}\n`);
  return token;
}

/**
 * `airless standalone`: in one process, the scheduler (the schedule loop and a LocalRunner on the
 * SQLite store of the home folder), the REST API and the web UI. Runs left queued or running by a
 * previous process are resumed first (see `resumeRuns`). Resolves once listening.
 *
 * The home folder is the owner's only (folders 0700, files 0600, existing ones made so at start), and
 * one server at a time has it: the first takes `<home>/standalone.lock` (an OS lock, gone with its
 * process however it ends); another start fails with a StandaloneStartError naming it.
 */
export async function startStandalone(options: StandaloneOptions): Promise<StandaloneServer> {
  const { bag, home } = options;
  const warn = options.warn ?? ((line: string) => void process.stderr.write(`${line}\n`));
  mkdirPrivate(home);
  const lock = await lockOrFail(home);
  let store: SqliteStateStore;
  let token: string;
  try {
    for (const problem of securePrivateTree(home)) warn(`airless standalone: warning: ${problem}`);
    token = apiToken(home, options.env);
    store = new SqliteStateStore({ path: sqliteDatabasePath(home) });
  } catch (e) {
    lock.release();
    throw e;
  }
  const logs = new LogFileWriter(home, { warn: (msg) => warn(`airless standalone: warning: ${msg}`) });
  const running = new Set<string>();
  // Every version's code is kept under <home>/bundles: a run goes on with its own version after its DAG
  // file changed or the server restarted.
  const bundles = new LocalBundleStore(bundlesDir(home));
  const dags = new VersionedDags(bag, localVersionLoader(store, bundles));
  // A DAG whose file fails to import at this start stays listed (with its runs and the error) from its
  // last kept code, when it has a history here.
  await dags.recoverBroken(bundles, async (dagId) => (await store.listDagVersions(dagId)).length > 0);
  // Each try of task code runs in a worker thread of its own: a crash, a hang past its timeout or a heap
  // blow-up fails that try, and the server goes on serving.
  const runner = new LocalRunner({ dags, store, isolation: { mode: 'worker', bundles } });
  const startedAt = runner.clock.now();
  // Never `console` in here: a 'log' event is delivered inside the task's try, whose console is captured.
  // The code of versions no run needs any more is pruned, one pruning at a time, after the start and
  // whenever a run ends.
  let pruning: Promise<void> = Promise.resolve();
  let pruningStopped = false;
  const prune = () => {
    pruning = pruning.then(async () => {
      if (pruningStopped) return;
      try {
        const current = dags.current.dags;
        const report = await pruneVersions({
          store,
          dagIds: current.map((d) => d.dagId),
          current: new Map(current.map((d) => [d.dagId, d.spec.version])),
          deleteBundle: (b) => Promise.resolve(bundles.delete(b)),
          ...(options.versionsRetained === undefined ? {} : { retain: options.versionsRetained }),
          now: new Date(runner.clock.now()).toISOString(),
        });
        if (report.pruned.length) {
          warn(`airless standalone: pruned the code of ${report.pruned.length} DAG version${report.pruned.length === 1 ? '' : 's'} no run uses (${report.pruned.map((v) => `${v.dagId} ${v.version}`).join(', ')})`);
        }
      } catch (e) {
        warn(`airless standalone: pruning DAG versions failed: ${errorMessage(e)}`);
      }
    });
  };
  runner.on((e) => {
    if (e.type === 'run') {
      // Its tries' buffered lines are written now that it has ended.
      if (isTerminalRunState(e.run.state)) {
        logs.flush();
        prune();
      }
    } else if (e.type === 'ti') {
      // A running try is what writes log lines.
      const id = `${e.ti.dagId}\u0000${e.ti.runId}\u0000${e.ti.taskId}\u0000${e.ti.mapIndex}`;
      if (e.ti.state === 'running') running.add(id);
      else if (running.delete(id)) logs.endTry(e.ti, e.ti.tryNumber);
    } else if (e.type === 'log') logs.add(e.key, e.tryNumber, e.line);
    else if (e.type === 'error') warn(`airless standalone: internal error in ${e.where}${e.run ? ` (run ${e.run.runId} of DAG ${e.run.dagId})` : ''}: ${errorMessage(e.error)}`);
  });

  let app: FastifyInstance | null = null;
  let loop: ScheduleLoop | null = null;
  let reloader: DagReloader | null = null;
  const release = () => {
    pruningStopped = true;
    runner.close();
    logs.close();
    store.close();
    lock.release();
  };
  try {
    const at = new Date(startedAt).toISOString();
    for (const dag of bag.dags) await store.registerDagVersion(versionEntryOf(dag), at);
    const resumed = await resumeRuns(runner, dags, startedAt, { dagIds: dags.current.dags.map((d) => d.dagId) });
    prune();
    const schedule = new ScheduleLoop({
      store,
      dags: bag.dags,
      clock: runner.clock,
      trigger: (req) => runner.trigger(req),
      onError: (dagId, err) => warn(`airless standalone: scheduling DAG '${dagId}' failed: ${errorMessage(err)}`),
    });
    loop = schedule;
    const api = await createApiApp({
      backend: {
        store,
        dagChanged: (dagId) => schedule.refresh(dagId),
        dags,
        withScheduler: (fn) => fn(runner.driven),
        bundles,
        nextRun: (dagId) => schedule.nextRun(dagId),
      },
      auth: { mode: 'token', token, user: apiUser(options.env) },
      uiDir: options.uiDir === undefined ? builtUiDir() : options.uiDir,
    });
    app = api;
    const host = options.host ?? '127.0.0.1';
    try {
      await api.listen({ port: options.port ?? 8080, host });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new StandaloneStartError(`port ${options.port} of ${host} is already in use (choose another with --port)`);
      if (code === 'EADDRNOTAVAIL') throw new StandaloneStartError(`cannot listen on ${host}: no such local address (--host)`);
      throw e;
    }
    const address = api.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const infoFile = path.join(home, STANDALONE_FILE);
    const info: StandaloneInfo = { url, pid: process.pid, startedAt: new Date().toISOString() };
    writePrivateFile(infoFile, `${JSON.stringify(info, null, 2)}\n`);
    await schedule.start();
    if (options.watch ?? true) {
      reloader = new DagReloader({
        dags,
        store,
        loop: schedule,
        now: () => runner.clock.now(),
        warn,
        bundles,
        ...(options.reloadDebounceMs === undefined ? {} : { debounceMs: options.reloadDebounceMs }),
      });
      reloader.start();
    }
    const watching = reloader;

    let stopping: Promise<void> | null = null;
    const graceMs = options.graceMs ?? 5000;
    const stop = async () => {
      await watching?.stop();
      await api.close();
      await schedule.stop();
      runner.close(new StandaloneInterruptedError(INTERRUPTED_TRY));
      // Tries whose code honours the AbortSignal end now; wait for them (at most graceMs).
      const deadline = Date.now() + graceMs;
      while (running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      // Nothing they set off meanwhile starts (the runner is closed); let their reports settle.
      await Promise.race([runner.idle(), new Promise((r) => setTimeout(r, Math.max(100, deadline - Date.now())).unref())]);
      pruningStopped = true;
      await pruning;
      logs.close(); // a log file that cannot be written was reported when it happened
      store.close();
      rmSync(infoFile, { force: true });
      lock.release();
    };
    return {
      url,
      token,
      home,
      runner,
      loop: schedule,
      dags,
      reloader: watching,
      app: api,
      resumed,
      tracked: {
        get runningTries() {
          return running.size;
        },
        get tryLogs() {
          return logs.size;
        },
      },
      stop: () => (stopping ??= stop()),
    };
  } catch (e) {
    await reloader?.stop();
    await app?.close();
    await loop?.stop();
    release();
    throw e;
  }
}

