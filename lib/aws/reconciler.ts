/**
 * The reconciler of the deployed shape: a loop (lib/compiler/reconciler.ts) that exists only while runs
 * are active, coordinated by one small item of the table, the **flag** (`PK = SK = RECONCILER`):
 *
 * | attribute | what |
 * |---|---|
 * | `armed` | a loop is (or should be) running |
 * | `epoch` | the arming that loop serves: its executions are named from it and `armedAt` |
 * | `seq` | arm calls so far (every host that makes a run active bumps it) |
 * | `startSeq`, `intervalSeconds` | what the loop's first execution was started with (so it can be started again, identically) |
 * | `rounds` | rounds the loop of this epoch has done (0: it may never have started) |
 * | `deadline` | ms: an armed loop with no round since then is taken as lost |
 *
 * **Arming** ({@link ReconcilerArming.arm}), by a host after it made a run queued (created, reopened):
 * one UpdateItem bumps `seq` and returns the flag. A live loop (armed, a round done, before its deadline):
 * nothing more, the common case. Disarmed (or lost): a conditional write on the flag it read arms epoch
 * + 1 and the host starts its execution; of hosts arming at once, one wins, the others find it armed.
 * Armed but without a round yet: the host that armed it may have died before starting it, so the
 * execution is started again with the same name and input (one execution either way).
 *
 * **A round** ({@link reconcilerRound}), in the scheduler function: the loop counts the round on the flag
 * (conditional on being armed at its epoch: a loop superseded, or a replay of the round that disarmed,
 * ends), reconciles every queued or running run, and ends only when it found none **and** `seq` has not
 * moved since its previous round: then it disarms, conditional on that `seq`. Race-free: a host arms after
 * its run's write; if its bump came before the disarm, the disarm's `seq` equals it only when both this
 * round's and the previous round's reads came after the bump, so this round's listing came at least an
 * interval after the run was written, long enough for the runs-by-state index (eventually consistent) to
 * show it: the loop goes on. If the bump came after the disarm, that host finds the flag disarmed and
 * starts a new loop. Queued runs are listed before running ones, so a run starting between the two
 * listings is seen in one of them.
 */
import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import {
  DEFAULT_RECONCILE_INTERVAL_SECONDS,
  RECONCILER_ROUNDS_PER_EXECUTION,
  reconcilerExecutionName,
  type ReconcilerInput,
  type ReconcilerLoop,
  type ReconcilerReply,
} from '../compiler/reconciler.ts';
import { isConditionFailed } from '../store/dynamodb-store.ts';
import { retryTransient } from '../store/retry.ts';
import { PK, SK } from '../store/table-design.ts';

/** The key of the flag item. */
export const RECONCILER_FLAG_KEY = { [PK]: 'RECONCILER', [SK]: 'RECONCILER' } as const;

/** Seconds past two missed rounds after which an armed loop that did no round is taken as lost. */
export const RECONCILER_LOST_SLACK_SECONDS = 300;

/** How long an armed loop may go without a round before a host arming it takes it as lost (ms). */
export function lostAfterMs(intervalSeconds: number): number {
  return (2 * intervalSeconds + RECONCILER_LOST_SLACK_SECONDS) * 1000;
}

/** The flag as stored (a missing item reads as never armed: every number 0). */
export interface ReconcilerFlagState {
  armed: boolean;
  epoch: number;
  armedAt: number;
  seq: number;
  startSeq: number;
  intervalSeconds: number;
  rounds: number;
  deadline: number;
}

function stateOf(item: Record<string, unknown> | undefined): ReconcilerFlagState {
  const n = (k: string) => (typeof item?.[k] === 'number' ? item[k] : 0);
  return {
    armed: item?.['armed'] === true,
    epoch: n('epoch'),
    armedAt: n('armedAt'),
    seq: n('seq'),
    startSeq: n('startSeq'),
    intervalSeconds: n('intervalSeconds'),
    rounds: n('rounds'),
    deadline: n('deadline'),
  };
}


/** The flag item's reads and writes (each one request; transient errors retried with backoff). */
export class ReconcilerFlag {
  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  /** The flag (a consistent read). */
  async get(): Promise<ReconcilerFlagState> {
    return stateOf((await retryTransient(() => this.doc.send(new GetCommand({ TableName: this.tableName, Key: RECONCILER_FLAG_KEY, ConsistentRead: true })))).Item);
  }

  /** Count an arm call; returns the flag after it. */
  async bump(): Promise<ReconcilerFlagState> {
    const out = await retryTransient(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: RECONCILER_FLAG_KEY,
          UpdateExpression: 'SET #seq = if_not_exists(#seq, :zero) + :one, #type = :type',
          ExpressionAttributeNames: { '#seq': 'seq', '#type': 'type' },
          ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':type': 'reconciler' },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return stateOf(out.Attributes);
  }

  /**
   * Arm epoch `seen.epoch + 1`, if the flag is still as `seen` had it (disarmed, or armed at that epoch
   * with that deadline: a lost loop). Returns the flag armed, or null when another host changed it first.
   */
  /**
   * One conditional update of the flag item (transient errors retried): its attributes after it (with
   * `ReturnValues: 'ALL_NEW'`), or null when its condition was false.
   */
  private async update(input: Omit<UpdateCommandInput, 'TableName' | 'Key'>): Promise<Record<string, unknown> | null> {
    try {
      const out = await retryTransient(() => this.doc.send(new UpdateCommand({ TableName: this.tableName, Key: RECONCILER_FLAG_KEY, ...input })));
      return out.Attributes ?? {};
    } catch (e) {
      if (isConditionFailed(e)) return null;
      throw e;
    }
  }

  async arm(seen: ReconcilerFlagState, at: { now: number; intervalSeconds: number }): Promise<ReconcilerFlagState | null> {
    const condition =
      seen.epoch === 0 && !seen.armed
        ? 'attribute_not_exists(#epoch)'
        : seen.armed
          ? '#armed = :true AND #epoch = :epoch AND #deadline = :deadline'
          : '#armed = :false AND #epoch = :epoch';
    const out = await this.update({
      UpdateExpression: 'SET #armed = :true, #epoch = :next, armedAt = :now, startSeq = :seq, intervalSeconds = :interval, #rounds = :zero, #deadline = :newDeadline',
      ConditionExpression: condition,
      ExpressionAttributeNames: { '#armed': 'armed', '#epoch': 'epoch', '#rounds': 'rounds', '#deadline': 'deadline' },
      ExpressionAttributeValues: {
        ':true': true,
        ':next': seen.epoch + 1,
        ':now': at.now,
        ':seq': seen.seq,
        ':interval': at.intervalSeconds,
        ':zero': 0,
        ':newDeadline': at.now + lostAfterMs(at.intervalSeconds),
        ...(condition.includes(':epoch') ? { ':epoch': seen.epoch } : {}),
        ...(condition.includes(':false') ? { ':false': false } : {}),
        ...(condition.includes(':deadline') ? { ':deadline': seen.deadline } : {}),
      },
      ReturnValues: 'ALL_NEW',
    });
    return out && stateOf(out);
  }

  /** Count a round of the loop of `epoch` and move its deadline; null when the flag is not armed at that epoch. */
  async round(epoch: number, deadline: number): Promise<ReconcilerFlagState | null> {
    const out = await this.update({
      UpdateExpression: 'SET #rounds = #rounds + :one, #deadline = :deadline',
      ConditionExpression: '#armed = :true AND #epoch = :epoch',
      ExpressionAttributeNames: { '#armed': 'armed', '#epoch': 'epoch', '#rounds': 'rounds', '#deadline': 'deadline' },
      ExpressionAttributeValues: { ':one': 1, ':deadline': deadline, ':true': true, ':epoch': epoch },
      ReturnValues: 'ALL_NEW',
    });
    return out && stateOf(out);
  }

  /** Disarm the loop of `epoch` if no arm call came since `seq`. Returns whether it did. */
  async disarm(epoch: number, seq: number): Promise<boolean> {
    const out = await this.update({
      UpdateExpression: 'SET #armed = :false',
      ConditionExpression: '#armed = :true AND #epoch = :epoch AND #seq = :seq',
      ExpressionAttributeNames: { '#armed': 'armed', '#epoch': 'epoch', '#seq': 'seq' },
      ExpressionAttributeValues: { ':false': false, ':true': true, ':epoch': epoch, ':seq': seq },
    });
    return out !== null;
  }
}

/** Starts a reconciler execution (a name started twice is one execution). */
export interface ReconcilerStarter {
  start(name: string, input: ReconcilerInput): Promise<void>;
}

/** A {@link ReconcilerStarter} on Step Functions: `ExecutionAlreadyExists` means it is started already. */
export function sfnReconcilerStarter(client: SFNClient, stateMachineArn: string): ReconcilerStarter {
  if (!/^arn:[^:]+:states:[^:]*:[^:]*:stateMachine:[A-Za-z0-9_-]+$/.test(stateMachineArn)) {
    throw new Error(`the reconciler's state machine ARN must look like arn:<partition>:states:<region>:<account>:stateMachine:<name> (got '${stateMachineArn}')`);
  }
  return {
    async start(name, input) {
      try {
        await client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
      } catch (e) {
        if (!(e instanceof Error && e.name === 'ExecutionAlreadyExists')) throw e;
      }
    },
  };
}

export interface ReconcilerArmingOptions {
  flag: ReconcilerFlag;
  starter: ReconcilerStarter;
  /** Seconds between two rounds of a loop this host starts. Default {@link DEFAULT_RECONCILE_INTERVAL_SECONDS} (300). */
  intervalSeconds?: number;
  /** Default `Date.now`. */
  now?: () => number;
}

/** What an arm call did. */
export interface ArmOutcome {
  /** The epoch armed. */
  epoch: number;
  /** The execution this call started (or started again), or null when a loop was running. */
  started: string | null;
}

/** The first execution of the loop the flag is armed for. */
function firstExecution(f: ReconcilerFlagState): { name: string; input: ReconcilerInput } {
  const loop: ReconcilerLoop = { epoch: f.epoch, armedAt: f.armedAt, seq: f.startSeq, generation: 0, round: 0, intervalSeconds: f.intervalSeconds };
  return { name: reconcilerExecutionName(loop), input: { loop } };
}

/** Arms the reconciler for a host that made a run active (see the module's documentation). */
export class ReconcilerArming {
  readonly flag: ReconcilerFlag;
  readonly intervalSeconds: number;
  private readonly starter: ReconcilerStarter;
  private readonly now: () => number;

  constructor(options: ReconcilerArmingOptions) {
    const interval = options.intervalSeconds ?? DEFAULT_RECONCILE_INTERVAL_SECONDS;
    if (!Number.isInteger(interval) || interval < 1) throw new RangeError(`the reconcile interval must be a whole number of seconds, at least 1 (got ${interval})`);
    this.flag = options.flag;
    this.starter = options.starter;
    this.intervalSeconds = interval;
    this.now = options.now ?? Date.now;
  }

  /** Call after a run was made queued (its write done): the loop runs, or starts. */
  async arm(): Promise<ArmOutcome> {
    const seen = await this.flag.bump();
    const now = this.now();
    const live = seen.armed && now <= seen.deadline;
    if (live && seen.rounds > 0) return { epoch: seen.epoch, started: null };
    if (live) return this.startAgain(seen);
    const armed = await this.flag.arm(seen, { now, intervalSeconds: this.intervalSeconds });
    if (armed === null) {
      // Another host armed it first; it starts the loop (or, if it died before, this call does).
      const current = await this.flag.get();
      return current.armed && current.rounds === 0 ? this.startAgain(current) : { epoch: current.epoch, started: null };
    }
    const { name, input } = firstExecution(armed);
    await this.starter.start(name, input);
    return { epoch: armed.epoch, started: name };
  }

  private async startAgain(f: ReconcilerFlagState): Promise<ArmOutcome> {
    const { name, input } = firstExecution(f);
    await this.starter.start(name, input);
    return { epoch: f.epoch, started: name };
  }
}

/** Check a round's loop state (it comes from an execution's input). */
export function parseReconcilerLoop(v: unknown): ReconcilerLoop {
  if (typeof v !== 'object' || v === null) throw new TypeError(`a reconcile round's 'loop' must be an object (got ${JSON.stringify(v)})`);
  const o = v as Record<string, unknown>;
  for (const k of ['epoch', 'armedAt', 'seq', 'generation', 'round', 'intervalSeconds'] as const) {
    if (typeof o[k] !== 'number' || !Number.isInteger(o[k]) || o[k] < 0) throw new TypeError(`a reconcile round's 'loop.${k}' must be a whole number, at least 0 (got ${JSON.stringify(o[k])})`);
  }
  return { epoch: o['epoch'] as number, armedAt: o['armedAt'] as number, seq: o['seq'] as number, generation: o['generation'] as number, round: o['round'] as number, intervalSeconds: o['intervalSeconds'] as number };
}

/**
 * One round of the loop `loop`: count it on the flag, `reconcile` every queued or running run (it returns
 * how many it found), then end (disarmed) or go on. See the module's documentation for why no run is
 * ever left without a round.
 */
export async function reconcilerRound(flag: ReconcilerFlag, loop: ReconcilerLoop, now: number, reconcile: () => Promise<number>): Promise<ReconcilerReply> {
  const done = (reason: string, activeRuns: number): ReconcilerReply => ({ loop, next: 'done', name: null, activeRuns, reason });
  const f = await flag.round(loop.epoch, now + lostAfterMs(loop.intervalSeconds));
  if (f === null) return done(`the flag is no longer armed for epoch ${loop.epoch}`, 0);
  const activeRuns = await reconcile();
  if (activeRuns === 0 && f.seq === loop.seq && (await flag.disarm(loop.epoch, f.seq))) return done('no run is queued or running', 0);
  const round = loop.round + 1;
  if (round >= RECONCILER_ROUNDS_PER_EXECUTION) {
    const next: ReconcilerLoop = { ...loop, seq: f.seq, generation: loop.generation + 1, round: 0 };
    return { loop: next, next: 'continue_as_new', name: reconcilerExecutionName(next), activeRuns, reason: null };
  }
  return { loop: { ...loop, seq: f.seq, round }, next: 'sleep', name: null, activeRuns, reason: null };
}
