import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import type { TiKey } from '../store/records.ts';
import type { BatchBackend, BatchJobStatus, BatchSubmission } from './batch-backend.ts';

interface Job {
  status: BatchJobStatus;
  owner: { key: TiKey; tryNumber: number };
}

export interface LocalBatchOptions {
  now(): number;
  setTimer(at: number, fn: () => void): void;
  /** A job ended: wake the task waiting on it. */
  onDone(owner: { key: TiKey; tryNumber: number }, status: BatchJobStatus): void;
  /** Track work in flight (child processes) so a fake clock does not skip past it. */
  track?(p: Promise<unknown>): unknown;
  /** Keep at most this many bytes of a job's output. Default 64 KiB. */
  maxOutputBytes?: number;
}

/**
 * Batch jobs on a laptop: `command` runs as a child process (array jobs: one process per child, with
 * AWS_BATCH_JOB_ARRAY_INDEX set), or a simulated job ends after its duration on the runner's clock.
 * Submission is idempotent per try of a task instance: submitting the same try again returns its job.
 */
export class LocalBatch implements BatchBackend {
  private readonly jobs = new Map<string, Job>();
  /** Submissions by owner (run, task, map index, try): a resubmitted try gets its job back, a new try a new job. */
  private readonly byOwner = new Map<string, string>();
  constructor(private readonly o: LocalBatchOptions) {}

  async submit(job: BatchSubmission, owner: { key: TiKey; tryNumber: number }): Promise<string> {
    const ownerKey = `${owner.key.runId}\u0000${owner.key.taskId}\u0000${owner.key.mapIndex}\u0000${owner.tryNumber}`;
    const existing = this.byOwner.get(ownerKey);
    if (existing) return existing;
    const jobId = randomUUID();
    const rec: Job = {
      status: { jobId, jobName: job.jobName, status: 'RUNNING', exitCode: null, reason: null, childExitCodes: null, output: '' },
      owner,
    };
    this.jobs.set(jobId, rec);
    this.byOwner.set(ownerKey, jobId);
    if (job.local.mode === 'simulate') {
      const sim = job.local;
      const h = createHash('sha1').update(job.jobName).digest();
      const jitter = sim.durationJitterMs > 0 ? h.readUInt32BE(0) % (sim.durationJitterMs + 1) : 0;
      this.o.setTimer(this.o.now() + sim.durationMs + jitter, () => {
        const codes = job.arraySize ? Array.from({ length: job.arraySize }, () => sim.exitCode) : null;
        this.end(rec, sim.exitCode, codes, sim.exitCode === 0 ? null : `simulated exit code ${sim.exitCode}`);
      });
    } else {
      if (!job.command || job.command.length === 0) {
        this.end(rec, null, null, `job ${job.jobName} has no command to run locally (give 'command', or local: { simulate })`);
        return jobId;
      }
      const children = job.arraySize ?? 1;
      const runs = Array.from({ length: children }, (_, i) => this.runProcess(job, jobId, job.arraySize ? i : null, rec));
      const all = Promise.all(runs).then((codes) => {
        const failed = codes.find((c) => c !== 0);
        this.end(rec, failed ?? 0, job.arraySize ? codes : null, failed === undefined ? null : `Essential container in task exited (exit code ${failed})`);
      });
      void (this.o.track ? this.o.track(all) : all);
    }
    return jobId;
  }

  private runProcess(job: BatchSubmission, jobId: string, index: number | null, rec: Job): Promise<number | null> {
    const max = this.o.maxOutputBytes ?? 65_536;
    return new Promise((resolve) => {
      const [cmd, ...args] = job.command!;
      const env: NodeJS.ProcessEnv = { ...process.env, ...job.environment, AWS_BATCH_JOB_ID: index === null ? jobId : `${jobId}:${index}` };
      if (index !== null) env['AWS_BATCH_JOB_ARRAY_INDEX'] = String(index);
      const child = spawn(cmd!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const add = (b: Buffer) => {
        if (rec.status.output.length < max) rec.status.output += (index === null ? '' : `[${index}] `) + b.toString('utf8');
      };
      child.stdout.on('data', add);
      child.stderr.on('data', add);
      child.on('error', (e) => {
        add(Buffer.from(`could not start '${cmd}': ${e.message}\n`));
        resolve(127);
      });
      child.on('close', (code) => resolve(code));
    });
  }

  private end(rec: Job, exitCode: number | null, childExitCodes: (number | null)[] | null, reason: string | null): void {
    rec.status = { ...rec.status, status: reason === null ? 'SUCCEEDED' : 'FAILED', exitCode, childExitCodes, reason };
    this.o.onDone(rec.owner, rec.status);
  }

  async describe(jobId: string): Promise<BatchJobStatus | undefined> {
    const j = this.jobs.get(jobId);
    return j ? { ...j.status } : undefined;
  }

  isDone(jobId: string): boolean {
    const s = this.jobs.get(jobId)?.status.status;
    return s === 'SUCCEEDED' || s === 'FAILED';
  }
}
