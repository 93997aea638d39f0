/**
 * The DAGs the cost scenario measures (e2e/cost.ts): COST_TASKS independent tasks of one kind, so that
 * every task instance of a run is the kind being measured and the run's own work (creating it, ending
 * it) is shared by all of them.
 */
import { dag } from 'airless';

/** Task instances per cost DAG. */
export const COST_TASKS = 100;

const LIMITS = { maxActiveTasks: 1000 } as const;

/** COST_TASKS Lambda tasks (trivial code), no retries, no executionTimeout: the compiler's defaults. */
export const costLambda = dag({ dagId: 'cost_lambda', description: 'Cost of a Lambda task', ...LIMITS }, ({ task }) => {
  for (let i = 0; i < COST_TASKS; i++) task(`t_${i}`, () => i);
});

/** COST_TASKS Batch jobs (1 minute each, simulated), waited for with batch:submitJob.sync. */
export const costBatch = dag({ dagId: 'cost_batch', description: 'Cost of a Batch task', ...LIMITS }, ({ batchJob }) => {
  for (let i = 0; i < COST_TASKS; i++) {
    batchJob(`job_${i}`, { jobQueue: 'cost-queue', jobDefinition: 'cost-job:1', command: ['run', String(i)], local: { simulate: { duration: '1m' } } });
  }
});
