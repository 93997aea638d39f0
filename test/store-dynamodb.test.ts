import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseErrorText } from '../lib/error-info.ts';
import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type BatchWriteCommandOutput } from '@aws-sdk/lib-dynamodb';
import { GetObjectCommand, GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { dynamoDbDocumentClient, endpointFromEnv, regionFromEnv, s3Client } from '../lib/clients/aws-clients.ts';
import { createTable } from '../lib/store/create-table.ts';
import { DynamoDbStateStore, type DynamoDbStateStoreOptions } from '../lib/store/dynamodb-store.ts';
import { planChunks } from '../lib/store/dynamodb-fanout.ts';
import { EXPIRED_TAG, S3LargeValueStore } from '../lib/store/large-values.ts';
import { pipelineScopeOf, type DagRunRecord, type RunRef, type TaskInstanceRecord } from '../lib/store/records.ts';
import type { FinishRequest, TiUpdate } from '../lib/store/state-store.ts';
import { keys, TABLE_GLOBAL_SECONDARY_INDEXES, TTL_ATTRIBUTE } from '../lib/store/table-design.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, type DynamoDbLocal } from './support/dynamodb-local.ts';
import { S3RVER_CREDENTIALS, startS3Local, type S3Local } from './support/s3-local.ts';
import { describeStoreContract } from './store-contract.ts';

const BUCKET = 'airless-test-values';

let ddb: DynamoDbLocal;
let s3: S3Local;
/** The document client every store in this file uses; it records which DynamoDB operations were sent. */
let doc: DynamoDBDocumentClient;
const operations = new Set<string>();
/** Requests `doc` sent, by operation (counted once per send, not per SDK retry). */
const requests = new Map<string, number>();
let tables = 0;

beforeAll(async () => {
  [ddb, s3] = await Promise.all([startDynamoDbLocal(), startS3Local([BUCKET])]);
  const base = new DynamoDBClient({ endpoint: ddb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  base.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName);
      operations.add(op);
      requests.set(op, (requests.get(op) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'recordOperations' },
  );
  doc = dynamoDbDocumentClient(base);
}, 120_000);

afterAll(async () => {
  doc?.destroy();
  await Promise.all([ddb?.stop(), s3?.stop()]);
});

/** A store on a new, empty table (tables are cheap on DynamoDB Local in memory). */
async function newStore(options: Partial<DynamoDbStateStoreOptions> = {}): Promise<DynamoDbStateStore> {
  const tableName = `airless-test-${tables++}`;
  await createTable(ddb.client, tableName);
  return new DynamoDbStateStore({
    tableName,
    client: doc,
    largeValues: new S3LargeValueStore({ bucket: BUCKET, prefix: `values/${tableName}`, client: s3.client }),
    ...options,
  });
}

describeStoreContract('DynamoDbStateStore on DynamoDB Local', () => newStore(), {
  // As a version before structured errors wrote them: string attributes, in the item and in its history's maps.
  async writeTextErrors(store, k, error, history) {
    const { tableName } = store as DynamoDbStateStore;
    const Key = keys.taskInstance(k, k.taskId, k.mapIndex);
    const item = (await doc.send(new GetCommand({ TableName: tableName, Key }))).Item!;
    const tries = ((item.history as Record<string, unknown>[] | undefined) ?? []).map((t, i) => ({ ...t, error: history[i] ?? null }));
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key,
        UpdateExpression: tries.length ? 'SET #e = :e, #h = :h' : 'SET #e = :e',
        ExpressionAttributeNames: { '#e': 'error', ...(tries.length ? { '#h': 'history' } : {}) },
        ExpressionAttributeValues: { ':e': error, ...(tries.length ? { ':h': tries } : {}) },
      }),
    );
  },
});

const T0 = '2026-01-01T00:00:00.000Z';
function run(runId: string, pending = 10): DagRunRecord {
  return {
    dagId: 'd', runId, state: 'running', runType: 'manual', conf: {}, params: {}, logicalDate: T0, queuedAt: T0, startDate: T0,
    endDate: null, dagVersion: 'v', pending, parent: null, pipelineScope: pipelineScopeOf({ dagId: 'd', runId }), note: null,
  };
}
/** A run of the test's DAG by id. */
const ref = (runId: string): RunRef => ({ dagId: 'd', runId });
function ti(runId: string, taskId: string, mapIndex = -1, over: Partial<TaskInstanceRecord> = {}): TaskInstanceRecord {
  return {
    dagId: 'd', runId, taskId, mapIndex, state: 'running', tryNumber: 1, maxTries: 1, queuedAt: null, startDate: null, endDate: null,
    nextAt: null, firstPokeAt: null, pokeCount: 0, durationMs: null, error: null, externalId: null, resume: false, ...over,
  };
}

/** A document client whose `fail` hook may throw instead of sending (a crash, a conflict): AWS mocked at the SDK boundary. */
function interceptingClient(fail: (cmd: unknown) => Error | undefined): DynamoDBDocumentClient {
  const c = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: ddb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
  const send = c.send.bind(c) as (cmd: unknown) => Promise<unknown>;
  (c as unknown as { send: (cmd: unknown) => Promise<unknown> }).send = async (cmd: unknown) => {
    const e = fail(cmd);
    if (e) throw e;
    return send(cmd);
  };
  return c;
}

/** A document client that fails (as a crashed caller would) on its `failOn`-th transaction. */
function crashingClient(failOn: number): DynamoDBDocumentClient {
  let transactions = 0;
  return interceptingClient((cmd) => (cmd instanceof TransactWriteCommand && ++transactions === failOn ? new Error('simulated crash: the caller died here') : undefined));
}

/** What `f` sent through `doc`, by operation without the `Command` suffix (tests in a file run one at a time). */
async function counted<T>(f: () => Promise<T>): Promise<{ result: T; sent: Record<string, number> }> {
  const before = new Map(requests);
  const result = await f();
  const sent: Record<string, number> = {};
  for (const [op, n] of requests) if (n !== (before.get(op) ?? 0)) sent[op.replace(/Command$/, '')] = n - (before.get(op) ?? 0);
  return { result, sent };
}

async function rawItem(store: DynamoDbStateStore, key: Record<string, string>): Promise<Record<string, unknown> | undefined> {
  return (await doc.send(new GetCommand({ TableName: store.tableName, Key: key, ConsistentRead: true }))).Item;
}

describe('DynamoDbStateStore on DynamoDB Local: specifics', () => {
  it('keys a run by DAG and run id (RUN#<dagId>#<runId>, runsByState by queuedAt, DAG, run id) and refuses a DAG id with #', async () => {
    const store = await newStore();
    const a = { ...run('same#id'), dagId: 'dag_a', pipelineScope: 'dag_a/same#id' };
    const b = { ...run('same#id'), dagId: 'dag_b', pipelineScope: 'dag_b/same#id' };
    await store.createRun(a);
    await store.createRun(b);
    await store.createTaskInstances([ti(a.runId, 't', -1, { dagId: 'dag_a' }), ti(b.runId, 't', -1, { dagId: 'dag_b' })]);
    expect(await rawItem(store, { PK: 'RUN#dag_a#same#id', SK: 'RUN' })).toMatchObject({ dagId: 'dag_a', runId: 'same#id', GSI1PK: 'DAG#dag_a#running', GSI2SK: `${T0}#dag_a#same#id` });
    expect(await rawItem(store, { PK: 'RUN#dag_b#same#id', SK: 'TI#t#-' })).toMatchObject({ dagId: 'dag_b', runId: 'same#id', taskId: 't' });
    expect(keys.taskState(a, 't')).toEqual({ PK: 'RUN#dag_a#same#id', SK: 'TS#t' });
    await expect(store.createRun({ ...run('x'), dagId: 'bad#dag' })).rejects.toThrow(/a DAG id must be non-empty and hold no '#', got 'bad#dag'/);
    await expect(store.getRun({ dagId: 'bad#dag', runId: 'x' })).rejects.toThrow(RangeError);
  });

  it('version records are items of the DAG partition (VERSION#<version>), written by two updates, the version first', async () => {
    const store = await newStore();
    const entry = { dagId: 'vd', version: 'a/b#c', structureHash: 'sh', bundle: null, fileloc: 'vd.ts' };
    const { sent } = await counted(() => store.registerDagVersion(entry, T0));
    expect(sent).toEqual({ UpdateItem: 2 });
    expect(keys.dagVersion('vd', 'a/b#c')).toEqual({ PK: 'DAG#vd', SK: 'VERSION#a%2Fb%23c' });
    expect(await rawItem(store, keys.dagVersion('vd', 'a/b#c'))).toMatchObject({ type: 'dagVersion', ...entry, createdAt: T0 });
    expect(await store.getDagVersion('vd', 'a/b#c')).toEqual({ ...entry, createdAt: T0, prunedAt: null });
    // The version's record first: a DAG record whose write failed still finds its version when registered again.
    const failing = new DynamoDbStateStore({
      tableName: store.tableName,
      client: interceptingClient((cmd) => (cmd instanceof UpdateCommand && (cmd.input.Key as Record<string, string>).SK === 'META' ? new Error('simulated crash') : undefined)),
    });
    await expect(failing.registerDagVersion({ ...entry, version: 'v2' }, '2026-01-02T00:00:00.000Z')).rejects.toThrow('simulated crash');
    expect((await store.getDagRecord('vd'))?.version).toBe('a/b#c');
    expect((await store.getDagVersion('vd', 'v2'))?.createdAt).toBe('2026-01-02T00:00:00.000Z');
    await store.registerDagVersion({ ...entry, version: 'v2' }, '2026-01-03T00:00:00.000Z');
    expect((await store.getDagRecord('vd'))?.version).toBe('v2');
    expect((await store.getDagVersion('vd', 'v2'))?.createdAt).toBe('2026-01-02T00:00:00.000Z');
  });

  it("a run item without pinnedVersions (an older version's) reads without it; pinned versions are a map attribute", async () => {
    const store = await newStore();
    const pinned = { ...run('pinned'), pinnedVersions: { d: 'v', other: 'w' } };
    await store.createRun(pinned);
    expect((await rawItem(store, keys.run(pinned)))?.pinnedVersions).toEqual({ d: 'v', other: 'w' });
    await doc.send(new UpdateCommand({ TableName: store.tableName, Key: keys.run(pinned), UpdateExpression: 'REMOVE pinnedVersions' }));
    const got = await store.getRun(pinned);
    expect(got && 'pinnedVersions' in got).toBe(false);
    expect(await store.getRun(pinned)).toEqual(run('pinned'));
  });

  it('large values go to S3: the item holds only a pointer, reads follow it', async () => {
    const store = await newStore();
    const r = run('large-1');
    await store.createRun(r);
    const big = { text: 'é'.repeat(500_000) }; // 1 MB of UTF-8
    await store.putXCom({ dagId: r.dagId, runId: r.runId, taskId: 'big', mapIndex: 3, key: 'return_value', value: big });
    await store.putXCom({ dagId: r.dagId, runId: r.runId, taskId: 'small', mapIndex: -1, key: 'return_value', value: { ok: true } });
    const item = await rawItem(store, keys.xcom(r, 'big', 'return_value', 3));
    expect(item?.v).toBeUndefined();
    expect(item?.ref).toBe(`s3://${BUCKET}/values/${store.tableName}/d/large-1/xcom/big/0000000003/return_value.json`);
    expect(JSON.stringify(item).length).toBeLessThan(1000);
    const obj = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: String(item?.ref).slice(`s3://${BUCKET}/`.length) }));
    expect(JSON.parse(await obj.Body!.transformToString())).toEqual(big);
    expect((await store.getXCom(r, 'big', 3, 'return_value'))?.value).toEqual(big);
    const small = await rawItem(store, keys.xcom(r, 'small', 'return_value', -1));
    expect(small?.v).toBe('{"ok":true}');
    expect(small?.ref).toBeUndefined();
    // Item results and pipeline saves too.
    await store.putItemResult({ dagId: r.dagId, runId: r.runId, taskId: 'it', mapIndex: -1 }, 4, big);
    expect(String((await rawItem(store, keys.itemResult(r, 'it', -1, 4)))?.ref)).toMatch(/^s3:\/\/.*\/d\/large-1\/items\/it\/-\/0000000004\.json$/);
    await store.appendPipelineSave(r.pipelineScope, { stage: 's', time: T0, data: big, dagId: 'd', runId: r.runId, taskId: 't' });
    const saves = await doc.send(new QueryCommand({ TableName: store.tableName, KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': `PIPE#${r.pipelineScope}` } }));
    expect(saves.Items?.[0]?.ref).toMatch(/^s3:\/\/.*\/d\/large-1\/pipeline\//);
    expect((await store.listPipelineSaves(r.pipelineScope))[0]?.data).toEqual(big);
  });

  it('the threshold is configurable; without a large-value store an oversized value is refused with a message', async () => {
    const tiny = await newStore({ largeValueThresholdBytes: 10 });
    await tiny.createRun(run('thr'));
    await tiny.putXCom({ dagId: 'd', runId: 'thr', taskId: 't', mapIndex: -1, key: 'k', value: 'more than ten bytes' });
    expect((await rawItem(tiny, keys.xcom(ref('thr'), 't', 'k', -1)))?.ref).toMatch(/^s3:\/\//);
    const none = await newStore();
    const noS3 = new DynamoDbStateStore({ tableName: none.tableName, client: doc });
    await noS3.createRun(run('nos3'));
    await noS3.putXCom({ dagId: 'd', runId: 'nos3', taskId: 't', mapIndex: -1, key: 'k', value: 'x'.repeat(350_000) });
    expect(((await noS3.getXCom(ref('nos3'), 't', -1, 'k'))?.value as string).length).toBe(350_000);
    await expect(noS3.putXCom({ dagId: 'd', runId: 'nos3', taskId: 't', mapIndex: -1, key: 'k', value: 'x'.repeat(500_000) })).rejects.toThrow(
      /XCom 'k' of t\[-1\] in run 'nos3' of DAG 'd' is 500002 bytes of JSON, more than a DynamoDB item holds/,
    );
  });

  it('a fan-out interrupted after its first transaction is completed by the replay, exactly once', async () => {
    const store = await newStore();
    const r = run('crash-1', 300);
    await store.createRun(r);
    await store.createTaskInstances([ti(r.runId, 'wide')]);
    const ds = Array.from({ length: 250 }, (_, i) => `d${i}`);
    const req: FinishRequest = { key: { dagId: r.dagId, runId: r.runId, taskId: 'wide', mapIndex: -1 }, expect: { states: ['running'], tryNumber: 1 }, state: 'success', patch: {}, downstream: ds };
    expect(planChunks(250, 1, 1).map((c) => c.to - c.from)).toEqual([98, 99, 53]);
    const dying = new DynamoDbStateStore({ tableName: store.tableName, client: crashingClient(2) });
    await expect(dying.finishTaskInstance(req)).rejects.toThrow(/simulated crash/);
    // Half-way: the instance moved and the first 98 tallies counted; the run's pending not yet.
    expect((await store.getTaskInstance(req.key))?.state).toBe('success');
    const mid = await store.getTaskStates(r, ds);
    expect(mid.filter((s) => s?.upstream.success === 1)).toHaveLength(98);
    expect((await store.getRun(r))?.pending).toBe(300);
    // A replay with another outcome does not touch it; the same event completes it.
    expect(await store.finishTaskInstance({ ...req, state: 'failed' })).toBeUndefined();
    const res = await store.finishTaskInstance(req);
    expect(res?.pending).toBe(299);
    expect(res?.downstream.map((d) => d.upstream.success)).toEqual(ds.map(() => 1));
    expect(await store.finishTaskInstance(req)).toBeUndefined();
    expect((await store.getTaskStates(r, ds)).map((s) => s?.upstream.success)).toEqual(ds.map(() => 1));
    expect((await store.getRun(r))?.pending).toBe(299);
    expect((await store.getTaskStates(r, ['wide']))[0]?.self.success).toBe(1);
  });

  it('an expansion interrupted half-way is completed by the replay, exactly once', async () => {
    const store = await newStore();
    const r = run('crash-2', 10);
    await store.createRun(r);
    const ds = Array.from({ length: 120 }, (_, i) => `d${i}`);
    const dying = new DynamoDbStateStore({ tableName: store.tableName, client: crashingClient(2) });
    await expect(dying.claimExpansion(r, 'm', 5, ds)).rejects.toThrow(/simulated crash/);
    expect((await store.getRun(r))?.pending).toBe(10);
    expect(await store.claimExpansion(r, 'm', 5, ds)).toBe(true);
    expect(await store.claimExpansion(r, 'm', 5, ds)).toBe(false);
    expect((await store.getTaskStates(r, ds)).map((s) => s?.upstreamAddedTotal)).toEqual(ds.map(() => 5));
    expect((await store.getRun(r))?.pending).toBe(14);
  });

  it('writes refused for a conflicting transaction (TransactionConflict) are retried', async () => {
    const store = await newStore();
    const r = run('conflict-1', 5);
    await store.createRun(r);
    await store.createTaskInstances([ti(r.runId, 't')]);
    let updates = 0;
    let transactions = 0;
    const conflicted = new DynamoDbStateStore({
      tableName: store.tableName,
      client: interceptingClient((cmd) => {
        if (cmd instanceof UpdateCommand && ++updates <= 2) return Object.assign(new Error('Transaction is ongoing for the item'), { name: 'TransactionConflictException' });
        if (cmd instanceof TransactWriteCommand && ++transactions <= 2) {
          return Object.assign(new Error('Transaction cancelled'), { name: 'TransactionCanceledException', CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }, { Code: 'None' }] });
        }
        return undefined;
      }),
    });
    expect(await conflicted.claimDecision(r, 'd', 'scheduled')).toBe(true);
    expect(updates).toBe(3);
    const res = await conflicted.finishTaskInstance({ key: { dagId: r.dagId, runId: r.runId, taskId: 't', mapIndex: -1 }, expect: { states: ['running'], tryNumber: 1 }, state: 'success', patch: {}, downstream: ['d'] });
    expect(transactions).toBe(3);
    expect(res?.pending).toBe(4);
    expect(res?.downstream[0]?.upstream.success).toBe(1);
  });

  it('expireRun sets the TTL on the run’s XComs, item results and logs (not on its state) and tags S3 values', async () => {
    const store = await newStore({ xcomTtlSeconds: 3600 });
    const r = run('expire-1');
    await store.createRun(r);
    await store.createTaskInstances([ti(r.runId, 't')]);
    await store.claimDecision(r, 't', 'scheduled');
    await store.putXCom({ dagId: r.dagId, runId: r.runId, taskId: 't', mapIndex: -1, key: 'return_value', value: 1 });
    await store.putXCom({ dagId: r.dagId, runId: r.runId, taskId: 't', mapIndex: -1, key: 'big', value: 'x'.repeat(400_000) });
    await store.putItemResult({ dagId: r.dagId, runId: r.runId, taskId: 't', mapIndex: -1 }, 0, 'item');
    await store.appendLog({ dagId: r.dagId, runId: r.runId, taskId: 't', mapIndex: -1 }, 1, [{ time: T0, level: 'info', message: 'hello' }]);
    const endedAt = Date.parse('2026-01-02T00:00:00.000Z');
    expect(await store.expireRun(r, new Date(endedAt))).toBe(4);
    const want = endedAt / 1000 + 3600;
    expect((await rawItem(store, keys.xcom(r, 't', 'return_value', -1)))?.[TTL_ATTRIBUTE]).toBe(want);
    const big = await rawItem(store, keys.xcom(r, 't', 'big', -1));
    expect(big?.[TTL_ATTRIBUTE]).toBe(want);
    expect((await rawItem(store, keys.itemResult(r, 't', -1, 0)))?.[TTL_ATTRIBUTE]).toBe(want);
    const logs = await doc.send(new QueryCommand({ TableName: store.tableName, KeyConditionExpression: 'PK = :pk AND begins_with(SK, :p)', ExpressionAttributeValues: { ':pk': 'RUN#d#expire-1', ':p': 'LOG#' } }));
    expect(logs.Items?.map((i) => i[TTL_ATTRIBUTE])).toEqual([want]);
    for (const k of [keys.run(r), keys.taskInstance(r, 't', -1), keys.taskState(r, 't')]) {
      expect((await rawItem(store, k))?.[TTL_ATTRIBUTE]).toBeUndefined();
    }
    const tags = await s3.client.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: String(big?.ref).slice(`s3://${BUCKET}/`.length) }));
    expect(tags.TagSet).toEqual([EXPIRED_TAG]);
    expect(await store.getXCom(r, 't', -1, 'return_value')).toBeDefined();
    // Without a retention, nothing expires.
    const keep = new DynamoDbStateStore({ tableName: store.tableName, client: doc });
    expect(await keep.expireRun(r, endedAt)).toBe(0);
    // A run cleared to run again keeps its results: reviveRun removes the TTL from every item it was set on.
    expect(await store.reviveRun(r)).toBe(4);
    expect((await rawItem(store, keys.xcom(r, 't', 'return_value', -1)))?.[TTL_ATTRIBUTE]).toBeUndefined();
    expect((await rawItem(store, keys.xcom(r, 't', 'big', -1)))?.[TTL_ATTRIBUTE]).toBeUndefined();
    expect((await rawItem(store, keys.itemResult(r, 't', -1, 0)))?.[TTL_ATTRIBUTE]).toBeUndefined();
    expect(await store.reviveRun(r)).toBe(0);
  });

  it('createTable makes the table with both indexes and TTL, and is idempotent', async () => {
    const name = `airless-create-${tables++}`;
    await createTable(ddb.client, name);
    await createTable(ddb.client, name);
    const t = (await ddb.client.send(new DescribeTableCommand({ TableName: name }))).Table;
    expect(t?.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort()).toEqual(TABLE_GLOBAL_SECONDARY_INDEXES.map((g) => g.IndexName).sort());
    expect(t?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST').toBe('PAY_PER_REQUEST');
    const ttl = await ddb.client.send(new DescribeTimeToLiveCommand({ TableName: name }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe(TTL_ATTRIBUTE);
  });
});

describe('DynamoDbStateStore on DynamoDB Local: bulk methods (array jobs)', () => {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const finishAll = (runId: string, n: number, downstream: string[], over: (i: number) => Partial<FinishRequest> = () => ({})): FinishRequest[] =>
    range(n).map((i) => ({
      key: { dagId: 'd', runId, taskId: 'm', mapIndex: i },
      expect: { states: ['running'], tryNumber: 1 },
      state: i % 4 ? 'success' : 'failed',
      patch: { endDate: T0, durationMs: i },
      downstream,
      ...over(i),
    }));

  it('are bulk: few requests for 250 instances', async () => {
    const store = await newStore();
    const r = run('bulk-count', 600);
    await store.createRun(r);
    const tis = range(250).map((i) => ti(r.runId, 'm', i, { state: 'queued' }));
    const counts: Record<string, Record<string, number>> = {};
    const measure = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
      const { result, sent } = await counted(f);
      counts[what] = sent;
      return result;
    };
    await measure('createTaskInstances 250', () => store.createTaskInstances(tis));
    await measure('createTaskInstances 250, all existing', () => store.createTaskInstances(tis));
    expect((await measure('listTaskInstanceRange 250', () => store.listTaskInstanceRange(r, 'm', 0, 250))).length).toBe(250);
    const toRunning: TiUpdate[] = range(250).map((i) => ({ key: { dagId: r.dagId, runId: r.runId, taskId: 'm', mapIndex: i }, expect: { states: ['queued'], tryNumber: 1 }, patch: { state: 'running', startDate: T0 } }));
    expect((await measure('updateTaskInstances 250', () => store.updateTaskInstances(toRunning))).every(Boolean)).toBe(true);
    // 25 of them refused (spread over every transaction): each transaction is sent again once without them.
    const some: TiUpdate[] = range(250).map((i) => ({ ...toRunning[i]!, expect: { states: ['running'], tryNumber: i % 10 ? 1 : 2 }, patch: { externalId: `job:${i}` } }));
    expect((await measure('updateTaskInstances 250, 25 refused', () => store.updateTaskInstances(some))).filter(Boolean)).toHaveLength(225);
    const reqs = finishAll(r.runId, 250, ['join', 'report'], (i) => (i % 25 === 7 ? { expect: { states: ['running'], tryNumber: 2 } } : {}));
    const res = await measure('finishTaskInstances 250 (2 downstream), 10 refused', () => store.finishTaskInstances(reqs));
    expect(res.applied.filter(Boolean)).toHaveLength(240);
    expect(res.pending).toBe(360);
    await measure('finishTaskInstances 250 again (a replay)', () => store.finishTaskInstances(reqs));
    await measure('putXComs 250', () => store.putXComs(range(250).map((i) => ({ dagId: r.dagId, runId: r.runId, taskId: 'm', mapIndex: i, key: 'return_value', value: { i } }))));
    console.log('requests of bulk calls on 250 instances:', counts);
    expect(counts).toEqual({
      'createTaskInstances 250': { TransactWriteItems: 3 },
      // DynamoDB Local reports every failed condition of a cancelled transaction (as DynamoDB does).
      'createTaskInstances 250, all existing': { TransactWriteItems: 3 },
      'listTaskInstanceRange 250': { Query: 1 },
      'updateTaskInstances 250': { TransactWriteItems: 3 },
      'updateTaskInstances 250, 25 refused': { TransactWriteItems: 6 },
      'finishTaskInstances 250 (2 downstream), 10 refused': { TransactWriteItems: 6, BatchGetItem: 1 },
      'finishTaskInstances 250 again (a replay)': { TransactWriteItems: 3, BatchGetItem: 1 },
      'putXComs 250': { BatchWriteItem: 10 },
    });
    const [m, join] = await store.getTaskStates(r, ['m', 'join']);
    expect((m?.self.success ?? 0) + (m?.self.failed ?? 0)).toBe(240);
    expect(join?.upstream).toEqual(m?.self);
  });

  it('a bulk finish leaves the same items as finishing one by one (an old fan-out cursor removed)', async () => {
    const store = await newStore();
    const single = run('shape-single', 5);
    const bulk = run('shape-bulk', 5);
    const patch = { endDate: T0, durationMs: 1234, error: parseErrorText('Error: boom'), externalId: 'job-1' };
    for (const r of [single, bulk]) {
      await store.createRun(r);
      await store.createTaskInstances([ti(r.runId, 'm', 3)]);
      // A cursor left on the instance by an earlier try's fan-out.
      await doc.send(new UpdateCommand({ TableName: store.tableName, Key: keys.taskInstance(r, 'm', 3), UpdateExpression: 'SET fanDone = :d, fanChunks = :c, fanTargets = :t', ExpressionAttributeValues: { ':d': 3, ':c': 3, ':t': 250 } }));
    }
    const req = (runId: string): FinishRequest => ({ key: { dagId: 'd', runId, taskId: 'm', mapIndex: 3 }, expect: { states: ['running'], tryNumber: 1 }, state: 'failed', patch, downstream: ['j', 'k'] });
    const one = await store.finishTaskInstance(req(single.runId));
    const many = await store.finishTaskInstances([req(bulk.runId)]);
    expect(many).toEqual({ applied: [true], pending: one?.pending, downstream: one?.downstream.map((d) => ({ ...d, runId: bulk.runId })) });
    const raw = async (runId: string, k: Record<string, string>) => {
      const item = await rawItem(store, k);
      return JSON.parse(JSON.stringify(item ?? null).replaceAll(runId, '<run>')) as unknown;
    };
    for (const k of [(id: string) => keys.taskInstance(ref(id), 'm', 3), (id: string) => keys.taskState(ref(id), 'm'), (id: string) => keys.taskState(ref(id), 'j'), (id: string) => keys.run(ref(id))]) {
      expect(await raw(bulk.runId, k(bulk.runId))).toEqual(await raw(single.runId, k(single.runId)));
    }
    expect(await rawItem(store, keys.taskInstance(ref(bulk.runId), 'm', 3))).not.toHaveProperty('fanDone');
  });

  it('finishTaskInstances refuses requests with different downstream tasks before writing anything', async () => {
    const store = await newStore();
    const r = run('bulk-ds', 5);
    await store.createRun(r);
    await store.createTaskInstances([ti(r.runId, 'm', 0), ti(r.runId, 'm', 1)]);
    const reqs = finishAll(r.runId, 2, ['a', 'b']);
    reqs[1] = { ...reqs[1]!, downstream: ['b', 'a'] };
    await expect(store.finishTaskInstances(reqs)).rejects.toThrow(/every request of task 'm' must have the same downstream tasks/);
    expect((await store.listTaskInstanceRange(r, 'm', 0, 2)).map((t) => t.state)).toEqual(['running', 'running']);
  });

  it('large patches are cut into transactions of at most 4 MB', async () => {
    const store = await newStore();
    const r = run('bulk-size', 200);
    await store.createRun(r);
    await store.createTaskInstances(range(90).map((i) => ti(r.runId, 'm', i)));
    // 90 updates of 48 KB each: 4.3 MB, more than one transaction takes.
    const error = parseErrorText(`Error: ${'x'.repeat(48_000)}`);
    const { result, sent } = await counted(() =>
      store.updateTaskInstances(range(90).map((i) => ({ key: { dagId: r.dagId, runId: r.runId, taskId: 'm', mapIndex: i }, expect: { states: ['running'] }, patch: { error } }))),
    );
    expect(result.every(Boolean)).toBe(true);
    expect(sent).toEqual({ TransactWriteItems: 2 });
    expect((await store.listTaskInstanceRange(r, 'm', 0, 90)).every((t) => t.error?.message === error.message)).toBe(true);
  });

  it('bulk transactions cancelled for a conflict are sent again; other cancellations are errors', async () => {
    const store = await newStore();
    const r = run('bulk-conflict', 100);
    await store.createRun(r);
    await store.createTaskInstances(range(40).map((i) => ti(r.runId, 'm', i)));
    let transactions = 0;
    let cancel = (_n: number): string | undefined => undefined;
    const conflicted = new DynamoDbStateStore({
      tableName: store.tableName,
      client: interceptingClient((cmd) => {
        if (!(cmd instanceof TransactWriteCommand)) return undefined;
        const code = cancel(++transactions);
        if (!code) return undefined;
        const reasons = (cmd.input.TransactItems ?? []).map((_, i) => ({ Code: i === 1 ? code : 'None' }));
        return Object.assign(new Error('Transaction cancelled'), { name: 'TransactionCanceledException', CancellationReasons: reasons });
      }),
    });
    cancel = (n) => (n <= 2 ? 'TransactionConflict' : undefined);
    const updates: TiUpdate[] = range(20).map((i) => ({ key: { dagId: r.dagId, runId: r.runId, taskId: 'm', mapIndex: i }, expect: { states: ['running'], tryNumber: 1 }, patch: { pokeCount: 1 } }));
    expect(await conflicted.updateTaskInstances(updates)).toEqual(range(20).map(() => true));
    expect(transactions).toBe(3);
    transactions = 0;
    cancel = (n) => (n === 1 ? 'ThrottlingError' : undefined);
    const res = await conflicted.finishTaskInstances(finishAll(r.runId, 40, ['j']));
    expect(transactions).toBe(2);
    expect(res.applied).toEqual(range(40).map(() => true));
    expect(res.pending).toBe(60);
    expect((await store.getTaskStates(r, ['m']))[0]?.self).toEqual({ success: 30, failed: 10, skipped: 0, upstream_failed: 0, removed: 0 });
    cancel = () => 'ValidationError';
    await expect(conflicted.updateTaskInstances(updates)).rejects.toThrow(/Transaction cancelled/);
    conflicted.doc.destroy();
  });

  it('putXComs sends unprocessed items again', async () => {
    const store = await newStore();
    const r = run('bulk-unprocessed');
    await store.createRun(r);
    await store.createTaskInstances(range(60).map((i) => ti(r.runId, 'm', i)));
    const c = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: ddb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
    const send = c.send.bind(c) as (cmd: unknown) => Promise<unknown>;
    let batches = 0;
    (c as unknown as { send: (cmd: unknown) => Promise<unknown> }).send = async (cmd: unknown) => {
      if (!(cmd instanceof BatchWriteCommand)) return send(cmd);
      // Every first request of a chunk writes only its first 10 items and leaves the rest unprocessed.
      const all = cmd.input.RequestItems![store.tableName]!;
      batches++;
      if (all.length <= 10) return send(cmd);
      await send(new BatchWriteCommand({ RequestItems: { [store.tableName]: all.slice(0, 10) } }));
      return { UnprocessedItems: { [store.tableName]: all.slice(10) } } satisfies Partial<BatchWriteCommandOutput>;
    };
    const flaky = new DynamoDbStateStore({ tableName: store.tableName, client: c, largeValues: store.largeValues! });
    await flaky.putXComs(range(60).map((i) => ({ dagId: r.dagId, runId: r.runId, taskId: 'm', mapIndex: i, key: 'return_value', value: i })));
    expect((await store.listXComs(r, 'm', 'return_value')).map((x) => x.value)).toEqual(range(60));
    expect(batches).toBeGreaterThan(3);
    c.destroy();
  });
});

describe('AWS client factories', () => {
  it('pick the service endpoint before the general one, and default the region', () => {
    const env = { AWS_ENDPOINT_URL: 'http://general:1', AWS_ENDPOINT_URL_DYNAMODB: 'http://ddb:2' };
    expect(endpointFromEnv('DynamoDB', env)).toBe('http://ddb:2');
    expect(endpointFromEnv('S3', env)).toBe('http://general:1');
    expect(endpointFromEnv('S3', { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toBeUndefined();
    expect(endpointFromEnv('S3', {})).toBeUndefined();
    expect(regionFromEnv({})).toBe('us-east-1');
    expect(regionFromEnv({ AWS_REGION: 'eu-west-1' })).toBe('eu-west-1');
  });

  it('the installed SDK routes clients by AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL (S3 path-style)', async () => {
    const saved = { ...process.env };
    try {
      process.env.AWS_ENDPOINT_URL_DYNAMODB = ddb.endpoint;
      process.env.AWS_ENDPOINT_URL = s3.endpoint;
      process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
      delete process.env.AWS_REGION;
      delete process.env.AWS_PROFILE;
      const table = `airless-env-${tables++}`;
      await createTable(ddb.client, table);
      const s3c = s3Client();
      expect(await s3c.config.region()).toBe('us-east-1');
      expect(s3c.config.forcePathStyle).toBe(true);
      // No endpoint and no client given: everything comes from the environment.
      const store = new DynamoDbStateStore({ tableName: table, largeValues: new S3LargeValueStore({ bucket: BUCKET, client: s3c }) });
      expect(await store.createRun(run('env-1'))).toBe(true);
      expect((await store.getRun(ref('env-1')))?.runId).toBe('env-1');
      const big = 'y'.repeat(400_000);
      await store.putXCom({ dagId: 'd', runId: 'env-1', taskId: 't', mapIndex: -1, key: 'k', value: big });
      expect((await store.getXCom(ref('env-1'), 't', -1, 'k'))?.value).toBe(big);
      expect(String((await rawItem(store, keys.xcom(ref('env-1'), 't', 'k', -1)))?.ref)).toBe(`s3://${BUCKET}/airless/d/env-1/xcom/t/-/k.json`);
      store.doc.destroy();
      s3c.destroy();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

describe('DynamoDB operations used', () => {
  it('are key reads, queries, conditional writes and transactions only: no Scan', () => {
    const allowed = ['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand'];
    for (const used of ['TransactWriteItemsCommand', 'BatchGetItemCommand', 'QueryCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand']) expect(operations).toContain(used);
    expect([...operations].filter((o) => !allowed.includes(o))).toEqual([]);
  });
});
