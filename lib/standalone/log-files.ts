import { appendFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { mkdirPrivate, PRIVATE_FILE_MODE } from './home-files.ts';
import type { LogLine, TiKey } from '../store/records.ts';

/** Name of the environment variable that sets where airless keeps local files (logs). */
export const AIRLESS_HOME_ENV = 'AIRLESS_HOME';

/** `AIRLESS_HOME`, else `.airless` under the current directory; absolute. */
export function airlessHome(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const home = env[AIRLESS_HOME_ENV];
  return path.resolve(cwd, home !== undefined && home !== '' ? home : '.airless');
}

/** A path segment that is safe on every file system (ids are already mostly safe; run ids may hold ':'). */
function segment(value: string): string {
  return value.replace(/[/\\\0]/g, '_');
}

/** `<home>/logs/dag_id=<d>/run_id=<r>`: where the logs of a run go (Airflow's layout). */
export function runLogDir(home: string, dagId: string, runId: string): string {
  return path.join(home, 'logs', `dag_id=${segment(dagId)}`, `run_id=${segment(runId)}`);
}

/** `<run dir>/task_id=<t>/[map_index=<i>/]attempt=<n>.log`: the log file of one try. */
export function tryLogPath(home: string, key: TiKey, tryNumber: number): string {
  const parts = [runLogDir(home, key.dagId, key.runId), `task_id=${segment(key.taskId)}`];
  if (key.mapIndex >= 0) parts.push(`map_index=${key.mapIndex}`);
  return path.join(...parts, `attempt=${tryNumber}.log`);
}

/** One log line as written to a file: `[time] LEVEL - message`. */
export function formatLogLine(line: LogLine): string {
  return `[${line.time}] ${line.level.toUpperCase().padEnd(5)} - ${line.message}`;
}

/** A try's log file: the lines not written yet, and where they go once known. */
interface TryLog {
  key: TiKey;
  tryNumber: number;
  /** The file, once its folder exists. */
  file: string | undefined;
  lines: string[];
  /** The last write error reported for this file (reported again only when it changes). */
  failing: string | undefined;
  /** Lines dropped because the file could not be written for too long (not yet reported). */
  dropped: number;
  /** The try has ended ({@link LogFileWriter.endTry}): forgotten once its lines are written. */
  ended: boolean;
}

export interface LogFileWriterOptions {
  /** How long lines wait in the buffer before they are written (ms). Default 200. */
  flushMs?: number;
  /** Told at once of a file that cannot be written (and of lines given up on): one line each. Default: nothing (see `errors`). */
  warn?: (message: string) => void;
  /** Lines kept per file while it cannot be written; beyond that the oldest are dropped (and reported). Default 100 000. */
  maxBufferedLines?: number;
}

/**
 * Writes every try's log lines to its file (mode 0600, folders 0700) as they come, buffered and
 * flushed every `flushMs` (and on `flush()`), so that `tail -f` follows a running task. Lines are
 * written in the order they came; lines whose write failed (a full disk) wait in the buffer and are
 * written again at the next flush, after the failure was reported through `warn`. {@link endTry} forgets a try once its lines are written.
 */
export class LogFileWriter {
  private readonly logs = new Map<string, TryLog>();
  private timer: NodeJS.Timeout | null = null;
  private readonly flushMs: number;
  private readonly warn: (message: string) => void;
  private readonly maxBufferedLines: number;
  /** Write errors (a full disk, a read-only folder), each reported once. */
  readonly errors: string[] = [];

  constructor(
    readonly home: string,
    options: LogFileWriterOptions | number = {},
  ) {
    const o = typeof options === 'number' ? { flushMs: options } : options;
    this.flushMs = o.flushMs ?? 200;
    this.warn = o.warn ?? (() => undefined);
    this.maxBufferedLines = o.maxBufferedLines ?? 100_000;
  }

  private id(key: TiKey, tryNumber: number): string {
    return `${key.dagId}\0${key.runId}\0${key.taskId}\0${key.mapIndex}\0${tryNumber}`;
  }

  add(key: TiKey, tryNumber: number, line: LogLine): void {
    const id = this.id(key, tryNumber);
    let log = this.logs.get(id);
    if (!log) this.logs.set(id, (log = { key: { dagId: key.dagId, runId: key.runId, taskId: key.taskId, mapIndex: key.mapIndex }, tryNumber, file: undefined, lines: [], failing: undefined, dropped: 0, ended: false }));
    log.ended = false;
    log.lines.push(formatLogLine(line));
    if (log.lines.length > this.maxBufferedLines) {
      const n = log.lines.length - this.maxBufferedLines;
      log.lines.splice(0, n);
      log.dropped += n;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.flushMs);
    this.timer.unref();
  }

  private report(message: string): void {
    if (!this.errors.includes(message)) this.errors.push(message);
    this.warn(message);
  }

  /** Write one try's buffered lines; false if some are still waiting (DAG unknown, or the write failed). */
  private write(id: string, log: TryLog): boolean {
    if (log.lines.length > 0) {
      const file = tryLogPath(this.home, log.key, log.tryNumber);
      if (log.dropped > 0) {
        this.report(`log file ${file}: ${log.dropped} line(s) dropped, as it could not be written for ${this.maxBufferedLines} lines`);
        log.dropped = 0;
      }
      try {
        const first = log.file === undefined;
        if (first) mkdirPrivate(path.dirname(file));
        appendFileSync(file, log.lines.join('\n') + '\n', { mode: PRIVATE_FILE_MODE });
        if (first) chmodSync(file, PRIVATE_FILE_MODE); // whatever the umask
        log.file = file;
        log.lines = [];
        log.failing = undefined;
      } catch (e) {
        log.file = undefined; // its folder is made again at the next attempt (it may have been removed)
        const msg = `cannot write log file ${file}: ${(e as Error).message}`;
        if (log.failing !== msg) this.report(`${msg} (its lines are kept and written again)`);
        log.failing = msg;
        return false;
      }
    }
    if (log.ended) this.logs.delete(id);
    return true;
  }

  /** Write what is buffered; returns the lines still waiting (after a failed write). */
  flush(): number {
    let waiting = 0;
    for (const [id, log] of this.logs) if (!this.write(id, log)) waiting += log.lines.length;
    if (waiting > 0) this.schedule();
    return waiting;
  }

  /** A try's log is complete (the try ended): write its lines now, and forget it once they are written. */
  endTry(key: TiKey, tryNumber: number): void {
    const id = this.id(key, tryNumber);
    const log = this.logs.get(id);
    if (!log) return;
    log.ended = true;
    this.write(id, log);
  }

  /** Tries whose lines are kept (written or not yet): what the writer remembers. */
  get size(): number {
    return this.logs.size;
  }

  /** Write what is buffered, then forget every try; lines that still cannot be written are reported lost. */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.flush();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const log of this.logs.values()) {
      if (log.lines.length === 0) continue;
      const what = `try ${log.tryNumber} of task '${log.key.taskId}'${log.key.mapIndex >= 0 ? ` [${log.key.mapIndex}]` : ''} of run '${log.key.runId}' of DAG '${log.key.dagId}'`;
      this.report(`${log.lines.length} log line(s) of ${what} not written to a file: ${log.failing ?? 'not written yet'}`);
    }
    this.logs.clear();
  }
}
