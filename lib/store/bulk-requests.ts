import { sameRun, type RunRef, type TiKey } from './records.ts';

/**
 * The one task a bulk request (`finishTaskInstances`, `resetTaskInstances`) is about, checked: at least
 * one request, every request of the same run (DAG and run id) and task, and none that `refuse` names a reason for. With
 * `sameDownstream`, every request must also list the same downstream tasks (a store that aggregates the
 * downstream tallies per chunk needs it). Throws an Error naming `what` otherwise.
 */
export function oneTaskOf<R extends { key: TiKey; downstream: readonly string[] }>(
  what: string,
  reqs: readonly R[],
  options: { refuse?: (r: R) => string | null; sameDownstream?: boolean } = {},
): { run: RunRef; taskId: string; first: R } {
  const first = reqs[0];
  if (!first) throw new Error(`${what}: no requests`);
  const { dagId, runId, taskId } = first.key;
  const run = { dagId, runId };
  const downstream = first.downstream;
  for (const r of reqs) {
    if (!sameRun(r.key, run) || r.key.taskId !== taskId) {
      throw new Error(`${what}: every request must be of task '${taskId}' of run '${runId}' of DAG '${dagId}', got ${r.key.taskId}[${r.key.mapIndex}] of run '${r.key.runId}' of DAG '${r.key.dagId}'`);
    }
    const refused = options.refuse?.(r) ?? null;
    if (refused !== null) throw new Error(`${what}: ${refused}`);
    if (options.sameDownstream && r.downstream !== downstream && (r.downstream.length !== downstream.length || r.downstream.some((d, i) => d !== downstream[i]))) {
      throw new Error(`${what}: every request of task '${taskId}' must have the same downstream tasks`);
    }
  }
  return { run, taskId, first };
}
