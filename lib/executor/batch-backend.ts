import type { ArrayRef, WaveResult } from '../core/arrays.ts';
import type { BatchLocalSpec } from '../model/spec.ts';
import type { TiKey } from '../store/records.ts';

/** A Batch job as the task runner submits it. */
export interface BatchSubmission {
  jobName: string;
  jobQueue: string | null;
  jobDefinition: string | null;
  command: string[] | null;
  environment: Record<string, string>;
  containerOverrides: Record<string, unknown> | null;
  arraySize: number | null;
  /**
   * Each child's own command and environment (an array wave of a mapped task: child i runs map index
   * `mapIndexes[i]`). Locally each child runs its own; deployed, the children read it from the manifest.
   */
  children?: { command: string[] | null; environment: Record<string, string> }[];
  /** Batch's per-attempt timeout (each child of an array its own), from the task's executionTimeout. */
  attemptDurationSeconds?: number | null;
  local: BatchLocalSpec;
}

export interface BatchJobStatus {
  jobId: string;
  jobName: string;
  status: 'SUBMITTED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  exitCode: number | null;
  reason: string | null;
  childExitCodes: (number | null)[] | null;
  /** Captured output (local jobs). */
  output: string;
}

/** Who a job is for: a task instance's try, or an array wave (its group and the map index of each child). */
export interface BatchOwner {
  key: TiKey;
  tryNumber: number;
  wave?: { array: ArrayRef; mapIndexes: number[] };
}

/** Where Batch jobs run: locally a child process or a simulation; deployed, AWS Batch. */
export interface BatchBackend {
  /** Submit, idempotent per owner try: the same (run, task, map index, try) returns the same job. */
  submit(job: BatchSubmission, owner: BatchOwner): Promise<string>;
  describe(jobId: string): Promise<BatchJobStatus | undefined>;
  /**
   * Which children of a finished job failed (an array job: by child index; a plain job, `size` 1: child
   * 0), with their exit codes and reasons. Deployed: one ListJobs page per 100 failed children and one
   * DescribeJobs per 100 of them; nothing per succeeded child.
   */
  waveResult?(jobId: string, size: number): Promise<WaveResult>;
  /**
   * Terminate what is still RUNNABLE (not yet started) of the job named `jobName` in `jobQueue`: the job,
   * or each RUNNABLE child of an array job, with `reason` as the status reason. Returns how many it stopped.
   */
  stopRunnable?(jobQueue: string | null, jobName: string, reason: string): Promise<number>;
}
