// Pools as records: set (create or resize), delete, and what each uses now. A pool's slots are a
// counting semaphore `pool:<name>` (slots.ts); resizing changes the limit the next acquire checks, so a
// pool shrunk below what its tasks hold lets them finish and starts no new ones until enough came back.

import { DEFAULT_POOL, DEFAULT_POOL_SLOTS } from '../authoring/options.ts';
import type { PoolRecord } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
export { POOL_NAME_MAX_LENGTH, POOL_NAME_PATTERN, UNLIMITED_POOL_SLOTS } from './pool-rules.ts';
import type { Outcome } from './effects.ts';
import { OperationError } from './operation-error.ts';
import type { Scheduler } from './scheduler.ts';
import { poolNameProblem, poolSemaphore, poolSlotsProblem, UNLIMITED_POOL_SLOTS } from './pool-rules.ts';
import { wakeWaiters } from './slots.ts';

/** A pool's record and what its slots are used for now (Airflow's Pool object). */
export interface PoolUsage extends PoolRecord {
  /** Slots held by tries that are queued or running (and array waves in flight). */
  occupied: number;
  /** Slots held by tries that are running, and by array waves (a wave is one Batch submission in flight). */
  running: number;
  /** Slots held by tries that are queued (taken, not yet started). */
  queued: number;
  /** Always 0: a deferred instance gives its slots back while it waits. */
  deferred: number;
  /** Slots free now: slots − occupied (0 when shrunk below what is held); -1 for an unlimited pool. */
  open: number;
}

/**
 * What a pool's slots are used for: the units of its semaphore, by the state of the try holding them. A
 * holder is `ti/<dag>/<run>/<task>/<map index>/<try>` or `wave/...` (slots.ts); the run id may hold '/'.
 */
export async function poolUsage(store: StateStore, pool: PoolRecord): Promise<PoolUsage> {
  let occupied = 0;
  let running = 0;
  for (const [holder, n] of await store.semaphoreHolders(poolSemaphore(pool.name))) {
    occupied += n;
    if (holder.startsWith('wave/')) {
      running += n;
      continue;
    }
    const parts = holder.split('/');
    if (parts[0] !== 'ti' || parts.length < 6) continue;
    const [dagId, ...rest] = parts.slice(1);
    const tail = rest.splice(-3);
    const ti = await store.getTaskInstance({ dagId: dagId!, runId: rest.join('/'), taskId: tail[0]!, mapIndex: Number(tail[1]) });
    if (ti?.state === 'running' && ti.tryNumber === Number(tail[2])) running += n;
  }
  const open = pool.slots === UNLIMITED_POOL_SLOTS ? -1 : Math.max(0, pool.slots - occupied);
  return { ...pool, occupied, running, queued: occupied - running, deferred: 0, open };
}

/** The pools in the store, `default_pool` first (created with its 128 slots if it is not there yet). */
export async function listPools(store: StateStore): Promise<PoolRecord[]> {
  const pools = await store.listPools();
  if (!pools.some((p) => p.name === DEFAULT_POOL)) return [defaultPool(), ...pools];
  return [...pools.filter((p) => p.name === DEFAULT_POOL), ...pools.filter((p) => p.name !== DEFAULT_POOL)];
}

/** A pool by name (`default_pool` is always there); undefined when there is none. */
export async function getPool(store: StateStore, name: string): Promise<PoolRecord | undefined> {
  const pool = await store.getPool(name);
  return pool ?? (name === DEFAULT_POOL ? defaultPool() : undefined);
}

function defaultPool(): PoolRecord {
  return { name: DEFAULT_POOL, slots: DEFAULT_POOL_SLOTS, description: 'Default pool' };
}

export interface SetPoolOptions {
  name: string;
  /** An integer >= 0, or -1 (unlimited). */
  slots: number;
  /** Default: the pool's description if it exists, else ''. */
  description?: string;
}

/**
 * Create a pool or change its slots (and description). Instances waiting for a slot of it are queued
 * if it now has room; tries that hold more than a shrunk pool allows run on, and none starts until
 * enough came back.
 */
export async function setPool(scheduler: Scheduler, options: SetPoolOptions): Promise<Outcome<{ pool: PoolRecord; created: boolean }>> {
  const problem = poolNameProblem(options.name) ?? poolSlotsProblem(options.slots);
  if (problem !== null) throw new OperationError(`pool '${options.name}': ${problem}`);
  return scheduler.step(async (s) => {
    const old = await s.store.getPool(options.name);
    const pool: PoolRecord = { name: options.name, slots: options.slots, description: options.description ?? old?.description ?? (options.name === DEFAULT_POOL ? 'Default pool' : '') };
    await s.store.putPool(pool);
    await wakeWaiters(s, poolSemaphore(pool.name));
    return { pool, created: old === undefined };
  });
}

/**
 * Delete a pool. Refused for `default_pool`, and while tries hold slots of it (they would give them back
 * to a pool that is gone: wait for them to end, or set its slots to 0 first so none starts). Instances
 * waiting for a slot of it fail with a PoolError naming it, as any whose pool does not exist.
 */
export async function deletePool(scheduler: Scheduler, name: string): Promise<Outcome<PoolRecord>> {
  if (name === DEFAULT_POOL) throw new OperationError(`pool '${DEFAULT_POOL}' cannot be deleted (set its slots instead)`);
  return scheduler.step(async (s) => {
    const pool = await s.store.getPool(name);
    if (!pool) throw new PoolNotFoundError(`pool '${name}' does not exist`);
    const usage = await poolUsage(s.store, pool);
    if (usage.occupied > 0) {
      throw new OperationError(`pool '${name}' cannot be deleted: tries hold ${usage.occupied} of its slots (${usage.running} running, ${usage.queued} queued); wait for them to end (set its slots to 0 so that no new one starts)`);
    }
    await s.store.deletePool(name);
    await wakeWaiters(s, poolSemaphore(name));
    return pool;
  });
}

/** A pool named that does not exist. */
export class PoolNotFoundError extends OperationError {
  override name = 'PoolNotFoundError';
}
