/**
 * e2e_replay: a little of everything the scheduler handles, for comparing whole store states: a first try
 * that fails and is retried, a mapped task, a value too big for an item (stored in S3), a branch that
 * skips a path and a join after it, a Batch job whose first job fails (retried), a triggered run with
 * conf, and the pipeline context.
 */
import { dag, type BatchJobResult } from 'airless';

export const e2eChild = dag(
  { dagId: 'e2e_child', description: 'Triggered by e2e_replay', params: { factor: { type: 'integer', default: 1 } } },
  ({ task }) => {
    task('scale', async (ctx) => {
      const saved = await ctx.pipeline.load();
      await ctx.pipeline.save('child', { factor: ctx.params.factor, seen: saved.history.length });
      return ctx.params.factor * 10;
    });
  },
);

export const e2eReplay = dag(
  { dagId: 'e2e_replay', description: 'Retries, mapping, S3 values, branching, Batch and a triggered run', defaultArgs: { retries: 1, retryDelay: '30s' } },
  ({ task, branch, batchJob, triggerDag }) => {
    const start = task('start', async (ctx) => {
      if (ctx.tryNumber === 1) throw new Error('transient: the first try fails');
      await ctx.pipeline.save('start', { items: 4 });
      return [1, 2, 3, 4];
    });
    const squares = task('square', (_ctx, x: number) => x * x).expand(start);
    // 400 KiB of JSON text: over the store's 300 KiB threshold, so the value lives in S3.
    const big = task('big_value', () => 'x'.repeat(400 * 1024)).after(start);
    const measured = task('measure', (_ctx, v: string) => v.length)(big);
    const pick = branch('pick', () => 'odd_path').after(start);
    const odd = task('odd_path', () => 'odd').after(pick);
    const even = task('even_path', () => 'even').after(pick);
    const job = batchJob('reduce', {
      jobQueue: 'e2e-queue',
      jobDefinition: 'e2e-reduce:1',
      command: ['reduce', '--all'],
      environment: { STAGE: 'reduce' },
      local: { simulate: { duration: '45s' } },
    }).after(squares);
    const child = triggerDag('run_child', { triggerDagId: 'e2e_child', conf: { factor: 3 }, waitForCompletion: true }).after(start);
    task(
      'summary',
      async (ctx, input: { squares: number[]; size: number; job: BatchJobResult }) => {
        const saved = await ctx.pipeline.load();
        return { squares: input.squares, size: input.size, jobStatus: input.job.status, stages: saved.history.map((s) => s.stage) };
      },
      { triggerRule: 'none_failed_min_one_success' },
    )({ squares, size: measured, job }).after(odd, even, child);
  },
);
