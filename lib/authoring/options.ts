import type { Duration } from '../model/duration.ts';
import type { TriggerRule } from '../model/states.ts';
import type { TaskCallback } from './context.ts';

/** Options every task accepts; a DAG's or a task group's `defaultArgs` set them for many tasks at once. */
export interface TaskOptions {
  /** Tries after the first. Default 0. */
  retries?: number;
  /** Wait before a retry. Default '5m' (Airflow's 300 s). */
  retryDelay?: Duration;
  /** Double the wait on every retry, with Airflow's deterministic jitter. Default false. */
  retryExponentialBackoff?: boolean;
  /** Cap on the wait between tries. Default: none (24 h hard cap). */
  maxRetryDelay?: Duration;
  /** Fail the try (and fire its AbortSignal) after this long. Default: none. */
  executionTimeout?: Duration;
  /** When the task runs, given its direct upstreams' states. Default 'all_success'. */
  triggerRule?: TriggerRule;
  /** Pool whose slots the task takes while it runs. Default 'default_pool' (128 slots). */
  pool?: string;
  /** Slots taken in the pool. Default 1. */
  poolSlots?: number;
  /** Instances of this task running at once across all runs of the DAG. Default: no limit. */
  maxActiveTisPerDag?: number;
  onFailure?: TaskCallback;
  onRetry?: TaskCallback;
  onSuccess?: TaskCallback;
  /** Markdown shown with the task. */
  doc?: string;
}

export const TASK_OPTION_KEYS = [
  'retries',
  'retryDelay',
  'retryExponentialBackoff',
  'maxRetryDelay',
  'executionTimeout',
  'triggerRule',
  'pool',
  'poolSlots',
  'maxActiveTisPerDag',
  'onFailure',
  'onRetry',
  'onSuccess',
  'doc',
] as const satisfies readonly (keyof TaskOptions)[];

export const DEFAULT_POOL = 'default_pool';
export const DEFAULT_POOL_SLOTS = 128;
export const DEFAULT_RETRY_DELAY_MS = 300_000;
