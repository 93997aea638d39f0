// The fault-injection sweep: run a DAG once without faults (its expected end and its number of store
// writes W), then once per write N = 1..W and per mode (before, after, die), with one fault injected
// at write N, and let recovery (the store's retries, the resume at start, the reconcile) run it to its
// end. Each case is classified: correct, stuck (the run never ended), doubled (a try's code ran twice),
// wrongState (the run or a task ended otherwise than without faults), negative (a counter below 0),
// leaked (a slot still held after the run ended).
import { LocalRunner } from '../../lib/runner/local-runner.ts';
import { FakeClock } from '../../lib/runner/clock.ts';
import { resumeRuns } from '../../lib/standalone/resume.ts';
import { MemoryStateStore } from '../../lib/store/memory-store.ts';
import type { StateStore } from '../../lib/store/state-store.ts';
import type { RunRef, TaskInstanceRecord } from '../../lib/store/records.ts';
import type { DagResolver } from '../../lib/scheduler/host.ts';
import type { Dag } from '../../lib/authoring/dag.ts';
import { isTerminalRunState } from '../../lib/model/states.ts';
import { FAULT_MODES, FaultInjector, type FaultMode, type FaultPlan } from './fault-store.ts';
import { faultDags, ledger } from './dags.ts';

export type Verdict = 'correct' | 'stuck' | 'doubled' | 'wrongState' | 'negative' | 'leaked' | 'error';

export interface CaseResult {
  dagId: string;
  plan: FaultPlan;
  verdict: Verdict;
  detail: string;
}

export interface Figures {
  faults: number;
  correct: number;
  stuck: number;
  doubled: number;
  wrongState: number;
  negative: number;
  leaked: number;
  /** Cases where the host reported an internal error (other than the injected death itself). */
  error: number;
}

export function emptyFigures(): Figures {
  return { faults: 0, correct: 0, stuck: 0, doubled: 0, wrongState: 0, negative: 0, leaked: 0, error: 0 };
}

export const T0 = Date.parse('2026-01-01T00:00:00Z');
export const RUN_ID = 'fault_run';

/** Where a case runs: how a process ("incarnation") with an injector sees the store, and the store to inspect. */
export interface CaseTarget {
  /** The store as a process whose writes go through `injector` sees it. */
  incarnation(injector: FaultInjector): StateStore;
  /** The store the end state is read from (no faults). */
  check: StateStore;
}

/** A target on one store, faults injected by a proxy around it. */
export function proxyTarget(store: StateStore): CaseTarget {
  return { incarnation: (injector) => injector.wrap(store), check: store };
}

export function faultDagResolver(dags: readonly Dag[] = faultDags): DagResolver {
  const byId = new Map(dags.map((d) => [d.dagId, d]));
  return { getDag: (id) => byId.get(id), dags };
}

/** What driving a case did. */
export interface Drive {
  /** Store writes made (by every incarnation). */
  writes: number;
  /** What recovery did (restarts, retried triggers, reconcile passes). */
  recovered: string[];
  /** Internal errors the hosts reported (a dead process's own are not counted). */
  errors: string[];
}

/**
 * Drive a case to its end in this process, as a standalone server would: trigger; if the process
 * "died" (the injector marked it dead), start a new incarnation on the same store that resumes what was
 * left (`resumeRuns`, as a standalone does at start) and sends the trigger again. Nothing else repairs
 * (a standalone runs no periodic reconcile): a run not ended once the host is idle is stuck.
 * `resume: true` starts with the resume (a new real process after a kill).
 */
export async function driveCase(target: CaseTarget, dagId: string, plan: FaultPlan, options: { resume?: boolean; onDie?: () => void; clockStart?: number } = {}): Promise<Drive> {
  const dags = faultDagResolver();
  const recovered: string[] = [];
  const errors: string[] = [];
  const collect = (runner: LocalRunner) => {
    // The injected fault itself, reported as the host recovers from it, is not an error of the case (its
    // outcome is judged by the end state); anything else the host reports is.
    for (const e of runner.errors) if (!/ProcessDiedError|InjectedStoreFault/.test(e.error)) errors.push(`${e.where}: ${e.error}`);
  };
  let clockNow = options.clockStart ?? T0;
  let writes = 0;
  const start = (p: FaultPlan) => {
    const injector = new FaultInjector(p, options.onDie);
    const runner = new LocalRunner({ dags, store: target.incarnation(injector), clock: new FakeClock(clockNow), captureConsole: false });
    return { runner, injector };
  };
  let inc = start(plan);
  const trigger = async () => {
    try {
      await inc.runner.trigger({ dagId, runId: RUN_ID, logicalDate: new Date(T0) });
    } catch (e) {
      // A trigger that failed is sent again by its caller (it is idempotent by run id).
      if (!inc.injector.dead) recovered.push(`trigger failed: ${String(e)}`);
    }
  };
  const resume = async () => {
    recovered.push('restarted');
    await resumeRuns(inc.runner, dags, inc.runner.clock.now(), { dagIds: faultDags.map((d) => d.dagId) });
  };
  if (options.resume) await resume();
  await trigger();
  await inc.runner.idle();
  if (inc.injector.dead) {
    // The process died: a new one starts on the same store, resumes what was left, and the caller's
    // trigger (which may never have been answered) is sent again.
    writes += inc.injector.writes;
    // A restart takes a moment: the new process's clock starts a second later.
    clockNow = inc.runner.clock.now() + 1000;
    collect(inc.runner);
    inc.runner.close();
    inc = start({ at: 0, mode: plan.mode });
    await resume();
    await trigger();
    await inc.runner.idle();
  } else if (!(await target.check.getRun({ dagId, runId: RUN_ID }))) {
    await trigger();
    await inc.runner.idle();
  }
  writes += inc.injector.writes;
  collect(inc.runner);
  inc.runner.close();
  return { writes, recovered, errors };
}

/** The run a triggerDag instance started, if any (its DAG is the task's target). */
function childOf(ti: TaskInstanceRecord): RunRef | null {
  const target = faultDagResolver().getDag(ti.dagId)?.task(ti.taskId).triggerDag?.triggerDagId;
  return target && ti.externalId ? { dagId: target, runId: ti.externalId } : null;
}

/** What a run ended as: its state and every task instance's final state, of it and the runs it triggered. */
async function outcome(store: StateStore, root: RunRef): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (ref: RunRef, prefix: string) => {
    const run = await store.getRun(ref);
    out[`${prefix}run`] = run?.state ?? 'missing';
    for (const ti of await store.listTaskInstances(ref)) {
      out[`${prefix}${ti.taskId}[${ti.mapIndex}]`] = ti.state;
      const child = childOf(ti);
      if (child && (await store.getRun(child))) await visit(child, `${prefix}${ti.taskId}>`);
    }
  };
  await visit(root, '');
  return out;
}

/** A run and the runs it triggered. */
async function runTree(store: StateStore, root: RunRef): Promise<RunRef[]> {
  const refs = [root];
  for (const ti of await store.listTaskInstances(root)) {
    const child = childOf(ti);
    if (child && (await store.getRun(child))) refs.push(...(await runTree(store, child)));
  }
  return refs;
}

/** The end state of a case and what is wrong with it. `lines`: the ledger of tries whose code started. */
export async function inspectCase(store: StateStore, lines: readonly string[], dagId: string): Promise<{ outcome: Record<string, string>; problems: { verdict: Verdict; detail: string }[] }> {
  const dags = faultDagResolver();
  const problems: { verdict: Verdict; detail: string }[] = [];
  const root = { dagId, runId: RUN_ID };
  for (const ref of await runTree(store, root)) {
    const id = ref.runId;
    const run = await store.getRun(ref);
    if (!run || !isTerminalRunState(run.state)) problems.push({ verdict: 'stuck', detail: `run ${id} is ${run?.state ?? 'missing'}` });
    if (run && run.pending < 0) problems.push({ verdict: 'negative', detail: `run ${id} pending ${run.pending}` });
    const dag = dags.getDag(ref.dagId);
    if (!dag) continue;
    for (const ts of await store.getTaskStates(ref, dag.spec.tasks.map((t) => t.taskId))) {
      if (!ts) continue;
      for (const [k, v] of [...Object.entries(ts.upstream), ...Object.entries(ts.self)]) if (v < 0) problems.push({ verdict: 'negative', detail: `${id}/${ts.taskId} tally ${k} = ${v}` });
    }
    const sems = new Set([`dag:${dag.dagId}`, `runs:${dag.dagId}`, ...dag.spec.tasks.map((t) => `pool:${t.pool}`)]);
    for (const name of sems) {
      const held = [...(await store.semaphoreHolders(name))].filter(([h]) => h.includes(`/${ref.dagId}/${id}/`) || h.endsWith(`/${ref.dagId}/${id}`));
      if (held.length) problems.push({ verdict: 'leaked', detail: `${name} still held by ${held.map(([h]) => h).join(', ')}` });
    }
  }
  const seen = new Set<string>();
  for (const line of lines) {
    if (seen.has(line)) problems.push({ verdict: 'doubled', detail: `try ran twice: ${line}` });
    seen.add(line);
  }
  return { outcome: await outcome(store, root), problems };
}

/** One case in this process: drive it, then inspect it. */
export async function runCase(target: CaseTarget, dagId: string, plan: FaultPlan): Promise<Drive & Awaited<ReturnType<typeof inspectCase>>> {
  ledger.length = 0;
  const drive = await driveCase(target, dagId, plan);
  return { ...drive, ...(await inspectCase(target.check, ledger, dagId)) };
}

function same(a: Record<string, string>, b: Record<string, string>): string | null {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (a[k] !== b[k]) return `${k}: ${b[k] ?? 'absent'} (without faults: ${a[k] ?? 'absent'})`;
  return null;
}

/** Runs one case wherever it runs (this process, or real processes): what a sweep needs of it. */
export type CaseRunner = (dagId: string, plan: FaultPlan) => Promise<Drive & Awaited<ReturnType<typeof inspectCase>>>;

export interface SweepOptions {
  /** DAG ids to sweep. */
  dagIds: readonly string[];
  modes?: readonly FaultMode[];
  /** Inject at every `stride`-th write only (1: every write), starting at `offset` (default 1). */
  stride?: number;
  offset?: number;
  /** Runs a case. Default: in this process, on a new MemoryStateStore per case. */
  runCase?: CaseRunner;
  /** Told of each case as it ends. */
  onCase?(r: CaseResult): void;
}

/** The sweep over `dagIds`: every write (or every stride-th), in every mode. */
export async function sweep(options: SweepOptions): Promise<{ figures: Figures; failures: CaseResult[] }> {
  const figures = emptyFigures();
  const failures: CaseResult[] = [];
  const run: CaseRunner = options.runCase ?? ((dagId, plan) => runCase(proxyTarget(new MemoryStateStore()), dagId, plan));
  for (const dagId of options.dagIds) {
    const clean = await run(dagId, { at: 0, mode: 'before' });
    if (clean.problems.length || clean.errors.length) throw new Error(`${dagId} fails without faults: ${[...clean.problems.map((p) => p.detail), ...clean.errors].join('; ')}`);
    for (const mode of options.modes ?? FAULT_MODES) {
      for (let at = options.offset ?? 1; at <= clean.writes; at += options.stride ?? 1) {
        const plan = { at, mode };
        const r = await run(dagId, plan);
        figures.faults++;
        const diff = same(clean.outcome, r.outcome);
        const problem = r.problems[0] ?? (diff ? { verdict: 'wrongState' as const, detail: diff } : r.errors.length ? { verdict: 'error' as const, detail: r.errors.join('; ') } : null);
        const result: CaseResult = { dagId, plan, verdict: problem?.verdict ?? 'correct', detail: problem ? `${problem.detail} [${r.recovered.join('; ')}]` : '' };
        figures[result.verdict]++;
        if (problem) failures.push(result);
        options.onCase?.(result);
      }
    }
  }
  return { figures, failures };
}
