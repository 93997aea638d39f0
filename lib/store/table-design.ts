/**
 * The single DynamoDB table that holds all run state, as one source for the store, the test harness and
 * the CDK stack. No AWS SDK import here: deploy-time code can read these constants without the client.
 *
 * Keys (all strings; `#` separates parts: DAG and task ids are `[A-Za-z0-9_.-]+`, which sort after `#`,
 * so a task's items sort before a longer task id that starts with it; free-form parts are URI-encoded).
 * A run is named by its DAG and run id (run ids are unique per DAG): its partition is
 * `RUN#<dagId>#<runId>`, where the DAG id (no `#`, checked) ends at the first `#` and the run id is the
 * rest, whatever it holds:
 *
 * | entity          | PK                     | SK                                               | GSI1 (runs by DAG + state)             | GSI2 (runs by state)          |
 * |-----------------|------------------------|--------------------------------------------------|----------------------------------------|-------------------------------|
 * | run             | `RUN#<dagId>#<runId>`  | `RUN`                                            | `DAG#<dagId>#<state>` / `<logicalDate>#<queuedAt>#<runId>` | `STATE#<state>` / `<queuedAt>#<dagId>#<runId>` |
 * | task state      | `RUN#<dagId>#<runId>`  | `TS#<taskId>`                                    |                                        |                               |
 * | task instance   | `RUN#<dagId>#<runId>`  | `TI#<taskId>#<mapIndex>`                         |                                        |                               |
 * | XCom            | `RUN#<dagId>#<runId>`  | `XC#<taskId>#<key>#<mapIndex>`                   |                                        |                               |
 * | item result     | `RUN#<dagId>#<runId>`  | `IT#<taskId>#<mapIndex>#<index>`                 |                                        |                               |
 * | log chunk       | `RUN#<dagId>#<runId>`  | `LOG#<taskId>#<mapIndex>#<try>#<time>#<seq>`      |                                        |                               |
 * | pipeline save   | `PIPE#<scope>`         | `<time>#<seq>`                                   |                                        |                               |
 * | pool            | `POOLS`                | `POOL#<name>`                                    |                                        |                               |
 * | semaphore       | `SEM#<name>`           | `SEM`                                            |                                        |                               |
 * | semaphore waiter| `WAIT#<name>`          | `<epoch ms>#<seq>`                               |                                        |                               |
 * | DAG record      | `DAG#<dagId>`          | `META`                                           |                                        |                               |
 * | backfill        | `DAG#<dagId>`          | `BACKFILL#<backfillId>`                          |                                        |                               |
 * | DAG version     | `DAG#<dagId>`          | `VERSION#<version>`                              |                                        |                               |
 * | variable        | `VARIABLES`            | `VAR#<key>`                                      |                                        |                               |
 * | connection      | `CONNECTIONS`          | `CONN#<connectionId>`                            |                                        |                               |
 * | asset           | `ASSETS`               | `ASSET#<assetId>`                                |                                        |                               |
 * | asset event     | `ASSETEVENTS`          | `EV#<eventId>`                                   |                                        |                               |
 * | asset's event   | `ASSETEV#<assetId>`    | `EV#<eventId>`                                   |                                        |                               |
 * | event dedupe key| `AEDEDUPE#<sha256(key)>` | `DEDUPE`                                       |                                        |                               |
 * | consumer queue  | `ASSETQ#<dagId>`       | `EV#<eventId>`                                   |                                        |                               |
 * | queue claim     | `ASSETCLAIM#<dagId>`   | `CLAIM`                                          |                                        |                               |
 * | HITL request    | `RUN#<dagId>#<runId>`  | `HITL#<taskId>#<mapIndex>#<try>`                 |                                        |                               |
 * | HITL pending    | `HITL_PENDING`         | `<createdAt>#<dagId>#<runId>#<taskId>#<mapIndex>#<try>` |                                  |                               |
 * | HITL by DAG     | `HITL_DAG#<dagId>`     | `<createdAt>#<runId>#<taskId>#<mapIndex>#<try>`  |                                        |                               |
 * | HITL, every one | `HITL_ALL`             | `<createdAt>#<dagId>#<runId>#<taskId>#<mapIndex>#<try>` |                                  |                               |
 *
 * Assets (lib/store/dynamodb-assets.ts): one partition holds every asset (`listAssets` is a Query) and one
 * every event (event ids start with their ISO timestamp, so a Query reads them by time, either way); an
 * asset's partition indexes its events (ids only, the events read with BatchGetItem). An event is put in
 * one transaction with its dedupe key item (conditional on absence: a delivery seen again cancels it, and
 * the key item names the event first recorded), its asset's index item and its asset's record (created if
 * missing); the asset's `lastEventId` then moves to it, conditional on being older. A run an event created
 * is added to its `createdRunKeys` string set (ADD: idempotent). A consumer DAG's queue (Airflow's
 * AssetDagRunQueue) is a partition of the events it has not consumed: queueing is a put, consuming deletes.
 * Its claim item (asset-store.ts `AssetClaim`) is put conditional on the claim count read before the
 * queue (or on absence, for the first), and marked done conditional on it.
 *
 * A DAG's partition holds its record, its backfills and its version records: `getDagVersion` is a GetItem,
 * `listDagVersions` a Query on `VERSION#` (sorted by `createdAt` after it: a DAG has few versions), and
 * `deleteDagRecord` deletes the whole partition (one Query, then batch deletes).
 * The DAG record's `pausedReason` (a string, or null) says why airless paused it (max_consecutive_failed_dag_runs);
 * every pause and unpause sets it, registering a version leaves it.
 *
 * Variables and connections (lib/secrets) each have one partition, as pools do: a list is one Query, a
 * get one GetItem; keys and connection ids are URI-encoded in the sort key. A connection's password is
 * stored as the table stores everything (encrypted at rest); deployed tasks read a secrets backend (SSM,
 * Secrets Manager) before the store, which is where production secrets belong.
 *
 * Human-in-the-loop requests: one item per try of a hitl instance, beside the instance in its run's
 * partition (`getHitlRequest` is one Query on `HITL#<taskId>#<mapIndex>#`, newest try first). Listing across
 * runs reads pointer items (the request's key in `rpk`/`rsk`, with `dagId` and `runId`), newest first by
 * `createdAt`: `HITL_PENDING` while a request has no answer (deleted in the transaction that stores the
 * answer, so the pending list is one Query of that partition and a BatchGetItem of the page),
 * `HITL_DAG#<dagId>` and `HITL_ALL` for every request. Run ids are URI-encoded in pointer keys. The
 * request and its pointers are written in one transaction; deleting a run deletes its pointers.
 *
 * Map indexes, item indexes and try numbers are zero-padded (`-` for map index -1, which sorts first),
 * so a Query on a prefix returns them in numeric order. Every item also carries `type`. Items of a
 * finished run's XComs, item results and logs get `expiresAt` (epoch seconds, the table's TTL attribute).
 */

/** Attribute names of the table's keys. */
export const PK = 'PK';
export const SK = 'SK';
export const GSI1_PK = 'GSI1PK';
export const GSI1_SK = 'GSI1SK';
export const GSI2_PK = 'GSI2PK';
export const GSI2_SK = 'GSI2SK';
/** The TTL attribute (epoch seconds). */
export const TTL_ATTRIBUTE = 'expiresAt';

/** Runs of a DAG in one state, oldest logical date first. */
export const GSI_RUNS_BY_DAG_STATE = 'runsByDagState';
/** Runs of any DAG in one state, oldest queuedAt first. */
export const GSI_RUNS_BY_STATE = 'runsByState';

/** Key schema of the table (CloudFormation / SDK shape). */
export const TABLE_KEY_SCHEMA = [
  { AttributeName: PK, KeyType: 'HASH' },
  { AttributeName: SK, KeyType: 'RANGE' },
] as const;

/** Every key attribute of the table and its indexes (all strings). */
export const TABLE_ATTRIBUTE_DEFINITIONS = [PK, SK, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK].map((AttributeName) => ({ AttributeName, AttributeType: 'S' as const }));

/** Global secondary indexes (both project every attribute: a listing returns whole run records). */
export const TABLE_GLOBAL_SECONDARY_INDEXES = [
  {
    IndexName: GSI_RUNS_BY_DAG_STATE,
    KeySchema: [
      { AttributeName: GSI1_PK, KeyType: 'HASH' },
      { AttributeName: GSI1_SK, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'ALL' },
  },
  {
    IndexName: GSI_RUNS_BY_STATE,
    KeySchema: [
      { AttributeName: GSI2_PK, KeyType: 'HASH' },
      { AttributeName: GSI2_SK, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'ALL' },
  },
] as const;

/** On-demand billing. */
export const TABLE_BILLING_MODE = 'PAY_PER_REQUEST';

// Key builders ----------------------------------------------------------------------------------------

/** Largest map/item index the padded encodings keep in order. */
export const MAX_INDEX = 9_999_999_999;

/** A map index as a sort-key part: `-` for -1 (not mapped), else ten digits. */
export function mapIndexPart(mapIndex: number): string {
  if (mapIndex === -1) return '-';
  return indexPart(mapIndex, 'map index');
}

/** A non-negative integer as ten digits. */
export function indexPart(n: number, what = 'index'): string {
  if (!Number.isInteger(n) || n < 0 || n > MAX_INDEX) throw new RangeError(`${what} must be an integer from 0 to ${MAX_INDEX}, got ${n}`);
  return String(n).padStart(10, '0');
}

/** A free-form string as a key part that contains no `#`. */
export function freePart(s: string): string {
  return encodeURIComponent(s);
}

/** A run's identity (as `RunRef` in records.ts; no import, so deploy-time code stays light). */
interface RunIdentity {
  dagId: string;
  runId: string;
}

/**
 * A DAG id as the first part of a key: refused if it could be mistaken for more than one part (a `#`:
 * DAG ids are `[A-Za-z0-9_.-]+`, so no valid DAG has one) or is empty.
 */
export function dagIdPart(dagId: string): string {
  if (dagId === '' || dagId.includes('#')) throw new RangeError(`a DAG id must be non-empty and hold no '#', got '${dagId}'`);
  return dagId;
}

/** The partition of a run and its items: `RUN#<dagId>#<runId>` (the run id is the rest after the DAG id). */
export function runPartition(run: RunIdentity): string {
  return `RUN#${dagIdPart(run.dagId)}#${run.runId}`;
}

export const keys = {
  run: (run: RunIdentity) => ({ [PK]: runPartition(run), [SK]: 'RUN' }),
  taskState: (run: RunIdentity, taskId: string) => ({ [PK]: runPartition(run), [SK]: `TS#${taskId}` }),
  taskInstance: (run: RunIdentity, taskId: string, mapIndex: number) => ({ [PK]: runPartition(run), [SK]: `TI#${taskId}#${mapIndexPart(mapIndex)}` }),
  xcom: (run: RunIdentity, taskId: string, key: string, mapIndex: number) => ({
    [PK]: runPartition(run),
    [SK]: `XC#${taskId}#${freePart(key)}#${mapIndexPart(mapIndex)}`,
  }),
  itemResult: (run: RunIdentity, taskId: string, mapIndex: number, index: number) => ({
    [PK]: runPartition(run),
    [SK]: `IT#${taskId}#${mapIndexPart(mapIndex)}#${indexPart(index, 'item index')}`,
  }),
  pool: (name: string) => ({ [PK]: 'POOLS', [SK]: `POOL#${name}` }),
  dag: (dagId: string) => ({ [PK]: `DAG#${dagId}`, [SK]: 'META' }),
  backfill: (dagId: string, backfillId: string) => ({ [PK]: `DAG#${dagId}`, [SK]: `BACKFILL#${freePart(backfillId)}` }),
  dagVersion: (dagId: string, version: string) => ({ [PK]: `DAG#${dagId}`, [SK]: `VERSION#${freePart(version)}` }),
  semaphore: (name: string) => ({ [PK]: `SEM#${name}`, [SK]: 'SEM' }),
  counter: (name: string) => ({ [PK]: `CNT#${name}`, [SK]: 'CNT' }),
  variable: (key: string) => ({ [PK]: 'VARIABLES', [SK]: `VAR#${freePart(key)}` }),
  connection: (connectionId: string) => ({ [PK]: 'CONNECTIONS', [SK]: `CONN#${freePart(connectionId)}` }),
  asset: (assetId: string) => ({ [PK]: 'ASSETS', [SK]: `ASSET#${assetId}` }),
  assetEvent: (eventId: string) => ({ [PK]: 'ASSETEVENTS', [SK]: `EV#${freePart(eventId)}` }),
  assetEventOfAsset: (assetId: string, eventId: string) => ({ [PK]: `ASSETEV#${assetId}`, [SK]: `EV#${freePart(eventId)}` }),
  /** `keyHash`: sha256 (hex) of the event's dedupe key (a key of any length fits). */
  assetEventDedupe: (keyHash: string) => ({ [PK]: `AEDEDUPE#${keyHash}`, [SK]: 'DEDUPE' }),
  assetQueueEntry: (dagId: string, eventId: string) => ({ [PK]: `ASSETQ#${dagIdPart(dagId)}`, [SK]: `EV#${freePart(eventId)}` }),
  assetClaim: (dagId: string) => ({ [PK]: `ASSETCLAIM#${dagIdPart(dagId)}`, [SK]: 'CLAIM' }),
} as const;

/** A task instance's identity (as `TiKey` in records.ts). */
interface TiIdentity extends RunIdentity {
  taskId: string;
  mapIndex: number;
}

const hitlTail = (ti: TiIdentity, tryNumber: number) => `${ti.taskId}#${mapIndexPart(ti.mapIndex)}#${String(tryNumber).padStart(5, '0')}`;

/** Keys of human-in-the-loop requests and their pointer items. */
export const hitlKeys = {
  request: (ti: TiIdentity, tryNumber: number) => ({ [PK]: runPartition(ti), [SK]: `HITL#${hitlTail(ti, tryNumber)}` }),
  tiPrefix: (ti: TiIdentity) => `HITL#${ti.taskId}#${mapIndexPart(ti.mapIndex)}#`,
  pendingPartition: 'HITL_PENDING',
  allPartition: 'HITL_ALL',
  dagPartition: (dagId: string) => `HITL_DAG#${dagIdPart(dagId)}`,
  pending: (ti: TiIdentity, tryNumber: number, createdAt: string) => ({ [PK]: 'HITL_PENDING', [SK]: `${createdAt}#${dagIdPart(ti.dagId)}#${freePart(ti.runId)}#${hitlTail(ti, tryNumber)}` }),
  all: (ti: TiIdentity, tryNumber: number, createdAt: string) => ({ [PK]: 'HITL_ALL', [SK]: `${createdAt}#${dagIdPart(ti.dagId)}#${freePart(ti.runId)}#${hitlTail(ti, tryNumber)}` }),
  byDag: (ti: TiIdentity, tryNumber: number, createdAt: string) => ({ [PK]: `HITL_DAG#${dagIdPart(ti.dagId)}`, [SK]: `${createdAt}#${freePart(ti.runId)}#${hitlTail(ti, tryNumber)}` }),
} as const;

/** Sort-key prefixes for queries inside a partition. */
export const prefixes = {
  runPartition,
  taskInstances: (taskId?: string) => (taskId === undefined ? 'TI#' : `TI#${taskId}#`),
  xcoms: (taskId: string, key: string) => `XC#${taskId}#${freePart(key)}#`,
  taskXComs: (taskId: string) => `XC#${taskId}#`,
  itemResults: (taskId: string, mapIndex: number) => `IT#${taskId}#${mapIndexPart(mapIndex)}#`,
  log: (taskId: string, mapIndex: number, tryNumber: number) => `LOG#${taskId}#${mapIndexPart(mapIndex)}#${String(tryNumber).padStart(5, '0')}#`,
  pipelinePartition: (scope: string) => `PIPE#${scope}`,
  waiterPartition: (name: string) => `WAIT#${name}`,
  poolPartition: 'POOLS',
  dagPartition: (dagId: string) => `DAG#${dagId}`,
  backfills: 'BACKFILL#',
  dagVersions: 'VERSION#',
  variablePartition: 'VARIABLES',
  connectionPartition: 'CONNECTIONS',
  assetPartition: 'ASSETS',
  assetEventPartition: 'ASSETEVENTS',
  eventsOfAssetPartition: (assetId: string) => `ASSETEV#${assetId}`,
  assetQueuePartition: (dagId: string) => `ASSETQ#${dagIdPart(dagId)}`,
  /** Prefixes of the items that expire after a run ends. */
  expiring: ['XC#', 'IT#', 'LOG#'] as const,
} as const;

/** GSI keys of a run in a state. */
export function runIndexKeys(run: { dagId: string; runId: string; state: string; logicalDate: string; queuedAt: string }): Record<string, string> {
  return {
    [GSI1_PK]: `DAG#${dagIdPart(run.dagId)}#${run.state}`,
    [GSI1_SK]: `${run.logicalDate}#${run.queuedAt}#${run.runId}`,
    [GSI2_PK]: `STATE#${run.state}`,
    [GSI2_SK]: `${run.queuedAt}#${run.dagId}#${run.runId}`,
  };
}
