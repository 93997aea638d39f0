/** Time for the local runner: the real clock, or a fake one that skips ahead when nothing is running. */
export interface Clock {
  now(): number;
  /** Call `fn` at time `at`. Returns a cancel function. */
  setTimer(at: number, fn: () => void): () => void;
  /** Timers not yet fired. */
  readonly pendingTimers: number;
}

export class RealClock implements Clock {
  private count = 0;
  now(): number {
    return Date.now();
  }
  get pendingTimers(): number {
    return this.count;
  }
  setTimer(at: number, fn: () => void): () => void {
    this.count++;
    let done = false;
    // setTimeout caps at about 24.8 days; longer waits re-arm.
    const MAX = 2_000_000_000;
    let h: NodeJS.Timeout;
    const arm = () => {
      const delay = Math.max(0, at - Date.now());
      h = setTimeout(() => {
        if (at - Date.now() > 0 && delay >= MAX) return arm();
        done = true;
        this.count--;
        fn();
      }, Math.min(delay, MAX));
    };
    arm();
    return () => {
      if (done) return;
      done = true;
      this.count--;
      clearTimeout(h);
    };
  }
}

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A fake clock for tests (time-skipping, as in Temporal's test environment): time stands still while
 * work is in flight and jumps to the next timer when the runner is idle. Timers fire in time order.
 */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private heap: FakeTimer[] = [];
  private live = 0;
  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }
  now(): number {
    return this.t;
  }
  get pendingTimers(): number {
    return this.live;
  }
  setTimer(at: number, fn: () => void): () => void {
    const timer: FakeTimer = { at: Math.max(at, this.t), seq: this.seq++, fn, cancelled: false };
    this.push(timer);
    this.live++;
    return () => {
      if (!timer.cancelled) {
        timer.cancelled = true;
        this.live--;
      }
    };
  }
  /** Jump to the earliest timer and fire every timer due at that instant. False if none. */
  advanceToNext(): boolean {
    let top = this.pop();
    while (top && top.cancelled) top = this.pop();
    if (!top) return false;
    this.t = Math.max(this.t, top.at);
    const due = [top];
    while (this.heap.length && this.heap[0]!.at <= this.t) {
      const x = this.pop()!;
      if (!x.cancelled) due.push(x);
    }
    for (const d of due) {
      d.cancelled = true;
      this.live--;
      d.fn();
    }
    return true;
  }
  /** Move time forward by `ms`, firing timers due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    while (this.heap.length && this.heap[0]!.at <= end) this.advanceToNext();
    this.t = end;
  }

  private less(a: FakeTimer, b: FakeTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  private push(x: FakeTimer): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  private pop(): FakeTimer | undefined {
    const h = this.heap;
    if (!h.length) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** A clock the runner moves on to its next timer when nothing is in flight (FakeClock, SkippingClock). */
export interface SkipsAhead {
  /** Jump to the earliest timer and fire every timer due then. False if there is none. */
  advanceToNext(): boolean;
}

/** Whether a clock skips ahead when the runner is idle. */
export function skipsAhead(clock: Clock): clock is Clock & SkipsAhead {
  return typeof (clock as Partial<SkipsAhead>).advanceToNext === 'function';
}

/**
 * Real time that skips the waits (`airless dags test --skip-waits`): time passes as on the wall clock while
 * work is in flight (a task's own duration, its timeout), and when the runner is idle with only timers
 * pending (a retry delay, a sensor's poke interval, a deferred wait) it jumps to the next one. Its time is
 * the wall clock's plus the waits skipped so far.
 */
export class SkippingClock implements Clock, SkipsAhead {
  /** Milliseconds skipped so far. */
  private skipped = 0;
  private readonly timers = new Set<{ at: number; fn: () => void; handle: NodeJS.Timeout | null }>();

  now(): number {
    return Date.now() + this.skipped;
  }
  get pendingTimers(): number {
    return this.timers.size;
  }
  /** Milliseconds of waits skipped so far. */
  get skippedMs(): number {
    return this.skipped;
  }
  setTimer(at: number, fn: () => void): () => void {
    const timer = { at, fn, handle: null as NodeJS.Timeout | null };
    this.timers.add(timer);
    // It also fires on time when it comes due while work is in flight (setTimeout caps at about 24.8 days).
    const delay = at - this.now();
    if (delay < 2_000_000_000) timer.handle = setTimeout(() => this.fire(timer), Math.max(0, delay));
    return () => {
      if (timer.handle !== null) clearTimeout(timer.handle);
      this.timers.delete(timer);
    };
  }
  advanceToNext(): boolean {
    let next: { at: number } | null = null;
    for (const t of this.timers) if (next === null || t.at < next.at) next = t;
    if (next === null) return false;
    this.skipped += Math.max(0, next.at - this.now());
    const now = this.now();
    for (const t of [...this.timers].sort((a, b) => a.at - b.at)) if (t.at <= now) this.fire(t);
    return true;
  }
  private fire(timer: { fn: () => void; handle: NodeJS.Timeout | null }): void {
    if (!this.timers.delete(timer as never)) return;
    if (timer.handle !== null) clearTimeout(timer.handle);
    timer.fn();
  }
}
