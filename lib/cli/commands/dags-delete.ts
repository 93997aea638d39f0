import { ok, requireRemote, type RemoteOptions } from '../remote.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT } from '../usage-error.ts';
import { confirm } from './confirm.ts';

export interface DeleteOptions extends RemoteOptions {
  /** Do not ask for confirmation. Default false (ask on a terminal; refuse without one). */
  yes?: boolean;
}

/**
 * `airless dags delete <dagId>`: delete the DAG's runs, task instances, XComs, logs and backfills on the
 * server (its file stays in the DAGs folder). Refused while one of its runs is queued or running.
 */
export async function dagsDelete(term: Terminal, dagId: string, o: DeleteOptions): Promise<number> {
  const remote = await requireRemote(o);
  const go = await confirm(term, `Delete every record of DAG '${dagId}' on ${remote.target.description} (runs, task instances, XComs, logs)?`, o.yes);
  if (!go) {
    await term.err('Cancelled, nothing deleted\n');
    return EXIT.failed;
  }
  await ok(remote, remote.api.DELETE('/api/v2/dags/{dag_id}', { params: { path: { dag_id: dagId } } }));
  await term.out(`Deleted the records of DAG '${dagId}'\n`);
  return EXIT.ok;
}
