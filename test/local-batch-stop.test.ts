// Locally, a Batch job runs as child processes (lib/executor/local-batch.ts): a stopped run, or a marked
// instance, has its processes killed, as TerminateJob does deployed. Each process writes its pid (written
// whole, then renamed into place) and sleeps; the stop is made once every pid is there (fs.watch, no
// polling), and after it the processes are gone (signal 0 finds no such process).
import { mkdtempSync, readdirSync, readFileSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Dag } from '../lib/authoring/dag.ts';
import type { BatchJobStatus } from '../lib/executor/batch-backend.ts';
import { LocalBatch } from '../lib/executor/local-batch.ts';
import { batchJob, dag, task } from '../lib/index.ts';
import { markRunState, markTaskInstances } from '../lib/scheduler/operations.ts';
import type { Outcome } from '../lib/scheduler/effects.ts';
import type { Scheduler } from '../lib/scheduler/scheduler.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import { fakeRunner, states } from './helpers.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A command that records its pid in `dir` (by array index, `job` for a plain job), then sleeps long. */
function sleeper(dir: string): string[] {
  return ['sh', '-c', `f="${dir}/\${AWS_BATCH_JOB_ARRAY_INDEX:-job}"; echo $$ > "$f.tmp" && mv "$f.tmp" "$f.pid" && exec sleep 300`];
}

/** Resolves with the pids once `n` processes have recorded theirs in `dir`. */
function pidsOnce(dir: string, n: number): Promise<number[]> {
  return new Promise((resolve) => {
    const read = () => readdirSync(dir).filter((f) => f.endsWith('.pid'));
    const w = watch(dir, () => {
      const files = read();
      if (files.length < n) return;
      w.close();
      resolve(files.map((f) => Number(readFileSync(join(dir, f), 'utf8').trim())));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

function setup(build: (dir: string) => Dag, n: number, stop: (s: Scheduler, runId: string) => Promise<Outcome<unknown>>) {
  const dir = mkdtempSync(join(tmpdir(), 'airless-stop-'));
  dirs.push(dir);
  const d = build(dir);
  const r = fakeRunner([d], { store: new MemoryStateStore(), captureConsole: false });
  const pids = pidsOnce(dir, n);
  const stopped = { pids: [] as number[] };
  return {
    r,
    /** Run the DAG; once its `n` processes run, `stop` it. */
    run: async (runId: string) => {
      const done = r.run({ dagId: d.dagId, runId });
      stopped.pids = await pids;
      expect(stopped.pids.filter(alive)).toHaveLength(n);
      await r.drive((s) => stop(s, runId));
      const report = await done;
      await r.idle();
      return { report, pids: stopped.pids };
    },
  };
}

describe('local Batch: a stop kills the job\'s child processes', () => {
  it('a run marked failed kills its deferred Batch job\'s process', async () => {
    const t = setup(
      (dir) =>
        dag({ dagId: 'lb_stop' }, () => {
          const job = batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', command: sleeper(dir) });
          task('after', () => 'never').after(job);
        }),
      1,
      (s, runId) => markRunState(s, { dagId: 'lb_stop', runId, state: 'failed' }),
    );
    const { report, pids } = await t.run('r1');
    expect(report.state).toBe('failed');
    expect(states(report)).toEqual({ job: 'failed', after: 'skipped' });
    expect(pids.filter(alive)).toEqual([]);
    expect(t.r.errors).toEqual([]);
  });

  it('a run marked failed kills every child process of its array wave', async () => {
    const t = setup(
      (dir) =>
        dag({ dagId: 'lb_stop_array' }, () => {
          const items = task('items', () => [0, 1, 2].map((i) => ({ environment: { ITEM: String(i) } })));
          batchJob('solve', { jobQueue: 'q', jobDefinition: 'jd', command: sleeper(dir) }).expandKwargs(items);
        }),
      3,
      (s, runId) => markRunState(s, { dagId: 'lb_stop_array', runId, state: 'failed' }),
    );
    const { report, pids } = await t.run('r1');
    expect(report.state).toBe('failed');
    expect(states(report)).toEqual({ items: 'success', 'solve[0]': 'failed', 'solve[1]': 'failed', 'solve[2]': 'failed' });
    expect(pids).toHaveLength(3);
    expect(pids.filter(alive)).toEqual([]);
    expect(t.r.errors).toEqual([]);
  });

  it('a running Batch instance marked success has its process killed, and the run goes on', async () => {
    const t = setup(
      (dir) =>
        dag({ dagId: 'lb_mark' }, () => {
          const job = batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', command: sleeper(dir) });
          task('after', () => 'ran').after(job);
        }),
      1,
      (s, runId) => markTaskInstances(s, { dagId: 'lb_mark', runId, taskId: 'job', state: 'success' }),
    );
    const { report, pids } = await t.run('r1');
    expect(report.state).toBe('success');
    expect(states(report)).toEqual({ job: 'success', after: 'success' });
    expect(pids.filter(alive)).toEqual([]);
    expect(t.r.errors).toEqual([]);
  });

  it('a marked array child has its own process killed, the wave\'s others run on until their run is stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airless-stop-'));
    dirs.push(dir);
    let ended: (s: BatchJobStatus) => void = () => undefined;
    const end = new Promise<BatchJobStatus>((resolve) => (ended = resolve));
    const batch = new LocalBatch({ now: () => Date.now(), setTimer: () => undefined, onDone: (_owner, status) => ended(status) });
    const run = { dagId: 'lb', runId: 'r1' };
    const array = { ...run, taskId: 'solve', group: 0 };
    const pids = pidsOnce(dir, 3);
    // Child i runs map index mapIndexes[i]: map index 12 is child 1.
    const owner = { key: { ...run, taskId: 'solve', mapIndex: -1 }, tryNumber: 1, wave: { array, mapIndexes: [10, 12, 11] } };
    const jobId = await batch.submit({ jobName: 'w', jobQueue: 'q', jobDefinition: 'jd', command: sleeper(dir), environment: {}, containerOverrides: null, arraySize: 3, local: { mode: 'process' } }, owner);
    const started = await pids;
    expect(started.filter(alive)).toHaveLength(3);

    expect(batch.stop(run, 'the task instance was marked failed', { key: { ...run, taskId: 'solve', mapIndex: 12 }, tryNumber: 1 })).toBe(1);
    // Another try, or an instance of another task, is not this wave's.
    expect(batch.stop(run, 'no', { key: { ...run, taskId: 'solve', mapIndex: 10 }, tryNumber: 2 })).toBe(0);
    expect(batch.stop(run, 'no', { key: { ...run, taskId: 'other', mapIndex: 10 }, tryNumber: 1 })).toBe(0);
    expect(batch.isDone(jobId)).toBe(false);
    expect(batch.stop(run, 'the run was marked failed')).toBe(1);
    const status = await end;
    expect(status).toMatchObject({ status: 'FAILED', childExitCodes: [null, null, null], reason: 'the run was marked failed' });
    const result = await batch.waveResult(jobId, 3);
    expect([0, 1, 2].map((i) => result.failed.get(i)?.reason)).toStrictEqual(['the run was marked failed', 'the task instance was marked failed', 'the run was marked failed']);
    expect(started.filter(alive)).toEqual([]);
  });
});
