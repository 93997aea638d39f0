import { batchJobName } from '../../core/arrays.ts';
import { NonRetriableError } from '../../errors.ts';
import type { BatchTaskSpec } from '../../model/spec.ts';
import type { TryResult } from '../../core/events.ts';
import type { BatchJobStatus, BatchSubmission } from '../batch-backend.ts';
import type { KindRunner, TryOf, TryTools } from './kind-runner.ts';

/** The job a Batch task instance submits: its static fields, overridden by its input (e.g. per map index). */
export async function batchSubmission({ dag, run, spec, ti }: TryOf<BatchTaskSpec>, tools: Pick<TryTools, 'input' | 'resolve'>): Promise<BatchSubmission> {
  const b = spec.batch;
  const input = ((await tools.input()) ?? {}) as Record<string, unknown>;
  if (typeof input !== 'object' || Array.isArray(input)) throw new NonRetriableError(`batchJob input must be an object of job fields`);
  // Deterministic per try: a resubmission after a lost response finds the same job.
  const name = batchJobName(dag.dagId, spec.taskId, ti.mapIndex, run.runId, ti.tryNumber);
  return {
    jobName: (input['jobName'] as string | undefined) ?? b.jobName ?? name,
    jobQueue: (input['jobQueue'] as string | undefined) ?? b.jobQueue,
    jobDefinition: (input['jobDefinition'] as string | undefined) ?? b.jobDefinition,
    command: ((input['command'] as string[] | undefined) ?? (await tools.resolve(b.command)) ?? null) as string[] | null,
    environment: { ...(((await tools.resolve(b.environment)) ?? {}) as Record<string, string>), ...((input['environment'] as Record<string, string> | undefined) ?? {}) },
    containerOverrides: ((input['containerOverrides'] as Record<string, unknown> | undefined) ?? (await tools.resolve(b.containerOverrides)) ?? null) as Record<string, unknown> | null,
    arraySize: (input['arraySize'] as number | undefined) ?? b.arraySize,
    local: b.local,
  };
}

/** The outcome of a finished Batch job (or of an error submitting or watching it). */
export async function batchOutcome(job: BatchJobStatus | { error: string }, tools: Pick<TryTools, 'write' | 'storeResult'>): Promise<TryResult> {
  if ('error' in job) throw new Error(`Batch job could not be run: ${job.error}`);
  if (job.output) for (const line of job.output.split('\n')) if (line) tools.write('info', line);
  if (job.status !== 'SUCCEEDED') throw new Error(`Batch job ${job.jobName} (${job.jobId}) failed: ${job.reason ?? `exit code ${job.exitCode}`}`);
  tools.write('info', `Batch job ${job.jobName} (${job.jobId}) succeeded`);
  await tools.storeResult({ jobId: job.jobId, jobName: job.jobName, status: job.status, exitCode: job.exitCode, childExitCodes: job.childExitCodes });
  return { kind: 'success' };
}

/**
 * `batchJob()` run by the runner (locally, or deployed in poll mode): the first step submits the job and
 * defers on it (`externalId`); a step after the job ended gives its outcome. (Deployed in sync mode, the
 * lifecycle's `batch_prepare` / `batch_complete` steps use {@link batchSubmission} / {@link batchOutcome}.)
 */
export const batchRunner: KindRunner<BatchTaskSpec> = {
  runsCode: false,
  async runTry(t, tools) {
    const { ti } = t;
    if (ti.externalId) {
      const st = await tools.batch.describe(ti.externalId);
      if (!st) throw new Error(`Batch job ${ti.externalId} is unknown to the Batch backend`);
      if (st.status === 'SUCCEEDED' || st.status === 'FAILED') return batchOutcome(st, tools);
      return { kind: 'defer', until: null, externalId: st.jobId };
    }
    const job = await batchSubmission(t, tools);
    const jobId = await tools.batch.submit(job, { key: { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex }, tryNumber: ti.tryNumber });
    tools.write('info', `submitted Batch job ${job.jobName} (${jobId})${job.command ? `: ${job.command.join(' ')}` : ''}`);
    return { kind: 'defer', until: null, externalId: jobId };
  },
};
