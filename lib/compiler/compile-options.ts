/** What the compiler needs to know about the deployment: the functions it invokes, and two choices. */
export interface CompileOptions {
  /** ARN (or name) of the task-runner function: tries, Batch prepare/complete, iteration steps. */
  taskRunnerArn: string;
  /** ARN (or name) of the scheduler function: `try_finished` and `timer` requests. */
  schedulerArn: string;
  /** ARN (or name) of the sensor-poke function. */
  sensorPokeArn: string;
  /**
   * ARN of the `batch_job` state machine, which the `batch` machine starts.
   * @default the definition substitution `${BatchJobMachineArn}`
   */
  batchJobMachineArn?: string;
  /**
   * ARN of the `iterate` state machine, which the `partitions` machine starts (one execution per partition).
   * @default the definition substitution `${IterateMachineArn}`
   */
  iterateMachineArn?: string;
  /**
   * How a Batch task waits for its job. `sync` (default): `batch:submitJob.sync`, Step Functions waits.
   * `poll`: the task runner submits the job and defers; a Batch watcher execution
   * ({@link compileBatchWatcher}) polls DescribeJobs for up to 100 jobs at a time.
   */
  batchWatch?: 'sync' | 'poll';
  /**
   * Poll mode: seconds between two DescribeJobs calls of an array wave (the `WaitPoll` state of a
   * mapped Batch task's fan-out), as the Batch watcher's interval. Default
   * {@link DEFAULT_BATCH_WATCH_INTERVAL_SECONDS}; a whole number from 1 to 86,400.
   */
  batchWatchIntervalSeconds?: number;
  /**
   * How an iteration's Map state runs its items. `inline` (default): inside the task's execution, whose
   * 25,000-event history then holds about 7 events per item (so keep a try under about 3,000 items).
   * `distributed`: each item is a child execution with its own history (no such limit; the e2e harness
   * runs the children as executions of its own, e2e/local-sfn.ts). Either way, a try whose item list is
   * too long for the state (`iterate_prepare` returns it in S3) runs its items in a Distributed Map that
   * reads the list with an `ItemReader`.
   */
  iterateMode?: 'inline' | 'distributed';
}

/** Seconds between two DescribeJobs calls when nothing else is said (as the stack's and the functions' default). */
export const DEFAULT_BATCH_WATCH_INTERVAL_SECONDS = 30;
