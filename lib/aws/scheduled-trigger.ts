import { DagNotFoundError } from '../errors.ts';
import { scheduledRunDates } from '../core/schedule-dates.ts';
import type { DagRunRecord } from '../store/records.ts';
import { handleTrigger, type AwsServices, type TriggerEvent } from './handlers.ts';

export { MAX_CATCHUP_RUNS } from '../core/schedule-dates.ts';

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
 * latest scheduled run (or since its startDate), at most `MAX_CATCHUP_RUNS` (the next trigger
 * continues from there): `scheduledRunDates`, shared with the standalone schedule loop. maxActiveRuns holds
 * through the scheduler: runs past it wait queued.
 */
export async function handleTriggerEvent(ev: TriggerEvent, svc: AwsServices): Promise<TriggerOutcome> {
  if (ev.runType !== 'scheduled') return { runs: [await handleTrigger(ev, svc)], skipped: null };
  const dag = svc.dags.getDag(ev.dagId);
  if (!dag) throw new DagNotFoundError(`no DAG '${ev.dagId}' is loaded`, { dagId: ev.dagId });
  const spec = dag.spec;
  const now = svc.now ?? Date.now;
  if ((await svc.store.getDagRecord(spec.dagId))?.paused) return { runs: [], skipped: `DAG '${spec.dagId}' is paused` };
  const firedAt = new Date(ev.logicalDate ?? now());
  if (Number.isNaN(firedAt.getTime())) throw new TypeError(`logicalDate '${ev.logicalDate}' is not a date`);
  const { dates, skipped } = scheduledRunDates(spec, firedAt, spec.catchup ? await svc.store.listRuns({ dagId: spec.dagId }) : []);
  if (skipped !== null) return { runs: [], skipped };
  const runs: DagRunRecord[] = [];
  for (const d of dates) {
    const logicalDate = d.toISOString();
    runs.push(await handleTrigger({ dagId: spec.dagId, logicalDate, runType: 'scheduled', runId: `scheduled__${logicalDate}`, ...(ev.conf ? { conf: ev.conf } : {}) }, svc));
  }
  return { runs, skipped: null };
}
