import { toTask } from '../../api/mappers.ts';
import { palette, useColor } from '../ansi.ts';
import { loadBag, requireDag } from '../dag-lookup.ts';
import { remoteOrFolder, type RemoteOptions, type Schemas } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT } from '../usage-error.ts';
import { remoteTasks } from './dags-show.ts';

export interface TasksListOptions extends RemoteOptions {
  /** Print a JSON array of the API's Task objects. Default false. */
  json?: boolean;
}

/**
 * `airless tasks list <dagId>`: the DAG's tasks in definition order, with their operator, trigger rule,
 * retries and downstream tasks. The same objects (the API's Task) from a server and from the DAGs folder.
 */
export async function tasksList(term: Terminal, dagId: string, o: TasksListOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await remoteOrFolder(term, o);
  const tasks: (Omit<Schemas['Task'], 'operator_name'> & { operator_name: string })[] = remote ? await remoteTasks(remote, dagId) : requireDag(await loadBag(term, o), dagId).spec.tasks.map(toTask);
  if (o.json) {
    await term.out(`${JSON.stringify(tasks)}\n`);
    return EXIT.ok;
  }
  const p = palette(useColor(term.stdout));
  const rows = tasks.map((t) => [p.bold(t.task_id), t.operator_name + (t.is_mapped ? ' [ ]' : ''), t.trigger_rule, `${t.retries}`, t.downstream_task_ids.join(', ')]);
  await term.out(`${renderTable(['task_id', 'operator', 'trigger_rule', 'retries', 'downstream'], rows, { alignRight: [3] })}\n`);
  return EXIT.ok;
}
