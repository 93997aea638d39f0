import type { Palette } from './ansi.ts';
import { clockTime, paintError, paintState } from './format.ts';
import type { TrackedChange } from './run-tracker.ts';
import type { LogLine, TiKey } from '../store/records.ts';

/**
 * One line per state change, for output that is not a terminal (CI logs, pipes):
 * `12:00:01.250  my_dag  extract[3]  up_for_retry  try 1/3  Error: boom`.
 */
export function stateChangeLine(change: TrackedChange, p: Palette, now: number = Date.now()): string {
  const time = p.dim(clockTime(now));
  if (change.kind === 'run') {
    const r = change.run;
    const by = r.parent ? ` (triggered by ${r.parent.dagId}.${r.parent.taskId}${r.parent.mapIndex >= 0 ? `[${r.parent.mapIndex}]` : ''})` : '';
    return `${time}  ${p.bold(r.dagId)}  run ${r.runId}  ${paintState(r.state, p)}${by}`;
  }
  const ti = change.ti;
  const id = ti.mapIndex >= 0 ? `${ti.taskId}[${ti.mapIndex}]` : ti.taskId;
  const parts = [time, p.bold(change.run.dagId), id, paintState(ti.state, p)];
  if (ti.tryNumber > 0) parts.push(`try ${ti.tryNumber}/${ti.maxTries}`);
  if ((ti.state === 'failed' || ti.state === 'up_for_retry') && ti.error) parts.push(p.red(paintError(ti.error, p, { firstLine: true })));
  if (ti.state === 'skipped' && ti.error) parts.push(p.dim(paintError(ti.error, p, { firstLine: true })));
  return parts.join('  ');
}

/**
 * A line of a try's log as `dags test` prints it while the run goes: the time, the DAG, the task (with its
 * map index), the try, the level and the message; a message of several lines (a traceback) continues
 * under it as it is.
 */
export function tryLogLine(key: TiKey, tryNumber: number, line: LogLine, p: Palette): string {
  const id = key.mapIndex >= 0 ? `${key.taskId}[${key.mapIndex}]` : key.taskId;
  const level = line.level.toUpperCase().padEnd(5);
  const paintLevel = line.level === 'error' ? p.red(level) : line.level === 'warn' ? p.yellow(level) : p.dim(level);
  const head = `${p.dim(clockTime(Date.parse(line.time)))}  ${key.dagId}  ${id}  try ${tryNumber}  ${paintLevel}  `;
  const [first = '', ...rest] = line.message.split('\n');
  return [`${head}${first}`, ...rest].join('\n');
}
