/**
 * e2e_retry: a task that fails every try, retried with exponential backoff until it runs out of tries
 * (3 retries: 4 tries), and a downstream that never runs (upstream_failed).
 */
import { dag } from 'airless';

/** The retry policy of `always_fails`. */
export const E2E_RETRY_POLICY = { retries: 3, retryDelay: '10s', retryExponentialBackoff: true, maxRetryDelay: '2m' } as const;

export const e2eRetry = dag({ dagId: 'e2e_retry', description: 'A task that fails every try, retried with backoff, then failed' }, ({ task }) => {
  const failing = task(
    'always_fails',
    (ctx) => {
      ctx.log.info(`try ${ctx.tryNumber} of ${ctx.maxTries}: calling the source`);
      throw new Error('the source is unavailable');
    },
    E2E_RETRY_POLICY,
  );
  task('after', () => 'never runs').after(failing);
});
