import type { Duration } from '../model/duration.ts';
import type { TriggerRule } from '../model/states.ts';
import type { TaskCallbackOption } from './callback-list.ts';

/** Options every task accepts; a DAG's or a task group's `defaultArgs` set them for many tasks at once. */
export interface TaskOptions {
  /**
   * Tries after the first.
   * @default 0
   */
  retries?: number;
  /**
   * Wait before a retry (Airflow's 300 s).
   * @default '5m'
   */
  retryDelay?: Duration;
  /**
   * Double the wait on every retry, with Airflow's deterministic jitter.
   * @default false
   */
  retryExponentialBackoff?: boolean;
  /**
   * Cap on the wait between tries.
   * @default none (Airflow's hard cap of 24 h applies)
   */
  maxRetryDelay?: Duration;
  /**
   * Fail the try (and fire its AbortSignal) after this long.
   * @default none
   */
  executionTimeout?: Duration;
  /**
   * When the task runs, given its direct upstreams' states.
   * @default 'all_success'
   */
  triggerRule?: TriggerRule;
  /**
   * Pool whose slots the task takes while it runs.
   * @default 'default_pool' (128 slots)
   */
  pool?: string;
  /**
   * Slots taken in the pool.
   * @default 1
   */
  poolSlots?: number;
  /**
   * Instances of this task running at once across all runs of the DAG.
   * @default no limit
   */
  maxActiveTisPerDag?: number;
  /**
   * Called when a try fails for good (no retry left): a function, a notifier (snsNotifier, webhookNotifier, sesNotifier), or a list of them.
   * @default none
   */
  onFailure?: TaskCallbackOption;
  /**
   * Called when a try fails and the task will be retried: a function, a notifier (snsNotifier, webhookNotifier, sesNotifier), or a list of them.
   * @default none
   */
  onRetry?: TaskCallbackOption;
  /**
   * Called when the task succeeds: a function, a notifier (snsNotifier, webhookNotifier, sesNotifier), or a list of them.
   * @default none
   */
  onSuccess?: TaskCallbackOption;
  /**
   * Markdown shown with the task.
   * @default none
   */
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
