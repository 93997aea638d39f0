import type { StateStore } from '../../lib/store/state-store.ts';

/** How an injected fault behaves at its write. */
export type FaultMode =
  /** The write fails before it applies (a refused or lost request). */
  | 'before'
  /** The write applies, then its caller gets an error (a lost answer). */
  | 'after'
  /** The write applies, then the process dies (nothing of it runs on). */
  | 'die';

export const FAULT_MODES: readonly FaultMode[] = ['before', 'after', 'die'];

/** The state store calls that write (the points where a fault is injected). */
export const WRITE_METHODS: ReadonlySet<string> = new Set([
  'createRun', 'updateRun', 'expireRun', 'reviveRun', 'claimDecision', 'claimExpansion', 'createTaskInstances', 'updateTaskInstance',
  'finishTaskInstance', 'updateTaskInstances', 'finishTaskInstances', 'putXComs', 'appendLogs', 'resetTaskInstances', 'withdrawExpansion',
  'deleteTaskResults', 'deleteRun', 'deleteDagRecord', 'deleteSemaphores', 'createBackfill', 'updateBackfill', 'putXCom', 'putItemResult',
  'appendPipelineSave', 'appendLog', 'registerDagVersion', 'markDagVersionPruned', 'setDagPaused', 'putPool', 'tryAcquire', 'release', 'countUp', 'enqueueWaiter',
  'dequeueWaiter', 'putAssetEvent', 'addAssetEventRuns', 'upsertAsset', 'queueAssetEvent', 'consumeAssetQueue', 'claimAssetQueue', 'finishAssetClaim',
]);

/** A transient store failure, as a network error or a throttle would be: retryable. */
export class InjectedStoreFault extends Error {
  override name = 'InjectedStoreFault';
  readonly retryable = true;
}

/** Thrown by every call of a store whose process "died" (in-process simulation of a crash). */
export class ProcessDiedError extends Error {
  override name = 'ProcessDiedError';
}

export interface FaultPlan {
  /** The write (1-based) that faults; 0: none. */
  at: number;
  mode: FaultMode;
}

/**
 * A state store that injects one fault at write number `plan.at`. Writes are counted across every
 * incarnation sharing the counter. In mode 'die' the fault calls `onDie` after the write applied (a
 * real process kills itself there); by default this incarnation is marked dead and every later call
 * of it throws ProcessDiedError, so that nothing of the dead process writes again.
 */
export class FaultInjector {
  writes = 0;
  injected = false;
  dead = false;

  constructor(
    readonly plan: FaultPlan,
    private readonly onDie: () => void = () => undefined,
  ) {}

  wrap(store: StateStore): StateStore {
    return new Proxy(store, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => Promise<unknown>;
        const isWrite = typeof prop === 'string' && WRITE_METHODS.has(prop);
        return async (...args: unknown[]) => {
          if (this.dead) throw new ProcessDiedError(`the process died at write ${this.plan.at}`);
          if (!isWrite) return method.apply(target, args);
          return this.around(String(prop), () => method.apply(target, args));
        };
      },
    });
  }

  /** Count one write (`what`), and inject the fault around `write` if it is the planned one. */
  async around<T>(what: string, write: () => Promise<T>): Promise<T> {
    const n = ++this.writes;
    if (n !== this.plan.at || this.injected) return write();
    this.injected = true;
    const detail = `injected fault (${this.plan.mode}) at write ${n}: ${what}`;
    if (this.plan.mode === 'before') throw new InjectedStoreFault(detail);
    await write();
    if (this.plan.mode === 'after') throw new InjectedStoreFault(detail);
    this.dead = true;
    this.onDie();
    throw new ProcessDiedError(detail);
  }
}

/** DynamoDB operations that write (the points where the middleware injects a fault). */
export const DYNAMODB_WRITE_COMMANDS: ReadonlySet<string> = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand']);

/** The part of an AWS SDK client's middleware stack the injector uses. */
export interface MiddlewareStackLike {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>,
    options: { step: 'initialize'; name: string; priority?: 'high' | 'normal' | 'low' },
  ): void;
}

/**
 * Inject `injector`'s fault into a DynamoDB client: a middleware at the start of the stack (above the
 * SDK's own retries) that counts write requests and fails, or lets apply and then fails, or lets apply
 * and then "dies", at write number `plan.at`. After a death every request of this client fails, unless
 * `dieStopsClient` is false: deployed, a death ends one Lambda invocation (the client's other users are
 * other invocations, which go on).
 */
export function injectIntoDynamoDbClient(injector: FaultInjector, stack: MiddlewareStackLike, options: { dieStopsClient?: boolean } = {}): void {
  const dieStopsClient = options.dieStopsClient ?? true;
  stack.add(
    (next, context) => async (args) => {
      if (injector.dead && dieStopsClient) throw new ProcessDiedError(`the process died at write ${injector.plan.at}`);
      const name = String(context.commandName);
      if (!DYNAMODB_WRITE_COMMANDS.has(name)) return next(args);
      return injector.around(name, () => next(args));
    },
    // Outermost (high priority): the SDK's own logger middleware does not log the injected errors.
    { step: 'initialize', name: 'airlessFaultInjection', priority: 'high' },
  );
}
