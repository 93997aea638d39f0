// Figures of the batch scenarios (batch-10k, batch-100k): one result per system.
import type { Counts } from '../../e2e/meter.ts';

export type BatchSystem = 'airless' | 'blocking' | 'deferrable';
export const BATCH_SYSTEMS: readonly BatchSystem[] = ['airless', 'blocking', 'deferrable'];

/** What a system's run reports to the orchestrating process. */
export interface SystemRun {
  /** Items that ended SUCCEEDED, as the system saw them. */
  finished: number;
  /** Job time (epoch ms) at which the system knew it was done. */
  endAt: number;
  /** airless: everything the harness's meter counted (DynamoDB, invocations, transitions). */
  counts?: Counts;
  extra: Record<string, number | string | boolean | null>;
}

/**
 * One line of the bench's JSON per system. Times in seconds of job time (the scaled clock's), CPU in
 * real milliseconds of the orchestrating process.
 */
export interface BatchScenarioResult {
  name: string;
  system: BatchSystem;
  jobs: number;
  finished: number;
  lost: number;
  duplicated: number;
  /** Start (trigger) to end, seconds of job time. */
  wallS: number;
  /** The longest single job run, seconds of job time. */
  longestJobS: number;
  /** Max over items of first submission to final success (retry delay included), seconds of job time. */
  criticalPathS: number;
  /** First to last SubmitJob that created a job, seconds of job time. */
  submitSpanS: number;
  /** User + system CPU of the orchestrating process from start to end, real ms, per job. */
  cpuMsPerJob: number;
  /** SubmitJob requests (refused ones included) per job. */
  submitCallsPerJob: number;
  /** DescribeJobs requests per job (the `.sync` emulation's included). */
  describeCallsPerJob: number;
  listCallsPerJob: number;
  /** DynamoDB requests per job (null: the baselines' metadata database is not modelled). */
  ddbRequestsPerJob: number | null;
  /** Step Functions state transitions per job (null for the baselines). */
  transitionsPerJob: number | null;
  /** Peak RSS of the orchestrating process, MB. */
  peakRssMb: number;
  usdPer1kJobs: number;
  /** Job time per real time. */
  scale: number;
  /** CPUs the orchestrating process ran on (Cpus_allowed_list), or "unpinned". */
  cpuAffinity: string;
  /** CPUs of the process serving the simulated AWS. */
  cloudAffinity: string;
  /** Orchestrating CPU / real wall time: near 1, the process was saturated and job-time figures are stretched. */
  busy: number;
  realWallS: number;
  [extra: string]: number | string | boolean | null;
}
