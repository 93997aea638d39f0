/** DAG run states (Airflow's). */
export const RUN_STATES = ['queued', 'running', 'success', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];

/** Task instance states (Airflow's). A task with no instance yet has no state ("none"). */
export const TI_STATES = [
  'scheduled',
  'queued',
  'running',
  'success',
  'failed',
  'skipped',
  'upstream_failed',
  'up_for_retry',
  'deferred',
  'removed',
] as const;
export type TiState = (typeof TI_STATES)[number];

/** States after which a task instance will not change again (unless cleared). */
export const TERMINAL_TI_STATES = ['success', 'failed', 'skipped', 'upstream_failed', 'removed'] as const;
export type TerminalTiState = (typeof TERMINAL_TI_STATES)[number];

export function isTerminalTiState(s: string): s is TerminalTiState {
  return s === 'success' || s === 'failed' || s === 'skipped' || s === 'upstream_failed' || s === 'removed';
}

export function isTerminalRunState(s: RunState): boolean {
  return s === 'success' || s === 'failed';
}

/** Airflow 3's trigger rules. */
export const TRIGGER_RULES = [
  'all_success',
  'all_failed',
  'all_done',
  'all_done_min_one_success',
  'one_success',
  'one_failed',
  'one_done',
  'none_failed',
  'none_failed_min_one_success',
  'none_skipped',
  'all_skipped',
  'always',
  /** A teardown's rule (Airflow 2.7): every upstream done, and at least one direct upstream setup succeeded. */
  'all_done_setup_success',
] as const;
export type TriggerRule = (typeof TRIGGER_RULES)[number];
