import {
  DescribeExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type SFNClientConfig,
} from '@aws-sdk/client-sfn';
import type { Dag } from '../authoring/dag.ts';
import { aslTimestamp, type ArrayFanoutInput, type BatchWatcherInput, type LifecycleInput } from '../compiler/contract.ts';
import { chooseWorkflowType, EXPRESS_MAX_DURATION_SECONDS } from '../compiler/workflow-type.ts';
import { canonicalJson, sha256 } from '../model/hash.ts';
import type { ArrayWave, DagResolver, TimerEvent } from '../scheduler/host.ts';
import type { TaskInstanceRecord } from '../store/records.ts';
import { baseClientConfig, type Env } from '../clients/aws-clients.ts';
import type { Dispatcher } from './invocation-host.ts';

/** Step Functions' limit on state machine and execution names. */
export const SFN_NAME_MAX = 80;
/** How many times one queued version of an instance is re-dispatched after its execution ended without running it. */
export const MAX_REDISPATCHES = 10;
/**
 * Seconds past an Express execution's 5-minute limit after which a try still `running` on an Express
 * lifecycle is taken as stopped (the Lambda invocation in flight when the execution ended may still finish).
 */
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
 * - a task's lifecycle: `<prefix>-<dagId>-<taskId>-<8 hex>` (ids with characters Step Functions refuses
 *   get `_`; the hash of the exact ids keeps names unique; too long a readable part is shortened).
 * - the timer: `<prefix>_timer`; the Batch watcher: `<prefix>_batch-watcher`.
 *
 * The prefix has only letters, digits and `-` (see {@link namePrefix}), so `<prefix>-*` matches every
 * lifecycle of the stack and nothing else of it.
 */
export class StateMachineNaming {
  constructor(readonly prefix: string) {
    if (!/^[A-Za-z0-9-]{1,32}$/.test(prefix)) throw new Error(`state machine name prefix '${prefix}' must be 1 to 32 letters, digits or '-'`);
  }

  lifecycle(dagId: string, taskId: string): string {
    const h = hash([dagId, taskId], 8);
    const readable = `${this.prefix}-${clean(dagId)}-${clean(taskId)}`;
    return `${readable.slice(0, SFN_NAME_MAX - h.length - 1)}-${h}`;
  }

  get timer(): string {
    return `${this.prefix}_timer`;
  }

  get batchWatcher(): string {
    return `${this.prefix}_batch-watcher`;
  }

  /** A pattern (for IAM) that matches every lifecycle state machine name of the stack. */
  get lifecyclePattern(): string {
    return `${this.prefix}-*`;
  }
}

/** A state machine name prefix from any string (e.g. a stack name): letters, digits and '-', at most 24. */
export function namePrefix(s: string): string {
  const p = s.replace(/[^A-Za-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, 24).replace(/-$/, '');
  return p || 'airless';
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
  now?: () => number;
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
  }

  lifecycleArn(dagId: string, taskId: string): string {
    return this.arnPrefix + this.naming.lifecycle(dagId, taskId);
  }

  get timerArn(): string {
    return this.arnPrefix + this.naming.timer;
  }

  get batchWatcherArn(): string {
    return this.arnPrefix + this.naming.batchWatcher;
  }

  /**
   * Start the lifecycle of a queued instance. A replay of the same dispatch finds its execution (running,
   * or ended after running the try): nothing more starts. An execution of this queued version that ended
   * while the instance is still queued (the reconcile re-dispatches it) never ran it: a new one starts,
   * named with a `-r<n>` suffix, at most {@link MAX_REDISPATCHES} times.
   */
  async startLifecycle(ti: TaskInstanceRecord, dag: Dag): Promise<void> {
    const stateMachineArn = this.lifecycleArn(dag.dagId, ti.taskId);
    const input: LifecycleInput = { key: { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex }, dagId: dag.dagId, tryNumber: ti.tryNumber };
    const express = chooseWorkflowType(dag.task(ti.taskId)).type === 'EXPRESS';
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
    const taskId = waves[0]!.array.taskId;
    const input: ArrayFanoutInput = { waves: waves.map((w) => ({ array: w.array, dagId: dag.dagId, tryNumber: w.tryNumber })) };
    await this.startOnce(this.lifecycleArn(dag.dagId, taskId), arrayExecutionName(waves), input);
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
   * For the reconcile: why a `running` instance's try has stopped without reporting, or null when it may
   * still report. Standard lifecycles: the last execution of its queued version is described; one that
   * ended (failed, timed out, aborted, or succeeded without the instance moving on) has stopped. Express
   * lifecycles cannot be described: a try running longer than an Express execution can last has stopped.
   */
  async tryStopped(ti: TaskInstanceRecord): Promise<string | null> {
    const dag = this.dags.getDag(ti.dagId);
    const spec = dag?.taskIndex.get(ti.taskId);
    if (!dag || !spec) return null;
    if (chooseWorkflowType(spec).type === 'EXPRESS') {
      const since = Date.parse(ti.startDate ?? ti.queuedAt ?? '');
      if (Number.isNaN(since)) return null;
      const limitMs = (EXPRESS_MAX_DURATION_SECONDS + EXPRESS_STOP_SLACK_SECONDS) * 1000;
      return this.now() - since > limitMs ? `its Express lifecycle execution cannot still be running (started ${new Date(since).toISOString()}, Express executions last at most ${EXPRESS_MAX_DURATION_SECONDS} s)` : null;
    }
    const stateMachineArn = this.lifecycleArn(dag.dagId, ti.taskId);
    let last: DescribeExecutionCommandOutput | undefined;
    for (let n = 0; n <= MAX_REDISPATCHES; n++) {
      try {
        last = await this.client.send(new DescribeExecutionCommand({ executionArn: executionArn(stateMachineArn, lifecycleExecutionName(ti, n)) }));
      } catch (e) {
        if (errorName(e) === 'ExecutionDoesNotExist') break;
        throw e;
      }
    }
    if (!last || last.status === 'RUNNING' || last.status === 'PENDING_REDRIVE' || last.status === undefined) return null;
    const detail = [last.error, last.cause].filter((s) => s).join(': ');
    return `its lifecycle execution ${last.name ?? '?'} ended ${last.status}${detail ? ` (${detail})` : ''} without reporting the try`;
  }
}
