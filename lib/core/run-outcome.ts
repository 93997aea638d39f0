import type { RunState } from '../model/states.ts';

/** Tally of one leaf task's instances (a mapped leaf has many). */
export interface LeafTally {
  failed: number;
  upstream_failed: number;
}

/**
 * Airflow's rule on leaf tasks, once every task instance of the run has finished: the run failed if
 * any leaf instance failed or is upstream_failed; otherwise it succeeded.
 */
export function runOutcome(leaves: readonly LeafTally[]): Extract<RunState, 'success' | 'failed'> {
  return leaves.some((l) => l.failed > 0 || l.upstream_failed > 0) ? 'failed' : 'success';
}
