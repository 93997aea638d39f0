// airless: batch_fanout with conf {"n": items} through the local cloud (e2e/harness.ts) in this process:
// the compiled ASL on the local Step Functions engine, the real handlers of functions/, DynamoDB Local and
// s3rver (served by the cloud process), `batch:submitJob.sync` through the real client against the
// cloud process's Batch API. Everything in this process counts as orchestration, the Step Functions
// engine included (conservatively: deployed, that is the service's CPU, not the user's).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EmulatorEndpoints } from '../../e2e/backends.ts';
import { startHarness, type Harness } from '../../e2e/harness.ts';
import type { Counts } from '../../e2e/meter.ts';
import type { ScaledClock } from '../../e2e/scaled-clock.ts';
import type { FanoutSummary } from '../../dags/batch_fanout.ts';
import { DynamoDbStateStore } from '../../lib/store/dynamodb-store.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../test/support/dynamodb-local.ts';
import type { SystemRun } from './result.ts';

/** How often (real ms) the benchmark looks whether the run has ended (the wall time is the run's endDate, not when it is seen). */
const WATCH_MS = 1000;

export interface AirlessSetup {
  harness: Harness;
  /**
   * Before the timed span: a run of batch_fanout with n = 2 (its own run id), so that the modules loaded
   * at first use are loaded and the state machines built; then the meter is reset.
   */
  warmUp(): Promise<void>;
  /** Trigger the run; resolves with the job time of its end (the timed span). */
  run(): Promise<{ endAt: number; counts: Counts }>;
  /** After the timed span: read and check the run's results. */
  report(ended: { endAt: number; counts: Counts }): Promise<SystemRun>;
  close(): Promise<void>;
}

/**
 * Seconds a Task state without `TimeoutSeconds` may run: Step Functions puts no limit on it (a Lambda
 * invocation ends by the function's own timeout), but aws-local-stepfunctions fails it with
 * States.Timeout after 60 s of real time. The skipping clock keeps every Task of the e2e suite far under
 * that; on the benchmark's clock a `.sync` wait, or an array wave's preparation on DynamoDB Local, can
 * take longer. 2,000,000 s stays under setTimeout's limit of 2^31 - 1 ms.
 */
const NO_TASK_TIMEOUT_SECONDS = 2_000_000;

interface LocalMachine {
  runnable: { States?: Record<string, Record<string, any>> };
  machine: unknown;
}

/**
 * Give every Task state of the harness's registered state machines (the Distributed Map children and
 * the Tasks that stand for Distributed Maps included) AWS's behaviour: no TimeoutSeconds of its own
 * means no timeout. A benchmark-only patch of the local engine's definitions, before anything ran;
 * TODO: belongs in e2e/local-sfn.ts (registerLocal), where it would not reach into private fields.
 */
function liftDefaultTaskTimeouts(harness: Harness): number {
  const machines = (harness.sfn as unknown as { machines?: Map<string, LocalMachine> }).machines;
  if (!(machines instanceof Map)) throw new Error('bench: the local Step Functions no longer keeps its machines in `machines`: update liftDefaultTaskTimeouts');
  let patched = 0;
  const walk = (states: Record<string, Record<string, any>> | undefined) => {
    for (const s of Object.values(states ?? {})) {
      if (s['Type'] === 'Task' && s['TimeoutSeconds'] === undefined && s['TimeoutSecondsPath'] === undefined) {
        s['TimeoutSeconds'] = NO_TASK_TIMEOUT_SECONDS;
        patched++;
      }
      walk((s['ItemProcessor'] ?? s['Iterator'])?.States);
      for (const b of s['Branches'] ?? []) walk(b.States);
    }
  };
  for (const sm of machines.values()) {
    if (sm.machine) throw new Error('bench: a state machine ran before its Task timeouts were lifted');
    walk(sm.runnable.States);
  }
  return patched;
}

/** Start the harness (not timed). */
export async function setUpAirless(o: { items: number; clock: ScaledClock; batchEndpoint: string; emulators: EmulatorEndpoints }): Promise<AirlessSetup> {
  const harness = await startHarness({ target: 'local', emulators: o.emulators, batchEndpoint: o.batchEndpoint, clock: o.clock, batchWatch: 'sync' });
  liftDefaultTaskTimeouts(harness);
  // The benchmark's own reads go through a client the meter does not count.
  const readClient = new DynamoDBClient({ endpoint: o.emulators.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const reader = new DynamoDbStateStore({ tableName: harness.store.tableName, client: readClient, ...(harness.store.largeValues ? { largeValues: harness.store.largeValues } : {}) });
  const runId = `bench__batch_fanout_${o.items}`;
  // The harness keeps a copy of every task instance change (harness.tiEvents) for the e2e tests: test
  // bookkeeping, not airless's memory. The benchmark counts and drops them as it goes.
  let tiEventsSeen = 0;
  const dropTiEvents = () => {
    tiEventsSeen += harness.tiEvents.length;
    harness.tiEvents.length = 0;
  };
  /** Trigger a run and wait for its end (polling with the unmetered reader). */
  const runToEnd = async (id: string, n: number) => {
    await harness.trigger({ dagId: 'batch_fanout', runId: id, conf: { n } });
    // Not harness.settle(): on a scaled clock, a timer set far ahead (which the skipping clock would
    // jump to) would be waited for. The run's end is its end: its endDate, on the same clock.
    for (;;) {
      await new Promise((r) => setTimeout(r, WATCH_MS));
      dropTiEvents();
      const run = await reader.getRun({ dagId: 'batch_fanout', runId: id });
      if (run && (run.state === 'success' || run.state === 'failed')) return run;
      if (harness.errors.length) throw new Error(`airless: the scheduler reported errors: ${JSON.stringify(harness.errors.slice(0, 3))}`);
    }
  };
  return {
    harness,
    async warmUp() {
      const run = await runToEnd(`${runId}__warmup`, 2);
      if (run.state !== 'success') throw new Error(`airless: the warm-up run ended '${run.state}'${run.note ? ` (${run.note})` : ''}`);
      harness.meter.reset();
    },
    async run() {
      const run = await runToEnd(runId, o.items);
      return { endAt: run.endDate ? Date.parse(run.endDate) : o.clock.now(), counts: harness.meter.total() };
    },
    async report(ended) {
      const run = await reader.getRun({ dagId: 'batch_fanout', runId });
      if (!run) throw new Error(`airless: no run '${runId}' after triggering it`);
      if (harness.errors.length) throw new Error(`airless: the scheduler reported errors: ${JSON.stringify(harness.errors.slice(0, 3))}`);
      const tis = await reader.listTaskInstances(run);
      const jobs = tis.filter((t) => t.taskId === 'run_job');
      const finished = jobs.filter((t) => t.state === 'success').length;
      if (run.state !== 'success') {
        const bad = tis.filter((t) => t.state !== 'success').slice(0, 3);
        throw new Error(`airless: the run ended '${run.state}'${run.note ? ` (${run.note})` : ''}; ${finished} of ${o.items} jobs succeeded; e.g. ${JSON.stringify(bad)}`);
      }
      const summary = (await reader.getXCom(run, 'summarise', -1, 'return_value'))?.value as FanoutSummary | undefined;
      if (summary?.jobs !== o.items || summary.succeeded !== o.items) throw new Error(`airless: summarise returned ${JSON.stringify(summary)}, expected ${o.items} jobs all succeeded`);
      const sleeping = o.clock.sleepers();
      return {
        finished,
        endAt: ended.endAt,
        counts: ended.counts,
        extra: {
          retried: jobs.filter((t) => t.tryNumber > 1).length,
          lambdaInvocations: ended.counts.lambdaInvocations,
          executions: ended.counts.executions,
          // Still waiting on the clock when the run had ended (e.g. timers set far ahead), for the record.
          sleepersAtEnd: sleeping.count,
          holdersAtEnd: o.clock.inFlight,
          // The harness's own records (test bookkeeping held in this process's memory).
          harnessTiEvents: tiEventsSeen + harness.tiEvents.length,
          harnessInvocations: harness.invocations.length,
          harnessExecutions: harness.sfn.executions.size,
          heapUsedMb: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
          sleepersAtEndLastS: sleeping.last === null ? null : Math.round((sleeping.last - ended.endAt) / 1000),
        },
      };
    },
    async close() {
      readClient.destroy();
      // Not harness.close(): it waits for the clock to be idle (see run()). The process exits after the report.
    },
  };
}
