// What setup tasks did, for the tasks that depend on them: a teardown's trigger rule
// (all_done_setup_success) reads its direct upstream setups; any other task waits for its relevant
// indirect setups to succeed (Airflow's setup constraint), and is settled upstream_failed or skipped when
// one of them was.

import type { Dag } from '../authoring/dag.ts';
import { indirectSetups, indirectSetupVerdict } from '../core/setup-teardown.ts';
import type { SetupCounts } from '../core/trigger-rules.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { DagRunRecord } from '../store/records.ts';
import type { Step } from './step.ts';

/** The ended instances of a teardown's direct upstream setup tasks, from their own tallies. */
export async function setupCounts(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec): Promise<SetupCounts | undefined> {
  const setups = t.upstream.filter((u) => dag.task(u).setup);
  if (setups.length === 0) return undefined;
  const c: SetupCounts = { done: 0, success: 0, skipped: 0 };
  for (const rec of await s.store.getTaskStates(run, setups)) {
    const x = rec?.self;
    if (!x) continue;
    c.done += x.success + x.failed + x.skipped + x.upstream_failed + x.removed;
    c.success += x.success;
    c.skipped += x.skipped;
  }
  return c;
}

interface SetupIndex {
  /** Each task's relevant indirect setups. */
  indirect: Map<string, string[]>;
  /** Each setup's tasks that have it as an indirect setup. */
  dependents: Map<string, string[]>;
}

const indexes = new WeakMap<Dag, SetupIndex>();

function indexOf(dag: Dag): SetupIndex {
  let ix = indexes.get(dag);
  if (!ix) {
    ix = { indirect: new Map(), dependents: new Map() };
    if (dag.spec.tasks.some((t) => t.setup)) {
      for (const t of dag.spec.tasks) {
        const setups = indirectSetups(t.taskId, (id) => dag.task(id));
        if (setups.length === 0) continue;
        ix.indirect.set(t.taskId, setups);
        for (const id of setups) ix.dependents.set(id, [...(ix.dependents.get(id) ?? []), t.taskId]);
      }
    }
    indexes.set(dag, ix);
  }
  return ix;
}

/** Whether `t` has relevant indirect setups (so its decision reads them). */
export function hasIndirectSetups(dag: Dag, t: TaskSpec): boolean {
  return indexOf(dag).indirect.has(t.taskId);
}

/** The tasks that wait for `setupId` as an indirect setup (decided again when it ends). */
export function indirectDependents(dag: Dag, setupId: string): TaskSpec[] {
  return (indexOf(dag).dependents.get(setupId) ?? []).map((id) => dag.task(id));
}

/** What `t`'s relevant indirect setups allow now: `ok` (all succeeded, or none), `wait`, or the state to settle it in. */
export async function indirectSetupsAllow(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec): Promise<'ok' | 'wait' | 'skipped' | 'upstream_failed'> {
  const setups = indexOf(dag).indirect.get(t.taskId);
  if (!setups) return 'ok';
  const c = { total: 0, success: 0, failed: 0, skipped: 0, upstream_failed: 0 };
  for (const rec of await s.store.getTaskStates(run, setups)) {
    c.total += rec?.decision === 'expanded' ? (rec.mapCount ?? 1) : 1;
    if (!rec) continue;
    c.success += rec.self.success;
    c.failed += rec.self.failed;
    c.skipped += rec.self.skipped;
    c.upstream_failed += rec.self.upstream_failed;
  }
  return indirectSetupVerdict(c);
}
