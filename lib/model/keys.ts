// Identities of runs and task instances: what every layer names them by.

/**
 * Identity of a run: run ids are unique per DAG (as in Airflow), so a run is named by both. Run and task
 * instance records are RunRefs themselves.
 */
export interface RunRef {
  dagId: string;
  runId: string;
}

/** The run's identity alone (a record passed as a RunRef carries all its fields). */
export function runRefOf(r: RunRef): RunRef {
  return { dagId: r.dagId, runId: r.runId };
}

/** Whether two refs name the same run. */
export function sameRun(a: RunRef, b: RunRef): boolean {
  return a.dagId === b.dagId && a.runId === b.runId;
}

/** One text per run, for maps and sets keyed by run (DAG ids never contain NUL). */
export function runKeyText(r: RunRef): string {
  return `${r.dagId}\u0000${r.runId}`;
}

/**
 * The pipeline-context scope a top-level run owns: `<dagId>/<runId>` (DAG ids have no `/`), unique across
 * DAGs. Runs it triggers share it.
 */
export function pipelineScopeOf(r: RunRef): string {
  return `${r.dagId}/${r.runId}`;
}

/** The task instance that triggered a run (and waits for it). */
export interface ParentRef extends RunRef {
  taskId: string;
  mapIndex: number;
  tryNumber: number;
}

/** Identity of a task instance. mapIndex is -1 for a task that is not mapped (as in Airflow). */
export interface TiKey extends RunRef {
  taskId: string;
  mapIndex: number;
}

/** The key fields alone (a record passed as a TiKey carries all its fields). */
export function tiKeyOf(k: TiKey): TiKey {
  return { dagId: k.dagId, runId: k.runId, taskId: k.taskId, mapIndex: k.mapIndex };
}

/** Whether two keys name the same task instance. */
export function sameTi(a: TiKey, b: TiKey): boolean {
  return a.dagId === b.dagId && a.runId === b.runId && a.taskId === b.taskId && a.mapIndex === b.mapIndex;
}
