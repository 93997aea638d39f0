/**
 * Human-in-the-loop requests on the DynamoDB table (layout in table-design.ts): the request beside its
 * task instance in the run's partition (`HITL#<taskId>#<mapIndex>#<try>`), and pointer items that list
 * them without a scan: `HITL_PENDING` (while unanswered; deleted in the same transaction that stores the
 * answer), `HITL_DAG#<dagId>` and `HITL_ALL` (every request), each sorted newest first by `createdAt`.
 */
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TiKey } from '../model/keys.ts';
import { Expr, ItemType, type Item } from './dynamodb-items.ts';
import type { Transactor, TxItem } from './dynamodb-fanout.ts';
import type { HitlQuery, HitlRecord, HitlRespondResult, HitlResponse } from './hitl-records.ts';
import { hitlKeys, PK, prefixes, SK } from './table-design.ts';

type Query = (pk: string, prefix: string | null, extra?: { ScanIndexForward?: boolean; ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> }) => Promise<Item[]>;
type BatchGet = (keys: Item[]) => Promise<Map<string, Item>>;

const keyId = (k: Item) => `${String(k[PK])}\u0000${String(k[SK])}`;

function toItem(rec: HitlRecord): Item {
  const item: Item = {
    ...hitlKeys.request(rec, rec.tryNumber),
    type: ItemType.hitl,
    dagId: rec.dagId,
    runId: rec.runId,
    taskId: rec.taskId,
    mapIndex: rec.mapIndex,
    tryNumber: rec.tryNumber,
    subject: rec.subject,
    options: rec.options,
    multiple: rec.multiple,
    assignedTo: JSON.stringify(rec.assignedTo),
    createdAt: rec.createdAt,
  };
  if (rec.body !== null) item.body = rec.body;
  if (rec.defaults !== null) item.defaults = JSON.stringify(rec.defaults);
  if (rec.params !== null) item.params = JSON.stringify(rec.params);
  if (rec.timeoutAt !== null) item.timeoutAt = rec.timeoutAt;
  if (rec.taskToken !== null) item.taskToken = rec.taskToken;
  if (rec.response !== null) item.response = JSON.stringify(rec.response);
  return item;
}

function fromItem(i: Item): HitlRecord {
  return {
    dagId: String(i.dagId),
    runId: String(i.runId),
    taskId: String(i.taskId),
    mapIndex: Number(i.mapIndex),
    tryNumber: Number(i.tryNumber),
    subject: String(i.subject),
    body: typeof i.body === 'string' ? i.body : null,
    options: (i.options as string[] | undefined) ?? [],
    multiple: i.multiple === true,
    defaults: typeof i.defaults === 'string' ? (JSON.parse(i.defaults) as string[]) : null,
    params: typeof i.params === 'string' ? (JSON.parse(i.params) as HitlRecord['params']) : null,
    assignedTo: typeof i.assignedTo === 'string' ? (JSON.parse(i.assignedTo) as string[]) : [],
    createdAt: String(i.createdAt),
    timeoutAt: typeof i.timeoutAt === 'string' ? i.timeoutAt : null,
    taskToken: typeof i.taskToken === 'string' ? i.taskToken : null,
    response: typeof i.response === 'string' ? (JSON.parse(i.response) as HitlResponse) : null,
  };
}

/** A pointer item: the request's key and what a listing filters on. */
function pointer(key: Item, rec: HitlRecord): Item {
  return { ...key, type: ItemType.hitlPointer, rpk: hitlKeys.request(rec, rec.tryNumber)[PK], rsk: hitlKeys.request(rec, rec.tryNumber)[SK], dagId: rec.dagId, runId: rec.runId };
}

export class DynamoDbHitl {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly tx: Transactor,
    private readonly queryPrefix: Query,
    private readonly batchGet: BatchGet,
  ) {}

  private async getTry(ti: TiKey, tryNumber: number): Promise<HitlRecord | undefined> {
    const item = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: hitlKeys.request(ti, tryNumber), ConsistentRead: true }))).Item;
    return item ? fromItem(item) : undefined;
  }

  /** One transaction: the request (if absent) and its pointers. */
  async put(rec: HitlRecord): Promise<boolean> {
    const T = this.tableName;
    const items: TxItem[] = [
      { Put: { TableName: T, Item: toItem(rec), ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } } },
      { Put: { TableName: T, Item: pointer(hitlKeys.byDag(rec, rec.tryNumber, rec.createdAt), rec) } },
      { Put: { TableName: T, Item: pointer(hitlKeys.all(rec, rec.tryNumber, rec.createdAt), rec) } },
    ];
    if (rec.response === null) items.push({ Put: { TableName: T, Item: pointer(hitlKeys.pending(rec, rec.tryNumber, rec.createdAt), rec) } });
    return (await this.tx.write(items)).ok;
  }

  async setToken(ti: TiKey, tryNumber: number, token: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: hitlKeys.request(ti, tryNumber),
          UpdateExpression: 'SET #t = :t',
          ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#r)',
          ExpressionAttributeNames: { '#t': 'taskToken', '#pk': PK, '#r': 'response' },
          ExpressionAttributeValues: { ':t': token },
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof Error && e.name === 'ConditionalCheckFailedException') return false;
      throw e;
    }
  }

  /** One transaction: the answer on the request (conditional on none), the pending pointer deleted. */
  async respond(ti: TiKey, tryNumber: number, response: HitlResponse): Promise<HitlRespondResult> {
    const rec = await this.getTry(ti, tryNumber);
    if (!rec || rec.response !== null) return { applied: false, record: rec };
    const e = new Expr();
    const items: TxItem[] = [
      {
        Update: {
          TableName: this.tableName,
          Key: hitlKeys.request(ti, tryNumber),
          UpdateExpression: `SET ${e.name('response')} = ${e.value(JSON.stringify(response))}`,
          ConditionExpression: `attribute_exists(${e.name(PK)}) AND attribute_not_exists(${e.name('response')})`,
          ...e.params(),
        },
      },
      { Delete: { TableName: this.tableName, Key: hitlKeys.pending(ti, tryNumber, rec.createdAt) } },
    ];
    const out = await this.tx.write(items);
    if (!out.ok) return { applied: false, record: await this.getTry(ti, tryNumber) };
    return { applied: true, record: { ...rec, response } };
  }

  async latest(ti: TiKey): Promise<HitlRecord | undefined> {
    const items = await this.queryPrefix(prefixes.runPartition(ti), hitlKeys.tiPrefix(ti), { ScanIndexForward: false });
    const first = items[0];
    return first ? fromItem(first) : undefined;
  }

  async list(q: HitlQuery): Promise<{ records: HitlRecord[]; total: number }> {
    const from = q.offset ?? 0;
    if (q.dagId !== undefined && q.runId !== undefined) {
      // One run's: its partition holds them.
      const all = (await this.queryPrefix(prefixes.runPartition({ dagId: q.dagId, runId: q.runId }), 'HITL#')).map(fromItem).filter((r) => q.pending === undefined || (r.response === null) === q.pending);
      all.sort((a, b) => (a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? 1 : -1) : a.taskId !== b.taskId ? (a.taskId < b.taskId ? 1 : -1) : b.mapIndex - a.mapIndex || b.tryNumber - a.tryNumber));
      return { records: all.slice(from, from + q.limit), total: all.length };
    }
    const pk = q.pending === true ? hitlKeys.pendingPartition : q.dagId !== undefined ? hitlKeys.dagPartition(q.dagId) : hitlKeys.allPartition;
    let pointers = await this.queryPrefix(pk, null, { ScanIndexForward: false });
    if (q.dagId !== undefined && q.pending === true) pointers = pointers.filter((p) => p.dagId === q.dagId);
    const wanted = (r: HitlRecord) => q.pending === undefined || (r.response === null) === q.pending;
    if (q.pending === false) {
      // Answered: every pointer's request read, the pending ones left out (a listing of answers is rarer).
      const found = await this.batchGet(pointers.map((p) => ({ [PK]: p.rpk, [SK]: p.rsk })));
      const all = pointers.flatMap((p) => {
        const item = found.get(keyId({ [PK]: p.rpk, [SK]: p.rsk }));
        return item ? [fromItem(item)] : [];
      }).filter(wanted);
      return { records: all.slice(from, from + q.limit), total: all.length };
    }
    const page = pointers.slice(from, from + q.limit);
    const found = await this.batchGet(page.map((p) => ({ [PK]: p.rpk, [SK]: p.rsk })));
    const records = page.flatMap((p) => {
      const item = found.get(keyId({ [PK]: p.rpk, [SK]: p.rsk }));
      return item ? [fromItem(item)] : [];
    });
    return { records, total: pointers.length };
  }

  /** The pointer items of a run's requests (deleted with the run). */
  async pointersOfRun(run: { dagId: string; runId: string }): Promise<Item[]> {
    const items = await this.queryPrefix(prefixes.runPartition(run), 'HITL#');
    return items.flatMap((i) => {
      const r = fromItem(i);
      return [hitlKeys.pending(r, r.tryNumber, r.createdAt), hitlKeys.byDag(r, r.tryNumber, r.createdAt), hitlKeys.all(r, r.tryNumber, r.createdAt)];
    });
  }
}

