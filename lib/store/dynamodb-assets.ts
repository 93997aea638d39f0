// The asset part of the DynamoDB store (asset-store.ts), keyed as lib/store/table-design.ts documents:
// GetItem, BatchGetItem, Query, conditional writes and one TransactWriteItems per event; nothing scans.

import { BatchGetCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { assetId, type AssetEventRecord, type AssetRecord } from '../model/asset.ts';
import { sha256 } from '../model/hash.ts';
import type { RunRef } from '../model/keys.ts';
import { matchesAssetEventQuery, noAssetClaim, pageAssetEvents, type AssetClaim, type AssetEventQuery, type AssetQueueEntry, type AssetStore } from './asset-store.ts';
import type { Transactor } from './dynamodb-fanout.ts';
import { ItemType, type Item } from './dynamodb-items.ts';
import { keys, PK, prefixes } from './table-design.ts';

/** The attribute holding the runs an event created, as `<dagId>#<runId>` strings (a string set). */
const CREATED_RUNS = 'createdRunKeys';

function eventOf(item: Item): AssetEventRecord {
  const e = JSON.parse(String(item.record)) as AssetEventRecord;
  const runs = item[CREATED_RUNS] instanceof Set ? [...(item[CREATED_RUNS] as Set<string>)] : [];
  const created = runs.sort().map((k) => {
    const i = k.indexOf('#');
    return { dagId: k.slice(0, i), runId: k.slice(i + 1) };
  });
  return { ...e, createdRuns: created };
}

function assetOf(item: Item): AssetRecord {
  return {
    uri: String(item.uri),
    assetId: String(item.assetId),
    name: typeof item.name === 'string' ? item.name : String(item.uri),
    group: typeof item.group === 'string' ? item.group : 'asset',
    extra: typeof item.extra === 'string' ? (JSON.parse(item.extra) as Record<string, unknown>) : {},
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    lastEventId: typeof item.lastEventId === 'string' ? item.lastEventId : null,
  };
}

export class DynamoDbAssets implements AssetStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly tx: Transactor,
  ) {}

  private async get(key: Item): Promise<Item | undefined> {
    return (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))).Item;
  }

  private async query(pk: string, input: Partial<QueryCommandInput> = {}): Promise<Item[]> {
    const out: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          ...input,
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': pk },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const i of res.Items ?? []) out.push(i);
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async putAssetEvent(e: AssetEventRecord): Promise<{ applied: boolean; event: AssetEventRecord }> {
    const aid = assetId(e.uri);
    const { createdRuns, ...rest } = e;
    const event: Item = { ...keys.assetEvent(e.id), type: ItemType.assetEvent, id: e.id, uri: e.uri, record: JSON.stringify({ ...rest, createdRuns: [] }) };
    if (createdRuns.length) event[CREATED_RUNS] = new Set(createdRuns.map((r) => `${r.dagId}#${r.runId}`));
    const res = await this.tx.write([
      { Put: { TableName: this.tableName, Item: { ...keys.assetEventDedupe(sha256(e.dedupeKey)), type: ItemType.assetEventDedupe, eventId: e.id }, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } } },
      { Put: { TableName: this.tableName, Item: event } },
      { Put: { TableName: this.tableName, Item: { ...keys.assetEventOfAsset(aid, e.id), type: ItemType.assetEventOfAsset, eventId: e.id } } },
      {
        Update: {
          TableName: this.tableName,
          Key: keys.asset(aid),
          UpdateExpression: 'SET #type = :type, #uri = :uri, #aid = :aid, #name = if_not_exists(#name, :uri), #group = if_not_exists(#group, :group), #extra = if_not_exists(#extra, :extra), #createdAt = if_not_exists(#createdAt, :t), #updatedAt = if_not_exists(#updatedAt, :t)',
          ExpressionAttributeNames: { '#type': 'type', '#uri': 'uri', '#aid': 'assetId', '#name': 'name', '#group': 'group', '#extra': 'extra', '#createdAt': 'createdAt', '#updatedAt': 'updatedAt' },
          ExpressionAttributeValues: { ':type': ItemType.asset, ':uri': e.uri, ':aid': aid, ':group': 'asset', ':extra': '{}', ':t': e.timestamp },
        },
      },
    ]);
    if (!res.ok) {
      const seen = await this.get(keys.assetEventDedupe(sha256(e.dedupeKey)));
      const first = seen ? await this.getAssetEvent(String(seen.eventId)) : null;
      if (!first) throw new Error(`asset event with dedupe key '${e.dedupeKey}': its key is recorded but its event is not`);
      return { applied: false, event: first };
    }
    // The asset's latest event: moved only forward (a late event of an earlier time leaves it).
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.asset(aid),
          UpdateExpression: 'SET #last = :id, #updatedAt = :t',
          ConditionExpression: 'attribute_not_exists(#last) OR #last < :id',
          ExpressionAttributeNames: { '#last': 'lastEventId', '#updatedAt': 'updatedAt' },
          ExpressionAttributeValues: { ':id': e.id, ':t': e.timestamp },
        }),
      );
    } catch (err) {
      if (!(err instanceof Error && err.name === 'ConditionalCheckFailedException')) throw err;
    }
    return { applied: true, event: structuredClone(e) };
  }

  async getAssetEvent(id: string): Promise<AssetEventRecord | null> {
    const item = await this.get(keys.assetEvent(id));
    return item ? eventOf(item) : null;
  }

  async listAssetEvents(q: AssetEventQuery): Promise<{ events: AssetEventRecord[]; total: number }> {
    let events: AssetEventRecord[];
    if (q.uri !== undefined) {
      const ids = (await this.query(prefixes.eventsOfAssetPartition(assetId(q.uri)))).map((i) => String(i.eventId));
      events = await this.events(ids);
    } else {
      events = (await this.query(prefixes.assetEventPartition)).map(eventOf);
    }
    return pageAssetEvents(events.filter((e) => matchesAssetEventQuery(e, q)), q);
  }

  /** Events by id (BatchGetItem per 100). */
  private async events(ids: readonly string[]): Promise<AssetEventRecord[]> {
    const out: AssetEventRecord[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      let request: Item[] = ids.slice(i, i + 100).map((id) => keys.assetEvent(id));
      while (request.length) {
        const res = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: request, ConsistentRead: true } } }));
        for (const item of res.Responses?.[this.tableName] ?? []) out.push(eventOf(item));
        request = (res.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Item[];
      }
    }
    return out;
  }

  async addAssetEventRuns(id: string, runs: readonly RunRef[]): Promise<void> {
    if (runs.length === 0) return;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.assetEvent(id),
          UpdateExpression: 'ADD #runs :runs',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#runs': CREATED_RUNS, '#pk': PK },
          ExpressionAttributeValues: { ':runs': new Set(runs.map((r) => `${r.dagId}#${r.runId}`)) },
        }),
      );
    } catch (err) {
      if (!(err instanceof Error && err.name === 'ConditionalCheckFailedException')) throw err;
    }
  }

  async upsertAsset(a: Pick<AssetRecord, 'uri' | 'name' | 'group' | 'extra'>, at: string): Promise<AssetRecord> {
    const aid = assetId(a.uri);
    const res = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.asset(aid),
        UpdateExpression: 'SET #type = :type, #uri = :uri, #aid = :aid, #name = :name, #group = :group, #extra = :extra, #createdAt = if_not_exists(#createdAt, :t), #updatedAt = :t',
        ExpressionAttributeNames: { '#type': 'type', '#uri': 'uri', '#aid': 'assetId', '#name': 'name', '#group': 'group', '#extra': 'extra', '#createdAt': 'createdAt', '#updatedAt': 'updatedAt' },
        ExpressionAttributeValues: { ':type': ItemType.asset, ':uri': a.uri, ':aid': aid, ':name': a.name, ':group': a.group, ':extra': JSON.stringify(a.extra), ':t': at },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return assetOf(res.Attributes!);
  }

  async getAsset(uri: string): Promise<AssetRecord | null> {
    const item = await this.get(keys.asset(assetId(uri)));
    return item ? assetOf(item) : null;
  }

  async listAssets(): Promise<AssetRecord[]> {
    return (await this.query(prefixes.assetPartition)).map(assetOf).sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  }

  async queueAssetEvent(e: AssetQueueEntry): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...keys.assetQueueEntry(e.dagId, e.eventId), type: ItemType.assetQueueEntry, dagId: e.dagId, eventId: e.eventId, uri: e.uri, timestamp: e.timestamp } }));
  }

  async listAssetQueue(dagId: string): Promise<AssetQueueEntry[]> {
    return (await this.query(prefixes.assetQueuePartition(dagId))).map((i) => ({ dagId: String(i.dagId), eventId: String(i.eventId), uri: String(i.uri), timestamp: String(i.timestamp) }));
  }

  async consumeAssetQueue(dagId: string, eventIds: readonly string[]): Promise<void> {
    for (const id of eventIds) await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: keys.assetQueueEntry(dagId, id) }));
  }

  async getAssetClaim(dagId: string): Promise<AssetClaim> {
    const item = await this.get(keys.assetClaim(dagId));
    if (!item) return noAssetClaim(dagId);
    return { dagId, seq: Number(item.seq), runId: String(item.runId), eventIds: (item.eventIds as string[] | undefined) ?? [], done: item.done === true };
  }

  async claimAssetQueue(dagId: string, expectSeq: number, runId: string, eventIds: readonly string[]): Promise<AssetClaim | null> {
    const claim: AssetClaim = { dagId, seq: expectSeq + 1, runId, eventIds: [...eventIds], done: false };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.assetClaim(dagId), type: ItemType.assetClaim, ...claim },
          ...(expectSeq === 0
            ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } }
            : { ConditionExpression: '#seq = :expect', ExpressionAttributeNames: { '#seq': 'seq' }, ExpressionAttributeValues: { ':expect': expectSeq } }),
        }),
      );
    } catch (err) {
      if (err instanceof Error && err.name === 'ConditionalCheckFailedException') return null;
      throw err;
    }
    return claim;
  }

  async finishAssetClaim(dagId: string, seq: number): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.assetClaim(dagId),
          UpdateExpression: 'SET #done = :t',
          ConditionExpression: '#seq = :seq',
          ExpressionAttributeNames: { '#done': 'done', '#seq': 'seq' },
          ExpressionAttributeValues: { ':t': true, ':seq': seq },
        }),
      );
    } catch (err) {
      if (!(err instanceof Error && err.name === 'ConditionalCheckFailedException')) throw err;
    }
  }
}
