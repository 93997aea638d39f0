import { describe, expect, it } from 'vitest';
import { dag, task } from '../lib/index.ts';
import { FakeClock } from '../lib/runner/clock.ts';
import { LocalRunner, type RunReport } from '../lib/runner/local-runner.ts';
import { clearTaskInstances } from '../lib/scheduler/operations.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import { pipelineScopeOf, type BackfillRecord, type DagRunRecord, type DagVersionEntry, type LogLine, type RunRef, type TaskInstanceRecord, type TiKey } from '../lib/store/records.ts';
import type { FinishRequest, ResetRequest, StateStore, TiUpdate } from '../lib/store/state-store.ts';
import type { TerminalTiState } from '../lib/model/states.ts';
import { cut, parseErrorText as err, serializeError, summarizeError, type ErrorInfo } from '../lib/error-info.ts';
import { NonRetriableError } from '../lib/errors.ts';
import { describeHitlContract } from './store-contract-hitl.ts';

/**
 * The behaviour every StateStore must have, as one suite: `describeStoreContract(name, makeStore)` runs it
 * against a store; `makeStore` gives a fresh (empty) store for each test.
 */

let seq = 0;
/** Ids unique across tests and files (stores may share a table). */
const uid = (p: string) => `${p}-${process.pid}-${Date.now().toString(36)}-${seq++}`;

const T0 = Date.UTC(2026, 0, 1);
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function makeRun(over: Partial<DagRunRecord> = {}): DagRunRecord {
  const runId = over.runId ?? uid('run');
  const dagId = over.dagId ?? 'contract_dag';
  return {
    dagId,
    runId,
    state: 'running',
    runType: 'manual',
    conf: { a: 1, nested: { list: [1, 'two', null] } },
    params: { p: 'x' },
    logicalDate: at(0),
    queuedAt: at(0),
    startDate: at(0),
    endDate: null,
    dagVersion: 'v1',
    pending: 10,
    parent: null,
    pipelineScope: pipelineScopeOf({ dagId, runId }),
    note: null,
    ...over,
  };
}

function makeTi(run: string | RunRef, taskId: string, mapIndex = -1, over: Partial<TaskInstanceRecord> = {}): TaskInstanceRecord {
  return {
    ...runOf(run),
    taskId,
    mapIndex,
    state: 'scheduled',
    tryNumber: 0,
    maxTries: 2,
    queuedAt: null,
    startDate: null,
    endDate: null,
    nextAt: null,
    firstPokeAt: null,
    pokeCount: 0,
    durationMs: null,
    error: null,
    externalId: null,
    resume: false,
    ...over,
  };
}

/** A run by id (of the contract's DAG) or by its identity. */
const runOf = (run: string | RunRef): RunRef => (typeof run === 'string' ? { dagId: 'contract_dag', runId: run } : { dagId: run.dagId, runId: run.runId });
const key = (run: string | RunRef, taskId: string, mapIndex = -1): TiKey => ({ ...runOf(run), taskId, mapIndex });
/** A run of the contract's DAG (or of `dagId`) by id. */
const ref = (runId: string, dagId = 'contract_dag'): RunRef => ({ dagId, runId });

function backfill(dagId: string, backfillId: string, over: Partial<BackfillRecord> = {}): BackfillRecord {
  return {
    backfillId,
    dagId,
    fromDate: at(0),
    toDate: at(60 * 24 * 4),
    reprocessBehavior: 'failed',
    maxActiveRuns: 2,
    conf: { a: [1, { b: null }] },
    state: 'running',
    createdAt: at(1),
    completedAt: null,
    counts: { dates: 5, created: 4, cleared: 1, skipped: 0 },
    ...over,
  };
}
const plain = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** A run in the store with a running instance of `taskId` at try 1. */
async function runWithRunning(s: StateStore, taskId = 't', pending = 10, mapIndex = -1): Promise<DagRunRecord> {
  const run = makeRun({ pending });
  expect(await s.createRun(run)).toBe(true);
  await s.createTaskInstances([makeTi(run, taskId, mapIndex, { state: 'running', tryNumber: 1 })]);
  return run;
}

function finishReq(runId: string, taskId: string, downstream: string[], over: Partial<FinishRequest> = {}): FinishRequest {
  return {
    key: key(runId, taskId),
    expect: { states: ['running'], tryNumber: 1 },
    state: 'success',
    patch: { endDate: at(5), durationMs: 300_000, error: null },
    downstream,
    ...over,
  };
}

/** A large JSON value of about `bytes` bytes. */
function bigValue(bytes: number): { rows: { i: number; s: string }[] } {
  const rows: { i: number; s: string }[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const s = `row ${i} ` + 'x'.repeat(90);
    rows.push({ i, s });
    size += s.length + 16;
  }
  return { rows };
}

// The small DAG of the end-to-end check: a mapped task (12 instances, through a 2-slot pool) feeding a
// join, a task that fails its first try and is retried, an iterated task, XCom, logs, pipeline context.
function e2eDags() {
  return [
    dag({ dagId: 'store_contract_e2e', defaultArgs: { retries: 2, retryDelay: '30s' } }, () => {
      const make = task('make', () => Array.from({ length: 12 }, (_, i) => i));
      const square = task(
        'square',
        (ctx, x: number) => {
          ctx.log.info(`squaring ${x}`);
          return x * x;
        },
        { pool: 'narrow' },
      ).expand(make);
      const flaky = task('flaky', async (ctx) => {
        if (ctx.tryNumber === 1) throw new Error('first try fails');
        await ctx.pipeline.save('flaky', { recoveredOnTry: ctx.tryNumber });
        await ctx.xcomPush('extra', { note: 'pushed' });
        return 'recovered';
      });
      const iter = task('iter', (_c, x: number) => x + 100).iterate([1, 2, 3], { concurrency: 2 });
      const join = task('join', async (ctx, v: { xs: number[]; f: string; it: number[] }) => {
        const saved = await ctx.pipeline.load();
        return { xs: v.xs, f: v.f, it: v.it, stages: saved.stages, extra: await ctx.xcomPull('flaky', { key: 'extra' }) };
      })({ xs: square, f: flaky, it: iter });
      task('only_if_failed', () => 'never', { triggerRule: 'all_failed' }).after(join);
    }),
  ];
}

function taskStates(r: RunReport): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const t of r.tasks) out[t.mapIndex === null ? t.taskId : `${t.taskId}[${t.mapIndex}]`] = `${t.state}/${t.tryNumber}`;
  return out;
}

async function runE2e(store: StateStore): Promise<{ report: RunReport; join: unknown; errors: unknown[] }> {
  const runner = new LocalRunner({ dags: e2eDags(), store, clock: new FakeClock(T0), pools: { narrow: 2 }, captureConsole: false });
  try {
    const report = await runner.run({ dagId: 'store_contract_e2e', runId: uid('e2e') });
    const join = (await store.getXCom(report, 'join', -1, 'return_value'))?.value;
    return { report, join, errors: runner.errors };
  } finally {
    runner.close();
  }
}

/** What a store's suite gives the contract besides fresh stores. */
export interface ContractOptions {
  /**
   * Rewrite an existing instance's error, and the errors of its history's tries, as an older version
   * stored them: `"Name: message"` text (or a skip's reason). Given by the stores that kept errors as text
   * (SQLite, DynamoDB); the contract then checks such a record reads back structured.
   */
  writeTextErrors?: (store: StateStore, key: TiKey, error: string, history: readonly string[]) => Promise<void>;
}

/** A reset of a finished unmapped instance at `tryNumber` back to scheduled (a clear), no downstream. */
function clearOf(run: RunRef, taskId: string, state: TerminalTiState, tryNumber: number): ResetRequest {
  return { key: key(run, taskId), expect: { state, tryNumber }, to: { state: 'scheduled', tryNumber, endDate: null, error: null, durationMs: null, startDate: null }, downstream: [] };
}

/** An error as a try records it: thrown with a cause, serialised with its stack and cause chain. */
function thrownError(): ErrorInfo {
  const cause = new TypeError('socket closed', { cause: { code: 'ECONNRESET' } });
  return serializeError(new NonRetriableError('calibration diverged: "ünïcode"\nsecond line', { cause }));
}

export function describeStoreContract(name: string, makeStore: () => Promise<StateStore> | StateStore, options: ContractOptions = {}): void {
  describe(`StateStore contract: ${name}`, () => {
    /** A version entry of a DAG: its structure hash and bundle derived from the version. */
    const entry = (dagId: string, version: string, fileloc: string | null, over: Partial<DagVersionEntry> = {}): DagVersionEntry => ({
      dagId,
      version,
      structureHash: `s-${version}`,
      bundle: `b-${version}`,
      fileloc,
      ...over,
    });

    // ---------------------------------------------------------------------------------------------
    describe('structured errors', () => {
      it("an instance's error (name, message, stack, cause chain) and its history's errors come back as written", async () => {
        const s = await makeStore();
        const run = makeRun({ pending: 5 });
        await s.createRun(run);
        const error = thrownError();
        expect(error.data?.stack).toMatch(/^NonRetriableError: calibration diverged/);
        expect(error.data?.cause).toMatchObject({ name: 'TypeError', message: 'socket closed', data: { cause: { name: 'NonError', message: '{"code":"ECONNRESET"}' } } });
        const try1 = { tryNumber: 1, state: 'failed' as const, startDate: at(1), endDate: at(2), durationMs: 60_000, error: summarizeError(error, 1000, 500) };
        await s.createTaskInstances([makeTi(run, 't', -1, { state: 'running', tryNumber: 2, history: [try1] })]);
        const fin = await s.finishTaskInstance(finishReq(run.runId, 't', [], { expect: { states: ['running'], tryNumber: 2 }, state: 'failed', patch: { error, endDate: at(3) } }));
        expect(fin?.ti.error).toEqual(error);
        const got = await s.getTaskInstance(key(run, 't'));
        expect(got?.error).toEqual(error);
        expect(got?.history).toEqual([try1]);
        expect((await s.listTaskInstances(run)).find((t) => t.taskId === 't')?.error).toEqual(error);
        // The try goes into the history when the instance is cleared: summarised.
        expect((await s.resetTaskInstances([clearOf(run, 't', 'failed', 2)])).applied).toEqual([true]);
        const h = (await s.getTaskInstance(key(run, 't')))?.history;
        expect(h?.[1]?.error).toEqual({ name: 'NonRetriableError', message: error.message, data: { stack: cut(error.data!.stack!, 500) } });
      });

      it.runIf(options.writeTextErrors)('a record an older version wrote, its errors as text, reads back with name and message apart', async () => {
        const s = await makeStore();
        const run = makeRun({ pending: 5 });
        await s.createRun(run);
        const try1 = { tryNumber: 1, state: 'failed' as const, startDate: at(1), endDate: at(2), durationMs: 60_000, error: null };
        const try2 = { ...try1, tryNumber: 2 };
        const skippedTry = { ...try1, tryNumber: 3, state: 'skipped' as const };
        await s.createTaskInstances([
          makeTi(run, 'failed', -1, { state: 'failed', tryNumber: 4, endDate: at(3), history: [try1, try2, skippedTry] }),
          makeTi(run, 'skipped', -1, { state: 'skipped', endDate: at(3) }),
          makeTi(run, 'unnamed', -1, { state: 'failed', tryNumber: 1, endDate: at(3) }),
        ]);
        const write = options.writeTextErrors!;
        await write(s, key(run, 'failed'), 'TaskTimeoutError: execution timeout: the try ran longer than 60000 ms', ['Error: first: with a colon', 'States.Timeout: {"cause":1}', 'not chosen by branch \'b\'']);
        await write(s, key(run, 'skipped'), "not chosen by branch 'pick'", []);
        await write(s, key(run, 'unnamed'), 'Batch job j-g0-try1 child 7 failed: exit code 7', []);
        const failed = await s.getTaskInstance(key(run, 'failed'));
        expect(failed?.error).toEqual({ name: 'TaskTimeoutError', message: 'execution timeout: the try ran longer than 60000 ms' });
        expect(failed?.history?.map((t) => t.error)).toEqual([
          { name: 'Error', message: 'first: with a colon' },
          { name: 'States.Timeout', message: '{"cause":1}' },
          { name: 'SkipTask', message: "not chosen by branch 'b'" },
        ]);
        expect((await s.getTaskInstance(key(run, 'skipped')))?.error).toEqual({ name: 'SkipTask', message: "not chosen by branch 'pick'" });
        expect((await s.getTaskInstance(key(run, 'unnamed')))?.error).toEqual({ name: 'Error', message: 'Batch job j-g0-try1 child 7 failed: exit code 7' });
        expect((await s.listTaskInstanceRange(run, 'failed', -1, 0))[0]?.error).toEqual(failed?.error);
        // Moved on by this version: the old try goes into the history structured, next to the older ones.
        expect((await s.resetTaskInstances([clearOf(run, 'failed', 'failed', 4)])).applied).toEqual([true]);
        const moved = await s.getTaskInstance(key(run, 'failed'));
        expect(moved?.history?.map((t) => [t.tryNumber, t.error])).toEqual([
          [1, { name: 'Error', message: 'first: with a colon' }],
          [2, { name: 'States.Timeout', message: '{"cause":1}' }],
          [3, { name: 'SkipTask', message: "not chosen by branch 'b'" }],
          [4, { name: 'TaskTimeoutError', message: 'execution timeout: the try ran longer than 60000 ms' }],
        ]);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('runs', () => {
      it('createRun is conditional: a replay returns false and changes nothing', async () => {
        const s = await makeStore();
        const run = makeRun();
        expect(await s.createRun(run)).toBe(true);
        expect(await s.createRun({ ...run, state: 'failed', pending: 99, conf: { other: true } })).toBe(false);
        expect(await s.getRun(run)).toEqual(run);
        expect(await s.getRun(ref(uid('missing')))).toBeUndefined();
      });

      // Top-level fields only: MemoryStateStore copies the record shallowly (conf is shared).
      it('changing what getRun returned never changes the store (a copy, or a frozen version)', async () => {
        const s = await makeStore();
        const run = makeRun({ parent: { dagId: 'p', runId: 'pr', taskId: 'pt', mapIndex: 3, tryNumber: 2 } });
        await s.createRun(run);
        const got = (await s.getRun(run))!;
        const attempt = (f: () => void) => {
          try {
            f();
          } catch (e) {
            expect(e).toBeInstanceOf(TypeError); // frozen
          }
        };
        attempt(() => (got.state = 'failed'));
        attempt(() => (got.pending = -1));
        attempt(() => ((got.parent as { mapIndex: number }).mapIndex = 99));
        expect(await s.getRun(run)).toEqual(run);
      });

      it('updateRun applies only in the expected states, returns the whole record, null expects nothing', async () => {
        const s = await makeStore();
        const run = makeRun({ state: 'queued', startDate: null });
        await s.createRun(run);
        const started = await s.updateRun(run, ['queued'], { state: 'running', startDate: at(1) });
        expect(started).toEqual({ ...run, state: 'running', startDate: at(1) });
        // A replay of the same transition finds the run no longer queued.
        expect(await s.updateRun(run, ['queued'], { state: 'running', startDate: at(2) })).toBeUndefined();
        expect(await s.updateRun(run, ['success', 'failed'], { note: 'nope' })).toBeUndefined();
        expect(await s.getRun(run)).toEqual(started);
        const noted = await s.updateRun(run, null, { note: 'anything goes' });
        expect(noted?.note).toBe('anything goes');
        expect(noted?.state).toBe('running');
        expect(await s.updateRun(ref(uid('missing')), null, { note: 'x' })).toBeUndefined();
      });

      it('listRuns: a DAG’s runs, oldest logical date first, optionally by state; states move with updates', async () => {
        const s = await makeStore();
        const dagId = uid('dag');
        const mk = (min: number, state: DagRunRecord['state']) => makeRun({ dagId, logicalDate: at(min), queuedAt: at(100 - min), state });
        const r3 = mk(3, 'queued');
        const r1 = mk(1, 'success');
        const r2 = mk(2, 'running');
        const r4 = mk(4, 'queued');
        for (const r of [r3, r1, r4, r2]) await s.createRun(r);
        await s.createRun(makeRun({ dagId: uid('other'), logicalDate: at(0), state: 'queued' }));
        const ids = (rs: DagRunRecord[]) => rs.map((r) => r.runId);
        expect(ids(await s.listRuns({ dagId }))).toEqual([r1.runId, r2.runId, r3.runId, r4.runId]);
        expect(ids(await s.listRuns({ dagId, states: ['queued'] }))).toEqual([r3.runId, r4.runId]);
        expect(ids(await s.listRuns({ dagId, states: ['queued', 'running'] }))).toEqual([r2.runId, r3.runId, r4.runId]);
        expect(await s.listRuns({ dagId, states: ['failed'] })).toEqual([]);
        expect(await s.listRuns({ dagId: uid('nothing') })).toEqual([]);
        await s.updateRun(r3, ['queued'], { state: 'running' });
        expect(ids(await s.listRuns({ dagId, states: ['queued'] }))).toEqual([r4.runId]);
        expect(ids(await s.listRuns({ dagId, states: ['running'] }))).toEqual([r2.runId, r3.runId]);
        const listed = await s.listRuns({ dagId, states: ['success'] });
        expect(listed).toEqual([r1]);
      });

      it('listRunsByState: runs of every DAG in a state, oldest queuedAt first', async () => {
        const s = await makeStore();
        const a = makeRun({ dagId: uid('a'), state: 'queued', queuedAt: at(30) });
        const b = makeRun({ dagId: uid('b'), state: 'queued', queuedAt: at(10) });
        const c = makeRun({ dagId: uid('c'), state: 'queued', queuedAt: at(20) });
        const d = makeRun({ dagId: uid('d'), state: 'running', queuedAt: at(5) });
        for (const r of [a, b, c, d]) await s.createRun(r);
        const mine = new Set([a, b, c, d].map((r) => r.runId));
        const ids = async (state: DagRunRecord['state']) => (await s.listRunsByState(state)).filter((r) => mine.has(r.runId)).map((r) => r.runId);
        expect(await ids('queued')).toEqual([b.runId, c.runId, a.runId]);
        expect(await ids('running')).toEqual([d.runId]);
        await s.updateRun(c, ['queued'], { state: 'running' });
        expect(await ids('queued')).toEqual([b.runId, a.runId]);
        expect(await ids('running')).toEqual([d.runId, c.runId]);
        expect((await s.listRunsByState('running')).find((r) => r.runId === c.runId)).toEqual({ ...c, state: 'running' });
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('run ids are per DAG', () => {
      it('two DAGs each have a run of the same id, with separate state in every record kind', async () => {
        const s = await makeStore();
        const runId = uid('scheduled__2026-01-01T00:00:00.000Z');
        const a = makeRun({ dagId: uid('dag_a'), runId, pending: 3, state: 'queued', startDate: null });
        const b = makeRun({ dagId: uid('dag_b'), runId, pending: 5, state: 'queued', startDate: null });
        expect(await s.createRun(a)).toBe(true);
        expect(await s.createRun(b)).toBe(true);
        // Each DAG's id is taken in that DAG only.
        expect(await s.createRun({ ...b, pending: 99 })).toBe(false);
        expect(await s.getRun(a)).toEqual(a);
        expect(await s.getRun(b)).toEqual(b);
        expect(await s.getRun({ dagId: uid('dag_c'), runId })).toBeUndefined();
        expect(a.pipelineScope).not.toBe(b.pipelineScope);

        // Runs: a transition of one leaves the other as it was.
        expect(await s.updateRun(a, ['queued'], { state: 'running', startDate: at(1) })).toMatchObject({ dagId: a.dagId, runId, state: 'running' });
        expect(await s.getRun(b)).toEqual(b);
        expect((await s.listRuns({ dagId: a.dagId })).map((r) => [r.dagId, r.runId, r.state])).toEqual([[a.dagId, runId, 'running']]);
        expect((await s.listRuns({ dagId: b.dagId, states: ['queued'] })).map((r) => [r.dagId, r.runId])).toEqual([[b.dagId, runId]]);
        await s.updateRun(b, ['queued'], { state: 'running', startDate: at(1) });
        const running = (await s.listRunsByState('running')).filter((r) => r.runId === runId);
        expect(running.map((r) => r.dagId).sort()).toEqual([a.dagId, b.dagId].sort());

        // Task states and decisions.
        expect(await s.claimDecision(a, 't', 'scheduled')).toBe(true);
        expect(await s.claimDecision(b, 't', 'skipped')).toBe(true);
        expect(await s.claimExpansion(b, 'm', 4, ['j'])).toBe(true);
        expect((await s.getTaskStates(a, ['t', 'm', 'j'])).map((x) => x?.decision ?? null)).toEqual(['scheduled', null, null]);
        expect((await s.getTaskStates(b, ['t', 'm', 'j'])).map((x) => x?.decision ?? null)).toEqual(['skipped', 'expanded', null]);
        expect((await s.getTaskStates(b, ['j']))[0]).toMatchObject({ dagId: b.dagId, runId, upstreamAddedTotal: 4 });

        // Task instances, finishes and the pending counts.
        await s.createTaskInstances([makeTi(a, 't', -1, { state: 'running', tryNumber: 1 }), makeTi(b, 't', -1, { state: 'queued', tryNumber: 1 })]);
        expect((await s.getTaskInstance(key(a, 't')))?.state).toBe('running');
        expect((await s.getTaskInstance(key(b, 't')))?.state).toBe('queued');
        const fin = await s.finishTaskInstance({ key: key(a, 't'), expect: { states: ['running'], tryNumber: 1 }, state: 'success', patch: { endDate: at(2) }, downstream: ['j'] });
        expect(fin).toMatchObject({ ti: { dagId: a.dagId, runId, taskId: 't', state: 'success' }, pending: 2 });
        expect(await s.finishTaskInstance({ key: key(b, 't'), expect: { states: ['running'], tryNumber: 1 }, state: 'success', patch: {}, downstream: ['j'] })).toBeUndefined();
        expect((await s.getRun(a))?.pending).toBe(2);
        expect((await s.getRun(b))?.pending).toBe(5 + 3);
        expect((await s.getTaskStates(a, ['j']))[0]?.upstream.success).toBe(1);
        expect((await s.getTaskStates(b, ['j']))[0]?.upstream.success).toBe(0);
        expect((await s.listTaskInstances(a)).map((t) => [t.dagId, t.taskId, t.state])).toEqual([[a.dagId, 't', 'success']]);
        expect((await s.listTaskInstances(b)).map((t) => [t.dagId, t.taskId, t.state])).toEqual([[b.dagId, 't', 'queued']]);
        await s.createTaskInstances([0, 1, 2].map((i) => makeTi(b, 'm', i)));
        expect(await s.listTaskInstanceRange(a, 'm', 0, 3)).toEqual([]);
        expect((await s.listTaskInstanceRange(b, 'm', 0, 3)).map((t) => t.mapIndex)).toEqual([0, 1, 2]);

        // XComs, item results and logs.
        await s.putXCom({ dagId: a.dagId, runId, taskId: 't', mapIndex: -1, key: 'return_value', value: 'from a' });
        await s.putXComs([{ dagId: b.dagId, runId, taskId: 't', mapIndex: -1, key: 'return_value', value: 'from b' }]);
        expect(await s.getXCom(a, 't', -1, 'return_value')).toEqual({ dagId: a.dagId, runId, taskId: 't', mapIndex: -1, key: 'return_value', value: 'from a' });
        expect((await s.getXCom(b, 't', -1, 'return_value'))?.value).toBe('from b');
        expect((await s.listTaskXComs(a, 't')).map((x) => x.value)).toEqual(['from a']);
        await s.putItemResult(key(a, 't'), 0, 'item a');
        expect((await s.listItemResults(key(b, 't'))).size).toBe(0);
        await s.appendLog(key(b, 't'), 1, [{ time: at(1), level: 'info', message: 'b only' }]);
        expect(await s.getLog(key(a, 't'), 1)).toEqual([]);
        expect((await s.getLog(key(b, 't'), 1)).map((l) => l.message)).toEqual(['b only']);
        await s.deleteTaskResults([key(a, 't')]);
        expect(await s.getXCom(a, 't', -1, 'return_value')).toBeUndefined();
        expect((await s.getXCom(b, 't', -1, 'return_value'))?.value).toBe('from b');

        // Waiters name the run's DAG.
        const name = uid('pool');
        await s.enqueueWaiter(name, key(b, 't'));
        await s.enqueueWaiter(name, key(a, 't'));
        expect(await s.dequeueWaiter(name)).toEqual(key(b, 't'));
        expect(await s.dequeueWaiter(name)).toEqual(key(a, 't'));

        // Deleting one leaves the other whole, its pipeline scope too.
        await s.appendPipelineSave(a.pipelineScope, { stage: 'x', time: at(1), data: 'a', dagId: a.dagId, runId, taskId: 't' });
        await s.appendPipelineSave(b.pipelineScope, { stage: 'x', time: at(1), data: 'b', dagId: b.dagId, runId, taskId: 't' });
        expect(await s.deleteRun(a)).toMatchObject({ dagId: a.dagId, runId, taskInstances: 1, pipelineSaves: 1 });
        expect(await s.getRun(a)).toBeUndefined();
        expect((await s.getRun(b))?.pending).toBe(8);
        expect(await s.listTaskInstances(b)).toHaveLength(4);
        expect((await s.listPipelineSaves(b.pipelineScope)).map((x) => x.data)).toEqual(['b']);
        expect((await s.getXCom(b, 't', -1, 'return_value'))?.value).toBe('from b');
      });

      it('a run id may hold any characters (#, /, :), and ids that share a prefix are separate runs', async () => {
        const s = await makeStore();
        const dagId = uid('dag');
        const base = uid('r');
        const ids = [base, `${base}#x`, `${base}#x#y`, `${base}/z`, `${base}:${base}`];
        for (const [i, runId] of ids.entries()) expect(await s.createRun(makeRun({ dagId, runId, pending: i }))).toBe(true);
        for (const [i, runId] of ids.entries()) {
          expect((await s.getRun({ dagId, runId }))?.pending).toBe(i);
          await s.createTaskInstances([makeTi({ dagId, runId }, `t${i}`)]);
        }
        for (const [i, runId] of ids.entries()) expect((await s.listTaskInstances({ dagId, runId })).map((t) => t.taskId)).toEqual([`t${i}`]);
        expect((await s.listRuns({ dagId })).map((r) => r.runId).sort()).toEqual([...ids].sort());
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('task states', () => {
      it('claimDecision settles once; getTaskStates is undefined before, in request order', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        expect(await s.getTaskStates(run, ['a', 'b'])).toEqual([undefined, undefined]);
        expect(await s.claimDecision(run, 'a', 'scheduled')).toBe(true);
        expect(await s.claimDecision(run, 'a', 'skipped')).toBe(false);
        expect(await s.claimDecision(run, 'a', 'scheduled')).toBe(false);
        const [b, a] = await s.getTaskStates(run, ['b', 'a']);
        expect(b).toBeUndefined();
        expect(a).toEqual({
          dagId: run.dagId,
          runId: run.runId,
          taskId: 'a',
          upstream: { success: 0, failed: 0, skipped: 0, upstream_failed: 0, removed: 0 },
          upstreamAddedTotal: 0,
          upstreamExpanded: 0,
          self: { success: 0, failed: 0, skipped: 0, upstream_failed: 0, removed: 0 },
          decision: 'scheduled',
          mapCount: null,
        });
      });

      it('concurrent claimDecision: exactly one wins', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const wins = await Promise.all(Array.from({ length: 8 }, (_, i) => s.claimDecision(run, 'x', i % 2 ? 'scheduled' : 'skipped')));
        expect(wins.filter(Boolean)).toHaveLength(1);
      });

      it('claimDecisions settles many at once: per task, in order, whether this call settled it; 150 tasks past one transaction', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        expect(await s.claimDecision(run, 'b', 'skipped')).toBe(true);
        expect(await s.claimDecisions(run, ['a', 'b', 'c'], 'scheduled')).toEqual([true, false, true]);
        expect(await s.claimDecisions(run, ['a', 'c'], 'scheduled')).toEqual([false, false]);
        expect((await s.getTaskStates(run, ['a', 'b', 'c'])).map((t) => t?.decision)).toEqual(['scheduled', 'skipped', 'scheduled']);
        const many = Array.from({ length: 150 }, (_, i) => `m${i}`);
        expect(await s.claimDecision(run, 'm7', 'failed')).toBe(true);
        const got = await s.claimDecisions(run, many, 'scheduled');
        expect(got.map((g, i) => (g ? null : many[i])).filter((x) => x !== null)).toEqual(['m7']);
        expect((await s.getTaskStates(run, many)).filter((t) => t?.decision === 'scheduled')).toHaveLength(149);
        expect(await s.claimDecisions(run, [], 'scheduled')).toEqual([]);
      });

      it('concurrent claimDecisions and claimDecision: exactly one wins each task', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const ids = ['p', 'q', 'r', 's'];
        const [a, b, c] = await Promise.all([s.claimDecisions(run, ids, 'scheduled'), s.claimDecisions(run, [...ids].reverse(), 'skipped'), s.claimDecision(run, 'q', 'failed')]);
        for (const [i, id] of ids.entries()) expect([a[i], b[ids.length - 1 - i], id === 'q' && c].filter(Boolean)).toHaveLength(1);
      });

      it('claimExpansion settles once: downstream tallies learn the count, the run pending grows by count - 1', async () => {
        const s = await makeStore();
        const run = makeRun({ pending: 4 });
        await s.createRun(run);
        expect(await s.claimExpansion(run, 'm', 12, ['j1', 'j2'])).toBe(true);
        const check = async () => {
          const [m, j1, j2] = await s.getTaskStates(run, ['m', 'j1', 'j2']);
          expect(m?.decision).toBe('expanded');
          expect(m?.mapCount).toBe(12);
          for (const j of [j1, j2]) {
            expect(j?.upstreamAddedTotal).toBe(12);
            expect(j?.upstreamExpanded).toBe(1);
            expect(j?.decision).toBeNull();
          }
          expect((await s.getRun(run))?.pending).toBe(4 + 11);
        };
        await check();
        // Replays (and a different count) change nothing; nor can the decision be claimed again.
        expect(await s.claimExpansion(run, 'm', 12, ['j1', 'j2'])).toBe(false);
        expect(await s.claimExpansion(run, 'm', 3, ['j1', 'j2'])).toBe(false);
        expect(await s.claimDecision(run, 'm', 'skipped')).toBe(false);
        await check();
        // A second mapped upstream of j1 adds to it.
        expect(await s.claimExpansion(run, 'm2', 1, ['j1'])).toBe(true);
        const [j1] = await s.getTaskStates(run, ['j1']);
        expect(j1?.upstreamAddedTotal).toBe(13);
        expect(j1?.upstreamExpanded).toBe(2);
        expect((await s.getRun(run))?.pending).toBe(15);
      });

      it('claimExpansion is refused after claimDecision', async () => {
        const s = await makeStore();
        const run = makeRun({ pending: 4 });
        await s.createRun(run);
        expect(await s.claimDecision(run, 'm', 'skipped')).toBe(true);
        expect(await s.claimExpansion(run, 'm', 5, ['j'])).toBe(false);
        expect(await s.getTaskStates(run, ['j'])).toEqual([undefined]);
        expect((await s.getRun(run))?.pending).toBe(4);
      });

      it('claimExpansion into 150 downstream tasks applies to each exactly once', async () => {
        const s = await makeStore();
        const run = makeRun({ pending: 200 });
        await s.createRun(run);
        const ds = Array.from({ length: 150 }, (_, i) => `d${i}`);
        expect(await s.claimExpansion(run, 'm', 7, ds)).toBe(true);
        expect(await s.claimExpansion(run, 'm', 7, ds)).toBe(false);
        const states = await s.getTaskStates(run, ds);
        expect(states.map((x) => [x?.upstreamAddedTotal, x?.upstreamExpanded])).toEqual(ds.map(() => [7, 1]));
        expect((await s.getRun(run))?.pending).toBe(206);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('task instances', () => {
      it('createTaskInstances creates only what is missing; get returns the record', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const a = makeTi(run, 'a');
        await s.createTaskInstances([a]);
        await s.createTaskInstances([{ ...a, state: 'failed', tryNumber: 5 }, makeTi(run, 'b')]);
        expect(await s.getTaskInstance(key(run, 'a'))).toEqual(a);
        expect((await s.getTaskInstance(key(run, 'b')))?.state).toBe('scheduled');
        expect(await s.getTaskInstance(key(run, 'c'))).toBeUndefined();
        expect(await s.getTaskInstance(key(run, 'a', 0))).toBeUndefined();
      });

      it('a note is kept through transitions and a finish, changed, and removed with null (absent until written)', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        await s.createTaskInstances([makeTi(run, 'a')]);
        expect('note' in (await s.getTaskInstance(key(run, 'a')))!).toBe(false);
        expect((await s.updateTaskInstance(key(run, 'a'), { states: ['scheduled'] }, { note: 'looked at' }))?.note).toBe('looked at');
        await s.updateTaskInstance(key(run, 'a'), { states: ['scheduled'] }, { state: 'running', tryNumber: 1 });
        await s.finishTaskInstance({ key: key(run, 'a'), expect: { states: ['running'], tryNumber: 1 }, state: 'success', patch: {}, downstream: [] });
        expect(await s.getTaskInstance(key(run, 'a'))).toMatchObject({ state: 'success', note: 'looked at' });
        expect((await s.listTaskInstances(run))[0]?.note).toBe('looked at');
        await s.updateTaskInstance(key(run, 'a'), { states: ['success'], tryNumber: 1 }, { note: 'changed' });
        expect((await s.getTaskInstance(key(run, 'a')))?.note).toBe('changed');
        await s.updateTaskInstance(key(run, 'a'), { states: ['success'], tryNumber: 1 }, { note: null });
        expect((await s.getTaskInstance(key(run, 'a')))?.note ?? null).toBeNull();
      });

      it('listTaskInstances: by task id then map index (past 9, 10, 100); one task alone, not its namesakes', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const idx = [100, 10, 2, 9, 0, 11, 1, 101];
        await s.createTaskInstances([
          ...idx.map((i) => makeTi(run, 'm', i)),
          makeTi(run, 'm.sub'),
          makeTi(run, 'b'),
          makeTi(run, 'm_z'),
          makeTi(run, 'a-1'),
        ]);
        const all = await s.listTaskInstances(run);
        expect(all.map((t) => `${t.taskId}[${t.mapIndex}]`)).toEqual([
          'a-1[-1]',
          'b[-1]',
          ...[0, 1, 2, 9, 10, 11, 100, 101].map((i) => `m[${i}]`),
          'm.sub[-1]',
          'm_z[-1]',
        ]);
        expect((await s.listTaskInstances(run, 'm')).map((t) => t.mapIndex)).toEqual([0, 1, 2, 9, 10, 11, 100, 101]);
        expect(await s.listTaskInstances(run, 'zzz')).toEqual([]);
        expect(await s.listTaskInstances(ref(uid('no-run')))).toEqual([]);
      });

      it('updateTaskInstance is conditional on state and try; a replay changes nothing', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const k = key(run, 't');
        await s.createTaskInstances([makeTi(run, 't')]);
        expect(await s.updateTaskInstance(k, { states: ['queued'] }, { state: 'running' })).toBeUndefined();
        expect(await s.updateTaskInstance(k, { states: ['scheduled'], tryNumber: 3 }, { state: 'queued' })).toBeUndefined();
        const queued = await s.updateTaskInstance(k, { states: ['scheduled', 'up_for_retry'], tryNumber: 0 }, { state: 'queued', tryNumber: 1, queuedAt: at(1) });
        expect(queued).toEqual({ ...makeTi(run, 't'), state: 'queued', tryNumber: 1, queuedAt: at(1) });
        // The same transition again (a duplicate event): refused, nothing moves.
        expect(await s.updateTaskInstance(k, { states: ['scheduled', 'up_for_retry'], tryNumber: 0 }, { state: 'queued', tryNumber: 1, queuedAt: at(2) })).toBeUndefined();
        expect(await s.getTaskInstance(k)).toEqual(queued);
        const running = await s.updateTaskInstance(k, { states: ['queued'], tryNumber: 1 }, { state: 'running', startDate: at(3), externalId: 'job-1' });
        expect(running?.state).toBe('running');
        expect(running?.externalId).toBe('job-1');
        expect(running?.queuedAt).toBe(at(1));
        expect(await s.updateTaskInstance(key(run, 'missing'), { states: ['scheduled'] }, { state: 'queued' })).toBeUndefined();
        expect(await s.getTaskInstance(key(run, 'missing'))).toBeUndefined();
      });

      it("an instance's history round-trips through create, update and finish; none is absent; what is returned is the caller's", async () => {
        const s = await makeStore();
        const run = makeRun({ pending: 5 });
        await s.createRun(run);
        const try1 = { tryNumber: 1, state: 'failed' as const, startDate: at(1), endDate: at(2), durationMs: 60_000.5, error: err('Error: first ünïcode "quoted"') };
        const plainTi = makeTi(run, 'plain');
        const ti = makeTi(run, 't', -1, { state: 'running', tryNumber: 2, history: [try1] });
        await s.createTaskInstances([plainTi, ti]);
        const got = await s.getTaskInstance(key(run, 'plain'));
        expect(got).toEqual(plainTi);
        expect(got && 'history' in got).toBe(false);
        expect(await s.getTaskInstance(key(run, 't'))).toEqual(ti);
        ti.history!.push({ ...try1, tryNumber: 9 }); // the caller's array, not the store's
        expect((await s.getTaskInstance(key(run, 't')))?.history).toEqual([try1]);
        const try2 = { tryNumber: 2, state: 'failed' as const, startDate: null, endDate: at(3), durationMs: null, error: null };
        const updated = await s.updateTaskInstance(key(run, 't'), { states: ['running'], tryNumber: 2 }, { state: 'up_for_retry', history: [try1, try2] });
        expect(updated?.history).toEqual([try1, try2]);
        await s.updateTaskInstance(key(run, 't'), { states: ['up_for_retry'], tryNumber: 2 }, { state: 'running', tryNumber: 3 });
        const fin = await s.finishTaskInstance(finishReq(run.runId, 't', [], { expect: { states: ['running'], tryNumber: 3 } }));
        expect(fin?.ti.history).toEqual([try1, try2]);
        const listed = await s.listTaskInstances(run, 't');
        expect(listed[0]?.history).toEqual([try1, try2]);
        try {
          listed[0]!.history![0]!.state = 'success';
        } catch (e) {
          expect(e).toBeInstanceOf(TypeError); // frozen
        }
        expect((await s.getTaskInstance(key(run, 't')))?.history).toEqual([try1, try2]);
      });

      it('concurrent transitions of one instance: exactly one wins', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const k = key(run, 't');
        await s.createTaskInstances([makeTi(run, 't', -1, { state: 'queued', tryNumber: 1 })]);
        const res = await Promise.all(Array.from({ length: 6 }, () => s.updateTaskInstance(k, { states: ['queued'], tryNumber: 1 }, { state: 'running' })));
        expect(res.filter(Boolean)).toHaveLength(1);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('finishTaskInstance', () => {
      it('moves the instance, counts it in its own and each downstream tally, decrements pending', async () => {
        const s = await makeStore();
        const run = await runWithRunning(s, 't', 5);
        const res = await s.finishTaskInstance(finishReq(run.runId, 't', ['d1', 'd2']));
        expect(res).toBeDefined();
        expect(res!.ti).toEqual({
          ...makeTi(run, 't', -1, { state: 'running', tryNumber: 1 }),
          state: 'success',
          endDate: at(5),
          durationMs: 300_000,
          error: null,
        });
        expect(res!.pending).toBe(4);
        expect(res!.downstream.map((d) => [d.taskId, d.upstream.success, d.upstream.failed])).toEqual([
          ['d1', 1, 0],
          ['d2', 1, 0],
        ]);
        const [own] = await s.getTaskStates(run, ['t']);
        expect(own?.self.success).toBe(1);
        expect((await s.getRun(run))?.pending).toBe(4);
        expect(await s.getTaskInstance(key(run, 't'))).toEqual(res!.ti);
      });

      it('getTaskInstanceAndRun reads both (either may be missing)', async () => {
        const s = await makeStore();
        const run = await runWithRunning(s, 't', 5);
        const both = await s.getTaskInstanceAndRun(key(run, 't'));
        expect(both.ti).toEqual(await s.getTaskInstance(key(run, 't')));
        expect(both.run).toEqual(await s.getRun(run));
        expect(await s.getTaskInstanceAndRun(key(run, 'nothing'))).toEqual({ ti: undefined, run: await s.getRun(run) });
        expect(await s.getTaskInstanceAndRun(key(uid('no-run'), 't'))).toEqual({ ti: undefined, run: undefined });
      });

      it('gives back the units of `release` with the finish, a holder holding none included; tells which have waiters; a refused finish gives back nothing', async () => {
        const s = await makeStore();
        const run = await runWithRunning(s, 't', 5);
        const [dagSem, poolSem, idle] = [uid('dag:f'), uid('pool:f'), uid('task:f')];
        expect(await s.tryAcquire(dagSem, 1, 1, 'h')).toBe(true);
        expect(await s.tryAcquire(poolSem, 3, 4, 'h')).toBe(true);
        await s.enqueueWaiter(poolSem, key(run, 'waiting'));
        const release = [
          { name: dagSem, n: 1, holder: 'h' },
          { name: poolSem, n: 3, holder: 'h' },
          { name: idle, n: 1, holder: 'h' },
        ];
        // A refused finish (wrong try) leaves the units where they are.
        expect(await s.finishTaskInstance(finishReq(run.runId, 't', [], { expect: { states: ['running'], tryNumber: 2 }, release }))).toBeUndefined();
        expect(Object.fromEntries(await s.semaphoreHolders(poolSem))).toEqual({ h: 3 });
        const res = await s.finishTaskInstance(finishReq(run.runId, 't', [], { release }));
        expect(res?.ti.state).toBe('success');
        expect(res?.pending).toBe(4);
        if (res?.run) expect(res.run.pending).toBe(4);
        if (res?.waiters) expect([...res.waiters].sort()).toEqual([poolSem]);
        expect((await s.semaphoreHolders(dagSem)).size).toBe(0);
        expect((await s.semaphoreHolders(poolSem)).size).toBe(0);
        expect(await s.tryAcquire(poolSem, 4, 4, 'k')).toBe(true);
        expect(await s.tryAcquire(dagSem, 1, 1, 'k')).toBe(true);
      });

      it('a replay, a wrong try or a wrong state changes nothing', async () => {
        const s = await makeStore();
        const run = await runWithRunning(s, 't', 5);
        const req = finishReq(run.runId, 't', ['d1'], { state: 'failed', patch: { error: err('Error: boom') } });
        const wrongTry = { ...req, expect: { states: ['running' as const], tryNumber: 2 } };
        const wrongState = { ...req, expect: { states: ['queued' as const], tryNumber: 1 } };
        expect(await s.finishTaskInstance(wrongTry)).toBeUndefined();
        expect(await s.finishTaskInstance(wrongState)).toBeUndefined();
        expect((await s.getTaskInstance(key(run, 't')))?.state).toBe('running');
        expect(await s.getTaskStates(run, ['t', 'd1'])).toEqual([undefined, undefined]);
        expect((await s.getRun(run))?.pending).toBe(5);
        const first = await s.finishTaskInstance(req);
        expect(first?.ti.state).toBe('failed');
        expect(first?.ti.error).toEqual(err('Error: boom'));
        const snapshot = async () => ({
          run: await s.getRun(run),
          ti: await s.getTaskInstance(key(run, 't')),
          states: await s.getTaskStates(run, ['t', 'd1']),
        });
        const before = await snapshot();
        expect(await s.finishTaskInstance(req)).toBeUndefined();
        expect(await s.finishTaskInstance({ ...req, state: 'success' })).toBeUndefined();
        expect(await snapshot()).toEqual(before);
        expect(before.states[0]?.self.failed).toBe(1);
        expect(before.states[1]?.upstream.failed).toBe(1);
        expect(before.run?.pending).toBe(4);
      });

      it("expect 'absent' creates the instance in its terminal state, once", async () => {
        const s = await makeStore();
        const run = makeRun({ pending: 3 });
        await s.createRun(run);
        const create = makeTi(run, 'skipme', -1, { startDate: at(1), endDate: at(1) });
        const req: FinishRequest = { key: key(run, 'skipme'), expect: 'absent', create, state: 'skipped', patch: { error: { name: 'SkipTask', message: 'not chosen' } }, downstream: ['after'] };
        const res = await s.finishTaskInstance(req);
        expect(res?.ti).toEqual({ ...create, state: 'skipped', error: { name: 'SkipTask', message: 'not chosen' } });
        expect(res?.pending).toBe(2);
        expect(res?.downstream[0]?.upstream.skipped).toBe(1);
        expect(await s.finishTaskInstance(req)).toBeUndefined();
        expect(await s.finishTaskInstance({ ...req, create: undefined as unknown as TaskInstanceRecord })).toBeUndefined();
        expect((await s.getRun(run))?.pending).toBe(2);
        const [own, after] = await s.getTaskStates(run, ['skipme', 'after']);
        expect(own?.self.skipped).toBe(1);
        expect(after?.upstream.skipped).toBe(1);
        // 'absent' is refused when the instance exists.
        await s.createTaskInstances([makeTi(run, 'exists')]);
        expect(await s.finishTaskInstance({ ...req, key: key(run, 'exists'), create: makeTi(run, 'exists') })).toBeUndefined();
        expect((await s.getTaskInstance(key(run, 'exists')))?.state).toBe('scheduled');
      });

      it('the same finish sent twice at once counts once', async () => {
        const s = await makeStore();
        const run = await runWithRunning(s, 't', 5);
        const req = finishReq(run.runId, 't', ['d1', 'd2', 'd3']);
        const res = await Promise.all([s.finishTaskInstance(req), s.finishTaskInstance(req), s.finishTaskInstance(req)]);
        expect(res.filter(Boolean)).toHaveLength(1);
        expect((await s.getTaskStates(run, ['d1', 'd2', 'd3'])).map((x) => x?.upstream.success)).toEqual([1, 1, 1]);
        expect((await s.getRun(run))?.pending).toBe(4);
      });

      it('mapped instances finishing at once into one join: every one counted, pending reaches 0 once', async () => {
        const s = await makeStore();
        const n = 12;
        const run = makeRun({ pending: n });
        await s.createRun(run);
        await s.createTaskInstances(Array.from({ length: n }, (_, i) => makeTi(run, 'm', i, { state: 'running', tryNumber: 1 })));
        const states: TerminalTiState[] = ['success', 'failed', 'skipped'];
        const res = await Promise.all(
          Array.from({ length: n }, (_, i) =>
            s.finishTaskInstance({ ...finishReq(run.runId, 'm', ['join']), key: key(run, 'm', i), state: states[i % 3]! }),
          ),
        );
        expect(res.every(Boolean)).toBe(true);
        expect(Math.min(...res.map((r) => r!.pending))).toBe(0);
        const [m, join] = await s.getTaskStates(run, ['m', 'join']);
        expect(m?.self).toEqual({ success: 4, failed: 4, skipped: 4, upstream_failed: 0, removed: 0 });
        expect(join?.upstream).toEqual({ success: 4, failed: 4, skipped: 4, upstream_failed: 0, removed: 0 });
        expect((await s.getRun(run))?.pending).toBe(0);
      });

      it('250 downstream tasks: every tally once, pending once, result in downstream order; a replay changes nothing', async () => {
        const s = await makeStore();
        const run = await runWithRunning(s, 'wide', 300);
        const ds = Array.from({ length: 250 }, (_, i) => `down_${String(249 - i).padStart(3, '0')}`);
        const res = await s.finishTaskInstance(finishReq(run.runId, 'wide', ds, { state: 'upstream_failed' }));
        expect(res?.ti.state).toBe('upstream_failed');
        expect(res?.pending).toBe(299);
        expect(res?.downstream.map((d) => d.taskId)).toEqual(ds);
        expect(res?.downstream.every((d) => d.upstream.upstream_failed === 1 && d.upstream.success === 0)).toBe(true);
        const snapshot = async () => ({ run: await s.getRun(run), states: await s.getTaskStates(run, ['wide', ...ds]) });
        const before = await snapshot();
        expect(before.states[0]?.self.upstream_failed).toBe(1);
        expect(before.states.slice(1).map((x) => x?.upstream.upstream_failed)).toEqual(ds.map(() => 1));
        expect(await s.finishTaskInstance(finishReq(run.runId, 'wide', ds, { state: 'upstream_failed' }))).toBeUndefined();
        expect(await snapshot()).toEqual(before);
      });

      it('250 downstream tasks, the same finish sent three times at once: counted once', async () => {
        const s = await makeStore();
        const run = await runWithRunning(s, 'wide', 300);
        const ds = Array.from({ length: 250 }, (_, i) => `d${i}`);
        const req = finishReq(run.runId, 'wide', ds);
        const res = await Promise.all([s.finishTaskInstance(req), s.finishTaskInstance(req), s.finishTaskInstance(req)]);
        expect(res.filter(Boolean)).toHaveLength(1);
        expect((await s.getTaskStates(run, ds)).map((x) => x?.upstream.success)).toEqual(ds.map(() => 1));
        expect((await s.getRun(run))?.pending).toBe(299);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('many task instances at once (array jobs)', () => {
      /** `n` instances of `taskId` (map indexes 0..n-1) in a new run, in `state` at `tryNumber`. */
      async function mappedRun(s: StateStore, taskId: string, n: number, over: Partial<TaskInstanceRecord> = {}, pending = n + 50): Promise<DagRunRecord> {
        const run = makeRun({ pending });
        expect(await s.createRun(run)).toBe(true);
        await s.createTaskInstances(Array.from({ length: n }, (_, i) => makeTi(run, taskId, i, over)));
        return run;
      }
      const indexes = (tis: TaskInstanceRecord[]) => tis.map((t) => t.mapIndex);
      const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
      const tally = (over: Partial<Record<TerminalTiState, number>> = {}) => ({ success: 0, failed: 0, skipped: 0, upstream_failed: 0, removed: 0, ...over });

      it('listTaskInstanceRange: one task’s map indexes from..to-1 in order, -1 only when asked, never another task', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const idx = [101, 0, 5, 9, 10, 11, 1, 2, 100, 12, 99, 3, 1000];
        await s.createTaskInstances([
          ...idx.map((i) => makeTi(run, 'm', i, { externalId: `job:${i}` })),
          makeTi(run, 'm', -1),
          ...[0, 1, 2, 3].map((i) => makeTi(run, 'm.sub', i)),
          makeTi(run, 'm_z', 1),
          makeTi(run, 'l', 2),
          makeTi(run, 'ma', 3),
          makeTi(run, 'm-1', 0),
        ]);
        const got = (from: number, to: number) => s.listTaskInstanceRange(run, 'm', from, to);
        expect(indexes(await got(0, 10))).toEqual([0, 1, 2, 3, 5, 9]);
        expect(indexes(await got(2, 12))).toEqual([2, 3, 5, 9, 10, 11]);
        expect(indexes(await got(9, 101))).toEqual([9, 10, 11, 12, 99, 100]);
        expect(indexes(await got(11, 1001))).toEqual([11, 12, 99, 100, 101, 1000]);
        expect(indexes(await got(0, 1_000_000))).toEqual([0, 1, 2, 3, 5, 9, 10, 11, 12, 99, 100, 101, 1000]);
        expect(indexes(await got(-1, 2))).toEqual([-1, 0, 1]);
        expect(indexes(await got(-1, 0))).toEqual([-1]);
        expect(indexes(await got(0, 1))).toEqual([0]);
        expect(await got(4, 5)).toEqual([]);
        expect(await got(6, 6)).toEqual([]);
        expect(await got(12, 3)).toEqual([]);
        expect(await got(1001, 2000)).toEqual([]);
        // Whole records, as created.
        expect(await got(99, 101)).toEqual([makeTi(run, 'm', 99, { externalId: 'job:99' }), makeTi(run, 'm', 100, { externalId: 'job:100' })]);
        expect(indexes(await s.listTaskInstanceRange(run, 'm.sub', 1, 3))).toEqual([1, 2]);
        expect(await s.listTaskInstanceRange(run, 'n', 0, 10)).toEqual([]);
        expect(await s.listTaskInstanceRange(ref(uid('no-run')), 'm', 0, 10)).toEqual([]);
      });

      it('listTaskInstanceRange over 1200 instances (more than a page of a query)', async () => {
        const s = await makeStore();
        const run = await mappedRun(s, 'm', 1200, { error: err('e'.repeat(1000)) });
        const all = await s.listTaskInstanceRange(run, 'm', 0, 1200);
        expect(indexes(all)).toEqual(range(0, 1200));
        expect(indexes(await s.listTaskInstanceRange(run, 'm', 333, 1111))).toEqual(range(333, 1111));
      });

      it('createTaskInstances of 250 where some exist: the missing ones are created, the existing ones left as they are', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const existing = range(0, 250).filter((i) => i % 10 === 3);
        await s.createTaskInstances(existing.map((i) => makeTi(run, 'm', i, { state: 'running', tryNumber: 3 })));
        // Index 7 twice: the first wins, as one by one.
        await s.createTaskInstances([...range(0, 250).map((i) => makeTi(run, 'm', i)), makeTi(run, 'm', 7, { state: 'failed' })]);
        const all = await s.listTaskInstanceRange(run, 'm', 0, 250);
        expect(indexes(all)).toEqual(range(0, 250));
        for (const ti of all) {
          expect(ti).toEqual(ti.mapIndex % 10 === 3 ? makeTi(run, 'm', ti.mapIndex, { state: 'running', tryNumber: 3 }) : makeTi(run, 'm', ti.mapIndex));
        }
        await s.createTaskInstances([]);
      });

      it('updateTaskInstances over 250: exactly those whose condition fails are false, the others applied, in order', async () => {
        const s = await makeStore();
        const run = await mappedRun(s, 'm', 250);
        // Some moved on already (a replayed wave), some asked at a wrong try, one missing, one that can never hold.
        const moved = new Set(range(0, 250).filter((i) => i % 7 === 0));
        const wrongTry = new Set(range(0, 250).filter((i) => i % 11 === 5));
        for (const i of moved) await s.updateTaskInstance(key(run, 'm', i), { states: ['scheduled'] }, { state: 'queued', tryNumber: 1 });
        const patch: Partial<TaskInstanceRecord> = { state: 'queued', tryNumber: 1, queuedAt: at(1), externalId: 'array-job:7' };
        const updates: TiUpdate[] = range(0, 250).map((i) => ({ key: key(run, 'm', i), expect: { states: ['scheduled' as const, 'up_for_retry' as const], tryNumber: wrongTry.has(i) ? 4 : 0 }, patch }));
        updates.push({ key: key(run, 'm', 5000), expect: { states: ['scheduled'], tryNumber: 0 }, patch });
        updates.push({ key: key(run, 'm', 1), expect: { states: [], tryNumber: 0 }, patch });
        // The same instance again later in the list: it sees the earlier update applied.
        updates.push({ key: key(run, 'm', 1), expect: { states: ['queued'], tryNumber: 1 }, patch: { ...patch, state: 'running', startDate: at(2) } });
        updates.push({ key: key(run, 'm', 2), expect: { states: ['scheduled'], tryNumber: 0 }, patch });
        const res = await s.updateTaskInstances(updates);
        const expected = [...range(0, 250).map((i) => !moved.has(i) && !wrongTry.has(i)), false, false, true, false];
        expect(res).toEqual(expected);
        const all = await s.listTaskInstanceRange(run, 'm', 0, 250);
        for (const ti of all) {
          const i = ti.mapIndex;
          if (i === 1) expect(ti).toEqual({ ...makeTi(run, 'm', 1), ...patch, state: 'running', startDate: at(2) });
          else if (moved.has(i)) expect(ti).toEqual(makeTi(run, 'm', i, { state: 'queued', tryNumber: 1 }));
          else if (wrongTry.has(i)) expect(ti).toEqual(makeTi(run, 'm', i));
          else expect(ti).toEqual({ ...makeTi(run, 'm', i), ...patch });
        }
        expect(await s.getTaskInstance(key(run, 'm', 5000))).toBeUndefined();
        // A replay of the whole call: nothing applies.
        expect(await s.updateTaskInstances(updates.slice(0, 250))).toEqual(range(0, 250).map(() => false));
        expect(await s.updateTaskInstances([])).toEqual([]);
      });

      it('finishTaskInstances over 250: the applied ones counted once in the own, downstream and run counts; a replay applies nothing', async () => {
        const s = await makeStore();
        const run = await mappedRun(s, 'm', 250, { state: 'running', tryNumber: 1 }, 300);
        const stale = new Set(range(0, 250).filter((i) => i % 17 === 4)); // finishing an earlier try: refused
        const failed = (i: number) => i % 5 === 0;
        const reqs: FinishRequest[] = range(0, 250).map((i) => ({
          key: key(run, 'm', i),
          expect: { states: ['running', 'queued'], tryNumber: stale.has(i) ? 0 : 1 },
          state: failed(i) ? 'failed' : 'success',
          patch: failed(i) ? { endDate: at(5), error: err(`Error: child ${i} failed`) } : { endDate: at(5), durationMs: 1000 + i },
          downstream: ['join', 'report'],
        }));
        const res = await s.finishTaskInstances(reqs);
        expect(res.applied).toEqual(range(0, 250).map((i) => !stale.has(i)));
        const done = range(0, 250).filter((i) => !stale.has(i));
        const want = tally({ success: done.filter((i) => !failed(i)).length, failed: done.filter(failed).length });
        expect(want.success + want.failed).toBe(250 - stale.size);
        expect(res.pending).toBe(300 - done.length);
        expect(res.downstream.map((d) => [d.taskId, d.upstream])).toEqual([
          ['join', want],
          ['report', want],
        ]);
        const [m, join, report] = await s.getTaskStates(run, ['m', 'join', 'report']);
        expect(m?.self).toEqual(want);
        expect(m?.upstream).toEqual(tally());
        expect(join?.upstream).toEqual(want);
        expect(report?.upstream).toEqual(want);
        expect(join?.self).toEqual(tally());
        expect((await s.getRun(run))?.pending).toBe(300 - done.length);
        // Each record exactly as finishing it alone would leave it.
        for (const ti of await s.listTaskInstanceRange(run, 'm', 0, 250)) {
          const i = ti.mapIndex;
          const base = makeTi(run, 'm', i, { state: 'running', tryNumber: 1 });
          expect(ti).toEqual(stale.has(i) ? base : { ...base, ...reqs[i]!.patch, state: reqs[i]!.state });
        }
        // The same call again: nothing applies, nothing moves.
        const snapshot = async () => ({ run: await s.getRun(run), states: await s.getTaskStates(run, ['m', 'join', 'report']), tis: await s.listTaskInstances(run, 'm') });
        const before = await snapshot();
        const again = await s.finishTaskInstances(reqs);
        expect(again.applied).toEqual(range(0, 250).map(() => false));
        expect(again.pending).toBe(300 - done.length);
        expect(again.downstream.map((d) => d.upstream)).toEqual([want, want]);
        expect(await snapshot()).toEqual(before);
        // The stale ones, now at the right try, mixed with the finished ones: only they apply.
        const mixed = reqs.map((r, i) => {
          const state: TerminalTiState = i % 2 ? 'success' : 'skipped';
          return { ...r, expect: { states: ['running' as const], tryNumber: 1 }, state };
        });
        const last = await s.finishTaskInstances(mixed);
        expect(last.applied).toEqual(range(0, 250).map((i) => stale.has(i)));
        const late = [...stale];
        const want2 = { ...want, success: want.success + late.filter((i) => i % 2).length, skipped: late.filter((i) => i % 2 === 0).length };
        expect(last.pending).toBe(50);
        expect(last.downstream.map((d) => d.upstream)).toEqual([want2, want2]);
        expect((await s.getTaskStates(run, ['m']))[0]?.self).toEqual(want2);
        expect((await s.getRun(run))?.pending).toBe(50);
      });

      it('finishTaskInstances: a downstream task listed twice counts twice; no downstream at all; a task with many downstream tasks', async () => {
        const s = await makeStore();
        const run = await mappedRun(s, 'm', 120, { state: 'running', tryNumber: 1 }, 200);
        const reqsOf = (from: number, to: number, downstream: string[]) => range(from, to).map((i) => finishReq(run.runId, 'm', downstream, { key: key(run, 'm', i) }));
        const twice = await s.finishTaskInstances(reqsOf(0, 10, ['j', 'k', 'j']));
        expect(twice.applied.every(Boolean)).toBe(true);
        expect(twice.downstream.map((d) => [d.taskId, d.upstream.success])).toEqual([
          ['j', 20],
          ['k', 10],
          ['j', 20],
        ]);
        const none = await s.finishTaskInstances(reqsOf(10, 20, []));
        expect(none).toEqual({ applied: range(10, 20).map(() => true), pending: 180, downstream: [] });
        // 60 downstream tasks (fewer instances per transaction), then 120 (more than a transaction holds).
        const ds60 = Array.from({ length: 60 }, (_, i) => `d60_${i}`);
        const r60 = await s.finishTaskInstances(reqsOf(20, 110, ds60));
        expect(r60.applied.every(Boolean)).toBe(true);
        expect(r60.downstream.map((d) => d.upstream.success)).toEqual(ds60.map(() => 90));
        const ds120 = Array.from({ length: 120 }, (_, i) => `d120_${i}`);
        const reqs120 = reqsOf(110, 120, ds120).map((r, i) => (i === 3 ? { ...r, expect: { states: ['queued' as const], tryNumber: 1 } } : r));
        const r120 = await s.finishTaskInstances(reqs120);
        expect(r120.applied).toEqual(range(0, 10).map((i) => i !== 3));
        expect(r120.pending).toBe(200 - 119);
        expect(r120.downstream.map((d) => d.upstream.success)).toEqual(ds120.map(() => 9));
        expect((await s.finishTaskInstances(reqs120)).applied).toEqual(range(0, 10).map(() => false));
        expect((await s.getTaskStates(run, ['m']))[0]?.self.success).toBe(119);
        expect((await s.getTaskStates(run, ds120)).map((d) => d?.upstream.success)).toEqual(ds120.map(() => 9));
        expect((await s.getRun(run))?.pending).toBe(81);
      });

      it('the same bulk finish sent twice at once: each instance counted once', async () => {
        const s = await makeStore();
        const run = await mappedRun(s, 'm', 150, { state: 'running', tryNumber: 1 }, 150);
        const reqs = range(0, 150).map((i) => finishReq(run.runId, 'm', ['join'], { key: key(run, 'm', i), state: i % 3 ? 'success' : 'failed' }));
        const [a, b] = await Promise.all([s.finishTaskInstances(reqs), s.finishTaskInstances(reqs.slice(50).concat(reqs.slice(0, 50)))]);
        const bInOrder = [...b.applied.slice(100), ...b.applied.slice(0, 100)];
        expect(a.applied.map((x, i) => Number(x) + Number(bInOrder[i]))).toEqual(reqs.map(() => 1));
        expect(Math.min(a.pending, b.pending)).toBe(0);
        const [m, join] = await s.getTaskStates(run, ['m', 'join']);
        expect(m?.self).toEqual(tally({ success: 100, failed: 50 }));
        expect(join?.upstream).toEqual(tally({ success: 100, failed: 50 }));
        expect((await s.getRun(run))?.pending).toBe(0);
      });

      it('finishTaskInstances refuses requests of several tasks and creations', async () => {
        const s = await makeStore();
        const run = await mappedRun(s, 'm', 3, { state: 'running', tryNumber: 1 });
        await expect(s.finishTaskInstances([])).rejects.toThrow(/no requests/);
        await expect(s.finishTaskInstances([finishReq(run.runId, 'm', [], { key: key(run, 'other', 0) }), finishReq(run.runId, 'm', [], { key: key(run, 'm', 0) })])).rejects.toThrow(
          /every request must be of task 'other'/,
        );
        await expect(
          s.finishTaskInstances([{ key: key(run, 'm', 9), expect: 'absent', create: makeTi(run, 'm', 9), state: 'skipped', patch: {}, downstream: [] }]),
        ).rejects.toThrow(/not supported in bulk/);
        expect(await s.getTaskInstance(key(run, 'm', 9))).toBeUndefined();
      });

      it('putXComs: 60 values (one over the inline limit, one key put twice) read back through getXCom and listXComs', async () => {
        const s = await makeStore();
        const run = await mappedRun(s, 'm', 60);
        const big = bigValue(450_000);
        const xs = range(0, 60).map((i) => ({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: i, key: 'return_value', value: i === 17 ? big : { i, s: 'é'.repeat(i) } }));
        xs.push({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: 3, key: 'return_value', value: 'last wins' as unknown as { i: number; s: string } });
        xs.push({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: 3, key: 'other', value: { i: -3, s: '' } });
        await s.putXComs(xs);
        const want = range(0, 60).map((i) => (i === 17 ? big : i === 3 ? 'last wins' : { i, s: 'é'.repeat(i) }));
        const list = await s.listXComs(run, 'm', 'return_value');
        expect(list.map((x) => x.mapIndex)).toEqual(range(0, 60));
        expect(list.map((x) => x.value)).toEqual(want);
        expect((await s.getXCom(run, 'm', 17, 'return_value'))?.value).toEqual(big);
        expect(await s.getXCom(run, 'm', 3, 'other')).toEqual({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: 3, key: 'other', value: { i: -3, s: '' } });
        // Overwriting in bulk.
        await s.putXComs(range(0, 60).map((i) => ({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: i, key: 'return_value', value: i })));
        expect((await s.listXComs(run, 'm', 'return_value')).map((x) => x.value)).toEqual(range(0, 60));
        await s.putXComs([]);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('XCom and item results', () => {
      it('put, get, overwrite; values are copied in and out', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        await s.createTaskInstances([makeTi(run, 't')]);
        const value = { n: 1.5, big: 12345678901234, s: 'é ✓ "quoted"', list: [1, null, { deep: [true, false] }], empty: '', zero: 0 };
        await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 't', mapIndex: -1, key: 'return_value', value });
        value.n = 99;
        const got = await s.getXCom(run, 't', -1, 'return_value');
        expect(got).toEqual({ dagId: run.dagId, runId: run.runId, taskId: 't', mapIndex: -1, key: 'return_value', value: { ...value, n: 1.5 } });
        (got!.value as { n: number }).n = 7;
        expect((await s.getXCom(run, 't', -1, 'return_value'))?.value).toEqual({ ...value, n: 1.5 });
        await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 't', mapIndex: -1, key: 'return_value', value: 'replaced' });
        expect((await s.getXCom(run, 't', -1, 'return_value'))?.value).toBe('replaced');
        await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 't', mapIndex: -1, key: 'nothing', value: null });
        expect(await s.getXCom(run, 't', -1, 'nothing')).toEqual({ dagId: run.dagId, runId: run.runId, taskId: 't', mapIndex: -1, key: 'nothing', value: null });
        expect(await s.getXCom(run, 't', -1, 'other')).toBeUndefined();
        expect(await s.getXCom(run, 't', 0, 'return_value')).toBeUndefined();
      });

      it('listXComs: map-index order past 9, 10 and 100; one key only, even with look-alike keys', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const idx = [100, 9, 10, 0, 1, 11, 2, 101, 99];
        await s.createTaskInstances(idx.map((i) => makeTi(run, 'm', i)));
        for (const i of idx) {
          await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: i, key: 'return_value', value: { i } });
          await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: i, key: 'return_value#x', value: 'hash' });
          await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: i, key: 'return', value: 'prefix' });
        }
        await s.createTaskInstances([makeTi(run, 'm.sub', 0)]);
        await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'm.sub', mapIndex: 0, key: 'return_value', value: 'other task' });
        const list = await s.listXComs(run, 'm', 'return_value');
        const sorted = [...idx].sort((a, b) => a - b);
        expect(list.map((x) => x.mapIndex)).toEqual(sorted);
        expect(list.map((x) => x.value)).toEqual(sorted.map((i) => ({ i })));
        expect(list.every((x) => x.runId === run.runId && x.taskId === 'm' && x.key === 'return_value')).toBe(true);
        expect((await s.listXComs(run, 'm', 'return_value#x')).map((x) => x.value)).toEqual(sorted.map(() => 'hash'));
        expect(await s.listXComs(run, 'm', 'absent')).toEqual([]);
      });

      it('listTaskXComs: every key of one task (not of a look-alike task), by key then map index', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        await s.createTaskInstances([10, 2, 0].map((i) => makeTi(run, 'm', i)));
        for (const i of [10, 2, 0]) {
          await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: i, key: 'return_value', value: i });
          await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: i, key: 'extra#1', value: { pushed: i } });
        }
        await s.createTaskInstances([makeTi(run, 'm.sub', 0)]);
        await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'm.sub', mapIndex: 0, key: 'return_value', value: 'other task' });
        const list = await s.listTaskXComs(run, 'm');
        expect(list.map((x) => [x.key, x.mapIndex, x.value])).toEqual([
          ['extra#1', 0, { pushed: 0 }],
          ['extra#1', 2, { pushed: 2 }],
          ['extra#1', 10, { pushed: 10 }],
          ['return_value', 0, 0],
          ['return_value', 2, 2],
          ['return_value', 10, 10],
        ]);
        expect(list.every((x) => x.runId === run.runId && x.taskId === 'm')).toBe(true);
        expect(await s.listTaskXComs(run, 'absent')).toEqual([]);
      });

      it('a 1 MB XCom value round-trips', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        await s.createTaskInstances([makeTi(run, 'big', 0), makeTi(run, 'big', 1)]);
        const value = bigValue(1_000_000);
        expect(JSON.stringify(value).length).toBeGreaterThan(1_000_000);
        await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'big', mapIndex: 1, key: 'return_value', value });
        await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'big', mapIndex: 0, key: 'return_value', value: 'small' });
        expect((await s.getXCom(run, 'big', 1, 'return_value'))?.value).toEqual(value);
        expect((await s.listXComs(run, 'big', 'return_value')).map((x) => x.value)).toEqual(['small', value]);
      });

      it('item results: per instance, by index (past 9, 10, 100), overwritten, large ones too', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const k = key(run, 'it');
        const idx = [10, 0, 100, 9, 1];
        for (const i of idx) await s.putItemResult(k, i, { item: i });
        await s.putItemResult(k, 9, 'nine again');
        await s.putItemResult(key(run, 'it', 0), 0, 'another instance');
        await s.putItemResult(key(run, 'it.x'), 0, 'another task');
        const big = bigValue(600_000);
        await s.putItemResult(k, 5, big);
        const got = await s.listItemResults(k);
        expect([...got.keys()].sort((a, b) => a - b)).toEqual([0, 1, 5, 9, 10, 100]);
        expect(got.get(9)).toBe('nine again');
        expect(got.get(100)).toEqual({ item: 100 });
        expect(got.get(5)).toEqual(big);
        expect([...(await s.listItemResults(key(run, 'it', 0))).entries()]).toEqual([[0, 'another instance']]);
        expect((await s.listItemResults(key(run, 'nothing'))).size).toBe(0);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('pipeline context and logs', () => {
      it('pipeline saves come back in order (ties in time keep append order), per scope, large data too', async () => {
        const s = await makeStore();
        const scope = uid('scope');
        const save = (stage: string, minute: number, data: unknown) => ({ stage, time: at(minute), data, dagId: 'd', runId: scope, taskId: `t_${stage}` });
        const big = bigValue(500_000);
        const saves = [save('calibrate', 1, { qa: 0.9 }), save('image', 2, big), save('image', 2, { qa: 0.7, again: true }), save('qa', 3, [1, 2, 3])];
        for (const x of saves) await s.appendPipelineSave(scope, x);
        await s.appendPipelineSave(uid('other'), save('elsewhere', 0, 1));
        expect(await s.listPipelineSaves(scope)).toEqual(plain(saves));
        expect(await s.listPipelineSaves(uid('empty'))).toEqual([]);
      });

      it('logs: appended per try, read back in order', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const k = key(run, 't', 3);
        const line = (m: number, message: string, level: LogLine['level'] = 'info'): LogLine => ({ time: at(m), level, message });
        const first = [line(1, 'start'), line(1, 'same time'), line(2, 'warned', 'warn')];
        const second = [line(3, 'later'), line(3, 'x'.repeat(1000), 'error')];
        await s.appendLog(k, 1, first);
        await s.appendLog(k, 1, second);
        await s.appendLog(k, 2, [line(10, 'try two')]);
        await s.appendLog(key(run, 't', 30), 1, [line(0, 'other instance')]);
        await s.appendLog(k, 1, []);
        expect(await s.getLog(k, 1)).toEqual([...first, ...second]);
        expect(await s.getLog(k, 2)).toEqual([line(10, 'try two')]);
        expect(await s.getLog(k, 3)).toEqual([]);
        expect(await s.getLog(key(run, 't', 30), 1)).toEqual([line(0, 'other instance')]);
      });

      it('logs of many tries at once (appendLogs): each reads back as if appended alone', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const line = (m: number, message: string): LogLine => ({ time: at(m), level: 'info', message });
        const entries = Array.from({ length: 60 }, (_, i) => ({ key: key(run, 'wave', i), tryNumber: 1 + (i % 2), lines: [line(1, `child ${i}`), line(2, `done ${i}`)] }));
        entries.push({ key: key(run, 'wave', 0), tryNumber: 1, lines: [line(3, 'y'.repeat(20_000))] });
        await s.appendLogs(entries);
        await s.appendLogs([]);
        expect(await s.getLog(key(run, 'wave', 0), 1)).toEqual([line(1, 'child 0'), line(2, 'done 0'), ...(await s.getLog(key(run, 'wave', 0), 1)).slice(2)]);
        expect((await s.getLog(key(run, 'wave', 0), 1)).slice(2).map((l) => l.message.length)).toEqual([20_000]);
        expect(await s.getLog(key(run, 'wave', 59), 2)).toEqual([line(1, 'child 59'), line(2, 'done 59')]);
        expect(await s.getLog(key(run, 'wave', 59), 1)).toEqual([]);
      });

      it("putTryOutput: a try's result and log (a large value too, and more than one request holds) read back as if put and appended alone", async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const line = (m: number, message: string): LogLine => ({ time: at(m), level: 'info', message });
        const k = key(run, 't');
        const big = bigValue(350_000);
        await s.putTryOutput({ xcoms: [{ ...k, key: 'return_value', value: { n: 21 } }, { ...k, key: 'big', value: big }], logs: [{ key: k, tryNumber: 1, lines: [line(1, 'starting try 1 of 1'), line(2, 'done: success')] }] });
        expect((await s.getXCom(run, 't', -1, 'return_value'))?.value).toEqual({ n: 21 });
        expect((await s.getXCom(run, 't', -1, 'big'))?.value).toEqual(big);
        expect(await s.getLog(k, 1)).toEqual([line(1, 'starting try 1 of 1'), line(2, 'done: success')]);
        // Only a log, only an XCom, nothing; 30 of each (more than one BatchWriteItem holds).
        await s.putTryOutput({ xcoms: [], logs: [{ key: k, tryNumber: 2, lines: [line(3, 'try two')] }] });
        await s.putTryOutput({ xcoms: [{ ...k, key: 'return_value', value: 22 }], logs: [] });
        await s.putTryOutput({ xcoms: [], logs: [] });
        expect(await s.getLog(k, 2)).toEqual([line(3, 'try two')]);
        expect((await s.getXCom(run, 't', -1, 'return_value'))?.value).toBe(22);
        const many = Array.from({ length: 30 }, (_, i) => key(run, 'm', i));
        await s.putTryOutput({ xcoms: many.map((m, i) => ({ ...m, key: 'return_value', value: i })), logs: many.map((m, i) => ({ key: m, tryNumber: 1, lines: [line(4, `m ${i}`)] })) });
        for (const i of [0, 24, 25, 29]) expect((await s.getXCom(run, 'm', i, 'return_value'))?.value).toBe(i);
        expect(await s.getLog(many[29]!, 1)).toEqual([line(4, 'm 29')]);
      });

      it('a log of many lines (over 1 MB) reads back whole and in order', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        const k = key(run, 'chatty');
        const lines: LogLine[] = Array.from({ length: 3000 }, (_, i) => ({ time: at(0), level: 'info', message: `line ${i} ${'.'.repeat(400)}` }));
        await s.appendLog(k, 1, lines);
        const got = await s.getLog(k, 1);
        expect(got).toHaveLength(3000);
        expect(got.map((l) => l.message)).toEqual(lines.map((l) => l.message));
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('DAG registry', () => {
      it('registers versions, keeps the paused flag across versions, and pauses an unknown DAG', async () => {
        const s = await makeStore();
        expect(await s.getDagRecord('reg')).toBeUndefined();
        expect(await s.registerDagVersion(entry('reg', 'v1', 'reg.ts'), at(1))).toEqual({ dagId: 'reg', version: 'v1', paused: false, fileloc: 'reg.ts', updatedAt: at(1) });
        expect(await s.setDagPaused('reg', true, at(2))).toEqual({ dagId: 'reg', version: 'v1', paused: true, fileloc: 'reg.ts', updatedAt: at(2) });
        expect(await s.registerDagVersion(entry('reg', 'v2', 'reg.ts'), at(3))).toEqual({ dagId: 'reg', version: 'v2', paused: true, fileloc: 'reg.ts', updatedAt: at(3) });
        expect(await s.getDagRecord('reg')).toEqual({ dagId: 'reg', version: 'v2', paused: true, fileloc: 'reg.ts', updatedAt: at(3) });
        expect(await s.setDagPaused('other', true, at(4))).toEqual({ dagId: 'other', version: '', paused: true, fileloc: null, updatedAt: at(4) });
      });

      it("a pause's reason is kept across versions while paused; unpausing, or a pause without one, clears it", async () => {
        const s = await makeStore();
        const dagId = uid('dag');
        await s.registerDagVersion(entry(dagId, 'v1', 'p.ts'), at(1));
        const why = 'auto-paused after 3 consecutive failed runs';
        expect(await s.setDagPaused(dagId, true, at(2), why)).toEqual({ dagId, version: 'v1', paused: true, pausedReason: why, fileloc: 'p.ts', updatedAt: at(2) });
        expect((await s.registerDagVersion(entry(dagId, 'v2', 'p.ts'), at(3))).pausedReason).toBe(why);
        expect((await s.getDagRecord(dagId))?.pausedReason).toBe(why);
        expect(await s.setDagPaused(dagId, false, at(4))).toEqual({ dagId, version: 'v2', paused: false, fileloc: 'p.ts', updatedAt: at(4) });
        await s.setDagPaused(dagId, true, at(5), why);
        expect(await s.setDagPaused(dagId, true, at(6))).toEqual({ dagId, version: 'v2', paused: true, fileloc: 'p.ts', updatedAt: at(6) });
      });

      it('version records: the first registration is kept, the current version moves, listed oldest first', async () => {
        const s = await makeStore();
        const dagId = uid('dag');
        expect(await s.listDagVersions(dagId)).toEqual([]);
        expect(await s.getDagVersion(dagId, 'v1')).toBeUndefined();
        await s.registerDagVersion(entry(dagId, 'v1', 'd.ts'), at(1));
        const v1 = { dagId, version: 'v1', structureHash: 's-v1', bundle: 'b-v1', fileloc: 'd.ts', createdAt: at(1), prunedAt: null };
        expect(await s.getDagVersion(dagId, 'v1')).toEqual(v1);
        // A code-built DAG's version: no bundle, no file.
        expect(await s.registerDagVersion(entry(dagId, 'v2', null, { bundle: null }), at(2))).toMatchObject({ version: 'v2', fileloc: null, updatedAt: at(2) });
        const v2 = { dagId, version: 'v2', structureHash: 's-v2', bundle: null, fileloc: null, createdAt: at(2), prunedAt: null };
        // Registered again (another file, even other hashes): the record stays as first registered; the DAG's current version moves.
        expect(await s.registerDagVersion(entry(dagId, 'v1', 'moved.ts', { structureHash: 'x', bundle: 'y' }), at(3))).toEqual({ dagId, version: 'v1', paused: false, fileloc: 'moved.ts', updatedAt: at(3) });
        expect(await s.getDagRecord(dagId)).toMatchObject({ version: 'v1', fileloc: 'moved.ts' });
        expect(await s.getDagVersion(dagId, 'v1')).toEqual(v1);
        // Oldest first by createdAt, then by version when created at the same time.
        await s.registerDagVersion(entry(dagId, 'v0', 'd.ts'), at(2));
        const v0 = { dagId, version: 'v0', structureHash: 's-v0', bundle: 'b-v0', fileloc: 'd.ts', createdAt: at(2), prunedAt: null };
        expect(await s.listDagVersions(dagId)).toEqual([v1, v0, v2]);
        // Per DAG: another DAG's versions are apart, even of the same name.
        await s.registerDagVersion(entry(`${dagId}_other`, 'v1', null), at(9));
        expect(await s.listDagVersions(dagId)).toEqual([v1, v0, v2]);
        expect((await s.getDagVersion(`${dagId}_other`, 'v1'))?.createdAt).toBe(at(9));
        // What is returned is the caller's.
        const got = (await s.getDagVersion(dagId, 'v1'))!;
        try {
          got.prunedAt = 'changed';
        } catch (e) {
          expect(e).toBeInstanceOf(TypeError); // frozen
        }
        expect(await s.getDagVersion(dagId, 'v1')).toEqual(v1);
      });

      it('markDagVersionPruned marks one version; registering it again keeps it again; an unknown version stays unknown', async () => {
        const s = await makeStore();
        const dagId = uid('dag');
        await s.registerDagVersion(entry(dagId, 'v1', 'd.ts'), at(1));
        await s.registerDagVersion(entry(dagId, 'v2', 'd.ts'), at(2));
        await s.markDagVersionPruned(dagId, 'v1', at(5));
        expect(await s.getDagVersion(dagId, 'v1')).toMatchObject({ createdAt: at(1), prunedAt: at(5) });
        expect((await s.getDagVersion(dagId, 'v2'))?.prunedAt).toBeNull();
        expect((await s.listDagVersions(dagId)).map((v) => [v.version, v.prunedAt])).toEqual([
          ['v1', at(5)],
          ['v2', null],
        ]);
        // A no-op for a version (or a DAG) with no record.
        await s.markDagVersionPruned(dagId, 'never', at(6));
        await s.markDagVersionPruned(uid('dag'), 'v1', at(6));
        expect(await s.getDagVersion(dagId, 'never')).toBeUndefined();
        expect(await s.listDagVersions(dagId)).toHaveLength(2);
        // Registered again: kept again, first registration unchanged; the DAG record keeps its paused flag.
        await s.setDagPaused(dagId, true, at(6));
        expect(await s.registerDagVersion(entry(dagId, 'v1', 'd.ts'), at(7))).toEqual({ dagId, version: 'v1', paused: true, fileloc: 'd.ts', updatedAt: at(7) });
        expect(await s.getDagVersion(dagId, 'v1')).toEqual({ dagId, version: 'v1', structureHash: 's-v1', bundle: 'b-v1', fileloc: 'd.ts', createdAt: at(1), prunedAt: null });
        // Registering a version that is not pruned changes nothing of it.
        await s.registerDagVersion(entry(dagId, 'v1', 'd.ts'), at(8));
        expect((await s.getDagVersion(dagId, 'v1'))?.prunedAt).toBeNull();
      });

      it('concurrent registrations of one new version: one record, as first registered', async () => {
        const s = await makeStore();
        const dagId = uid('dag');
        await Promise.all([1, 2, 3, 4].map(() => s.registerDagVersion(entry(dagId, 'v1', 'd.ts'), at(1))));
        expect(await s.listDagVersions(dagId)).toEqual([{ dagId, version: 'v1', structureHash: 's-v1', bundle: 'b-v1', fileloc: 'd.ts', createdAt: at(1), prunedAt: null }]);
        expect(await s.getDagRecord(dagId)).toMatchObject({ version: 'v1', paused: false });
      });
    });

    describe('pools, semaphores and waiters', () => {
      it('pools: put, get, overwrite, list', async () => {
        const s = await makeStore();
        const a = uid('pool_a');
        const b = uid('pool_b');
        await s.putPool({ name: a, slots: 2, description: 'two' });
        await s.putPool({ name: b, slots: 5, description: '' });
        await s.putPool({ name: a, slots: 3, description: 'three' });
        expect(await s.getPool(a)).toEqual({ name: a, slots: 3, description: 'three' });
        expect(await s.getPool(uid('none'))).toBeUndefined();
        const listed = (await s.listPools()).filter((p) => p.name === a || p.name === b).sort((x, y) => x.name.localeCompare(y.name));
        expect(listed).toEqual([
          { name: a, slots: 3, description: 'three' },
          { name: b, slots: 5, description: '' },
        ]);
        expect(await s.deletePool(a)).toBe(true);
        expect(await s.deletePool(a)).toBe(false);
        expect(await s.getPool(a)).toBeUndefined();
        expect((await s.listPools()).map((p) => p.name).filter((n) => n === a || n === b)).toEqual([b]);
      });

      it('tryAcquire takes units per holder up to the limit; release gives back what a holder holds', async () => {
        const s = await makeStore();
        const sem = uid('pool:x');
        expect(await s.tryAcquire(sem, 4, 3, 'a')).toBe(false);
        expect(await s.tryAcquire(sem, 2, 3, 'a')).toBe(true);
        expect(await s.tryAcquire(sem, 2, 3, 'b')).toBe(false);
        expect(await s.tryAcquire(sem, 1, 3, 'b')).toBe(true);
        expect(await s.tryAcquire(sem, 1, 3, 'c')).toBe(false);
        // A larger limit (the pool grew) lets more in.
        expect(await s.tryAcquire(sem, 1, 4, 'c')).toBe(true);
        expect(Object.fromEntries(await s.semaphoreHolders(sem))).toEqual({ a: 2, b: 1, c: 1 });
        await s.release(sem, 2, 'a');
        expect(await s.tryAcquire(sem, 2, 4, 'd')).toBe(true);
        expect(await s.tryAcquire(sem, 1, 4, 'e')).toBe(false);
        // Releasing what a holder does not hold (again, or another count) changes nothing.
        await s.release(sem, 2, 'a');
        await s.release(sem, 5, 'b');
        expect(await s.tryAcquire(sem, 1, 4, 'e')).toBe(false);
        for (const [h, n] of await s.semaphoreHolders(sem)) await s.release(sem, n, h);
        expect((await s.semaphoreHolders(sem)).size).toBe(0);
        expect(await s.tryAcquire(sem, 4, 4, 'f')).toBe(true);
        expect(await s.tryAcquire(sem, 1, 4, 'g')).toBe(false);
        await s.release(uid('never-used'), 1, 'h');
        // Semaphores are independent.
        expect(await s.tryAcquire(uid('pool:y'), 4, 4, 'a')).toBe(true);
      });

      it('tryAcquireMany takes every holder’s units or none: refused over the limit or when one of them holds units already', async () => {
        const s = await makeStore();
        const sem = uid('pool:many');
        expect(await s.tryAcquire(sem, 2, 10, 'x')).toBe(true);
        expect(await s.tryAcquireMany(sem, 10, [{ holder: 'a', n: 3 }, { holder: 'b', n: 3 }, { holder: 'c', n: 3 }])).toBe(false);
        expect(Object.fromEntries(await s.semaphoreHolders(sem))).toEqual({ x: 2 });
        expect(await s.tryAcquireMany(sem, 10, [{ holder: 'a', n: 3 }, { holder: 'x', n: 2 }])).toBe(false);
        expect(Object.fromEntries(await s.semaphoreHolders(sem))).toEqual({ x: 2 });
        expect(await s.tryAcquireMany(sem, 10, [{ holder: 'a', n: 3 }, { holder: 'b', n: 5 }])).toBe(true);
        expect(Object.fromEntries(await s.semaphoreHolders(sem))).toEqual({ x: 2, a: 3, b: 5 });
        // Full: one more unit is refused; a holder that holds already is taken one by one (idempotent).
        expect(await s.tryAcquire(sem, 1, 10, 'c')).toBe(false);
        expect(await s.tryAcquireMany(sem, 10, [{ holder: 'a', n: 3 }])).toBe(false);
        expect(await s.tryAcquire(sem, 3, 10, 'a')).toBe(true);
        expect(await s.release(sem, 5, 'b')).toBe(false);
        const fifty = Array.from({ length: 50 }, (_, i) => ({ holder: `ti/d/r/t_${i}/-1/1`, n: 1 }));
        expect(await s.tryAcquireMany(sem, 55, fifty)).toBe(true);
        expect((await s.semaphoreHolders(sem)).size).toBe(52);
        expect(await s.tryAcquire(sem, 1, 55, 'last')).toBe(false);
      });

      it('release tells whether waiters are queued on the semaphore, whether or not the holder held units', async () => {
        const s = await makeStore();
        const sem = uid('pool:w');
        const runId = uid('run');
        expect(await s.tryAcquire(sem, 1, 2, 'a')).toBe(true);
        expect(await s.tryAcquire(sem, 1, 2, 'b')).toBe(true);
        expect(await s.release(sem, 1, 'a')).toBe(false);
        await s.enqueueWaiter(sem, key(runId, 'w1'));
        await s.enqueueWaiter(sem, key(runId, 'w2'));
        expect(await s.release(sem, 1, 'b')).toBe(true);
        expect(await s.release(sem, 1, 'b')).toBe(true);
        expect(await s.dequeueWaiter(sem)).toEqual(key(runId, 'w1'));
        expect(await s.release(sem, 1, 'nobody')).toBe(true);
        expect(await s.dequeueWaiter(sem)).toEqual(key(runId, 'w2'));
        expect(await s.release(sem, 1, 'nobody')).toBe(false);
        expect(await s.dequeueWaiter(sem)).toBeUndefined();
        expect(await s.release(uid('never-used'), 1, 'h')).toBe(false);
      });

      it('tryAcquire is idempotent per holder: a retried call takes nothing more', async () => {
        const s = await makeStore();
        const sem = uid('pool:idem');
        expect(await s.tryAcquire(sem, 2, 3, 'a')).toBe(true);
        // The same holder again (its first call applied, its answer was lost): true, still 2 used.
        expect(await s.tryAcquire(sem, 2, 3, 'a')).toBe(true);
        expect(await s.tryAcquire(sem, 1, 3, 'b')).toBe(true);
        expect(await s.tryAcquire(sem, 1, 3, 'c')).toBe(false);
        await s.release(sem, 2, 'a');
        await s.release(sem, 2, 'a');
        expect(Object.fromEntries(await s.semaphoreHolders(sem))).toEqual({ b: 1 });
        expect(await s.tryAcquire(sem, 2, 3, 'c')).toBe(true);
        expect(await s.tryAcquire(sem, 1, 3, 'd')).toBe(false);
      });

      it('concurrent tryAcquire never exceeds the limit', async () => {
        const s = await makeStore();
        const sem = uid('dag:c');
        const got = await Promise.all(Array.from({ length: 10 }, (_, i) => s.tryAcquire(sem, 1, 3, `h${i}`)));
        expect(got.filter(Boolean)).toHaveLength(3);
        const holders = [...(await s.semaphoreHolders(sem)).keys()];
        await Promise.all([s.release(sem, 1, holders[0]!), s.release(sem, 1, holders[1]!)]);
        const again = await Promise.all(Array.from({ length: 5 }, (_, i) => s.tryAcquire(sem, 1, 3, `k${i}`)));
        expect(again.filter(Boolean)).toHaveLength(2);
      });

      it('waiters come out first in, first out, per semaphore', async () => {
        const s = await makeStore();
        const sem = uid('task:d:t');
        const other = uid('pool:other');
        expect(await s.dequeueWaiter(sem)).toBeUndefined();
        const runId = uid('run');
        const ks = Array.from({ length: 12 }, (_, i) => key(runId, i % 2 ? 'odd' : 'even', i));
        for (const k of ks) await s.enqueueWaiter(sem, k);
        await s.enqueueWaiter(other, key(runId, 'elsewhere'));
        const out: (TiKey | undefined)[] = [];
        for (let i = 0; i < 5; i++) out.push(await s.dequeueWaiter(sem));
        await s.enqueueWaiter(sem, key(runId, 'late'));
        for (let i = 0; i < 9; i++) out.push(await s.dequeueWaiter(sem));
        expect(out).toEqual([...ks, key(runId, 'late'), undefined]);
        expect(await s.dequeueWaiter(other)).toEqual(key(runId, 'elsewhere'));
        expect(await s.dequeueWaiter(other)).toBeUndefined();
      });

      it('concurrent dequeues each take a different waiter', async () => {
        const s = await makeStore();
        const sem = uid('pool:c');
        const runId = uid('run');
        for (let i = 0; i < 6; i++) await s.enqueueWaiter(sem, key(runId, 't', i));
        const got = await Promise.all(Array.from({ length: 8 }, () => s.dequeueWaiter(sem)));
        const taken = got.filter((k): k is TiKey => k !== undefined).map((k) => k.mapIndex);
        expect(taken.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
        expect(got.filter((k) => k === undefined)).toHaveLength(2);
      });
    });

    // ---------------------------------------------------------------------------------------------
    // ---------------------------------------------------------------------------------------------
    describe('clearing: finishes undone', () => {
      const tally = (over: Partial<Record<TerminalTiState, number>> = {}) => ({ success: 0, failed: 0, skipped: 0, upstream_failed: 0, removed: 0, ...over });
      const rerun: Partial<TaskInstanceRecord> = { state: 'scheduled', tryNumber: 1, maxTries: 3, endDate: null, error: null, durationMs: null, startDate: null, queuedAt: null };
      const resetReq = (runId: string, taskId: string, mapIndex: number, state: TerminalTiState, tryNumber: number, to: ResetRequest['to'], downstream: string[], undecide?: { priorTries: number }): ResetRequest => ({
        key: key(runId, taskId, mapIndex),
        expect: { state, tryNumber },
        to,
        downstream,
        ...(undecide ? { undecide } : {}),
      });

      it('resetTaskInstances moves a finished instance back, takes its state out of every tally and adds 1 pending; a replay or a wrong try changes nothing', async () => {
        const s = await makeStore();
        const run = await runWithRunning(s, 't', 5);
        await s.finishTaskInstance(finishReq(run.runId, 't', ['d1', 'd2'], { state: 'failed', patch: { error: err('Error: boom'), endDate: at(5) } }));
        expect((await s.getRun(run))?.pending).toBe(4);
        const req = resetReq(run.runId, 't', -1, 'failed', 1, rerun, ['d1', 'd2']);
        expect(await s.resetTaskInstances([{ ...req, expect: { state: 'failed', tryNumber: 2 } }])).toEqual({ applied: [false], pending: 4 });
        expect(await s.resetTaskInstances([{ ...req, expect: { state: 'success', tryNumber: 1 } }])).toEqual({ applied: [false], pending: 4 });
        expect(await s.resetTaskInstances([req])).toEqual({ applied: [true], pending: 5 });
        const snapshot = async () => ({
          run: await s.getRun(run),
          ti: await s.getTaskInstance(key(run, 't')),
          states: await s.getTaskStates(run, ['t', 'd1', 'd2']),
        });
        const after = await snapshot();
        // The try it had reached, with the state it ended in, goes into its history.
        expect(after.ti).toEqual({
          ...makeTi(run, 't', -1, { state: 'running', tryNumber: 1 }),
          ...rerun,
          history: [{ tryNumber: 1, state: 'failed', startDate: null, endDate: at(5), durationMs: null, error: err('Error: boom') }],
        });
        expect(after.states.map((x) => [x?.self, x?.upstream])).toEqual([
          [tally(), tally()],
          [tally(), tally()],
          [tally(), tally()],
        ]);
        expect(after.run?.pending).toBe(5);
        expect(await s.resetTaskInstances([req])).toEqual({ applied: [false], pending: 5 });
        expect(await snapshot()).toEqual(after);
        // It can finish again, and counts once.
        await s.updateTaskInstance(key(run, 't'), { states: ['scheduled'] }, { state: 'running', tryNumber: 2 });
        const again = await s.finishTaskInstance(finishReq(run.runId, 't', ['d1', 'd2'], { expect: { states: ['running'], tryNumber: 2 } }));
        expect(again?.downstream.map((d) => d.upstream)).toEqual([tally({ success: 1 }), tally({ success: 1 })]);
        expect(again?.pending).toBe(4);
      });

      it("resetTaskInstances to 'absent' with undecide: the instance is gone and its task undecided, its tries kept; it can be decided and created again", async () => {
        const s = await makeStore();
        const run = await runWithRunning(s, 't', 5);
        expect(await s.claimDecision(run, 't', 'scheduled')).toBe(true);
        await s.finishTaskInstance(finishReq(run.runId, 't', ['d']));
        const req = resetReq(run.runId, 't', -1, 'success', 1, 'absent', ['d'], { priorTries: 1 });
        expect(await s.resetTaskInstances([req])).toEqual({ applied: [true], pending: 5 });
        expect(await s.getTaskInstance(key(run, 't'))).toBeUndefined();
        expect(await s.listTaskInstances(run)).toEqual([]);
        const [t, d] = await s.getTaskStates(run, ['t', 'd']);
        expect(t).toMatchObject({ decision: null, mapCount: null, priorTries: 1, self: tally() });
        expect(d?.upstream).toEqual(tally());
        expect(await s.resetTaskInstances([req])).toEqual({ applied: [false], pending: 5 });
        expect(await s.claimDecision(run, 't', 'scheduled')).toBe(true);
        await s.createTaskInstances([makeTi(run, 't', -1, { tryNumber: 1, maxTries: 3 })]);
        expect(await s.getTaskInstance(key(run, 't'))).toMatchObject({ state: 'scheduled', tryNumber: 1 });
        // A task settled without running (decision upstream_failed, try 0) undecides the same way.
        await s.finishTaskInstance({ key: key(run, 'u'), expect: 'absent', create: makeTi(run, 'u'), state: 'upstream_failed', patch: {}, downstream: [] });
        await s.claimDecision(run, 'u', 'upstream_failed');
        expect((await s.resetTaskInstances([resetReq(run.runId, 'u', -1, 'upstream_failed', 0, 'absent', [], { priorTries: 0 })])).applied).toEqual([true]);
        const [u] = await s.getTaskStates(run, ['u']);
        expect([u?.decision, u?.self, u?.priorTries ?? 0]).toEqual([null, tally(), 0]);
      });

      it('resets append to the history: after the tries already there, the cleared try once, bounded to the latest 100', async () => {
        const s = await makeStore();
        const run = makeRun({ pending: 5 });
        await s.createRun(run);
        const try1 = { tryNumber: 1, state: 'failed' as const, startDate: at(1), endDate: at(2), durationMs: 60_000, error: err('Error: first') };
        await s.createTaskInstances([makeTi(run, 't', -1, { state: 'running', tryNumber: 2, startDate: at(3), history: [try1] })]);
        await s.finishTaskInstance(finishReq(run.runId, 't', [], { expect: { states: ['running'], tryNumber: 2 } }));
        expect((await s.resetTaskInstances([resetReq(run.runId, 't', -1, 'success', 2, { ...rerun, tryNumber: 2 }, [])])).applied).toEqual([true]);
        const try2 = { tryNumber: 2, state: 'success', startDate: at(3), endDate: at(5), durationMs: 300_000, error: null };
        expect((await s.getTaskInstance(key(run, 't')))?.history).toEqual([try1, try2]);

        // A task settled without running at the try it had reached (already in its history) adds nothing.
        const settled = makeTi(run, 'u', -1, { tryNumber: 2, history: [try1, { ...try2, state: 'failed' as const }] });
        await s.finishTaskInstance({ key: key(run, 'u'), expect: 'absent', create: settled, state: 'skipped', patch: {}, downstream: [] });
        expect((await s.resetTaskInstances([resetReq(run.runId, 'u', -1, 'skipped', 2, rerun, [])])).applied).toEqual([true]);
        expect((await s.getTaskInstance(key(run, 'u')))?.history).toEqual(settled.history);

        // 100 tries kept: the oldest goes.
        const many = Array.from({ length: 100 }, (_, i) => ({ ...try1, tryNumber: i + 1 }));
        await s.createTaskInstances([makeTi(run, 'v', -1, { state: 'running', tryNumber: 101, history: many })]);
        await s.finishTaskInstance(finishReq(run.runId, 'v', [], { expect: { states: ['running'], tryNumber: 101 }, state: 'failed', patch: { error: err('E: '.padEnd(5000, 'x')) } }));
        expect((await s.resetTaskInstances([resetReq(run.runId, 'v', -1, 'failed', 101, { ...rerun, tryNumber: 101 }, [])])).applied).toEqual([true]);
        const h = (await s.getTaskInstance(key(run, 'v')))?.history ?? [];
        expect(h.map((x) => x.tryNumber)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));
        expect(h[99]).toMatchObject({ tryNumber: 101, state: 'failed' });
        expect(h[99]?.error?.message.length).toBe(1000);
      });

      it("a reset to 'absent' with undecide keeps the instance's history on its task state (priorHistory); a try-0 instance has none", async () => {
        const s = await makeStore();
        const run = await runWithRunning(s, 't', 5);
        expect(await s.claimDecision(run, 't', 'scheduled')).toBe(true);
        const try1 = { tryNumber: 1, state: 'failed' as const, startDate: null, endDate: at(2), durationMs: null, error: err('Error: first') };
        await s.updateTaskInstance(key(run, 't'), { states: ['running'], tryNumber: 1 }, { tryNumber: 2, startDate: at(3), history: [try1] });
        await s.finishTaskInstance(finishReq(run.runId, 't', ['d'], { expect: { states: ['running'], tryNumber: 2 }, state: 'failed', patch: { endDate: at(4), durationMs: 60_000, error: err('Error: second') } }));
        expect((await s.resetTaskInstances([resetReq(run.runId, 't', -1, 'failed', 2, 'absent', ['d'], { priorTries: 2 })])).applied).toEqual([true]);
        const [t] = await s.getTaskStates(run, ['t']);
        expect(t).toMatchObject({ decision: null, priorTries: 2 });
        expect(t?.priorHistory).toEqual([try1, { tryNumber: 2, state: 'failed', startDate: at(3), endDate: at(4), durationMs: 60_000, error: err('Error: second') }]);
        // Decided and cleared again at try 0 (settled without running): the state's history goes with it.
        expect(await s.claimDecision(run, 't', 'upstream_failed')).toBe(true);
        await s.finishTaskInstance({ key: key(run, 't'), expect: 'absent', create: makeTi(run, 't'), state: 'upstream_failed', patch: {}, downstream: ['d'] });
        expect((await s.resetTaskInstances([resetReq(run.runId, 't', -1, 'upstream_failed', 0, 'absent', ['d'], { priorTries: 0 })])).applied).toEqual([true]);
        const [again] = await s.getTaskStates(run, ['t']);
        expect(again?.priorHistory).toBeUndefined();
        expect(again?.priorTries ?? 0).toBe(0);
      });

      it('resetTaskInstances over 250 instances of one task: those whose condition holds apply, counted once; a replay applies nothing', async () => {
        const s = await makeStore();
        const n = 250;
        const run = makeRun({ pending: n + 5 });
        await s.createRun(run);
        await s.createTaskInstances(Array.from({ length: n }, (_, i) => makeTi(run, 'm', i, { state: 'running', tryNumber: 1 })));
        const state = (i: number): TerminalTiState => (i % 5 === 0 ? 'failed' : 'success');
        const fin = await s.finishTaskInstances(Array.from({ length: n }, (_, i) => ({ ...finishReq(run.runId, 'm', ['join']), key: key(run, 'm', i), state: state(i) })));
        expect(fin.pending).toBe(5);
        // Every fourth is asked with a wrong try; the others go back: odd ones to scheduled, even ones away.
        const reqs = Array.from({ length: n }, (_, i) => resetReq(run.runId, 'm', i, state(i), i % 4 === 3 ? 2 : 1, i % 2 ? rerun : 'absent', ['join']));
        const res = await s.resetTaskInstances(reqs);
        const expected = reqs.map((_, i) => i % 4 !== 3);
        expect(res.applied).toEqual(expected);
        const applied = expected.filter(Boolean).length;
        expect(res.pending).toBe(5 + applied);
        const left = { success: 0, failed: 0 };
        for (let i = 0; i < n; i++) if (i % 4 === 3) left[state(i) as 'success' | 'failed']++;
        const [m, join] = await s.getTaskStates(run, ['m', 'join']);
        expect(m?.self).toEqual(tally(left));
        expect(join?.upstream).toEqual(tally(left));
        const tis = await s.listTaskInstanceRange(run, 'm', 0, n);
        expect(tis.map((t) => t.mapIndex)).toEqual(Array.from({ length: n }, (_, i) => i).filter((i) => i % 2 === 1 || i % 4 === 3));
        expect(tis.filter((t) => t.state === 'scheduled').length).toBe(Array.from({ length: n }, (_, i) => i).filter((i) => i % 2 === 1 && i % 4 !== 3).length);
        const again = await s.resetTaskInstances(reqs);
        expect(again.applied.some(Boolean)).toBe(false);
        expect(again.pending).toBe(5 + applied);
      });

      it('resetTaskInstances with 150 downstream tasks (more than one transaction holds): every tally once; a replay changes nothing', async () => {
        const s = await makeStore();
        const ds = Array.from({ length: 150 }, (_, i) => `d${i}`);
        const run = makeRun({ pending: 10 });
        await s.createRun(run);
        await s.createTaskInstances([makeTi(run, 'wide', -1, { state: 'running', tryNumber: 1 }), makeTi(run, 'wm', 0, { state: 'running', tryNumber: 1 })]);
        await s.claimDecision(run, 'wide', 'scheduled');
        await s.finishTaskInstance(finishReq(run.runId, 'wide', ds));
        await s.finishTaskInstance({ ...finishReq(run.runId, 'wm', ds, { state: 'failed' }), key: key(run, 'wm', 0) });
        expect((await s.getTaskStates(run, ds)).every((x) => x?.upstream.success === 1 && x.upstream.failed === 1)).toBe(true);
        const away = resetReq(run.runId, 'wide', -1, 'success', 1, 'absent', ds, { priorTries: 1 });
        const back = resetReq(run.runId, 'wm', 0, 'failed', 1, rerun, ds);
        expect((await s.resetTaskInstances([away])).applied).toEqual([true]);
        expect((await s.resetTaskInstances([back])).applied).toEqual([true]);
        const check = async () => {
          expect((await s.getTaskStates(run, ds)).map((x) => x?.upstream)).toEqual(ds.map(() => tally()));
          const [wide, wm] = await s.getTaskStates(run, ['wide', 'wm']);
          expect([wide?.decision, wide?.priorTries, wide?.self]).toEqual([null, 1, tally()]);
          expect(wm?.self).toEqual(tally());
          expect(await s.getTaskInstance(key(run, 'wide'))).toBeUndefined();
          expect((await s.getTaskInstance(key(run, 'wm', 0)))?.state).toBe('scheduled');
          expect((await s.getRun(run))?.pending).toBe(10);
        };
        await check();
        expect((await s.resetTaskInstances([away])).applied).toEqual([false]);
        expect((await s.resetTaskInstances([back])).applied).toEqual([false]);
        await check();
      });

      it('withdrawExpansion undoes claimExpansion once the instances are reset away; refused while one is counted, for another count, or twice', async () => {
        const s = await makeStore();
        const run = makeRun({ pending: 10 });
        await s.createRun(run);
        expect(await s.claimExpansion(run, 'm', 3, ['j1', 'j2'])).toBe(true);
        await s.createTaskInstances([0, 1, 2].map((i) => makeTi(run, 'm', i, { state: 'running', tryNumber: i === 2 ? 2 : 1 })));
        const fin = await s.finishTaskInstances([0, 1, 2].map((i) => ({ ...finishReq(run.runId, 'm', ['j1', 'j2']), key: key(run, 'm', i), expect: { states: ['running' as const], tryNumber: i === 2 ? 2 : 1 } })));
        expect(fin.pending).toBe(12 - 3);
        // Two of three reset away: refused (one still counted).
        await s.resetTaskInstances([0, 1].map((i) => resetReq(run.runId, 'm', i, 'success', 1, 'absent', ['j1', 'j2'])));
        expect(await s.withdrawExpansion(run, 'm', 3, ['j1', 'j2'], 2)).toBe(false);
        await s.resetTaskInstances([resetReq(run.runId, 'm', 2, 'success', 2, 'absent', ['j1', 'j2'])]);
        expect(await s.withdrawExpansion(run, 'm', 4, ['j1', 'j2'], 2)).toBe(false);
        expect((await s.getRun(run))?.pending).toBe(12);
        expect(await s.withdrawExpansion(run, 'm', 3, ['j1', 'j2'], 2)).toBe(true);
        const check = async () => {
          const [m, j1, j2] = await s.getTaskStates(run, ['m', 'j1', 'j2']);
          expect([m?.decision, m?.mapCount, m?.priorTries, m?.self]).toEqual([null, null, 2, tally()]);
          for (const j of [j1, j2]) expect([j?.upstream, j?.upstreamAddedTotal, j?.upstreamExpanded]).toEqual([tally(), 0, 0]);
          // Back to one undecided task.
          expect((await s.getRun(run))?.pending).toBe(10);
        };
        await check();
        expect(await s.withdrawExpansion(run, 'm', 3, ['j1', 'j2'], 2)).toBe(false);
        await check();
        // It expands again, into another count.
        expect(await s.claimExpansion(run, 'm', 5, ['j1', 'j2'])).toBe(true);
        expect((await s.getTaskStates(run, ['j1']))[0]?.upstreamAddedTotal).toBe(5);
        expect((await s.getRun(run))?.pending).toBe(14);
      });

      it('withdrawExpansion into 150 downstream tasks applies to each exactly once', async () => {
        const s = await makeStore();
        const ds = Array.from({ length: 150 }, (_, i) => `d${i}`);
        const run = makeRun({ pending: 200 });
        await s.createRun(run);
        expect(await s.claimExpansion(run, 'm', 7, ds)).toBe(true);
        expect(await s.withdrawExpansion(run, 'm', 7, ds, 1)).toBe(true);
        expect(await s.withdrawExpansion(run, 'm', 7, ds, 1)).toBe(false);
        expect((await s.getTaskStates(run, ds)).map((x) => [x?.upstreamAddedTotal, x?.upstreamExpanded])).toEqual(ds.map(() => [0, 0]));
        expect((await s.getRun(run))?.pending).toBe(200);
      });

      it('deleteTaskResults deletes the XComs (every key) and item results of those instances only', async () => {
        const s = await makeStore();
        const run = makeRun();
        await s.createRun(run);
        await s.createTaskInstances([0, 1, 2].map((i) => makeTi(run, 'm', i)));
        await s.createTaskInstances([makeTi(run, 'mm', 0)]);
        for (const i of [0, 1, 2]) {
          await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: i, key: 'return_value', value: i });
          await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'm', mapIndex: i, key: 'extra', value: { big: bigValue(i === 1 ? 400_000 : 10) } });
          await s.putItemResult(key(run, 'm', i), 0, `item ${i}`);
        }
        await s.putXCom({ dagId: run.dagId, runId: run.runId, taskId: 'mm', mapIndex: 0, key: 'return_value', value: 'other task' });
        await s.deleteTaskResults([key(run, 'm', 1), key(run, 'm', 2)]);
        expect((await s.listXComs(run, 'm', 'return_value')).map((x) => x.value)).toEqual([0]);
        expect((await s.listXComs(run, 'm', 'extra')).map((x) => x.mapIndex)).toEqual([0]);
        expect(await s.getXCom(run, 'm', 1, 'extra')).toBeUndefined();
        expect([...(await s.listItemResults(key(run, 'm', 0))).values()]).toEqual(['item 0']);
        expect((await s.listItemResults(key(run, 'm', 1))).size).toBe(0);
        expect((await s.getXCom(run, 'mm', 0, 'return_value'))?.value).toBe('other task');
        await s.deleteTaskResults([key(run, 'm', 1)]);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('deleting, and backfills', () => {
      it('deleteRun deletes the run and everything in it, and its own pipeline scope, and nothing else', async () => {
        const s = await makeStore();
        const run = makeRun({ dagId: 'gone' });
        const child = makeRun({ dagId: 'gone', pipelineScope: run.pipelineScope });
        const other = makeRun({ dagId: 'gone' });
        for (const r of [run, child, other]) await s.createRun(r);
        for (const r of [run, other]) {
          await s.createTaskInstances([makeTi(r, 'a'), makeTi(r, 'm', 0), makeTi(r, 'm', 1)]);
          await s.claimDecision(r, 'a', 'scheduled');
          await s.putXCom({ dagId: r.dagId, runId: r.runId, taskId: 'a', mapIndex: -1, key: 'return_value', value: bigValue(400_000) });
          await s.putXComs([0, 1].map((i) => ({ dagId: r.dagId, runId: r.runId, taskId: 'm', mapIndex: i, key: 'return_value', value: i })));
          await s.putItemResult(key(r, 'a'), 3, 'x');
          await s.appendLog(key(r, 'a'), 1, [{ time: at(1), level: 'info', message: 'one' }]);
          await s.appendLog(key(r, 'a'), 2, [{ time: at(2), level: 'info', message: 'two' }, { time: at(2), level: 'info', message: 'three' }]);
          await s.appendLog(key(r, 'm', 1), 1, [{ time: at(2), level: 'info', message: 'm' }]);
          await s.appendPipelineSave(r.pipelineScope, { stage: 's', time: at(1), data: { r: r.runId }, dagId: 'gone', runId: r.runId, taskId: 'a' });
        }
        await s.appendPipelineSave(run.pipelineScope, { stage: 'child', time: at(2), data: 1, dagId: 'gone', runId: child.runId, taskId: 'c' });
        expect(await s.deleteRun(child)).toEqual({ dagId: 'gone', runId: child.runId, taskInstances: 0, xcoms: 0, itemResults: 0, logs: 0, pipelineSaves: 0 });
        expect(await s.listPipelineSaves(run.pipelineScope)).toHaveLength(2);
        expect(await s.deleteRun(run)).toEqual({ dagId: 'gone', runId: run.runId, taskInstances: 3, xcoms: 3, itemResults: 1, logs: 3, pipelineSaves: 2 });
        expect(await s.deleteRun(run)).toBeUndefined();
        expect(await s.getRun(run)).toBeUndefined();
        expect((await s.listRuns({ dagId: 'gone' })).map((r) => r.runId)).toEqual([other.runId]);
        expect(await s.listTaskInstances(run)).toEqual([]);
        expect(await s.getXCom(run, 'a', -1, 'return_value')).toBeUndefined();
        expect(await s.listXComs(run, 'm', 'return_value')).toEqual([]);
        expect((await s.listItemResults(key(run, 'a'))).size).toBe(0);
        expect(await s.getLog(key(run, 'a'), 2)).toEqual([]);
        expect(await s.listPipelineSaves(run.pipelineScope)).toEqual([]);
        // The other run is whole.
        expect(await s.listTaskInstances(other)).toHaveLength(3);
        expect((await s.getXCom(other, 'a', -1, 'return_value'))?.value).toEqual(bigValue(400_000));
        expect(await s.getLog(key(other, 'a'), 2)).toHaveLength(2);
        expect(await s.listPipelineSaves(other.pipelineScope)).toHaveLength(1);
        // A run of the same id can be created again, from nothing.
        expect(await s.createRun(run)).toBe(true);
        expect(await s.getTaskStates(run, ['a'])).toEqual([undefined]);
      });

      it('deleteDagRecord deletes the DAG record and its backfills; deleteSemaphores resets counters and drops waiters', async () => {
        const s = await makeStore();
        const dagId = uid('dag');
        await s.registerDagVersion(entry(dagId, 'v1', null), at(0));
        await s.registerDagVersion(entry(dagId, 'v2', null), at(1));
        await s.registerDagVersion(entry(`${dagId}_other`, 'v1', null), at(0));
        for (const id of ['1', '2']) expect(await s.createBackfill(backfill(dagId, id))).toBe(true);
        expect(await s.createBackfill(backfill(`${dagId}_other`, '3'))).toBe(true);
        expect(await s.deleteDagRecord(dagId)).toEqual({ dagRecord: true, backfills: 2 });
        expect(await s.getDagRecord(dagId)).toBeUndefined();
        expect(await s.listDagVersions(dagId)).toEqual([]);
        expect(await s.getDagVersion(dagId, 'v1')).toBeUndefined();
        expect(await s.listBackfills(dagId)).toEqual([]);
        expect(await s.deleteDagRecord(dagId)).toEqual({ dagRecord: false, backfills: 0 });
        expect(await s.getDagRecord(`${dagId}_other`)).toBeDefined();
        expect((await s.listDagVersions(`${dagId}_other`)).map((v) => v.version)).toEqual(['v1']);
        expect(await s.listBackfills(`${dagId}_other`)).toHaveLength(1);

        const sem = uid('sem');
        expect(await s.tryAcquire(sem, 4, 5, 'a')).toBe(true);
        await s.enqueueWaiter(sem, key('r', 't'));
        await s.deleteSemaphores([sem, uid('never')]);
        expect(await s.tryAcquire(sem, 5, 5, 'b')).toBe(true);
        expect(await s.dequeueWaiter(sem)).toBeUndefined();
      });

      it('backfills: created once, read, updated under a state condition, listed oldest first per DAG', async () => {
        const s = await makeStore();
        const dagId = uid('dag');
        const b2 = backfill(dagId, '10', { createdAt: at(2) });
        const b1 = backfill(dagId, '9', { createdAt: at(1) });
        expect(await s.createBackfill(b2)).toBe(true);
        expect(await s.createBackfill(b1)).toBe(true);
        expect(await s.createBackfill({ ...b1, maxActiveRuns: 99 })).toBe(false);
        expect(await s.getBackfill(dagId, '9')).toEqual(b1);
        expect(await s.getBackfill(dagId, 'nope')).toBeUndefined();
        expect(await s.listBackfills(dagId)).toEqual([b1, b2]);
        const done = await s.updateBackfill(dagId, '9', ['running'], { state: 'completed', completedAt: at(3), counts: { dates: 3, created: 1, cleared: 1, skipped: 1 } });
        expect(done).toEqual({ ...b1, state: 'completed', completedAt: at(3), counts: { dates: 3, created: 1, cleared: 1, skipped: 1 } });
        expect(await s.updateBackfill(dagId, '9', ['running'], { state: 'running' })).toBeUndefined();
        expect(await s.getBackfill(dagId, '9')).toEqual(done);
        expect(await s.updateBackfill(dagId, 'nope', null, { state: 'completed' })).toBeUndefined();
        expect(await s.listBackfills(uid('dag'))).toEqual([]);
      });

      it("runs keep their pinned versions through create, get, update and listings; a run without them has none; they are the caller's", async () => {
        const s = await makeStore();
        const pins = { contract_dag: 'v1', child_dag: 'abc123', 'grand.child-dag': 'v9' };
        const pinned = makeRun({ pinnedVersions: { ...pins } });
        const none = makeRun();
        const nulled = makeRun({ pinnedVersions: null });
        for (const r of [pinned, none, nulled]) expect(await s.createRun(r)).toBe(true);
        expect(await s.getRun(pinned)).toEqual(pinned);
        expect((await s.getRun(none))?.pinnedVersions ?? null).toBeNull();
        expect((await s.getRun(nulled))?.pinnedVersions ?? null).toBeNull();
        // The caller's object is copied in: changing it later changes nothing stored.
        pinned.pinnedVersions!.child_dag = 'changed';
        expect((await s.getRun(pinned))?.pinnedVersions).toEqual(pins);
        // ...and out: changing what was returned changes nothing stored either.
        const got = (await s.getRun(pinned))!;
        try {
          got.pinnedVersions!.child_dag = 'changed';
        } catch (e) {
          expect(e).toBeInstanceOf(TypeError); // frozen
        }
        expect((await s.getRun(pinned))?.pinnedVersions).toEqual(pins);
        // Kept across updates of other fields; set, replaced and cleared by an update.
        expect((await s.updateRun(pinned, null, { note: 'n', state: 'success' }))?.pinnedVersions).toEqual(pins);
        expect((await s.listRuns({ dagId: pinned.dagId, states: ['success'] })).find((r) => r.runId === pinned.runId)?.pinnedVersions).toEqual(pins);
        expect((await s.listRunsByState('success')).find((r) => r.dagId === pinned.dagId && r.runId === pinned.runId)?.pinnedVersions).toEqual(pins);
        const set = await s.updateRun(none, ['running'], { pinnedVersions: { other: 'v2' } });
        expect(set?.pinnedVersions).toEqual({ other: 'v2' });
        expect((await s.getRun(none))?.pinnedVersions).toEqual({ other: 'v2' });
        expect((await s.updateRun(none, null, { pinnedVersions: {} }))?.pinnedVersions).toEqual({});
        expect((await s.getRun(none))?.pinnedVersions).toEqual({});
        expect((await s.updateRun(pinned, null, { pinnedVersions: null }))?.pinnedVersions ?? null).toBeNull();
        expect((await s.getRun(pinned))?.pinnedVersions ?? null).toBeNull();
      });

      it('runs keep their backfill id and clear count; a run without them has neither', async () => {
        const s = await makeStore();
        const plain = makeRun();
        const bf = makeRun({ backfillId: '7', runType: 'backfill' });
        await s.createRun(plain);
        await s.createRun(bf);
        expect(await s.getRun(plain)).toEqual(plain);
        expect(await s.getRun(bf)).toEqual(bf);
        const updated = await s.updateRun(plain, null, { clearNumber: 2, backfillId: '8' });
        expect(updated).toMatchObject({ clearNumber: 2, backfillId: '8' });
        expect(await s.getRun(plain)).toEqual(updated);
        expect((await s.listRuns({ dagId: plain.dagId })).find((r) => r.runId === bf.runId)?.backfillId).toBe('7');
      });
    });

    describe('end to end with the local runner', () => {
      it('a mapped task into a join, a retried task, iteration and a pool end as with the memory store', async () => {
        const s = await makeStore();
        const [reference, got] = [await runE2e(new MemoryStateStore()), await runE2e(s)];
        expect(got.errors).toEqual([]);
        expect(reference.errors).toEqual([]);
        const expected: Record<string, string> = { make: 'success/1', flaky: 'success/2', iter: 'success/1', join: 'success/1', only_if_failed: 'skipped/0' };
        for (let i = 0; i < 12; i++) expected[`square[${i}]`] = 'success/1';
        expect(taskStates(reference.report)).toEqual(expected);
        expect(taskStates(got.report)).toEqual(taskStates(reference.report));
        expect(got.report.state).toBe('success');
        const joined = {
          xs: Array.from({ length: 12 }, (_, i) => i * i),
          f: 'recovered',
          it: [101, 102, 103],
          stages: { flaky: { recoveredOnTry: 2 } },
          extra: { note: 'pushed' },
        };
        expect(reference.join).toEqual(joined);
        expect(got.join).toEqual(joined);
        const run = got.report;
        expect((await s.getRun(run))?.pending).toBe(0);
        const log = await s.getLog(key(run, 'square', 10), 1);
        expect(log.map((l) => l.message)).toContain('squaring 10');
        const flakyLog = await s.getLog(key(run, 'flaky'), 1);
        expect(flakyLog.at(-1)?.message).toContain('first try fails');
        expect(await s.dequeueWaiter('pool:narrow')).toBeUndefined();
        // Every unit of the pool was given back.
        expect(await s.tryAcquire('pool:narrow', 2, 2, 'check')).toBe(true);
      });

      it('clearing reruns what it cleared, counted once: a map index alone, then a mapped task expanded again', async () => {
        const s = await makeStore();
        const runner = new LocalRunner({ dags: e2eDags(), store: s, clock: new FakeClock(T0), pools: { narrow: 2 }, captureConsole: false });
        try {
          const dagId = 'store_contract_e2e';
          const { runId } = await runner.run({ dagId, runId: uid('e2e') });
          const run = { dagId, runId };
          const one = await runner.drive((s) => clearTaskInstances(s, { dagId, runId, taskIds: ['square'], mapIndexes: [3], downstream: true }));
          expect(one.cleared.map((c) => `${c.taskId}[${c.mapIndex}]:${c.mode}`)).toEqual(['square[3]:rerun', 'join[-1]:redecide', 'only_if_failed[-1]:redecide']);
          expect((await runner.waitForRun(run)).state).toBe('success');
          const all = await runner.drive((s) => clearTaskInstances(s, { dagId, runId, taskIds: ['make'], downstream: true }));
          expect(all.cleared).toHaveLength(1 + 12 + 2);
          const ended = await runner.waitForRun(run);
          expect(ended).toMatchObject({ state: 'success', pending: 0 });
          const expected: Record<string, string> = { make: 'success/2', flaky: 'success/2', iter: 'success/1', join: 'success/3', only_if_failed: 'skipped/0' };
          // The map indexes expanded again continue from the highest try of the old ones (square[3]: 2).
          for (let i = 0; i < 12; i++) expected[`square[${i}]`] = 'success/3';
          expect(taskStates(await runner.report(run))).toEqual(expected);
          const [square, join] = await s.getTaskStates(run, ['square', 'join']);
          expect(square?.self.success).toBe(12);
          expect([join?.upstream.success, join?.upstreamAddedTotal, join?.upstreamExpanded]).toEqual([14, 12, 1]);
          expect((await s.getXCom(run, 'join', -1, 'return_value'))?.value).toMatchObject({ xs: Array.from({ length: 12 }, (_, i) => i * i), f: 'recovered' });
          expect(runner.errors).toEqual([]);
          expect(await s.tryAcquire('pool:narrow', 2, 2, 'check')).toBe(true);
        } finally {
          runner.close();
        }
      });
    });

    // ---------------------------------------------------------------------------------------------
    describeHitlContract(makeStore);

    describe('variables and connections', () => {
      it('put, get, list (by key), replace and delete variables; any characters in a key', async () => {
        const s = await makeStore();
        const p = uid('var');
        const [a, b] = [`${p}/a#1 ü`, `${p}/b`];
        expect(await s.getVariable(a)).toBeUndefined();
        await s.putVariable({ key: b, value: '{"x":[1]}', description: 'json' });
        await s.putVariable({ key: a, value: 'one', description: null });
        const mine = async () => (await s.listVariables()).filter((v) => v.key.startsWith(p));
        expect(await mine()).toStrictEqual([
          { key: a, value: 'one', description: null },
          { key: b, value: '{"x":[1]}', description: 'json' },
        ]);
        await s.putVariable({ key: a, value: 'two', description: 'replaced' });
        expect(await s.getVariable(a)).toStrictEqual({ key: a, value: 'two', description: 'replaced' });
        expect(await s.deleteVariable(a)).toBe(true);
        expect(await s.deleteVariable(a)).toBe(false);
        expect(await s.getVariable(a)).toBeUndefined();
        expect((await mine()).map((v) => v.key)).toStrictEqual([b]);
      });

      it('put, get, list (by id), replace and delete connections, every field kept', async () => {
        const s = await makeStore();
        const p = uid('conn');
        const full = { connectionId: `${p}-db`, connType: 'postgres', host: 'db.example.com', login: 'ana', password: 'p@ss:word/1', schema: 'analytics', port: 5432, extra: '{"sslmode":"require"}', description: 'warehouse' };
        const bare = { connectionId: `${p}-api`, connType: 'http', host: null, login: null, password: null, schema: null, port: null, extra: null, description: null };
        await s.putConnection(full);
        await s.putConnection(bare);
        expect(await s.getConnection(full.connectionId)).toStrictEqual(full);
        const mine = async () => (await s.listConnections()).filter((c) => c.connectionId.startsWith(p));
        expect(await mine()).toStrictEqual([bare, full]);
        await s.putConnection({ ...full, password: null, port: 6543 });
        expect(await s.getConnection(full.connectionId)).toStrictEqual({ ...full, password: null, port: 6543 });
        expect(await s.deleteConnection(full.connectionId)).toBe(true);
        expect(await s.deleteConnection(full.connectionId)).toBe(false);
        expect(await s.getConnection(full.connectionId)).toBeUndefined();
        expect(await mine()).toStrictEqual([bare]);
      });
    });
  });
}
