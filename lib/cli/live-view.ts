import type { DagResolver } from '../scheduler/host.ts';
import type { TaskInstanceRecord } from '../store/records.ts';
import { cursor, padVisible, truncateLine, type Palette } from './ansi.ts';
import { formatDuration, paintState } from './format.ts';
import type { RunTracker, TrackedRun } from './run-tracker.ts';

/** The order in which an aggregated (mapped) task shows its most telling state. */
const STATE_PRIORITY = ['running', 'up_for_retry', 'deferred', 'queued', 'scheduled', 'failed', 'upstream_failed', 'success', 'skipped', 'removed'] as const;

/** The order of per-state counts on a mapped task's line. */
const COUNT_ORDER = ['success', 'running', 'deferred', 'queued', 'scheduled', 'up_for_retry', 'failed', 'upstream_failed', 'skipped', 'removed'] as const;

export function stateSymbol(state: string | null, p: Palette): string {
  switch (state) {
    case 'success':
      return p.green('✓');
    case 'failed':
    case 'upstream_failed':
      return p.red('✗');
    case 'running':
      return p.yellow('●');
    case 'up_for_retry':
      return p.yellow('↻');
    case 'deferred':
      return p.magenta('◷');
    case 'queued':
    case 'scheduled':
      return p.blue('◦');
    case 'skipped':
    case 'removed':
      return p.grey('-');
    case null: // no state yet
    default:
      return p.grey('·');
  }
}

interface Line {
  text: string;
  /** A finished task's line: folded into a count when the screen is short. */
  done: boolean;
}

/**
 * The live view of `dags test` on a terminal: one compact line per task (a mapped task's instances on
 * one line, counted by state), under a line per run; triggered runs nest under the run that triggered
 * them. Redrawn in place with ANSI escapes at most every `intervalMs`.
 */
export class LiveView {
  private drawn = 0;
  private dirty = true;
  private lastDraw = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly tracker: RunTracker,
    private readonly dags: DagResolver,
    private readonly out: NodeJS.WriteStream,
    private readonly p: Palette,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.out.write(cursor.hide);
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Something changed: redraw at the next tick. */
  changed(): void {
    this.dirty = true;
  }

  /** Print lines above the view (they stay, as in a scrolling log), then draw the view below them. */
  print(text: string): void {
    let out = `${cursor.up(this.drawn)}${cursor.clearDown}`;
    for (const l of text.split('\n')) out += `${l}\x1b[K\n`;
    this.out.write(out);
    this.drawn = 0;
    this.draw();
  }

  /** Draw the final state, leave it on screen and give the cursor back. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.draw();
    this.out.write(cursor.show);
  }

  private tick(): void {
    // Elapsed times of running tasks move on, so redraw now and then even when nothing changed.
    if (this.dirty || Date.now() - this.lastDraw >= 1000) this.draw();
  }

  /** The lines of the view now, fitted to the terminal's size. */
  frame(): string[] {
    const width = Math.max(20, (this.out.columns || 100) - 1);
    const height = Math.max(5, (this.out.rows || 40) - 2);
    return fit(this.lines(), height, this.p).map((l) => truncateLine(l, width));
  }

  private draw(): void {
    this.dirty = false;
    this.lastDraw = Date.now();
    const lines = this.frame();
    let text = cursor.up(this.drawn);
    for (const l of lines) text += `${l}\x1b[K\n`;
    text += cursor.clearDown;
    this.out.write(text);
    this.drawn = lines.length;
  }

  /** Runs as a tree: top-level runs, each followed by the runs it triggered. */
  private orderedRuns(): { run: TrackedRun; depth: number }[] {
    const runs = [...this.tracker.runs.values()];
    const out: { run: TrackedRun; depth: number }[] = [];
    const visit = (run: TrackedRun, depth: number) => {
      out.push({ run, depth });
      for (const child of runs) if (child.parent?.runId === run.runId) visit(child, depth + 1);
    };
    for (const r of runs) if (!r.parent || !this.tracker.get(r.parent)) visit(r, 0);
    return out;
  }

  private lines(): Line[][] {
    return this.orderedRuns().map(({ run, depth }) => this.runLines(run, '    '.repeat(depth)));
  }

  private runLines(run: TrackedRun, indent: string): Line[] {
    const p = this.p;
    const elapsed = run.startDate ? (run.endDate ? Date.parse(run.endDate) : Date.now()) - Date.parse(run.startDate) : null;
    const header = `${indent}${stateSymbol(run.state, p)} ${p.bold(run.dagId)}  ${paintState(run.state, p)}  ${formatDuration(elapsed)}  ${p.dim(run.runId)}`;
    const out: Line[] = [{ text: header, done: false }];
    const taskIds = this.dags.getDag(run.dagId)?.spec.tasks.map((t) => t.taskId) ?? [...run.tis.keys()];
    const nameWidth = Math.min(40, Math.max(8, ...taskIds.map((t) => t.length + 6)));
    for (const taskId of taskIds) out.push(this.taskLine(run, taskId, `${indent}  `, nameWidth));
    return out;
  }

  private taskLine(run: TrackedRun, taskId: string, indent: string, nameWidth: number): Line {
    const p = this.p;
    const byIndex = run.tis.get(taskId);
    const tis = byIndex ? [...byIndex.values()] : [];
    const mapped = tis.some((t) => t.mapIndex >= 0);
    const state = aggregate(tis);
    const name = mapped ? `${taskId} [${tis.length}]` : taskId;
    let detail: string;
    if (!mapped) {
      const ti = tis[0];
      const parts = [padVisible(paintState(state, p), 15)];
      if (ti) {
        if (ti.tryNumber > 0) parts.push(`try ${ti.tryNumber}/${ti.maxTries}`);
        const ms = ti.durationMs ?? (ti.startDate && !ti.endDate ? Date.now() - Date.parse(ti.startDate) : null);
        if (ms !== null) parts.push(formatDuration(ms));
      }
      detail = parts.join('  ');
    } else {
      const counts = new Map<string, number>();
      for (const t of tis) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
      detail = COUNT_ORDER.filter((s) => counts.has(s))
        .map((s) => `${stateSymbol(s, p)}${counts.get(s)} ${s}`)
        .join('  ');
    }
    const active = state === 'running' || state === 'deferred' || state === 'up_for_retry';
    const last = active ? run.lastLog.get(taskId) : undefined;
    const tail = last ? `  ${p.dim(last.message.split('\n')[0] ?? '')}` : '';
    return {
      text: `${indent}${stateSymbol(state, p)} ${name.padEnd(nameWidth)} ${detail}${tail}`.trimEnd(),
      done: state === 'success' || state === 'skipped' || state === 'removed',
    };
  }
}

/** The most telling state of a task's instances (null: no instance yet). */
function aggregate(tis: readonly TaskInstanceRecord[]): string | null {
  if (!tis.length) return null;
  for (const s of STATE_PRIORITY) if (tis.some((t) => t.state === s)) return s;
  return tis[0]!.state;
}

/** Fit the runs' lines into `height` lines: fold finished tasks into a count, then cut. */
function fit(runs: Line[][], height: number, p: Palette): string[] {
  let lines = runs.flat();
  if (lines.length > height) {
    lines = runs.flatMap((run) => {
      const done = run.filter((l) => l.done).length;
      const kept = run.filter((l) => !l.done);
      if (done) kept.splice(1, 0, { text: `${/^\s*/.exec(run[1]?.text ?? '  ')![0]}${p.green('✓')} ${done} task${done > 1 ? 's' : ''} done`, done: true });
      return kept;
    });
  }
  if (lines.length > height) {
    const hidden = lines.length - (height - 1);
    lines = [...lines.slice(0, height - 1), { text: p.dim(`… ${hidden} more lines`), done: false }];
  }
  return lines.map((l) => l.text);
}
