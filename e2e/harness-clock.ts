/** What the harness's parts need of a clock: the {@link SkippingClock}, or real time. */
export interface HarnessClock {
  now(): number;
  /**
   * Resolve at `at`; `holding`: the caller holds the clock and lets go while it sleeps. `signal`: resolve
   * as soon as it aborts instead, the sleeper gone (so the clock does not skip to its time).
   */
  sleepUntil(at: number, holding?: boolean, signal?: AbortSignal): Promise<void>;
  /** Hold the clock while work is in flight; call the returned function when it is done. */
  hold(): () => void;
  /** Run `fn` holding the clock. */
  track<T>(fn: () => Promise<T>): Promise<T>;
}

/** A harness clock that can also say when nothing is in flight: what the harness's `settle()` waits for. */
export interface SettlingClock extends HarnessClock {
  /** Resolves when nothing holds the clock and nothing sleeps on it: every execution has ended. */
  idle(): Promise<void>;
}

/** Real time: waits are real waits. */
export const REAL_TIME: HarnessClock = {
  now: () => Date.now(),
  sleepUntil: (at, _holding, signal) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, at - Date.now()));
      signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    }),
  hold: () => () => undefined,
  track: (fn) => fn(),
};
