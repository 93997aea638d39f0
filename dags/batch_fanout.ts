/**
 * batch_fanout: launch `n` AWS Batch jobs (default 1000) and wait for all of them.
 *
 * - `plan_jobs` makes one job input per tile: the command line and environment of that job;
 * - `run_job` is a `batchJob()` mapped over them with `.expandKwargs()`: one task instance per job,
 *   each job's fields (command, environment) from its input, queue and definition from the options;
 * - `summarise` receives every job's result (job id, status, exit code), in tile order.
 *
 * Deployed, each instance submits a real Batch job and Step Functions waits for it (`.sync`): no Lambda
 * and no worker sits idle while 1000 jobs run, and a task instance holds no slot while its job runs
 * (maxActiveTasks bounds submissions in flight, not running jobs). On a laptop (`airless dags test`)
 * the jobs are simulated: each "runs" for 1 s plus up to 500 ms of jitter, on the runner's clock, so a
 * test with a FakeClock finishes at once. Replace `local` with `'process'` to run each `command` as a
 * child process instead. (The benchmark's batch scenarios, `npm run bench -- --only batch-10k`, simulate
 * the jobs in their local Batch API instead: 5 to 30 s of job time per tile, 2% failing once.)
 *
 * Try it: npx airless dags test batch_fanout --conf '{"n": 50}'
 */
import { dag, type BatchJobInput, type BatchJobResult } from 'airless';

export interface FanoutSummary {
  jobs: number;
  succeeded: number;
  /** Distinct Batch job ids: one job per task instance. */
  distinctJobIds: number;
}

export const batchFanout = dag(
  {
    dagId: 'batch_fanout',
    description: 'Launch n AWS Batch jobs, one per tile, and wait for all of them',
    params: {
      // Up to 100,000: the benchmark's batch-100k scenario (bench/batch/) runs it with n = 100,000.
      n: { type: 'integer', minimum: 1, maximum: 100_000, default: 1000, description: 'Batch jobs to launch (one per survey tile).' },
    },
    // A job that fails (e.g. its Spot instance was reclaimed) is resubmitted once, a minute later.
    defaultArgs: { retries: 1, retryDelay: '1m' },
    tags: ['batch', 'example'],
  },
  ({ task, batchJob }) => {
    const inputs = task('plan_jobs', ({ params, runId }): BatchJobInput[] =>
      Array.from({ length: params.n }, (_, tile) => ({
        command: ['python', '-m', 'reduce_tile', '--tile', String(tile), '--out', `s3://survey-products/${runId}/tile-${tile}`],
        environment: { TILE: String(tile), TILES: String(params.n) },
      })),
    );

    const jobs = batchJob('run_job', {
      jobQueue: 'survey-spot',
      jobDefinition: 'reduce-tile:3',
      local: { simulate: { duration: '1s', jitter: '500ms' } },
    }).expandKwargs(inputs);

    // Runs once every job succeeded (trigger rule all_success): a job that still fails after its retry
    // fails its task instance, this task is upstream_failed and the run fails.
    task('summarise', (ctx, results: BatchJobResult[]): FanoutSummary => {
      const succeeded = results.filter((r) => r.status === 'SUCCEEDED').length;
      ctx.log.info(`${results.length} Batch jobs, ${succeeded} succeeded`);
      return { jobs: results.length, succeeded, distinctJobIds: new Set(results.map((r) => r.jobId)).size };
    })(jobs);
  },
);
