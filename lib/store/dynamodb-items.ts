import { storedError, storedHistory, type DagRunRecord, type StateTally, type TaskInstanceRecord, type TaskStateRecord, type TrySummary } from './records.ts';
import type { TerminalTiState, TiState } from '../model/states.ts';

/** A DynamoDB item as the document client gives it. */
export type Item = Record<string, unknown>;

/** Item types (the `type` attribute). */
export const ItemType = {
  run: 'run',
  taskState: 'ts',
  taskInstance: 'ti',
  xcom: 'xcom',
  itemResult: 'item',
  log: 'log',
  pipeline: 'pipeline',
  pool: 'pool',
  dag: 'dag',
  dagVersion: 'dagVersion',
  counter: 'counter',
  semaphore: 'sem',
  waiter: 'waiter',
  backfill: 'backfill',
  variable: 'variable',
  connection: 'connection',
  asset: 'asset',
  assetEvent: 'assetEvent',
  assetEventOfAsset: 'assetEventOfAsset',
  assetEventDedupe: 'assetEventDedupe',
  assetQueueEntry: 'assetQueue',
  assetClaim: 'assetClaim',
  hitl: 'hitl',
  hitlPointer: 'hitlPointer',
} as const;

// Task instances -------------------------------------------------------------------------------------

/** Every field of a task instance record (a missing one fails to compile). */
const TI_FIELD_SET: Record<keyof TaskInstanceRecord, true> = {
  dagId: true,
  runId: true,
  taskId: true,
  mapIndex: true,
  state: true,
  tryNumber: true,
  maxTries: true,
  queuedAt: true,
  startDate: true,
  endDate: true,
  nextAt: true,
  firstPokeAt: true,
  pokeCount: true,
  durationMs: true,
  error: true,
  externalId: true,
  resume: true,
  history: true,
  note: true,
};
/** Optional instance fields: an attribute only when given (a list of maps), absent from the record otherwise. */
const OPTIONAL_TI_FIELDS = new Set<keyof TaskInstanceRecord>(['history', 'note']);
export const TI_FIELDS = Object.keys(TI_FIELD_SET) as (keyof TaskInstanceRecord)[];
/** Fields a transition may change (the identity stays). */
export const TI_MUTABLE_FIELDS = TI_FIELDS.filter((f) => f !== 'dagId' && f !== 'runId' && f !== 'taskId' && f !== 'mapIndex');

export function tiAttributes(ti: TaskInstanceRecord): Item {
  const out: Item = {};
  for (const f of TI_FIELDS) {
    const v = ti[f];
    if (v === undefined && OPTIONAL_TI_FIELDS.has(f)) continue;
    out[f] = v ?? null;
  }
  return out;
}

/** The patch's fields that a transition may set (unknown and identity fields are left out). */
export function tiPatchAttributes(patch: Partial<TaskInstanceRecord>): Item {
  const out: Item = {};
  for (const f of TI_MUTABLE_FIELDS) {
    if (Object.prototype.hasOwnProperty.call(patch, f) && patch[f] !== undefined) out[f] = patch[f];
  }
  return out;
}

/**
 * The record of a task instance item. Its error is a map; an item an older version wrote holds it as
 * `"Name: message"` text (so do the tries of its history), read as an ErrorInfo.
 */
export function itemToTi(item: Item): TaskInstanceRecord {
  const out: Record<string, unknown> = {};
  for (const f of TI_FIELDS) {
    const v = item[f] ?? null;
    if (v === null && OPTIONAL_TI_FIELDS.has(f)) continue;
    if (f === 'error') out[f] = storedError(v, item.state as TiState);
    else if (f === 'history') out[f] = storedHistory(v as TrySummary[]);
    else out[f] = v;
  }
  return Object.freeze(out) as unknown as TaskInstanceRecord;
}

// Runs -----------------------------------------------------------------------------------------------

const RUN_FIELD_SET: Record<keyof DagRunRecord, true> = {
  dagId: true,
  runId: true,
  state: true,
  runType: true,
  conf: true,
  params: true,
  logicalDate: true,
  queuedAt: true,
  startDate: true,
  endDate: true,
  dagVersion: true,
  pending: true,
  parent: true,
  pipelineScope: true,
  note: true,
  backfillId: true,
  clearNumber: true,
  pinnedVersions: true,
  triggeringAssetEvents: true,
};
/**
 * Optional run fields: left out of the record when null (or 0), as a run that never had them.
 * `pinnedVersions` is a map attribute (DAG id → version: strings, which DynamoDB keeps as they are).
 */
const OPTIONAL_RUN_FIELDS = new Set<keyof DagRunRecord>(['backfillId', 'clearNumber', 'pinnedVersions', 'triggeringAssetEvents']);
export const RUN_FIELDS = Object.keys(RUN_FIELD_SET) as (keyof DagRunRecord)[];
/** conf and params are kept as JSON text: any JSON survives (DynamoDB numbers and maps do not take all). */
const JSON_RUN_FIELDS = new Set<keyof DagRunRecord>(['conf', 'params', 'parent', 'triggeringAssetEvents']);

export function runAttributes(run: DagRunRecord): Item {
  const out: Item = {};
  for (const f of RUN_FIELDS) out[f] = JSON_RUN_FIELDS.has(f) ? JSON.stringify(run[f] ?? null) : (run[f] ?? null);
  return out;
}

export function itemToRun(item: Item): DagRunRecord {
  const out: Record<string, unknown> = {};
  for (const f of RUN_FIELDS) {
    const v = item[f] ?? null;
    if (OPTIONAL_RUN_FIELDS.has(f) && (v === null || v === 0)) continue;
    const value: unknown = JSON_RUN_FIELDS.has(f) && typeof v === 'string' ? JSON.parse(v) : v;
    if (OPTIONAL_RUN_FIELDS.has(f) && value === null) continue;
    out[f] = value;
  }
  return out as unknown as DagRunRecord;
}

// Task states ----------------------------------------------------------------------------------------

const TALLY_STATES: readonly TerminalTiState[] = ['success', 'failed', 'skipped', 'upstream_failed', 'removed'];
/** Attribute of an upstream tally counter (top-level, so ADD works on it). */
export const upstreamAttr = (s: TerminalTiState) => `u_${s}`;
/** Attribute of a task's own tally counter. */
export const selfAttr = (s: TerminalTiState) => `s_${s}`;
export const ADDED_TOTAL = 'addedTotal';
export const EXPANDED_COUNT = 'expandedCount';
export const DECISION = 'decision';
export const MAP_COUNT = 'mapCount';
export const PRIOR_TRIES = 'priorTries';
export const PRIOR_HISTORY = 'priorHistory';

function tally(item: Item, attr: (s: TerminalTiState) => string): StateTally {
  const t = {} as StateTally;
  for (const s of TALLY_STATES) t[s] = Number(item[attr(s)] ?? 0);
  return t;
}

export function itemToTaskState(item: Item): TaskStateRecord {
  return {
    dagId: String(item.dagId),
    runId: String(item.runId),
    taskId: String(item.taskId),
    upstream: tally(item, upstreamAttr),
    upstreamAddedTotal: Number(item[ADDED_TOTAL] ?? 0),
    upstreamExpanded: Number(item[EXPANDED_COUNT] ?? 0),
    self: tally(item, selfAttr),
    decision: (item[DECISION] as TaskStateRecord['decision']) ?? null,
    mapCount: (item[MAP_COUNT] as number | undefined) ?? null,
    ...(Number(item[PRIOR_TRIES] ?? 0) > 0 ? { priorTries: Number(item[PRIOR_TRIES]) } : {}),
    ...(Array.isArray(item[PRIOR_HISTORY]) ? { priorHistory: storedHistory(item[PRIOR_HISTORY] as TrySummary[]) } : {}),
  };
}

// Expressions ----------------------------------------------------------------------------------------

/** Builds expression attribute names and values (every name goes through a placeholder). */
export class Expr {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private readonly byName = new Map<string, string>();
  private n = 0;

  name(attr: string): string {
    let p = this.byName.get(attr);
    if (!p) {
      p = `#n${this.byName.size}`;
      this.byName.set(attr, p);
      this.names[p] = attr;
    }
    return p;
  }

  value(v: unknown): string {
    const p = `:v${this.n++}`;
    this.values[p] = v;
    return p;
  }

  /** `SET a = :x, b = :y` for each attribute. */
  set(attrs: Item): string[] {
    return Object.entries(attrs).map(([k, v]) => `${this.name(k)} = ${this.value(v)}`);
  }

  /** Names and values for a command (values omitted when none, as DynamoDB requires). */
  params(): { ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> } {
    return Object.keys(this.values).length ? { ExpressionAttributeNames: this.names, ExpressionAttributeValues: this.values } : { ExpressionAttributeNames: this.names };
  }
}

/** An update expression from clauses (empty ones are left out). */
export function updateExpression(clauses: { set?: string[]; add?: string[]; remove?: string[] }): string {
  const parts: string[] = [];
  if (clauses.set?.length) parts.push(`SET ${clauses.set.join(', ')}`);
  if (clauses.add?.length) parts.push(`ADD ${clauses.add.join(', ')}`);
  if (clauses.remove?.length) parts.push(`REMOVE ${clauses.remove.join(', ')}`);
  return parts.join(' ');
}
