/**
 * The harness's clock: real time plus an offset that jumps forward whenever nothing is in flight (time
 * skipping, as `FakeClock` does for the LocalRunner and Temporal's test environment does for workflows).
 *
 * Work in flight holds the clock (`hold()` / `track()`): a running execution, a handler call, a job's
 * child process. Something that waits for a time calls `sleepUntil(at)`: it wakes when real time gets
 * there, or earlier when every holder has let go, in which case the clock jumps to the earliest sleeper's
 * time. So a retry delay of five minutes costs milliseconds, yet every handler sees the time move as it
 * would have: a try after a retry delay starts after `nextAt`, a job that runs for an hour ends an hour
 * after it started, and two waits end in the order of their times.
 */
export class SkippingClock {
  private offset = 0;
  private holders = 0;
  private seq = 0;
  private readonly sleepers = new Set<Sleeper>();
  private readonly idleWaiters: (() => void)[] = [];
  private checkScheduled = false;

  /** Milliseconds since the epoch, in the harness's time. */
  now(): number {
    return Date.now() + this.offset;
  }

  /** How far the clock has jumped ahead of real time, ms. */
  get skippedMs(): number {
    return this.offset;
  }

  /** Work in flight right now (holders). */
  get inFlight(): number {
    return this.holders;
  }

  /** Hold the clock until the returned function is called (calling it again does nothing). */
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

  /** Run `fn` holding the clock. */
  async track<T>(fn: () => Promise<T>): Promise<T> {
    const release = this.hold();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Resolve at `at` (harness time). `holding`: the caller holds the clock (it runs inside an execution);
   * it lets go while it sleeps and holds again when it wakes, before anything else can run. `signal`:
   * resolve when it aborts instead, the sleeper removed (the clock no longer skips to its time).
   */
  sleepUntil(at: number, holding = false, signal?: AbortSignal): Promise<void> {
    if (at <= this.now() || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const s: Sleeper = {
        at,
        seq: this.seq++,
        timer: undefined,
        wake: () => {
          if (!this.sleepers.delete(s)) return;
          clearTimeout(s.timer);
          if (holding) this.holders++;
          resolve();
        },
      };
      // Real time may get there first (setTimeout takes at most about 24.8 days; beyond, only skipping does).
      const ms = Math.max(0, at - this.now());
      if (ms <= MAX_TIMEOUT_MS) s.timer = setTimeout(() => s.wake(), ms);
      this.sleepers.add(s);
      if (holding) this.holders--;
      // Aborted: gone without waking (it was never due), holding again as a woken sleeper would.
      signal?.addEventListener(
        'abort',
        () => {
          if (!this.sleepers.delete(s)) return;
          clearTimeout(s.timer);
          if (holding) this.holders++;
          this.scheduleCheck();
          resolve();
        },
        { once: true },
      );
      this.scheduleCheck();
    });
  }

  /** Resolves when nothing holds the clock and nothing sleeps: every execution has ended. */
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
      if (this.holders > 0) return;
      if (this.sleepers.size > 0) {
        let first: Sleeper | undefined;
        for (const s of this.sleepers) if (!first || s.at < first.at || (s.at === first.at && s.seq < first.seq)) first = s;
        const now = this.now();
        if (first!.at > now) this.offset += first!.at - now;
        const due = [...this.sleepers].filter((s) => s.at <= this.now()).sort((a, b) => a.at - b.at || a.seq - b.seq);
        for (const s of due) s.wake();
        // Sleepers that did not hold the clock (a job's end) leave nothing in flight: look again.
        this.scheduleCheck();
        return;
      }
      for (const w of this.idleWaiters.splice(0)) w();
    });
  }
}

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

interface Sleeper {
  at: number;
  seq: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  wake(): void;
}
