// Deleting and pausing a DAG.

import { DagNotFoundError } from '../errors.ts';
import { iso } from '../model/time.ts';
import type { DagRecord } from '../store/records.ts';
import type { DeletedRun, StateStore } from '../store/state-store.ts';
import type { Outcome } from './effects.ts';
import { OperationError } from './operation-error.ts';
import { stopRun } from './run-end.ts';
import { startQueuedRuns } from './runs.ts';
import { createAssetRun } from './assets.ts';
import type { Scheduler } from './scheduler.ts';
import { runSemaphore } from './slots.ts';
import type { Step } from './step.ts';


export interface DeleteDagOptions {
  /**
   * Delete even though runs are queued or running. With `scheduler` (and the DAG loaded in it), those
   * runs are first stopped as at a dagrun timeout (their unfinished instances give back their slots, a
   * run waiting for them as a triggered run is resumed); without, they are deleted as they are.
   */
  force?: boolean;
  scheduler?: Scheduler;
}

export interface DeleteDagResult {
  dagId: string;
  /** What was deleted, per run. */
  runs: DeletedRun[];
  /** Sums over the runs. */
  totals: Omit<DeletedRun, 'dagId' | 'runId'> & { runs: number };
  /** Whether the DAG's registry record (version, paused flag) was deleted. */
  dagRecord: boolean;
  backfills: number;
  /** Runs that were queued or running, stopped before being deleted (force). */
  stopped: string[];
  /** What a forced delete could not tidy up. */
  warnings: string[];
}

/**
 * Delete every run of a DAG with its task instances, XComs, item results, logs and pipeline context,
 * its backfills, its registry record, its concurrency counters and its queue of asset events (Airflow's `airflow dags delete`,
 * which refuses while task instances run). Refused while a run is queued or running unless `force`.
 * The DAG's code is not touched: a DAG still in the DAGs folder registers again on its next run.
 */
export async function deleteDag(store: StateStore, dagId: string, options: DeleteDagOptions = {}): Promise<Outcome<DeleteDagResult>> {
  if (options.scheduler) return options.scheduler.step((s) => deleteDagWith(store, dagId, options, s));
  return { value: await deleteDagWith(store, dagId, options, null), effects: [] };
}

async function deleteDagWith(store: StateStore, dagId: string, options: DeleteDagOptions, s: Step | null): Promise<DeleteDagResult> {
  const runs = await store.listRuns({ dagId });
  const active = runs.filter((r) => r.state === 'queued' || r.state === 'running');
  if (active.length && !options.force) {
    const list = active.slice(0, 5).map((r) => `${r.runId} (${r.state})`).join(', ');
    throw new OperationError(`${active.length} run(s) are queued or running: ${list}${active.length > 5 ? ', ...' : ''}; wait for them to end, or delete with force`, { dagId });
  }
  const record: DagRecord | undefined = await store.getDagRecord(dagId);
  const backfills = await store.listBackfills(dagId);
  if (runs.length === 0 && !record && backfills.length === 0) throw new DagNotFoundError(`nothing of DAG '${dagId}' is in the store`, { dagId });
  const dag = options.scheduler?.dags.getDag(dagId);
  const result: DeleteDagResult = {
    dagId,
    runs: [],
    totals: { runs: 0, taskInstances: 0, xcoms: 0, itemResults: 0, logs: 0, pipelineSaves: 0 },
    dagRecord: false,
    backfills: 0,
    stopped: [],
    warnings: [],
  };
  if (active.length) {
    if (s && dag) {
      for (const r of active) {
        await stopRun(s, r, 'the DAG was deleted');
        result.stopped.push(r.runId);
      }
    } else {
      result.warnings.push(
        `${active.length} queued or running run(s) were deleted without being stopped (no scheduler with the DAG loaded was given): slots their running tries hold in shared pools are not given back, and a run waiting for one of them as a triggered run waits on`,
      );
    }
  }
  for (const r of runs) {
    const d = await store.deleteRun(r);
    if (!d) continue;
    result.runs.push(d);
    result.totals.runs++;
    result.totals.taskInstances += d.taskInstances;
    result.totals.xcoms += d.xcoms;
    result.totals.itemResults += d.itemResults;
    result.totals.logs += d.logs;
    result.totals.pipelineSaves += d.pipelineSaves;
  }
  // The asset events queued for it (Airflow's AssetDagRunQueue rows go with their DAG): a DAG of that id
  // registered again starts from an empty queue.
  const queued = await store.listAssetQueue(dagId);
  if (queued.length) await store.consumeAssetQueue(dagId, queued.map((q) => q.eventId));
  // A claim of its queue left unfinished would create a run of the deleted DAG's events: it is closed.
  const claim = await store.getAssetClaim(dagId);
  if (!claim.done) await store.finishAssetClaim(dagId, claim.seq);
  const deleted = await store.deleteDagRecord(dagId);
  result.dagRecord = deleted.dagRecord;
  result.backfills = deleted.backfills;
  // Its concurrency counters: maxActiveRuns, maxActiveTasks, maxActiveTisPerDag (named by the loaded DAG), backfills'.
  await store.deleteSemaphores([
    runSemaphore(dagId, null),
    `dag:${dagId}`,
    ...backfills.map((b) => runSemaphore(dagId, b.backfillId)),
    ...(dag?.spec.tasks.map((t) => `task:${dagId}:${t.taskId}`) ?? []),
  ]);
  return result;
}

// -------------------------------------------------------------------------------------------------------
// Pause

/**
 * Pause or unpause a DAG. Paused, its schedule creates no runs and its backfill runs wait; unpausing
 * starts the queued runs its maxActiveRuns (and its backfill's) allow.
 */
export function setDagPaused(scheduler: Scheduler, dagId: string, paused: boolean): Promise<Outcome<DagRecord>> {
  return scheduler.step(async (s) => {
    const rec = await s.store.setDagPaused(dagId, paused, iso(s.now()));
    if (!paused && s.env.dags.getDag(dagId)) await startQueuedRuns(s, dagId);
    // A paused consumer kept its asset queue: its run is created now if its condition holds.
    const dag = paused ? undefined : s.env.dags.getDag(dagId);
    if (dag) await createAssetRun(s, dag);
    return rec;
  });
}
