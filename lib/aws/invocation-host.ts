import type { Dag } from '../authoring/dag.ts';
import { MAX_LOOPS_PER_EXECUTION } from '../compiler/contract.ts';
import { lifecycleNext, type LifecycleCaller, type NextAction } from '../core/lifecycle.ts';
import { drive, type Effect, type Outcome } from '../scheduler/effects.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { ArrayWave, SchedulerEvent, TimerEvent } from '../scheduler/host.ts';
import type { DagRunRecord, TaskInstanceRecord, TiKey } from '../store/records.ts';
import type { StopScope } from './stop-tries.ts';

const sameInstance = (a: TiKey, b: TiKey) => a.dagId === b.dagId && a.runId === b.runId && a.taskId === b.taskId && a.mapIndex === b.mapIndex;

/** Starts work outside this invocation: a task's lifecycle execution, or a timer execution. */
export interface Dispatcher {
  /** Start the lifecycle state machine of a queued instance (idempotent for the same queued version). */
  startLifecycle(ti: TaskInstanceRecord, dag: Dag): Promise<void>;
  /** Deliver `event` to the scheduler at `at` (a small Wait-then-invoke state machine). */
  startTimer(at: number, event: TimerEvent): Promise<void>;
  /** Start waves of array groups of one task (one fan-out execution, idempotent for the same waves). */
  startArrayWaves(waves: readonly ArrayWave[], dag: Dag): Promise<void>;
  /**
   * Hand a human-in-the-loop answer to the `.waitForTaskToken` state waiting on `token` (Step Functions'
   * SendTaskSuccess). Absent: such an effect fails the flush with an error saying so.
   */
  sendTaskSuccess?(token: string, output: string): Promise<void>;
  /**
   * Start the lifecycles of several instances of one partitioned task of one run (one `partitions`
   * fan-out execution, idempotent for the same queued versions). Absent: each is started by
   * {@link startLifecycle}.
   */
  startPartitions?(tis: readonly TaskInstanceRecord[], dag: Dag): Promise<void>;
}

/** Whether a task is a partitioned iteration (`.expand(partitions).iterate(items)`): mapped, and iterating inside each instance. */
export function isPartitionedTask(spec: TaskSpec): boolean {
  return spec.kind === 'task' && spec.mapping !== null && spec.iterate !== null;
}

export interface InvocationHostOptions {
  /** Told of the scheduler's events (state changes, errors in callbacks): the function's logger. */
  onEvent?: (e: SchedulerEvent) => void;
  /** Stop what is still RUNNABLE of a job (the Batch backend's). Absent: such an effect is dropped. */
  stopRunnable?: (jobQueue: string | null, jobName: string, reason: string) => Promise<number>;
  /**
   * Arm the reconciler (lib/aws/reconciler.ts): called by {@link InvocationHost.flush} when a step made a
   * run queued (created or reopened) or {@link InvocationHost.runActive} was called. Absent: nothing to arm.
   */
  armReconciler?: () => Promise<unknown>;
  /** Stop the work in flight of a stopped run's (or a marked instance's) instances (`scope`: the whole run, or the marked instances only; default run). Absent: a cancel is dropped. */
  stopTries?: (tis: readonly TaskInstanceRecord[], reason: string, scope?: StopScope) => Promise<unknown>;
  /**
   * Deadline timers as one-time EventBridge Scheduler schedules (lib/aws/deadline-schedules.ts). Absent:
   * a deadline timer is a timer execution like any other.
   */
  deadlines?: DeadlineTimers;
}

/** Where a deployed host arms a run's deadline timers, and drops them when the run ends. */
export interface DeadlineTimers {
  /** Arm a deadline timer; false when it was not (a deadline already due: the host starts a timer execution). */
  arm(at: number, event: Extract<TimerEvent, { type: 'deadline' }>): Promise<boolean>;
  /** The run ended: drop its deadline timers still to come. */
  runEnded(run: DagRunRecord): Promise<void>;
}

/** Whether a step's effects made a run active: every way a run becomes queued (created, reopened) says so. */
function makesRunActive(effects: readonly Effect[]): boolean {
  return effects.some((e) => e.type === 'emit' && e.event.type === 'run' && e.event.run.state === 'queued');
}

/**
 * The interpreter of the scheduler's effects for one Lambda invocation. The effects of every step run in
 * the invocation are collected ({@link run}) and carried out by {@link flush}: the calling lifecycle's
 * own next action (chosen by lib/core/lifecycle.ts, the rule the local runner follows too) is returned
 * to its state machine; every other dispatch and timer starts a new execution, waves of one task
 * starting together.
 */
export class InvocationHost {
  private readonly effects: Effect[] = [];
  private activeRun = false;
  private written: TaskInstanceRecord | undefined;

  constructor(
    private readonly dispatcher: Dispatcher,
    /** The lifecycle that called (null: a trigger, the API, the reconcile, a timer execution). */
    private readonly caller: LifecycleCaller | null,
    private readonly options: InvocationHostOptions = {},
  ) {}

  /** Run a scheduler step, keeping its effects (and those it left when it threw) for {@link flush}. */
  run<T>(step: Promise<Outcome<T>>): Promise<T> {
    return drive(step, (effects) => {
      // One at a time: a step may ask for more effects than a call takes arguments (a 100,000-wide fan-out).
      for (const e of effects) {
        this.effects.push(e);
        if (e.type === 'emit' && e.event.type === 'ti' && this.caller && 'instance' in this.caller && sameInstance(e.event.ti, this.caller.instance)) this.written = e.event.ti;
      }
    });
  }

  /** Note that a run is active whatever the effects say (a replayed trigger finds its run, emitting nothing): {@link flush} arms the reconciler. */
  runActive(): void {
    this.activeRun = true;
  }

  /**
   * The calling instance as the steps run here last wrote it (undefined: they wrote nothing of it). Its
   * next action can be read from it without reading the store: whoever moves it on after that (queues
   * it again) starts its new try itself.
   */
  get callerWritten(): TaskInstanceRecord | undefined {
    return this.written;
  }

  /**
   * Carry out what the steps asked for. Returns the calling lifecycle's next action, or null when no step
   * decided anything for it (its instance's state then says: `nextFromInstance`, `nextFromWave`).
   */
  async flush(): Promise<NextAction | null> {
    // A lifecycle that has looped MAX_LOOPS_PER_EXECUTION times (a long-poking sensor) continues as new:
    // a fresh execution (its name comes from the new queued time) keeps each one under the history limit.
    const effects = this.effects.splice(0);
    const starts: Promise<void>[] = [];
    // A run made active arms the reconciler (after the run's write: see lib/aws/reconciler.ts).
    if (this.options.armReconciler && (this.activeRun || makesRunActive(effects))) starts.push(this.options.armReconciler().then(() => undefined));
    this.activeRun = false;
    const { next, rest } = lifecycleNext(this.caller, effects, { continueAsNewEvery: MAX_LOOPS_PER_EXECUTION });
    // Waves of one task start together: one fan-out execution per task.
    const waves = new Map<string, { waves: ArrayWave[]; dag: Dag }>();
    // Instances of one partitioned task of one run start together: one `partitions` execution (a single one: its own).
    const partitions = new Map<string, { tis: TaskInstanceRecord[]; dag: Dag }>();
    for (const e of rest) {
      switch (e.type) {
        case 'dispatch': {
          const spec = e.dag.taskIndex.get(e.ti.taskId);
          if (this.dispatcher.startPartitions && spec && isPartitionedTask(spec)) {
            // The instances of one partitioned task of one run start together: one `partitions` execution.
            const k = `${e.ti.dagId}\u0000${e.ti.runId}\u0000${e.ti.taskId}`;
            const entry = partitions.get(k);
            if (entry) entry.tis.push(e.ti);
            else partitions.set(k, { tis: [e.ti], dag: e.dag });
          } else starts.push(this.dispatcher.startLifecycle(e.ti, e.dag));
          break;
        }
        case 'dispatchWave': {
          const k = `${e.wave.array.dagId}\u0000${e.wave.array.runId}\u0000${e.wave.array.taskId}`;
          const entry = waves.get(k);
          if (entry) entry.waves.push(e.wave);
          else waves.set(k, { waves: [e.wave], dag: e.dag });
          break;
        }
        case 'timer': {
          const deadlines = this.options.deadlines;
          const event = e.event;
          if (deadlines && event.type === 'deadline') starts.push(deadlines.arm(e.at, event).then((armed) => (armed ? undefined : this.dispatcher.startTimer(e.at, event))));
          else starts.push(this.dispatcher.startTimer(e.at, e.event));
          break;
        }
        case 'stopRunnable':
          if (this.options.stopRunnable) starts.push(this.options.stopRunnable(e.jobQueue, e.jobName, e.reason).then(() => undefined));
          break;
        case 'cancelRun':
          // Its instances' executions and Batch jobs are stopped; a late report finds them moved.
          if (this.options.stopTries && e.inFlight?.length) starts.push(this.options.stopTries(e.inFlight, e.reason ?? 'the run was stopped: dagrun timeout', e.only ? 'instances' : 'run').then(() => undefined));
          break;
        case 'sendTaskSuccess':
          starts.push(this.dispatcher.sendTaskSuccess ? this.dispatcher.sendTaskSuccess(e.token, e.output) : Promise.reject(new Error('this host cannot hand a human-in-the-loop answer to its wait: its dispatcher has no sendTaskSuccess')));
          break;
        case 'emit':
          this.options.onEvent?.(e.event);
          if (this.options.deadlines && e.event.type === 'run' && (e.event.run.state === 'success' || e.event.run.state === 'failed')) {
            starts.push(this.options.deadlines.runEnded(e.event.run));
          }
          break;
      }
    }
    for (const { waves: w, dag } of waves.values()) starts.push(this.dispatcher.startArrayWaves(w, dag));
    for (const { tis, dag } of partitions.values()) {
      starts.push(tis.length === 1 ? this.dispatcher.startLifecycle(tis[0]!, dag) : this.dispatcher.startPartitions!(tis, dag));
    }
    await Promise.all(starts);
    return next;
  }
}
