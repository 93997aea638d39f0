import type { Palette } from './ansi.ts';
import { clockTime, paintError, paintState } from './format.ts';
import type { TrackedChange } from './run-tracker.ts';

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
