// Fault cases on the deployed shape: the compiled state machines on the local Step Functions, the real
// handlers (their cores), the DynamoDB store on DynamoDB Local whose client injects the fault. A 'die'
// fault ends the Lambda invocation that made the write (its error is not retried by the store: the
// state machine's own Retry replays the event, as it does for a crashed invocation); the periodic
// reconcile repairs the rest.
import { startHarness } from '../harness.ts';
import type { EmulatorEndpoints } from '../backends.ts';
import { faultDags, ledger } from './dags.ts';
import { FaultInjector, injectIntoDynamoDbClient, type MiddlewareStackLike } from './fault-store.ts';
import { inspectCase, RUN_ID, T0, type CaseRunner } from './sweep.ts';

/** A CaseRunner on the deployed shape, each case on a harness (and table) of its own. */
export function deployedCases(emulators: EmulatorEndpoints): CaseRunner {
  return async (dagId, plan) => {
    ledger.length = 0;
    const injector = new FaultInjector(plan);
    const h = await startHarness({
      handlers: 'core',
      dags: faultDags,
      emulators,
      target: 'local',
      instrumentDynamoDb: (client) => injectIntoDynamoDbClient(injector, client.middlewareStack as unknown as MiddlewareStackLike, { dieStopsClient: false }),
    });
    const recovered: string[] = [];
    try {
      // The caller of the trigger sends it again while it fails (it is idempotent by run id).
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await h.trigger({ dagId, runId: RUN_ID, logicalDate: new Date(T0).toISOString() });
          break;
        } catch (e) {
          recovered.push(`trigger failed: ${String(e)}`);
        }
      }
      await h.settle();
      // The periodic reconcile: at least once (it also gives back maxActiveRuns units of runs that ended
      // without), again while a run is still open.
      for (let pass = 0; pass < 3; pass++) {
        const open = [...(await h.store.listRunsByState('running')), ...(await h.store.listRunsByState('queued'))];
        if (open.length === 0 && pass > 0) break;
        if (open.length) recovered.push(`reconcile ${open.map((r) => r.runId).join(',')}`);
        await h.reconcile({ staleMs: 0 });
        await h.settle();
      }
      const errors = h.errors.filter((e) => !/InjectedStoreFault|ProcessDiedError/.test(e.error)).map((e) => `${e.where}: ${e.error}`);
      return { writes: injector.writes, recovered, errors, ...(await inspectCase(h.store, ledger, dagId)) };
    } finally {
      await h.close();
    }
  };
}
