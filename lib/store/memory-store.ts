import type { RunState, TerminalTiState } from '../model/states.ts';
import { backfillOrder, emptyTally, historyWithCurrentTry, pipelineScopeOf, runKeyText, type BackfillRecord, type DagRecord, type DagRunRecord, type DagVersionEntry, type DagVersionRecord, type LogLine, type PipelineSave, type PoolRecord, type RunRef, type TaskInstanceRecord, type TaskStateRecord, type TiKey, type XComRecord } from './records.ts';
import { oneTaskOf } from './bulk-requests.ts';
import type { ConnectionRecord, VariableRecord } from '../secrets/records.ts';
import { MemoryAssets } from './memory-assets.ts';
import type { AssetClaim, AssetEventQuery, AssetQueueEntry } from './asset-store.ts';
import type { AssetEventRecord, AssetRecord } from '../model/asset.ts';
import type { HitlQuery, HitlRecord, HitlRespondResult, HitlResponse } from './hitl-records.ts';
import type { BulkFinishResult, BulkResetResult, DeletedRun, FinishRequest, FinishResult, ResetRequest, StateStore, TiExpectation, TiUpdate } from './state-store.ts';

function taskState(run: RunRef, taskId: string): TaskStateRecord {
  return { dagId: run.dagId, runId: run.runId, taskId, upstream: emptyTally(), upstreamAddedTotal: 0, upstreamExpanded: 0, self: emptyTally(), decision: null, mapCount: null };
}

function copyTaskState(s: TaskStateRecord): TaskStateRecord {
  return { ...s, upstream: { ...s.upstream }, self: { ...s.self }, ...(s.priorHistory ? { priorHistory: structuredClone(s.priorHistory) } : {}) };
}

const tiId = (k: TiKey) => `${k.taskId}\u0000${k.mapIndex}`;

/** A run's items, as one DynamoDB partition would hold them. */
interface RunPartition {
  run: DagRunRecord;
  tis: Map<string, TaskInstanceRecord>;
  /** Instances by task, by map index. */
  byTask: Map<string, Map<number, TaskInstanceRecord>>;
  taskStates: Map<string, TaskStateRecord>;
  xcoms: Map<string, string>;
  items: Map<string, Map<number, string>>;
  logs: Map<string, LogLine[]>;
}

/** Freeze a record and everything in it: the store hands out its versions, never copies. */
function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/**
 * A frozen version of a task instance record, its error and history copied (the caller's objects stay the
 * caller's).
 */
function frozenTi(ti: TaskInstanceRecord): TaskInstanceRecord {
  const { history, error, ...rest } = ti;
  const copy = { ...rest, error: error === null ? null : deepFreeze(structuredClone(error)) };
  return Object.freeze(history === undefined ? copy : { ...copy, history: deepFreeze(structuredClone(history)) });
}

/** Store a task instance record (replacing any previous version) in both indexes of its partition. */
function putTi(p: RunPartition, ti: TaskInstanceRecord): void {
  p.tis.set(tiId(ti), ti);
  let m = p.byTask.get(ti.taskId);
  if (!m) p.byTask.set(ti.taskId, (m = new Map<number, TaskInstanceRecord>()));
  m.set(ti.mapIndex, ti);
}

function matches(ti: TaskInstanceRecord, e: TiExpectation): boolean {
  return e.states.includes(ti.state) && (e.tryNumber === undefined || e.tryNumber === ti.tryNumber);
}

/**
 * The embedded default store: everything in memory, each method atomic (JavaScript runs one method
 * body at a time). Callers never share a mutable record with the store: task-state records and values
 * are copied in and out; run and task instance records are frozen versions (an update stores a new
 * object), so the version a caller holds never changes under it.
 */
export class MemoryStateStore implements StateStore {
  /** Runs by `runKeyText` (DAG and run id). */
  private readonly runs = new Map<string, RunPartition>();
  /** Run ids by DAG. */
  private readonly runsByDag = new Map<string, Set<string>>();
  private readonly pipeline = new Map<string, PipelineSave[]>();
  private readonly pools = new Map<string, PoolRecord>();
  private readonly dagRecords = new Map<string, DagRecord>();
  /** dagId → version → its record. */
  private readonly dagVersions = new Map<string, Map<string, DagVersionRecord>>();
  /** Semaphores: units held, by holder. */
  private readonly semaphores = new Map<string, { used: number; holders: Map<string, number> }>();
  private readonly counters = new Map<string, number>();
  private readonly waiters = new Map<string, { q: TiKey[]; head: number }>();
  /** Backfills by DAG, by id. */
  private readonly backfills = new Map<string, Map<string, BackfillRecord>>();
  /** Human-in-the-loop requests by `runKeyText`, then instance and try (`<task>\0<map index>\0<try>`). */
  private readonly hitl = new Map<string, Map<string, HitlRecord>>();

  private find(run: RunRef): RunPartition | undefined {
    return this.runs.get(runKeyText(run));
  }

  private part(run: RunRef): RunPartition {
    const p = this.find(run);
    if (!p) throw new Error(`no run '${run.runId}' of DAG '${run.dagId}' in the store`);
    return p;
  }

  private ts(p: RunPartition, taskId: string): TaskStateRecord {
    let s = p.taskStates.get(taskId);
    if (!s) p.taskStates.set(taskId, (s = taskState(p.run, taskId)));
    return s;
  }

  async createRun(run: DagRunRecord): Promise<boolean> {
    if (this.runs.has(runKeyText(run))) return false;
    this.runs.set(runKeyText(run), {
      run: deepFreeze(structuredClone(run)),
      tis: new Map(),
      byTask: new Map(),
      taskStates: new Map(),
      xcoms: new Map(),
      items: new Map(),
      logs: new Map(),
    });
    let set = this.runsByDag.get(run.dagId);
    if (!set) this.runsByDag.set(run.dagId, (set = new Set()));
    set.add(run.runId);
    return true;
  }

  async getRun(run: RunRef): Promise<DagRunRecord | undefined> {
    return this.find(run)?.run;
  }

  async updateRun(run: RunRef, expect: readonly RunState[] | null, patch: Partial<DagRunRecord>): Promise<DagRunRecord | undefined> {
    const p = this.find(run);
    if (!p || (expect && !expect.includes(p.run.state))) return undefined;
    p.run = deepFreeze({ ...p.run, ...structuredClone(patch), dagId: p.run.dagId, runId: p.run.runId });
    return p.run;
  }

  async listRuns(query: { dagId: string; states?: readonly RunState[] }): Promise<DagRunRecord[]> {
    const ids = this.runsByDag.get(query.dagId) ?? new Set<string>();
    const out: DagRunRecord[] = [];
    for (const runId of ids) {
      const r = this.runs.get(runKeyText({ dagId: query.dagId, runId }))!.run;
      if (!query.states || query.states.includes(r.state)) out.push(r);
    }
    return out.sort((a, b) => a.logicalDate.localeCompare(b.logicalDate) || a.queuedAt.localeCompare(b.queuedAt));
  }

  async listRunsByState(state: RunState): Promise<DagRunRecord[]> {
    const out: DagRunRecord[] = [];
    for (const p of this.runs.values()) if (p.run.state === state) out.push(p.run);
    return out.sort((a, b) => a.queuedAt.localeCompare(b.queuedAt));
  }

  async getTaskStates(run: RunRef, taskIds: readonly string[]): Promise<(TaskStateRecord | undefined)[]> {
    const p = this.part(run);
    return taskIds.map((id) => {
      const s = p.taskStates.get(id);
      return s ? copyTaskState(s) : undefined;
    });
  }

  async claimDecision(run: RunRef, taskId: string, decision: TaskStateRecord['decision'] & string): Promise<boolean> {
    const s = this.ts(this.part(run), taskId);
    if (s.decision !== null) return false;
    s.decision = decision;
    return true;
  }

  async claimDecisions(run: RunRef, taskIds: readonly string[], decision: 'scheduled' | TerminalTiState): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const t of taskIds) out.push(await this.claimDecision(run, t, decision));
    return out;
  }

  async claimExpansion(run: RunRef, taskId: string, count: number, downstream: readonly string[]): Promise<boolean> {
    const p = this.part(run);
    const s = this.ts(p, taskId);
    if (s.decision !== null) return false;
    s.decision = 'expanded';
    s.mapCount = count;
    for (const d of downstream) {
      const ds = this.ts(p, d);
      ds.upstreamAddedTotal += count;
      ds.upstreamExpanded += 1;
    }
    p.run = Object.freeze({ ...p.run, pending: p.run.pending + count - 1 });
    return true;
  }

  async createTaskInstances(tis: readonly TaskInstanceRecord[]): Promise<void> {
    for (const ti of tis) {
      const p = this.part(ti);
      if (p.tis.has(tiId(ti))) continue;
      putTi(p, frozenTi(ti));
    }
  }

  async getTaskInstanceAndRun(key: TiKey): Promise<{ ti: TaskInstanceRecord | undefined; run: DagRunRecord | undefined }> {
    return { ti: await this.getTaskInstance(key), run: await this.getRun(key) };
  }

  async getTaskInstance(key: TiKey): Promise<TaskInstanceRecord | undefined> {
    return this.find(key)?.tis.get(tiId(key));
  }

  async listTaskInstances(run: RunRef, taskId?: string): Promise<TaskInstanceRecord[]> {
    const p = this.find(run);
    if (!p) return [];
    const tasks = taskId === undefined ? [...p.byTask.keys()].sort() : [taskId];
    const out: TaskInstanceRecord[] = [];
    for (const t of tasks) {
      const m = p.byTask.get(t);
      if (!m) continue;
      for (const ti of [...m.values()].sort((a, b) => a.mapIndex - b.mapIndex)) out.push(ti);
    }
    return out;
  }

  async updateTaskInstance(key: TiKey, expect: TiExpectation, patch: Partial<TaskInstanceRecord>): Promise<TaskInstanceRecord | undefined> {
    const p = this.find(key);
    const ti = p?.tis.get(tiId(key));
    if (!p || !ti || !matches(ti, expect)) return undefined;
    const next = frozenTi({ ...ti, ...patch });
    putTi(p, next);
    return next;
  }

  async finishTaskInstance(req: FinishRequest): Promise<FinishResult | undefined> {
    const p = this.part(req.key);
    const prev = p.tis.get(tiId(req.key));
    let base: Omit<TaskInstanceRecord, 'state'>;
    if (req.expect === 'absent') {
      if (prev || !req.create) return undefined;
      base = req.create;
    } else if (!prev || !matches(prev, req.expect)) {
      return undefined;
    } else base = prev;
    const ti: TaskInstanceRecord = frozenTi({ ...base, ...req.patch, state: req.state });
    putTi(p, ti);
    this.ts(p, req.key.taskId).self[req.state] += 1;
    const downstream: TaskStateRecord[] = [];
    for (const d of req.downstream) {
      const s = this.ts(p, d);
      s.upstream[req.state] += 1;
      downstream.push(copyTaskState(s));
    }
    p.run = Object.freeze({ ...p.run, pending: p.run.pending - 1 });
    const waiters: string[] = [];
    for (const r of req.release ?? []) if (this.releaseNow(r.name, r.n, r.holder)) waiters.push(r.name);
    return { ti, pending: p.run.pending, downstream, run: p.run, waiters };
  }

  async listTaskInstanceRange(run: RunRef, taskId: string, from: number, to: number): Promise<TaskInstanceRecord[]> {
    const m = this.find(run)?.byTask.get(taskId);
    if (!m) return [];
    const out: TaskInstanceRecord[] = [];
    if (to - from <= m.size) {
      for (let i = from; i < to; i++) {
        const ti = m.get(i);
        if (ti) out.push(ti);
      }
      return out;
    }
    for (const ti of m.values()) if (ti.mapIndex >= from && ti.mapIndex < to) out.push(ti);
    return out.sort((a, b) => a.mapIndex - b.mapIndex);
  }

  async updateTaskInstances(updates: readonly TiUpdate[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const u of updates) out.push((await this.updateTaskInstance(u.key, u.expect, u.patch)) !== undefined);
    return out;
  }

  async finishTaskInstances(reqs: readonly FinishRequest[]): Promise<BulkFinishResult> {
    const { run, first } = oneTaskOf('finishTaskInstances', reqs, { refuse: (r) => (r.expect === 'absent' ? 'creating instances is not supported in bulk' : null) });
    const applied: boolean[] = [];
    for (const r of reqs) applied.push((await this.finishTaskInstance(r)) !== undefined);
    const p = this.part(run);
    return { applied, pending: p.run.pending, downstream: first.downstream.map((d) => copyTaskState(this.ts(p, d))) };
  }

  // Clearing ----------------------------------------------------------------------------------------

  async resetTaskInstances(reqs: readonly ResetRequest[]): Promise<BulkResetResult> {
    const { run, taskId } = oneTaskOf('resetTaskInstances', reqs, { refuse: (r) => (r.undecide && r.to !== 'absent' ? "'undecide' needs to: 'absent'" : null) });
    const p = this.part(run);
    const applied = reqs.map((r) => {
      const prev = p.tis.get(tiId(r.key));
      if (!prev || prev.state !== r.expect.state || prev.tryNumber !== r.expect.tryNumber) return false;
      const history = historyWithCurrentTry(prev, r.expect.state);
      if (r.to === 'absent') {
        p.tis.delete(tiId(r.key));
        p.byTask.get(r.key.taskId)?.delete(r.key.mapIndex);
      } else {
        putTi(p, frozenTi({ ...prev, ...r.to, dagId: prev.dagId, runId: prev.runId, taskId: prev.taskId, mapIndex: prev.mapIndex, ...(history ? { history } : {}) }));
      }
      const own = this.ts(p, taskId);
      own.self[r.expect.state] -= 1;
      if (r.undecide) {
        own.decision = null;
        own.mapCount = null;
        own.priorTries = r.undecide.priorTries;
        if (history) own.priorHistory = structuredClone(history);
        else delete own.priorHistory;
      }
      for (const d of r.downstream) this.ts(p, d).upstream[r.expect.state] -= 1;
      p.run = Object.freeze({ ...p.run, pending: p.run.pending + 1 });
      return true;
    });
    return { applied, pending: p.run.pending };
  }

  async withdrawExpansion(run: RunRef, taskId: string, count: number, downstream: readonly string[], priorTries: number): Promise<boolean> {
    const p = this.part(run);
    const s = p.taskStates.get(taskId);
    if (!s || s.decision !== 'expanded' || s.mapCount !== count || Object.values(s.self).some((n) => n !== 0)) return false;
    s.decision = null;
    s.mapCount = null;
    s.priorTries = priorTries;
    for (const d of downstream) {
      const ds = this.ts(p, d);
      ds.upstreamAddedTotal -= count;
      ds.upstreamExpanded -= 1;
    }
    p.run = Object.freeze({ ...p.run, pending: p.run.pending - (count - 1) });
    return true;
  }

  async deleteTaskResults(keys: readonly TiKey[]): Promise<void> {
    for (const k of keys) {
      const p = this.find(k);
      if (!p) continue;
      const prefix = `${k.taskId}\u0000${k.mapIndex}\u0000`;
      for (const id of [...p.xcoms.keys()]) if (id.startsWith(prefix)) p.xcoms.delete(id);
      p.items.delete(tiId(k));
    }
  }

  // Deleting ----------------------------------------------------------------------------------------

  async deleteRun(run: RunRef): Promise<DeletedRun | undefined> {
    const p = this.find(run);
    if (!p) return undefined;
    const { dagId, runId } = p.run;
    let itemResults = 0;
    for (const m of p.items.values()) itemResults += m.size;
    let pipelineSaves = 0;
    const scope = pipelineScopeOf(p.run);
    if (p.run.pipelineScope === scope) {
      pipelineSaves = this.pipeline.get(scope)?.length ?? 0;
      this.pipeline.delete(scope);
    }
    this.runs.delete(runKeyText(p.run));
    this.hitl.delete(runKeyText(p.run));
    this.runsByDag.get(dagId)?.delete(runId);
    return { dagId, runId, taskInstances: p.tis.size, xcoms: p.xcoms.size, itemResults, logs: p.logs.size, pipelineSaves };
  }

  async deleteDagRecord(dagId: string): Promise<{ dagRecord: boolean; backfills: number }> {
    const dagRecord = this.dagRecords.delete(dagId);
    this.dagVersions.delete(dagId);
    const backfills = this.backfills.get(dagId)?.size ?? 0;
    this.backfills.delete(dagId);
    return { dagRecord, backfills };
  }

  async deleteSemaphores(names: readonly string[]): Promise<void> {
    for (const n of names) {
      this.semaphores.delete(n);
      this.waiters.delete(n);
    }
  }

  // Backfills ---------------------------------------------------------------------------------------

  async createBackfill(b: BackfillRecord): Promise<boolean> {
    let m = this.backfills.get(b.dagId);
    if (!m) this.backfills.set(b.dagId, (m = new Map<string, BackfillRecord>()));
    if (m.has(b.backfillId)) return false;
    m.set(b.backfillId, structuredClone(b));
    return true;
  }

  async getBackfill(dagId: string, backfillId: string): Promise<BackfillRecord | undefined> {
    const b = this.backfills.get(dagId)?.get(backfillId);
    return b ? structuredClone(b) : undefined;
  }

  async updateBackfill(dagId: string, backfillId: string, expect: readonly BackfillRecord['state'][] | null, patch: Partial<BackfillRecord>): Promise<BackfillRecord | undefined> {
    const m = this.backfills.get(dagId);
    const b = m?.get(backfillId);
    if (!m || !b || (expect && !expect.includes(b.state))) return undefined;
    const next = { ...b, ...structuredClone(patch), dagId, backfillId };
    m.set(backfillId, next);
    return structuredClone(next);
  }

  async listBackfills(dagId: string): Promise<BackfillRecord[]> {
    return [...(this.backfills.get(dagId)?.values() ?? [])].map((b) => structuredClone(b)).sort(backfillOrder);
  }

  async putXComs(xs: readonly XComRecord[]): Promise<void> {
    for (const x of xs) await this.putXCom(x);
  }

  async putXCom(x: XComRecord): Promise<void> {
    this.part(x).xcoms.set(`${x.taskId}\u0000${x.mapIndex}\u0000${x.key}`, JSON.stringify(x.value));
  }

  async getXCom(run: RunRef, taskId: string, mapIndex: number, key: string): Promise<XComRecord | undefined> {
    const v = this.find(run)?.xcoms.get(`${taskId}\u0000${mapIndex}\u0000${key}`);
    return v === undefined ? undefined : { dagId: run.dagId, runId: run.runId, taskId, mapIndex, key, value: JSON.parse(v) };
  }

  async listXComs(run: RunRef, taskId: string, key: string): Promise<XComRecord[]> {
    const p = this.find(run);
    const m = p?.byTask.get(taskId);
    if (!p || !m) return [];
    const out: XComRecord[] = [];
    const indexes = [...m.keys()].sort((a, b) => a - b);
    for (const i of indexes) {
      const v = p.xcoms.get(`${taskId}\u0000${i}\u0000${key}`);
      if (v !== undefined) out.push({ dagId: run.dagId, runId: run.runId, taskId, mapIndex: i, key, value: JSON.parse(v) });
    }
    return out;
  }

  async listTaskXComs(run: RunRef, taskId: string): Promise<XComRecord[]> {
    const p = this.find(run);
    if (!p) return [];
    const out: XComRecord[] = [];
    for (const [id, v] of p.xcoms) {
      const [t, i, key] = id.split('\u0000') as [string, string, string];
      if (t === taskId) out.push({ dagId: run.dagId, runId: run.runId, taskId, mapIndex: Number(i), key, value: JSON.parse(v) });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.mapIndex - b.mapIndex));
  }

  async putItemResult(key: TiKey, index: number, value: unknown): Promise<void> {
    const p = this.part(key);
    const id = tiId(key);
    let m = p.items.get(id);
    if (!m) p.items.set(id, (m = new Map<number, string>()));
    m.set(index, JSON.stringify(value));
  }

  async listItemResults(key: TiKey): Promise<Map<number, unknown>> {
    const m = this.find(key)?.items.get(tiId(key));
    const out = new Map<number, unknown>();
    if (m) for (const [i, v] of m) out.set(i, JSON.parse(v));
    return out;
  }

  async appendPipelineSave(scope: string, save: PipelineSave): Promise<void> {
    let list = this.pipeline.get(scope);
    if (!list) this.pipeline.set(scope, (list = []));
    list.push(structuredClone(save));
  }

  async listPipelineSaves(scope: string): Promise<PipelineSave[]> {
    return structuredClone(this.pipeline.get(scope) ?? []);
  }

  async putTryOutput(out: { xcoms: readonly XComRecord[]; logs: readonly { key: TiKey; tryNumber: number; lines: readonly LogLine[] }[] }): Promise<void> {
    if (out.xcoms.length) await this.putXComs(out.xcoms);
    if (out.logs.length) await this.appendLogs(out.logs);
  }

  async appendLogs(entries: readonly { key: TiKey; tryNumber: number; lines: readonly LogLine[] }[]): Promise<void> {
    for (const e of entries) await this.appendLog(e.key, e.tryNumber, e.lines);
  }

  async appendLog(key: TiKey, tryNumber: number, lines: readonly LogLine[]): Promise<void> {
    const p = this.find(key);
    if (!p) return;
    const id = `${tiId(key)}\u0000${tryNumber}`;
    let l = p.logs.get(id);
    if (!l) p.logs.set(id, (l = []));
    l.push(...lines.map((x) => ({ ...x })));
  }

  async getLog(key: TiKey, tryNumber: number): Promise<LogLine[]> {
    return (this.find(key)?.logs.get(`${tiId(key)}\u0000${tryNumber}`) ?? []).map((x) => ({ ...x }));
  }

  async getDagRecord(dagId: string): Promise<DagRecord | undefined> {
    const r = this.dagRecords.get(dagId);
    return r ? { ...r } : undefined;
  }

  async registerDagVersion(entry: DagVersionEntry, at: string): Promise<DagRecord> {
    const { dagId, version, fileloc } = entry;
    const prev = this.dagRecords.get(dagId);
    const next: DagRecord = { dagId, version, paused: prev?.paused ?? false, ...(prev?.pausedReason ? { pausedReason: prev.pausedReason } : {}), fileloc, updatedAt: at };
    this.dagRecords.set(dagId, next);
    let versions = this.dagVersions.get(dagId);
    if (!versions) this.dagVersions.set(dagId, (versions = new Map<string, DagVersionRecord>()));
    const kept = versions.get(version);
    if (!kept) versions.set(version, { ...entry, createdAt: at, prunedAt: null });
    else if (kept.prunedAt !== null) kept.prunedAt = null;
    return { ...next };
  }

  async getDagVersion(dagId: string, version: string): Promise<DagVersionRecord | undefined> {
    const v = this.dagVersions.get(dagId)?.get(version);
    return v ? { ...v } : undefined;
  }

  async listDagVersions(dagId: string): Promise<DagVersionRecord[]> {
    return [...(this.dagVersions.get(dagId)?.values() ?? [])]
      .map((v) => ({ ...v }))
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  }

  async markDagVersionPruned(dagId: string, version: string, at: string): Promise<void> {
    const v = this.dagVersions.get(dagId)?.get(version);
    if (v) v.prunedAt = at;
  }

  async setDagPaused(dagId: string, paused: boolean, at: string, reason?: string | null): Promise<DagRecord> {
    const prev = this.dagRecords.get(dagId);
    const next: DagRecord = { dagId, version: prev?.version ?? '', fileloc: prev?.fileloc ?? null, paused, ...(paused && reason ? { pausedReason: reason } : {}), updatedAt: at };
    this.dagRecords.set(dagId, next);
    return { ...next };
  }

  // Human-in-the-loop requests -----------------------------------------------------------------------

  async putHitlRequest(rec: HitlRecord): Promise<boolean> {
    let m = this.hitl.get(runKeyText(rec));
    if (!m) this.hitl.set(runKeyText(rec), (m = new Map<string, HitlRecord>()));
    const id = `${tiId(rec)}\u0000${rec.tryNumber}`;
    if (m.has(id)) return false;
    m.set(id, deepFreeze(structuredClone({ ...rec })));
    return true;
  }

  async setHitlTaskToken(ti: TiKey, tryNumber: number, token: string): Promise<boolean> {
    const m = this.hitl.get(runKeyText(ti));
    const id = `${tiId(ti)}\u0000${tryNumber}`;
    const rec = m?.get(id);
    if (!m || !rec || rec.response !== null) return false;
    m.set(id, deepFreeze({ ...rec, taskToken: token }));
    return true;
  }

  async respondHitl(ti: TiKey, tryNumber: number, response: HitlResponse): Promise<HitlRespondResult> {
    const m = this.hitl.get(runKeyText(ti));
    const id = `${tiId(ti)}\u0000${tryNumber}`;
    const rec = m?.get(id);
    if (!m || !rec || rec.response !== null) return { applied: false, record: rec };
    const now = deepFreeze({ ...rec, response: structuredClone(response) });
    m.set(id, now);
    return { applied: true, record: now };
  }

  async getHitlRequest(ti: TiKey): Promise<HitlRecord | undefined> {
    let latest: HitlRecord | undefined;
    for (const r of this.hitl.get(runKeyText(ti))?.values() ?? []) {
      if (r.taskId === ti.taskId && r.mapIndex === ti.mapIndex && (!latest || r.tryNumber > latest.tryNumber)) latest = r;
    }
    return latest;
  }

  async listHitlRequests(q: HitlQuery): Promise<{ records: HitlRecord[]; total: number }> {
    const all: HitlRecord[] = [];
    for (const m of this.hitl.values()) {
      for (const r of m.values()) {
        if (q.pending !== undefined && (r.response === null) !== q.pending) continue;
        if (q.dagId !== undefined && (r.dagId !== q.dagId || (q.runId !== undefined && r.runId !== q.runId))) continue;
        all.push(r);
      }
    }
    all.sort(newestFirst);
    const from = q.offset ?? 0;
    return { records: all.slice(from, from + q.limit), total: all.length };
  }

  async putPool(pool: PoolRecord): Promise<void> {
    this.pools.set(pool.name, { ...pool });
  }

  async getPool(name: string): Promise<PoolRecord | undefined> {
    const p = this.pools.get(name);
    return p ? { ...p } : undefined;
  }

  async deletePool(name: string): Promise<boolean> {
    return this.pools.delete(name);
  }

  async listPools(): Promise<PoolRecord[]> {
    return [...this.pools.values()].map((p) => ({ ...p }));
  }

  async tryAcquire(name: string, n: number, limit: number, holder: string): Promise<boolean> {
    let sem = this.semaphores.get(name);
    if (sem?.holders.has(holder)) return true;
    if ((sem?.used ?? 0) + n > limit) return false;
    if (!sem) this.semaphores.set(name, (sem = { used: 0, holders: new Map() }));
    sem.holders.set(holder, n);
    sem.used += n;
    return true;
  }

  async tryAcquireMany(name: string, limit: number, takes: readonly { holder: string; n: number }[]): Promise<boolean> {
    const sem = this.semaphores.get(name);
    const total = takes.reduce((a, t) => a + t.n, 0);
    if ((sem?.used ?? 0) + total > limit || new Set(takes.map((t) => t.holder)).size !== takes.length) return false;
    if (sem && takes.some((t) => sem.holders.has(t.holder))) return false;
    for (const t of takes) await this.tryAcquire(name, t.n, limit, t.holder);
    return true;
  }

  async release(name: string, n: number, holder: string): Promise<boolean> {
    return this.releaseNow(name, n, holder);
  }

  /** `release`, synchronously: whether the semaphore has waiters queued. */
  private releaseNow(name: string, n: number, holder: string): boolean {
    const sem = this.semaphores.get(name);
    if (sem?.holders.get(holder) === n) {
      sem.holders.delete(holder);
      sem.used -= n;
      if (sem.holders.size === 0) this.semaphores.delete(name);
    }
    const w = this.waiters.get(name);
    return !!w && w.head < w.q.length;
  }

  async semaphoreHolders(name: string): Promise<Map<string, number>> {
    return new Map(this.semaphores.get(name)?.holders ?? []);
  }

  async countUp(name: string): Promise<number> {
    const n = (this.counters.get(name) ?? 0) + 1;
    this.counters.set(name, n);
    return n;
  }

  async enqueueWaiter(name: string, key: TiKey): Promise<void> {
    let w = this.waiters.get(name);
    if (!w) this.waiters.set(name, (w = { q: [], head: 0 }));
    w.q.push({ dagId: key.dagId, runId: key.runId, taskId: key.taskId, mapIndex: key.mapIndex });
  }

  async dequeueWaiter(name: string): Promise<TiKey | undefined> {
    const w = this.waiters.get(name);
    if (!w || w.head >= w.q.length) return undefined;
    const k = w.q[w.head++];
    if (w.head > 1024 && w.head * 2 > w.q.length) {
      w.q = w.q.slice(w.head);
      w.head = 0;
    }
    return k;
  }

  // Variables and connections ------------------------------------------------------------------------
  private readonly variables = new Map<string, VariableRecord>();
  private readonly connections = new Map<string, ConnectionRecord>();

  async putVariable(variable: VariableRecord): Promise<void> {
    this.variables.set(variable.key, { ...variable });
  }

  async getVariable(key: string): Promise<VariableRecord | undefined> {
    const v = this.variables.get(key);
    return v && { ...v };
  }

  async listVariables(): Promise<VariableRecord[]> {
    return [...this.variables.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((v) => ({ ...v }));
  }

  async deleteVariable(key: string): Promise<boolean> {
    return this.variables.delete(key);
  }

  async putConnection(connection: ConnectionRecord): Promise<void> {
    this.connections.set(connection.connectionId, { ...connection });
  }

  async getConnection(connectionId: string): Promise<ConnectionRecord | undefined> {
    const c = this.connections.get(connectionId);
    return c && { ...c };
  }

  async listConnections(): Promise<ConnectionRecord[]> {
    return [...this.connections.values()].sort((a, b) => (a.connectionId < b.connectionId ? -1 : a.connectionId > b.connectionId ? 1 : 0)).map((c) => ({ ...c }));
  }

  async deleteConnection(connectionId: string): Promise<boolean> {
    return this.connections.delete(connectionId);
  }

  // Assets (asset-store.ts) -------------------------------------------------------------------------
  private readonly assetsPart = new MemoryAssets();
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
}

/** Requests newest first: by creation time, then DAG, run, task, map index and try, all descending. */
function newestFirst(a: HitlRecord, b: HitlRecord): number {
  const ka = [a.createdAt, a.dagId, a.runId, a.taskId];
  const kb = [b.createdAt, b.dagId, b.runId, b.taskId];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? 1 : -1;
  return b.mapIndex - a.mapIndex || b.tryNumber - a.tryNumber;
}
