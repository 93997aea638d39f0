/**
 * The Step Functions service of the harness: registered state machines (the compiled ASL, as deployed)
 * run on aws-local-stepfunctions, behind an HTTP endpoint that speaks the Step Functions API
 * (`StartExecution`, `DescribeExecution`; awsJson1_0) so that the real `SfnDispatcher` and
 * `@aws-sdk/client-sfn` start them.
 *
 * - Task states run through the service integrations, by `Resource`: `lambda:invoke` invokes the named
 *   function of the harness's Lambda service (`{FunctionName, Payload}` in, `{Payload, StatusCode}` out);
 *   `batch:submitJob.sync` is supplied by the harness (batch-sync.ts); `states:startExecution` starts an
 *   execution here.
 * - `lambda:invoke.waitForTaskToken` (which aws-local-stepfunctions does not run): the Task's Parameters
 *   are rewritten so that the state's `$$.Task.Token` reaches the harness, which makes a token per state
 *   entry (per attempt), invokes the function with it, then waits, the execution letting go of the clock,
 *   for `SendTaskSuccess` (its output is the state's result), `SendTaskFailure` (the state fails with its
 *   error and cause) or `SendTaskHeartbeat` on this endpoint, as the real client-sfn sends them. Its
 *   `TimeoutSeconds`/`TimeoutSecondsPath` and `HeartbeatSeconds`/`HeartbeatSecondsPath` pass on the
 *   harness clock (it skips to them when nothing else is in flight) and end the wait with `States.Timeout`
 *   (Step Functions' `States.HeartbeatTimeout` is also a `States.Timeout`, which is what the engine can
 *   match). A token sent back once, or whose wait ended, is refused as Step Functions does
 *   (`TaskTimedOut`); one never issued is `TaskDoesNotExist`, a malformed one `InvalidToken`.
 * - Wait states: aws-local-stepfunctions' `waitTimeOverrides` make them take 0 ms; the wait itself
 *   happens on the harness's skipping clock (clock.ts), at the start of the Task that follows the Wait:
 *   that Task runs once the clock has reached the Wait's time (which it jumps to when nothing else is in
 *   flight). So executions, handlers and jobs all see the time a real wait would have taken. (Waits
 *   inside the iterations of an INLINE Map are not supported: the lifecycles have none. A Distributed
 *   Map's children are executions of their own, below, where Waits work.)
 * - Distributed Map (`ItemProcessor.ProcessorConfig.Mode: DISTRIBUTED`), which aws-local-stepfunctions
 *   would run inline without its `ItemReader` and `ResultWriter`: before a definition runs, each such Map
 *   state is rewritten into a Task state of the same name (the same `InputPath`, `ResultSelector`,
 *   `ResultPath`, `OutputPath`, `Retry`, `Catch` and transition) whose local resource
 *   ({@link DISTRIBUTED_MAP}) does what Step Functions does:
 *   - the items: `ItemsPath` of the Map's input (default `$`), or the `ItemReader`'s S3 object
 *     (`s3:getObject` of its evaluated `Parameters` with the harness's S3 client, `InputType: JSON`: a
 *     JSON array), `States.ItemReaderFailed` when it cannot be read;
 *   - each item becomes a child execution of the ItemProcessor (registered as the state machine
 *     `<machine>/<state>`, of the processor's `ExecutionType`), its input the item or the `ItemSelector`
 *     evaluated on the Map's input with `$$.Map.Item.Value` / `$$.Map.Item.Index` (paths only: an
 *     intrinsic function there is refused), `MaxConcurrency` at a time (0: all);
 *   - failed children beyond `ToleratedFailurePercentage` / `ToleratedFailureCount` (default 0) fail the
 *     state with `States.ExceedToleratedFailureThreshold` (Step Functions would also stop the children
 *     still running; the harness starts no new one and lets those end);
 *   - without a `ResultWriter` the output is the children's outputs in item order; with one, the
 *     children's results go to S3 as Step Functions writes them (`<Prefix>/<map run id>/manifest.json`,
 *     `SUCCEEDED_0.json`, `FAILED_0.json`: Transformation NONE) and the output is `{ MapRunArn,
 *     ResultWriterDetails: { Bucket, Key } }` (the manifest), `States.ResultWriterFailed` on error.
 *   While the children run, the parent execution lets go of the clock (each child holds it while it
 *   runs), so the children's Waits and `.sync` jobs skip time as any execution's do. The registered
 *   definition (what `describe`/tests read) stays the compiled ASL, exactly as deployed.
 * - Retriers: the engine waits 0 ms (`retryIntervalOverrides`); the harness sleeps on its clock, before the next attempt, the interval Step Functions would wait (backoff, MaxDelaySeconds, full jitter).
 * - StartExecution follows Step Functions' rules: a Standard execution's name is unique (a running one
 *   with the same input is returned again; otherwise ExecutionAlreadyExists); Express names are not
 *   checked, and Express executions cannot be described.
 * - Counts per task instance: executions, and state transitions (states entered, from the execution's
 *   event log).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { StateMachine, type StateMachineDefinition as LocalDefinition } from 'aws-local-stepfunctions';
import type { StateMachineDefinition } from '../lib/compiler/asl-types.ts';
import type { TiKey } from '../lib/store/records.ts';
import type { HarnessClock } from './harness-clock.ts';
import type { LocalLambda } from './local-lambda.ts';
import { StatesError } from './batch-sync.ts';
import { keyOfPayload, type Meter } from './meter.ts';
import { LoopbackEndpoint } from './loopback-server.ts';

export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
export const BATCH_SUBMIT_JOB_SYNC = 'arn:aws:states:::batch:submitJob.sync';
export const START_EXECUTION = 'arn:aws:states:::states:startExecution';
export const LAMBDA_INVOKE_WAIT_FOR_TASK_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
/** In a rewritten waitForTaskToken Task's Parameters: where the state's task token goes. */
const TASK_TOKEN_PLACEHOLDER = 'harness:task-token';
/** Fields of a rewritten waitForTaskToken Task's Parameters carrying its timeouts (evaluated as its paths are). */
const TIMEOUT_FIELD = 'harness:timeoutSeconds';
const HEARTBEAT_FIELD = 'harness:heartbeatSeconds';
/** The engine's own (real-time) timeout of a waitForTaskToken Task: never reached (under setTimeout's 24.8 days); the harness times it on its clock. */
const ENGINE_TIMEOUT_SECONDS = 2_000_000;
const TOKEN_PREFIX = 'AQB';

/** A waitForTaskToken Task waiting for its token to come back. */
interface PendingTask {
  token: string;
  executionArn: string;
  stateName: string;
  lastBeat: number;
  outcome: { ok: true; output: unknown } | { ok: false; error: string; cause: string } | null;
  wake: () => void;
}

/** A SendTask* call the endpoint received, and whether it was taken. */
export interface TaskTokenCall {
  op: 'SendTaskSuccess' | 'SendTaskFailure' | 'SendTaskHeartbeat';
  taskToken: string;
  /** The error type returned, or null when the call was taken. */
  refused: string | null;
}
/** The local resource a Distributed Map state is rewritten into (see the file header). */
export const DISTRIBUTED_MAP = 'harness:distributed-map';
/** The rewritten Distributed Map Task's TimeoutSeconds: about 24 days, the longest a Node timer waits (2^31 - 1 ms). */
const MAP_TASK_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
const S3_GET_OBJECT = 'arn:aws:states:::s3:getObject';
const S3_PUT_OBJECT = 'arn:aws:states:::s3:putObject';

export type WorkflowType = 'STANDARD' | 'EXPRESS';
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  stateMachineName: string;
  name: string;
  type: WorkflowType;
  status: ExecutionStatus;
  input: string;
  output: string | null;
  error: string | null;
  cause: string | null;
  startDate: number;
  stopDate: number | null;
  /** The task instance it runs for (its input's `key`, or its timer event's), if any. */
  key: TiKey | null;
  /** States entered, in order (`Name#i` inside Map iteration i). */
  path: string[];
  /** Wait states entered, with the time each waited until (ISO-8601, harness time). */
  waits: { state: string; until: string }[];
  /** Resolves when the execution has ended. */
  done: Promise<void>;
}

/** A Step Functions API error (`ExecutionAlreadyExists`, `StateMachineDoesNotExist`...). */
export class SfnServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

/** A Distributed Map state, as the harness runs it (see the file header). */
interface DistributedMapRun {
  /** The ItemProcessor, registered as a state machine of its own. */
  child: Registered;
  readFromS3: boolean;
  itemSelector: Record<string, unknown> | null;
  maxConcurrency: number;
  /** `MaxConcurrencyPath`: a path into the Map state's input (instead of `maxConcurrency`). */
  maxConcurrencyPath: string | null;
  toleratedPercentage: number;
  toleratedCount: number;
  writeToS3: boolean;
}

interface Registered {
  arn: string;
  name: string;
  type: WorkflowType;
  /** The definition as registered (the compiled ASL). */
  definition: StateMachineDefinition;
  /** What runs on aws-local-stepfunctions: the definition with its Distributed Maps rewritten. */
  runnable: Record<string, unknown>;
  /** The Distributed Map states, by name. */
  maps: Map<string, DistributedMapRun>;
  /** Built at the first execution (validating the ASL costs about 0.1 s per distinct definition). */
  machine: StateMachine | null;
  /** Wait states by name. */
  waits: Map<string, Record<string, unknown>>;
  /** Task states by name: their Resource. */
  tasks: Map<string, string>;
  /** States with a Retry field: their retriers. */
  retried: Map<string, Retrier[]>;
}

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}

export interface LocalStepFunctionsOptions {
  clock: HarnessClock;
  meter: Meter;
  lambda: LocalLambda;
  /** `batch:submitJob.sync` with a Task state's evaluated parameters. */
  /** `signal` fires when the execution is stopped (StopExecution): Step Functions then terminates the job. */
  submitJobSync(parameters: unknown, signal?: AbortSignal): Promise<unknown>;
  /** S3, for Distributed Maps' `ItemReader` and `ResultWriter`. */
  s3?: S3Client;
  region?: string;
  accountId?: string;
}

const NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;

export class LocalStepFunctions extends LoopbackEndpoint {
  readonly arnPrefix: string;
  private readonly machines = new Map<string, Registered>();
  /** Every execution, by ARN, in the order started. */
  readonly executions = new Map<string, ExecutionRecord>();
  /** How to stop each running Standard execution (StopExecution), by ARN. */
  private readonly stoppers = new Map<string, { controller: AbortController; abort: () => void }>();
  /**
   * Sees every StartExecution request: return `'drop'` to lose it (the caller is told the execution
   * started; nothing runs): a lost event.
   */
  onStartExecution: ((req: { stateMachineName: string; name: string; input: unknown }) => 'drop' | void) | null = null;
  /** StartExecution requests dropped by {@link onStartExecution}. */
  readonly dropped: { stateMachineName: string; name: string; input: unknown }[] = [];
  /** waitForTaskToken Tasks waiting for their token, by token. */
  private readonly pendingTasks = new Map<string, PendingTask>();
  /** Tokens issued whose wait has ended (sent back, timed out, the execution stopped). */
  private readonly closedTokens = new Set<string>();
  private readonly waitingListeners: { stateName: string | null; resolve: (t: { token: string; executionArn: string; stateName: string }) => void }[] = [];
  /** Every SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat received, in order. */
  readonly taskTokenCalls: TaskTokenCall[] = [];

  constructor(private readonly o: LocalStepFunctionsOptions) {
    super();
    this.arnPrefix = `arn:aws:states:${o.region ?? 'us-east-1'}:${o.accountId ?? '000000000000'}:stateMachine:`;
  }

  /** Register (or replace) a state machine; returns its ARN. */
  register(name: string, definition: StateMachineDefinition, type: WorkflowType = 'STANDARD'): string {
    return this.registerLocal(name, definition, type).arn;
  }

  private registerLocal(name: string, definition: StateMachineDefinition, type: WorkflowType): Registered {
    const arn = this.arnPrefix + name;
    const maps = new Map<string, DistributedMapRun>();
    const runnable = structuredClone(definition) as unknown as Record<string, any>;
    const waits = new Map<string, Record<string, unknown>>();
    const tasks = new Map<string, string>();
    const retried = new Map<string, Retrier[]>();
    const walk = (states: Record<string, any>) => {
      for (const [stateName, original] of Object.entries(states)) {
        if (original.Type === 'Map' && original.ItemProcessor?.ProcessorConfig?.Mode === 'DISTRIBUTED') {
          const { state, run } = this.rewriteDistributedMap(name, stateName, original);
          states[stateName] = state;
          maps.set(stateName, run);
        }
        const s = states[stateName];
        if (s.Type === 'Wait') waits.set(stateName, s as Record<string, unknown>);
        if (s.Type === 'Task' && s.Resource === LAMBDA_INVOKE_WAIT_FOR_TASK_TOKEN) rewriteCallbackTask(s as Record<string, unknown>);
        if (s.Type === 'Task') tasks.set(stateName, String(s.Resource));
        if (Array.isArray(s.Retry) && s.Retry.length) retried.set(stateName, s.Retry as Retrier[]);
        const nested = s.ItemProcessor ?? s.Iterator;
        if (nested?.States) walk(nested.States);
        for (const b of s.Branches ?? []) walk(b.States);
      }
    };
    walk(runnable['States'] as Record<string, unknown>);
    const sm: Registered = { arn, name, type, definition, runnable, maps, machine: null, waits, tasks, retried };
    this.machines.set(arn, sm);
    return sm;
  }

  /**
   * A Distributed Map state as the Task state that runs it here (see the file header), and what that
   * Task needs: its ItemProcessor registered as `<machine>/<state>`.
   */
  private rewriteDistributedMap(machineName: string, stateName: string, map: Record<string, any>): { state: Record<string, unknown>; run: DistributedMapRun } {
    const where = `harness: Distributed Map '${stateName}' of ${machineName}`;
    for (const field of ['ItemBatcher', 'ToleratedFailurePercentagePath', 'ToleratedFailureCountPath', 'Parameters', 'Label']) {
      if (map[field] !== undefined) throw new Error(`${where}: ${field} is not supported by the local Step Functions`);
    }
    const reader = map['ItemReader'] as { Resource?: string; ReaderConfig?: Record<string, unknown>; Parameters?: unknown } | undefined;
    if (reader) {
      if (reader.Resource !== S3_GET_OBJECT) throw new Error(`${where}: ItemReader resource ${reader.Resource} is not supported (only ${S3_GET_OBJECT})`);
      if (reader.ReaderConfig?.['InputType'] !== 'JSON' || Object.keys(reader.ReaderConfig).length !== 1) {
        throw new Error(`${where}: ItemReader ReaderConfig ${JSON.stringify(reader.ReaderConfig)} is not supported (only { InputType: JSON })`);
      }
      if (map['ItemsPath'] !== undefined) throw new Error(`${where}: ItemsPath and ItemReader together are not supported`);
    }
    const writer = map['ResultWriter'] as { Resource?: string; Parameters?: unknown; WriterConfig?: unknown } | undefined;
    if (writer && (writer.Resource !== S3_PUT_OBJECT || writer.WriterConfig !== undefined)) {
      throw new Error(`${where}: only a ResultWriter with Resource ${S3_PUT_OBJECT} and Parameters is supported`);
    }
    const processor = map['ItemProcessor'] as { ProcessorConfig: { ExecutionType?: WorkflowType }; StartAt: string; States: Record<string, unknown> };
    const child = this.registerLocal(
      `${machineName}/${stateName}`,
      { Comment: `${where}: child executions`, StartAt: processor.StartAt, States: processor.States } as StateMachineDefinition,
      processor.ProcessorConfig.ExecutionType ?? 'STANDARD',
    );
    const pick = (...fields: string[]) => Object.fromEntries(fields.filter((f) => map[f] !== undefined).map((f) => [f, map[f]]));
    const state = {
      Type: 'Task',
      ...pick('Comment', 'InputPath'),
      Resource: DISTRIBUTED_MAP,
      Parameters: {
        'input.$': '$',
        ...(reader ? { reader: reader.Parameters } : { 'items.$': (map['ItemsPath'] as string | undefined) ?? '$' }),
        ...(writer ? { writer: writer.Parameters } : {}),
      },
      ...pick('ResultSelector', 'ResultPath', 'OutputPath', 'Retry', 'Catch', 'Next', 'End'),
      // A Map state has no timeout, but aws-local-stepfunctions gives a Task without TimeoutSeconds 60 s
      // of real time (a Map Run of 10,000 children takes longer): the longest a Node timer can wait.
      TimeoutSeconds: MAP_TASK_TIMEOUT_SECONDS,
    };
    return {
      state,
      run: {
        child,
        readFromS3: reader !== undefined,
        itemSelector: (map['ItemSelector'] as Record<string, unknown> | undefined) ?? null,
        maxConcurrency: Number(map['MaxConcurrency'] ?? 0),
        maxConcurrencyPath: typeof map['MaxConcurrencyPath'] === 'string' ? map['MaxConcurrencyPath'] : null,
        toleratedPercentage: Number(map['ToleratedFailurePercentage'] ?? 0),
        toleratedCount: Number(map['ToleratedFailureCount'] ?? 0),
        writeToS3: writer !== undefined,
      },
    };
  }

  /** ASL already validated (definitions without their Comment): a definition is validated once. */
  private readonly validated = new Set<string>();

  private machineOf(sm: Registered): StateMachine {
    if (sm.machine) return sm.machine;
    const shape = JSON.stringify({ ...sm.runnable, Comment: null });
    const noValidate = this.validated.has(shape);
    sm.machine = new StateMachine(structuredClone(sm.runnable) as unknown as LocalDefinition, { validationOptions: noValidate ? { noValidate: true } : { checkArn: false } });
    this.validated.add(shape);
    return sm.machine;
  }

  stateMachineArn(name: string): string {
    return this.arnPrefix + name;
  }

  /** StartExecution. */
  startExecution(req: { stateMachineArn: string; name?: string; input?: string }): { executionArn: string; startDate: number } {
    const sm = this.machines.get(req.stateMachineArn);
    if (!sm) throw new SfnServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${req.stateMachineArn}'`);
    const name = req.name ?? randomUUID();
    if (!NAME.test(name)) throw new SfnServiceError('InvalidName', `Invalid Name: '${name}'`);
    const inputText = req.input ?? '{}';
    let input: unknown;
    try {
      input = JSON.parse(inputText);
    } catch {
      throw new SfnServiceError('InvalidExecutionInput', 'Invalid State Machine Execution Input: not JSON');
    }
    const executionArn = `${sm.arn.replace(':stateMachine:', sm.type === 'EXPRESS' ? ':express:' : ':execution:')}:${name}${sm.type === 'EXPRESS' ? `:${randomUUID()}` : ''}`;
    if (sm.type === 'STANDARD') {
      const existing = this.executions.get(executionArn);
      if (existing) {
        if (existing.status === 'RUNNING' && existing.input === inputText) return { executionArn, startDate: existing.startDate };
        throw new SfnServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
    }
    if (this.onStartExecution?.({ stateMachineName: sm.name, name, input }) === 'drop') {
      this.dropped.push({ stateMachineName: sm.name, name, input });
      return { executionArn, startDate: this.o.clock.now() };
    }
    return this.run(sm, executionArn, name, inputText, input);
  }

  /** DescribeExecution (Standard executions only, as in Step Functions). */
  describeExecution(executionArn: string): Record<string, unknown> {
    const e = this.executions.get(executionArn);
    if (!e || e.type === 'EXPRESS') throw new SfnServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return {
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: e.startDate / 1000,
      ...(e.stopDate !== null ? { stopDate: e.stopDate / 1000 } : {}),
      input: e.input,
      ...(e.output !== null ? { output: e.output } : {}),
      ...(e.error !== null ? { error: e.error } : {}),
      ...(e.cause !== null ? { cause: e.cause } : {}),
    };
  }

  /**
   * StopExecution (Standard executions, as in Step Functions): a running execution ends ABORTED with
   * `error` and `cause`; its `.sync` Batch wait terminates its job. A finished one is left as it is.
   */
  stopExecution(executionArn: string, error: string | undefined, cause: string | undefined): { stopDate: number } {
    const e = this.executions.get(executionArn);
    if (!e || e.type === 'EXPRESS') throw new SfnServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    const stop = this.stoppers.get(executionArn);
    if (e.status === 'RUNNING' && stop) {
      this.stoppers.delete(executionArn);
      e.status = 'ABORTED';
      e.error = error ?? null;
      e.cause = cause ?? null;
      stop.controller.abort(new Error(cause ?? 'stopped'));
      stop.abort();
    }
    return { stopDate: e.stopDate ?? this.o.clock.now() };
  }

  /** Executions of a state machine (by name), in the order started. */
  executionsOf(stateMachineName: string): ExecutionRecord[] {
    return [...this.executions.values()].filter((e) => e.stateMachineName === stateMachineName);
  }

  private run(sm: Registered, executionArn: string, name: string, inputText: string, input: unknown): { executionArn: string; startDate: number } {
    const clock = this.o.clock;
    const meter = this.o.meter;
    // Built (and its ASL validated) before anything holds the clock: an invalid definition fails StartExecution.
    const machine = this.machineOf(sm);
    let release = clock.hold();
    // While the children of a Distributed Map run, the execution lets go of the clock (they hold it).
    const releasedWhile = async <T>(fn: () => Promise<T>): Promise<T> => {
      release();
      try {
        return await fn();
      } finally {
        release = clock.hold();
      }
    };
    const key = keyOfPayload(input);
    const startDate = clock.now();
    let settle!: () => void;
    const rec: ExecutionRecord = {
      executionArn,
      stateMachineArn: sm.arn,
      stateMachineName: sm.name,
      name,
      type: sm.type,
      status: 'RUNNING',
      input: inputText,
      output: null,
      error: null,
      cause: null,
      startDate,
      stopDate: null,
      key,
      path: [],
      waits: [],
      done: new Promise<void>((r) => (settle = r)),
    };
    this.executions.set(executionArn, rec);
    meter.add(null, (c) => {
      c.executions++;
      if (sm.type === 'EXPRESS') c.expressExecutions++;
    });

    // Waits: a Wait state takes 0 ms; the Task after it first sleeps on the clock until the Wait's time.
    let waitsStarted = 0;
    const targets: number[] = [];
    const waitTimeOverrides = new Proxy({}, {
      get: (_t, prop) => {
        if (typeof prop !== 'string' || !sm.waits.has(prop)) return undefined;
        waitsStarted++;
        return 0;
      },
    });
    let waitsConsumed = 0;
    const afterWait = async () => {
      if (waitsStarted <= waitsConsumed) return;
      // The Wait's StateEntered event (which carries its input) was logged before it ran: let it arrive.
      for (let i = 0; targets.length === 0 && i < 1000; i++) await new Promise((r) => setImmediate(r));
      const at = targets.shift();
      if (at === undefined) throw new Error(`harness: execution ${name} ran a Wait state whose time never arrived in its event log`);
      waitsConsumed++;
      await clock.sleepUntil(at, true);
    };

    const context = {
      Execution: { Id: executionArn, Name: name, Input: input as never, StartTime: new Date(startDate).toISOString(), RoleArn: 'arn:aws:iam::000000000000:role/airless-e2e' },
      StateMachine: { Id: sm.arn, Name: sm.name },
    };
    const handlers: Record<string, (i: any) => Promise<any>> = {};
    // A Retry's wait passes on the harness clock (the engine itself is told to wait 0 ms): before a state's
    // next attempt, sleep the interval Step Functions would (backoff, MaxDelaySeconds, full jitter).
    const retrying = new Map<string, { error: string; attempts: number[] }>();
    const retryWait = (stateName: string, error: string, attempts: number[]): number => {
      const retriers = sm.retried.get(stateName) ?? [];
      const i = retriers.findIndex((r) => r.ErrorEquals.includes(error) || r.ErrorEquals.includes('States.ALL') || (r.ErrorEquals.includes('States.TaskFailed') && error !== 'States.Timeout'));
      if (i < 0) return 0;
      const r = retriers[i]!;
      const n = attempts[i] ?? 0;
      attempts[i] = n + 1;
      let ms = Math.min((r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** n, r.MaxDelaySeconds ?? Infinity) * 1000;
      if ((r.JitterStrategy ?? 'NONE') === 'FULL') ms = Math.random() * ms;
      return ms;
    };
    for (const [stateName, resource] of sm.tasks) {
      handlers[stateName] = async (parameters: any) => {
        await afterWait();
        const pending = retrying.get(stateName);
        if (pending && pending.error !== '') {
          const ms = retryWait(stateName, pending.error, pending.attempts);
          if (ms > 0) await clock.sleepUntil(clock.now() + ms, true);
        }
        try {
          const out =
            resource === DISTRIBUTED_MAP
              ? await meter.run(key, () => this.distributedMap(sm, stateName, parameters, { ...context, State: { Name: stateName } }, releasedWhile))
              : resource === LAMBDA_INVOKE_WAIT_FOR_TASK_TOKEN
                ? await meter.run(key, () => this.waitForTaskToken(stateName, parameters, executionArn, releasedWhile))
                : await meter.run(key, () => this.integration(resource, stateName, parameters, executionArn));
          retrying.delete(stateName);
          return out;
        } catch (e) {
          if (sm.retried.has(stateName)) retrying.set(stateName, { error: e instanceof Error ? e.name : 'Error', attempts: pending?.attempts ?? [] });
          throw e;
        }
      };
    }
    const retryIntervalOverrides = Object.fromEntries([...sm.retried.keys()].map((s) => [s, 0]));
    let execution: ReturnType<StateMachine['run']>;
    try {
      execution = machine.run(input as never, {
        overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides, retryIntervalOverrides },
        context,
      });
    } catch (e) {
      Object.assign(rec, { status: 'FAILED', error: e instanceof Error ? e.name : 'Error', cause: String(e), stopDate: clock.now() });
      release();
      settle();
      throw e;
    }
    // Events count for the execution's task instance.
    const events = meter.run(key, async () => {
      for await (const e of execution.eventLogs) {
        if (e.type !== 'StateEntered') continue;
        rec.path.push(e.index === undefined ? e.state.name : `${e.state.name}#${e.index}`);
        meter.add(null, (c) => {
          c.transitions++;
          if (sm.type === 'EXPRESS') c.expressTransitions++;
        });
        const wait = sm.waits.get(e.state.name);
        if (wait) {
          // A Wait inside an inline Map iteration (an item's retry delay) too: the next Task to start after
          // it (in any iteration) sleeps until the earliest time waited for.
          const at = waitUntil(wait, e.state.input, clock.now());
          targets.push(at);
          if (e.index !== undefined) targets.sort((a, b) => a - b);
          rec.waits.push({ state: e.index === undefined ? e.state.name : `${e.state.name}#${e.index}`, until: new Date(at).toISOString() });
        }
      }
    });
    if (sm.type === 'STANDARD') this.stoppers.set(executionArn, { controller: new AbortController(), abort: () => execution.abort() });
    void execution.result.then(
      (output) => {
        if (rec.status === 'ABORTED') return;
        rec.status = 'SUCCEEDED';
        rec.output = JSON.stringify(output);
      },
      (e: unknown) => {
        // Stopped by StopExecution: its record says so already.
        if (rec.status === 'ABORTED') return;
        const cause = (e as { cause?: unknown }).cause;
        const err = cause instanceof Error ? cause : e instanceof Error ? e : new Error(String(e));
        rec.status = err.name === 'ExecutionAbortedError' ? 'ABORTED' : 'FAILED';
        rec.error = err.name;
        rec.cause = err.message;
      },
    )
      .then(() => events)
      .finally(() => {
        this.stoppers.delete(executionArn);
        rec.stopDate = clock.now();
        release();
        settle();
      });
    return { executionArn, startDate };
  }

  /**
   * Run a Distributed Map state (rewritten into a Task, see the file header): `p` is the Task's evaluated
   * parameters (`input`, and `items` or `reader`, and `writer`), `context` the execution's context object.
   */
  private async distributedMap(
    sm: Registered,
    stateName: string,
    p: { input: unknown; items?: unknown; reader?: { Bucket?: unknown; Key?: unknown }; writer?: { Bucket?: unknown; Prefix?: unknown } },
    context: Record<string, unknown>,
    releasedWhile: <T>(fn: () => Promise<T>) => Promise<T>,
  ): Promise<unknown> {
    const run = sm.maps.get(stateName);
    if (!run) throw new Error(`harness: no Distributed Map '${stateName}' in ${sm.name}`);
    let items: unknown = p.items;
    if (run.readFromS3) {
      const { Bucket, Key } = p.reader ?? {};
      try {
        const res = await this.s3().send(new GetObjectCommand({ Bucket: String(Bucket), Key: String(Key) }));
        items = JSON.parse((await res.Body?.transformToString('utf-8')) ?? 'null');
      } catch (e) {
        throw new StatesError('States.ItemReaderFailed', `s3://${String(Bucket)}/${String(Key)}: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (!Array.isArray(items)) throw new StatesError('States.ItemReaderFailed', `s3://${String(Bucket)}/${String(Key)} does not hold a JSON array`);
    }
    if (!Array.isArray(items)) throw new StatesError('States.Runtime', `the items of Map state '${stateName}' are not an array`);
    const inputs = items.map((value, index) =>
      run.itemSelector ? evaluateTemplate(run.itemSelector, p.input, { ...context, Map: { Item: { Index: index, Value: value } } }, stateName) : value,
    );
    const mapRunId = randomUUID();
    const mapRunArn = `${sm.arn.replace(':stateMachine:', ':mapRun:')}/${stateName}:${mapRunId}`;

    // The children, MaxConcurrency at a time; once failures pass the threshold, none starts.
    const tolerated = (failed: number) => failed <= run.toleratedCount || (inputs.length > 0 && (failed / inputs.length) * 100 <= run.toleratedPercentage);
    const children: (ExecutionRecord | null)[] = inputs.map(() => null);
    let failed = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < inputs.length && tolerated(failed)) {
        const i = next++;
        const rec = await this.startChild(run.child, inputs[i]);
        children[i] = rec;
        if (rec.status !== 'SUCCEEDED') failed++;
      }
    };
    const maxConcurrency = run.maxConcurrencyPath === null ? run.maxConcurrency : Number((evaluateTemplate({ 'm.$': run.maxConcurrencyPath }, p.input, context, stateName) as { m?: unknown }).m ?? 0);
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 0) throw new StatesError('States.Runtime', `MaxConcurrencyPath ${run.maxConcurrencyPath ?? ''} of Map state '${stateName}' is not a whole number >= 0`);
    const width = maxConcurrency > 0 ? Math.min(maxConcurrency, inputs.length) : inputs.length;
    await releasedWhile(() => Promise.all(Array.from({ length: width }, worker)));

    const ran = children.filter((c): c is ExecutionRecord => c !== null);
    let output: unknown = children.map((c) => (c?.output != null ? (JSON.parse(c.output) as unknown) : null));
    const pending = inputs.filter((_, i) => children[i] === null);
    if (run.writeToS3) output = await this.writeResults(p.writer ?? {}, mapRunArn, mapRunId, ran, pending);
    if (!tolerated(failed)) {
      const first = ran.find((c) => c.status !== 'SUCCEEDED');
      throw new StatesError(
        'States.ExceedToleratedFailureThreshold',
        `Map state '${stateName}': ${failed} of ${inputs.length} child executions failed (first: ${first?.error ?? '?'}: ${first?.cause ?? ''})`,
      );
    }
    return output;
  }

  /** Start a child execution of a Distributed Map and wait for its end. */
  private async startChild(child: Registered, input: unknown): Promise<ExecutionRecord> {
    const name = randomUUID();
    const executionArn = `${child.arn.replace(':stateMachine:', child.type === 'EXPRESS' ? ':express:' : ':execution:')}:${name}`;
    try {
      this.run(child, executionArn, name, JSON.stringify(input), input);
    } catch (e) {
      // Failed as it started: its record says how; without one (an invalid definition), the Map fails.
      if (!this.executions.has(executionArn)) throw e;
    }
    const rec = this.executions.get(executionArn)!;
    await rec.done;
    return rec;
  }

  /** A ResultWriter's export (Transformation NONE, OutputType JSON): the result files, the manifest, and the state's output. */
  private async writeResults(writer: { Bucket?: unknown; Prefix?: unknown }, mapRunArn: string, mapRunId: string, ran: ExecutionRecord[], pending: unknown[]): Promise<unknown> {
    const bucket = String(writer.Bucket);
    const prefix = typeof writer.Prefix === 'string' && writer.Prefix !== '' ? `${writer.Prefix.replace(/\/+$/, '')}/` : '';
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const entry = (c: ExecutionRecord) => ({
      ExecutionArn: c.executionArn,
      Input: c.input,
      InputDetails: { Included: true },
      Name: c.name,
      ...(c.status === 'SUCCEEDED' ? { Output: c.output, OutputDetails: { Included: true } } : { Error: c.error, Cause: c.cause }),
      RedriveCount: 0,
      RedriveStatus: 'NOT_REDRIVABLE',
      StartDate: iso(c.startDate),
      StateMachineArn: c.stateMachineArn,
      Status: c.status,
      StopDate: iso(c.stopDate),
    });
    const files: Record<'SUCCEEDED' | 'FAILED' | 'PENDING', { Key: string; Size: number }[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
    const put = async (key: string, body: string) => {
      try {
        await this.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
      } catch (e) {
        throw new StatesError('States.ResultWriterFailed', `s3://${bucket}/${key}: ${e instanceof Error ? e.message : String(e)}`);
      }
      return Buffer.byteLength(body, 'utf8');
    };
    for (const status of ['SUCCEEDED', 'FAILED'] as const) {
      const list = ran.filter((c) => (status === 'SUCCEEDED') === (c.status === 'SUCCEEDED')).map(entry);
      if (list.length === 0) continue;
      const key = `${prefix}${mapRunId}/${status}_0.json`;
      files[status].push({ Key: key, Size: await put(key, JSON.stringify(list)) });
    }
    if (pending.length > 0) {
      // Children never started (the Map Run failed first): Step Functions lists them as PENDING.
      const key = `${prefix}${mapRunId}/PENDING_0.json`;
      files.PENDING.push({ Key: key, Size: await put(key, JSON.stringify(pending.map((i) => ({ Input: JSON.stringify(i), InputDetails: { Included: true }, Status: 'PENDING' })))) });
    }
    const manifestKey = `${prefix}${mapRunId}/manifest.json`;
    await put(manifestKey, JSON.stringify({ DestinationBucket: bucket, MapRunArn: mapRunArn, ResultFiles: files }));
    return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket: bucket, Key: manifestKey } };
  }

  private s3(): S3Client {
    if (!this.o.s3) throw new Error('harness: a Distributed Map reads or writes S3, and the local Step Functions was given no S3 client');
    return this.o.s3;
  }

  /**
   * A `lambda:invoke.waitForTaskToken` Task (rewritten, see {@link rewriteCallbackTask}): a new token, the
   * function invoked with it (its error fails the state, as the Lambda integration's does), then the wait,
   * the execution letting go of the clock, until the token comes back or a timeout passes on the clock.
   */
  private async waitForTaskToken(stateName: string, p: Record<string, unknown>, executionArn: string, releasedWhile: <T>(fn: () => Promise<T>) => Promise<T>): Promise<unknown> {
    const { [TIMEOUT_FIELD]: timeout, [HEARTBEAT_FIELD]: heartbeat, ...params } = p;
    const seconds = (v: unknown, what: string): number | null => {
      if (v === undefined) return null;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new StatesError('States.Runtime', `${what} of Task state '${stateName}' must be a whole number >= 1, got ${JSON.stringify(v)}`);
      return v;
    };
    const timeoutSeconds = seconds(timeout, 'TimeoutSeconds');
    const heartbeatSeconds = seconds(heartbeat, 'HeartbeatSeconds');
    const clock = this.o.clock;
    const token = TOKEN_PREFIX + Buffer.from(JSON.stringify({ executionArn, stateName, id: randomUUID() })).toString('base64');
    const pending: PendingTask = { token, executionArn, stateName, lastBeat: clock.now(), outcome: null, wake: () => undefined };
    // Registered before the invocation: the function may send its token back before it returns.
    this.pendingTasks.set(token, pending);
    const stop = this.stoppers.get(executionArn)?.controller.signal;
    try {
      const withToken = replaceToken(params, token) as { FunctionName?: unknown; Payload?: unknown };
      await this.o.lambda.invoke(String(withToken.FunctionName), withToken.Payload);
      for (const l of this.waitingListeners.splice(0)) {
        if (l.stateName === null || l.stateName === stateName) l.resolve({ token, executionArn, stateName });
        else this.waitingListeners.push(l);
      }
      const deadline = timeoutSeconds === null ? null : clock.now() + timeoutSeconds * 1000;
      return await releasedWhile(async () => {
        for (;;) {
          if (pending.outcome) {
            if (pending.outcome.ok) return pending.outcome.output;
            throw new StatesError(pending.outcome.error, pending.outcome.cause);
          }
          if (stop?.aborted) throw new StatesError('States.Runtime', 'the execution was stopped');
          const beatDue = heartbeatSeconds === null ? null : pending.lastBeat + heartbeatSeconds * 1000;
          const now = clock.now();
          if (deadline !== null && now >= deadline) throw new StatesError('States.Timeout', `no SendTaskSuccess or SendTaskFailure for Task state '${stateName}' within its TimeoutSeconds (${timeoutSeconds ?? ''})`);
          if (beatDue !== null && now >= beatDue) throw new StatesError('States.Timeout', `no SendTaskHeartbeat for Task state '${stateName}' within its HeartbeatSeconds (${heartbeatSeconds ?? ''}): States.HeartbeatTimeout`);
          const woken = new AbortController();
          pending.wake = () => woken.abort();
          const onStop = () => woken.abort();
          stop?.addEventListener('abort', onStop, { once: true });
          const until = [deadline, beatDue].filter((t): t is number => t !== null);
          try {
            if (until.length === 0) await new Promise<void>((resolve) => woken.signal.addEventListener('abort', () => resolve(), { once: true }));
            else await clock.sleepUntil(Math.min(...until), false, woken.signal);
          } finally {
            stop?.removeEventListener('abort', onStop);
          }
        }
      });
    } finally {
      this.pendingTasks.delete(token);
      this.closedTokens.add(token);
    }
  }

  /** Resolves once a waitForTaskToken Task (of `stateName`, or any) has invoked its function and waits for its token. */
  nextTaskWaiting(stateName: string | null = null): Promise<{ token: string; executionArn: string; stateName: string }> {
    return new Promise((resolve) => this.waitingListeners.push({ stateName, resolve }));
  }

  /** The waitForTaskToken Tasks waiting now. */
  tasksWaiting(): { token: string; executionArn: string; stateName: string }[] {
    return [...this.pendingTasks.values()].map(({ token, executionArn, stateName }) => ({ token, executionArn, stateName }));
  }

  /** SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat, as Step Functions answers them. */
  sendTask(op: TaskTokenCall['op'], body: Record<string, unknown>): Record<string, never> {
    const taskToken = typeof body['taskToken'] === 'string' ? body['taskToken'] : '';
    try {
      const pending = this.pendingTasks.get(taskToken);
      if (!pending) {
        if (this.closedTokens.has(taskToken)) throw new SfnServiceError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
        if (!taskToken.startsWith(TOKEN_PREFIX) || taskToken.length < 16) throw new SfnServiceError('InvalidToken', `Invalid Token: '${taskToken.slice(0, 40)}'`);
        throw new SfnServiceError('TaskDoesNotExist', 'Task Does Not Exist');
      }
      switch (op) {
        case 'SendTaskSuccess': {
          let output: unknown;
          try {
            output = JSON.parse(String(body['output']));
          } catch {
            throw new SfnServiceError('InvalidOutput', 'Invalid Output: not JSON');
          }
          pending.outcome = { ok: true, output };
          break;
        }
        case 'SendTaskFailure':
          pending.outcome = { ok: false, error: typeof body['error'] === 'string' ? body['error'] : '', cause: typeof body['cause'] === 'string' ? body['cause'] : '' };
          break;
        case 'SendTaskHeartbeat':
          pending.lastBeat = this.o.clock.now();
          break;
      }
      if (pending.outcome) {
        this.pendingTasks.delete(taskToken);
        this.closedTokens.add(taskToken);
      }
      pending.wake();
      this.taskTokenCalls.push({ op, taskToken, refused: null });
      return {};
    } catch (e) {
      this.taskTokenCalls.push({ op, taskToken, refused: e instanceof SfnServiceError ? e.type : 'InternalFailure' });
      throw e;
    }
  }

  private async integration(resource: string, stateName: string, p: any, executionArn: string): Promise<unknown> {
    switch (resource) {
      case LAMBDA_INVOKE: {
        const payload = await this.o.lambda.invoke(String(p?.FunctionName), p?.Payload);
        return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
      }
      case BATCH_SUBMIT_JOB_SYNC:
        return this.o.submitJobSync(p, this.stoppers.get(executionArn)?.controller.signal);
      case START_EXECUTION: {
        const input = JSON.stringify(p?.Input ?? {});
        let r: { executionArn: string; startDate: number };
        try {
          r = this.startExecution({ stateMachineArn: String(p?.StateMachineArn), input, ...(p?.Name ? { name: String(p.Name) } : {}) });
        } catch (e) {
          // As Step Functions names an API error of the integration: `StepFunctions.<Type>Exception`.
          if (e instanceof SfnServiceError) throw new StatesError(`StepFunctions.${e.type}${e.type.endsWith('Exception') ? '' : 'Exception'}`, e.message);
          throw e;
        }
        return { ExecutionArn: r.executionArn, StartDate: new Date(r.startDate).toISOString() };
      }
      default:
        throw new Error(`harness: Task state '${stateName}' of ${executionArn} uses ${resource}, which the local Step Functions does not integrate`);
    }
  }



  protected override async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() });
      res.end(JSON.stringify(body));
    };
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith('AWSStepFunctions.') ? target.slice('AWSStepFunctions.'.length) : '';
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      switch (op) {
        case 'StartExecution': {
          const r = this.startExecution({
            stateMachineArn: String(body['stateMachineArn']),
            ...(typeof body['name'] === 'string' ? { name: body['name'] } : {}),
            ...(typeof body['input'] === 'string' ? { input: body['input'] } : {}),
          });
          return reply(200, { executionArn: r.executionArn, startDate: r.startDate / 1000 });
        }
        case 'DescribeExecution':
          return reply(200, this.describeExecution(String(body['executionArn'])));
        case 'SendTaskSuccess':
        case 'SendTaskFailure':
        case 'SendTaskHeartbeat':
          return reply(200, this.sendTask(op, body));
        case 'StopExecution': {
          const r = this.stopExecution(String(body['executionArn']), typeof body['error'] === 'string' ? body['error'] : undefined, typeof body['cause'] === 'string' ? body['cause'] : undefined);
          return reply(200, { stopDate: r.stopDate / 1000 });
        }
        default:
          return reply(400, { __type: 'UnknownOperationException', message: `${op || target} is not an operation of the local Step Functions` });
      }
    } catch (e) {
      if (e instanceof SfnServiceError) return reply(400, { __type: e.type, message: e.message });
      return reply(500, { __type: 'InternalFailure', message: e instanceof Error ? e.message : String(e) });
    }
  }
}

/**
 * Rewrite a `lambda:invoke.waitForTaskToken` Task state (in the runnable copy) for the harness: every
 * `"<field>.$": "$$.Task.Token"` of its Parameters becomes a placeholder the harness fills with the token
 * it makes (the engine has no task token), its timeouts become Parameters fields (evaluated as its
 * paths are: on the state's input), and the engine's own real-time timeout is set out of reach.
 */
function rewriteCallbackTask(state: Record<string, unknown>): void {
  const swap = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(swap);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => (k.endsWith('.$') && x === '$$.Task.Token' ? [k.slice(0, -2), TASK_TOKEN_PLACEHOLDER] : [k, swap(x)])));
  };
  const params = swap(state['Parameters'] ?? {}) as Record<string, unknown>;
  for (const [field, fixed, path] of [
    [TIMEOUT_FIELD, 'TimeoutSeconds', 'TimeoutSecondsPath'],
    [HEARTBEAT_FIELD, 'HeartbeatSeconds', 'HeartbeatSecondsPath'],
  ] as const) {
    if (typeof state[fixed] === 'number') params[field] = state[fixed];
    if (typeof state[path] === 'string') params[`${field}.$`] = state[path];
    delete state[fixed];
    delete state[path];
  }
  state['Parameters'] = params;
  state['TimeoutSeconds'] = ENGINE_TIMEOUT_SECONDS;
}

/** A value with the task token placeholder replaced by `token`. */
function replaceToken(v: unknown, token: string): unknown {
  if (v === TASK_TOKEN_PLACEHOLDER) return token;
  if (Array.isArray(v)) return v.map((x) => replaceToken(x, token));
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceToken(x, token)]));
}

/** A value at a simple JSONPath (`$`, `$.a.b`, `$.a[0].b`). */
function pathValue(input: unknown, path: string): unknown {
  if (!path.startsWith('$')) throw new Error(`unsupported path '${path}'`);
  let v = input;
  for (const part of path.slice(1).match(/\.[^.[\]]+|\[\d+\]/g) ?? []) {
    if (v === null || typeof v !== 'object') return undefined;
    v = part.startsWith('[') ? (v as unknown[])[Number(part.slice(1, -1))] : (v as Record<string, unknown>)[part.slice(1)];
  }
  return v;
}

/**
 * A payload template (a Distributed Map's ItemSelector) evaluated on `input` and the context object:
 * `<key>.$` fields take a path (`$.a.b`, or `$$.Map.Item.Value` and the like on the context). Intrinsic
 * functions are refused (the lifecycles use none there).
 */
function evaluateTemplate(template: unknown, input: unknown, context: unknown, stateName: string): unknown {
  if (Array.isArray(template)) return template.map((t) => evaluateTemplate(t, input, context, stateName));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(template)) {
    if (!k.endsWith('.$')) {
      out[k] = evaluateTemplate(v, input, context, stateName);
      continue;
    }
    if (typeof v !== 'string' || !v.startsWith('$')) throw new Error(`harness: ItemSelector field '${k}' of '${stateName}': only paths are supported, got ${JSON.stringify(v)}`);
    const value = v.startsWith('$$') ? pathValue(context, v.slice(1)) : pathValue(input, v);
    if (value === undefined) throw new StatesError('States.Runtime', `ItemSelector of '${stateName}': the path '${v}' matches nothing`);
    out[k.slice(0, -2)] = value;
  }
  return out;
}

/** When a Wait state entered at `now` with `input` ends. */
function waitUntil(state: Record<string, unknown>, input: unknown, now: number): number {
  if (typeof state['Seconds'] === 'number') return now + state['Seconds'] * 1000;
  if (typeof state['Timestamp'] === 'string') return Date.parse(state['Timestamp']);
  if (typeof state['SecondsPath'] === 'string') return now + Number(pathValue(input, state['SecondsPath'])) * 1000;
  if (typeof state['TimestampPath'] === 'string') return Date.parse(String(pathValue(input, state['TimestampPath'])));
  return now;
}
