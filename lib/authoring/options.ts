import type { Duration } from '../model/duration.ts';
import type { TriggerRule } from '../model/states.ts';
import type { Asset } from './assets.ts';
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
  /**
   * A setup task (Airflow's `as_setup()`): creates what its work tasks use; its teardowns run whenever it
   * succeeded. Same as `.asSetup()` on the handle.
   * @default false
   */
  setup?: boolean;
  /**
   * A teardown task (Airflow's `as_teardown()`): runs when every upstream is done and at least one of its
   * direct upstream setups succeeded (trigger rule `all_done_setup_success`, whatever `triggerRule` says),
   * and its failure does not fail the run. Draw the edge from its setups (`.asTeardown({ setups })` does).
   * @default false
   */
  teardown?: boolean;
  /**
   * For a teardown: its failure (or upstream_failed) fails the run, as any leaf's would.
   * @default false
   */
  onFailureFailDagrun?: boolean;
  /**
   * Run only when this task's instance in the DAG's previous run (by logical date) succeeded or was
   * skipped, or there is no previous run; until then the instance waits, undecided.
   * @default false
   */
  dependsOnPast?: boolean;
  /**
   * Also wait until the previous run's instances of this task's direct downstream tasks succeeded or were
   * skipped. Implies `dependsOnPast`.
   * @default false
   */
  waitForDownstream?: boolean;
  /**
   * With `dependsOnPast`: when no earlier run has an instance of this task (e.g. the task is new), run
   * without looking back.
   * @default false
   */
  ignoreFirstDependsOnPast?: boolean;
  /**
   * Assets this task updates: each success of the task records an event of each (with the extra the
   * task's code gave `ctx.outletEvents(asset).extra`), which starts the DAGs scheduled on them.
   * @default none
   */
  outlets?: readonly Asset[];
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
  'setup',
  'teardown',
  'onFailureFailDagrun',
  'dependsOnPast',
  'waitForDownstream',
  'ignoreFirstDependsOnPast',
  'outlets',
] as const satisfies readonly (keyof TaskOptions)[];

export const DEFAULT_POOL = 'default_pool';
export const DEFAULT_POOL_SLOTS = 128;
export const DEFAULT_RETRY_DELAY_MS = 300_000;
