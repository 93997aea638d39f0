// max_consecutive_failed_dag_runs (Airflow 2.9): when a run of a DAG fails and the DAG's latest N runs
// (by when they were queued, whatever their type) all failed, the DAG is paused, with the reason kept on
// its record (the API's `paused_reason`, a tag in the UI). Unpausing clears the reason.

import type { Dag } from '../authoring/dag.ts';
import { iso } from '../model/time.ts';
import type { DagRunRecord } from '../store/records.ts';
import type { Step } from './step.ts';

/** The reason an auto-paused DAG's record carries. */
export function autoPauseReason(n: number): string {
  return `auto-paused after ${n} consecutive failed run${n === 1 ? '' : 's'}`;
}

/**
 * After `run` ended: pause its DAG when its latest `maxConsecutiveFailedDagRuns` runs all failed. Idempotent,
 * and a replay of an old end does not pause again a DAG whose record changed after that end.
 */
export async function pauseIfFailingInARow(s: Step, dag: Dag, run: DagRunRecord): Promise<void> {
  const n = dag.spec.maxConsecutiveFailedDagRuns ?? 0;
  if (n <= 0 || run.state !== 'failed') return;
  const runs = await s.store.listRuns({ dagId: dag.dagId });
  if (runs.length < n) return;
  const latest = runs.sort((a, b) => b.queuedAt.localeCompare(a.queuedAt) || b.runId.localeCompare(a.runId)).slice(0, n);
  if (!latest.every((r) => r.state === 'failed')) return;
  const rec = await s.store.getDagRecord(dag.dagId);
  if (rec?.paused) return;
  // A replay of the run's end after the DAG record changed (e.g. a user unpaused it since) changes nothing.
  if (rec && run.endDate !== null && rec.updatedAt > run.endDate) return;
  await s.store.setDagPaused(dag.dagId, true, iso(s.now()), autoPauseReason(n));
}
