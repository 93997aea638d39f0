import type { Dag } from '../authoring/dag.ts';
import { aslTimestamp, MAX_LOOPS_PER_EXECUTION } from '../compiler/contract.ts';
import type { ArrayRef } from '../core/arrays.ts';
import { timerTiKey, type ArrayWave, type SchedulerEvent, type SchedulerHost, type TimerEvent } from '../scheduler/host.ts';
import type { TaskInstanceRecord, TiKey } from '../store/records.ts';
import { sameTi, type LifecycleNext } from './lifecycle.ts';

/** Starts work outside this invocation: a task's lifecycle execution, or a timer execution. */
export interface Dispatcher {
  /** Start the lifecycle state machine of a queued instance (idempotent for the same queued version). */
  startLifecycle(ti: TaskInstanceRecord, dag: Dag): Promise<void>;
  /** Deliver `event` to the scheduler at `at` (a small Wait-then-invoke state machine). */
  startTimer(at: number, event: TimerEvent): Promise<void>;
  /** Start waves of array groups of one task (one fan-out execution, idempotent for the same waves). */
  startArrayWaves(waves: readonly ArrayWave[], dag: Dag): Promise<void>;
}

export interface InvocationHostOptions {
  /** The array group whose wave loop called (its next wave or retry wait is the reply). */
  currentArray?: ArrayRef | null;
  /** Stop what is still RUNNABLE of a job (the Batch backend's). */
  stopRunnable?: (jobQueue: string | null, jobName: string, reason: string) => Promise<number>;
}

function sameArray(a: ArrayRef, b: ArrayRef): boolean {
  return a.runId === b.runId && a.taskId === b.taskId && a.group === b.group;
}

/**
 * The scheduler's host for one Lambda invocation. What the scheduler asks for is collected while it
 * runs and carried out by `flush()`: work for the lifecycle that called (the `current` instance) is
 * returned to its state machine as the next action; anything else starts new executions.
 */
export class InvocationHost implements SchedulerHost {
  private readonly starts: { ti: TaskInstanceRecord; dag: Dag }[] = [];
  private readonly timers: { at: number; event: TimerEvent }[] = [];
  private readonly waves: { wave: ArrayWave; dag: Dag }[] = [];
  private readonly currentArray: ArrayRef | null;
  readonly stopRunnable?: (jobQueue: string | null, jobName: string, reason: string) => Promise<number>;
  private next: LifecycleNext | null = null;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly current: TiKey | null,
    readonly now: () => number = Date.now,
    private readonly onEvent?: (e: SchedulerEvent) => void,
    options: InvocationHostOptions = {},
  ) {
    this.currentArray = options.currentArray ?? null;
    if (options.stopRunnable) this.stopRunnable = options.stopRunnable;
  }

  dispatchArray(wave: ArrayWave, dag: Dag): void {
    if (this.currentArray && this.next === null && sameArray(wave.array, this.currentArray)) this.next = { action: 'run', tryNumber: wave.tryNumber };
    else this.waves.push({ wave, dag });
  }

  dispatch(ti: TaskInstanceRecord, dag: Dag): void {
    // A lifecycle that has looped MAX_LOOPS_PER_EXECUTION times (a long-poking sensor) continues as new:
    // a fresh execution (its name comes from the new queued time) keeps each one under the history limit.
    const continueAsNew = ti.pokeCount > 0 && ti.pokeCount % MAX_LOOPS_PER_EXECUTION === 0;
    if (this.current && this.next === null && sameTi(ti, this.current) && !continueAsNew) this.next = { action: 'run', tryNumber: ti.tryNumber };
    else this.starts.push({ ti, dag });
  }

  setTimer(at: number, event: TimerEvent): void {
    const key = timerTiKey(event);
    if (this.current && this.next === null && key && sameTi(key, this.current)) {
      this.next = { action: 'wait', at: aslTimestamp(at), event };
    } else if (this.currentArray && this.next === null && event.type === 'array_retry' && sameArray(event.array, this.currentArray)) {
      this.next = { action: 'wait', at: aslTimestamp(at), event };
    } else this.timers.push({ at, event });
  }

  emit(e: SchedulerEvent): void {
    this.onEvent?.(e);
  }

  /** Whether the scheduler decided something for the calling lifecycle in this invocation. */
  get decided(): boolean {
    return this.next !== null;
  }

  /** Start what was asked for; returns the next action of the calling lifecycle. */
  async flush(): Promise<LifecycleNext> {
    const starts = this.starts.splice(0);
    const timers = this.timers.splice(0);
    // Waves of one task start together: one fan-out execution per task.
    const byTask = new Map<string, { waves: ArrayWave[]; dag: Dag }>();
    for (const { wave, dag } of this.waves.splice(0)) {
      const k = `${wave.array.runId}\u0000${wave.array.taskId}`;
      const e = byTask.get(k);
      if (e) e.waves.push(wave);
      else byTask.set(k, { waves: [wave], dag });
    }
    await Promise.all([
      ...starts.map(({ ti, dag }) => this.dispatcher.startLifecycle(ti, dag)),
      ...[...byTask.values()].map(({ waves, dag }) => this.dispatcher.startArrayWaves(waves, dag)),
      ...timers.map(({ at, event }) => this.dispatcher.startTimer(at, event)),
    ]);
    return this.next ?? { action: 'done' };
  }
}
