// The pools of a local `dags test` run: those given with --pool NAME=SLOTS, and every other pool a task
// of the loaded DAGs names, unlimited (a local run has no server whose pools it could use), said on stderr.

import { DEFAULT_POOL } from '../authoring/options.ts';
import type { DagBag } from '../dagbag/dag-bag.ts';
import { poolNameProblem, poolSlotsProblem, UNLIMITED_POOL_SLOTS } from '../scheduler/pool-rules.ts';
import { UsageError } from './usage-error.ts';

/** Collect one `--pool NAME=SLOTS` (commander calls this for each). */
export function collectPool(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const m = /^([^=]+)=(-?\d+)$/.exec(value.trim());
  if (!m) throw new UsageError(`--pool: expected NAME=SLOTS, e.g. api_throttle=4, got '${value}'`);
  const [, name, slotsText] = m as unknown as [string, string, string];
  const slots = Number(slotsText);
  const problem = poolNameProblem(name) ?? poolSlotsProblem(slots);
  if (problem !== null) throw new UsageError(`--pool ${value}: ${problem}`);
  return { ...previous, [name]: slots };
}

/**
 * The runner's pools: the given ones, and each other pool a task names (but default_pool), unlimited,
 * with a note naming the tasks that use it.
 */
export function testPools(bag: DagBag, given: Record<string, number>): { pools: Record<string, number>; notes: string[] } {
  const pools = { ...given };
  const users = new Map<string, string[]>();
  for (const d of bag.dags) {
    for (const t of d.spec.tasks) {
      if (t.pool === DEFAULT_POOL || t.pool in given) continue;
      let list = users.get(t.pool);
      if (!list) users.set(t.pool, (list = []));
      list.push(`${d.dagId}.${t.taskId}`);
    }
  }
  const notes: string[] = [];
  for (const [name, tasks] of users) {
    pools[name] = UNLIMITED_POOL_SLOTS;
    const shown = tasks.length > 3 ? `${tasks.slice(0, 3).join(', ')}, ...` : tasks.join(', ');
    notes.push(`pool '${name}' (${shown}) is unlimited in this run; give --pool ${name}=<slots> to run it with a limit`);
  }
  return { pools, notes };
}
