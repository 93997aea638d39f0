import type { Dag } from '../authoring/dag.ts';
import { latestScheduledBefore, latestScheduleTime, MAX_CATCHUP_RUNS, nextScheduledInstant, scheduledRunDates } from '../core/schedule-dates.ts';
import { errorMessage } from '../errors.ts';
import { timeSchedule, type DagSpec } from '../model/spec.ts';
import type { Clock } from '../runner/clock.ts';
import type { TriggerRequest } from '../scheduler/scheduler.ts';
import type { DagRunRecord } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';

export interface ScheduleLoopOptions {
  /** Where runs and the DAGs' paused flags are. */
  store: StateStore;
  /** The loaded DAGs; those with a schedule are fired. */
  dags: readonly Dag[];
  /** The clock the instants are armed on (the runner's; a FakeClock in tests). */
  clock: Clock;
  /** Creates and starts a run (`LocalRunner.trigger`): idempotent on run id. */
  trigger(req: TriggerRequest): Promise<DagRunRecord>;
  /** Told of each run created by a firing. Default: nothing. */
  onRun?(run: DagRunRecord): void;
  /** Told of an error while firing a DAG (the loop goes on with the DAG's next instant). Default: a line on stderr. */
  onError?(dagId: string, error: unknown): void;
}

/** What the loop keeps per scheduled DAG. */
interface DagSlot {
  dag: Dag;
  /** Cancels the armed timer. */
  cancel: (() => void) | null;
  /** The instant armed, null if none (paused, past its endDate, `@once` done). */
  armed: Date | null;
  /** The refreshes of this DAG, one after the other. */
  chain: Promise<void>;
  /** The DAG left the loop (its file was removed, or it lost its schedule): nothing arms it again. */
  removed: boolean;
}

/** The latest logical date of the scheduled runs among `runs`, or null if none. */
function latestScheduled(runs: readonly DagRunRecord[]): Date | null {
  return latestScheduledBefore(runs, new Date(8.64e15));
}

/**
 * The latest instant of the DAG's schedule that is due at `now` (at or before it, within its
 * startDate/endDate), or null. `@once` is due at its startDate (at once without one) until it has run.
 */
export function latestDueInstant(spec: DagSpec, now: Date, hasScheduledRun: boolean): Date | null {
  const schedule = timeSchedule(spec.schedule);
  if (!schedule) return null;
  const start = spec.startDate ? new Date(spec.startDate) : null;
  if (schedule.kind === 'once') {
    if (hasScheduledRun) return null;
    if (start === null) return now;
    return start <= now ? start : null;
  }
  const end = spec.endDate ? new Date(spec.endDate) : null;
  const t = latestScheduleTime(schedule, end !== null && end < now ? end : now, start);
  if (t === null || (start !== null && t < start)) return null;
  return t;
}

/**
 * The standalone server's scheduler loop: fires each loaded, unpaused DAG with a schedule at its
 * instants on the clock, with the deployed trigger's semantics (`scheduledRunDates`): run id
 * `scheduled__<logicalDate>` (run ids are per DAG), type `scheduled`, startDate/endDate, a rate's grid from the startDate,
 * catchup creating the instants missed since the DAG's latest scheduled run (at most
 * `MAX_CATCHUP_RUNS` per firing; the loop fires again until caught up), `@once` once. Without catchup
 * only the latest due instant runs (at start, after a pause, or when the clock jumped).
 *
 * One timer per DAG, armed at its next instant; nothing polls. A paused DAG's timer fires nothing and
 * is not re-armed; {@link refresh} (called when the paused flag changes) fires what is due and arms
 * again. Triggering is idempotent on run id, so firing an instant twice creates one run.
 */
export class ScheduleLoop {
  private readonly slots = new Map<string, DagSlot>();
  private stopped = false;
  private started = false;

  constructor(private readonly options: ScheduleLoopOptions) {
    for (const dag of options.dags) {
      if (timeSchedule(dag.spec.schedule)) this.slots.set(dag.dagId, { dag, cancel: null, armed: null, chain: Promise.resolve(), removed: false });
    }
  }

  /**
   * The DAGs were loaded again: a DAG gone (or without a schedule now) stops firing, a new scheduled one
   * starts (what is due fires now), one whose version changed is armed again on its new schedule; the
   * others keep their timer and fire the new definition. Resolves once the refreshes have ended.
   */
  async setDags(dags: readonly Dag[]): Promise<void> {
    const next = new Map(dags.filter((d) => timeSchedule(d.spec.schedule)).map((d) => [d.dagId, d]));
    const refresh: string[] = [];
    for (const [dagId, slot] of this.slots) {
      if (next.has(dagId)) continue;
      slot.removed = true;
      this.disarm(slot);
      this.slots.delete(dagId);
    }
    for (const [dagId, dag] of next) {
      const slot = this.slots.get(dagId);
      if (!slot) {
        this.slots.set(dagId, { dag, cancel: null, armed: null, chain: Promise.resolve(), removed: false });
        refresh.push(dagId);
      } else {
        if (slot.dag.spec.version !== dag.spec.version) refresh.push(dagId);
        slot.dag = dag;
      }
    }
    if (this.started) await Promise.all(refresh.map((id) => this.refresh(id)));
  }

  /** The DAG ids the loop fires. */
  get dagIds(): string[] {
    return [...this.slots.keys()];
  }

  /** Fire what is due now for every scheduled DAG and arm each one's next instant. */
  async start(): Promise<void> {
    if (this.started) throw new Error('the schedule loop was already started');
    this.started = true;
    await Promise.all([...this.slots.keys()].map((id) => this.refresh(id)));
  }

  /**
   * Look at a DAG again (its paused flag changed, or at its timer): if paused, disarm; else fire what is
   * due (with catchup, the gap since its latest scheduled run) and arm its next instant. Refreshes of a
   * DAG run one after the other; the promise never rejects (errors go to `onError`).
   */
  refresh(dagId: string): Promise<void> {
    const slot = this.slots.get(dagId);
    if (!slot || this.stopped) return Promise.resolve();
    slot.chain = slot.chain.then(() => this.update(slot));
    return slot.chain;
  }

  /** Resolves when every refresh started so far has ended. */
  async settled(): Promise<void> {
    let before: Promise<void>[];
    do {
      before = [...this.slots.values()].map((s) => s.chain);
      await Promise.all(before);
    } while ([...this.slots.values()].some((s, i) => s.chain !== before[i]));
  }

  /**
   * The logical date of the DAG's next scheduled run as the loop will fire it (ISO-8601), or null: no
   * schedule, past its endDate, `@once` done. Given for a paused DAG too (what it fires once unpaused).
   */
  async nextRun(dagId: string): Promise<string | null> {
    const slot = this.slots.get(dagId);
    if (!slot) return null;
    if (slot.armed) return slot.armed.toISOString();
    const runs = await this.options.store.listRuns({ dagId });
    const next = nextScheduledInstant(slot.dag.spec, new Date(this.options.clock.now()), latestScheduled(runs) !== null);
    return next?.toISOString() ?? null;
  }

  /** Disarm every timer and wait for firings in progress. Nothing fires after it. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const slot of this.slots.values()) this.disarm(slot);
    await Promise.all([...this.slots.values()].map((s) => s.chain));
  }

  private disarm(slot: DagSlot): void {
    slot.cancel?.();
    slot.cancel = null;
    slot.armed = null;
  }

  private async update(slot: DagSlot): Promise<void> {
    const { dag } = slot;
    this.disarm(slot);
    if (this.stopped || slot.removed) return;
    try {
      if ((await this.options.store.getDagRecord(dag.dagId))?.paused) return;
      // Fire until caught up: a firing creates at most MAX_CATCHUP_RUNS runs.
      for (;;) {
        const runs = await this.options.store.listRuns({ dagId: dag.dagId });
        const latest = latestScheduled(runs);
        const due = latestDueInstant(dag.spec, new Date(this.options.clock.now()), latest !== null);
        if (due === null || (latest !== null && due <= latest) || this.stopped) break;
        const { dates } = scheduledRunDates(dag.spec, due, runs);
        for (const d of dates) {
          const logicalDate = d.toISOString();
          const run = await this.triggerScheduled(dag.dagId, logicalDate);
          this.options.onRun?.(run);
        }
        if (dates.length < MAX_CATCHUP_RUNS) break;
      }
    } catch (e) {
      this.report(dag.dagId, e);
    }
    this.arm(slot);
  }

  /**
   * Create the scheduled run of a logical date: run id `scheduled__<logicalDate>` in its DAG, as deployed
   * (a firing delivered again finds the run it made).
   */
  private triggerScheduled(dagId: string, logicalDate: string): Promise<DagRunRecord> {
    return this.options.trigger({ dagId, logicalDate, runType: 'scheduled', runId: `scheduled__${logicalDate}` });
  }

  private arm(slot: DagSlot): void {
    if (this.stopped || slot.removed) return;
    const { dag } = slot;
    const now = new Date(this.options.clock.now());
    // `@once` has fired (or cannot) once something is due or done: nothing to arm past that.
    const next = timeSchedule(dag.spec.schedule)?.kind === 'once' ? nextScheduledInstant(dag.spec, now, latestDueInstant(dag.spec, now, false) !== null) : nextScheduledInstant(dag.spec, now, false);
    if (next === null) return;
    slot.armed = next;
    slot.cancel = this.options.clock.setTimer(next.getTime(), () => {
      slot.cancel = null;
      void this.refresh(dag.dagId);
    });
  }

  private report(dagId: string, e: unknown): void {
    if (this.options.onError) this.options.onError(dagId, e);
    else process.stderr.write(`airless standalone: scheduling DAG '${dagId}' failed: ${errorMessage(e)}\n`);
  }
}
