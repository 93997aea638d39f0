import { palette, useColor } from '../ansi.ts';
import { formatDuration, paintError, paintState } from '../format.ts';
import { ok, requireRemote, type RemoteOptions } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT } from '../usage-error.ts';
import { tableTime } from './dags-list-runs.ts';

export interface StatesForDagRunOptions extends RemoteOptions {
  /** Print a JSON array of the API's TaskInstance objects. Default false. */
  json?: boolean;
}

/**
 * `airless tasks states-for-dag-run <dagId> <runId>`: every task instance of the run (a task with no
 * instance yet shows as `none`), with its try, times and last error.
 */
export async function tasksStatesForDagRun(term: Terminal, dagId: string, runId: string, o: StatesForDagRunOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await requireRemote(o);
  const { task_instances: tis } = await ok(
    remote,
    remote.api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances', { params: { path: { dag_id: dagId, dag_run_id: runId } } }),
  );
  if (o.json) {
    await term.out(`${JSON.stringify(tis)}\n`);
    return EXIT.ok;
  }
  const p = palette(useColor(term.stdout));
  const rows = tis.map((t) => [
    p.bold(t.task_id),
    t.map_index >= 0 ? `${t.map_index}` : '',
    paintState(t.state, p),
    `${t.try_number}`,
    tableTime(t.start_date),
    tableTime(t.end_date),
    formatDuration(t.duration === null ? null : t.duration * 1000),
    t.state === 'failed' || t.state === 'up_for_retry' ? p.red(t.error ? paintError(t.error, p, { firstLine: true }) : ((t.note ?? '').split('\n')[0] ?? '')) : '',
  ]);
  await term.out(`${renderTable(['task_id', 'map_index', 'state', 'try', 'start_date', 'end_date', 'duration', 'error'], rows, { alignRight: [1, 3, 6] })}\n`);
  return EXIT.ok;
}
