import type { DagSpec, TaskKind, TaskSpec } from '../../model/spec.ts';
import { loadBag, requireDag } from '../dag-lookup.ts';
import { dagToMermaid } from '../mermaid.ts';
import { ok, remoteOrFolder, type Remote, type RemoteOptions, type Schemas } from '../remote.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT } from '../usage-error.ts';

const KINDS: Record<Schemas['Task']['operator_name'], TaskKind> = {
  task: 'task',
  branch: 'branch',
  shortCircuit: 'short_circuit',
  sensor: 'sensor',
  batchJob: 'batch',
  triggerDag: 'trigger_dag',
  empty: 'empty',
  approval: 'hitl',
  hitlChoice: 'hitl',
  hitlForm: 'hitl',
};

/** The graph part of a DAG's spec from the API's tasks (what Mermaid needs: kinds, groups, edges, mapping). */
function graphSpec(dagId: string, tasks: readonly Schemas['Task'][]): DagSpec {
  const groups = new Map<string, string | null>();
  for (const t of tasks) {
    // Nested groups are dotted ('outer.inner'): each prefix is a group.
    const parts = t.group_id === null ? [] : t.group_id.split('.');
    for (let i = 1; i <= parts.length; i++) groups.set(parts.slice(0, i).join('.'), i > 1 ? parts.slice(0, i - 1).join('.') : null);
  }
  // Only what the drawing reads: the kinds' own fields stay null (the API lists none of them).
  const taskSpecs = tasks.map(
    (t) => ({
      taskId: t.task_id,
      kind: KINDS[t.operator_name],
      groupId: t.group_id,
      upstream: t.upstream_task_ids,
      downstream: t.downstream_task_ids,
      triggerRule: t.trigger_rule,
      retries: t.retries,
      retryDelayMs: 0,
      retryExponentialBackoff: false,
      maxRetryDelayMs: null,
      executionTimeoutMs: null,
      pool: t.pool,
      poolSlots: 1,
      maxActiveTisPerDag: null,
      input: null,
      mapping: t.is_mapped ? { mode: 'single', source: null, partial: null } : null,
      iterate: null,
      sensor: null,
      triggerDag: null,
      batch: null,
      shortCircuit: null,
      hitl: null,
      doc: t.doc_md,
    }) as TaskSpec,
  );
  return {
    dagId,
    fileloc: null,
    description: null,
    schedule: null,
    startDate: null,
    endDate: null,
    catchup: false,
    params: {},
    maxActiveRuns: 1,
    maxActiveTasks: 1,
    dagrunTimeoutMs: null,
    tags: [],
    docs: null,
    tasks: taskSpecs,
    groups: [...groups].map(([groupId, parentGroupId]) => ({ groupId, parentGroupId, tooltip: null, taskIds: tasks.filter((t) => t.group_id === groupId).map((t) => t.task_id) })),
    structureHash: '',
    bundle: null,
    version: '',
  };
}

/** The tasks of a DAG on the server (a 404 names the DAG). */
export async function remoteTasks(remote: Remote, dagId: string): Promise<Schemas['Task'][]> {
  return (await ok(remote, remote.api.GET('/api/v2/dags/{dag_id}/tasks', { params: { path: { dag_id: dagId } } }))).tasks;
}

/** `airless dags show <dagId>`: the DAG's graph as Mermaid text (paste it into a Markdown file). */
export async function dagsShow(term: Terminal, dagId: string, o: RemoteOptions): Promise<number> {
  const remote = await remoteOrFolder(term, o);
  const spec = remote ? graphSpec(dagId, await remoteTasks(remote, dagId)) : requireDag(await loadBag(term, o), dagId).spec;
  await term.out(dagToMermaid(spec));
  return EXIT.ok;
}
