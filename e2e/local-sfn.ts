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
 * - Wait states: aws-local-stepfunctions' `waitTimeOverrides` make them take 0 ms; the wait itself
 *   happens on the harness's skipping clock (clock.ts), at the start of the Task that follows the Wait:
 *   that Task runs once the clock has reached the Wait's time (which it jumps to when nothing else is in
 *   flight). So executions, handlers and jobs all see the time a real wait would have taken. (Waits
 *   inside Map iterations are not supported: the lifecycles have none.)
 * - Retriers wait 0 ms (`retryIntervalOverrides`).
 * - StartExecution follows Step Functions' rules: a Standard execution's name is unique (a running one
 *   with the same input is returned again; otherwise ExecutionAlreadyExists); Express names are not
 *   checked, and Express executions cannot be described.
 * - Counts per task instance: executions, and state transitions (states entered, from the execution's
 *   event log).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { StateMachine, type StateMachineDefinition as LocalDefinition } from 'aws-local-stepfunctions';
import type { StateMachineDefinition } from '../lib/compiler/asl-types.ts';
import type { TiKey } from '../lib/store/records.ts';
import type { HarnessClock } from './harness-clock.ts';
import type { LocalLambda } from './local-lambda.ts';
import { keyOfPayload, type Meter } from './meter.ts';
import { listenOnLoopback } from './loopback-server.ts';

export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
export const BATCH_SUBMIT_JOB_SYNC = 'arn:aws:states:::batch:submitJob.sync';
export const START_EXECUTION = 'arn:aws:states:::states:startExecution';

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

interface Registered {
  arn: string;
  name: string;
  type: WorkflowType;
  definition: StateMachineDefinition;
  /** Built at the first execution (validating the ASL costs about 0.1 s per distinct definition). */
  machine: StateMachine | null;
  /** Wait states by name. */
  waits: Map<string, Record<string, unknown>>;
  /** Task states by name: their Resource. */
  tasks: Map<string, string>;
  /** States with a Retry field. */
  retried: string[];
}

export interface LocalStepFunctionsOptions {
  clock: HarnessClock;
  meter: Meter;
  lambda: LocalLambda;
  /** `batch:submitJob.sync` with a Task state's evaluated parameters. */
  submitJobSync(parameters: unknown): Promise<unknown>;
  region?: string;
  accountId?: string;
}

const NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;

export class LocalStepFunctions {
  readonly arnPrefix: string;
  private readonly machines = new Map<string, Registered>();
  /** Every execution, by ARN, in the order started. */
  readonly executions = new Map<string, ExecutionRecord>();
  /**
   * Sees every StartExecution request: return `'drop'` to lose it (the caller is told the execution
   * started; nothing runs): a lost event.
   */
  onStartExecution: ((req: { stateMachineName: string; name: string; input: unknown }) => 'drop' | void) | null = null;
  /** StartExecution requests dropped by {@link onStartExecution}. */
  readonly dropped: { stateMachineName: string; name: string; input: unknown }[] = [];
  private server: Server | null = null;
  endpoint = '';

  constructor(private readonly o: LocalStepFunctionsOptions) {
    this.arnPrefix = `arn:aws:states:${o.region ?? 'us-east-1'}:${o.accountId ?? '000000000000'}:stateMachine:`;
  }

  /** Register (or replace) a state machine; returns its ARN. */
  register(name: string, definition: StateMachineDefinition, type: WorkflowType = 'STANDARD'): string {
    const arn = this.arnPrefix + name;
    const waits = new Map<string, Record<string, unknown>>();
    const tasks = new Map<string, string>();
    const retried: string[] = [];
    const walk = (states: Record<string, any>) => {
      for (const [stateName, s] of Object.entries(states)) {
        if (s.Type === 'Wait') waits.set(stateName, s as Record<string, unknown>);
        if (s.Type === 'Task') tasks.set(stateName, String(s.Resource));
        if (Array.isArray(s.Retry) && s.Retry.length) retried.push(stateName);
        const nested = s.ItemProcessor ?? s.Iterator;
        if (nested?.States) walk(nested.States);
        for (const b of s.Branches ?? []) walk(b.States);
      }
    };
    walk(definition.States as Record<string, unknown>);
    this.machines.set(arn, { arn, name, type, definition, machine: null, waits, tasks, retried });
    return arn;
  }

  /** ASL already validated (definitions without their Comment): a definition is validated once. */
  private readonly validated = new Set<string>();

  private machineOf(sm: Registered): StateMachine {
    if (sm.machine) return sm.machine;
    const shape = JSON.stringify({ ...sm.definition, Comment: null });
    const noValidate = this.validated.has(shape);
    sm.machine = new StateMachine(structuredClone(sm.definition) as unknown as LocalDefinition, { validationOptions: noValidate ? { noValidate: true } : { checkArn: false } });
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

  /** Executions of a state machine (by name), in the order started. */
  executionsOf(stateMachineName: string): ExecutionRecord[] {
    return [...this.executions.values()].filter((e) => e.stateMachineName === stateMachineName);
  }

  private run(sm: Registered, executionArn: string, name: string, inputText: string, input: unknown): { executionArn: string; startDate: number } {
    const clock = this.o.clock;
    const meter = this.o.meter;
    // Built (and its ASL validated) before anything holds the clock: an invalid definition fails StartExecution.
    const machine = this.machineOf(sm);
    const release = clock.hold();
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
    const waitTimeOverrides = new Proxy({} as Record<string, number>, {
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

    const handlers: Record<string, (i: any) => Promise<any>> = {};
    for (const [stateName, resource] of sm.tasks) {
      handlers[stateName] = async (parameters: any) => {
        await afterWait();
        return meter.run(key, () => this.integration(resource, stateName, parameters, executionArn));
      };
    }
    const retryIntervalOverrides = Object.fromEntries(sm.retried.map((s) => [s, 0]));
    let execution: ReturnType<StateMachine['run']>;
    try {
      execution = machine.run(input as never, {
        overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides, retryIntervalOverrides },
        context: {
          Execution: { Id: executionArn, Name: name, Input: input as never, StartTime: new Date(startDate).toISOString(), RoleArn: 'arn:aws:iam::000000000000:role/airless-e2e' },
          StateMachine: { Id: sm.arn, Name: sm.name },
        },
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
        if (wait && e.index === undefined) {
          const at = waitUntil(wait, e.state.input, clock.now());
          targets.push(at);
          rec.waits.push({ state: e.state.name, until: new Date(at).toISOString() });
        }
      }
    });
    void execution.result.then(
      (output) => {
        rec.status = 'SUCCEEDED';
        rec.output = JSON.stringify(output);
      },
      (e: unknown) => {
        const cause = (e as { cause?: unknown }).cause;
        const err = cause instanceof Error ? cause : e instanceof Error ? e : new Error(String(e));
        rec.status = err.name === 'ExecutionAbortedError' ? 'ABORTED' : 'FAILED';
        rec.error = err.name;
        rec.cause = err.message;
      },
    )
      .then(() => events)
      .finally(() => {
        rec.stopDate = clock.now();
        release();
        settle();
      });
    return { executionArn, startDate };
  }

  private async integration(resource: string, stateName: string, p: any, executionArn: string): Promise<unknown> {
    switch (resource) {
      case LAMBDA_INVOKE: {
        const payload = await this.o.lambda.invoke(String(p?.FunctionName), p?.Payload);
        return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
      }
      case BATCH_SUBMIT_JOB_SYNC:
        return this.o.submitJobSync(p);
      case START_EXECUTION: {
        const input = JSON.stringify(p?.Input ?? {});
        const r = this.startExecution({ stateMachineArn: String(p?.StateMachineArn), input, ...(p?.Name ? { name: String(p.Name) } : {}) });
        return { ExecutionArn: r.executionArn, StartDate: new Date(r.startDate).toISOString() };
      }
      default:
        throw new Error(`harness: Task state '${stateName}' of ${executionArn} uses ${resource}, which the local Step Functions does not integrate`);
    }
  }

  /** Listen on a free port of 127.0.0.1 (the Step Functions API, awsJson1_0). */
  async listen(): Promise<string> {
    const { server, endpoint } = await listenOnLoopback((req, res) => this.serve(req, res));
    this.server = server;
    this.endpoint = endpoint;
    return endpoint;
  }

  /** Stop listening; executions still running are left to end (nothing new can start them). */
  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
        default:
          return reply(400, { __type: 'UnknownOperationException', message: `${op || target} is not an operation of the local Step Functions` });
      }
    } catch (e) {
      if (e instanceof SfnServiceError) return reply(400, { __type: e.type, message: e.message });
      return reply(500, { __type: 'InternalFailure', message: e instanceof Error ? e.message : String(e) });
    }
  }
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

/** When a Wait state entered at `now` with `input` ends. */
function waitUntil(state: Record<string, unknown>, input: unknown, now: number): number {
  if (typeof state['Seconds'] === 'number') return now + state['Seconds'] * 1000;
  if (typeof state['Timestamp'] === 'string') return Date.parse(state['Timestamp']);
  if (typeof state['SecondsPath'] === 'string') return now + Number(pathValue(input, state['SecondsPath'])) * 1000;
  if (typeof state['TimestampPath'] === 'string') return Date.parse(String(pathValue(input, state['TimestampPath'])));
  return now;
}
