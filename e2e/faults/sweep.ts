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
import type { DagResolver } from '../../lib/scheduler/host.ts';
import type { Dag } from '../../lib/authoring/dag.ts';
import { isTerminalRunState } from '../../lib/model/states.ts';
import { FAULT_MODES, FaultInjector, type FaultMode, type FaultPlan } from './fault-store.ts';
import { faultDags, ledger } from './dags.ts';

export type Verdict = 'correct' | 'stuck' | 'doubled' | 'wrongState' | 'negative' | 'leaked';

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
}

export function emptyFigures(): Figures {
  return { faults: 0, correct: 0, stuck: 0, doubled: 0, wrongState: 0, negative: 0, leaked: 0 };
}

const T0 = Date.parse('2026-01-01T00:00:00Z');
const RUN_ID = 'fault_run';

/** What a run ended as: its state and every task instance's final state, of it and the runs it triggered. */
async function outcome(store: StateStore, runId: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (id: string, prefix: string) => {
    const run = await store.getRun(id);
    out[`${prefix}run`] = run?.state ?? 'missing';
    for (const ti of await store.listTaskInstances(id)) {
      out[`${prefix}${ti.taskId}[${ti.mapIndex}]`] = ti.state;
      if (ti.externalId && (await store.getRun(ti.externalId))) await visit(ti.externalId, `${prefix}${ti.taskId}>`);
    }
  };
  await visit(runId, '');
  return out;
}

/** Run ids of a run and the runs it triggered. */
async function runTree(store: StateStore, runId: string): Promise<string[]> {
  const ids = [runId];
  for (const ti of await store.listTaskInstances(runId)) if (ti.externalId && (await store.getRun(ti.externalId))) ids.push(...(await runTree(store, ti.externalId)));
  return ids;
}

interface Incarnation {
  runner: LocalRunner;
  injector: FaultInjector;
}

function resolver(dags: readonly Dag[]): DagResolver {
  const byId = new Map(dags.map((d) => [d.dagId, d]));
  return { getDag: (id) => byId.get(id) };
}

/** Runs one case on `base` (a fresh store): returns its outcome, the writes it made and the checks. */
export async function runCase(base: StateStore, dagId: string, plan: FaultPlan): Promise<{ outcome: Record<string, string>; writes: number; problems: { verdict: Verdict; detail: string }[]; recovered: string[] }> {
  const dags = resolver(faultDags);
  ledger.length = 0;
  const recovered: string[] = [];
  let clockNow = T0;
  let writes = 0;
  const start = (p: FaultPlan): Incarnation => {
    const injector = new FaultInjector(p);
    const runner = new LocalRunner({ dags, store: injector.wrap(base), clock: new FakeClock(clockNow), captureConsole: false });
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
  await trigger();
  await inc.runner.idle();
  if (inc.injector.dead) {
    // The process died: a new one starts on the same store, resumes what was left, and the caller's
    // trigger (which may never have been answered) is sent again.
    writes += inc.injector.writes;
    clockNow = inc.runner.clock.now();
    inc.runner.close();
    inc = start({ at: 0, mode: plan.mode });
    recovered.push('restarted');
    await resumeRuns(inc.runner, dags, inc.runner.clock.now());
    await trigger();
    await inc.runner.idle();
  } else if (!(await base.getRun(RUN_ID))) {
    await trigger();
    await inc.runner.idle();
  }
  // Whatever is still running after the host went idle: a reconcile pass (the deployed stack runs one
  // periodically; the standalone at start), then idle again.
  for (let pass = 0; pass < 3; pass++) {
    const ids = await runTree(base, RUN_ID);
    const open = [];
    for (const id of ids) if (!isTerminalRunState((await base.getRun(id))?.state ?? 'success')) open.push(id);
    if (open.length === 0) break;
    recovered.push(`reconcile ${open.join(',')}`);
    for (const id of open) await inc.runner.scheduler.reconcileRun(id, { staleMs: 0 });
    await inc.runner.idle();
  }
  writes += inc.injector.writes;
  inc.runner.close();

  const problems: { verdict: Verdict; detail: string }[] = [];
  const ids = await runTree(base, RUN_ID);
  for (const id of ids) {
    const run = await base.getRun(id);
    if (!run || !isTerminalRunState(run.state)) problems.push({ verdict: 'stuck', detail: `run ${id} is ${run?.state ?? 'missing'}` });
    if (run && run.pending < 0) problems.push({ verdict: 'negative', detail: `run ${id} pending ${run.pending}` });
    const dag = dags.getDag(run?.dagId ?? '');
    if (!dag) continue;
    for (const ts of await base.getTaskStates(id, dag.spec.tasks.map((t) => t.taskId))) {
      if (!ts) continue;
      for (const [k, v] of [...Object.entries(ts.upstream), ...Object.entries(ts.self)]) if (v < 0) problems.push({ verdict: 'negative', detail: `${id}/${ts.taskId} tally ${k} = ${v}` });
    }
    const sems = new Set([`dag:${dag.dagId}`, `runs:${dag.dagId}`, ...dag.spec.tasks.map((t) => `pool:${t.pool}`)]);
    for (const name of sems) {
      const held = [...(await base.semaphoreHolders(name))].filter(([h]) => h.includes(`/${id}/`) || h.endsWith(`/${id}`));
      if (held.length) problems.push({ verdict: 'leaked', detail: `${name} still held by ${held.map(([h]) => h).join(', ')}` });
    }
  }
  const seen = new Set<string>();
  for (const line of ledger) {
    if (seen.has(line)) problems.push({ verdict: 'doubled', detail: `try ran twice: ${line}` });
    seen.add(line);
  }
  return { outcome: await outcome(base, RUN_ID), writes, problems, recovered };
}

function same(a: Record<string, string>, b: Record<string, string>): string | null {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (a[k] !== b[k]) return `${k}: ${b[k] ?? 'absent'} (without faults: ${a[k] ?? 'absent'})`;
  return null;
}

export interface SweepOptions {
  /** DAG ids to sweep. */
  dagIds: readonly string[];
  modes?: readonly FaultMode[];
  /** Inject at every `stride`-th write only (1: every write). */
  stride?: number;
  /** A fresh store per case. Default: a new MemoryStateStore. */
  makeStore?: () => Promise<StateStore> | StateStore;
  /** Told of each case as it ends. */
  onCase?(r: CaseResult): void;
}

/** The sweep over `dagIds`: every write (or every stride-th), in every mode. */
export async function sweep(options: SweepOptions): Promise<{ figures: Figures; failures: CaseResult[] }> {
  const figures = emptyFigures();
  const failures: CaseResult[] = [];
  const makeStore = options.makeStore ?? (() => new MemoryStateStore());
  for (const dagId of options.dagIds) {
    const clean = await runCase(await makeStore(), dagId, { at: 0, mode: 'before' });
    if (clean.problems.length) throw new Error(`${dagId} fails without faults: ${clean.problems.map((p) => p.detail).join('; ')}`);
    for (const mode of options.modes ?? FAULT_MODES) {
      for (let at = 1; at <= clean.writes; at += options.stride ?? 1) {
        const plan = { at, mode };
        const r = await runCase(await makeStore(), dagId, plan);
        figures.faults++;
        const diff = same(clean.outcome, r.outcome);
        const problem = r.problems[0] ?? (diff ? { verdict: 'wrongState' as const, detail: diff } : null);
        const result: CaseResult = { dagId, plan, verdict: problem?.verdict ?? 'correct', detail: problem ? `${problem.detail} [${r.recovered.join('; ')}]` : '' };
        figures[result.verdict]++;
        if (problem) failures.push(result);
        options.onCase?.(result);
      }
    }
  }
  return { figures, failures };
}
