// A teardown's trigger rule (all_done_setup_success) reads what its direct upstream setups did.

import type { Dag } from '../authoring/dag.ts';
import type { SetupCounts } from '../core/trigger-rules.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { DagRunRecord } from '../store/records.ts';
import type { Step } from './step.ts';

export /** The ended instances of a teardown's direct upstream setup tasks, from their own tallies. */
async function setupCounts(s: Step, dag: Dag, run: DagRunRecord, t: TaskSpec): Promise<SetupCounts | undefined> {
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
