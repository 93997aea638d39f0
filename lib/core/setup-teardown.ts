// Setup and teardown tasks (Airflow 2.7): the graph rules, as pure functions of the DAG's task specs.
// - A teardown's trigger rule is `all_done_setup_success` (lib/core/trigger-rules.ts).
// - The run's state ignores teardowns (unless `onFailureFailDagrun`): `effectiveLeaves`.
// - Clearing a task clears its relevant setups and their teardowns too: `setupsAndTeardownsToClear`.

/** What the graph rules read of a task (a TaskSpec is one). */
export interface GraphNode {
  taskId: string;
  upstream: readonly string[];
  downstream: readonly string[];
  setup?: true;
  teardown?: true;
  onFailureFailDagrun?: true;
}

type TaskOf = (taskId: string) => GraphNode;

/** A teardown that does not count for the run's state. */
function ignorable(t: GraphNode): boolean {
  return t.teardown === true && t.onFailureFailDagrun !== true;
}

/**
 * The tasks whose instances decide the run's state (Airflow's `_tis_for_dagrun_state`): a task counts when
 * every direct downstream task is an ignorable teardown (one without `onFailureFailDagrun`) and it is not
 * one itself. When no task qualifies (a DAG of teardowns only), the plain leaves.
 */
export function effectiveLeaves(tasks: readonly GraphNode[], task: TaskOf): string[] {
  const out = tasks.filter((t) => t.downstream.every((d) => ignorable(task(d))) && !ignorable(t)).map((t) => t.taskId);
  return out.length > 0 ? out : tasks.filter((t) => t.downstream.length === 0).map((t) => t.taskId);
}

/** Every task upstream (`up`) or downstream of `id`, transitively. */
function relatives(id: string, task: TaskOf, up: boolean): Set<string> {
  const seen = new Set<string>();
  const stack = [...(up ? task(id).upstream : task(id).downstream)];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    stack.push(...(up ? task(x).upstream : task(x).downstream));
  }
  return seen;
}

/**
 * The setups and teardowns that clearing `taskId` (without its upstream) clears too (Airflow's
 * `get_upstreams_only_setups_and_teardowns`): each upstream setup that has no teardown, or has a teardown
 * downstream of the task, with that setup's teardowns. For a setup itself, its own teardowns.
 */
export function setupsAndTeardownsToClear(taskId: string, task: TaskOf): string[] {
  const out = new Set<string>();
  const self = task(taskId);
  if (self.setup) for (const d of self.downstream) if (task(d).teardown) out.add(d);
  const downstreamTeardowns = new Set([...relatives(taskId, task, false)].filter((id) => task(id).teardown));
  for (const id of relatives(taskId, task, true)) {
    const t = task(id);
    if (!t.setup) continue;
    const teardowns = t.downstream.filter((d) => task(d).teardown);
    if (teardowns.length === 0 || teardowns.some((d) => downstreamTeardowns.has(d))) {
      out.add(id);
      for (const d of teardowns) if (d !== taskId) out.add(d);
    }
  }
  out.delete(taskId);
  return [...out];
}

/**
 * The leaves of a task group when drawing an edge from it (Airflow's `TaskGroup.get_leaves`): its tasks with
 * no downstream inside it, a teardown among them replaced by its nearest upstream work tasks inside the group
 * that have no other downstream work inside it (never through a setup).
 */
export function groupLeaves(ids: readonly string[], task: TaskOf): string[] {
  const inGroup = new Set(ids);
  const out: string[] = [];
  const hasWorkDownstream = (t: GraphNode, exclude: string) => t.downstream.some((d) => d !== exclude && inGroup.has(d) && !task(d).teardown);
  const firstWork = (t: GraphNode): void => {
    for (const u of t.upstream) {
      if (!inGroup.has(u)) continue;
      const up = task(u);
      if (up.teardown) firstWork(up);
      else if (t.teardown && up.setup) continue;
      else if (!hasWorkDownstream(up, t.taskId) && !out.includes(u)) out.push(u);
    }
  };
  for (const id of ids) {
    const t = task(id);
    if (t.downstream.some((d) => inGroup.has(d))) continue;
    if (!t.teardown) out.push(id);
    else firstWork(t);
  }
  return out;
}

/**
 * The setups a task waits for besides its direct upstreams (Airflow's relevant indirect setups, checked by
 * its `_evaluate_setup_constraint`): the setups among `setupsAndTeardownsToClear` that are not direct
 * upstreams. None for a teardown.
 */
export function indirectSetups(taskId: string, task: TaskOf): string[] {
  const t = task(taskId);
  if (t.teardown) return [];
  return setupsAndTeardownsToClear(taskId, task).filter((id) => task(id).setup && !t.upstream.includes(id));
}

/** What a task's indirect setups allow (their ended instances, by state, against how many they have). */
export function indirectSetupVerdict(c: { total: number; success: number; failed: number; skipped: number; upstream_failed: number }): 'ok' | 'wait' | 'skipped' | 'upstream_failed' {
  if (c.failed > 0 || c.upstream_failed > 0) return 'upstream_failed';
  if (c.skipped > 0) return 'skipped';
  return c.success >= c.total ? 'ok' : 'wait';
}
