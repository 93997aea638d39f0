/**
 * e2e_arrays: mapped Batch tasks as array jobs, for the array tests of the e2e suite.
 * - `e2e_three_arrays`: three mapped Batch tasks submitted at once (three array jobs), to meet the
 *   Batch API's SubmitJob rate limit;
 * - `e2e_stuck_array`: a mapped Batch task on a queue that never has capacity, with a runnableTimeout.
 */
import { dag } from 'airless';

export const threeArrays = dag(
  { dagId: 'e2e_three_arrays', description: 'Three array jobs submitted at once', params: { n: { type: 'integer', minimum: 1, default: 20 } } },
  ({ task, batchJob }) => {
    const items = task('items', ({ params }) => Array.from({ length: params.n }, (_, i) => ({ environment: { ITEM: String(i) } })));
    for (const id of ['a', 'b', 'c']) batchJob(id, { jobQueue: 'q', jobDefinition: 'jd', command: ['process-item'] }).expandKwargs(items);
  },
);

export const stuckArray = dag({ dagId: 'e2e_stuck_array', description: 'An array job that no compute environment can place' }, ({ task, batchJob }) => {
  const items = task('items', () => [0, 1, 2, 3].map((i) => ({ environment: { ITEM: String(i) } })));
  batchJob('gpu_job', { jobQueue: 'gpu-queue', jobDefinition: 'jd', command: ['train'], runnableTimeout: '30m' }).expandKwargs(items);
});
