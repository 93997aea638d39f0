// The simulated jobs of the batch scenarios, the same for the three systems: item i (batch_fanout's tile
// i, the TILE of its job's environment) runs for 5 to 30 s of job time (deterministic, from a hash of i),
// and 2% of the items (every 50th) fail their first run with exit code 1 and succeed on the retry.
import { createHash } from 'node:crypto';

export const MIN_JOB_MS = 5_000;
export const MAX_JOB_MS = 30_000;
/** One item in FAIL_EVERY fails once: 2%. */
export const FAIL_EVERY = 50;
/** The retry delay of every system: batch_fanout's `retryDelay: '1m'`. */
export const RETRY_DELAY_MS = 60_000;
/** Seconds between two polls of a job by the baselines (and by the `.sync` emulation). */
export const POLL_MS = 30_000;
/** Batch's SubmitJob rate limit the local Batch API enforces, per second of job time. */
export const SUBMIT_RATE_PER_S = 50;

/** How long item `item`'s job runs (each run the same), ms of job time: 5,000 to 30,000. */
export function jobDurationMs(item: number): number {
  const h = createHash('sha1').update(`tile-${item}`).digest().readUInt32BE(0);
  return MIN_JOB_MS + (h % (MAX_JOB_MS - MIN_JOB_MS + 1));
}

/** Whether item `item`'s first run fails (exit 1); its second succeeds. */
export function failsOnce(item: number): boolean {
  return item % FAIL_EVERY === FAIL_EVERY - 1;
}

/** The tile of a job's environment (batch_fanout's TILE, the baselines' too), or null. */
export function tileOf(environment: Record<string, string> | undefined): number | null {
  const t = environment?.['TILE'];
  if (t === undefined || !/^\d+$/.test(t)) return null;
  return Number(t);
}
