/**
 * Retrying a state-store call that failed for a transient reason (a lock held by another process,
 * throttling, a dropped connection): with full-jitter exponential backoff on timers, never a blocking
 * wait. Only errors that say they are retryable are retried; every other error is thrown at once.
 */

export interface RetryOptions {
  /** Attempts in all, the first included. Default 6. */
  attempts?: number;
  /** Backoff base (ms): attempt k waits a random time up to `baseMs * 2^(k-1)`, capped. Default 20. */
  baseMs?: number;
  /** Longest single wait (ms). Default 1000. */
  maxMs?: number;
  /** Waits `ms` (default: a timer). Tests give a fake clock's sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** Random number in [0, 1) for the jitter. Default Math.random. */
  random?: () => number;
}

/** True for an error that says a later attempt may succeed (`retryable: true`, or a StoreUnavailableError not marked `retryable: false`). */
export function isTransientStoreError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as { retryable?: unknown; name?: unknown; $retryable?: unknown };
  if (err.retryable === false) return false;
  return err.retryable === true || err.name === 'StoreUnavailableError' || (typeof err.$retryable === 'object' && err.$retryable !== null);
}

const timerSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Call `fn`, again after a backoff while it fails with a transient error, up to `attempts` times in all. */
export async function retryTransient<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 6;
  const baseMs = options.baseMs ?? 20;
  const maxMs = options.maxMs ?? 1000;
  const sleep = options.sleep ?? timerSleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= attempts || !isTransientStoreError(e)) throw e;
      const hinted = (e as { retryAfterMs?: unknown }).retryAfterMs;
      const cap = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
      await sleep(typeof hinted === 'number' && hinted > 0 ? Math.min(hinted, maxMs) : Math.floor(random() * cap));
    }
  }
}
