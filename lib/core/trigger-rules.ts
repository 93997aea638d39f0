import type { TriggerRule } from '../model/states.ts';

/**
 * Tally of a task's direct upstream task instances, kept per (run, task) and updated as each upstream
 * instance reaches a terminal state. Mapped upstreams count one per map index.
 */
export interface UpstreamCounts {
  success: number;
  failed: number;
  skipped: number;
  upstream_failed: number;
  removed: number;
  /** Upstream task instances expected in all (only final once every upstream task's size is known). */
  total: number;
  /** Upstream tasks whose number of instances is not known yet (mapped tasks not yet expanded). */
  unknownTasks: number;
  /**
   * For `all_done_setup_success`: the instances of the direct upstream setup tasks that ended, by state
   * (Airflow's upstream_setup / success_setup / skipped_setup). Absent: no upstream setup.
   */
  setups?: SetupCounts | undefined;
}

/** The ended instances of a teardown's direct upstream setup tasks. */
export interface SetupCounts {
  /** Instances ended (once every upstream is done, all of the setups' instances). */
  done: number;
  success: number;
  skipped: number;
}

export function emptyCounts(): UpstreamCounts {
  return { success: 0, failed: 0, skipped: 0, upstream_failed: 0, removed: 0, total: 0, unknownTasks: 0 };
}

/** What a trigger rule says now: run, wait for more upstreams, or end in a state without running. */
export type RuleVerdict = 'run' | 'wait' | 'skipped' | 'upstream_failed';

/**
 * Airflow's trigger-rule evaluation (its TriggerRuleDep with flag_upstream_failed), as a pure function of
 * the upstream tally. A task with no upstream always runs.
 */
export function evaluateTriggerRule(rule: TriggerRule, c: UpstreamCounts, upstreamTasks: number): RuleVerdict {
  if (upstreamTasks === 0 || rule === 'always') return 'run';
  const { success, failed, skipped, upstream_failed: upstreamFailed, removed } = c;
  // Tasks not yet expanded will produce at least one instance each, none of them done.
  const upstream = c.total + c.unknownTasks;
  const done = success + failed + skipped + upstreamFailed + removed;
  const upstreamDone = c.unknownTasks === 0 && done >= upstream;

  // First: the states a rule settles on without running (Airflow's flag_upstream_failed branch).
  switch (rule) {
    case 'all_success':
      if (upstreamFailed || failed) return 'upstream_failed';
      if (skipped) return 'skipped';
      break;
    case 'all_failed':
      if (success || skipped) return 'skipped';
      break;
    case 'one_success':
      if (upstreamDone && done === skipped) return 'skipped';
      if (upstreamDone && success <= 0) return 'upstream_failed';
      break;
    case 'one_failed':
      if (upstreamDone && !(failed || upstreamFailed)) return 'skipped';
      break;
    case 'one_done':
      if (upstreamDone && !(failed || success)) return 'skipped';
      break;
    case 'none_failed':
      if (upstreamFailed || failed) return 'upstream_failed';
      break;
    case 'none_failed_min_one_success':
      if (upstreamFailed || failed) return 'upstream_failed';
      if (c.unknownTasks === 0 && skipped === upstream) return 'skipped';
      break;
    case 'none_skipped':
      if (skipped) return 'skipped';
      break;
    case 'all_skipped':
      if (success || failed || upstreamFailed) return 'skipped';
      break;
    case 'all_done_min_one_success': {
      // Skipped upstreams are not "done" for this rule.
      if (skipped > 0) return 'skipped';
      if (upstreamDone && success === 0) return 'upstream_failed';
      break;
    }
    case 'all_done':
      break;
    case 'all_done_setup_success': {
      const st = c.setups;
      if (upstreamDone && st && st.done > 0 && st.skipped >= st.done) return 'skipped';
      if (upstreamDone && st && st.done > 0 && st.success === 0) return 'upstream_failed';
      break;
    }
  }

  // Then: whether the rule is met.
  let met: boolean;
  switch (rule) {
    case 'one_success':
      met = success > 0;
      break;
    case 'one_failed':
      met = failed > 0 || upstreamFailed > 0;
      break;
    case 'one_done':
      met = success + failed > 0;
      break;
    case 'all_success':
      met = upstreamDone && upstream - success - removed <= 0;
      break;
    case 'all_failed':
      met = upstreamDone && upstream - failed - upstreamFailed - removed <= 0;
      break;
    case 'all_done':
      met = upstreamDone;
      break;
    case 'all_done_setup_success':
      met = upstreamDone && (!c.setups || c.setups.done === 0 || c.setups.success > 0);
      break;
    case 'none_failed':
    case 'none_failed_min_one_success':
      met = upstreamDone && upstream - success - skipped - removed <= 0;
      break;
    case 'none_skipped':
      met = upstreamDone && skipped === 0;
      break;
    case 'all_skipped':
      met = upstreamDone && upstream - skipped <= 0;
      break;
    case 'all_done_min_one_success':
      met = upstreamDone && skipped === 0 && success > 0;
      break;
  }
  return met ? 'run' : 'wait';
}
