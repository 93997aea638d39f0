import type { Dag } from '../../authoring/dag.ts';
import type { DagBag } from '../../dagbag/dag-bag.ts';
import { errorMessage } from '../../errors.ts';
import { LocalRunner, type RunReport } from '../../runner/local-runner.ts';
import { RealClock, SkippingClock } from '../../runner/clock.ts';
import { palette, useColor } from '../ansi.ts';
import { parseConf } from '../conf.ts';
import { loadBag, requireDag, type GlobalOptions } from '../dag-lookup.ts';
import { LiveView } from '../live-view.ts';
import { airlessHome, LogFileWriter, runLogDir } from '../../standalone/log-files.ts';
import { RunTracker } from '../run-tracker.ts';
import { displayPath } from '../format.ts';
import { renderRunSummary } from '../run-summary.ts';
import { stateChangeLine, tryLogLine } from '../state-lines.ts';
import { testPools } from '../test-pools.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';
import { HitlResponder, parseGivenAnswers } from '../dags-test-hitl.ts';

export interface DagsTestOptions extends GlobalOptions {
  /** The run's conf, as JSON. Default '{}'. */
  conf?: string;
  /** Print only the run report, as one JSON document. Default false. */
  json?: boolean;
  /** Do not print the tries' log lines as they are written. Default false. */
  quiet?: boolean;
  /** Skip retry delays, sensor intervals and deferred waits (a time-skipping clock). Default false. */
  skipWaits?: boolean;
  /** Open the inspector (`true`: 127.0.0.1:9229, or `[host:]port`) and wait for a debugger before loading the DAGs. */
  inspect?: boolean | string;
  /**
   * Pools by name: slots (`--pool NAME=SLOTS`, repeatable). Default: default_pool with 128 slots, and every
   * other pool a task names unlimited.
   */
  pool?: Record<string, number>;
  /** Answers to human-in-the-loop tasks: `TASK=OPTION[,OPTION]` (repeatable). Default: ask on a terminal. */
  respond?: string[];
  /** A form's values: `TASK.FIELD=VALUE` (repeatable; a JSON value, else text). Default: none. */
  respondInput?: string[];
}

/** `--inspect [host:]port` as the inspector takes it (port 0: a free one). */
export function parseInspect(value: boolean | string): { host: string; port: number } {
  if (value === true) return { host: '127.0.0.1', port: 9229 };
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(String(value));
  if (!m || Number(m[2]) > 65535) throw new UsageError(`--inspect: expected [host:]port, e.g. 9229 or 127.0.0.1:9229, got '${String(value)}'`);
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/**
 * Open the inspector and wait until a debugger attaches, saying how to attach: VS Code (the "attach"
 * configuration, or the JavaScript Debug Terminal) and Chrome (chrome://inspect, or the DevTools URL).
 * The DAG files load after it: source maps are on, so breakpoints set in their TypeScript bind.
 */
async function waitForDebugger(term: Terminal, where: { host: string; port: number }): Promise<void> {
  const inspector = await import('node:inspector');
  inspector.open(where.port, where.host, false);
  const url = inspector.url();
  if (url === undefined) throw new UsageError(`--inspect: the inspector did not open on ${where.host}:${where.port}`);
  const { hostname: host, port } = new URL(url);
  await term.err(
    [
      `Waiting for a debugger on ${host}:${port} (the DAG's code loads once one is attached):`,
      `  VS Code: Run and Debug > "Attach" to port ${port} (launch.json: { "type": "node", "request": "attach", "port": ${port} }),`,
      `           or run this command in a JavaScript Debug Terminal instead`,
      `  Chrome:  open chrome://inspect and click "inspect" under Remote Target, or open`,
      `           devtools://devtools/bundled/js_app.html?ws=${url.replace(/^ws:\/\//, '')}`,
      `  ${url}`,
      '',
    ].join('\n'),
  );
  inspector.waitForDebugger();
}

/** A ParamValidationError, even from another copy of the library. */
function isParamError(e: unknown): e is Error {
  return e instanceof Error && e.name === 'ParamValidationError';
}

/** Warnings for DAGs that the DAG triggers (directly or through the DAGs it triggers) and that are not loaded. */
function missingTriggered(bag: DagBag, dag: Dag): string[] {
  const warnings: string[] = [];
  const seen = new Set([dag.dagId]);
  const queue = [dag];
  while (queue.length) {
    const d = queue.shift()!;
    for (const t of d.spec.tasks) {
      const target = t.triggerDag?.triggerDagId;
      if (target === undefined || seen.has(target)) continue;
      seen.add(target);
      const found = bag.getDag(target);
      if (found) {
        queue.push(found);
        continue;
      }
      const errors = bag.importErrorsFor(target);
      warnings.push(
        `warning: task '${t.taskId}' of DAG '${d.dagId}' triggers DAG '${target}', which is not loaded${errors.length ? `:\n${errors.map((e) => `  ${e.error}`).join('\n')}` : ''}`,
      );
    }
  }
  return warnings;
}

function runTree(r: RunReport): RunReport[] {
  return [r, ...(r.triggeredRuns ?? []).flatMap(runTree)];
}

/**
 * `airless dags test <dagId>`: run the DAG in this process (breakpoints work), with the runs it
 * triggers; show task states live; end with a summary, the log tails of failed tries and where the log
 * files are. Exit 0 when the run succeeded, 1 when it failed.
 */
export async function dagsTest(term: Terminal, dagId: string, o: DagsTestOptions): Promise<number> {
  const json = o.json === true;
  if (json) term.reserveStdout();
  const conf = parseConf(o.conf);
  const given = parseGivenAnswers(o.respond, o.respondInput);
  if (o.inspect !== undefined && o.inspect !== false) await waitForDebugger(term, parseInspect(o.inspect));
  const home = airlessHome();
  const bag = await loadBag(term, o, home);
  const dag = requireDag(bag, dagId);
  for (const w of missingTriggered(bag, dag)) await term.err(`${w}\n`);
  const { pools, notes } = testPools(bag, o.pool ?? {});
  for (const n of notes) await term.err(`${n}\n`);

  const p = palette(!json && useColor(term.stdout));
  const tracker = new RunTracker();
  const logs = new LogFileWriter(home);
  const view = !json && term.interactive ? new LiveView(tracker, bag, term.stdout, p) : null;
  const deferredErrors: string[] = [];
  const clock = o.skipWaits === true ? new SkippingClock() : new RealClock();
  const runner = new LocalRunner({ dags: bag, clock, pools });
  const showLogs = !json && o.quiet !== true;
  const hitl = new HitlResponder({
    runner,
    dags: bag,
    term,
    given,
    prompt: !json && process.stdin.isTTY === true && term.stderr.isTTY === true,
    skipWaits: o.skipWaits === true,
    print: (text) => (view ? view.print(text) : term.stderr.write(`${text}\n`)),
  });
  runner.on(hitl.handle);
  // Never `console` in here: a 'log' event is delivered inside the task's try, whose console is captured.
  runner.on((e) => {
    const change = tracker.handle(e);
    if (e.type === 'log') {
      logs.add(e.key, e.tryNumber, e.line);
      if (showLogs) {
        const text = tryLogLine(e.key, e.tryNumber, e.line, p);
        if (view) view.print(text);
        else term.stdout.write(`${text}\n`);
      }
    }
    if (e.type === 'error') {
      const msg = `internal error in ${e.where}${e.run ? ` (run ${e.run.runId} of DAG ${e.run.dagId})` : ''}: ${errorMessage(e.error)}`;
      if (view) deferredErrors.push(msg);
      else term.stderr.write(`${msg}\n`);
    }
    if (view) view.changed();
    else if (change && !json) term.stdout.write(`${stateChangeLine(change, p, clock.now())}\n`);
  });

  const onSigint = () => {
    view?.stop();
    runner.close();
    logs.close();
    const dirs = [...tracker.runs.values()].map((r) => displayPath(runLogDir(home, r.dagId, r.runId)));
    term.stderr.write(`\ninterrupted${dirs.length ? `; logs so far: ${dirs.join(', ')}` : ''}\n`, () => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  view?.start();
  let report: RunReport;
  try {
    report = await runner.run({ dagId, conf });
    await hitl.settled();
  } catch (e) {
    if (isParamError(e)) throw new UsageError(`invalid --conf: ${errorMessage(e)}`);
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
    view?.stop();
    runner.close();
    logs.close();
  }

  for (const msg of deferredErrors) await term.err(`${msg}\n`);
  for (const msg of logs.errors) await term.err(`warning: ${msg}\n`);
  if (json) {
    await term.out(`${JSON.stringify(report)}\n`);
  } else {
    const summary = await renderRunSummary({ store: runner.store, dags: bag, home, p }, report);
    const dirs = runTree(report).map((r) => `  ${displayPath(runLogDir(home, r.dagId, r.runId))}`);
    await term.out(`\n${summary}\n\nLogs (one file per try):\n${dirs.join('\n')}\n`);
  }
  if (clock instanceof SkippingClock && clock.skippedMs > 0 && !json) await term.out(`(--skip-waits: ${formatSkipped(clock.skippedMs)} of waits skipped)\n`);
  return report.state === 'success' ? EXIT.ok : EXIT.failed;
}

/** A duration skipped, in the largest units that say it (`2h 5m`, `20s`, `350ms`). */
function formatSkipped(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  const parts = [[Math.floor(s / 86_400), 'd'], [Math.floor((s % 86_400) / 3600), 'h'], [Math.floor((s % 3600) / 60), 'm'], [s % 60, 's']] as const;
  return parts.filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join(' ');
}
