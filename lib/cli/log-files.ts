import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
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

/**
 * Writes every try's log lines to its file as they come, buffered and flushed every `flushMs` (and on
 * `flush()`), so that `tail -f` follows a running task.
 */
export class LogFileWriter {
  private readonly pending = new Map<string, { key: TiKey; tryNumber: number; lines: string[] }>();
  private timer: NodeJS.Timeout | null = null;
  /** Every file written, in the order first written. */
  readonly files = new Set<string>();
  /** Write errors (a full disk, a read-only folder), each reported once. */
  readonly errors: string[] = [];

  constructor(
    readonly home: string,
    private readonly flushMs = 200,
  ) {}

  add(key: TiKey, tryNumber: number, line: LogLine): void {
    const id = `${key.dagId}\0${key.runId}\0${key.taskId}\0${key.mapIndex}\0${tryNumber}`;
    let p = this.pending.get(id);
    if (!p) this.pending.set(id, (p = { key: { dagId: key.dagId, runId: key.runId, taskId: key.taskId, mapIndex: key.mapIndex }, tryNumber, lines: [] }));
    p.lines.push(formatLogLine(line));
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.flushMs);
      this.timer.unref();
    }
  }

  /** Write what is buffered. */
  flush(): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      const file = tryLogPath(this.home, p.key, p.tryNumber);
      try {
        mkdirSync(path.dirname(file), { recursive: true });
        appendFileSync(file, p.lines.join('\n') + '\n');
        this.files.add(file);
      } catch (e) {
        const msg = `cannot write log file ${file}: ${(e as Error).message}`;
        if (!this.errors.includes(msg)) this.errors.push(msg);
      }
    }
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.flush();
  }
}
