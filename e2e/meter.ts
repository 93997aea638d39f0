/**
 * What the deployed shape costs, counted per task instance: DynamoDB requests (by the store's SDK
 * commands), Lambda invocations, Step Functions state transitions and executions, Batch API calls.
 *
 * Attribution: every Lambda invocation runs "for" a task instance (the `key` in its payload, or the
 * instance a lifecycle execution runs); an AsyncLocalStorage carries it, so a DynamoDB or Batch request
 * made anywhere below the handler counts for that instance. Work not done for an instance (creating a
 * run, the reconcile, a run-level timer) counts under {@link RUN_LEVEL}.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { BatchClient } from '@aws-sdk/client-batch';
import type { TiKey } from '../lib/store/records.ts';

/** The bucket of work done for no task instance in particular. */
export const RUN_LEVEL = '(run)';

export interface Counts {
  /** DynamoDB read operations: GetItem 1, Query 1 per page, BatchGetItem and TransactGetItems 1 per key. */
  ddbReads: number;
  /** DynamoDB write operations: PutItem/UpdateItem/DeleteItem 1, TransactWriteItems and BatchWriteItem 1 per item. */
  ddbWrites: number;
  /** DynamoDB requests sent (each SDK command once). */
  ddbRequests: number;
  /** DynamoDB requests by operation (GetItem, TransactWriteItems...). */
  ddbByOperation: Record<string, number>;
  /** Read request units DynamoDB reported consuming (ReturnConsumedCapacity), plus estimates for refused requests. */
  rru: number;
  /** Write request units DynamoDB reported consuming (GSI writes and transactions' double cost included), plus estimates. */
  wru: number;
  /** Lambda invocations, all functions. */
  lambdaInvocations: number;
  /** Lambda invocations by function name. */
  lambdaByFunction: Record<string, number>;
  /** Step Functions state transitions (states entered, Map iterations' states included). */
  transitions: number;
  /** Transitions in Express executions (billed by duration, not by transition). */
  expressTransitions: number;
  /** Executions started (Standard and Express). */
  executions: number;
  expressExecutions: number;
  /** Batch API calls (SubmitJob, DescribeJobs, ...), by the handlers and by the `.sync` integration. */
  batchCalls: number;
  batchByOperation: Record<string, number>;
}

export function emptyCounts(): Counts {
  return {
    ddbReads: 0,
    ddbWrites: 0,
    ddbRequests: 0,
    ddbByOperation: {},
    rru: 0,
    wru: 0,
    lambdaInvocations: 0,
    lambdaByFunction: {},
    transitions: 0,
    expressTransitions: 0,
    executions: 0,
    expressExecutions: 0,
    batchCalls: 0,
    batchByOperation: {},
  };
}

/** Sum of counts. */
export function addCounts(into: Counts, c: Counts): Counts {
  for (const k of ['ddbReads', 'ddbWrites', 'ddbRequests', 'rru', 'wru', 'lambdaInvocations', 'transitions', 'expressTransitions', 'executions', 'expressExecutions', 'batchCalls'] as const) {
    into[k] += c[k];
  }
  for (const [f, n] of Object.entries(c.lambdaByFunction)) into.lambdaByFunction[f] = (into.lambdaByFunction[f] ?? 0) + n;
  for (const [f, n] of Object.entries(c.batchByOperation)) into.batchByOperation[f] = (into.batchByOperation[f] ?? 0) + n;
  for (const [f, n] of Object.entries(c.ddbByOperation)) into.ddbByOperation[f] = (into.ddbByOperation[f] ?? 0) + n;
  return into;
}

/** The meter's key of a task instance. */
export function meterKey(k: TiKey): string {
  return `${k.dagId}\u0000${k.runId}\u0000${k.taskId}\u0000${k.mapIndex}`;
}

/** A task instance from a meter key ({@link RUN_LEVEL} gives null). */
export function parseMeterKey(key: string): TiKey | null {
  if (key === RUN_LEVEL) return null;
  const [dagId, runId, taskId, mapIndex] = key.split('\u0000');
  return { dagId: dagId!, runId: runId!, taskId: taskId!, mapIndex: Number(mapIndex) };
}

/** The task instance a handler payload is about, if any (`key`, or a timer event's `key`). */
export function keyOfPayload(payload: unknown): TiKey | null {
  if (payload === null || typeof payload !== 'object') return null;
  const p = payload as { key?: unknown; event?: { key?: unknown } };
  const k = isTiKey(p.key) ? p.key : isTiKey(p.event?.key) ? p.event.key : null;
  return k;
}

function isTiKey(v: unknown): v is TiKey {
  if (v === null || typeof v !== 'object') return false;
  const k = v as Partial<TiKey>;
  return typeof k.dagId === 'string' && typeof k.runId === 'string' && typeof k.taskId === 'string' && typeof k.mapIndex === 'number';
}

const DDB_READS: Record<string, (input: any, output: any) => number> = {
  GetItemCommand: () => 1,
  QueryCommand: () => 1,
  ScanCommand: () => 1,
  BatchGetItemCommand: (input) => Object.values<{ Keys?: unknown[] }>(input?.RequestItems ?? {}).reduce((n, r) => n + (r.Keys?.length ?? 0), 0),
  TransactGetItemsCommand: (input) => input?.TransactItems?.length ?? 0,
};
const DDB_WRITES: Record<string, (input: any) => number> = {
  PutItemCommand: () => 1,
  UpdateItemCommand: () => 1,
  DeleteItemCommand: () => 1,
  TransactWriteItemsCommand: (input) => input?.TransactItems?.length ?? 0,
  BatchWriteItemCommand: (input) => Object.values<unknown[]>(input?.RequestItems ?? {}).reduce((n, r) => n + r.length, 0),
};

function consumed(output: any): number | null {
  const c = output?.ConsumedCapacity as { CapacityUnits?: number } | { CapacityUnits?: number }[] | undefined;
  if (c === undefined) return null;
  return (Array.isArray(c) ? c : [c]).reduce((n, x) => n + (x.CapacityUnits ?? 0), 0);
}

/** Counts per task instance, and the AsyncLocalStorage that says which instance work is done for. */
export class Meter {
  private readonly als = new AsyncLocalStorage<string>();
  readonly byKey = new Map<string, Counts>();

  /** Run `fn` as work for `key` (null: run-level). */
  run<T>(key: TiKey | null, fn: () => T): T {
    return this.als.run(key ? meterKey(key) : RUN_LEVEL, fn);
  }

  /** The key work is being done for right now. */
  current(): string {
    return this.als.getStore() ?? RUN_LEVEL;
  }

  add(key: string | null, f: (c: Counts) => void): void {
    const k = key ?? this.current();
    let c = this.byKey.get(k);
    if (!c) this.byKey.set(k, (c = emptyCounts()));
    f(c);
  }

  /** Everything counted. */
  total(): Counts {
    const t = emptyCounts();
    for (const c of this.byKey.values()) addCounts(t, c);
    return t;
  }

  /** Counts of the instances for which `select` holds, summed. */
  sum(select: (key: TiKey | null) => boolean): Counts {
    const t = emptyCounts();
    for (const [k, c] of this.byKey) if (select(parseMeterKey(k))) addCounts(t, c);
    return t;
  }

  reset(): void {
    this.byKey.clear();
  }

  /**
   * Count every request of this DynamoDB client (and of document clients made from it, which share its
   * middleware stack), asking DynamoDB for the capacity each consumed.
   */
  instrumentDynamoDb(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const key = this.current();
        const name = String(context.commandName ?? '');
        const input = args.input as Record<string, unknown>;
        const reads = DDB_READS[name];
        const writes = DDB_WRITES[name];
        const measured = reads !== undefined || writes !== undefined;
        const op = name.replace(/Command$/, '');
        this.add(key, (c) => {
          c.ddbRequests++;
          c.ddbByOperation[op] = (c.ddbByOperation[op] ?? 0) + 1;
          if (reads) c.ddbReads += reads(input, undefined);
          if (writes) c.ddbWrites += writes(input);
        });
        try {
          const out = await next(measured ? { ...args, input: { ...input, ReturnConsumedCapacity: 'TOTAL' } } : args);
          const units = consumed((out as { output?: unknown }).output);
          if (units !== null) {
            this.add(key, (c) => {
              if (writes) c.wru += units;
              else c.rru += units;
            });
          }
          return out;
        } catch (e) {
          // A refused conditional write (or a cancelled transaction) is billed too: 1 unit per item, 2 in a transaction.
          this.add(key, (c) => {
            if (writes) c.wru += writes(input) * (name.startsWith('Transact') ? 2 : 1);
            else if (reads) c.rru += reads(input, undefined);
          });
          throw e;
        }
      },
      { step: 'initialize', name: 'airlessE2eDynamoDbMeter' },
    );
  }

  /** Count every request of this Batch client. */
  instrumentBatch(client: BatchClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const op = String(context.commandName ?? '').replace(/Command$/, '');
        this.add(null, (c) => {
          c.batchCalls++;
          c.batchByOperation[op] = (c.batchByOperation[op] ?? 0) + 1;
        });
        return next(args);
      },
      { step: 'initialize', name: 'airlessE2eBatchMeter' },
    );
  }
}
