/**
 * What a run left in a store, read back for comparisons: the LocalRunner's report shape (every task
 * instance's state and try, recursively through triggered runs), and a whole-state snapshot (runs,
 * instances, task tallies, XComs, pipeline context, logs) with times and ids taken out.
 */
import type { ErrorInfo } from '../lib/error-info.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import type { RunReport, TaskReport } from '../lib/runner/local-runner.ts';
import type { DagResolver } from '../lib/scheduler/host.ts';
import { pipelineScopeOf, sameRun, type DagRunRecord, type RunRef } from '../lib/store/records.ts';
import type { StateStore } from '../lib/store/state-store.ts';

function dagOf(dags: DagResolver, dagId: string): Dag {
  const d = dags.getDag(dagId);
  if (!d) throw new Error(`no DAG '${dagId}'`);
  return d;
}

/** Runs triggered by `run` (found by the DAGs its trigger tasks trigger, and their `parent`), oldest first. */
export async function childRuns(store: StateStore, dags: DagResolver, run: DagRunRecord): Promise<DagRunRecord[]> {
  const dag = dagOf(dags, run.dagId);
  const targets = [...new Set(dag.spec.tasks.flatMap((t) => (t.triggerDag ? [t.triggerDag.triggerDagId] : [])))];
  const out: DagRunRecord[] = [];
  for (const dagId of targets) out.push(...(await store.listRuns({ dagId })).filter((r) => r.parent !== null && sameRun(r.parent, run)));
  return out.sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : 0));
}

/** The LocalRunner's report of a run (`LocalRunner.report`), from any store. */
export async function reportFromStore(store: StateStore, dags: DagResolver, ref: RunRef): Promise<RunReport> {
  const run = await store.getRun(ref);
  if (!run) throw new Error(`no run '${ref.runId}' of DAG '${ref.dagId}'`);
  const { runId } = run;
  const dag = dagOf(dags, run.dagId);
  const tis = await store.listTaskInstances(run);
  const tasks: TaskReport[] = [];
  for (const t of dag.spec.tasks) {
    const list = tis.filter((ti) => ti.taskId === t.taskId);
    if (!list.length) tasks.push({ taskId: t.taskId, mapIndex: null, state: null, tryNumber: 0 });
    else for (const ti of list) tasks.push({ taskId: ti.taskId, mapIndex: ti.mapIndex < 0 ? null : ti.mapIndex, state: ti.state, tryNumber: ti.tryNumber });
  }
  const report: RunReport = { dagId: run.dagId, runId, state: run.state, tasks };
  const kids = await childRuns(store, dags, run);
  if (kids.length) report.triggeredRuns = await Promise.all(kids.map((k) => reportFromStore(store, dags, k)));
  return report;
}

/** The parts of a report that must match: no run ids; instances in definition then map-index order; triggered runs by DAG. */
export interface RunOutcome {
  dagId: string;
  state: string;
  tasks: { taskId: string; mapIndex: number | null; state: string | null; tryNumber: number }[];
  triggeredRuns: RunOutcome[];
}

export function outcome(r: RunReport, dags: DagResolver): RunOutcome {
  const order = new Map(dagOf(dags, r.dagId).spec.tasks.map((t, i) => [t.taskId, i]));
  return {
    dagId: r.dagId,
    state: r.state,
    tasks: r.tasks
      .map((t) => ({ taskId: t.taskId, mapIndex: t.mapIndex, state: t.state, tryNumber: t.tryNumber }))
      .sort((a, b) => order.get(a.taskId)! - order.get(b.taskId)! || (a.mapIndex ?? -1) - (b.mapIndex ?? -1)),
    triggeredRuns: (r.triggeredRuns ?? []).map((c) => outcome(c, dags)).sort((a, b) => (a.dagId < b.dagId ? -1 : a.dagId > b.dagId ? 1 : JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
  };
}

/** An error with the stacks of its cause chain left out. */
function withoutStacks(e: ErrorInfo): ErrorInfo {
  const data = { ...e.data };
  delete data.stack;
  if (data.cause) data.cause = withoutStacks(data.cause);
  if (data.errors) data.errors = data.errors.map(withoutStacks);
  return Object.keys(data).length ? { name: e.name, message: e.message, data } : { name: e.name, message: e.message };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g;
/** The hash of the parent instance at the end of a triggered run's id (`triggeredRunId`). */
const TRIGGERED_HASH = /(triggered__[A-Za-z0-9_.-]*?__try\d+__)[0-9a-f]{16}/g;

/**
 * Everything the store holds for a run and the runs it triggered, recursively: the run records, every
 * task instance, every task's tally record, the return values, the pipeline context and each try's log
 * messages. Times, durations, Batch job ids, the run id itself and the parent part of the ids of the runs
 * it triggered are replaced by placeholders, so that two runs of the same DAG can be compared.
 */
export async function snapshotRun(store: StateStore, dags: DagResolver, ref: RunRef): Promise<unknown> {
  const snap = await snapshotTree(store, dags, ref);
  const text = JSON.stringify(snap).split(ref.runId).join('<run>').replace(UUID, '<uuid>').replace(ISO_TIME, '<time>').replace(TRIGGERED_HASH, '$1<parent>');
  return JSON.parse(text) as unknown;
}

async function snapshotTree(store: StateStore, dags: DagResolver, ref: RunRef): Promise<unknown> {
  const run = await store.getRun(ref);
  if (!run) throw new Error(`no run '${ref.runId}' of DAG '${ref.dagId}'`);
  const dag = dagOf(dags, run.dagId);
  const taskIds = dag.spec.tasks.map((t) => t.taskId);
  const tis = await store.listTaskInstances(run);
  const states = await store.getTaskStates(run, taskIds);
  const instances = [];
  for (const ti of tis) {
    const logs: string[][] = [];
    for (let n = 1; n <= ti.tryNumber; n++) logs.push((await store.getLog(ti, n)).map((l) => `${l.level}: ${l.message}`));
    const xcom = await store.getXCom(run, ti.taskId, ti.mapIndex, 'return_value');
    instances.push({
      taskId: ti.taskId,
      mapIndex: ti.mapIndex,
      state: ti.state,
      tryNumber: ti.tryNumber,
      maxTries: ti.maxTries,
      // Stacks name the process's code paths, not the run's outcome.
      error: ti.error && withoutStacks(ti.error),
      externalId: ti.externalId,
      pokeCount: ti.pokeCount,
      resume: ti.resume,
      hasStart: ti.startDate !== null,
      hasEnd: ti.endDate !== null,
      nextAt: ti.nextAt,
      returnValue: xcom ? xcom.value : '<none>',
      logs,
    });
  }
  const kids = await childRuns(store, dags, run);
  return {
    run: { dagId: run.dagId, state: run.state, runType: run.runType, conf: run.conf, params: run.params, pending: run.pending, parent: run.parent, pipelineScope: run.pipelineScope, note: run.note, ended: run.endDate !== null },
    instances,
    taskStates: states.map((s, i) => ({ taskId: taskIds[i], state: s ?? null })),
    pipeline: run.pipelineScope === pipelineScopeOf(run) ? await store.listPipelineSaves(run.pipelineScope) : null,
    triggeredRuns: await Promise.all(kids.map((k) => snapshotTree(store, dags, k))),
  };
}
