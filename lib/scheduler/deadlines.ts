// Deadline alerts: a run created gets a `deadline` timer at each of its DAG's deadlines (reference +
// interval, lib/core/deadlines.ts); when one is due and the run has not ended, its callback runs, once: a
// counter in the store (`countUp`, one conditional write) lets only the first delivery of the timer run it,
// whatever the host (a timer delivered twice, a standalone resumed, a timer execution replayed).

import type { Dag } from '../authoring/dag.ts';
import { deadlineAt, deadlineReferenceText } from '../core/deadlines.ts';
import type { TimerEvent } from '../core/events.ts';
import { runRefOf, type DagRunRecord, type RunRef } from '../store/records.ts';
import type { Step } from './step.ts';

/** The store counter whose first count fires deadline `index` of a run. */
export function deadlineCounter(run: RunRef, index: number): string {
  return `deadline/${run.dagId}/${run.runId}/${index}`;
}

/** The timers of a run's deadlines (each at its instant; a deadline already past is due at once). */
export function deadlineTimers(dag: Dag, run: DagRunRecord): { at: number; event: TimerEvent }[] {
  return (dag.spec.deadlines ?? []).map((d, index) => ({ at: deadlineAt(d, run), event: { type: 'deadline', ...runRefOf(run), index } }));
}

/** Arm the run's deadline timers (a run just created). */
export function armDeadlines(s: Step, dag: Dag, run: DagRunRecord): void {
  for (const t of deadlineTimers(dag, run)) s.timer(t.at, t.event);
}

/** A deadline's timer is due: if the run has not ended, run its callback (once). */
export async function onDeadline(s: Step, event: Extract<TimerEvent, { type: 'deadline' }>): Promise<void> {
  const run = await s.store.getRun(runRefOf(event));
  if (!run || (run.state !== 'queued' && run.state !== 'running')) return;
  const dag = await s.dagOf(run);
  const d = dag.spec.deadlines?.[event.index];
  const callback = dag.callbacks.deadlines?.[event.index];
  if (!d || !callback) return;
  const at = deadlineAt(d, run);
  // Early (a clock ahead of the store's, or a run re-queued since): wait for the deadline itself.
  if (s.now() < at) return s.timer(at, event);
  if ((await s.store.countUp(deadlineCounter(run, event.index))) !== 1) return;
  try {
    await callback({
      dagId: run.dagId,
      runId: run.runId,
      state: run.state,
      conf: run.conf,
      logicalDate: new Date(run.logicalDate),
      note: run.note,
      deadline: { at: new Date(at), reference: deadlineReferenceText(d.reference), interval: d.interval },
    });
  } catch (e) {
    s.emitError(runRefOf(run), e, `DAG '${run.dagId}' deadline ${event.index} (${deadlineReferenceText(d.reference)} + ${d.interval}) callback`);
  }
}
