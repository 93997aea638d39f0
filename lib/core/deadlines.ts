// Deadline alerts (Airflow 3.1's DeadlineAlert): when each falls for a run, and whether it was missed. Pure:
// the scheduler (lib/scheduler/deadlines.ts) arms a timer at each deadline and runs the callback once.

import type { DeadlineReferenceSpec, DeadlineSpec } from '../model/notify-spec.ts';

/** The run fields a deadline is computed from. */
export interface DeadlineRunDates {
  queuedAt: string;
  logicalDate: string;
}

/** The reference's instant for a run (ms since the epoch). */
export function deadlineReferenceMs(ref: DeadlineReferenceSpec, run: DeadlineRunDates): number {
  switch (ref.kind) {
    case 'dagrun_queued_at':
      return Date.parse(run.queuedAt);
    case 'dagrun_logical_date':
      return Date.parse(run.logicalDate);
    case 'fixed':
      return Date.parse(ref.at);
  }
}

/** When the deadline falls for a run (ms since the epoch). */
export function deadlineAt(d: DeadlineSpec, run: DeadlineRunDates): number {
  return deadlineReferenceMs(d.reference, run) + d.intervalMs;
}

/** The reference as text: `dagrun_queued_at`, `dagrun_logical_date`, or the fixed instant. */
export function deadlineReferenceText(ref: DeadlineReferenceSpec): string {
  return ref.kind === 'fixed' ? ref.at : ref.kind;
}

/** A run's deadlines: when each falls, and whether the run missed it (it had not ended by then; `now` for a run still going). */
export function runDeadlines(
  deadlines: readonly DeadlineSpec[] | undefined,
  run: DeadlineRunDates & { endDate: string | null },
  now: number,
): { at: string; reference: string; interval: string; missed: boolean }[] {
  return (deadlines ?? []).map((d) => {
    const at = deadlineAt(d, run);
    const end = run.endDate === null ? now : Date.parse(run.endDate);
    return { at: new Date(at).toISOString(), reference: deadlineReferenceText(d.reference), interval: d.interval, missed: end >= at };
  });
}
