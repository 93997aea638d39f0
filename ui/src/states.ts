/**
 * Task-instance and run states, coloured as Airflow colours them (airflow.settings.STATE_COLORS), and the
 * rules the pages share: which states are live (worth refreshing for), and which state summarises a set of
 * mapped instances.
 */
export const STATE_COLORS: Readonly<Record<string, string>> = {
  success: 'green',
  failed: 'red',
  running: 'lime',
  queued: 'gray',
  scheduled: 'tan',
  up_for_retry: 'gold',
  up_for_reschedule: 'turquoise',
  upstream_failed: 'orange',
  skipped: 'hotpink',
  deferred: 'mediumpurple',
  removed: 'lightgrey',
  restarting: 'violet',
};

/** The colour of a state; null (no instance yet) is white with an outline. */
export function stateColor(state: string | null | undefined): string {
  return (state === null || state === undefined ? undefined : STATE_COLORS[state]) ?? 'var(--surface, white)';
}

const LIVE = new Set(['queued', 'running', 'scheduled', 'up_for_retry', 'up_for_reschedule', 'deferred', 'restarting']);

/** True while something is still to happen for this run or instance. */
export function isLive(state: string | null | undefined): boolean {
  return state !== null && state !== undefined && LIVE.has(state);
}

/** The ~2 s refresh while anything shown is live, none otherwise. */
export const LIVE_REFRESH_MS = 2000;

/** Order in which a state wins the summary of a mapped task (the most telling first, as Airflow's grid). */
const PRIORITY = [
  'failed',
  'upstream_failed',
  'up_for_retry',
  'up_for_reschedule',
  'queued',
  'scheduled',
  'deferred',
  'running',
  'restarting',
  'removed',
  'skipped',
  'success',
];

/** The state shown for a group of instances (a mapped task's indexes). */
export function summaryState(states: readonly (string | null)[]): string | null {
  let best: string | null = null;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const s of states) {
    if (s === null) continue;
    const rank = PRIORITY.indexOf(s);
    const r = rank === -1 ? PRIORITY.length : rank;
    if (r < bestRank) {
      best = s;
      bestRank = r;
    }
  }
  return best;
}
