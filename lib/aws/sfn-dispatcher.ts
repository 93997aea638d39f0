import {
  DescribeExecutionCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  type DescribeExecutionCommandOutput,
  type SFNClientConfig,
} from '@aws-sdk/client-sfn';
import type { Dag } from '../authoring/dag.ts';
import { aslTimestamp, type ArrayFanoutInput, type BatchWatcherInput, type LifecycleInput } from '../compiler/contract.ts';
import { taskLifecycle, type TaskLifecycle } from '../compiler/compile.ts';
import { LAMBDA_SERVICE_RETRY_WORST_SECONDS } from '../compiler/integrations.ts';
import { LIFECYCLE_MACHINES, type LifecycleMachine } from '../compiler/workflow-type.ts';
import { PARTITIONS_PER_EXECUTION, type PartitionsInput } from '../compiler/partitions-lifecycle.ts';
import type { TaskSpec } from '../model/spec.ts';
import { canonicalJson, sha256 } from '../model/hash.ts';
import type { ArrayWave, DagResolver, TimerEvent } from '../scheduler/host.ts';
import type { TaskInstanceRecord } from '../store/records.ts';
import { baseClientConfig, type Env } from '../clients/aws-clients.ts';
import type { Dispatcher } from './invocation-host.ts';

/** Step Functions' limit on state machine and execution names. */
export const SFN_NAME_MAX = 80;
/** How many times one queued version of an instance is re-dispatched after its execution ended without running it. */
export const MAX_REDISPATCHES = 10;
/** Seconds of margin past the longest an Express try can take before a try still `running` on it is taken as stopped. */
export const EXPRESS_STOP_SLACK_SECONDS = 60;

const UNSAFE = /[^A-Za-z0-9_-]/g;

function clean(s: string): string {
  return s.replace(UNSAFE, '_');
}

function hash(parts: readonly unknown[], length: number): string {
  return sha256(canonicalJson(parts)).slice(0, length);
}

/**
 * The names of a stack's state machines: a rule both the CDK stack (which names them) and the functions
 * (which start them) follow, so no function needs a list of ARNs in its environment and no state machine
 * ARN has to be passed to the functions it invokes (which would be a dependency cycle).
 *
 * The set is fixed, whatever the DAGs: `<prefix>-<machine>` for each lifecycle machine (`try`, `sensor`,
 * `batch`, `iterate`, `batch-array`), `<prefix>-timer`, `<prefix>-batch-watcher` and
 * `<prefix>-reconciler`. The prefix is unique to the stack ({@link namePrefix}: readable, and a hash of
 * the stack's name and the construct's path), so two stacks never share a name.
 */
export class StateMachineNaming {
  constructor(readonly prefix: string) {
    if (!/^[A-Za-z0-9-]{1,56}$/.test(prefix)) throw new Error(`state machine name prefix '${prefix}' must be 1 to 56 letters, digits or '-'`);
  }

  /** The shared machine of a lifecycle shape. */
  lifecycle(machine: LifecycleMachine): string {
    return `${this.prefix}-${machine.replace(/_/g, '-')}`;
  }

  get timer(): string {
    return `${this.prefix}-timer`;
  }

  get batchWatcher(): string {
    return `${this.prefix}-batch-watcher`;
  }

  get reconciler(): string {
    return `${this.prefix}-reconciler`;
  }

  /** Every state machine name of the stack. */
  all(): string[] {
    return [...LIFECYCLE_MACHINES.map((m) => this.lifecycle(m)), this.timer, this.batchWatcher, this.reconciler];
  }
}

/**
 * A stack's state machine name prefix: a readable part of `name` (letters, digits and '-', at most 32)
 * and 8 hex of a hash of `name` and `unique` (the construct's path), so that stacks whose names share a
 * beginning, or two airless stacks of one app, never collide.
 */
export function namePrefix(name: string, unique = ''): string {
  const readable = name.replace(/[^A-Za-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, 32).replace(/-$/, '') || 'airless';
  return `${readable}-${hash([name, unique], 8)}`;
}

/**
 * The execution name of a dispatch of `ti`: the same for the same queued version of the instance (run,
 * task, map index, try, the time it was queued, and how far the try had got: its start and its pokes), so
 * a replayed dispatch finds the execution it already started, while a try queued again to continue (a
 * deferred try resumed, a sensor's next poke) gets a new one even in the same millisecond. `redispatch`
 * (1, 2...) names a new execution of the same version whose earlier one ended without running it.
 */
export function lifecycleExecutionName(ti: Pick<TaskInstanceRecord, 'runId' | 'taskId' | 'mapIndex' | 'tryNumber' | 'queuedAt' | 'startDate' | 'pokeCount'>, redispatch = 0): string {
  const h = hash([ti.runId, ti.taskId, ti.mapIndex, ti.tryNumber, ti.queuedAt, ti.startDate, ti.pokeCount], 16);
  const suffix = redispatch > 0 ? `-r${redispatch}` : '';
  const readable = `${clean(ti.taskId)}${ti.mapIndex >= 0 ? `_${ti.mapIndex}` : ''}-t${ti.tryNumber}`;
  return `${readable.slice(0, SFN_NAME_MAX - h.length - 1 - 4)}-${h}${suffix}`;
}

/** The execution name of a dispatch of array waves of one task (the same waves: the same name). */
export function arrayExecutionName(waves: readonly ArrayWave[]): string {
  const w = [...waves].sort((a, b) => a.array.group - b.array.group);
  const first = w[0]!;
  const h = hash(w.map((x) => [x.array.runId, x.array.taskId, x.array.group, x.tryNumber]), 16);
  const readable = `${clean(first.array.taskId)}-g${first.array.group}${w.length > 1 ? `+${w.length - 1}` : ''}-t${first.tryNumber}`;
  return `${readable.slice(0, SFN_NAME_MAX - h.length - 1)}-${h}`;
}

/**
 * The execution name of a `partitions` fan-out: the same for the same queued versions of the same
 * instances (a hash of their lifecycle execution names), so a replayed dispatch starts nothing twice.
 */
export function partitionsExecutionName(tis: readonly TaskInstanceRecord[]): string {
  const sorted = [...tis].sort((a, b) => a.mapIndex - b.mapIndex);
  const first = sorted[0]!;
  const h = hash([first.runId, first.taskId, sorted.map((ti) => lifecycleExecutionName(ti))], 16);
  const readable = `${clean(first.taskId)}-p${first.mapIndex}${sorted.length > 1 ? `+${sorted.length - 1}` : ''}-t${first.tryNumber}`;
  return `${readable.slice(0, SFN_NAME_MAX - h.length - 1)}-${h}`;
}

/** The execution name of a timer: the same for the same event at the same time. */
export function timerExecutionName(at: number, event: TimerEvent): string {
  const when = aslTimestamp(at).replace(/[-:]/g, '');
  return `${event.type}-${when}-${hash([at, event], 24)}`;
}

/** The execution name of a Batch watcher for `jobIds`. */
export function watcherExecutionName(jobIds: readonly string[]): string {
  if (jobIds.length === 1) return `job-${clean(jobIds[0]!)}`.slice(0, SFN_NAME_MAX);
  return `jobs-${jobIds.length}-${hash([...jobIds].sort(), 32)}`;
}

/** An execution's ARN from its state machine's ARN and its name. */
export function executionArn(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** A Step Functions client (endpoint from `AWS_ENDPOINT_URL_SFN` / `AWS_ENDPOINT_URL`, which the SDK reads). */
export function sfnClient(config: SFNClientConfig = {}, env: Env = process.env): SFNClient {
  return new SFNClient({ ...baseClientConfig(env), ...config });
}

function errorName(e: unknown): string {
  return e instanceof Error ? e.name : '';
}

export interface SfnDispatcherOptions {
  client: SFNClient;
  dags: DagResolver;
  naming: StateMachineNaming;
  /** `arn:<partition>:states:<region>:<account>:stateMachine:` */
  stateMachineArnPrefix: string;
  /** Whether a Batch watcher state machine is deployed (Batch tasks in poll mode). */
  batchWatcher?: boolean;
  /** How Batch tasks wait for their job (as the stack compiled them). Default `sync`. */
  batchWatch?: 'sync' | 'poll';
  /**
   * Seconds after a try started on the Express `try` machine past which it cannot still be running: the
   * task runner's timeout, plus the Lambda service retries before it and a margin. Default
   * {@link expressTryLimitSeconds} of 900.
   */
  expressTryLimitSeconds?: number;
  now?: () => number;
}

/**
 * Seconds after which a try on the Express `try` machine has stopped: its invocation may start up to
 * LAMBDA_SERVICE_RETRY_WORST_SECONDS late and run the task runner's timeout (it reports itself, even past
 * the execution's 5 minutes), plus {@link EXPRESS_STOP_SLACK_SECONDS}.
 */
export function expressTryLimitSeconds(taskRunnerTimeoutSeconds: number): number {
  return taskRunnerTimeoutSeconds + LAMBDA_SERVICE_RETRY_WORST_SECONDS + EXPRESS_STOP_SLACK_SECONDS;
}

/**
 * The {@link Dispatcher} of the deployed shape: a task instance's lifecycle is an execution of its task's
 * state machine, a timer an execution of the timer state machine (Wait until the time, then invoke the
 * scheduler). Every execution has a deterministic name, so starting the same thing twice is one
 * execution (`ExecutionAlreadyExists` is success).
 */
export class SfnDispatcher implements Dispatcher {
  readonly client: SFNClient;
  readonly naming: StateMachineNaming;
  private readonly dags: DagResolver;
  private readonly arnPrefix: string;
  private readonly now: () => number;
  private readonly hasWatcher: boolean;
  private readonly batchWatch: 'sync' | 'poll';
  private readonly expressLimitMs: number;

  constructor(options: SfnDispatcherOptions) {
    this.client = options.client;
    this.dags = options.dags;
    this.naming = options.naming;
    if (!/^arn:[^:]+:states:[^:]*:[^:]*:stateMachine:$/.test(options.stateMachineArnPrefix)) {
      throw new Error(`stateMachineArnPrefix must look like arn:<partition>:states:<region>:<account>:stateMachine: (got '${options.stateMachineArnPrefix}')`);
    }
    this.arnPrefix = options.stateMachineArnPrefix;
    this.now = options.now ?? Date.now;
    this.hasWatcher = options.batchWatcher ?? false;
    this.batchWatch = options.batchWatch ?? 'sync';
    this.expressLimitMs = (options.expressTryLimitSeconds ?? expressTryLimitSeconds(900)) * 1000;
  }

  /** How a task runs: its shared machine and its settings. */
  lifecycleOf(spec: TaskSpec): TaskLifecycle {
    return taskLifecycle(spec, { batchWatch: this.batchWatch });
  }

  /** The ARN of a shared lifecycle machine. */
  machineArn(machine: LifecycleMachine): string {
    return this.arnPrefix + this.naming.lifecycle(machine);
  }

  get timerArn(): string {
    return this.arnPrefix + this.naming.timer;
  }

  get batchWatcherArn(): string {
    return this.arnPrefix + this.naming.batchWatcher;
  }

  /**
   * Hand a human-in-the-loop answer to the `.waitForTaskToken` state waiting on `token`. A token whose wait
   * has ended already (`TaskTimedOut`: answered before, by a replay of this call, or timed out) is left
   * alone: the answer is in the store either way, and the wait's own end decides.
   */
  async sendTaskSuccess(token: string, output: string): Promise<void> {
    try {
      await this.client.send(new SendTaskSuccessCommand({ taskToken: token, output }));
    } catch (e) {
      if (errorName(e) !== 'TaskTimedOut') throw e;
    }
  }

  /**
   * Start the lifecycle of a queued instance. A replay of the same dispatch finds its execution (running,
   * or ended after running the try): nothing more starts. An execution of this queued version that ended
   * while the instance is still queued (the reconcile re-dispatches it) never ran it: a new one starts,
   * named with a `-r<n>` suffix, at most {@link MAX_REDISPATCHES} times.
   */
  async startLifecycle(ti: TaskInstanceRecord, dag: Dag): Promise<void> {
    const lifecycle = this.lifecycleOf(dag.task(ti.taskId));
    const stateMachineArn = this.machineArn(lifecycle.machine);
    const input: LifecycleInput = { key: { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex }, dagId: dag.dagId, tryNumber: ti.tryNumber, settings: lifecycle.settings };
    const express = lifecycle.workflowType.type === 'EXPRESS';
    for (let n = 0; n <= MAX_REDISPATCHES; n++) {
      const name = lifecycleExecutionName(ti, n);
      try {
        await this.client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
        return;
      } catch (e) {
        if (errorName(e) !== 'ExecutionAlreadyExists') throw e;
        // Express executions cannot be described: a replay is a replay.
        if (express) return;
        const d = await this.client.send(new DescribeExecutionCommand({ executionArn: executionArn(stateMachineArn, name) }));
        if (d.status === 'RUNNING' || d.status === 'PENDING_REDRIVE') return;
        if (ti.state !== 'queued') return;
        // Ended, and the instance was still queued when this dispatch was asked for: start another.
      }
    }
    throw new Error(`task instance ${ti.dagId}/${ti.runId}/${ti.taskId}[${ti.mapIndex}] try ${ti.tryNumber}: ${MAX_REDISPATCHES} lifecycle executions ended without running it`);
  }

  /**
   * Start waves of array groups of one task: one execution of the task's array fan-out machine, whose
   * Distributed Map runs each wave's group lifecycle (later waves of a group run inside it).
   */
  async startArrayWaves(waves: readonly ArrayWave[], dag: Dag): Promise<void> {
    if (waves.length === 0) return;
    const lifecycle = this.lifecycleOf(dag.task(waves[0]!.array.taskId));
    const input: ArrayFanoutInput = { waves: waves.map((w) => ({ array: w.array, dagId: dag.dagId, tryNumber: w.tryNumber })), settings: lifecycle.settings };
    await this.startOnce(this.machineArn(lifecycle.machine), arrayExecutionName(waves), input);
  }

  /**
   * Start the `iterate` lifecycles of instances of one partitioned task of one run (dispatched by one
   * scheduler step) through the `partitions` machine: one execution per {@link PARTITIONS_PER_EXECUTION}
   * instances (map-index order), whose Distributed Map starts each instance's `iterate` execution under
   * {@link lifecycleExecutionName} with the input {@link startLifecycle} would give it. A single instance
   * is started directly. Named by {@link partitionsExecutionName}: a replay starts nothing more.
   */
  async startPartitions(tis: readonly TaskInstanceRecord[], dag: Dag): Promise<void> {
    if (tis.length === 0) return;
    if (tis.length === 1) return this.startLifecycle(tis[0]!, dag);
    const first = tis[0]!;
    for (const ti of tis) {
      if (ti.dagId !== first.dagId || ti.runId !== first.runId || ti.taskId !== first.taskId) {
        throw new Error(`startPartitions: instances of one task of one run only (got ${first.dagId}/${first.runId}/${first.taskId} and ${ti.dagId}/${ti.runId}/${ti.taskId})`);
      }
    }
    const spec = dag.task(first.taskId);
    const lifecycle = this.lifecycleOf(spec);
    if (lifecycle.machine !== 'iterate' || spec.mapping === null) throw new Error(`startPartitions: task ${dag.dagId}.${first.taskId} is not a partitioned iteration (its lifecycle is ${lifecycle.machine})`);
    const sorted = [...tis].sort((a, b) => a.mapIndex - b.mapIndex);
    const starts: Promise<void>[] = [];
    for (let i = 0; i < sorted.length; i += PARTITIONS_PER_EXECUTION) {
      const chunk = sorted.slice(i, i + PARTITIONS_PER_EXECUTION);
      if (chunk.length === 1) {
        starts.push(this.startLifecycle(chunk[0]!, dag));
        continue;
      }
      const input: PartitionsInput = {
        dagId: dag.dagId,
        runId: first.runId,
        taskId: first.taskId,
        settings: lifecycle.settings,
        instances: chunk.map((ti) => ({ name: lifecycleExecutionName(ti), mapIndex: ti.mapIndex, tryNumber: ti.tryNumber })),
      };
      starts.push(this.startOnce(this.machineArn('partitions'), partitionsExecutionName(chunk), input));
    }
    await Promise.all(starts);
  }

  /** Start a timer execution: wait until `at`, then `{type: 'timer', event, standalone: true}` to the scheduler. */
  async startTimer(at: number, event: TimerEvent): Promise<void> {
    await this.startOnce(this.timerArn, timerExecutionName(at, event), { at: aslTimestamp(at), event });
  }

  /** Start a Batch watcher for up to 100 jobs (poll mode). */
  async startBatchWatcher(jobIds: readonly string[], intervalSeconds: number): Promise<void> {
    if (!this.hasWatcher) throw new Error('no Batch watcher state machine is deployed (the stack compiles Batch tasks with batchWatch: sync)');
    const input: BatchWatcherInput = { jobIds: [...jobIds], intervalSeconds };
    await this.startOnce(this.batchWatcherArn, watcherExecutionName(jobIds), input);
  }

  private async startOnce(stateMachineArn: string, name: string, input: unknown): Promise<void> {
    try {
      await this.client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    } catch (e) {
      if (errorName(e) !== 'ExecutionAlreadyExists') throw e;
    }
  }

  /**
   * Stop the lifecycle executions of an instance's try that is in flight (a run stopped or marked, an
   * instance marked): every execution of its queued version (`-r<n>` redispatches included) on its Standard
   * machine, with `cause`; for a Batch task, its `batch_job` execution (a `.sync` wait's stop terminates
   * the job it waits on). Express executions cannot be stopped (they end within minutes, and their report
   * finds the instance moved). Returns the names of the executions stopped.
   */
  async stopLifecycle(ti: TaskInstanceRecord, cause: string): Promise<string[]> {
    const dag = this.dags.getDag(ti.dagId);
    const spec = dag?.taskIndex.get(ti.taskId);
    if (!dag || !spec) return [];
    const lifecycle = this.lifecycleOf(spec);
    const machine: LifecycleMachine | null = lifecycle.machine === 'batch' ? 'batch_job' : lifecycle.workflowType.type === 'EXPRESS' ? null : lifecycle.machine;
    if (machine === null) return [];
    const stateMachineArn = this.machineArn(machine);
    const stopped: string[] = [];
    // The queued version that named the execution: the instance as it is (a try queued to continue keeps
    // its start), or, for a try that started since it was queued, before its start.
    const versions = ti.startDate === null ? [ti] : [ti, { ...ti, startDate: null }];
    for (const version of versions) {
      for (let n = 0; n <= MAX_REDISPATCHES; n++) {
        const name = lifecycleExecutionName(version, n);
        try {
          await this.client.send(new StopExecutionCommand({ executionArn: executionArn(stateMachineArn, name), error: 'airless.Stopped', cause: cause.slice(0, 32_000) }));
          stopped.push(name);
        } catch (e) {
          if (errorName(e) === 'ExecutionDoesNotExist') break;
          throw e;
        }
      }
    }
    return stopped;
  }

  /**
   * For the reconcile: why a `running` instance's try has stopped without reporting, or null when it may
   * still report. Standard lifecycles: the last execution of its queued version is described; one that
   * ended (failed, timed out, aborted, or succeeded without the instance moving on) has stopped. Express
   * lifecycles cannot be described: a try running longer than an Express execution can last has stopped.
   */
  async tryStopped(ti: TaskInstanceRecord): Promise<string | null> {
    const dag = this.dags.getDag(ti.dagId);
    const spec = dag?.taskIndex.get(ti.taskId);
    if (!dag || !spec) return null;
    const lifecycle = this.lifecycleOf(spec);
    // A Batch job's wait is the batch_job execution its Express start named as itself.
    if (lifecycle.machine === 'batch') return this.describedStop(ti, 'batch_job', true);
    if (lifecycle.workflowType.type === 'EXPRESS') {
      const since = Date.parse(ti.startDate ?? ti.queuedAt ?? '');
      if (Number.isNaN(since)) return null;
      return this.now() - since > this.expressLimitMs
        ? `its try cannot still be running (started ${new Date(since).toISOString()} on the Express try machine, whose invocation reports within ${this.expressLimitMs / 1000} s)`
        : null;
    }
    return this.describedStop(ti, lifecycle.machine, false);
  }

  /**
   * Whether the last execution of `ti`'s queued version on a Standard `machine` has ended (stopped: why)
   * or may still report (null). `startedByExpress`: the execution is started by an Express one of the same
   * name, which may have died first: none at all past the Express limit has stopped too.
   */
  private async describedStop(ti: TaskInstanceRecord, machine: LifecycleMachine, startedByExpress: boolean): Promise<string | null> {
    const stateMachineArn = this.machineArn(machine);
    let last: DescribeExecutionCommandOutput | undefined;
    for (let n = 0; n <= MAX_REDISPATCHES; n++) {
      try {
        last = await this.client.send(new DescribeExecutionCommand({ executionArn: executionArn(stateMachineArn, lifecycleExecutionName(ti, n)) }));
      } catch (e) {
        if (errorName(e) === 'ExecutionDoesNotExist') break;
        throw e;
      }
    }
    if (!last && startedByExpress) {
      const since = Date.parse(ti.startDate ?? ti.queuedAt ?? '');
      if (!Number.isNaN(since) && this.now() - since > this.expressLimitMs) return `its lifecycle never started the ${machine} execution that runs it (started ${new Date(since).toISOString()})`;
    }
    if (!last || last.status === 'RUNNING' || last.status === 'PENDING_REDRIVE' || last.status === undefined) return null;
    const detail = [last.error, last.cause].filter((s) => s).join(': ');
    return `its lifecycle execution ${last.name ?? '?'} ended ${last.status}${detail ? ` (${detail})` : ''} without reporting the try`;
  }
}
