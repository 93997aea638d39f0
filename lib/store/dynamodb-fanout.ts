import { GetCommand, TransactWriteCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Item } from './dynamodb-items.ts';

/**
 * Exactly-once fan-outs larger than one transaction.
 *
 * `finishTaskInstance` (and `claimExpansion`) must, as one step: claim a transition on an *anchor* item
 * (the task instance moving to its terminal state; the task state settling as expanded), apply a few
 * fixed updates (the task's own tally; the run's pending count) and one update per downstream task (its
 * upstream tally). DynamoDB's TransactWriteItems holds at most 100 items, so:
 *
 * - When everything fits (anchor + fixed + targets <= 100) it is one transaction: the anchor's condition
 *   (state and try of the instance; "no decision yet" for the expansion) makes a replay change nothing.
 * - Otherwise the work is cut into a fixed plan of chunks (`planChunks`: the first transaction holds the
 *   claim, the `first` updates and as many targets as fit; middle ones up to 99 targets; the last one the
 *   remaining targets and the `last` updates, i.e. the run's pending -1, so a run can only reach 0 once
 *   every tally of its instances is complete). The first transaction writes a cursor on the anchor with
 *   the claim: `fanDone = 1` (chunks applied), `fanChunks` (chunks in the plan) and `fanTargets` (number
 *   of targets). Every further transaction contains `SET fanDone = j + 1` on the anchor under the
 *   condition `fanDone = j`, so each chunk is applied exactly once whoever sends it.
 * - A caller whose claim is refused reads the anchor. If it carries an unfinished cursor for the same
 *   fan-out (same plan size, and the anchor is in the state this caller asked for), the caller continues
 *   from `fanDone`: a replayed event completes the work of a caller that died half-way. Callers racing on
 *   a chunk find the cursor moved, re-read it and go on from there.
 * - Exactly one caller applies the last chunk; only that caller is told it finished the fan-out (so the
 *   scheduler decides downstream tasks once). A replay after completion changes nothing.
 *
 * Transactions that DynamoDB cancels for a conflicting concurrent transaction (or throttling) are
 * retried with jittered backoff; the SDK reuses its idempotency token for its own retries.
 */

export type TxItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** DynamoDB's limit of items in one TransactWriteItems. */
export const MAX_TRANSACTION_ITEMS = 100;

export const FAN_DONE = 'fanDone';
export const FAN_CHUNKS = 'fanChunks';
export const FAN_TARGETS = 'fanTargets';

export interface Chunk {
  /** Targets [from, to) go in this transaction. */
  from: number;
  to: number;
  first: boolean;
  last: boolean;
}

/** Cut `targets` updates, plus the claim, `first` and `last` fixed updates, into transactions. */
export function planChunks(targets: number, first: number, last: number, max = MAX_TRANSACTION_ITEMS): Chunk[] {
  if (1 + first + last > max || 1 + first >= max || 1 + last >= max) throw new RangeError('fan-out: the fixed updates do not fit in a transaction');
  const chunks: Chunk[] = [];
  let i = 0;
  for (;;) {
    const isFirst = chunks.length === 0;
    const base = 1 + (isFirst ? first : 0);
    const rest = targets - i;
    if (base + last + rest <= max) {
      chunks.push({ from: i, to: targets, first: isFirst, last: true });
      return chunks;
    }
    const take = max - base;
    chunks.push({ from: i, to: i + take, first: isFirst, last: false });
    i += take;
  }
}

export interface FanOut {
  /** Key of the anchor item (it holds the claim and the cursor). */
  anchorKey: Item;
  /** The claim: the anchor's conditional write, carrying `cursor` (attributes to SET) when not null. */
  claim(cursor: Item | null): TxItem;
  first: TxItem[];
  /**
   * Items of `first` left out when their condition fails (the first transaction is then sent again
   * without them), instead of failing the fan-out. Default: none.
   */
  optional?: ReadonlySet<TxItem>;
  last: TxItem[];
  targets: TxItem[];
  /** Whether an anchor found after a refused claim was claimed for this same outcome. */
  sameOutcome(anchor: Item): boolean;
}

type TxOutcome = { ok: true } | { ok: false; failed: number };

function cancellationCodes(e: unknown): (string | undefined)[] | null {
  if (!(e instanceof Error) || e.name !== 'TransactionCanceledException') return null;
  const reasons = (e as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.map((r) => r.Code);
}

const RETRYABLE_CODES = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs transactions; reports which item's condition failed; retries conflicts and throttling. */
export class Transactor {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly maxAttempts = 40,
  ) {}

  async write(items: TxItem[]): Promise<TxOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
        return { ok: true };
      } catch (e) {
        const codes = cancellationCodes(e);
        if (!codes) throw e;
        const failed = codes.indexOf('ConditionalCheckFailed');
        if (failed >= 0) return { ok: false, failed };
        if (!codes.some((c) => c !== undefined && RETRYABLE_CODES.has(c)) || attempt >= this.maxAttempts) throw e;
        await sleep(Math.random() * Math.min(1000, 5 * 2 ** attempt));
      }
    }
  }

  /**
   * One transaction of independently conditional items (a bulk write): conflicts and throttling are
   * retried as in `write`; when conditions fail, the indexes of every item DynamoDB reported as
   * `ConditionalCheckFailed` (nothing was applied: the caller drops them and sends the rest again).
   */
  async writeEach(items: TxItem[]): Promise<{ ok: true } | { ok: false; failed: number[] }> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
        return { ok: true };
      } catch (e) {
        const codes = cancellationCodes(e);
        if (!codes) throw e;
        const failed: number[] = [];
        codes.forEach((c, i) => {
          if (c === 'ConditionalCheckFailed') failed.push(i);
        });
        if (failed.length) return { ok: false, failed };
        if (!codes.some((c) => c !== undefined && RETRYABLE_CODES.has(c)) || attempt >= this.maxAttempts) throw e;
        await sleep(Math.random() * Math.min(1000, 5 * 2 ** attempt));
      }
    }
  }

  /** Apply a fan-out. True when this caller applied its last transaction (it finished the fan-out). */
  async fanOut(f: FanOut): Promise<boolean> {
    const plan = planChunks(f.targets.length, f.first.length, f.last.length);
    const n = f.targets.length;
    const c0 = plan[0]!;
    const cursor = plan.length > 1 ? { [FAN_DONE]: 1, [FAN_CHUNKS]: plan.length, [FAN_TARGETS]: n } : null;
    let first = f.first;
    let res: TxOutcome;
    for (;;) {
      res = await this.write([f.claim(cursor), ...first, ...f.targets.slice(c0.from, c0.to), ...(c0.last ? f.last : [])]);
      const dropped = !res.ok && res.failed >= 1 && res.failed <= first.length ? first[res.failed - 1]! : undefined;
      if (dropped === undefined || !f.optional?.has(dropped)) break;
      first = first.filter((x) => x !== dropped);
    }
    let next: number;
    if (res.ok) {
      if (plan.length === 1) return true;
      next = 1;
    } else {
      if (res.failed !== 0) throw this.failure(res.failed, 'the first transaction');
      const found = await this.resumePoint(f, plan.length, n);
      if (found === null) return false;
      next = found;
    }
    while (next < plan.length) {
      const c = plan[next]!;
      const step = await this.write([this.advance(f.anchorKey, next), ...f.targets.slice(c.from, c.to), ...(c.last ? f.last : [])]);
      if (step.ok) {
        next++;
        if (next === plan.length) return true;
        continue;
      }
      if (step.failed !== 0) throw this.failure(step.failed, `transaction ${next + 1} of ${plan.length}`);
      const found = await this.resumePoint(f, plan.length, n);
      if (found === null) return false;
      next = found;
    }
    return false;
  }

  /** Where to continue an unfinished fan-out left on the anchor; null if there is nothing to continue. */
  private async resumePoint(f: FanOut, chunks: number, targets: number): Promise<number | null> {
    const a = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: f.anchorKey, ConsistentRead: true }))).Item;
    if (!a || !f.sameOutcome(a)) return null;
    if (a[FAN_CHUNKS] !== chunks || a[FAN_TARGETS] !== targets) return null;
    const done: unknown = a[FAN_DONE];
    if (typeof done !== 'number' || done >= chunks) return null;
    return done;
  }

  private advance(anchorKey: Item, done: number): TxItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: anchorKey,
        UpdateExpression: 'SET #d = :next',
        ConditionExpression: '#d = :done',
        ExpressionAttributeNames: { '#d': FAN_DONE },
        ExpressionAttributeValues: { ':next': done + 1, ':done': done },
      },
    };
  }

  private failure(index: number, where: string): Error {
    return new Error(`DynamoDB store: a condition on item ${index} of ${where} failed (is the run missing from the table?)`);
  }
}
