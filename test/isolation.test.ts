// What task code does to the process it runs in stays its try's: in worker isolation (the standalone's
// mode) each try runs in a worker thread of its own, and a crash, a hang past its executionTimeout or a
// blown heap fails that try only; in process (the default: `dags test`, breakpoints), an uncaught
// exception or unhandled rejection of task code fails the try whose code caused it. Either way the runner
// keeps nothing per run or per try once its runs have ended.
import { formatError } from '../lib/error-info.ts';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dag, task } from '../lib/index.ts';
import { loadDagBag, type DagBag } from '../lib/dagbag/dag-bag.ts';
import { FakeClock } from '../lib/runner/clock.ts';
import { guardInstalled } from '../lib/runner/crash-guard.ts';
import { LocalRunner, type LocalRunnerOptions, type RunReport } from '../lib/runner/local-runner.ts';
import { pipelineScopeOf, type LogLine, type RunRef, type TaskInstanceRecord } from '../lib/store/records.ts';
import { SqliteStateStore } from '../lib/store/sqlite-store.ts';
import type { StateStore } from '../lib/store/state-store.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const TMP = mkdtempSync(path.join(tmpdir(), 'airless-isolation-'));
const runners: LocalRunner[] = [];
const stores: SqliteStateStore[] = [];

afterEach(() => {
  for (const r of runners.splice(0)) r.close();
  for (const s of stores.splice(0)) s.close();
});
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

let folders = 0;
/** A DAGs folder as a user's project has it (ES modules importing the 'airless' package, here this checkout). */
function dagsFolder(files: Record<string, string>): string {
  const dir = path.join(TMP, `dags-${++folders}`);
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(ROOT, path.join(dir, 'node_modules', 'airless'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

async function bagOf(files: Record<string, string>): Promise<DagBag> {
  const bag = await loadDagBag(dagsFolder(files));
  expect(bag.importErrors).toEqual([]);
  return bag;
}

/** A runner on a SQLite store of its own file (the standalone's store), time-skipping, tries in worker threads. */
function isolated(bag: DagBag, options: Partial<LocalRunnerOptions> = {}): LocalRunner {
  const store = new SqliteStateStore({ path: path.join(mkdtempSync(path.join(TMP, 'db-')), 'airless.db') });
  stores.push(store);
  const r = new LocalRunner({ dags: bag, store, clock: new FakeClock(Date.UTC(2026, 0, 1)), isolation: 'worker', ...options });
  runners.push(r);
  return r;
}

function inProcess(options: LocalRunnerOptions): LocalRunner {
  const r = new LocalRunner({ clock: new FakeClock(Date.UTC(2026, 0, 1)), ...options });
  runners.push(r);
  return r;
}

async function ti(store: StateStore, run: RunRef, taskId: string, mapIndex = -1): Promise<TaskInstanceRecord> {
  const t = await store.getTaskInstance({ dagId: run.dagId, runId: run.runId, taskId, mapIndex });
  if (!t) throw new Error(`no instance ${taskId}`);
  return t;
}

/** Each task's state, its tries' errors (oldest first) and its XCom. */
async function outcome(r: LocalRunner, report: RunReport): Promise<Record<string, { state: string | null; errors: (string | null)[]; value: unknown }>> {
  const out: Record<string, { state: string | null; errors: (string | null)[]; value: unknown }> = {};
  for (const t of report.tasks) {
    const run = { dagId: report.dagId, runId: report.runId };
    const rec = await ti(r.store, run, t.taskId);
    const errors = [...(rec.history ?? []).map((h) => h.error), ...(rec.state === 'failed' ? [rec.error] : [])].map((e) => e && formatError(e));
    out[t.taskId] = { state: t.state, errors, value: (await r.store.getXCom(run, t.taskId, -1, 'return_value'))?.value ?? null };
  }
  return out;
}

const messages = (lines: LogLine[]) => lines.map((l) => `${l.level} ${l.message}`);

const zero = { liveRuns: 0, runTrees: 0, runWaiters: 0, timers: 0, tries: 0, workers: 0, batchJobs: 0 };

const CRASHES = `import { dag, task } from 'airless';
export const crashes = dag({ dagId: 'iso_crashes', defaultArgs: { retries: 1, retryDelay: '1m' } }, () => {
  task('rejects', () => {
    void Promise.reject(new Error('x'));
    return 1;
  });
  task('throws_in_timer', async () => {
    setTimeout(() => {
      throw new Error('thrown in a timer');
    }, 1);
    await new Promise((r) => setTimeout(r, 60_000));
    return 2;
  });
  const steady = task('steady', async () => {
    await new Promise((r) => setTimeout(r, 300));
    return 'steady';
  });
  task('after', (_ctx, s: string) => s + '!')(steady);
});
`;

describe("worker isolation: a try's crash, hang or heap is its own", () => {
  it('an unhandled rejection or an exception thrown in a timer fails that try with its error; its retry too; the other tries go on', async () => {
    const r = isolated(await bagOf({ 'crashes.ts': CRASHES }));
    const report = await r.run({ dagId: 'iso_crashes' });
    expect(report.state).toBe('failed');
    expect(await outcome(r, report)).toEqual({
      rejects: { state: 'failed', errors: ['Error: x', 'Error: x'], value: null },
      throws_in_timer: { state: 'failed', errors: ['Error: thrown in a timer', 'Error: thrown in a timer'], value: null },
      steady: { state: 'success', errors: [], value: 'steady' },
      after: { state: 'success', errors: [], value: 'steady!' },
    });
    const log = messages(await r.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'rejects', mapIndex: -1 }, 2));
    expect(log.map((m) => m.split('\n')[0])).toEqual(['info starting try 2 of 2', 'error Error: x']);
    // The error's line carries the traceback of the task's code (the DAG file's frame, in the worker).
    expect(log[1]).toMatch(/\n {4}at .*crashes\.ts:\d+:\d+/);
    expect(r.errors).toEqual([]);
    expect(r.bookkeeping).toEqual(zero);
  });

  it('a try that blocks its thread past its executionTimeout is terminated (TaskTimeoutError); one that waits is timed out by its own worker', async () => {
    const r = isolated(
      await bagOf({
        'hangs.ts': `import { dag, task } from 'airless';
export const hangs = dag({ dagId: 'iso_hangs' }, () => {
  const spin = task('spin', () => { for (;;) { /* never yields */ } }, { executionTimeout: '200ms' });
  const wait = task('wait', () => new Promise(() => undefined), { executionTimeout: '200ms' });
  task('next', () => 'ran', { triggerRule: 'all_done' }).after(spin, wait);
});
`,
      }),
      { isolation: { mode: 'worker', graceMs: 100 } },
    );
    const report = await r.run({ dagId: 'iso_hangs' });
    expect(await outcome(r, report)).toEqual({
      spin: { state: 'failed', errors: ['TaskTimeoutError: execution timeout: the try ran longer than 200 ms (its worker thread did not end within 100 ms more and was terminated)'], value: null },
      wait: { state: 'failed', errors: ['TaskTimeoutError: execution timeout: the try ran longer than 200 ms'], value: null },
      next: { state: 'success', errors: [], value: 'ran' },
    });
    expect(r.bookkeeping).toEqual(zero);
  });

  it('a try that blows its heap fails with an out-of-memory error naming the limit', async () => {
    const r = isolated(
      await bagOf({
        'oom.ts': `import { dag, task } from 'airless';
export const oom = dag({ dagId: 'iso_oom' }, () => {
  const blow = task('blow', () => {
    const kept: number[][] = [];
    for (;;) kept.push(new Array(100_000).fill(1.5));
  });
  task('next', () => 'ran', { triggerRule: 'all_done' }).after(blow);
});
`,
      }),
      { isolation: { mode: 'worker', maxHeapMb: 64 } },
    );
    const report = await r.run({ dagId: 'iso_oom' });
    expect(await outcome(r, report)).toEqual({
      blow: { state: 'failed', errors: ["TaskOutOfMemoryError: the try ran out of memory: its worker thread's heap is limited to 64 MB (the runner's isolation option maxHeapMb)"], value: null },
      next: { state: 'success', errors: [], value: 'ran' },
    });
  });

  it('stopping the runner aborts an isolated try; one that ignores its signal (or blocks its thread) is terminated after the grace', async () => {
    const r = isolated(
      await bagOf({
        'stuck.ts': `import { dag, task } from 'airless';
export const stuck = dag({ dagId: 'iso_stuck' }, () => {
  task('ignores', () => new Promise(() => undefined));
  task('blocks', () => { for (;;) { /* never yields: the abort cannot reach it */ } });
});
`,
      }),
      { isolation: { mode: 'worker', graceMs: 100 } },
    );
    let running = 0;
    const bothRunning = new Promise<void>((resolve) =>
      r.on((e) => {
        if (e.type === 'ti' && e.ti.state === 'running' && ++running === 2) resolve();
      }),
    );
    const run = await r.trigger({ dagId: 'iso_stuck', runId: 'stuck' });
    await bothRunning;
    r.close(new Error('the runner was stopped'));
    const ended = await r.waitForRun({ dagId: run.dagId, runId: run.runId });
    expect(ended.state).toBe('failed');
    for (const taskId of ['ignores', 'blocks']) expect(await ti(r.store, run, taskId)).toMatchObject({ state: 'failed', error: { name: 'Error', message: 'the runner was stopped' } });
    expect(r.bookkeeping).toEqual(zero);
  });

  it('XCom, item results, pipeline saves, console capture and the log work as in process, with the same results', async () => {
    const bag = await bagOf({
      'features.ts': `import { existsSync, writeFileSync } from 'node:fs';
import { dag, task, branch, shortCircuit, sensor } from 'airless';
export const features = dag({ dagId: 'iso_features', params: { n: { type: 'integer', default: 3 }, flag: { type: 'string', default: '' } } }, () => {
  const up = task('up', async (ctx) => {
    console.log('console line', { n: ctx.params.n });
    ctx.log.warn('a warning');
    await ctx.xcomPush('extra', { k: 1 });
    await ctx.pipeline.save('up', { n: ctx.params.n });
    return ctx.params.n;
  });
  const use = task('use', async (ctx, n: number) => {
    const extra = await ctx.xcomPull<{ k: number }>('up', { key: 'extra' });
    const saved = (await ctx.pipeline.load()).stages['up'];
    return { n, extra, saved, try: ctx.tryNumber };
  })(up);
  const items = task('items', async (ctx, x: number) => {
    if (x === 2 && ctx.item?.tryNumber === 1) throw new Error('item 2 fails once');
    return x * 10;
  }).iterate([1, 2, 3], { concurrency: 2, itemRetries: 1 });
  const pick = branch('pick', () => 'left').after(use, items);
  const left = task('left', () => 'left ran');
  const right = task('right', () => 'right ran');
  pick.before(left, right);
  const gate = shortCircuit('gate', () => true).after(left);
  // Done at the second poke (each poke of an isolated sensor is a thread of its own: the flag is a file).
  const wait = sensor('wait', ({ params }) => {
    if (existsSync(params.flag)) return true;
    writeFileSync(params.flag, '');
    return false;
  }, { pokeInterval: '1m', timeout: '1h' });
  wait.after(gate);
});
`,
    });
    const results: { report: RunReport; out: unknown; logs: Record<string, string[]>; saves: unknown }[] = [];
    for (const mode of ['in-process', 'worker'] as const) {
      const r = isolated(bag, { isolation: mode });
      const report = await r.run({ dagId: 'iso_features', runId: 'features', conf: { flag: path.join(TMP, `flag-${mode}`) } });
      const logs: Record<string, string[]> = {};
      for (const t of report.tasks) logs[t.taskId] = messages(await r.store.getLog({ dagId: 'iso_features', runId: 'features', taskId: t.taskId, mapIndex: -1 }, t.tryNumber));
      const saves = (await r.store.listPipelineSaves(pipelineScopeOf({ dagId: 'iso_features', runId: 'features' }))).map(({ time: _t, ...s }) => s);
      results.push({ report, out: await outcome(r, report), logs, saves });
      expect(r.bookkeeping).toEqual(zero);
    }
    const [local, worker] = results;
    expect(worker!.report).toEqual(local!.report);
    expect(worker!.out).toEqual(local!.out);
    expect(worker!.logs).toEqual(local!.logs);
    expect(worker!.saves).toEqual(local!.saves);
    // And what they are, so that "equal" is not "equally empty".
    expect(worker!.out).toMatchObject({
      up: { state: 'success', value: 3 },
      use: { state: 'success', value: { n: 3, extra: { k: 1 }, saved: { n: 3 }, try: 1 } },
      items: { state: 'success', value: [10, 20, 30] },
      pick: { state: 'success', value: ['left'] },
      left: { state: 'success', value: 'left ran' },
      right: { state: 'skipped' },
      gate: { state: 'success', value: true },
      wait: { state: 'success' },
    });
    expect(worker!.logs['up']).toEqual(['info starting try 1 of 1', 'info console line {"n":3}', 'warn a warning', 'info done: success']);
    expect(worker!.logs['items']).toContain('warn item 1 try 1 failed: Error: item 2 fails once; retrying');
  });

  it("a run whose DAG file changed since it started goes on in the runner's process with its own version, and its log says so", async () => {
    const v1 = `import { dag, task } from 'airless';
export const edited = dag({ dagId: 'iso_edited' }, () => {
  const t1 = task('t1', () => 'v1');
  task('t2', (_ctx, s: string) => s + ' then v1')(t1);
});
`;
    const bag = await bagOf({ 'edited.ts': v1 });
    const version = bag.getDag('iso_edited')!.spec.version;
    // The file now has another structure (a task more); the runner still has version 1 in memory.
    writeFileSync(path.join(bag.folder, 'edited.ts'), v1.replace("(t1);\n", "(t1);\n  task('t3', () => 'new');\n"));
    const r = isolated(bag);
    const report = await r.run({ dagId: 'iso_edited', runId: 'edited' });
    expect(await outcome(r, report)).toEqual({
      t1: { state: 'success', errors: [], value: 'v1' },
      t2: { state: 'success', errors: [], value: 'v1 then v1' },
    });
    const file = path.join(bag.folder, 'edited.ts');
    const log = async (taskId: string) => messages(await r.store.getLog({ dagId: 'iso_edited', runId: 'edited', taskId, mapIndex: -1 }, 1));
    expect(await log('t1')).toEqual([
      'info starting try 1 of 1',
      `warn this try runs in the runner's process, not isolated: its DAG file ${file} (or a module it imports) changed since version ${version} of DAG 'iso_edited', which this run uses, was loaded`,
      'info done: success',
    ]);
    expect(await log('t2')).toEqual([
      'info starting try 1 of 1',
      `warn this try runs in the runner's process, not isolated: its DAG file ${file} no longer defines version ${version} of DAG 'iso_edited', which this run uses`,
      'info done: success',
    ]);
  });
});

/** Run `fn` with the test runner's own crash handlers set aside (they report any crash as the test's). */
async function withoutTestRunnerHandlers<T>(fn: () => Promise<T>): Promise<T> {
  const events = process as unknown as NodeJS.EventEmitter;
  const kinds = ['uncaughtException', 'unhandledRejection'];
  const saved = kinds.map((k) => [k, events.listeners(k) as ((...a: unknown[]) => void)[]] as const);
  for (const [k, ls] of saved) for (const l of ls) events.removeListener(k, l);
  try {
    return await fn();
  } finally {
    for (const [k, ls] of saved) for (const l of ls) if (!events.listeners(k).includes(l)) events.on(k, l);
  }
}

describe("in process: a crash of task code fails the try whose code caused it (the process's handlers, for the runner's lifetime)", () => {
  it('several tries at once: each crash is blamed on its own try by its async context; the others succeed', async () => {
    await withoutTestRunnerHandlers(async () => {
      const d = dag({ dagId: 'inproc_crashes' }, () => {
        task('rejects', () => {
          void Promise.reject(new Error('x'));
          return 1;
        });
        task('throws_in_timer', async () => {
          setTimeout(() => {
            throw new Error('thrown in a timer');
          }, 5);
          await new Promise((r) => setTimeout(r, 60_000).unref());
          return 2;
        });
        task('steady', async () => {
          await new Promise((r) => setTimeout(r, 50));
          return 'steady';
        });
      });
      const r = inProcess({ dags: [d] });
      expect(guardInstalled()).toBe(true);
      const report = await r.run({ dagId: 'inproc_crashes' });
      expect(await outcome(r, report)).toEqual({
        rejects: { state: 'failed', errors: ['Error: x'], value: null },
        throws_in_timer: { state: 'failed', errors: ['Error: thrown in a timer'], value: null },
        steady: { state: 'success', errors: [], value: 'steady' },
      });
      expect(r.errors).toEqual([]);
      r.close();
    });
    expect(guardInstalled()).toBe(false);
  });

  it('a crash of code whose try has ended is reported (an internal error naming the task), and fails nothing', async () => {
    await withoutTestRunnerHandlers(async () => {
      const d = dag({ dagId: 'inproc_late' }, () => {
        task('leaves_a_timer', () => {
          setTimeout(() => {
            throw new Error('late');
          }, 30);
          return 'returned';
        });
      });
      const r = inProcess({ dags: [d] });
      const reported = new Promise<void>((resolve) => r.on((e) => e.type === 'error' && resolve()));
      const report = await r.run({ dagId: 'inproc_late' });
      expect(report.state).toBe('success');
      await reported;
      expect(r.errors).toEqual([{ run: { dagId: 'inproc_late', runId: report.runId }, where: "task 'leaves_a_timer' (its code, after try 1 ended)", error: 'Error: late' }]);
      expect((await r.store.getRun({ dagId: 'inproc_late', runId: report.runId }))?.state).toBe('success');
      r.close();
    });
  });
});

describe('the runner keeps nothing per run or per try once its runs have ended', () => {
  it('timers, waiters, tries, triggered-run trees and local Batch jobs all go back to zero', async () => {
    const child = dag({ dagId: 'kept_child' }, () => {
      task('c', () => 'child');
    });
    let flaky = 0;
    const parent = dag({ dagId: 'kept_parent', defaultArgs: { retryDelay: '1m' } }, ({ triggerDag, sensor, batchJob }) => {
      const t = triggerDag('trigger', { triggerDagId: 'kept_child' });
      const s = sensor('poke', () => true, { pokeInterval: '1m' });
      const b = batchJob('job', { jobQueue: 'q', jobDefinition: 'd', local: { simulate: { duration: '1m' } } });
      task(
        'flaky',
        () => {
          if (++flaky === 1) throw new Error('once');
          return 'ok';
        },
        { retries: 1 },
      ).after(t, s, b);
    });
    for (const isolation of ['in-process', 'worker'] as const) {
      flaky = 0;
      const r = inProcess({ dags: [parent, child], isolation });
      let peak = { tries: 0, runTrees: 0, batchJobs: 0, liveRuns: 0 };
      r.on(() => {
        const b = r.bookkeeping;
        peak = { tries: Math.max(peak.tries, b.tries), runTrees: Math.max(peak.runTrees, b.runTrees), batchJobs: Math.max(peak.batchJobs, b.batchJobs), liveRuns: Math.max(peak.liveRuns, b.liveRuns) };
      });
      for (const runId of ['one', 'two']) {
        const report = await r.run({ dagId: 'kept_parent', runId });
        expect(report.state).toBe('success');
        expect(report.triggeredRuns?.map((c) => [c.dagId, c.state])).toEqual([['kept_child', 'success']]);
        expect(r.bookkeeping).toEqual(zero);
      }
      // The report of an ended run still lists the runs it triggered (from the store).
      expect((await r.report({ dagId: 'kept_parent', runId: 'one' })).triggeredRuns?.map((c) => c.dagId)).toEqual(['kept_child']);
      expect(peak.tries).toBeGreaterThan(0);
      expect(peak.runTrees).toBeGreaterThan(0);
      expect(peak.batchJobs).toBeGreaterThan(0);
      expect(peak.liveRuns).toBeGreaterThan(0);
      expect(r.bookkeeping).toEqual(zero);
    }
  });

  it('internal errors are kept, the latest 1000', async () => {
    const d = dag({ dagId: 'noisy' }, () => {
      task('t', () => 1);
    });
    const r = inProcess({ dags: [d] });
    const emit = (r as unknown as { emit(e: unknown): void }).emit.bind(r);
    for (let i = 0; i < 1005; i++) emit({ type: 'error', run: null, where: 'test', error: new Error(`e${i}`) });
    expect(r.errors).toHaveLength(1000);
    expect(r.errors[0]!.error).toBe('Error: e5');
  });
});

describe('airless dags test (the real CLI): a crash of task code fails its try, the command goes on', () => {
  it('reports the run with the crashed try failed with its error, and the other tasks run', async () => {
    const dir = dagsFolder({ 'crashes.ts': CRASHES.replace("defaultArgs: { retries: 1, retryDelay: '1m' }", 'defaultArgs: { retries: 0 }') });
    const home = mkdtempSync(path.join(TMP, 'home-'));
    const env: NodeJS.ProcessEnv = { ...process.env, AIRLESS_HOME: home, NO_COLOR: '1' };
    delete env['FORCE_COLOR'];
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      execFile(path.join(ROOT, 'node_modules/.bin/node'), ['bin/airless.js', '--dags-folder', dir, 'dags', 'test', 'iso_crashes', '--json'], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
      ),
    );
    expect(r.stderr).not.toMatch(/thrown in a timer|Error: x/);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as RunReport;
    expect(report.tasks.map((t) => [t.taskId, t.state])).toEqual([
      ['rejects', 'failed'],
      ['throws_in_timer', 'failed'],
      ['steady', 'success'],
      ['after', 'success'],
    ]);
    const logs: Record<string, string> = {};
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = path.join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (f.endsWith('.log')) logs[/task_id=([^/]+)/.exec(p)![1]!] = readFileSync(p, 'utf8');
      }
    };
    walk(home);
    expect(logs['rejects']).toMatch(/ERROR.*Error: x$/m);
    expect(logs['throws_in_timer']).toMatch(/ERROR.*Error: thrown in a timer$/m);
  }, 90_000);
});
