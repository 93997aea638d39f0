/**
 * A scaled real clock: job time runs `scale` times faster than real time. With scale 60 a 30-second job
 * takes half a second of real time, a one-minute retry delay one second, a `.sync` poll every 30 s of
 * job time one every 0.5 s of real time. Unlike the {@link SkippingClock} it never jumps: the time that
 * orchestration code itself takes counts too (multiplied by the scale), which is what a benchmark of
 * the wall time wants.
 *
 * Job time is `origin + (realNow - origin) * scale`: it equals real time at `origin` (epoch ms) and
 * then runs faster. Two processes built with the same `origin` and `scale` agree on the time (the
 * benchmark's orchestrating process and the one that serves the local Batch API).
 *
 * It also counts holders and sleepers, as the skipping clock does, so that `idle()` can say when every
 * execution has ended and nothing waits (the harness's `settle()`).
 */
import type { SettlingClock } from './harness-clock.ts';

/** Real time in epoch milliseconds, with sub-millisecond precision. */
export function realNowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface ScaledClockOptions {
  /** Job time per unit of real time (60: a minute of job time per real second). At least 1. */
  scale: number;
  /** Epoch ms (real) at which job time equals real time. Default: now. */
  origin?: number;
}

export class ScaledClock implements SettlingClock {
  readonly scale: number;
  readonly origin: number;
  private holders = 0;
  /** The times sleepers wait for (job time), one entry per sleeper. */
  private readonly sleeping = new Set<{ at: number }>();
  private readonly idleWaiters: (() => void)[] = [];
  private checkScheduled = false;

  constructor(o: ScaledClockOptions) {
    if (!Number.isFinite(o.scale) || o.scale < 1) throw new RangeError(`scale must be a number >= 1, got ${o.scale}`);
    this.scale = o.scale;
    this.origin = o.origin ?? realNowMs();
  }

  /** Milliseconds since the epoch, in job time (fractional). */
  now(): number {
    return this.origin + (realNowMs() - this.origin) * this.scale;
  }

  /** Real milliseconds that `jobMs` of job time take. */
  realMs(jobMs: number): number {
    return jobMs / this.scale;
  }

  /** Work in flight right now (holders). */
  get inFlight(): number {
    return this.holders;
  }

  hold(): () => void {
    this.holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders--;
      this.scheduleCheck();
    };
  }

  async track<T>(fn: () => Promise<T>): Promise<T> {
    const release = this.hold();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Resolve once job time has reached `at` (never earlier: a timer that fires a fraction of a
   * millisecond early is re-armed). `holding`: the caller holds the clock and lets go while it sleeps.
   */
  sleepUntil(at: number, holding = false, signal?: AbortSignal): Promise<void> {
    if (at <= this.now() || signal?.aborted) return Promise.resolve();
    if (holding) this.holders--;
    const sleeper = { at };
    this.sleeping.add(sleeper);
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      signal?.addEventListener(
        'abort',
        () => {
          if (!this.sleeping.delete(sleeper)) return;
          clearTimeout(timer);
          if (holding) this.holders++;
          else this.scheduleCheck();
          resolve();
        },
        { once: true },
      );
      const arm = () => {
        if (!this.sleeping.has(sleeper)) return;
        const left = at - this.now();
        if (left > 0) {
          timer = setTimeout(arm, Math.min(MAX_TIMEOUT_MS, Math.max(1, Math.ceil(left / this.scale))));
          return;
        }
        this.sleeping.delete(sleeper);
        if (holding) this.holders++;
        else this.scheduleCheck();
        resolve();
      };
      arm();
    });
  }

  /** What sleeps on the clock now: how many sleepers, and the earliest and latest time they wait for. */
  sleepers(): { count: number; first: number | null; last: number | null } {
    let first: number | null = null;
    let last: number | null = null;
    for (const { at } of this.sleeping) {
      if (first === null || at < first) first = at;
      if (last === null || at > last) last = at;
    }
    return { count: this.sleeping.size, first, last };
  }

  /**
   * Resolves when nothing holds the clock and nothing sleeps on it. Unlike the skipping clock's, a sleep
   * far ahead (a timer hours away in job time) is waited for at the scaled rate.
   */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.scheduleCheck();
    });
  }

  private scheduleCheck(): void {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      if (this.holders > 0 || this.sleeping.size > 0) return;
      for (const w of this.idleWaiters.splice(0)) w();
    });
  }
}

const MAX_TIMEOUT_MS = 2 ** 31 - 1;
