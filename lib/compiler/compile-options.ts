/** What the compiler needs to know about the deployment: the functions it invokes, and two choices. */
export interface CompileOptions {
  /** ARN (or name) of the task-runner function: tries, Batch prepare/complete, iteration steps. */
  taskRunnerArn: string;
  /** ARN (or name) of the scheduler function: `try_finished` and `timer` requests. */
  schedulerArn: string;
  /** ARN (or name) of the sensor-poke function. */
  sensorPokeArn: string;
  /**
   * How a Batch task waits for its job. `sync` (default): `batch:submitJob.sync`, Step Functions waits.
   * `poll`: the task runner submits the job and defers; a Batch watcher execution
   * ({@link compileBatchWatcher}) polls DescribeJobs for up to 100 jobs at a time.
   */
  batchWatch?: 'sync' | 'poll';
  /**
   * How an iteration's Map state runs its items. `inline` (default): inside the task's execution, whose
   * 25,000-event history then holds about 7 events per item (so keep a try under about 3,000 items).
   * `distributed`: each item is a child execution with its own history (no such limit; not supported by
   * aws-local-stepfunctions).
   */
  iterateMode?: 'inline' | 'distributed';
}
