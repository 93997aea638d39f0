/**
 * e2e_stop: a Batch job far longer than the run may last (dagrunTimeout 30 minutes), and a task after it:
 * at the timeout the run fails, and its job's lifecycle execution is stopped and the job terminated, so
 * nothing keeps running (and billing).
 */
import { dag } from 'airless';

export const e2eStop = dag({ dagId: 'e2e_stop', description: 'A long Batch job stopped by the dagrun timeout', dagrunTimeout: '30m' }, ({ batchJob, task }) => {
  const job = batchJob('long_job', { jobQueue: 'e2e-queue', jobDefinition: 'e2e-reduce:1', command: ['reduce', '--slowly'], local: { simulate: { duration: '6h' } } });
  task('after', () => 'never runs').after(job);
});

/**
 * e2e_stop_array: a mapped Batch task (one array job of three children) far longer than the run may last:
 * at the timeout its array job is terminated, and with it every child.
 */
export const e2eStopArray = dag({ dagId: 'e2e_stop_array', description: 'A long array job stopped by the dagrun timeout', dagrunTimeout: '30m' }, ({ batchJob, task }) => {
  const items = task('items', () => [0, 1, 2].map((i) => ({ environment: { ITEM: String(i) } })));
  const solve = batchJob('solve', { jobQueue: 'e2e-queue', jobDefinition: 'e2e-reduce:1', command: ['solve'] }).expandKwargs(items);
  task('after', () => 'never runs').after(solve);
});
