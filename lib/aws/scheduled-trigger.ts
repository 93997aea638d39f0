import { DagNotFoundError } from '../errors.ts';
import { nextScheduleTime } from '../model/schedule.ts';
import type { DagRunRecord } from '../store/records.ts';
import { handleTrigger, type AwsServices, type TriggerEvent } from './handlers.ts';

/** Most runs one scheduled trigger creates when catching up (the next trigger continues from the last). */
export const MAX_CATCHUP_RUNS = 500;

/** What the trigger function did. */
export interface TriggerOutcome {
  /** Runs created (or found: triggering is idempotent on run id), oldest logical date first. */
  runs: DagRunRecord[];
  /** Why nothing was triggered, if so. */
  skipped: string | null;
}

/**
 * The trigger function. A manual event (no `runType`, or any but `scheduled`) creates one run as
 * {@link handleTrigger} does. A scheduled event (EventBridge Scheduler: `{dagId, logicalDate:
 * <aws.scheduler.scheduled-time>, runType: 'scheduled'}`) creates the run of that logical date, with run
 * id `scheduled__<logicalDate>` (a retried delivery finds it), outside the DAG's startDate/endDate
 * nothing (a rate's fire time is aligned to the DAG's grid of instants from its startDate); with `catchup` on, it first creates the runs of the schedule instants missed since the DAG's
 * latest scheduled run (or since its startDate), at most {@link MAX_CATCHUP_RUNS} (the next trigger
 * continues from there). maxActiveRuns holds
 * through the scheduler: runs past it wait queued.
 */
export async function handleTriggerEvent(ev: TriggerEvent, svc: AwsServices): Promise<TriggerOutcome> {
  if (ev.runType !== 'scheduled') return { runs: [await handleTrigger(ev, svc)], skipped: null };
  const dag = svc.dags.getDag(ev.dagId);
  if (!dag) throw new DagNotFoundError(`no DAG '${ev.dagId}' is loaded`, { dagId: ev.dagId });
  const spec = dag.spec;
  const now = svc.now ?? Date.now;
  if ((await svc.store.getDagRecord(spec.dagId))?.paused) return { runs: [], skipped: `DAG '${spec.dagId}' is paused` };
  const start = spec.startDate ? new Date(spec.startDate) : null;
  let logical = new Date(ev.logicalDate ?? now());
  if (Number.isNaN(logical.getTime())) throw new TypeError(`logicalDate '${ev.logicalDate}' is not a date`);
  if (spec.schedule?.kind === 'rate') {
    // EventBridge counts a rate from when the schedule was created: the run's logical date is the
    // instant of the DAG's own grid (from its startDate) at or before the time it fired.
    const origin = start?.getTime() ?? 0;
    logical = new Date(origin + Math.floor((logical.getTime() - origin) / spec.schedule.everyMs) * spec.schedule.everyMs);
  }
  if (start && logical < start) return { runs: [], skipped: `logical date ${logical.toISOString()} is before the DAG's startDate ${spec.startDate}` };
  if (spec.endDate && logical > new Date(spec.endDate)) return { runs: [], skipped: `logical date ${logical.toISOString()} is after the DAG's endDate ${spec.endDate}` };

  const dates: Date[] = [];
  if (spec.catchup && spec.schedule && spec.schedule.kind !== 'once') {
    const previous = (await svc.store.listRuns({ dagId: spec.dagId }))
      .filter((r) => r.runType === 'scheduled' && Date.parse(r.logicalDate) < logical.getTime())
      .reduce<number | null>((max, r) => Math.max(max ?? -Infinity, Date.parse(r.logicalDate)), null);
    let t: Date | null = previous !== null ? new Date(previous) : start ? new Date(start.getTime() - 1) : null;
    while (t !== null && dates.length < MAX_CATCHUP_RUNS) {
      t = nextScheduleTime(spec.schedule, t, start);
      if (t === null || t >= logical) break;
      dates.push(t);
    }
  }
  // Capped: the runs from here on (this one included) are caught up by the next trigger.
  if (dates.length < MAX_CATCHUP_RUNS) dates.push(logical);
  const runs: DagRunRecord[] = [];
  for (const d of dates) {
    const logicalDate = d.toISOString();
    runs.push(await handleTrigger({ dagId: spec.dagId, logicalDate, runType: 'scheduled', runId: `scheduled__${logicalDate}`, ...(ev.conf ? { conf: ev.conf } : {}) }, svc));
  }
  return { runs, skipped: null };
}
