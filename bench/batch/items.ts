// What happened to each item, as the simulated Batch sees it (in the cloud process): how many times its
// job ran, when it was first submitted, when its successful run ended. From these: finished, lost,
// duplicated, the longest job and the critical path of the batch scenarios.
import { failsOnce, jobDurationMs } from './jobs.ts';

export interface ItemFigures {
  items: number;
  /** Job runs started, all items (a retry is a run). */
  runs: number;
  /** Items with a successful run. */
  succeeded: number;
  /** Items that never succeeded. */
  lost: number;
  /** Items that ran more often than their tries need (1, or 2 for an item that fails once). */
  duplicated: number;
  /** Items that ran at all. */
  started: number;
  /** Job runs of an item outside 0..items-1 (none expected). */
  strays: number;
  /** The longest single run, ms of job time. */
  longestJobMs: number;
  /** Max over items of (end of the successful run - first submission), ms of job time. */
  criticalPathMs: number;
  /** First and last submission seen (job time, epoch ms). */
  firstSubmitAt: number | null;
  lastSubmitAt: number | null;
  /** Last successful run's end (job time, epoch ms). */
  lastSuccessAt: number | null;
}

export class ItemTracker {
  private readonly runs: Uint8Array;
  private readonly firstSubmit: Float64Array;
  private readonly successEnd: Float64Array;
  private strays = 0;
  private longestJobMs = 0;
  private firstSubmitAt = Infinity;
  private lastSubmitAt = -Infinity;

  constructor(readonly items: number) {
    this.runs = new Uint8Array(items);
    this.firstSubmit = new Float64Array(items).fill(NaN);
    this.successEnd = new Float64Array(items).fill(NaN);
  }

  /**
   * A run of `item`'s job starts at `startAt` (job time), its job having been submitted at `submittedAt`:
   * how long it runs and its exit code (the item's first run fails if it is one of the 2%).
   */
  run(item: number | null, submittedAt: number, startAt: number): { durationMs: number; exitCode: number } {
    if (item === null || !Number.isInteger(item) || item < 0 || item >= this.items) {
      this.strays++;
      return { durationMs: 1000, exitCode: 0 };
    }
    const n = (this.runs[item] = Math.min(255, this.runs[item]! + 1));
    const sub = this.firstSubmit[item]!;
    if (Number.isNaN(sub) || submittedAt < sub) this.firstSubmit[item] = submittedAt;
    if (submittedAt < this.firstSubmitAt) this.firstSubmitAt = submittedAt;
    if (submittedAt > this.lastSubmitAt) this.lastSubmitAt = submittedAt;
    const durationMs = jobDurationMs(item);
    if (durationMs > this.longestJobMs) this.longestJobMs = durationMs;
    const exitCode = n === 1 && failsOnce(item) ? 1 : 0;
    if (exitCode === 0 && Number.isNaN(this.successEnd[item]!)) this.successEnd[item] = startAt + durationMs;
    return { durationMs, exitCode };
  }

  figures(): ItemFigures {
    let runs = 0;
    let succeeded = 0;
    let duplicated = 0;
    let started = 0;
    let critical = 0;
    let lastSuccess = -Infinity;
    for (let i = 0; i < this.items; i++) {
      const r = this.runs[i]!;
      runs += r;
      if (r > 0) started++;
      if (r > (failsOnce(i) ? 2 : 1)) duplicated++;
      const end = this.successEnd[i]!;
      if (!Number.isNaN(end)) {
        succeeded++;
        critical = Math.max(critical, end - this.firstSubmit[i]!);
        lastSuccess = Math.max(lastSuccess, end);
      }
    }
    return {
      items: this.items,
      runs,
      succeeded,
      lost: this.items - succeeded,
      duplicated,
      started,
      strays: this.strays,
      longestJobMs: this.longestJobMs,
      criticalPathMs: critical,
      firstSubmitAt: Number.isFinite(this.firstSubmitAt) ? this.firstSubmitAt : null,
      lastSubmitAt: Number.isFinite(this.lastSubmitAt) ? this.lastSubmitAt : null,
      lastSuccessAt: Number.isFinite(lastSuccess) ? lastSuccess : null,
    };
  }
}
