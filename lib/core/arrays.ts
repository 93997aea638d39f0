/**
 * Mapped Batch tasks as AWS Batch array jobs: how map indexes split into arrays, and how an array's
 * children map back to map indexes. Pure functions, shared by the scheduler, the task runner, the local
 * runner and the handlers.
 *
 * A mapped Batch task of `n` instances has `ceil(n / max)` groups; group `g` holds the map indexes
 * `[g * max, min(n, (g + 1) * max))`. Each group is one lifecycle: a wave of its instances that are
 * ready for the same try is submitted as one array job whose child `i` is the wave's `i`-th map index (in
 * increasing order), and only the failed children of a wave come back, as the next wave, for their
 * retry. A wave of one instance is submitted as a plain job (Batch arrays have 2 to 10,000 children).
 */
import { sha256 } from '../model/hash.ts';
import { ARRAY_MAX_CHILDREN } from '../model/spec.ts';

export { ARRAY_MAX_CHILDREN };

/** One group of a mapped Batch task: at most {@link ARRAY_MAX_CHILDREN} map indexes, submitted together. */
export interface ArrayRef {
  /** The run's DAG and run id (run ids are unique per DAG). */
  dagId: string;
  runId: string;
  taskId: string;
  group: number;
}

/** The map indexes of a group: `first` to `first + count - 1`. */
export interface GroupRange {
  group: number;
  first: number;
  count: number;
}

function checkMax(max: number): void {
  if (!Number.isInteger(max) || max < 1 || max > ARRAY_MAX_CHILDREN) throw new RangeError(`array size limit must be an integer from 1 to ${ARRAY_MAX_CHILDREN}, got ${max}`);
}

/** The groups of a mapped task of `n` instances, in order. */
export function arrayGroups(n: number, max = ARRAY_MAX_CHILDREN): GroupRange[] {
  checkMax(max);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`instance count must be a non-negative integer, got ${n}`);
  const out: GroupRange[] = [];
  for (let first = 0, group = 0; first < n; first += max, group++) out.push({ group, first, count: Math.min(max, n - first) });
  return out;
}

/** The group a map index belongs to. */
export function groupOf(mapIndex: number, max = ARRAY_MAX_CHILDREN): number {
  checkMax(max);
  return Math.floor(mapIndex / max);
}

/** The map index range `[from, to)` of a group (`to` is capped by the task's instance count when known). */
export function groupBounds(group: number, max = ARRAY_MAX_CHILDREN, n = Infinity): { from: number; to: number } {
  checkMax(max);
  return { from: group * max, to: Math.min(n, (group + 1) * max) };
}

/** The Batch array size for a wave of `k` children: `null` (a plain job) for one. */
export function arraySizeFor(k: number): number | null {
  if (!Number.isInteger(k) || k < 1 || k > ARRAY_MAX_CHILDREN) throw new RangeError(`a wave has 1 to ${ARRAY_MAX_CHILDREN} children, got ${k}`);
  return k === 1 ? null : k;
}

/** How one child of a wave ended. */
export interface ChildOutcome {
  mapIndex: number;
  /** The child's job id (`<array job id>:<child index>`, or the job id of a wave of one). */
  jobId: string;
  status: 'SUCCEEDED' | 'FAILED';
  exitCode: number | null;
  reason: string | null;
}

/** What Batch said about the children of a finished wave (only the failed ones need to be listed). */
export interface WaveResult {
  /** The array job's id (the plain job's, for a wave of one). */
  jobId: string;
  jobName: string;
  /** SUCCEEDED when every child succeeded. */
  status: 'SUCCEEDED' | 'FAILED';
  /** Children that failed, by child index, with their exit code and reason. */
  failed: ReadonlyMap<number, { exitCode: number | null; reason: string | null }>;
  /** For a wave of one, or when the whole array failed without children (e.g. refused): the job's reason. */
  reason: string | null;
  /** Exit codes of succeeded children when known (default 0). */
  exitCodes?: ReadonlyMap<number, number | null>;
}

/** The id of child `i` of an array job (of the job itself for a wave of one). */
export function childJobId(arrayJobId: string, childIndex: number, waveSize: number): string {
  return waveSize === 1 ? arrayJobId : `${arrayJobId}:${childIndex}`;
}

/** The child index in a child job id `<array job id>:<i>`, or null. */
export function childIndexOf(jobId: string): number | null {
  const m = /:(\d+)$/.exec(jobId);
  return m ? Number(m[1]) : null;
}

/**
 * Each wave member's outcome, by child index: child `i` is `mapIndexes[i]`. A child listed in `failed`
 * failed; a wave that failed without naming any failed child (the submission failed, or the job was
 * refused) failed as a whole; every other child succeeded.
 */
export function childOutcomes(mapIndexes: readonly number[], result: WaveResult): ChildOutcome[] {
  const wholeFailed = result.status === 'FAILED' && result.failed.size === 0;
  return mapIndexes.map((mapIndex, i) => {
    const f = result.failed.get(i);
    const jobId = childJobId(result.jobId, i, mapIndexes.length);
    if (f || wholeFailed) {
      return {
        mapIndex,
        jobId,
        status: 'FAILED',
        exitCode: f?.exitCode ?? null,
        reason: f?.reason ?? result.reason ?? 'the array job failed',
      };
    }
    return { mapIndex, jobId, status: 'SUCCEEDED', exitCode: result.exitCodes?.get(i) ?? 0, reason: null };
  });
}

/** Every child of a wave failed with `reason` (its items could not be prepared, or it could not be submitted). */
export function failedWave(mapIndexes: readonly number[], reason: string): ChildOutcome[] {
  const failed = new Map(mapIndexes.map((_, i) => [i, { exitCode: null, reason }]));
  return childOutcomes(mapIndexes, { jobId: '', jobName: '', status: 'FAILED', failed, reason });
}

/**
 * The name of the array job of a wave: deterministic, so that a retried submission finds the job a lost
 * response created instead of starting it twice. At most 128 characters of `[A-Za-z0-9_-]`.
 */
export function waveJobName(dagId: string, a: ArrayRef, tryNumber: number): string {
  const base = `${dagId}-${a.taskId}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const tail = `-${sha256(a.runId).slice(0, 12)}-g${a.group}-try${tryNumber}`;
  return base.slice(0, 128 - tail.length) + tail;
}

/** The name of a plain Batch job of a task instance's try: deterministic, as {@link waveJobName}. */
export function batchJobName(dagId: string, taskId: string, mapIndex: number, runId: string, tryNumber: number): string {
  return `${dagId}-${taskId}-${mapIndex >= 0 ? `${mapIndex}-` : ''}${runId}-try${tryNumber}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128);
}
