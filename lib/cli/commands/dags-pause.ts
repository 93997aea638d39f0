import { ok, requireRemote, type RemoteOptions } from '../remote.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT } from '../usage-error.ts';

export interface PauseOptions extends RemoteOptions {
  /** Print the API's DAG object. Default false. */
  json?: boolean;
}

/**
 * `airless dags pause|unpause <dagId>`: a paused DAG's schedule creates no runs (triggering by hand
 * still works, as in Airflow).
 */
export async function dagsSetPaused(term: Terminal, dagId: string, paused: boolean, o: PauseOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await requireRemote(o);
  const dag = await ok(remote, remote.api.PATCH('/api/v2/dags/{dag_id}', { params: { path: { dag_id: dagId } }, body: { is_paused: paused } }));
  await term.out(o.json ? `${JSON.stringify(dag)}\n` : `DAG '${dag.dag_id}' is ${dag.is_paused ? 'paused' : 'unpaused'}\n`);
  return EXIT.ok;
}
