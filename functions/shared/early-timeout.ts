import { TaskTimeoutError } from '../../lib/errors.ts';

/** Milliseconds before the Lambda timeout at which a try's AbortSignal fires. Default 10,000. */
export const TIMEOUT_MARGIN_ENV = 'AIRLESS_TIMEOUT_MARGIN_MS';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

/**
 * middy's early timeout for the functions that run task code: middy aborts its `signal`
 * `marginMs` before the Lambda timeout. The try gets a signal that aborts with a TaskTimeoutError, and
 * then up to `marginMs - 2 s` to end on its own (the runner stores the failed try and its log, and
 * returns the failure); a try that ignores its signal is answered with the TaskTimeoutError itself,
 * which the lifecycle's Catch turns into a failed try.
 */
export function earlyTimeout(marginMs = Number(process.env[TIMEOUT_MARGIN_ENV] ?? 10_000)) {
  let inflight: Promise<unknown> | null = null;
  const graceMs = Math.max(0, marginMs - 2_000);
  const error = () => new TaskTimeoutError(`the function reached its timeout (less than ${marginMs} ms left): the try was stopped`);
  return {
    /** The plugin options of `middy(handler, options)`. */
    options: {
      timeoutEarlyInMillis: marginMs,
      timeoutEarlyResponse: (): unknown => {
        const running = inflight;
        if (running === null) throw error();
        return Promise.race([
          running,
          sleep(graceMs).then(() => {
            throw error();
          }),
        ]);
      },
    },
    /** Run `fn` with a signal that aborts (with a TaskTimeoutError) when middy's does. */
    run<T>(signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
      const ac = new AbortController();
      const abort = () => ac.abort(error());
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
      const p = fn(ac.signal).finally(() => {
        signal.removeEventListener('abort', abort);
        if (inflight === p) inflight = null;
      });
      inflight = p;
      return p;
    },
  };
}
