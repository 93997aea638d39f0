import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import type { WaveResult } from '../core/arrays.ts';
import type { BatchBackend, BatchJobStatus, BatchOwner, BatchSubmission } from './batch-backend.ts';
import type { RunRef, TiKey } from '../store/records.ts';

interface Job {
  status: BatchJobStatus;
  owner: BatchOwner;
  queue: string | null;
  /** Still waiting to start (RUNNABLE): `stopRunnable` may end it. */
  waiting: boolean;
  /** Its child processes running, by child index (0 for a plain job). */
  procs: Map<number, ChildProcess>;
  /** Why it was stopped (its run stopped, its instance marked), when it was. */
  stopReason: string | null;
}

export interface LocalBatchOptions {
  now(): number;
  setTimer(at: number, fn: () => void): void;
  /** A job ended: wake the task (or the array wave) waiting on it. */
  onDone(owner: BatchOwner, status: BatchJobStatus): void;
  /** Track work in flight (child processes) so a fake clock does not skip past it. */
  track?(p: Promise<unknown>): unknown;
  /** Keep at most this many bytes of a job's output. Default 64 KiB. */
  maxOutputBytes?: number;
}

function fraction(text: string): number {
  return createHash('sha1').update(text).digest().readUInt32BE(0) / 0x1_0000_0000;
}

/**
 * Batch jobs on a laptop: `command` runs as a child process (array jobs: one process per child, with
 * AWS_BATCH_JOB_ARRAY_INDEX set and the child's own command and environment when it has one), or a
 * simulated job ends after its duration on the runner's clock (each child its own, from its name's hash).
 * Submission is idempotent per owner: the same try of a task instance, or the same wave of an array
 * group, gets its job back.
 */
export class LocalBatch implements BatchBackend {
  private readonly jobs = new Map<string, Job>();
  /** Submissions by owner: a resubmitted try gets its job back, a new try a new job. */
  private readonly byOwner = new Map<string, string>();
  /** Why each failed child of a job failed, when not its exit code (a timeout). */
  private readonly childReasons = new Map<string, Map<number, string>>();
  constructor(private readonly o: LocalBatchOptions) {}

  async submit(job: BatchSubmission, owner: BatchOwner): Promise<string> {
    const who = owner.wave ? `g${owner.wave.array.group}` : String(owner.key.mapIndex);
    const ownerKey = `${owner.key.dagId}\u0000${owner.key.runId}\u0000${owner.key.taskId}\u0000${who}\u0000${owner.tryNumber}`;
    const existing = this.byOwner.get(ownerKey);
    if (existing) return existing;
    const jobId = randomUUID();
    const runnableMs = job.local.mode === 'simulate' ? (job.local.runnableMs ?? 0) : 0;
    const rec: Job = {
      status: { jobId, jobName: job.jobName, status: runnableMs > 0 ? 'SUBMITTED' : 'RUNNING', exitCode: null, reason: null, childExitCodes: null, output: '' },
      owner,
      queue: job.jobQueue,
      waiting: runnableMs > 0,
      procs: new Map(),
      stopReason: null,
    };
    this.jobs.set(jobId, rec);
    this.byOwner.set(ownerKey, jobId);
    const start = () => {
      if (!rec.waiting) return; // stopped while RUNNABLE
      rec.waiting = false;
      rec.status = { ...rec.status, status: 'RUNNING' };
      this.start(job, jobId, rec);
    };
    if (runnableMs > 0) this.o.setTimer(this.o.now() + runnableMs, start);
    else this.start(job, jobId, rec);
    return jobId;
  }

  private start(job: BatchSubmission, jobId: string, rec: Job): void {
    const limitMs = job.attemptDurationSeconds ? job.attemptDurationSeconds * 1000 : Infinity;
    const timedOut = `Job attempt duration exceeded timeout (${job.attemptDurationSeconds ?? 0} s)`;
    if (job.local.mode === 'simulate') {
      const sim = job.local;
      const children = job.arraySize ?? 1;
      let longest = 0;
      const late = new Map<number, string>();
      for (let i = 0; i < children; i++) {
        const jitter = sim.durationJitterMs > 0 ? Math.floor(fraction(job.arraySize ? `${job.jobName}:${i}` : job.jobName) * (sim.durationJitterMs + 1)) : 0;
        const d = sim.durationMs + jitter;
        if (d > limitMs) late.set(i, timedOut);
        longest = Math.max(longest, Math.min(d, limitMs));
      }
      if (late.size) this.childReasons.set(jobId, late);
      this.o.setTimer(this.o.now() + longest, () => {
        const codes = job.arraySize ? Array.from({ length: job.arraySize }, (_, i) => (late.has(i) ? null : sim.exitCode)) : null;
        const failed = sim.exitCode !== 0 || late.size > 0;
        const reason = !failed ? null : job.arraySize === null && late.size ? timedOut : sim.exitCode !== 0 ? `simulated exit code ${sim.exitCode}` : timedOut;
        this.end(rec, late.size && !job.arraySize ? null : sim.exitCode, codes, reason);
      });
      return;
    }
    const children = job.arraySize ?? 1;
    const commandOf = (i: number) => job.children?.[i]?.command ?? job.command;
    if (Array.from({ length: children }, (_, i) => commandOf(i)).some((c) => !c || c.length === 0)) {
      this.end(rec, null, null, `job ${job.jobName} has no command to run locally (give 'command', or local: { simulate })`);
      return;
    }
    const runs = Array.from({ length: children }, (_, i) =>
      this.runProcess(job, jobId, job.arraySize ? i : null, commandOf(i)!, rec, limitMs, () => {
        let m = this.childReasons.get(jobId);
        if (!m) this.childReasons.set(jobId, (m = new Map<number, string>()));
        m.set(i, timedOut);
      }),
    );
    const all = Promise.all(runs).then((codes) => {
      const failed = codes.find((c) => c !== 0);
      const reason = failed === undefined ? null : rec.stopReason ?? (failed === null ? timedOut : `Essential container in task exited (exit code ${failed})`);
      this.end(rec, failed ?? 0, job.arraySize ? codes : null, reason);
    });
    void (this.o.track ? this.o.track(all) : all);
  }

  private runProcess(job: BatchSubmission, jobId: string, index: number | null, command: string[], rec: Job, limitMs: number, onTimeout: () => void): Promise<number | null> {
    const max = this.o.maxOutputBytes ?? 65_536;
    return new Promise((resolve) => {
      const [cmd, ...args] = command;
      const own = job.children?.[index ?? 0]?.environment ?? {};
      const env: NodeJS.ProcessEnv = { ...process.env, ...job.environment, ...own, AWS_BATCH_JOB_ID: index === null ? jobId : `${jobId}:${index}` };
      if (index !== null) env['AWS_BATCH_JOB_ARRAY_INDEX'] = String(index);
      const child = spawn(cmd!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      rec.procs.set(index ?? 0, child);
      const add = (b: Buffer) => {
        if (rec.status.output.length < max) rec.status.output += (index === null ? '' : `[${index}] `) + b.toString('utf8');
      };
      child.stdout.on('data', add);
      child.stderr.on('data', add);
      child.on('error', (e) => {
        add(Buffer.from(`could not start '${cmd}': ${e.message}\n`));
        resolve(127);
      });
      let killed = false;
      const timer = Number.isFinite(limitMs)
        ? setTimeout(() => {
            killed = true;
            onTimeout();
            child.kill('SIGKILL');
          }, limitMs)
        : null;
      child.on('close', (code) => {
        if (timer) clearTimeout(timer);
        rec.procs.delete(index ?? 0);
        resolve(killed ? null : code);
      });
    });
  }

  private end(rec: Job, exitCode: number | null, childExitCodes: (number | null)[] | null, reason: string | null): void {
    if (rec.status.status === 'SUCCEEDED' || rec.status.status === 'FAILED') return; // stopped already
    rec.waiting = false;
    rec.status = { ...rec.status, status: reason === null ? 'SUCCEEDED' : 'FAILED', exitCode, childExitCodes, reason };
    this.o.onDone(rec.owner, rec.status);
  }

  async describe(jobId: string): Promise<BatchJobStatus | undefined> {
    const j = this.jobs.get(jobId);
    return j ? { ...j.status } : undefined;
  }

  async waveResult(jobId: string, size: number): Promise<WaveResult> {
    const j = this.jobs.get(jobId);
    if (!j) throw new Error(`Batch job ${jobId} is unknown to the local Batch backend`);
    const s = j.status;
    if (s.status !== 'SUCCEEDED' && s.status !== 'FAILED') throw new Error(`Batch job ${jobId} has not finished (${s.status})`);
    const failed = new Map<number, { exitCode: number | null; reason: string | null }>();
    const exitCodes = new Map<number, number | null>();
    const why = this.childReasons.get(jobId);
    if (s.childExitCodes && size > 1) {
      s.childExitCodes.forEach((code, i) => {
        exitCodes.set(i, code);
        if (code !== 0) failed.set(i, { exitCode: code, reason: why?.get(i) ?? (code === null ? s.reason : `Essential container in task exited (exit code ${code})`) });
      });
    } else if (s.status === 'FAILED') failed.set(0, { exitCode: s.exitCode, reason: s.reason });
    return { jobId, jobName: s.jobName, status: s.status, failed, reason: s.reason, exitCodes };
  }

  async stopRunnable(jobQueue: string | null, jobName: string, reason: string): Promise<number> {
    let stopped = 0;
    for (const j of this.jobs.values()) {
      if (!j.waiting || j.status.jobName !== jobName || j.queue !== jobQueue) continue;
      const size = j.owner.wave?.mapIndexes.length ?? 1;
      this.end(j, null, size > 1 ? Array.from({ length: size }, () => null) : null, reason);
      stopped += size;
    }
    return stopped;
  }

  /**
   * Stop the jobs of a stopped run, or (`only`) of a marked instance's try, as TerminateJob does
   * deployed: their child processes are killed (SIGKILL), a job still waiting to start or simulated ends
   * at once, each FAILED with `reason`. An array wave is stopped whole for its run; for a marked instance,
   * only that instance's child process is killed (its wave's other children run on). Returns how many
   * jobs or children it stopped. Their end is reported as any end (`onDone`): it finds the instances
   * moved already and changes nothing.
   */
  stop(run: RunRef, reason: string, only?: { key: TiKey; tryNumber: number }): number {
    let stopped = 0;
    for (const [jobId, j] of this.jobs) {
      const k = j.owner.key;
      if (k.dagId !== run.dagId || k.runId !== run.runId || this.isDone(jobId)) continue;
      if (only && (k.taskId !== only.key.taskId || j.owner.tryNumber !== only.tryNumber)) continue;
      const wave = j.owner.wave;
      if (only && wave) {
        const child = wave.mapIndexes.indexOf(only.key.mapIndex);
        const proc = j.procs.get(child);
        if (child < 0 || !proc) continue; // a simulated child is no process: it ends with its wave
        let m = this.childReasons.get(jobId);
        if (!m) this.childReasons.set(jobId, (m = new Map<number, string>()));
        m.set(child, reason);
        proc.kill('SIGKILL');
        stopped++;
        continue;
      }
      if (only && k.mapIndex !== only.key.mapIndex) continue;
      j.stopReason = reason;
      const size = wave?.mapIndexes.length ?? 1;
      if (j.procs.size > 0) {
        if (size > 1) {
          let m = this.childReasons.get(jobId);
          if (!m) this.childReasons.set(jobId, (m = new Map<number, string>()));
          for (const child of j.procs.keys()) if (!m.has(child)) m.set(child, reason); // a child marked (and killed) first keeps its reason
        }
        for (const proc of j.procs.values()) proc.kill('SIGKILL');
      } else {
        // Waiting to start, or simulated: nothing runs; it ends now.
        this.end(j, null, size > 1 ? Array.from({ length: size }, () => null) : null, reason);
      }
      stopped++;
    }
    return stopped;
  }

  /** Jobs kept (each until its run ends: see {@link forgetRun}). */
  get size(): number {
    return this.jobs.size;
  }

  /**
   * A run ended: forget its jobs that have ended (a job still running is forgotten when this is called
   * again after it ends). Its tries are over, so nothing asks for them again (a cleared instance's next
   * try is a new owner, with a new job).
   */
  forgetRun(run: RunRef): void {
    for (const [jobId, j] of this.jobs) {
      if (j.owner.key.runId !== run.runId || j.owner.key.dagId !== run.dagId || !this.isDone(jobId)) continue;
      this.jobs.delete(jobId);
      this.childReasons.delete(jobId);
    }
    for (const [owner, jobId] of this.byOwner) if (!this.jobs.has(jobId)) this.byOwner.delete(owner);
  }

  isDone(jobId: string): boolean {
    const s = this.jobs.get(jobId)?.status.status;
    return s === 'SUCCEEDED' || s === 'FAILED';
  }
}
