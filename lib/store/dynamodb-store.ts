import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { dynamoDbDocumentClient } from '../aws/clients.ts';
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
  runAttributes,
  selfAttr,
  tiAttributes,
  tiPatchAttributes,
  updateExpression,
  upstreamAttr,
  type Item,
} from './dynamodb-items.ts';
import { FAN_CHUNKS, FAN_DONE, FAN_TARGETS, Transactor, type TxItem } from './dynamodb-fanout.ts';
import type { LargeValueStore } from './large-values.ts';
import type { DagRecord, DagRunRecord, LogLine, PipelineSave, PoolRecord, TaskInstanceRecord, TaskStateRecord, TiKey, XComRecord } from './records.ts';
import type { BulkFinishResult, TiUpdate, FinishRequest, FinishResult, StateStore, TiExpectation } from './state-store.ts';
import {
  freePart,
  GSI_RUNS_BY_DAG_STATE,
  GSI_RUNS_BY_STATE,
  GSI1_PK,
  GSI2_PK,
  indexPart,
  keys,
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
   * `lib/aws/clients.ts` (region from `AWS_REGION`, endpoint from `AWS_ENDPOINT_URL_DYNAMODB` /
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

const keyId = (k: Item) => `${String(k[PK])}\u0000${String(k[SK])}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isConditionFailed(e: unknown): boolean {
  return e instanceof Error && e.name === 'ConditionalCheckFailedException';
}

/** An expectation with no state can never hold. */
function satisfiable(expect: TiExpectation): boolean {
  return expect.states.length > 0;
}

/**
 * The state store on one DynamoDB table (single-table design, see `table-design.ts`). Every method is a
 * GetItem, a BatchGetItem, a Query on a key or an index, a conditional PutItem/UpdateItem/DeleteItem or a
 * TransactWriteItems; nothing scans. Transitions are conditional on the instance's state and try, and
 * creations on absence, so a replayed event changes nothing. Reads are strongly consistent except the
 * run listings, which read global secondary indexes (eventually consistent).
 *
 * `finishTaskInstance` and `claimExpansion` are single transactions up to 97 downstream tasks and an
 * exactly-once chain of transactions beyond (see `dynamodb-fanout.ts`). Transactions return nothing, so
 * the downstream task states and the run's pending count are read back (consistently) after the write:
 * they may already include concurrent finishes, and so more than one caller can see `pending` reach 0
 * (finalising a run is itself conditional).
 */
export class DynamoDbStateStore implements StateStore {
  readonly tableName: string;
  readonly doc: DynamoDBDocumentClient;
  readonly largeValues: LargeValueStore | undefined;
  readonly largeValueThresholdBytes: number;
  readonly xcomTtlSeconds: number | undefined;
  private readonly concurrency: number;
  private readonly tx: Transactor;

  constructor(options: DynamoDbStateStoreOptions) {
    this.tableName = options.tableName;
    const c = options.client;
    this.doc = c instanceof DynamoDBDocumentClient ? c : dynamoDbDocumentClient(c instanceof DynamoDBClient ? c : (c ?? {}));
    this.largeValues = options.largeValues;
    this.largeValueThresholdBytes = options.largeValueThresholdBytes ?? DEFAULT_LARGE_VALUE_THRESHOLD;
    this.xcomTtlSeconds = options.xcomTtlSeconds;
    this.concurrency = options.concurrency ?? 16;
    this.tx = new Transactor(this.doc, this.tableName);
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

  async createRun(run: DagRunRecord): Promise<boolean> {
    try {
      await this.write(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.run(run.runId), type: ItemType.run, ...runAttributes(run), ...runIndexKeys(run), ver: 0 },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  async getRun(runId: string): Promise<DagRunRecord | undefined> {
    const item = await this.get(keys.run(runId));
    return item ? itemToRun(item) : undefined;
  }

  /**
   * Read, check `expect`, then write the patch with the run's index keys under the condition that the
   * item's version did not move meanwhile (retried if it did). `pending` is not rewritten unless patched:
   * transactions change it concurrently with ADD.
   */
  async updateRun(runId: string, expect: readonly RunState[] | null, patch: Partial<DagRunRecord>): Promise<DagRunRecord | undefined> {
    for (let attempt = 0; ; attempt++) {
      const item = await this.get(keys.run(runId));
      if (!item) return undefined;
      const cur = itemToRun(item);
      if (expect && !expect.includes(cur.state)) return undefined;
      const next: DagRunRecord = { ...cur, ...patch, runId };
      const attrs = runAttributes(next);
      if (!Object.prototype.hasOwnProperty.call(patch, 'pending')) delete attrs.pending;
      const e = new Expr();
      const ver = Number(item.ver ?? 0);
      try {
        const updated = await this.write(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.run(runId),
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
  async expireRun(runId: string, endedAt: Date | string | number): Promise<number> {
    if (this.xcomTtlSeconds === undefined) return 0;
    const ms = endedAt instanceof Date ? endedAt.getTime() : typeof endedAt === 'string' ? Date.parse(endedAt) : endedAt;
    if (!Number.isFinite(ms)) throw new RangeError(`expireRun: not a time: ${String(endedAt)}`);
    const at = Math.floor(ms / 1000) + this.xcomTtlSeconds;
    const lists = await Promise.all(
      prefixes.expiring.map((p) =>
        this.queryPrefix(prefixes.runPartition(runId), p, { ProjectionExpression: '#k1, #k2, #ref', ExpressionAttributeNames: { '#k1': PK, '#k2': SK, '#ref': 'ref' } }),
      ),
    );
    const items = lists.flat();
    await this.each(items, async (item) => {
      try {
        await this.write(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { [PK]: item[PK], [SK]: item[SK] },
            UpdateExpression: 'SET #ttl = :at',
            ConditionExpression: 'attribute_exists(#pk)',
            ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE, '#pk': PK },
            ExpressionAttributeValues: { ':at': at },
          }),
        );
      } catch (e) {
        if (!isConditionFailed(e)) throw e;
      }
    });
    const refs = items.map((i) => i.ref).filter((r): r is string => typeof r === 'string');
    if (refs.length && this.largeValues?.expire) await this.largeValues.expire(refs);
    return items.length;
  }

  // ---------------------------------------------------------------------------------------------------
  // Task state

  async getTaskStates(runId: string, taskIds: readonly string[]): Promise<(TaskStateRecord | undefined)[]> {
    const found = await this.batchGet(taskIds.map((t) => keys.taskState(runId, t)));
    return taskIds.map((t) => {
      const item = found.get(keyId(keys.taskState(runId, t)));
      return item ? itemToTaskState(item) : undefined;
    });
  }

  async claimDecision(runId: string, taskId: string, decision: 'scheduled' | TerminalTiState): Promise<boolean> {
    const e = new Expr();
    try {
      await this.write(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.taskState(runId, taskId),
          UpdateExpression: updateExpression({ set: e.set({ [DECISION]: decision, runId, taskId, type: ItemType.taskState }) }),
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

  async claimExpansion(runId: string, taskId: string, count: number, downstream: readonly string[]): Promise<boolean> {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`claimExpansion: count must be an integer >= 1, got ${count}`);
    const anchorKey = keys.taskState(runId, taskId);
    return this.tx.fanOut({
      anchorKey,
      claim: (cursor) => {
        const e = new Expr();
        return {
          Update: {
            TableName: this.tableName,
            Key: anchorKey,
            UpdateExpression: updateExpression({
              set: e.set({ [DECISION]: 'expanded', [MAP_COUNT]: count, runId, taskId, type: ItemType.taskState, ...(cursor ?? {}) }),
            }),
            ConditionExpression: `attribute_not_exists(${e.name(DECISION)})`,
            ...e.params(),
          },
        };
      },
      first: [],
      last: count === 1 ? [] : [this.runPendingAdd(runId, count - 1)],
      targets: this.countedTargets(runId, downstream, (e, n) => [`${e.name(ADDED_TOTAL)} ${e.value(count * n)}`, `${e.name(EXPANDED_COUNT)} ${e.value(n)}`]),
      sameOutcome: (a) => a[DECISION] === 'expanded' && a[MAP_COUNT] === count,
    });
  }

  /** One ADD update per distinct downstream task (a task listed twice counts twice). */
  private countedTargets(runId: string, downstream: readonly string[], adds: (e: Expr, times: number) => string[]): TxItem[] {
    const times = new Map<string, number>();
    for (const d of downstream) times.set(d, (times.get(d) ?? 0) + 1);
    return [...times].map(([taskId, n]) => this.taskStateAdd(runId, taskId, (e) => adds(e, n)));
  }

  private taskStateAdd(runId: string, taskId: string, adds: (e: Expr) => string[]): TxItem {
    const e = new Expr();
    const add = adds(e);
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.taskState(runId, taskId),
        UpdateExpression: updateExpression({ set: e.set({ runId, taskId, type: ItemType.taskState }), add }),
        ...e.params(),
      },
    };
  }

  private runPendingAdd(runId: string, delta: number): TxItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.run(runId),
        UpdateExpression: 'ADD #pending :d',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pending': 'pending', '#pk': PK },
        ExpressionAttributeValues: { ':d': delta },
      },
    };
  }

  // ---------------------------------------------------------------------------------------------------
  // Task instances

  async createTaskInstances(tis: readonly TaskInstanceRecord[]): Promise<void> {
    await this.each(tis, async (ti) => {
      try {
        await this.write(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...keys.taskInstance(ti.runId, ti.taskId, ti.mapIndex), type: ItemType.taskInstance, ...tiAttributes(ti) },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': PK },
          }),
        );
      } catch (e) {
        if (!isConditionFailed(e)) throw e;
      }
    });
  }

  async getTaskInstance(key: TiKey): Promise<TaskInstanceRecord | undefined> {
    const item = await this.get(keys.taskInstance(key.runId, key.taskId, key.mapIndex));
    return item ? itemToTi(item) : undefined;
  }

  async listTaskInstances(runId: string, taskId?: string): Promise<TaskInstanceRecord[]> {
    return (await this.queryPrefix(prefixes.runPartition(runId), prefixes.taskInstances(taskId))).map(itemToTi);
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
          Key: keys.taskInstance(key.runId, key.taskId, key.mapIndex),
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
    const { runId, taskId, mapIndex } = req.key;
    if (req.expect === 'absent' ? !req.create : !satisfiable(req.expect)) return undefined;
    const tiKey = keys.taskInstance(runId, taskId, mapIndex);
    const expect = req.expect;
    const claim = (cursor: Item | null): TxItem => {
      if (expect === 'absent') {
        const ti = { ...req.create!, ...req.patch, runId, taskId, mapIndex, state: req.state } as TaskInstanceRecord;
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
    };
    const done = await this.tx.fanOut({
      anchorKey: tiKey,
      claim,
      first: [this.taskStateAdd(runId, taskId, (e) => [`${e.name(selfAttr(req.state))} ${e.value(1)}`])],
      last: [this.runPendingAdd(runId, -1)],
      targets: this.countedTargets(runId, req.downstream, (e, n) => [`${e.name(upstreamAttr(req.state))} ${e.value(n)}`]),
      sameOutcome: (a) => a.state === req.state,
    });
    if (!done) return undefined;
    const runKey = keys.run(runId);
    const dsKeys = req.downstream.map((d) => keys.taskState(runId, d));
    const found = await this.batchGet([tiKey, runKey, ...dsKeys]);
    const ti = found.get(keyId(tiKey));
    const run = found.get(keyId(runKey));
    if (!ti || !run) throw new Error(`DynamoDB store: task instance or run '${runId}' vanished after finishing ${taskId}[${mapIndex}]`);
    return {
      ti: itemToTi(ti),
      pending: Number(run.pending),
      downstream: req.downstream.map((d, i) => itemToTaskState(found.get(keyId(dsKeys[i]!)) ?? { runId, taskId: d })),
    };
  }

  // ---------------------------------------------------------------------------------------------------
  // XCom and iteration results

  async listTaskInstanceRange(runId: string, taskId: string, from: number, to: number): Promise<TaskInstanceRecord[]> {
    return (await this.listTaskInstances(runId, taskId)).filter((ti) => ti.mapIndex >= from && ti.mapIndex < to);
  }

  async updateTaskInstances(updates: readonly TiUpdate[]): Promise<boolean[]> {
    return this.map(updates, async (u) => (await this.updateTaskInstance(u.key, u.expect, u.patch)) !== undefined);
  }

  async finishTaskInstances(reqs: readonly FinishRequest[]): Promise<BulkFinishResult> {
    const first = reqs[0];
    if (!first) throw new Error('finishTaskInstances: no requests');
    const applied = await this.map(reqs, async (r) => (await this.finishTaskInstance(r)) !== undefined);
    const run = await this.getRun(first.key.runId);
    const downstream = (await this.getTaskStates(first.key.runId, first.downstream)).map((d, i) => d ?? itemToTaskState({ runId: first.key.runId, taskId: first.downstream[i]! }));
    return { applied, pending: run?.pending ?? 0, downstream };
  }

  async putXComs(xs: readonly XComRecord[]): Promise<void> {
    await this.each(xs, (x) => this.putXCom(x));
  }

  async putXCom(x: XComRecord): Promise<void> {
    const value = await this.encodeValue(
      x.value,
      () => `${x.runId}/xcom/${x.taskId}/${mapIndexPart(x.mapIndex)}/${freePart(x.key)}.json`,
      () => `XCom '${x.key}' of ${x.taskId}[${x.mapIndex}] in run '${x.runId}'`,
    );
    await this.write(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.xcom(x.runId, x.taskId, x.key, x.mapIndex), type: ItemType.xcom, runId: x.runId, taskId: x.taskId, mapIndex: x.mapIndex, key: x.key, ...value },
      }),
    );
  }

  async getXCom(runId: string, taskId: string, mapIndex: number, key: string): Promise<XComRecord | undefined> {
    const item = await this.get(keys.xcom(runId, taskId, key, mapIndex));
    return item ? { runId, taskId, mapIndex, key, value: await this.decodeValue(item) } : undefined;
  }

  async listXComs(runId: string, taskId: string, key: string): Promise<XComRecord[]> {
    const items = await this.queryPrefix(prefixes.runPartition(runId), prefixes.xcoms(taskId, key));
    return this.map(items, async (item) => ({ runId, taskId, mapIndex: Number(item.mapIndex), key, value: await this.decodeValue(item) }));
  }

  async putItemResult(key: TiKey, index: number, value: unknown): Promise<void> {
    const enc = await this.encodeValue(
      value,
      () => `${key.runId}/items/${key.taskId}/${mapIndexPart(key.mapIndex)}/${indexPart(index)}.json`,
      () => `item ${index} result of ${key.taskId}[${key.mapIndex}] in run '${key.runId}'`,
    );
    await this.write(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.itemResult(key.runId, key.taskId, key.mapIndex, index), type: ItemType.itemResult, index, ...enc },
      }),
    );
  }

  async listItemResults(key: TiKey): Promise<Map<number, unknown>> {
    const items = await this.queryPrefix(prefixes.runPartition(key.runId), prefixes.itemResults(key.taskId, key.mapIndex));
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
      () => `${save.runId}/pipeline/${freePart(scope)}/${freePart(sk)}.json`,
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

  async appendLog(key: TiKey, tryNumber: number, lines: readonly LogLine[]): Promise<void> {
    if (!lines.length) return;
    // Items of at most LOG_CHUNK_BYTES; all of one append share its first line's time, then keep order.
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
    const sks = chunks.map(() => prefix + uniqueSuffix());
    await this.each(chunks, async (chunk, i) => {
      await this.write(
        new PutCommand({
          TableName: this.tableName,
          Item: { [PK]: prefixes.runPartition(key.runId), [SK]: sks[i], type: ItemType.log, lines: JSON.stringify(chunk) },
        }),
      );
    });
  }

  async getLog(key: TiKey, tryNumber: number): Promise<LogLine[]> {
    const items = await this.queryPrefix(prefixes.runPartition(key.runId), prefixes.log(key.taskId, key.mapIndex, tryNumber));
    return items.flatMap((i) => JSON.parse(String(i.lines)) as LogLine[]);
  }

  // ---------------------------------------------------------------------------------------------------
  // Pools and concurrency limits

  // ---------------------------------------------------------------------------------------------------
  // DAG registry

  private dagRecordOf(item: Item): DagRecord {
    return {
      dagId: String(item.dagId),
      version: String(item.version ?? ''),
      paused: item.paused === true,
      fileloc: typeof item.fileloc === 'string' ? item.fileloc : null,
      updatedAt: String(item.updatedAt ?? ''),
    };
  }

  async getDagRecord(dagId: string): Promise<DagRecord | undefined> {
    const item = await this.get(keys.dag(dagId));
    return item ? this.dagRecordOf(item) : undefined;
  }

  /** One UpdateItem: sets the version, keeps `paused` (false when the record is new). */
  async registerDagVersion(dagId: string, version: string, fileloc: string | null, at: string): Promise<DagRecord> {
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

  async setDagPaused(dagId: string, paused: boolean, at: string): Promise<DagRecord> {
    const attrs = await this.write(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.dag(dagId),
        UpdateExpression: 'SET #type = :type, dagId = :dagId, paused = :paused, updatedAt = :at, version = if_not_exists(version, :empty)',
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues: { ':type': ItemType.dag, ':dagId': dagId, ':paused': paused, ':at': at, ':empty': '' },
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
    return item ? { name: String(item.name), slots: Number(item.slots), description: String(item.description ?? '') } : undefined;
  }

  async listPools(): Promise<PoolRecord[]> {
    const items = await this.queryPrefix(prefixes.poolPartition, 'POOL#');
    return items.map((item) => ({ name: String(item.name), slots: Number(item.slots), description: String(item.description ?? '') }));
  }

  /** One conditional ADD: `used + n <= limit`. */
  async tryAcquire(name: string, n: number, limit: number): Promise<boolean> {
    if (limit - n < 0) return false;
    try {
      await this.write(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.semaphore(name),
          UpdateExpression: 'ADD #used :n SET #type = :type',
          ConditionExpression: 'attribute_not_exists(#used) OR #used <= :max',
          ExpressionAttributeNames: { '#used': 'used', '#type': 'type' },
          ExpressionAttributeValues: { ':n': n, ':max': limit - n, ':type': ItemType.semaphore },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
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

  /** Give back `n` units (never below 0). */
  async release(name: string, n: number): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        await this.write(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.semaphore(name),
            UpdateExpression: 'ADD #used :minus',
            ConditionExpression: '#used >= :n',
            ExpressionAttributeNames: { '#used': 'used' },
            ExpressionAttributeValues: { ':minus': -n, ':n': n },
          }),
        );
        return;
      } catch (e) {
        if (!isConditionFailed(e)) throw e;
      }
      // Fewer than n units are held: floor at 0 (unless someone took units meanwhile: then try again).
      try {
        await this.write(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.semaphore(name),
            UpdateExpression: 'SET #used = :zero, #type = :type',
            ConditionExpression: 'attribute_not_exists(#used) OR #used < :n',
            ExpressionAttributeNames: { '#used': 'used', '#type': 'type' },
            ExpressionAttributeValues: { ':zero': 0, ':n': n, ':type': ItemType.semaphore },
          }),
        );
        return;
      } catch (e) {
        if (!isConditionFailed(e)) throw e;
      }
    }
    throw new Error(`release('${name}', ${n}): the semaphore kept changing`);
  }

  /** A waiter item sorted by enqueue time (ms) then a per-process sequence. */
  async enqueueWaiter(name: string, key: TiKey): Promise<void> {
    const ms = (lastWaiterMs = Math.max(lastWaiterMs, Date.now()));
    await this.write(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          [PK]: prefixes.waiterPartition(name),
          [SK]: `${String(ms).padStart(15, '0')}#${uniqueSuffix()}`,
          type: ItemType.waiter,
          runId: key.runId,
          taskId: key.taskId,
          mapIndex: key.mapIndex,
        },
      }),
    );
  }

  /** The oldest waiter: Query Limit 1, then a conditional delete (another taker makes us look again). */
  async dequeueWaiter(name: string): Promise<TiKey | undefined> {
    for (;;) {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': prefixes.waiterPartition(name) },
          ConsistentRead: true,
          Limit: 1,
        }),
      );
      const head = res.Items?.[0];
      if (!head) return undefined;
      try {
        await this.write(
          new DeleteCommand({
            TableName: this.tableName,
            Key: { [PK]: head[PK], [SK]: head[SK] },
            ConditionExpression: 'attribute_exists(#pk)',
            ExpressionAttributeNames: { '#pk': PK },
          }),
        );
        return { runId: String(head.runId), taskId: String(head.taskId), mapIndex: Number(head.mapIndex) };
      } catch (e) {
        if (!isConditionFailed(e)) throw e;
      }
    }
  }
}
