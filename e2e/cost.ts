/**
 * What a task instance costs in the deployed shape, measured on the local cloud: one run of
 * `cost_lambda` (COST_TASKS Lambda tasks) and one of `cost_batch` (COST_TASKS Batch jobs waited for with
 * `batch:submitJob.sync`), each counted by the harness's meter (DynamoDB requests and the capacity
 * DynamoDB reports, Lambda invocations, state transitions, Batch API calls), divided by the run's task
 * instances (the run's own work, creating and ending it, is shared by them), and priced at AWS list
 * prices.
 *
 *   npx tsx e2e/cost.ts            # prints {"name":"cost","perTask":[...]} and the details on stderr
 *
 * `runCostScenario()` is what the benchmark calls.
 */
import { fileURLToPath } from 'node:url';
import { COST_TASKS } from './dags/cost.ts';
import { startEmulators } from './backends.ts';
import { SYNC_POLL_SECONDS } from './batch-sync.ts';
import { startHarness, type HarnessOptions } from './harness.ts';
import type { Counts } from './meter.ts';

// ---------------------------------------------------------------------------------------------------
// AWS list prices, US East (N. Virginia), recorded 2026-11-22.

/**
 * DynamoDB on-demand, per million write request units (standard table class).
 * Source: https://aws.amazon.com/dynamodb/pricing/on-demand/ (the price since the November 2024 reduction).
 */
export const DYNAMODB_USD_PER_MILLION_WRU = 0.625;
/** DynamoDB on-demand, per million read request units. Source: as above. */
export const DYNAMODB_USD_PER_MILLION_RRU = 0.125;
/** Lambda, per million requests. Source: https://aws.amazon.com/lambda/pricing/ */
export const LAMBDA_USD_PER_MILLION_REQUESTS = 0.2;
/** Lambda duration on Arm (arm64), per GB-second, first 7.5 billion GB-s a month. Source: as above. */
export const LAMBDA_ARM_USD_PER_GB_SECOND = 0.0000133334;
/** Step Functions Standard, per 1,000 state transitions. Source: https://aws.amazon.com/step-functions/pricing/ */
export const SFN_STANDARD_USD_PER_1000_TRANSITIONS = 0.025;
/** Step Functions Express, per million requests (executions). Source: as above. */
export const SFN_EXPRESS_USD_PER_MILLION_REQUESTS = 1.0;
/** Step Functions Express duration, per GB-second (billed in 64 MB and 100 ms steps). Source: as above. */
export const SFN_EXPRESS_USD_PER_GB_SECOND = 0.00001667;
/** AWS Batch: no charge for the service or its API; the compute the jobs run on is the user's own cost. */
export const BATCH_API_USD = 0;

// Assumptions (not measured here).

/** The functions' memory: 128 MB, arm64 (the CDK stack's setting). */
export const LAMBDA_MEMORY_GB = 128 / 1024;
/**
 * Billed duration assumed per invocation, ms: the handlers make a handful of DynamoDB calls (single-digit
 * ms each in-region) and the task code of the measured tasks does nothing. Real durations depend on the
 * user's code and on cold starts.
 */
export const ASSUMED_LAMBDA_MS = 100;
/** Memory an Express execution is billed for (its smallest step). */
export const EXPRESS_MEMORY_GB = 64 / 1024;

// The Airflow baselines of the batch benchmark (bench/batch/): what their workers and triggerers cost
// while the run lasts. Assumptions, stated:
// - Airflow runs on EC2 On-Demand m7g.large instances (2 vCPU Graviton3, 8 GiB), Linux, us-east-1.
// - A Celery worker runs `worker_concurrency` = 16 task processes (Airflow's default), so the 32 worker
//   slots of `[core] parallelism` = 32 take two instances; a triggerer holds `[triggerer] capacity` =
//   1,000 triggers (Airflow's default), so the deferrable model needs ceil(peak deferred jobs / 1,000)
//   triggerer instances (each on its own instance).
// - Billed for the wall time of the run only (as if the instances started with the run and stopped at
//   its end), per second. Not counted, in the baselines' favour: the scheduler, the webserver/API
//   server, the metadata database, the Celery broker, and idle time between runs. Not counted for any
//   system: the Batch jobs' own compute (the same for all).

/** EC2 On-Demand m7g.large, Linux, us-east-1, per hour. Source: https://aws.amazon.com/ec2/pricing/on-demand/ (recorded 2026-11-22). */
export const EC2_M7G_LARGE_USD_PER_HOUR = 0.0816;
/** Airflow's `[celery] worker_concurrency` default: task processes per worker instance. */
export const AIRFLOW_WORKER_CONCURRENCY = 16;
/** Airflow's `[triggerer] capacity` default: triggers one triggerer runs. */
export const AIRFLOW_TRIGGERER_CAPACITY = 1000;

/**
 * Dollars per 1,000 jobs of an Airflow baseline: `workerSlots` worker slots (instances of
 * {@link AIRFLOW_WORKER_CONCURRENCY} slots) plus `triggerers` triggerer instances, for `wallS` seconds,
 * spread over `jobs` jobs.
 */
export function airflowUsdPer1k(o: { workerSlots: number; triggerers: number; wallS: number; jobs: number }): number {
  const instances = Math.ceil(o.workerSlots / AIRFLOW_WORKER_CONCURRENCY) + o.triggerers;
  return ((instances * (o.wallS / 3600) * EC2_M7G_LARGE_USD_PER_HOUR) / o.jobs) * 1000;
}

export interface CostFigures {
  kind: 'lambda' | 'batch';
  ddbReads: number;
  ddbWrites: number;
  lambdaInvocations: number;
  transitions: number;
  batchCalls: number;
  usdPer1k: number;
}

export interface CostScenario {
  name: 'cost';
  perTask: CostFigures[];
}

/** Dollars for `c` (the counts of `tasks` task instances), per 1,000 task instances. */
export function usdPer1k(c: Counts, tasks: number): number {
  const ddb = (c.wru * DYNAMODB_USD_PER_MILLION_WRU + c.rru * DYNAMODB_USD_PER_MILLION_RRU) / 1e6;
  const lambda = c.lambdaInvocations * (LAMBDA_USD_PER_MILLION_REQUESTS / 1e6 + LAMBDA_MEMORY_GB * (ASSUMED_LAMBDA_MS / 1000) * LAMBDA_ARM_USD_PER_GB_SECOND);
  const standard = ((c.transitions - c.expressTransitions) / 1000) * SFN_STANDARD_USD_PER_1000_TRANSITIONS;
  // An Express execution runs its invocations one after another: its duration is taken as theirs,
  // rounded up to 100 ms.
  const expressInvocationsPerExecution = c.expressExecutions ? c.lambdaInvocations / Math.max(1, c.executions) : 0;
  const expressSeconds = Math.ceil((expressInvocationsPerExecution * ASSUMED_LAMBDA_MS) / 100) / 10;
  const express = c.expressExecutions * (SFN_EXPRESS_USD_PER_MILLION_REQUESTS / 1e6 + EXPRESS_MEMORY_GB * expressSeconds * SFN_EXPRESS_USD_PER_GB_SECOND);
  const batch = c.batchCalls * BATCH_API_USD;
  return ((ddb + lambda + standard + express + batch) / tasks) * 1000;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Per-task figures of a run's counts. */
export function perTask(kind: 'lambda' | 'batch', c: Counts, tasks: number): CostFigures {
  return {
    kind,
    ddbReads: round(c.ddbReads / tasks, 2),
    ddbWrites: round(c.ddbWrites / tasks, 2),
    lambdaInvocations: round(c.lambdaInvocations / tasks, 2),
    transitions: round(c.transitions / tasks, 2),
    batchCalls: round(c.batchCalls / tasks, 2),
    usdPer1k: round(usdPer1k(c, tasks), 4),
  };
}

export interface CostRun {
  kind: 'lambda' | 'batch';
  dagId: string;
  tasks: number;
  /** Everything counted during the run. */
  counts: Counts;
  figures: CostFigures;
}

/**
 * Run both cost DAGs on a fresh local cloud (its own DynamoDB Local and s3rver unless `emulators` are
 * given) and return the counts. Throws if a run does not succeed with every task in one try.
 */
export async function measureCost(options: Pick<HarnessOptions, 'handlers' | 'emulators' | 'target'> = {}): Promise<CostRun[]> {
  const target = options.target ?? 'local';
  const own = options.emulators || target !== 'local' ? null : await startEmulators();
  const emulators = options.emulators ?? own;
  const h = await startHarness({
    ...(options.handlers ? { handlers: options.handlers } : {}),
    target,
    ...(emulators ? { emulators } : {}),
    // The cost DAG's jobs run a minute each (simulated): two DescribeJobs polls of the `.sync` wait.
    batch: { behaviour: () => ({ kind: 'simulate', durationMs: 60_000, exitCode: 0 }) },
  });
  try {
    const out: CostRun[] = [];
    for (const [kind, dagId] of [
      ['lambda', 'cost_lambda'],
      ['batch', 'cost_batch'],
    ] as const) {
      h.meter.reset();
      const runId = `cost__${dagId}`;
      const run = await h.run({ dagId, runId });
      const tis = await h.store.listTaskInstances(run);
      const bad = tis.filter((t) => t.state !== 'success' || t.tryNumber !== 1);
      if (run.state !== 'success' || tis.length !== COST_TASKS || bad.length || h.errors.length) {
        throw new Error(`cost run of ${dagId} ended ${run.state} with ${tis.length} instances (${bad.length} not successful in one try); errors: ${JSON.stringify(h.errors.slice(0, 3))}`);
      }
      const counts = h.meter.total();
      out.push({ kind, dagId, tasks: COST_TASKS, counts, figures: perTask(kind, counts, COST_TASKS) });
    }
    return out;
  } finally {
    await h.close();
    await own?.stop();
  }
}

/** The benchmark scenario: `{"name":"cost","perTask":[{kind:"lambda",...},{kind:"batch",...}]}`. */
export async function runCostScenario(options: Pick<HarnessOptions, 'handlers' | 'emulators' | 'target'> = {}): Promise<CostScenario> {
  return { name: 'cost', perTask: (await measureCost(options)).map((r) => r.figures) };
}

/** Assumptions behind the figures, for the printout. */
export const COST_NOTES = [
  `per task instance: a run of ${COST_TASKS} independent tasks of one kind, everything counted divided by ${COST_TASKS}`,
  `DynamoDB dollars from the request units DynamoDB (Local) reported consuming (GSI writes and transactions included)`,
  `Lambda: ${ASSUMED_LAMBDA_MS} ms billed per invocation (assumed), ${LAMBDA_MEMORY_GB * 1024} MB arm64`,
  `Batch: a 1-minute job; the .sync wait polls DescribeJobs every ${SYNC_POLL_SECONDS} s (free); job compute not included`,
];

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const runs = await measureCost();
  for (const r of runs) process.stderr.write(`${r.dagId}: ${JSON.stringify({ ...r.counts, perTask: r.figures })}\n`);
  for (const n of COST_NOTES) process.stderr.write(`note: ${n}\n`);
  process.stdout.write(`${JSON.stringify({ name: 'cost', perTask: runs.map((r) => r.figures) })}\n`);
}
