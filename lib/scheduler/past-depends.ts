// depends_on_past and wait_for_downstream (Airflow's PrevDagrunDep): a task of a run is decided only when
// its instance in the DAG's previous run (by logical date, then queued time) succeeded or was skipped (or
// there is no previous run); with waitForDownstream, also the previous run's instances of its direct
// downstream tasks. Until then it stays undecided: no instance, no slot, the run pending on it.
//
// Waking is event-driven, with no polling: when an instance of a run finishes, the next run of the DAG
// (if running) decides again its tasks that depend on that instance (the same task, or, for
// waitForDownstream, its upstream task); when a run ends, the next run decides again all of its
// depends-on-past tasks (an ended run may have skipped instances in bulk).

import type { Dag } from '../authoring/dag.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { DagRunRecord, TaskInstanceRecord } from '../store/records.ts';
import { decideAll } from './decisions.ts';
import { finalizeIfDone } from './run-end.ts';
import type { Step } from './step.ts';

const passed = (ti: TaskInstanceRecord) => ti.state === 'success' || ti.state === 'skipped';

/** The DAG's runs in the order depends_on_past follows: by logical date, then by queued time. */
async function runsInOrder(s: Step, dagId: string): Promise<DagRunRecord[]> {
  const runs = await s.store.listRuns({ dagId });
  return runs.sort((a, b) => a.logicalDate.localeCompare(b.logicalDate) || a.queuedAt.localeCompare(b.queuedAt) || a.runId.localeCompare(b.runId));
}

function neighbour(runs: readonly DagRunRecord[], run: DagRunRecord, step: -1 | 1): DagRunRecord | undefined {
  const i = runs.findIndex((r) => r.runId === run.runId);
  return i < 0 ? undefined : runs[i + step];
}

/** Whether `t` of `run` may be decided now as far as its past goes (true for a task without dependsOnPast). */
export async function pastDependsMet(s: Step, run: DagRunRecord, t: TaskSpec): Promise<boolean> {
  if (!t.dependsOnPast) return true;
  const runs = await runsInOrder(s, run.dagId);
  const prev = neighbour(runs, run, -1);
  if (!prev) return true;
  const tis = await s.store.listTaskInstances(prev, t.taskId);
  if (tis.length === 0) {
    // The previous run has not decided it yet (its finish will wake this run), or that run's version has no
    // such task: then only ignoreFirstDependsOnPast lets it go (Airflow waits otherwise).
    return t.ignoreFirstDependsOnPast === true && !(await versionHasTask(s, prev, t.taskId));
  }
  if (!tis.every(passed)) return false;
  if (!t.waitForDownstream) return true;
  for (const d of t.downstream) {
    const down = await s.store.listTaskInstances(prev, d);
    if (down.length === 0 || !down.every(passed)) return false;
  }
  return true;
}

/** Whether the run's DAG version has the task (assumed so when that version cannot be loaded). */
async function versionHasTask(s: Step, run: DagRunRecord, taskId: string): Promise<boolean> {
  try {
    return (await s.dagOf(run)).taskIndex.has(taskId);
  } catch {
    return true;
  }
}

/** Tasks of `dag` whose past dependency is on `taskId`'s instances: itself, and its upstreams that wait for their downstream. */
export function dependentsOnPast(dag: Dag, taskId: string): TaskSpec[] {
  const t = dag.task(taskId);
  const out: TaskSpec[] = [];
  if (t.dependsOnPast) out.push(t);
  for (const u of t.upstream) {
    const up = dag.task(u);
    if (up.waitForDownstream) out.push(up);
  }
  return out;
}

/**
 * The run after `run` (of the same DAG), when it is running: the one whose waiting tasks may now be
 * decided. Undefined when no task of the DAG depends on its past.
 */
export async function nextRunWaiting(s: Step, dag: Dag, run: DagRunRecord): Promise<DagRunRecord | undefined> {
  if (!dag.spec.tasks.some((t) => t.dependsOnPast)) return undefined;
  const next = neighbour(await runsInOrder(s, run.dagId), run, 1);
  return next?.state === 'running' ? next : undefined;
}

/**
 * depends_on_past's wake-up (lib/scheduler/past-depends.ts): the DAG's next run, if running, decides again
 * the tasks whose past is the instances of `taskIds` in `run` (all its depends-on-past tasks when no ids
 * are given: `run` has ended).
 */
export async function wakeNextRun(s: Step, dag: Dag, run: DagRunRecord, taskIds?: readonly string[]): Promise<void> {
  const next = await nextRunWaiting(s, dag, run);
  if (!next) return;
  const nextDag = await s.dagOf(next);
  const tasks = taskIds === undefined ? nextDag.spec.tasks.filter((x) => x.dependsOnPast) : taskIds.flatMap((id) => (nextDag.taskIndex.has(id) ? dependentsOnPast(nextDag, id) : []));
  if (tasks.length === 0) return;
  await decideAll(s, nextDag, next, tasks, await s.store.getTaskStates(next, tasks.map((x) => x.taskId)));
  await finalizeIfDone(s, next);
}
