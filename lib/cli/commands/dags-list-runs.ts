import { palette, useColor } from '../ansi.ts';
import { paintState } from '../format.ts';
import { ok, requireRemote, type RemoteOptions, type Schemas } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT } from '../usage-error.ts';

export interface ListRunsOptions extends RemoteOptions {
  /** Only runs in this state (queued, running, success, failed). Default: every state. */
  state?: Schemas['DAGRun']['state'];
  /** At most this many runs, newest first. Default 100. */
  limit?: number;
  /** Print a JSON array of the API's DAGRun objects. Default false. */
  json?: boolean;
}

/** An ISO-8601 time as the tables show it: UTC to the second ('2026-01-02 03:04:05'); '' when null. */
export function tableTime(iso: string | null): string {
  return iso === null ? '' : iso.replace('T', ' ').replace(/(\.\d+)?(Z|[+-]\d\d:\d\d)$/, '');
}

/** Rows of a DAGRun table. */
export function runRows(runs: readonly Schemas['DAGRun'][], color: boolean): string[][] {
  const p = palette(color);
  return runs.map((r) => [r.dag_id, p.bold(r.dag_run_id), paintState(r.state, p), r.run_type, tableTime(r.logical_date), tableTime(r.start_date), tableTime(r.end_date)]);
}

export const RUN_HEADERS = ['dag_id', 'run_id', 'state', 'run_type', 'logical_date', 'start_date', 'end_date'];

/** `airless dags list-runs <dagId>`: the DAG's runs on the server, newest first. */
export async function dagsListRuns(term: Terminal, dagId: string, o: ListRunsOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await requireRemote(o);
  const query = { limit: o.limit ?? 100, ...(o.state !== undefined ? { state: [o.state] } : {}) };
  const { dag_runs: runs } = await ok(remote, remote.api.GET('/api/v2/dags/{dag_id}/dagRuns', { params: { path: { dag_id: dagId }, query } }));
  if (o.json) {
    await term.out(`${JSON.stringify(runs)}\n`);
  } else if (!runs.length) {
    await term.out(`No runs of DAG '${dagId}'${o.state !== undefined ? ` in state ${o.state}` : ''}\n`);
  } else {
    await term.out(`${renderTable(RUN_HEADERS, runRows(runs, useColor(term.stdout)))}\n`);
  }
  return EXIT.ok;
}
