import type { Dag } from '../authoring/dag.ts';
import type { ApiBackend, ApiDags } from '../api/backend.ts';
import { InputResolver } from '../executor/resolve.ts';
import { nextScheduledInstant } from '../core/schedule-dates.ts';
import { timeSchedule } from '../model/spec.ts';
import { Scheduler } from '../scheduler/scheduler.ts';
import type { AwsServices } from './handlers.ts';
import { InvocationHost } from './invocation-host.ts';

/** The DAGs bundled into a function, as the API serves them: a deployed stack has no import errors (synth refuses a broken DAG file). */
export function bundledApiDags(bundled: { dags: readonly Dag[]; getDag(dagId: string): Dag | undefined }): ApiDags {
  return {
    dags: bundled.dags,
    dagIds: bundled.dags.map((d) => d.dagId),
    importErrors: [],
    getDag: (id) => bundled.getDag(id),
  };
}

/**
 * The API's backend in the deployed shape: the function's store (DynamoDB), the DAGs bundled into it,
 * and a scheduler per call whose host is an {@link InvocationHost} on the function's dispatcher (Step
 * Functions): what the scheduler dispatches or times while `fn` runs starts lifecycle and timer
 * executions when `fn` ends, as the trigger function does.
 */
export function deployedApiBackend(svc: AwsServices, bundled: { dags: readonly Dag[]; getDag(dagId: string): Dag | undefined }): ApiBackend {
  const now = svc.now ?? Date.now;
  const batch = svc.batch;
  const dags = bundledApiDags(bundled);
  return {
    store: svc.store,
    dags,
    // A version's files, from the bundles the deploys put in the bucket.
    ...(svc.bundles ? { bundles: svc.bundles } : {}),
    async withScheduler(fn) {
      const host = new InvocationHost(svc.dispatcher, null, {
        ...(svc.onEvent ? { onEvent: svc.onEvent } : {}),
        ...(batch.stopRunnable ? { stopRunnable: (q: string | null, name: string, reason: string) => batch.stopRunnable!(q, name, reason) } : {}),
        ...(svc.stopTries ? { stopTries: svc.stopTries } : {}),
        // A trigger, a clear or a backfill that makes a run queued arms the reconciler.
        ...(svc.reconciler ? { armReconciler: () => svc.reconciler!.arm() } : {}),
        ...(svc.deadlines ? { deadlines: svc.deadlines } : {}),
      });
      const scheduler = new Scheduler(svc.store, svc.dags, { now, arrays: true, resolver: new InputResolver(svc.store) });
      let result: Awaited<ReturnType<typeof fn>>;
      try {
        result = await fn({ scheduler, run: (step) => host.run(step) });
      } catch (error) {
        // What was decided before the failure still starts (the store has it queued); the reconcile
        // would otherwise find it only minutes later.
        try {
          await host.flush();
        } catch (flushError) {
          throw new AggregateError([error, flushError], `${error instanceof Error ? error.message : String(error)} (and starting what it dispatched failed too)`);
        }
        throw error;
      }
      await host.flush();
      return result;
    },
    async nextRun(dagId) {
      const dag = bundled.getDag(dagId);
      const time = timeSchedule(dag?.spec.schedule);
      if (!dag || !time) return null;
      const hasScheduledRun = time.kind === 'once' && (await svc.store.listRuns({ dagId })).some((r) => r.runType === 'scheduled');
      return nextScheduledInstant(dag.spec, new Date(now()), hasScheduledRun)?.toISOString() ?? null;
    },
    now: () => new Date(now()),
  };
}
