/**
 * The operations behind Airflow's "clear" (rerun task instances), "delete DAG" and "backfill": what a
 * CLI, a REST API or a web UI calls. They read the store, plan, then change it through the store's
 * conditional methods and let the scheduler carry the runs on, so they are safe while the scheduler
 * works (each instance is reset exactly once; a run ends once everything is done again).
 *
 * Clearing (Airflow 3's `clear_task_instances`):
 * - A cleared instance loses its state and runs again; its try number keeps counting (the next try is
 *   n + 1) and its retries apply again (`maxTries` becomes n + retries + 1: Airflow's
 *   `max_tries = try_number + retries`). Its XComs and item results are deleted (a rerun starts from
 *   nothing); the logs of its earlier tries stay.
 * - Undoing a finish: the instance's state is taken back out of its task's own tally, each downstream
 *   task's upstream tally and the run's pending count (`StateStore.resetTaskInstances`), so trigger rules
 *   see exactly the upstreams that are done, never one twice.
 * - A task that is not mapped (or was settled without expanding) goes back to undecided, its instance
 *   removed ("no state"): the scheduler decides it again from its trigger rule as soon as its upstreams
 *   are done, at once for the topmost cleared tasks and, for a task with a cleared upstream, when that
 *   upstream has finished again, as in a fresh run. A task a branch or short-circuit skipped is skipped
 *   again unless that upstream is cleared too (Airflow's NotPreviouslySkippedDep).
 * - Map indexes of a mapped task whose upstreams are not cleared go back to `scheduled` and run alone.
 *   An array task's come back as a new wave of their group; its try number continues from the group's
 *   highest (wave job names are per group and try, and must not repeat), which may skip numbers.
 * - A mapped task with a cleared upstream expands again (Airflow re-expands when the upstream that gives
 *   its list reruns): all its instances are removed, the expansion is withdrawn from the downstream
 *   tallies and the run's pending count (`StateStore.withdrawExpansion`), and the task is decided anew
 *   when the upstream finishes, with as many instances as the new list has; their tries continue from
 *   the highest of the old instances'.
 * - Instances that have not finished (queued, running, deferred, up for retry) are left as they are,
 *   and reported: airless cannot stop a running try the way Airflow's `restarting` does.
 * - A finished run goes back to queued (end date cleared) and starts when its maxActiveRuns allows; it
 *   ends again when everything is done. A running run goes on.
 *
 * Backfills (Airflow 3's `airflow backfill create`): runs of type `backfill` for the schedule's logical
 * dates in [from, to] that are past; an existing run for a date is skipped (`none`), cleared when it
 * failed (`failed`) or when it finished in any state (`completed`), and always skipped while queued or
 * running. The backfill's maxActiveRuns (default 10) limits its runs, independently of the DAG's
 * maxActiveRuns (Airflow counts a backfill's runs apart from the DAG's other runs). There can be one
 * running backfill per DAG. Its runs do not start while the DAG is paused (Airflow's scheduler leaves
 * the queued runs of a paused DAG alone); unpausing with {@link setDagPaused} starts them.
 */
export { OperationError } from './operation-error.ts';
export { clearTaskInstances, type ClearedInstance, type ClearOptions, type ClearResult, type SkippedInstance } from './clear.ts';
export { deleteDag, setDagPaused, type DeleteDagOptions, type DeleteDagResult } from './dag-ops.ts';
export { createBackfill, listBackfillRuns, listBackfills, MAX_BACKFILL_DATES, type BackfillDate, type BackfillOptions, type BackfillResult } from './backfill.ts';
export { markRunState, markTaskInstances, RUN_MARK_STATES, setRunNote, setTaskInstanceNote, TI_MARK_STATES, type MarkedInstance, type MarkRunOptions, type MarkRunResult, type MarkTaskInstancesOptions, type MarkTaskInstancesResult, type RunMarkState, type TiMarkState } from './mark.ts';
