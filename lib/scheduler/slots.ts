// Slots: pools, maxActiveTasks (`dag:<id>`), maxActiveTisPerDag (`task:<dag>:<task>`), and the runs
// semaphores of maxActiveRuns. Units are taken and given back per holder, so a retried call never takes
// or frees a unit twice, and a unit whose holder is gone can be found and freed.

import type { Dag } from '../authoring/dag.ts';
import { DEFAULT_POOL, DEFAULT_POOL_SLOTS } from '../authoring/options.ts';
import type { ArrayRef } from '../core/arrays.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { DagRunRecord, RunRef, TaskInstanceRecord, TiKey } from '../store/records.ts';
import type { SlotRelease } from '../store/state-store.ts';
import { missingPoolMessage, poolLimit } from './pool-rules.ts';
import type { Step } from './step.ts';
import { queueInstance } from './tries.ts';
import { groupInstances } from './waves.ts';

/** Runs of a backfill that may run at once when its record does not say (Airflow's default). */
export const DEFAULT_BACKFILL_MAX_ACTIVE_RUNS = 10;

/** The counting semaphore a running run holds a unit of: its backfill's, or its DAG's (maxActiveRuns). */
export function runSemaphore(dagId: string, backfillId: string | null): string {
  return backfillId === null ? `runs:${dagId}` : `backfill:${backfillId}`;
}

/** The holder of a run's unit of its maxActiveRuns (or backfill) semaphore. */
export function runHolder(run: Pick<DagRunRecord, 'dagId' | 'runId'>): string {
  return `run/${run.dagId}/${run.runId}`;
}

/** The holder of the slots one try of an instance takes. */
export function tiHolder(key: TiKey, tryNumber: number): string {
  return `ti/${key.dagId}/${key.runId}/${key.taskId}/${key.mapIndex}/${tryNumber}`;
}

/** The holder of the slots an array wave takes (one unit of each limit for the whole wave). */
export function waveHolder(array: ArrayRef, tryNumber: number): string {
  return `wave/${array.dagId}/${array.runId}/${array.taskId}/${array.group}/${tryNumber}`;
}

interface Limit {
  name: string;
  n: number;
  limit: number;
}

/** The limits a try of `t` takes a unit of, or why it cannot run (its pool is missing or too small). */
async function limits(s: Step, dag: Dag, t: TaskSpec): Promise<Limit[] | string> {
  let pool = await s.pool(t.pool);
  if (!pool && t.pool === DEFAULT_POOL) {
    pool = { name: DEFAULT_POOL, slots: DEFAULT_POOL_SLOTS, description: 'Default pool' };
    await s.putPool(pool);
  }
  if (!pool) return missingPoolMessage(t.pool);
  // A pool of 0 slots is closed: its tasks wait (for it to be given slots) rather than fail.
  if (pool.slots > 0 && t.poolSlots > pool.slots) return `task needs ${t.poolSlots} slots but pool '${pool.name}' has only ${pool.slots}`;
  const out = [
    { name: `dag:${dag.dagId}`, n: 1, limit: dag.spec.maxActiveTasks },
    { name: `pool:${pool.name}`, n: t.poolSlots, limit: poolLimit(pool.slots) },
  ];
  if (t.maxActiveTisPerDag !== null) out.push({ name: `task:${dag.dagId}:${t.taskId}`, n: 1, limit: t.maxActiveTisPerDag });
  return out;
}

/**
 * Take one holder's units of every limit, in order; on a refusal, give back what this call took and
 * return the name of the limit that refused (null: all taken).
 */
async function acquireAll(s: Step, all: readonly Limit[], holder: string): Promise<string | null> {
  const taken: Limit[] = [];
  for (const l of all) {
    if (await s.store.tryAcquire(l.name, l.n, l.limit, holder)) {
      taken.push(l);
      continue;
    }
    for (const x of taken) await s.store.release(x.name, x.n, holder);
    return l.name;
  }
  return null;
}

export type SlotsTaken = { taken: true } | { taken: false; error: string | null };

/**
 * Take the slots of one unit of work (an instance's try, or an array wave) for `holder`. Refused, it
 * waits in the refusing limit's queue as `waiter` (whoever gives a unit back wakes it), then tries once
 * more in case the unit came back meanwhile. `error`: it can never run (its pool).
 */
export async function takeSlots(s: Step, dag: Dag, t: TaskSpec, holder: string, waiter: TiKey): Promise<SlotsTaken> {
  const all = await limits(s, dag, t);
  if (typeof all === 'string') return { taken: false, error: all };
  for (let attempt = 0; attempt < 2; attempt++) {
    const blocked = await acquireAll(s, all, holder);
    if (blocked === null) return { taken: true };
    if (attempt === 0) await s.store.enqueueWaiter(blocked, { dagId: waiter.dagId, runId: waiter.runId, taskId: waiter.taskId, mapIndex: waiter.mapIndex });
  }
  return { taken: false, error: null };
}

/**
 * What a holder of the task's limits gives back: the units `limits` takes, named without reading the
 * pool (a release is conditional on what the holder holds, so one that took nothing gives nothing back).
 */
export function slotReleases(dag: Dag, t: TaskSpec, holder: string): SlotRelease[] {
  const out: SlotRelease[] = [
    { name: `dag:${dag.dagId}`, n: 1, holder },
    { name: `pool:${t.pool}`, n: t.poolSlots, holder },
  ];
  if (t.maxActiveTisPerDag !== null) out.push({ name: `task:${dag.dagId}:${t.taskId}`, n: 1, holder });
  return out;
}

/** Holders one conditional update takes units for (an update expression holds at most 4 KB). */
const HOLDERS_PER_UPDATE = 50;

/**
 * Take the slots of many instances' next tries at once: per limit, one update for up to
 * HOLDERS_PER_UPDATE holders, all or nothing. False when a limit refused or a pool cannot be used: then
 * the caller takes them one by one (`takeSlots`), which finds the units already taken here (a holder's
 * units are taken once) and gives them back when another limit refuses.
 */
export async function takeSlotsMany(s: Step, dag: Dag, tis: readonly TaskInstanceRecord[]): Promise<boolean> {
  const byName = new Map<string, { limit: number; takes: { holder: string; n: number }[] }>();
  for (const ti of tis) {
    const all = await limits(s, dag, dag.task(ti.taskId));
    if (typeof all === 'string') return false;
    const holder = tiHolder(ti, ti.tryNumber + 1);
    for (const l of all) {
      let e = byName.get(l.name);
      if (!e) byName.set(l.name, (e = { limit: l.limit, takes: [] }));
      e.takes.push({ holder, n: l.n });
    }
  }
  for (const [name, { limit, takes }] of byName) {
    for (let i = 0; i < takes.length; i += HOLDERS_PER_UPDATE) {
      if (!(await s.store.tryAcquireMany(name, limit, takes.slice(i, i + HOLDERS_PER_UPDATE)))) return false;
    }
  }
  return true;
}

/** Give back what `holder` holds of the task's limits (nothing if it holds none) and wake their waiters. */
export async function releaseSlots(s: Step, dag: Dag, t: TaskSpec, holder: string): Promise<void> {
  const waited: string[] = [];
  for (const r of slotReleases(dag, t, holder)) if (await s.store.release(r.name, r.n, r.holder)) waited.push(r.name);
  for (const name of waited) await wakeWaiters(s, name);
}

/** Queue the instances waiting on `name` while it has room (entries that no longer wait are dropped). */
export async function wakeWaiters(s: Step, name: string): Promise<void> {
  for (;;) {
    const key = await s.store.dequeueWaiter(name);
    if (!key) return;
    const ti = await s.store.getTaskInstance(key);
    if (!ti || ti.state !== 'scheduled') continue; // stale entry
    const run = await s.store.getRun(ti);
    if (!run || run.state !== 'running') continue;
    await queueInstance(s, await s.dagOf(run), ti);
    const after = await s.store.getTaskInstance(key);
    if (after?.state === 'scheduled') return; // still no room
  }
}

/**
 * Give back the slots that instances (and array waves) of a run hold although they are no longer
 * queued or running at that try: a release lost with a write, or a process that died before it.
 * Reads the holders of the DAG's limits (its maxActiveTasks, its tasks' pools and per-task limits).
 */
export async function freeLostSlots(s: Step, dag: Dag, ref: RunRef): Promise<number> {
  const { dagId, runId } = ref;
  const names = new Set<string>([`dag:${dag.dagId}`]);
  for (const t of dag.spec.tasks) {
    names.add(`pool:${t.pool}`);
    if (t.maxActiveTisPerDag !== null) names.add(`task:${dag.dagId}:${t.taskId}`);
  }
  let freed = 0;
  for (const name of names) {
    let any = false;
    for (const [holder, n] of await s.store.semaphoreHolders(name)) {
      const kind = holder.startsWith(`ti/${dagId}/${runId}/`) ? 'ti' : holder.startsWith(`wave/${dagId}/${runId}/`) ? 'wave' : null;
      if (kind === null) continue;
      // `<kind>/<dag>/<run>/<task>/<map index or group>/<try>`: the run id may hold '/', the rest does not.
      const rest = holder.slice(kind.length + dagId.length + runId.length + 3).split('/');
      if (rest.length !== 3) continue;
      const [taskId, index, tryText] = rest as [string, string, string];
      const tryNumber = Number(tryText);
      if (!Number.isInteger(tryNumber)) continue;
      // A scheduled instance about to be queued for that try holds its slots too (taken just before the move).
      const holds = (ti: TaskInstanceRecord | undefined) =>
        !!ti && (((ti.state === 'queued' || ti.state === 'running') && ti.tryNumber === tryNumber) || (ti.state === 'scheduled' && ti.tryNumber === (ti.resume ? tryNumber : tryNumber - 1)));
      const live = kind === 'ti' ? holds(await s.store.getTaskInstance({ dagId, runId, taskId, mapIndex: Number(index) })) : (await groupInstances(s, { dagId, runId, taskId, group: Number(index) })).some(holds);
      if (live) continue;
      await s.store.release(name, n, holder);
      any = true;
      freed++;
    }
    if (any) await wakeWaiters(s, name);
  }
  return freed;
}
