import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createApiApp } from '../api/app.ts';
import { builtUiDir } from '../api/serve-ui.ts';
import type { DagBag } from '../dagbag/dag-bag.ts';
import { AirlessError, errorMessage } from '../errors.ts';
import { LogFileWriter } from '../cli/log-files.ts';
import { LocalRunner } from '../runner/local-runner.ts';
import { sqliteDatabasePath, SqliteStateStore } from '../store/sqlite-store.ts';
import { INTERRUPTED_TRY, resumeRuns, StandaloneInterruptedError, type ResumeReport } from './resume.ts';
import { DagReloader, VersionedDags } from './dag-reloader.ts';
import { ScheduleLoop } from './schedule-loop.ts';
import { API_TOKEN_FILE, pidAlive, readApiToken, STANDALONE_FILE, type StandaloneInfo } from './home-files.ts';

export { API_TOKEN_ENV, API_TOKEN_FILE, STANDALONE_FILE, type StandaloneInfo } from './home-files.ts';

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
  warn?(line: string): void;
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
  /**
   * Stop cleanly: no more requests, no more schedule firings, running tries aborted (their AbortSignal)
   * and given `graceMs` to end; a try still running then stays `running` in the store and is reported
   * failed (StandaloneInterruptedError) by the next start. Logs flushed, store closed, standalone.json
   * removed. Calling it again returns the same promise.
   */
  stop(): Promise<void>;
}


/** The standalone server of a home folder, if one runs (a stale file of a dead process is ignored). */
export function runningStandalone(home: string): StandaloneInfo | null {
  const file = path.join(home, STANDALONE_FILE);
  let info: StandaloneInfo;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as StandaloneInfo;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StandaloneStartError(`cannot read ${file}: ${errorMessage(e)} (remove it if no standalone server runs)`);
  }
  return typeof info.pid === 'number' && info.pid !== process.pid && pidAlive(info.pid) ? info : null;
}

/** The API token: `AIRLESS_API_TOKEN` if set, else `<home>/api-token`, created (32 random bytes, base64url, mode 0600) if missing. */
export function apiToken(home: string, env: NodeJS.ProcessEnv = process.env): string {
  const existing = readApiToken(home, env);
  if (existing !== undefined) return existing;
  const token = randomBytes(32).toString('base64url');
  writeFileSync(path.join(home, API_TOKEN_FILE), `${token}\n`, { mode: 0o600 });
  return token;
}

/**
 * `airless standalone`: in one process, the scheduler (the schedule loop and a LocalRunner on the
 * SQLite store of the home folder), the REST API and the web UI. Runs left queued or running by a
 * previous process are resumed first (see `resumeRuns`). Resolves once listening.
 */
export async function startStandalone(options: StandaloneOptions): Promise<StandaloneServer> {
  const { bag, home } = options;
  const warn = options.warn ?? ((line: string) => void process.stderr.write(`${line}\n`));
  mkdirSync(home, { recursive: true });
  const other = runningStandalone(home);
  if (other) throw new StandaloneStartError(`a standalone server already runs on ${home} (pid ${other.pid}, ${other.url}); stop it first`);
  const token = apiToken(home, options.env);

  const store = new SqliteStateStore({ path: sqliteDatabasePath(home) });
  const logs = new LogFileWriter(home);
  const running = new Set<string>();
  const dags = new VersionedDags(bag);
  const runner = new LocalRunner({ dags, store });
  const startedAt = runner.clock.now();
  // Never `console` in here: a 'log' event is delivered inside the task's try, whose console is captured.
  runner.on((e) => {
    if (e.type === 'ti') {
      const id = `${e.ti.dagId}\u0000${e.ti.runId}\u0000${e.ti.taskId}\u0000${e.ti.mapIndex}`;
      if (e.ti.state === 'running') running.add(id);
      else running.delete(id);
    } else if (e.type === 'log') logs.add(e.key, e.tryNumber, e.line);
    else if (e.type === 'error') warn(`airless standalone: internal error in ${e.where}${e.run ? ` (run ${e.run.runId} of DAG ${e.run.dagId})` : ''}: ${errorMessage(e.error)}`);
  });

  let app: FastifyInstance | null = null;
  let loop: ScheduleLoop | null = null;
  let reloader: DagReloader | null = null;
  const release = () => {
    runner.close();
    logs.close();
    store.close();
  };
  try {
    const at = new Date(startedAt).toISOString();
    for (const dag of bag.dags) await store.registerDagVersion(dag.dagId, dag.spec.version, dag.spec.fileloc, at);
    const resumed = await resumeRuns(runner, dags, startedAt);
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
        withScheduler: (fn) => fn(runner.scheduler),
        nextRun: (dagId) => schedule.nextRun(dagId),
      },
      auth: { mode: 'token', token },
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
    writeFileSync(infoFile, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
    await schedule.start();
    if (options.watch ?? true) {
      reloader = new DagReloader({
        dags,
        store,
        loop: schedule,
        now: () => runner.clock.now(),
        warn,
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
      logs.close();
      for (const msg of logs.errors) warn(`warning: ${msg}`);
      store.close();
      rmSync(infoFile, { force: true });
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
