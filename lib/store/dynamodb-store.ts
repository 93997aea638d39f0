import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type BatchWriteCommandInput,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { dynamoDbDocumentClient } from '../clients/aws-clients.ts';
import { RUN_STATES, type RunState, type TerminalTiState } from '../model/states.ts';
import {
  ADDED_TOTAL,
  DECISION,
  EXPANDED_COUNT,
  Expr,
  ItemType,
  itemToRun,
  itemToTaskState,
  itemToTi,
  MAP_COUNT,
  PRIOR_HISTORY,
  PRIOR_TRIES,
  runAttributes,
  selfAttr,
  tiAttributes,
  tiPatchAttributes,
  updateExpression,
  upstreamAttr,
  type Item,
} from './dynamodb-items.ts';
import { FAN_CHUNKS, FAN_DONE, FAN_TARGETS, MAX_TRANSACTION_ITEMS, Transactor, type TxItem } from './dynamodb-fanout.ts';
import type { LargeValueStore } from './large-values.ts';
import { backfillOrder, historyWithCurrentTry, pipelineScopeOf, runKeyText, runRefOf, type BackfillRecord, type DagRecord, type DagRunRecord, type DagVersionEntry, type DagVersionRecord, type LogLine, type PipelineSave, type PoolRecord, type RunRef, type TaskInstanceRecord, type TaskStateRecord, type TiKey, type TrySummary, type XComRecord } from './records.ts';
import { oneTaskOf } from './bulk-requests.ts';
import { DynamoDbHitl } from './dynamodb-hitl.ts';
import type { HitlQuery, HitlRecord, HitlRespondResult, HitlResponse } from './hitl-records.ts';
import type { ConnectionRecord, VariableRecord } from '../secrets/records.ts';
import { DynamoDbAssets } from './dynamodb-assets.ts';
import type { AssetClaim, AssetEventQuery, AssetQueueEntry } from './asset-store.ts';
import type { AssetEventRecord, AssetRecord } from '../model/asset.ts';
import type { BulkFinishResult, BulkResetResult, DeletedRun, TiUpdate, FinishRequest, FinishResult, ResetRequest, StateStore, TiExpectation } from './state-store.ts';
import {
  freePart,
  GSI_RUNS_BY_DAG_STATE,
  GSI_RUNS_BY_STATE,
  GSI1_PK,
  GSI2_PK,
  indexPart,
  keys,
  MAX_INDEX,
  mapIndexPart,
  PK,
  prefixes,
  runIndexKeys,
  SK,
  TTL_ATTRIBUTE,
} from './table-design.ts';

export interface DynamoDbStateStoreOptions {
  /** The table, laid out as `table-design.ts` says (`createTable()` makes one; the CDK stack declares it). */
  tableName: string;
  /**
   * A document client, a DynamoDB client (wrapped in a document client), or the config of a new client. Default: `dynamoDbDocumentClient()` from
   * `lib/clients/aws-clients.ts` (region from `AWS_REGION`, endpoint from `AWS_ENDPOINT_URL_DYNAMODB` /
   * `AWS_ENDPOINT_URL`).
   */
  client?: DynamoDBDocumentClient | DynamoDBClient | DynamoDBClientConfig;
  /**
   * Where XCom values, item results and pipeline-context data larger than `largeValueThresholdBytes` go
   * (e.g. `S3LargeValueStore`). Default: none; such values stay in the item while it can hold them
   * (about 390 KB), larger ones are refused with an error.
   */
  largeValues?: LargeValueStore;
  /** Size of JSON text (UTF-8 bytes) above which a value goes to `largeValues`. Default 307,200 (300 KiB). */
  largeValueThresholdBytes?: number;
  /**
   * How long a finished run's XComs, item results and logs are kept after `expireRun` (seconds; the
   * table's TTL deletes them). Default: none, they are kept.
   */
  xcomTtlSeconds?: number;
  /** Requests in flight at once for operations over many items. Default 16. */
  concurrency?: number;
}

/** Default threshold above which a value goes to the large-value store. */
export const DEFAULT_LARGE_VALUE_THRESHOLD = 300 * 1024;
/** JSON text longer than this cannot be kept inline (an item holds 400 KB with its keys and names). */
const INLINE_LIMIT = 390 * 1024;
/** Logs are stored in items of at most this much JSON. */
const LOG_CHUNK_BYTES = 256 * 1024;

const PROCESS_TAG = Math.random().toString(36).slice(2, 8).padEnd(6, '0');
let sequence = 0;
/** A suffix unique to this process and increasing within it (ties of equal times keep their order). */
function uniqueSuffix(): string {
  return `${PROCESS_TAG}${(sequence++).toString(36).padStart(10, '0')}`;
}
let lastWaiterMs = 0;

/** An optional text attribute: '' when absent. */
const textOrEmpty = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

const keyId = (k: Item) => `${String(k[PK])}\u0000${String(k[SK])}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A semaphore item's attribute naming a holder of units: `h:<holder>`, its value the units held. */
const HOLDER_PREFIX = 'h:';
/** How many of the oldest waiters a dequeue chooses from (at random), so that takers at once spread out. */
const DEQUEUE_WINDOW = 16;

/** A semaphore item's count of queued waiters (absent: none was ever queued). */
const WAITING = 'waiting';

/**
 * Whether a semaphore item counts waiters queued. The item may be as a refused write returns it, not
 * converted by the document client (`{ N: '2' }`).
 */
function hasWaiters(item: Item | undefined): boolean {
  const w = item?.[WAITING];
  const n = typeof w === 'object' && w !== null && 'N' in w ? w.N : w;
  return Number(n ?? 0) > 0;
}

/** Whether a DynamoDB write was refused by its condition. */
export function isConditionFailed(e: unknown): boolean {
  return e instanceof Error && e.name === 'ConditionalCheckFailedException';
}

/** An expectation with no state can never hold. */
function satisfiable(expect: TiExpectation): boolean {
  return expect.states.length > 0;
}

/** Items in one BatchWriteItem. */
const MAX_BATCH_WRITE_ITEMS = 25;
/** BatchWriteItem requests for one chunk before its unprocessed items are given up (with an error). */
const BATCH_ATTEMPTS = 40;
/**
 * JSON bytes of the items of one transaction: DynamoDB takes at most 4 MB of items in one
 * TransactWriteItems. Task instance writes are small, unless their patches carry long texts.
 */
const MAX_TRANSACTION_BYTES = 3 * 1024 * 1024;
/** Allowance for one tally or run update of a bulk finish. */
const AGGREGATE_BYTES = 512;
/**
 * Fewest instances one bulk-finish transaction must hold (with the task's tally items and the run's),
 * or finishing them one by one is used instead (a task with about 97 downstream tasks or more).
 */
const MIN_BULK_FINISH = 2;
/** Attribute of an instance being reset away by a fan-out (deleted once the fan-out is complete). */
const CLEARING = 'clearing';

/** One conditional write of a bulk operation: `index` is its request's position, `id` its item's key. */
/** A reset with the history its instance's task state takes when the instance goes (`to: 'absent'` with `undecide`). */
type ResetWrite = ResetRequest & { history?: TrySummary[] };

interface TxWrite {
  index: number;
  id: string;
  item: TxItem;
  bytes: number;
}

function txWrite(index: number, key: Item, item: TxItem): TxWrite {
  return { index, id: keyId(key), item, bytes: Buffer.byteLength(JSON.stringify(item), 'utf8') };
}

/**
 * Cut writes, in order, into transactions of at most `max` items and `MAX_TRANSACTION_BYTES` (less
 * `reserved` bytes for other items); an item already in the current transaction starts the next one.
 * `repeats`: some item is written more than once (the transactions must then be applied in order).
 */
function chunkWrites(writes: readonly TxWrite[], max: number, reserved: number): { chunks: TxWrite[][]; repeats: boolean } {
  const chunks: TxWrite[][] = [];
  const seen = new Set<string>();
  let repeats = false;
  let cur: TxWrite[] = [];
  let ids = new Set<string>();
  let bytes = reserved;
  for (const w of writes) {
    if (cur.length && (cur.length >= max || bytes + w.bytes > MAX_TRANSACTION_BYTES || ids.has(w.id))) {
      chunks.push(cur);
      cur = [];
      ids = new Set();
      bytes = reserved;
    }
    if (seen.has(w.id)) repeats = true;
    seen.add(w.id);
    ids.add(w.id);
    cur.push(w);
    bytes += w.bytes;
  }
  if (cur.length) chunks.push(cur);
  return { chunks, repeats };
}


/**
 * The state store on one DynamoDB table (single-table design, see `table-design.ts`). Every method is a
 * GetItem, a BatchGetItem, a Query on a key or an index, a conditional PutItem/UpdateItem/DeleteItem or a
 * TransactWriteItems (and, for many XComs at once, BatchWriteItem of plain puts); nothing scans. Transitions are conditional on the instance's state and try, and
 * creations on absence, so a replayed event changes nothing. Reads are strongly consistent except the
 * run listings, which read global secondary indexes (eventually consistent).
 *
 * `finishTaskInstance` and `claimExpansion` are single transactions up to 97 downstream tasks and an
 * exactly-once chain of transactions beyond (see `dynamodb-fanout.ts`). Transactions return nothing, so
 * the downstream task states and the run's pending count are read back (consistently) after the write:
 * they may already include concurrent finishes, and so more than one caller can see `pending` reach 0
 * (finalising a run is itself conditional).
 *
 * The bulk methods (an array job's children) write many instances per request: `createTaskInstances`,
 * `updateTaskInstances` and `finishTaskInstances` send transactions of up to 100 conditional items (a
 * transaction refused for some items' conditions is sent again without them), `putXComs` BatchWriteItem
 * of 25, and `listTaskInstanceRange` one key-range Query.
 */
export class DynamoDbStateStore implements StateStore {
  readonly tableName: string;
  readonly doc: DynamoDBDocumentClient;
  readonly largeValues: LargeValueStore | undefined;
  readonly largeValueThresholdBytes: number;
  readonly xcomTtlSeconds: number | undefined;
  private readonly concurrency: number;
  private readonly tx: Transactor;
  private readonly hitl: DynamoDbHitl;

  constructor(options: DynamoDbStateStoreOptions) {
    this.tableName = options.tableName;
    const c = options.client;
    this.doc = c instanceof DynamoDBDocumentClient ? c : dynamoDbDocumentClient(c instanceof DynamoDBClient ? c : (c ?? {}));
    this.largeValues = options.largeValues;
    this.largeValueThresholdBytes = options.largeValueThresholdBytes ?? DEFAULT_LARGE_VALUE_THRESHOLD;
    this.xcomTtlSeconds = options.xcomTtlSeconds;
    this.concurrency = options.concurrency ?? 16;
    this.tx = new Transactor(this.doc, this.tableName);
    this.hitl = new DynamoDbHitl(this.doc, this.tableName, this.tx, (pk, prefix, extra) => this.queryPrefix(pk, prefix, extra), (k) => this.batchGet(k));
  }

  // ---------------------------------------------------------------------------------------------------
  // Low-level helpers

  private async get(key: Item): Promise<Item | undefined> {
    return (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))).Item;
  }

  /**
   * Send a single-item write. DynamoDB refuses a write to an item that an in-flight transaction holds
   * (TransactionConflictException, which the SDK does not retry): try again after a jittered pause.
   */
  private async write(command: PutCommand | UpdateCommand | DeleteCommand): Promise<Item | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return ((await this.doc.send(command as unknown as UpdateCommand)) as { Attributes?: Item }).Attributes;
      } catch (e) {
        if (!(e instanceof Error && e.name === 'TransactionConflictException') || attempt >= 40) throw e;
        await sleep(Math.random() * Math.min(1000, 5 * 2 ** attempt));
      }
    }
  }

  /** Every item of a query (all pages). */
  private async query(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Item[]> {
    const out: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(new QueryCommand({ ...input, TableName: this.tableName, ...(start ? { ExclusiveStartKey: start } : {}) }));
      for (const i of res.Items ?? []) out.push(i);
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** Items of a partition whose sort key starts with `prefix`, in sort-key order (strongly consistent). */
  private queryPrefix(pk: string, prefix: string | null, extra: Partial<QueryCommandInput> = {}): Promise<Item[]> {
    const e = new Expr();
    const cond = `${e.name(PK)} = ${e.value(pk)}` + (prefix ? ` AND begins_with(${e.name(SK)}, ${e.value(prefix)})` : '');
    const names = { ...e.params().ExpressionAttributeNames, ...(extra.ExpressionAttributeNames ?? {}) };
    return this.query({ ...extra, KeyConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: e.values, ConsistentRead: true });
  }

  /** Items by key (BatchGetItem in chunks of 100, strongly consistent), by `keyId`. */
  private async batchGet(keyList: Item[]): Promise<Map<string, Item>> {
    const unique = new Map<string, Item>();
    for (const k of keyList) unique.set(keyId(k), k);
    const chunks: Item[][] = [];
    const all = [...unique.values()];
    for (let i = 0; i < all.length; i += 100) chunks.push(all.slice(i, i + 100));
    const found = new Map<string, Item>();
    await this.each(chunks, async (chunk) => {
      let request: Item[] = chunk;
      for (let attempt = 0; request.length; attempt++) {
        const res = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: request, ConsistentRead: true } } }));
        for (const item of res.Responses?.[this.tableName] ?? []) found.set(keyId(item), item);
        request = (res.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Item[];
        if (request.length) await sleep(Math.random() * Math.min(1000, 10 * 2 ** attempt));
      }
    });
    return found;
  }

  /** Run `fn` over items with at most `concurrency` in flight. */
  private async each<T>(items: readonly T[], fn: (item: T, index: number) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, worker));
  }

  private async map<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
    const out = new Array<R>(items.length);
    await this.each(items, async (item, i) => {
      out[i] = await fn(item);
    });
    return out;
  }

  /** Value attributes of JSON text: inline (`v`), or a pointer (`ref`) to the large-value store. */
  private async encodeValue(value: unknown, largeKey: () => string, what: () => string): Promise<Item> {
    const json = JSON.stringify(value) ?? 'null';
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes <= this.largeValueThresholdBytes) return { v: json };
    if (this.largeValues) return { ref: await this.largeValues.put(largeKey(), json), bytes };
    if (bytes <= INLINE_LIMIT) return { v: json };
    throw new Error(`${what()} is ${bytes} bytes of JSON, more than a DynamoDB item holds: give the DynamoDB store a large-value store (S3)`);
  }

  private async decodeValue(item: Item): Promise<unknown> {
    if (typeof item.ref === 'string') {
      if (!this.largeValues) throw new Error(`the value is stored at ${item.ref}, but this DynamoDB store has no large-value store to read it`);
      return JSON.parse(await this.largeValues.get(item.ref));
    }
    return JSON.parse(String(item.v));
  }

  // ---------------------------------------------------------------------------------------------------
  // Runs

  /** Put an item unless one with its key exists: true if it was put. */
  private async putIfAbsent(item: Item): Promise<boolean> {
    try {
      await this.write(new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } }));
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  async createRun(run: DagRunRecord): Promise<boolean> {
    return this.putIfAbsent({ ...keys.run(run), type: ItemType.run, ...runAttributes(run), ...runIndexKeys(run), ver: 0 });
  }

  async getRun(run: RunRef): Promise<DagRunRecord | undefined> {
    const item = await this.get(keys.run(run));
    return item ? itemToRun(item) : undefined;
  }

  /**
   * Read, check `expect`, then write the patch with the run's index keys under the condition that the
   * item's version did not move meanwhile (retried if it did). `pending` is not rewritten unless patched:
   * transactions change it concurrently with ADD.
   */
  async updateRun(run: RunRef, expect: readonly RunState[] | null, patch: Partial<DagRunRecord>): Promise<DagRunRecord | undefined> {
    for (let attempt = 0; ; attempt++) {
      const item = await this.get(keys.run(run));
      if (!item) return undefined;
      const cur = itemToRun(item);
      if (expect && !expect.includes(cur.state)) return undefined;
      const next: DagRunRecord = { ...cur, ...patch, dagId: cur.dagId, runId: cur.runId };
      const attrs = runAttributes(next);
      if (!Object.prototype.hasOwnProperty.call(patch, 'pending')) delete attrs.pending;
      const e = new Expr();
      const ver = Number(item.ver ?? 0);
      try {
        const updated = await this.write(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.run(run),
            UpdateExpression: updateExpression({ set: e.set({ ...attrs, ...runIndexKeys(next), ver: ver + 1 }) }),
            ConditionExpression: `${e.name('ver')} = ${e.value(ver)}`,
            ...e.params(),
            ReturnValues: 'ALL_NEW',
          }),
        );
        return itemToRun(updated!);
      } catch (err) {
        if (!isConditionFailed(err) || attempt > 50) throw err;
      }
    }
  }

  async listRuns(query: { dagId: string; states?: readonly RunState[] }): Promise<DagRunRecord[]> {
    const states = [...new Set(query.states ?? RUN_STATES)];
    const lists = await Promise.all(
      states.map((state) =>
        this.query({
          IndexName: GSI_RUNS_BY_DAG_STATE,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': GSI1_PK },
          ExpressionAttributeValues: { ':pk': `DAG#${query.dagId}#${state}` },
        }),
      ),
    );
    return lists
      .flat()
      .map(itemToRun)
      .sort((a, b) => a.logicalDate.localeCompare(b.logicalDate) || a.queuedAt.localeCompare(b.queuedAt) || a.runId.localeCompare(b.runId));
  }

  async listRunsByState(state: RunState): Promise<DagRunRecord[]> {
    const items = await this.query({
      IndexName: GSI_RUNS_BY_STATE,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': GSI2_PK },
      ExpressionAttributeValues: { ':pk': `STATE#${state}` },
    });
    return items.map(itemToRun);
  }

  /**
   * Start the retention of a finished run's XComs, item results and logs: their items get the TTL
   * attribute `expiresAt = endedAt + xcomTtlSeconds`, and their large values are marked expired in the
   * large-value store. No-op without `xcomTtlSeconds`. Returns the number of items marked. Idempotent.
   */
  async expireRun(run: RunRef, endedAt: Date | string | number): Promise<number> {
    if (this.xcomTtlSeconds === undefined) return 0;
    const ms = endedAt instanceof Date ? endedAt.getTime() : typeof endedAt === 'string' ? Date.parse(endedAt) : endedAt;
    if (!Number.isFinite(ms)) throw new RangeError(`expireRun: not a time: ${String(endedAt)}`);
    const at = Math.floor(ms / 1000) + this.xcomTtlSeconds;
    const items = await this.expiringItems(run, 'ref');
    await this.setTtl(items, at);
    const refs = items.map((i) => i.ref).filter((r): r is string => typeof r === 'string');
    if (refs.length && this.largeValues?.expire) await this.largeValues.expire(refs);
    return items.length;
  }

  // ---------------------------------------------------------------------------------------------------
  // Task state

  async getTaskStates(run: RunRef, taskIds: readonly string[]): Promise<(TaskStateRecord | undefined)[]> {
    const found = await this.batchGet(taskIds.map((t) => keys.taskState(run, t)));
    return taskIds.map((t) => {
      const item = found.get(keyId(keys.taskState(run, t)));
      return item ? itemToTaskState(item) : undefined;
    });
  }

  async claimDecision(run: RunRef, taskId: string, decision: 'scheduled' | TerminalTiState): Promise<boolean> {
    const e = new Expr();
    try {
      await this.write(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.taskState(run, taskId),
          UpdateExpression: updateExpression({ set: e.set({ [DECISION]: decision, dagId: run.dagId, runId: run.runId, taskId, type: ItemType.taskState }) }),
          ConditionExpression: `attribute_not_exists(${e.name(DECISION)})`,
          ...e.params(),
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }

  /** Conditional updates in transactions of up to 100 (a lone one: a plain UpdateItem). */
  async claimDecisions(run: RunRef, taskIds: readonly string[], decision: 'scheduled' | TerminalTiState): Promise<boolean[]> {
    const applied = new Array<boolean>(taskIds.length).fill(false);
    const seen = new Set<string>();
    const writes: TxWrite[] = [];
    taskIds.forEach((taskId, index) => {
      if (seen.has(taskId)) return;
      seen.add(taskId);
      const e = new Expr();
      const key = keys.taskState(run, taskId);
      writes.push(
        txWrite(index, key, {
          Update: {
            TableName: this.tableName,
            Key: key,
            UpdateExpression: updateExpression({ set: e.set({ [DECISION]: decision, dagId: run.dagId, runId: run.runId, taskId, type: ItemType.taskState }) }),
            ConditionExpression: `attribute_not_exists(${e.name(DECISION)})`,
            ...e.params(),
          },
        }),
      );
    });
    await this.writeChunks(writes, MAX_TRANSACTION_ITEMS, applied);
    return applied;
  }

  async claimExpansion(run: RunRef, taskId: string, count: number, downstream: readonly string[]): Promise<boolean> {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`claimExpansion: count must be an integer >= 1, got ${count}`);
    const anchorKey = keys.taskState(run, taskId);
    return this.tx.fanOut({
      anchorKey,
      claim: (cursor) => {
        const e = new Expr();
        return {
          Update: {
            TableName: this.tableName,
            Key: anchorKey,
            UpdateExpression: updateExpression({
              set: e.set({ [DECISION]: 'expanded', [MAP_COUNT]: count, dagId: run.dagId, runId: run.runId, taskId, type: ItemType.taskState, ...(cursor ?? {}) }),
            }),
            ConditionExpression: `attribute_not_exists(${e.name(DECISION)})`,
            ...e.params(),
          },
        };
      },
      first: [],
      last: count === 1 ? [] : [this.runPendingAdd(run, count - 1)],
      targets: this.countedTargets(run, downstream, (e, n) => [`${e.name(ADDED_TOTAL)} ${e.value(count * n)}`, `${e.name(EXPANDED_COUNT)} ${e.value(n)}`]),
      sameOutcome: (a) => a[DECISION] === 'expanded' && a[MAP_COUNT] === count,
    });
  }

  /** One ADD update per distinct downstream task (a task listed twice counts twice). */
  private countedTargets(run: RunRef, downstream: readonly string[], adds: (e: Expr, times: number) => string[]): TxItem[] {
    const times = new Map<string, number>();
    for (const d of downstream) times.set(d, (times.get(d) ?? 0) + 1);
    return [...times].map(([taskId, n]) => this.taskStateAdd(run, taskId, (e) => adds(e, n)));
  }

  private taskStateAdd(run: RunRef, taskId: string, adds: (e: Expr) => string[]): TxItem {
    const e = new Expr();
    const add = adds(e);
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.taskState(run, taskId),
        UpdateExpression: updateExpression({ set: e.set({ dagId: run.dagId, runId: run.runId, taskId, type: ItemType.taskState }), add }),
        ...e.params(),
      },
    };
  }

  private runPendingAdd(run: RunRef, delta: number): TxItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.run(run),
        UpdateExpression: 'ADD #pending :d',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pending': 'pending', '#pk': PK },
        ExpressionAttributeValues: { ':d': delta },
      },
    };
  }

  // ---------------------------------------------------------------------------------------------------
  // Task instances

  /** TransactWriteItems of up to 100 puts conditional on absence; those that exist are left out and the rest sent again. */
  async createTaskInstances(tis: readonly TaskInstanceRecord[]): Promise<void> {
    // The first of a key twice wins (the second would find it existing); a transaction holds a key once.
    const seen = new Set<string>();
    const writes: TxWrite[] = [];
    tis.forEach((ti, index) => {
      const key = keys.taskInstance(ti, ti.taskId, ti.mapIndex);
      const w = txWrite(index, key, {
        Put: {
          TableName: this.tableName,
          Item: { ...key, type: ItemType.taskInstance, ...tiAttributes(ti) },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        },
      });
      if (seen.has(w.id)) return;
      seen.add(w.id);
      writes.push(w);
    });
    await this.writeChunks(writes, MAX_TRANSACTION_ITEMS, []);
  }

  /** One BatchGetItem of both items. */
  async getTaskInstanceAndRun(key: TiKey): Promise<{ ti: TaskInstanceRecord | undefined; run: DagRunRecord | undefined }> {
    const tiKey = keys.taskInstance(key, key.taskId, key.mapIndex);
    const runKey = keys.run(key);
    const found = await this.batchGet([tiKey, runKey]);
    const ti = found.get(keyId(tiKey));
    const run = found.get(keyId(runKey));
    return { ti: ti ? itemToTi(ti) : undefined, run: run ? itemToRun(run) : undefined };
  }

  async getTaskInstance(key: TiKey): Promise<TaskInstanceRecord | undefined> {
    const item = await this.get(keys.taskInstance(key, key.taskId, key.mapIndex));
    return item ? itemToTi(item) : undefined;
  }

  async listTaskInstances(run: RunRef, taskId?: string): Promise<TaskInstanceRecord[]> {
    return (await this.queryPrefix(prefixes.runPartition(run), prefixes.taskInstances(taskId))).map(itemToTi);
  }

  /** The condition of a transition: the instance exists, is in one of the states, at the try. */
  private expectation(e: Expr, expect: TiExpectation): string {
    const states = expect.states.map((s) => e.value(s)).join(', ');
    let cond = `attribute_exists(${e.name(PK)}) AND ${e.name('state')} IN (${states})`;
    if (expect.tryNumber !== undefined) cond += ` AND ${e.name('tryNumber')} = ${e.value(expect.tryNumber)}`;
    return cond;
  }

  async updateTaskInstance(key: TiKey, expect: TiExpectation, patch: Partial<TaskInstanceRecord>): Promise<TaskInstanceRecord | undefined> {
    if (!satisfiable(expect)) return undefined;
    const e = new Expr();
    const set = e.set(tiPatchAttributes(patch));
    if (!set.length) set.push(`${e.name('type')} = ${e.value(ItemType.taskInstance)}`);
    try {
      const attrs = await this.write(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.taskInstance(key, key.taskId, key.mapIndex),
          UpdateExpression: updateExpression({ set }),
          ConditionExpression: this.expectation(e, expect),
          ...e.params(),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return itemToTi(attrs!);
    } catch (err) {
      if (isConditionFailed(err)) return undefined;
      throw err;
    }
  }

  async finishTaskInstance(req: FinishRequest): Promise<FinishResult | undefined> {
    if (!(await this.finishOne(req))) return undefined;
    const { dagId, runId, taskId, mapIndex } = req.key;
    const tiKey = keys.taskInstance(req.key, taskId, mapIndex);
    const runKey = keys.run(req.key);
    const dsKeys = req.downstream.map((d) => keys.taskState(req.key, d));
    const releases = req.release ?? [];
    // The semaphores given back are read with the rest: their waiter counts say whom to wake.
    const semKeys = releases.map((r) => keys.semaphore(r.name));
    const found = await this.batchGet([tiKey, runKey, ...dsKeys, ...semKeys]);
    const ti = found.get(keyId(tiKey));
    const run = found.get(keyId(runKey));
    if (!ti || !run) throw new Error(`DynamoDB store: task instance or run '${runId}' of DAG '${dagId}' vanished after finishing ${taskId}[${mapIndex}]`);
    return {
      ti: itemToTi(ti),
      pending: Number(run.pending),
      downstream: req.downstream.map((d, i) => itemToTaskState(found.get(keyId(dsKeys[i]!)) ?? { dagId, runId, taskId: d })),
      run: itemToRun(run),
      waiters: releases.filter((_, i) => hasWaiters(found.get(keyId(semKeys[i]!)))).map((r) => r.name),
    };
  }

  /** `finishTaskInstance` without reading the result back: whether this call applied the finish. */
  private async finishOne(req: FinishRequest): Promise<boolean> {
    const run = req.key;
    const { taskId } = run;
    if (req.expect === 'absent' ? !req.create : !satisfiable(req.expect)) return false;
    const releases = (req.release ?? []).map((r) => this.releaseItem(r.name, r.n, r.holder));
    return this.tx.fanOut({
      anchorKey: keys.taskInstance(run, taskId, req.key.mapIndex),
      claim: (cursor) => this.finishClaim(req, cursor),
      first: [this.taskStateAdd(run, taskId, (e) => [`${e.name(selfAttr(req.state))} ${e.value(1)}`]), ...releases],
      optional: new Set(releases),
      last: [this.runPendingAdd(run, -1)],
      targets: this.countedTargets(run, req.downstream, (e, n) => [`${e.name(upstreamAttr(req.state))} ${e.value(n)}`]),
      sameOutcome: (a) => a.state === req.state,
    });
  }

  /** A release as a transaction item: conditional on the holder holding `n` units. */
  private releaseItem(name: string, n: number, holder: string): TxItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.semaphore(name),
        UpdateExpression: 'ADD #used :minus REMOVE #h',
        ConditionExpression: '#h = :n',
        ExpressionAttributeNames: { '#used': 'used', '#h': `${HOLDER_PREFIX}${holder}` },
        ExpressionAttributeValues: { ':minus': -n, ':n': n },
      },
    };
  }

  /**
   * The instance's side of a finish: its conditional move to the terminal state (or its creation in it),
   * carrying a fan-out cursor when not null; without one, a cursor left by an earlier try is removed.
   */
  private finishClaim(req: FinishRequest, cursor: Item | null): TxItem {
    const { dagId, runId, taskId, mapIndex } = req.key;
    const tiKey = keys.taskInstance(req.key, taskId, mapIndex);
    const expect = req.expect;
    if (expect === 'absent') {
      const ti = { ...req.create!, ...req.patch, dagId, runId, taskId, mapIndex, state: req.state } as TaskInstanceRecord;
      return {
        Put: {
          TableName: this.tableName,
          Item: { ...tiKey, type: ItemType.taskInstance, ...tiAttributes(ti), ...(cursor ?? {}) },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        },
      };
    }
    const e = new Expr();
    return {
      Update: {
        TableName: this.tableName,
        Key: tiKey,
        UpdateExpression: updateExpression({
          set: e.set({ ...tiPatchAttributes(req.patch), state: req.state, ...(cursor ?? {}) }),
          remove: cursor ? [] : [FAN_DONE, FAN_CHUNKS, FAN_TARGETS].map((a) => e.name(a)),
        }),
        ConditionExpression: this.expectation(e, expect),
        ...e.params(),
      },
    };
  }

  // ---------------------------------------------------------------------------------------------------
  // Many task instances at once (array jobs)

  /** One Query (paged): `SK BETWEEN TI#<task>#<from> AND TI#<task>#<to - 1>`, in map-index order. */
  async listTaskInstanceRange(run: RunRef, taskId: string, from: number, to: number): Promise<TaskInstanceRecord[]> {
    const lo = Math.max(-1, Math.ceil(from));
    const hi = Math.min(MAX_INDEX, Math.ceil(to) - 1);
    if (!(lo <= hi)) return [];
    const items = await this.query({
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lo AND :hi',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      ExpressionAttributeValues: {
        ':pk': prefixes.runPartition(run),
        ':lo': keys.taskInstance(run, taskId, lo)[SK],
        ':hi': keys.taskInstance(run, taskId, hi)[SK],
      },
      ConsistentRead: true,
    });
    return items.map(itemToTi);
  }

  /** TransactWriteItems of up to 100 conditional updates each (independent chunks run concurrently). */
  async updateTaskInstances(updates: readonly TiUpdate[]): Promise<boolean[]> {
    const applied = new Array<boolean>(updates.length).fill(false);
    const writes: TxWrite[] = [];
    updates.forEach((u, index) => {
      if (!satisfiable(u.expect)) return;
      const e = new Expr();
      const set = e.set(tiPatchAttributes(u.patch));
      if (!set.length) set.push(`${e.name('type')} = ${e.value(ItemType.taskInstance)}`);
      const key = keys.taskInstance(u.key, u.key.taskId, u.key.mapIndex);
      writes.push(
        txWrite(index, key, {
          Update: { TableName: this.tableName, Key: key, UpdateExpression: updateExpression({ set }), ConditionExpression: this.expectation(e, u.expect), ...e.params() },
        }),
      );
    });
    await this.writeChunks(writes, MAX_TRANSACTION_ITEMS, applied);
    return applied;
  }

  /**
   * Transactions of the instances' conditional moves plus, aggregated over each transaction, the task's
   * own tally, its downstream tallies and the run's pending count: one transaction per
   * `100 - 2 - downstream` instances, applied one after another (they share the tally and run items).
   * A transaction refused for some instances' conditions is sent again without them and with the
   * aggregates recomputed, so each applied instance is counted exactly once. When fewer than
   * `MIN_BULK_FINISH` instances would fit (97 distinct downstream tasks or more): one `finishTaskInstance`
   * after another (each its own fan-out), then one read of the result.
   */
  async finishTaskInstances(reqs: readonly FinishRequest[]): Promise<BulkFinishResult> {
    const { run, taskId, first: { downstream } } = oneTaskOf('finishTaskInstances', reqs, { sameDownstream: true });
    for (const r of reqs) if (r.expect === 'absent') throw new Error('finishTaskInstances: creating instances is not supported in bulk');
    const applied = new Array<boolean>(reqs.length).fill(false);
    // Tally items a transaction updates besides the instances: the task's own and each downstream one.
    const tallies = new Set([taskId, ...downstream]).size;
    const room = MAX_TRANSACTION_ITEMS - 1 - tallies;
    if (room < MIN_BULK_FINISH) {
      for (let i = 0; i < reqs.length; i++) applied[i] = await this.finishOne(reqs[i]!);
    } else {
      const writes: TxWrite[] = [];
      const states: TerminalTiState[] = [];
      reqs.forEach((r, index) => {
        if (r.expect === 'absent' || !satisfiable(r.expect)) return;
        writes.push(txWrite(index, keys.taskInstance(run, taskId, r.key.mapIndex), this.finishClaim(r, null)));
        states[index] = r.state;
      });
      const aggregates = (live: readonly TxWrite[]) => this.finishAggregates(run, taskId, downstream, live.map((w) => states[w.index]!));
      for (const chunk of chunkWrites(writes, room, AGGREGATE_BYTES * (tallies + 1)).chunks) await this.writeChunk(chunk, applied, aggregates);
    }
    const runKey = keys.run(run);
    const dsKeys = downstream.map((d) => keys.taskState(run, d));
    const found = await this.batchGet([runKey, ...dsKeys]);
    const runItem = found.get(keyId(runKey));
    if (!runItem) throw new Error(`DynamoDB store: no run '${run.runId}' of DAG '${run.dagId}' in the table`);
    return {
      applied,
      pending: Number(runItem.pending),
      downstream: downstream.map((d, i) => itemToTaskState(found.get(keyId(dsKeys[i]!)) ?? { ...run, taskId: d })),
    };
  }

  /**
   * The tally and run updates of finishing instances in `states` (one each) at once: per terminal
   * state, ADD its count to the task's own tally and to each downstream task's upstream tally (a task
   * listed twice counts twice, as `countedTargets`), and the run's pending count minus the number.
   */
  private finishAggregates(run: RunRef, taskId: string, downstream: readonly string[], states: readonly TerminalTiState[]): TxItem[] {
    const byState = new Map<TerminalTiState, number>();
    for (const s of states) byState.set(s, (byState.get(s) ?? 0) + 1);
    const adds = new Map<string, Map<string, number>>();
    const add = (task: string, attr: string, n: number) => {
      let m = adds.get(task);
      if (!m) adds.set(task, (m = new Map<string, number>()));
      m.set(attr, (m.get(attr) ?? 0) + n);
    };
    for (const [s, n] of byState) {
      add(taskId, selfAttr(s), n);
      for (const d of downstream) add(d, upstreamAttr(s), n);
    }
    const items = [...adds].map(([task, m]) => this.taskStateAdd(run, task, (e) => [...m].map(([attr, n]) => `${e.name(attr)} ${e.value(n)}`)));
    items.push(this.runPendingAdd(run, -states.length));
    return items;
  }

  /**
   * Apply conditional writes in transactions of at most `max` items: each reports in `applied` whether it
   * applied. Chunks run concurrently unless an item is written twice (then in order, one after another).
   */
  private async writeChunks(writes: readonly TxWrite[], max: number, applied: boolean[]): Promise<void> {
    const { chunks, repeats } = chunkWrites(writes, max, 0);
    if (repeats) for (const c of chunks) await this.writeChunk(c, applied);
    else await this.each(chunks, (c) => this.writeChunk(c, applied));
  }

  /**
   * One transaction of conditional writes (and `extra` items computed from those still in it). When it
   * is refused because some conditions failed, those report false and it is sent again without them.
   */
  private async writeChunk(writes: readonly TxWrite[], applied: boolean[], extra?: (live: readonly TxWrite[]) => TxItem[]): Promise<void> {
    let live = writes;
    while (live.length) {
      const only = live.length === 1 && !extra ? live[0]!.item : undefined;
      if (only?.Put || only?.Update) {
        // One conditional write alone: a plain PutItem/UpdateItem (half the write units of a transaction).
        try {
          await this.write(only.Put ? new PutCommand(only.Put) : new UpdateCommand(only.Update!));
          applied[live[0]!.index] = true;
        } catch (e) {
          if (!isConditionFailed(e)) throw e;
        }
        return;
      }
      const res = await this.tx.writeEach([...live.map((w) => w.item), ...(extra ? extra(live) : [])]);
      if (res.ok) {
        for (const w of live) applied[w.index] = true;
        return;
      }
      const failed = new Set(res.failed);
      if (res.failed.some((i) => i >= live.length)) throw new Error('DynamoDB store: the condition on the run failed in a bulk finish (is the run missing from the table?)');
      live = live.filter((_, i) => !failed.has(i));
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Clearing (finishes undone)

  /**
   * Transactions of the instances' conditional moves back (an UpdateItem to the patch, or a DeleteItem)
   * plus, aggregated over each transaction, the tallies taken back (the task's own, its downstream ones)
   * and the run's pending count, as `finishTaskInstances` does forwards; a transaction refused for some
   * instances' conditions is sent again without them. With 97 distinct downstream tasks or more, each
   * instance is its own fan-out (`Transactor.fanOut`, the instance as the anchor, the run's pending count
   * in the first transaction); one that goes away is first marked (`clearing`) and deleted, with its
   * task's decision reset when asked, in one last transaction.
   */
  async resetTaskInstances(reqs: readonly ResetRequest[]): Promise<BulkResetResult> {
    const { run, taskId, first: { downstream } } = oneTaskOf('resetTaskInstances', reqs, { sameDownstream: true });
    for (const r of reqs) if (r.undecide && r.to !== 'absent') throw new Error("resetTaskInstances: 'undecide' needs to: 'absent'");
    const applied = new Array<boolean>(reqs.length).fill(false);
    const resets = await this.withHistories(run, taskId, reqs);
    const tallies = new Set([taskId, ...downstream]).size;
    const room = MAX_TRANSACTION_ITEMS - 1 - tallies;
    if (room < MIN_BULK_FINISH) {
      for (let i = 0; i < resets.length; i++) applied[i] = await this.resetOne(resets[i]!);
    } else {
      const writes = resets.map((r, index) => txWrite(index, keys.taskInstance(run, taskId, r.key.mapIndex), this.resetClaim(r, null)));
      const aggregates = (live: readonly TxWrite[]) => this.resetAggregates(run, taskId, downstream, live.map((w) => resets[w.index]!));
      for (const chunk of chunkWrites(writes, room, AGGREGATE_BYTES * (tallies + 1)).chunks) await this.writeChunk(chunk, applied, aggregates);
    }
    const runItem = await this.get(keys.run(run));
    if (!runItem) throw new Error(`DynamoDB store: no run '${run.runId}' of DAG '${run.dagId}' in the table`);
    return { applied, pending: Number(runItem.pending) };
  }

  /**
   * The resets with each instance's history, the try it is at appended (read first: while the instance
   * is in `expect.state` at `expect.tryNumber`, which each write is conditional on, its history cannot
   * change): in the patch of an instance that stays, in `history` for the task state of one that goes.
   */
  private async withHistories(run: RunRef, taskId: string, reqs: readonly ResetRequest[]): Promise<ResetWrite[]> {
    const found = await this.batchGet(reqs.map((r) => keys.taskInstance(run, taskId, r.key.mapIndex)));
    return reqs.map((r) => {
      const item = found.get(keyId(keys.taskInstance(run, taskId, r.key.mapIndex)));
      const ti = item ? itemToTi(item) : undefined;
      if (!ti || ti.state !== r.expect.state || ti.tryNumber !== r.expect.tryNumber) return r;
      const history = historyWithCurrentTry(ti, r.expect.state);
      if (!history) return r;
      return r.to === 'absent' ? { ...r, history } : { ...r, to: { ...r.to, history } };
    });
  }

  /** The instance's side of a reset: its conditional move back (patch or delete), a fan-out cursor when not null. */
  private resetClaim(r: ResetRequest, cursor: Item | null, mark = false): TxItem {
    const { taskId, mapIndex } = r.key;
    const e = new Expr();
    const cond = `attribute_exists(${e.name(PK)}) AND ${e.name('state')} = ${e.value(r.expect.state)} AND ${e.name('tryNumber')} = ${e.value(r.expect.tryNumber)}`;
    const Key = keys.taskInstance(r.key, taskId, mapIndex);
    if (r.to === 'absent' && !mark) return { Delete: { TableName: this.tableName, Key, ConditionExpression: cond, ...e.params() } };
    const set = r.to === 'absent' ? e.set({ [CLEARING]: true, ...(cursor ?? {}) }) : e.set({ ...tiPatchAttributes(r.to), ...(cursor ?? {}) });
    return {
      Update: {
        TableName: this.tableName,
        Key,
        UpdateExpression: updateExpression({ set, remove: cursor ? [] : [FAN_DONE, FAN_CHUNKS, FAN_TARGETS].map((a) => e.name(a)) }),
        ConditionExpression: mark ? `${cond} AND attribute_not_exists(${e.name(CLEARING)})` : cond,
        ...e.params(),
      },
    };
  }

  /**
   * What resets of one task's instances take back, at once: per state, the task's own tally and each
   * downstream task's upstream tally (a task listed twice counts twice), the task's decision when a
   * request undecides it, and the run's pending count plus their number.
   */
  private resetAggregates(run: RunRef, taskId: string, downstream: readonly string[], reqs: readonly ResetWrite[]): TxItem[] {
    const adds = new Map<string, Map<string, number>>();
    const add = (task: string, attr: string, n: number) => {
      let m = adds.get(task);
      if (!m) adds.set(task, (m = new Map<string, number>()));
      m.set(attr, (m.get(attr) ?? 0) + n);
    };
    for (const r of reqs) {
      add(taskId, selfAttr(r.expect.state), -1);
      for (const d of downstream) add(d, upstreamAttr(r.expect.state), -1);
    }
    const undecided = reqs.find((r) => r.undecide);
    const items = [...adds].map(([task, m]): TxItem => {
      const e = new Expr();
      const clauses = { set: e.set({ dagId: run.dagId, runId: run.runId, taskId: task, type: ItemType.taskState }), add: [...m].map(([attr, n]) => `${e.name(attr)} ${e.value(n)}`), remove: [] as string[] };
      if (task === taskId && undecided?.undecide) {
        clauses.set.push(...e.set({ [PRIOR_TRIES]: undecided.undecide.priorTries, ...(undecided.history ? { [PRIOR_HISTORY]: undecided.history } : {}) }));
        clauses.remove.push(e.name(DECISION), e.name(MAP_COUNT), ...(undecided.history ? [] : [e.name(PRIOR_HISTORY)]));
      }
      return { Update: { TableName: this.tableName, Key: keys.taskState(run, task), UpdateExpression: updateExpression(clauses), ...e.params() } };
    });
    items.push(this.runPendingAdd(run, reqs.length));
    return items;
  }

  /**
   * One reset as its own fan-out (a task with very many downstream tasks): the claim on the instance, the
   * task's own tally and the run's pending count first, then the downstream tallies in chunks. An instance
   * that goes away is marked (`clearing`) by the claim and deleted, with its task undecided when asked,
   * once the fan-out is complete (by whoever finds it so: a replay completes a reset cut short).
   */
  private async resetOne(r: ResetWrite): Promise<boolean> {
    const run = r.key;
    const { taskId, mapIndex } = r.key;
    const anchorKey = keys.taskInstance(run, taskId, mapIndex);
    const own = this.taskStateAdd(run, taskId, (e) => [`${e.name(selfAttr(r.expect.state))} ${e.value(-1)}`]);
    const applied = await this.tx.fanOut({
      anchorKey,
      claim: (cursor) => this.resetClaim(r, cursor, r.to === 'absent'),
      first: [own, this.runPendingAdd(run, 1)],
      last: [],
      targets: this.countedTargets(run, r.downstream, (e, n) => [`${e.name(upstreamAttr(r.expect.state))} ${e.value(-n)}`]),
      sameOutcome: (a) =>
        r.to === 'absent'
          ? a[CLEARING] === true && a.tryNumber === r.expect.tryNumber
          : a.state === (r.to.state ?? r.expect.state) && a.tryNumber === (r.to.tryNumber ?? r.expect.tryNumber),
    });
    if (r.to !== 'absent') return applied;
    // The instance goes away once its fan-out is complete, and its task is undecided in the same step.
    const ti = await this.get(anchorKey);
    if (!ti || ti[CLEARING] !== true) return applied;
    const e = new Expr();
    const complete = `(attribute_not_exists(${e.name(FAN_CHUNKS)}) OR ${e.name(FAN_DONE)} >= ${e.name(FAN_CHUNKS)})`;
    const items: TxItem[] = [{ Delete: { TableName: this.tableName, Key: anchorKey, ConditionExpression: `${e.name(CLEARING)} = ${e.value(true)} AND ${complete}`, ...e.params() } }];
    if (r.undecide) {
      const u = new Expr();
      items.push({
        Update: {
          TableName: this.tableName,
          Key: keys.taskState(run, taskId),
          UpdateExpression: updateExpression({
            set: u.set({ [PRIOR_TRIES]: r.undecide.priorTries, ...(r.history ? { [PRIOR_HISTORY]: r.history } : {}) }),
            remove: [u.name(DECISION), u.name(MAP_COUNT), ...(r.history ? [] : [u.name(PRIOR_HISTORY)])],
          }),
          ...u.params(),
        },
      });
    }
    await this.tx.writeEach(items);
    return applied;
  }

  /**
   * The un-expansion as one fan-out on the task's state (as `claimExpansion`): the claim removes the
   * decision under its condition, the run's pending count drops first, the downstream announcements are
   * taken back in chunks.
   */
  async withdrawExpansion(run: RunRef, taskId: string, count: number, downstream: readonly string[], priorTries: number): Promise<boolean> {
    const anchorKey = keys.taskState(run, taskId);
    return this.tx.fanOut({
      anchorKey,
      claim: (cursor) => {
        const e = new Expr();
        const zero = (['success', 'failed', 'skipped', 'upstream_failed', 'removed'] as const).map((st) => `(attribute_not_exists(${e.name(selfAttr(st))}) OR ${e.name(selfAttr(st))} = ${e.value(0)})`);
        return {
          Update: {
            TableName: this.tableName,
            Key: anchorKey,
            UpdateExpression: updateExpression({
              set: e.set({ [PRIOR_TRIES]: priorTries, ...(cursor ?? {}) }),
              remove: [DECISION, MAP_COUNT, ...(cursor ? [] : [FAN_DONE, FAN_CHUNKS, FAN_TARGETS])].map((a) => e.name(a)),
            }),
            ConditionExpression: [`${e.name(DECISION)} = ${e.value('expanded')}`, `${e.name(MAP_COUNT)} = ${e.value(count)}`, ...zero].join(' AND '),
            ...e.params(),
          },
        };
      },
      first: count === 1 ? [] : [this.runPendingAdd(run, -(count - 1))],
      last: [],
      targets: this.countedTargets(run, downstream, (e, n) => [`${e.name(ADDED_TOTAL)} ${e.value(-count * n)}`, `${e.name(EXPANDED_COUNT)} ${e.value(-n)}`]),
      sameOutcome: (a) => a[DECISION] === undefined && a[PRIOR_TRIES] === priorTries,
    });
  }

  /** One Query per task (its XCom items and, per instance, its item results), then BatchWriteItem deletes. */
  async deleteTaskResults(tiKeys: readonly TiKey[]): Promise<void> {
    const byTask = new Map<string, { dagId: string; runId: string; taskId: string; indexes: Set<number> }>();
    for (const k of tiKeys) {
      const id = `${runKeyText(k)}\u0000${k.taskId}`;
      let g = byTask.get(id);
      if (!g) byTask.set(id, (g = { dagId: k.dagId, runId: k.runId, taskId: k.taskId, indexes: new Set() }));
      g.indexes.add(k.mapIndex);
    }
    const doomed: Item[] = [];
    const refs: string[] = [];
    const projection = { ProjectionExpression: '#k1, #k2, #ref, #mi', ExpressionAttributeNames: { '#k1': PK, '#k2': SK, '#ref': 'ref', '#mi': 'mapIndex' } };
    await this.each([...byTask.values()], async (g) => {
      const xcoms = await this.queryPrefix(prefixes.runPartition(g), `XC#${g.taskId}#`, projection);
      const found = xcoms.filter((x) => g.indexes.has(Number(x.mapIndex)));
      for (const i of g.indexes) found.push(...(await this.queryPrefix(prefixes.runPartition(g), prefixes.itemResults(g.taskId, i), projection)));
      for (const x of found) {
        doomed.push({ [PK]: x[PK], [SK]: x[SK] });
        if (typeof x.ref === 'string') refs.push(x.ref);
      }
    });
    await this.batchDelete(doomed);
    if (refs.length && this.largeValues?.expire) await this.largeValues.expire(refs);
  }

  /** The run's items retention applies to (XComs, item results, logs): their keys and `attribute`. */
  private async expiringItems(run: RunRef, attribute: string): Promise<Item[]> {
    const projection = { ProjectionExpression: '#k1, #k2, #a', ExpressionAttributeNames: { '#k1': PK, '#k2': SK, '#a': attribute } };
    const lists = await Promise.all(prefixes.expiring.map((p) => this.queryPrefix(prefixes.runPartition(run), p, projection)));
    return lists.flat();
  }

  /** Set the TTL attribute of each item that still exists to `at` (epoch seconds), or remove it (null). */
  private async setTtl(items: readonly Item[], at: number | null): Promise<void> {
    await this.each(items, async (item) => {
      try {
        await this.write(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { [PK]: item[PK], [SK]: item[SK] },
            UpdateExpression: at === null ? 'REMOVE #ttl' : 'SET #ttl = :at',
            ConditionExpression: 'attribute_exists(#pk)',
            ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE, '#pk': PK },
            ...(at === null ? {} : { ExpressionAttributeValues: { ':at': at } }),
          }),
        );
      } catch (e) {
        if (!isConditionFailed(e)) throw e;
      }
    });
  }

  /** Remove the TTL that `expireRun` put on the run's XComs, item results and logs. */
  async reviveRun(run: RunRef): Promise<number> {
    const items = (await this.expiringItems(run, TTL_ATTRIBUTE)).filter((i) => i[TTL_ATTRIBUTE] !== undefined);
    await this.setTtl(items, null);
    return items.length;
  }

  // ---------------------------------------------------------------------------------------------------
  // Deleting

  /** BatchWriteItem deletes in chunks of 25 (unprocessed ones sent again with backoff). */
  private async batchDelete(itemKeys: readonly Item[]): Promise<void> {
    const unique = new Map<string, Item>();
    for (const k of itemKeys) unique.set(keyId(k), k);
    const all = [...unique.values()];
    const chunks: Item[][] = [];
    for (let i = 0; i < all.length; i += MAX_BATCH_WRITE_ITEMS) chunks.push(all.slice(i, i + MAX_BATCH_WRITE_ITEMS));
    await this.each(chunks, (chunk) => this.batchWrite(chunk.map((Key) => ({ DeleteRequest: { Key } }))));
  }

  /**
   * One Query of the run's partition (keys only) and BatchWriteItem deletes of every item in it, then
   * of its pipeline scope's partition when the run owns it; the run item goes last, so a delete cut short
   * is finished by the next one. Large values are marked expired in the large-value store.
   */
  async deleteRun(ref: RunRef): Promise<DeletedRun | undefined> {
    const runItem = await this.get(keys.run(ref));
    if (!runItem) return undefined;
    const run = itemToRun(runItem);
    const projection = { ProjectionExpression: '#k1, #k2, #ref', ExpressionAttributeNames: { '#k1': PK, '#k2': SK, '#ref': 'ref' } };
    const items = await this.queryPrefix(prefixes.runPartition(run), null, projection);
    const out: DeletedRun = { ...runRefOf(run), taskInstances: 0, xcoms: 0, itemResults: 0, logs: 0, pipelineSaves: 0 };
    const logs = new Set<string>();
    const refs: string[] = [];
    const doomed: Item[] = [];
    for (const i of items) {
      const sk = String(i[SK]);
      if (sk === keys.run(run)[SK]) continue;
      doomed.push({ [PK]: i[PK], [SK]: i[SK] });
      if (typeof i.ref === 'string') refs.push(i.ref);
      if (sk.startsWith('TI#')) out.taskInstances++;
      else if (sk.startsWith('XC#')) out.xcoms++;
      else if (sk.startsWith('IT#')) out.itemResults++;
      else if (sk.startsWith('LOG#')) logs.add(sk.split('#').slice(0, 4).join('#'));
    }
    out.logs = logs.size;
    doomed.push(...(await this.hitl.pointersOfRun(run)));
    if (run.pipelineScope === pipelineScopeOf(run)) {
      const saves = await this.queryPrefix(prefixes.pipelinePartition(run.pipelineScope), null, projection);
      out.pipelineSaves = saves.length;
      for (const i of saves) {
        doomed.push({ [PK]: i[PK], [SK]: i[SK] });
        if (typeof i.ref === 'string') refs.push(i.ref);
      }
    }
    await this.batchDelete(doomed);
    await this.write(new DeleteCommand({ TableName: this.tableName, Key: keys.run(run) }));
    if (refs.length && this.largeValues?.expire) await this.largeValues.expire(refs);
    return out;
  }

  /** One Query of the DAG's partition (its record, its version records and its backfills) and BatchWriteItem deletes. */
  async deleteDagRecord(dagId: string): Promise<{ dagRecord: boolean; backfills: number }> {
    const items = await this.queryPrefix(prefixes.dagPartition(dagId), null, { ProjectionExpression: '#k1, #k2', ExpressionAttributeNames: { '#k1': PK, '#k2': SK } });
    await this.batchDelete(items.map((i) => ({ [PK]: i[PK], [SK]: i[SK] })));
    return { dagRecord: items.some((i) => i[SK] === keys.dag(dagId)[SK]), backfills: items.filter((i) => String(i[SK]).startsWith(prefixes.backfills)).length };
  }

  async deleteSemaphores(names: readonly string[]): Promise<void> {
    await this.each(names, async (name) => {
      const waiters = await this.queryPrefix(prefixes.waiterPartition(name), null, { ProjectionExpression: '#k1, #k2', ExpressionAttributeNames: { '#k1': PK, '#k2': SK } });
      await this.batchDelete([keys.semaphore(name), ...waiters.map((i) => ({ [PK]: i[PK], [SK]: i[SK] }))]);
    });
  }

  // ---------------------------------------------------------------------------------------------------
  // Backfills: items in the DAG's partition, the record as JSON text

  async createBackfill(b: BackfillRecord): Promise<boolean> {
    return this.putIfAbsent({ ...keys.backfill(b.dagId, b.backfillId), type: ItemType.backfill, state: b.state, record: JSON.stringify(b), ver: 0 });
  }

  async getBackfill(dagId: string, backfillId: string): Promise<BackfillRecord | undefined> {
    const item = await this.get(keys.backfill(dagId, backfillId));
    return item ? (JSON.parse(String(item.record)) as BackfillRecord) : undefined;
  }

  /** Read, check `expect`, write under the condition that the item's version did not move (retried if it did). */
  async updateBackfill(dagId: string, backfillId: string, expect: readonly BackfillRecord['state'][] | null, patch: Partial<BackfillRecord>): Promise<BackfillRecord | undefined> {
    const key = keys.backfill(dagId, backfillId);
    for (let attempt = 0; ; attempt++) {
      const item = await this.get(key);
      if (!item) return undefined;
      const cur = JSON.parse(String(item.record)) as BackfillRecord;
      if (expect && !expect.includes(cur.state)) return undefined;
      const next: BackfillRecord = { ...cur, ...patch, dagId, backfillId };
      const ver = Number(item.ver ?? 0);
      try {
        await this.write(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'SET #record = :record, #state = :state, #ver = :next',
            ConditionExpression: '#ver = :ver',
            ExpressionAttributeNames: { '#record': 'record', '#state': 'state', '#ver': 'ver' },
            ExpressionAttributeValues: { ':record': JSON.stringify(next), ':state': next.state, ':next': ver + 1, ':ver': ver },
          }),
        );
        return next;
      } catch (e) {
        if (!isConditionFailed(e) || attempt > 50) throw e;
      }
    }
  }

  async listBackfills(dagId: string): Promise<BackfillRecord[]> {
    const items = await this.queryPrefix(prefixes.dagPartition(dagId), prefixes.backfills);
    return items.map((i) => JSON.parse(String(i.record)) as BackfillRecord).sort(backfillOrder);
  }

  /** BatchWriteItem in chunks of 25 (unprocessed items sent again with backoff); values as `putXCom`. */
  async putXComs(xs: readonly XComRecord[]): Promise<void> {
    await this.batchPutAll(await this.xcomItems(xs));
  }

  /** The items of XComs put together: the last put of a key wins (BatchWriteItem refuses a key twice in one request). */
  private xcomItems(xs: readonly XComRecord[]): Promise<Item[]> {
    const byKey = new Map<string, XComRecord>();
    for (const x of xs) {
      const id = keyId(keys.xcom(x, x.taskId, x.key, x.mapIndex));
      byKey.delete(id);
      byKey.set(id, x);
    }
    return this.map([...byKey.values()], (x) => this.xcomItem(x));
  }

  /** The XComs' and the logs' items in BatchWriteItem requests of 25 (a try's result and log: one request). */
  async putTryOutput(out: { xcoms: readonly XComRecord[]; logs: readonly { key: TiKey; tryNumber: number; lines: readonly LogLine[] }[] }): Promise<void> {
    const items = [...(await this.xcomItems(out.xcoms)), ...out.logs.flatMap((e) => this.logItems(e.key, e.tryNumber, e.lines))];
    await this.batchPutAll(items);
  }

  /** Plain puts of `items` (distinct keys) in BatchWriteItem requests of 25, concurrently. */
  private async batchPutAll(items: Item[]): Promise<void> {
    const chunks: Item[][] = [];
    for (let i = 0; i < items.length; i += MAX_BATCH_WRITE_ITEMS) chunks.push(items.slice(i, i + MAX_BATCH_WRITE_ITEMS));
    await this.each(chunks, (chunk) => this.batchPut(chunk));
  }

  /** One BatchWriteItem of puts, with its unprocessed items sent again after a pause until none is left. */
  private async batchPut(items: readonly Item[]): Promise<void> {
    await this.batchWrite(items.map((Item) => ({ PutRequest: { Item } })));
  }

  /** One BatchWriteItem (puts or deletes), with its unprocessed items sent again after a pause until none is left. */
  private async batchWrite(requests: NonNullable<BatchWriteCommandInput['RequestItems']>[string]): Promise<void> {
    let request = requests;
    for (let attempt = 1; request.length; attempt++) {
      try {
        const res = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: request } }));
        request = res.UnprocessedItems?.[this.tableName] ?? [];
      } catch (e) {
        if (!(e instanceof Error && e.name === 'TransactionConflictException') || attempt >= BATCH_ATTEMPTS) throw e;
      }
      if (!request.length) return;
      if (attempt >= BATCH_ATTEMPTS) throw new Error(`DynamoDB store: ${request.length} items were still unprocessed after ${attempt} BatchWriteItem requests`);
      await sleep(Math.random() * Math.min(1000, 10 * 2 ** attempt));
    }
  }

  /** An XCom's item, its value encoded (a large one put in the large-value store). */
  private async xcomItem(x: XComRecord): Promise<Item> {
    const value = await this.encodeValue(
      x.value,
      () => `${x.dagId}/${x.runId}/xcom/${x.taskId}/${mapIndexPart(x.mapIndex)}/${freePart(x.key)}.json`,
      () => `XCom '${x.key}' of ${x.taskId}[${x.mapIndex}] in run '${x.runId}' of DAG '${x.dagId}'`,
    );
    return { ...keys.xcom(x, x.taskId, x.key, x.mapIndex), type: ItemType.xcom, dagId: x.dagId, runId: x.runId, taskId: x.taskId, mapIndex: x.mapIndex, key: x.key, ...value };
  }

  // ---------------------------------------------------------------------------------------------------
  // XCom and iteration results

  async putXCom(x: XComRecord): Promise<void> {
    await this.write(new PutCommand({ TableName: this.tableName, Item: await this.xcomItem(x) }));
  }

  async getXCom(run: RunRef, taskId: string, mapIndex: number, key: string): Promise<XComRecord | undefined> {
    const item = await this.get(keys.xcom(run, taskId, key, mapIndex));
    return item ? { ...runRefOf(run), taskId, mapIndex, key, value: await this.decodeValue(item) } : undefined;
  }

  async listXComs(run: RunRef, taskId: string, key: string): Promise<XComRecord[]> {
    const items = await this.queryPrefix(prefixes.runPartition(run), prefixes.xcoms(taskId, key));
    return this.map(items, async (item) => ({ ...runRefOf(run), taskId, mapIndex: Number(item.mapIndex), key, value: await this.decodeValue(item) }));
  }

  async listTaskXComs(run: RunRef, taskId: string): Promise<XComRecord[]> {
    const items = await this.queryPrefix(prefixes.runPartition(run), prefixes.taskXComs(taskId));
    const out = await this.map(items, async (item) => ({ ...runRefOf(run), taskId, mapIndex: Number(item.mapIndex), key: String(item.key), value: await this.decodeValue(item) }));
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.mapIndex - b.mapIndex));
  }

  async putItemResult(key: TiKey, index: number, value: unknown): Promise<void> {
    const enc = await this.encodeValue(
      value,
      () => `${key.dagId}/${key.runId}/items/${key.taskId}/${mapIndexPart(key.mapIndex)}/${indexPart(index)}.json`,
      () => `item ${index} result of ${key.taskId}[${key.mapIndex}] in run '${key.runId}' of DAG '${key.dagId}'`,
    );
    await this.write(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.itemResult(key, key.taskId, key.mapIndex, index), type: ItemType.itemResult, index, ...enc },
      }),
    );
  }

  async listItemResults(key: TiKey): Promise<Map<number, unknown>> {
    const items = await this.queryPrefix(prefixes.runPartition(key), prefixes.itemResults(key.taskId, key.mapIndex));
    const values = await this.map(items, (item) => this.decodeValue(item));
    const out = new Map<number, unknown>();
    items.forEach((item, i) => out.set(Number(item.index), values[i]));
    return out;
  }

  // ---------------------------------------------------------------------------------------------------
  // Pipeline context

  async appendPipelineSave(scope: string, save: PipelineSave): Promise<void> {
    const sk = `${save.time}#${uniqueSuffix()}`;
    const value = await this.encodeValue(
      save.data,
      () => `${save.dagId}/${save.runId}/pipeline/${freePart(scope)}/${freePart(sk)}.json`,
      () => `pipeline save '${save.stage}' of run '${save.runId}'`,
    );
    await this.write(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          [PK]: prefixes.pipelinePartition(scope),
          [SK]: sk,
          type: ItemType.pipeline,
          stage: save.stage,
          time: save.time,
          dagId: save.dagId,
          runId: save.runId,
          taskId: save.taskId,
          ...value,
        },
      }),
    );
  }

  async listPipelineSaves(scope: string): Promise<PipelineSave[]> {
    const items = await this.queryPrefix(prefixes.pipelinePartition(scope), null);
    return this.map(items, async (item) => ({
      stage: String(item.stage),
      time: String(item.time),
      data: await this.decodeValue(item),
      dagId: String(item.dagId),
      runId: String(item.runId),
      taskId: String(item.taskId),
    }));
  }

  // ---------------------------------------------------------------------------------------------------
  // Logs

  /** Many short logs (an array wave's children): their items in BatchWriteItem requests of 25. */
  async appendLogs(entries: readonly { key: TiKey; tryNumber: number; lines: readonly LogLine[] }[]): Promise<void> {
    const items = entries.flatMap((e) => this.logItems(e.key, e.tryNumber, e.lines));
    const chunks: Item[][] = [];
    for (let i = 0; i < items.length; i += MAX_BATCH_WRITE_ITEMS) chunks.push(items.slice(i, i + MAX_BATCH_WRITE_ITEMS));
    await this.each(chunks, (chunk) => this.batchPut(chunk));
  }

  async appendLog(key: TiKey, tryNumber: number, lines: readonly LogLine[]): Promise<void> {
    await this.each(this.logItems(key, tryNumber, lines), async (Item) => {
      await this.write(new PutCommand({ TableName: this.tableName, Item }));
    });
  }

  /** The items of one append: chunks of at most LOG_CHUNK_BYTES, sharing the first line's time, in order. */
  private logItems(key: TiKey, tryNumber: number, lines: readonly LogLine[]): Item[] {
    if (!lines.length) return [];
    const chunks: LogLine[][] = [];
    let cur: LogLine[] = [];
    let size = 0;
    for (const l of lines) {
      let line: LogLine = { time: l.time, level: l.level, message: l.message };
      let bytes = Buffer.byteLength(JSON.stringify(line), 'utf8');
      if (bytes > LOG_CHUNK_BYTES) {
        const keep = Math.floor(LOG_CHUNK_BYTES / 8);
        line = { ...line, message: `${line.message.slice(0, keep)}… [${line.message.length - keep} characters truncated]` };
        bytes = Buffer.byteLength(JSON.stringify(line), 'utf8');
      }
      if (size + bytes > LOG_CHUNK_BYTES && cur.length) {
        chunks.push(cur);
        cur = [];
        size = 0;
      }
      cur.push(line);
      size += bytes;
    }
    if (cur.length) chunks.push(cur);
    const prefix = prefixes.log(key.taskId, key.mapIndex, tryNumber) + `${lines[0]!.time}#`;
    return chunks.map((chunk) => ({ [PK]: prefixes.runPartition(key), [SK]: prefix + uniqueSuffix(), type: ItemType.log, lines: JSON.stringify(chunk) }));
  }

  async getLog(key: TiKey, tryNumber: number): Promise<LogLine[]> {
    const items = await this.queryPrefix(prefixes.runPartition(key), prefixes.log(key.taskId, key.mapIndex, tryNumber));
    return items.flatMap((i) => JSON.parse(String(i.lines)) as LogLine[]);
  }

  // ---------------------------------------------------------------------------------------------------
  // Pools and concurrency limits

  // ---------------------------------------------------------------------------------------------------
  // DAG registry

  private dagRecordOf(item: Item): DagRecord {
    return {
      dagId: String(item.dagId),
      version: textOrEmpty(item.version),
      paused: item.paused === true,
      ...(typeof item.pausedReason === 'string' ? { pausedReason: item.pausedReason } : {}),
      fileloc: typeof item.fileloc === 'string' ? item.fileloc : null,
      updatedAt: textOrEmpty(item.updatedAt),
    };
  }

  async getDagRecord(dagId: string): Promise<DagRecord | undefined> {
    const item = await this.get(keys.dag(dagId));
    return item ? this.dagRecordOf(item) : undefined;
  }

  private dagVersionOf(item: Item): DagVersionRecord {
    return {
      dagId: String(item.dagId),
      version: String(item.version),
      structureHash: textOrEmpty(item.structureHash),
      bundle: typeof item.bundle === 'string' ? item.bundle : null,
      fileloc: typeof item.fileloc === 'string' ? item.fileloc : null,
      createdAt: textOrEmpty(item.createdAt),
      prunedAt: typeof item.prunedAt === 'string' ? item.prunedAt : null,
    };
  }

  /**
   * Two UpdateItems, the version's record first, then the DAG record (sets the version, keeps `paused`:
   * false when the record is new). Not a transaction: each write is unconditional and idempotent (the
   * version's fields are set only where absent, `if_not_exists`, and `prunedAt` is removed), so a call
   * that fails between them is completed by calling again, and nothing is ever refused by a conflict
   * with another writer (a transaction would be, and costs twice the write capacity, and cannot return
   * the DAG record). In that order, a DAG record's current version always has its version record.
   */
  async registerDagVersion(entry: DagVersionEntry, at: string): Promise<DagRecord> {
    const { dagId, version, structureHash, bundle, fileloc } = entry;
    await this.write(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.dagVersion(dagId, version),
        UpdateExpression:
          'SET #type = :type, #dagId = :dagId, #version = :version, #structureHash = if_not_exists(#structureHash, :structureHash), ' +
          '#bundle = if_not_exists(#bundle, :bundle), #fileloc = if_not_exists(#fileloc, :fileloc), #createdAt = if_not_exists(#createdAt, :at) REMOVE #prunedAt',
        ExpressionAttributeNames: {
          '#type': 'type',
          '#dagId': 'dagId',
          '#version': 'version',
          '#structureHash': 'structureHash',
          '#bundle': 'bundle',
          '#fileloc': 'fileloc',
          '#createdAt': 'createdAt',
          '#prunedAt': 'prunedAt',
        },
        ExpressionAttributeValues: { ':type': ItemType.dagVersion, ':dagId': dagId, ':version': version, ':structureHash': structureHash, ':bundle': bundle, ':fileloc': fileloc, ':at': at },
      }),
    );
    const attrs = await this.write(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.dag(dagId),
        UpdateExpression: 'SET #type = :type, dagId = :dagId, version = :version, fileloc = :fileloc, updatedAt = :at, paused = if_not_exists(paused, :false)',
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues: { ':type': ItemType.dag, ':dagId': dagId, ':version': version, ':fileloc': fileloc, ':at': at, ':false': false },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return this.dagRecordOf(attrs!);
  }

  async getDagVersion(dagId: string, version: string): Promise<DagVersionRecord | undefined> {
    const item = await this.get(keys.dagVersion(dagId, version));
    return item ? this.dagVersionOf(item) : undefined;
  }

  /** One Query of the DAG's version records (a DAG has few), sorted here by `createdAt`, then version. */
  async listDagVersions(dagId: string): Promise<DagVersionRecord[]> {
    const items = await this.queryPrefix(prefixes.dagPartition(dagId), prefixes.dagVersions);
    return items
      .map((i) => this.dagVersionOf(i))
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  }

  /** One UpdateItem, conditional on the record existing (a version with none stays without). */
  async markDagVersionPruned(dagId: string, version: string, at: string): Promise<void> {
    try {
      await this.write(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.dagVersion(dagId, version),
          UpdateExpression: 'SET #prunedAt = :at',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#prunedAt': 'prunedAt', '#pk': PK },
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
    }
  }

  async setDagPaused(dagId: string, paused: boolean, at: string, reason?: string | null): Promise<DagRecord> {
    const attrs = await this.write(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.dag(dagId),
        UpdateExpression: 'SET #type = :type, dagId = :dagId, paused = :paused, updatedAt = :at, version = if_not_exists(version, :empty), pausedReason = :reason',
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues: { ':type': ItemType.dag, ':dagId': dagId, ':paused': paused, ':at': at, ':empty': '', ':reason': paused ? (reason ?? null) : null },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return this.dagRecordOf(attrs!);
  }

  async putPool(pool: PoolRecord): Promise<void> {
    await this.write(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.pool(pool.name), type: ItemType.pool, name: pool.name, slots: pool.slots, description: pool.description },
      }),
    );
  }

  async getPool(name: string): Promise<PoolRecord | undefined> {
    const item = await this.get(keys.pool(name));
    return item ? { name: String(item.name), slots: Number(item.slots), description: textOrEmpty(item.description) } : undefined;
  }

  async deletePool(name: string): Promise<boolean> {
    const old = await this.write(new DeleteCommand({ TableName: this.tableName, Key: keys.pool(name), ReturnValues: 'ALL_OLD' }));
    return old !== undefined;
  }

  async listPools(): Promise<PoolRecord[]> {
    const items = await this.queryPrefix(prefixes.poolPartition, 'POOL#');
    return items.map((item) => ({ name: String(item.name), slots: Number(item.slots), description: textOrEmpty(item.description) }));
  }

  // Assets (lib/store/dynamodb-assets.ts, keyed as lib/store/table-design.ts documents).

  private assetsQ: DynamoDbAssets | undefined;
  private get assetsPart(): DynamoDbAssets {
    return (this.assetsQ ??= new DynamoDbAssets(this.doc, this.tableName, this.tx));
  }
  putAssetEvent(e: AssetEventRecord): Promise<{ applied: boolean; event: AssetEventRecord }> {
    return this.assetsPart.putAssetEvent(e);
  }
  getAssetEvent(id: string): Promise<AssetEventRecord | null> {
    return this.assetsPart.getAssetEvent(id);
  }
  listAssetEvents(q: AssetEventQuery): Promise<{ events: AssetEventRecord[]; total: number }> {
    return this.assetsPart.listAssetEvents(q);
  }
  addAssetEventRuns(id: string, runs: readonly RunRef[]): Promise<void> {
    return this.assetsPart.addAssetEventRuns(id, runs);
  }
  upsertAsset(a: Pick<AssetRecord, 'uri' | 'name' | 'group' | 'extra'>, at: string): Promise<AssetRecord> {
    return this.assetsPart.upsertAsset(a, at);
  }
  getAsset(uri: string): Promise<AssetRecord | null> {
    return this.assetsPart.getAsset(uri);
  }
  listAssets(): Promise<AssetRecord[]> {
    return this.assetsPart.listAssets();
  }
  queueAssetEvent(entry: AssetQueueEntry): Promise<void> {
    return this.assetsPart.queueAssetEvent(entry);
  }
  listAssetQueue(dagId: string): Promise<AssetQueueEntry[]> {
    return this.assetsPart.listAssetQueue(dagId);
  }
  consumeAssetQueue(dagId: string, eventIds: readonly string[]): Promise<void> {
    return this.assetsPart.consumeAssetQueue(dagId, eventIds);
  }
  getAssetClaim(dagId: string): Promise<AssetClaim> {
    return this.assetsPart.getAssetClaim(dagId);
  }
  claimAssetQueue(dagId: string, expectSeq: number, runId: string, eventIds: readonly string[]): Promise<AssetClaim | null> {
    return this.assetsPart.claimAssetQueue(dagId, expectSeq, runId, eventIds);
  }
  finishAssetClaim(dagId: string, seq: number): Promise<void> {
    return this.assetsPart.finishAssetClaim(dagId, seq);
  }

  // Human-in-the-loop requests (lib/store/dynamodb-hitl.ts).

  async putHitlRequest(rec: HitlRecord): Promise<boolean> {
    return this.hitl.put(rec);
  }

  async setHitlTaskToken(ti: TiKey, tryNumber: number, token: string): Promise<boolean> {
    return this.hitl.setToken(ti, tryNumber, token);
  }

  async respondHitl(ti: TiKey, tryNumber: number, response: HitlResponse): Promise<HitlRespondResult> {
    return this.hitl.respond(ti, tryNumber, response);
  }

  async getHitlRequest(ti: TiKey): Promise<HitlRecord | undefined> {
    return this.hitl.latest(ti);
  }

  async listHitlRequests(q: HitlQuery): Promise<{ records: HitlRecord[]; total: number }> {
    return this.hitl.list(q);
  }

  // Variables and connections: one partition each (lib/store/table-design.ts).

  async putVariable(variable: VariableRecord): Promise<void> {
    await this.write(new PutCommand({ TableName: this.tableName, Item: { ...keys.variable(variable.key), type: ItemType.variable, ...variable } }));
  }

  async getVariable(key: string): Promise<VariableRecord | undefined> {
    const item = await this.get(keys.variable(key));
    return item ? variableOf(item) : undefined;
  }

  async listVariables(): Promise<VariableRecord[]> {
    return (await this.queryPrefix(prefixes.variablePartition, 'VAR#')).map(variableOf).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async deleteVariable(key: string): Promise<boolean> {
    const old = await this.write(new DeleteCommand({ TableName: this.tableName, Key: keys.variable(key), ReturnValues: 'ALL_OLD' }));
    return old !== undefined;
  }

  async putConnection(connection: ConnectionRecord): Promise<void> {
    await this.write(new PutCommand({ TableName: this.tableName, Item: { ...keys.connection(connection.connectionId), type: ItemType.connection, ...connection } }));
  }

  async getConnection(connectionId: string): Promise<ConnectionRecord | undefined> {
    const item = await this.get(keys.connection(connectionId));
    return item ? connectionOf(item) : undefined;
  }

  async listConnections(): Promise<ConnectionRecord[]> {
    return (await this.queryPrefix(prefixes.connectionPartition, 'CONN#')).map(connectionOf).sort((a, b) => (a.connectionId < b.connectionId ? -1 : a.connectionId > b.connectionId ? 1 : 0));
  }

  async deleteConnection(connectionId: string): Promise<boolean> {
    const old = await this.write(new DeleteCommand({ TableName: this.tableName, Key: keys.connection(connectionId), ReturnValues: 'ALL_OLD' }));
    return old !== undefined;
  }

  /**
   * One conditional update: `used + n <= limit` and no attribute `h:<holder>` yet, adding `n` to `used`
   * and setting `h:<holder>` to `n` (a holder is an attribute of the semaphore's item, so the first
   * acquire needs no map created first). A refusal because the holder is there already is a success (a
   * retried call whose first attempt applied): the item read back says which.
   */
  async tryAcquire(name: string, n: number, limit: number, holder: string): Promise<boolean> {
    if (limit - n < 0) return false;
    try {
      await this.write(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.semaphore(name),
          UpdateExpression: 'ADD #used :n SET #type = :type, #h = :n',
          ConditionExpression: '(attribute_not_exists(#used) OR #used <= :max) AND attribute_not_exists(#h)',
          ExpressionAttributeNames: { '#used': 'used', '#type': 'type', '#h': `${HOLDER_PREFIX}${holder}` },
          ExpressionAttributeValues: { ':n': n, ':max': limit - n, ':type': ItemType.semaphore },
          // A refusal returns the item: whether the holder is in it says which condition failed, with no read.
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return true;
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
      const item = (e as { Item?: Record<string, unknown> }).Item;
      if (item) return `${HOLDER_PREFIX}${holder}` in item;
      return (await this.semaphoreHolders(name)).has(holder);
    }
  }

  /**
   * One conditional update for every holder: `used + total <= limit` and none of the `h:<holder>`
   * attributes there yet. Callers keep `takes` short (an update expression holds at most 4 KB).
   */
  async tryAcquireMany(name: string, limit: number, takes: readonly { holder: string; n: number }[]): Promise<boolean> {
    const total = takes.reduce((a, t) => a + t.n, 0);
    if (takes.length === 0) return true;
    if (limit - total < 0 || new Set(takes.map((t) => t.holder)).size !== takes.length) return false;
    const names: Record<string, string> = { '#used': 'used', '#type': 'type' };
    const values: Record<string, unknown> = { ':n': total, ':max': limit - total, ':type': ItemType.semaphore };
    const sets: string[] = ['#type = :type'];
    const absent: string[] = [];
    takes.forEach((t, i) => {
      names[`#h${i}`] = `${HOLDER_PREFIX}${t.holder}`;
      values[`:h${i}`] = t.n;
      sets.push(`#h${i} = :h${i}`);
      absent.push(`attribute_not_exists(#h${i})`);
    });
    try {
      await this.write(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.semaphore(name),
          UpdateExpression: `ADD #used :n SET ${sets.join(', ')}`,
          ConditionExpression: `(attribute_not_exists(#used) OR #used <= :max) AND ${absent.join(' AND ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  async semaphoreHolders(name: string): Promise<Map<string, number>> {
    const item = await this.get(keys.semaphore(name));
    const out = new Map<string, number>();
    for (const [k, v] of Object.entries(item ?? {})) if (k.startsWith(HOLDER_PREFIX)) out.set(k.slice(HOLDER_PREFIX.length), Number(v));
    return out;
  }

  /** One UpdateItem ADD returning the new value. */
  async countUp(name: string): Promise<number> {
    const attrs = await this.write(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.counter(name),
        UpdateExpression: 'ADD #n :one SET #type = :type',
        ExpressionAttributeNames: { '#n': 'n', '#type': 'type' },
        ExpressionAttributeValues: { ':one': 1, ':type': ItemType.counter },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(attrs?.n);
  }

  /**
   * Give back the `n` units `holder` holds: one conditional update (`h:<holder> = n`); nothing when it
   * holds none. The semaphore's waiter count comes back with it (the item as written, or as found).
   */
  async release(name: string, n: number, holder: string): Promise<boolean> {
    try {
      const item = await this.write(new UpdateCommand({ ...this.releaseItem(name, n, holder).Update!, ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }));
      return hasWaiters(item);
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
      // Refused (the holder holds none): the item as found, if there is one, says whether any wait.
      return hasWaiters((e as { Item?: Item }).Item);
    }
  }

  /**
   * A waiter item sorted by enqueue time (ms) then a per-process sequence, put in one transaction with
   * 1 added to the semaphore's waiter count (`waiting`), which a release reads to know whether to look.
   */
  async enqueueWaiter(name: string, key: TiKey): Promise<void> {
    const ms = (lastWaiterMs = Math.max(lastWaiterMs, Date.now()));
    const item = {
      [PK]: prefixes.waiterPartition(name),
      [SK]: `${String(ms).padStart(15, '0')}#${uniqueSuffix()}`,
      type: ItemType.waiter,
      dagId: key.dagId,
      runId: key.runId,
      taskId: key.taskId,
      mapIndex: key.mapIndex,
    };
    const res = await this.tx.write([{ Put: { TableName: this.tableName, Item: item } }, this.waitingAdd(name, 1, false)]);
    if (!res.ok) throw new Error(`DynamoDB store: queueing a waiter of semaphore '${name}' was refused (item ${res.failed})`);
  }

  /** The semaphore's waiter count changed by `delta` (`positive`: only while it is above 0). */
  private waitingAdd(name: string, delta: number, positive: boolean): TxItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.semaphore(name),
        UpdateExpression: 'ADD #w :d SET #type = :type',
        ...(positive ? { ConditionExpression: '#w > :zero' } : {}),
        ExpressionAttributeNames: { '#w': WAITING, '#type': 'type' },
        ExpressionAttributeValues: { ':d': delta, ':type': ItemType.semaphore, ...(positive ? { ':zero': 0 } : {}) },
      },
    };
  }

  /**
   * The oldest waiter (under contention, one of the oldest): Query the first {@link DEQUEUE_WINDOW}
   * waiters and take the first; once another taker is seen to have taken one, from a random place among them, each by a conditional delete with 1 taken from the semaphore's waiter count in one
   * transaction (another taker had it: the next). Many takers at once (every finished try wakes a waiter)
   * then rarely reach for the same item: from the head alone, each would find it taken by one of them
   * and query again, as many rounds as takers. A count already at 0 (a waiter queued before counts were
   * kept) is left alone.
   */
  async dequeueWaiter(name: string): Promise<TiKey | undefined> {
    let contended = false;
    for (;;) {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': prefixes.waiterPartition(name) },
          ConsistentRead: true,
          Limit: DEQUEUE_WINDOW,
        }),
      );
      const items: Item[] = res.Items ?? [];
      if (!items.length) return undefined;
      // The oldest first; once another taker was seen, from a random place among the oldest.
      const start = contended ? Math.floor(Math.random() * items.length) : 0;
      for (let k = 0; k < items.length; k++) {
        const head = items[(start + k) % items.length]!;
        const del = {
          TableName: this.tableName,
          Key: { [PK]: head[PK], [SK]: head[SK] },
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        };
        let taken = await this.tx.write([{ Delete: del }, this.waitingAdd(name, -1, true)]);
        if (!taken.ok && taken.failed === 1) {
          try {
            await this.write(new DeleteCommand(del));
            taken = { ok: true };
          } catch (e) {
            if (!isConditionFailed(e)) throw e;
          }
        }
        if (taken.ok) return { dagId: String(head.dagId), runId: String(head.runId), taskId: String(head.taskId), mapIndex: Number(head.mapIndex) };
        contended = true;
      }
    }
  }
}

const textOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : v === undefined || v === null ? null : JSON.stringify(v));

function variableOf(item: Record<string, unknown>): VariableRecord {
  return { key: String(item.key), value: String(item.value), description: textOrNull(item.description) };
}

function connectionOf(item: Record<string, unknown>): ConnectionRecord {
  return {
    connectionId: String(item.connectionId),
    connType: String(item.connType),
    host: textOrNull(item.host),
    login: textOrNull(item.login),
    password: textOrNull(item.password),
    schema: textOrNull(item.schema),
    port: item.port === undefined || item.port === null ? null : Number(item.port),
    extra: textOrNull(item.extra),
    description: textOrNull(item.description),
  };
}
