import { createHash } from 'node:crypto';

/** Airflow's hard cap on a retry delay: 24 hours. */
export const MAX_RETRY_DELAY_MS = 86_400_000;

export interface RetryPolicy {
  retries: number;
  retryDelayMs: number;
  retryExponentialBackoff: boolean;
  maxRetryDelayMs: number | null;
}

/**
 * The wait before the next try after try `tryNumber` failed, as Airflow computes it: a fixed
 * `retryDelay`, or with exponential backoff `retryDelay * 2^(tryNumber-1)` (at least 1 s) plus a
 * deterministic jitter in [0, that) derived from the task instance's identity, capped by maxRetryDelay
 * and by 24 h.
 */
export function retryDelayMs(policy: RetryPolicy, tryNumber: number, identity: string): number {
  let delay = policy.retryDelayMs;
  if (policy.retryExponentialBackoff) {
    const minBackoffS = Math.max(1, Math.ceil((policy.retryDelayMs / 1000) * 2 ** (tryNumber - 1)));
    if (!Number.isFinite(minBackoffS)) {
      delay = MAX_RETRY_DELAY_MS;
    } else {
      const hash = BigInt(`0x${createHash('sha1').update(`${identity}#${tryNumber}`).digest('hex')}`);
      const jitterS = Number(hash % BigInt(minBackoffS));
      delay = Math.min((minBackoffS + jitterS) * 1000, MAX_RETRY_DELAY_MS);
    }
  }
  if (policy.maxRetryDelayMs !== null) delay = Math.min(delay, policy.maxRetryDelayMs);
  return delay;
}

/** What happens after a try failed. */
export type FailureDecision = { next: 'retry'; delayMs: number } | { next: 'fail' };

/** Retry while tries remain, unless the error says not to. `tryNumber` is the try that just failed. */
export function decideAfterFailure(policy: RetryPolicy, tryNumber: number, retriable: boolean, identity: string): FailureDecision {
  if (!retriable || tryNumber > policy.retries) return { next: 'fail' };
  return { next: 'retry', delayMs: retryDelayMs(policy, tryNumber, identity) };
}
