// The benchmark driver: runs each scenario in a fresh child process (so peak RSS is per scenario) and
// prints the figures, and the spec's targets, as a table or (with --json) as exactly one JSON document.
//
//   npm run bench                         every scenario, a table on stdout
//   npm run bench -- --json               one JSON document on stdout; progress goes to stderr
//   npm run bench -- --only fanout-1k,chain-10k --repeat 3
//   npm run bench -- --only fanout-100k --cpu-prof .airless/prof   (V8 CPU profile of each timed span)
//   npm run -s bench -- --json --only batch-10k   (airless vs two Airflow models on 10,000 Batch jobs)
//   npm run -s bench -- --only deploy-scale         (the stack synthesized for generated DAGs, against AWS quotas)
//   npm run -s bench -- --only versions             (bytes per kept DAG version, bundle collect and load times)
//   npm run -s bench -- --only package              (what npm pack ships, and the compiled CLI's start)
//   npm run -s bench -- --only cli                  (npx airless --version, dags list, dags test of a trivial DAG)
//   npm run -s bench -- --only ui-grid              (the web UI's grid, 200 runs x 100 tasks, in Chromium)
//   npm run -s bench -- --only typecheck            (type checking dags/: cold, and warm after one file is touched)
//   npm run -s bench -- --only secrets              (a connection read through the SSM backend, cold and cached; the masker per log line)
//   npm run -s bench -- --only partitions           (100 partitions x 1,000 items, beside iteration of 100,000 and mapping of 100)
//
// Exits 1 if a scenario failed (its run did not succeed, or crashed, or timed out); the document then
// lists it under "failures". Targets missed do not change the exit code: they are figures, not tests.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CostScenario } from '../e2e/cost.ts';
import type { FaultsScenario } from '../e2e/faults/bench.ts';
import type { ApiLoadScenario } from './load/api-load.ts';
import type { DeployScaleScenario } from './deploy-scale/bench.ts';
import { deployScaleTable } from './deploy-scale/report.ts';
import { versionsTable, type VersionsScenario } from './versions.ts';
import { packageTable, type PackageScenario } from './package.ts';
import { cliTable, type CliScenario } from './cli.ts';
import { uiGridTable, type UiGridScenario } from './ui-grid.ts';
import { typecheckTable, type TypecheckScenario } from './typecheck.ts';
import { secretsTable, type SecretsScenario } from './secrets.ts';
import { partitionsTable, type PartitionsScenario } from './partitions.ts';
import { placement } from './batch/affinity.ts';
import { BATCH_SYSTEMS, type BatchScenarioResult, type BatchSystem } from './batch/result.ts';
import { BATCH_SCENARIOS, batchScenarioByName, defaultScale, parseScales } from './batch/scenarios.ts';
import type { ScenarioResult } from './result.ts';
import { SCENARIOS } from './scenarios.ts';
import { evaluateBatchTargets, evaluateTargets, type TargetResult } from './targets.ts';

const HELP = `usage: npm run bench -- [--json] [--out FILE] [--only a,b] [--repeat N] [--timeout SECONDS] [--cpu-prof DIR] [--node-arg FLAG]...
                                [--scale N|system=N,...] [--systems a,b] [--items N]
  --json          print one JSON document on stdout ({"scenarios":[...],"targets":[...]}), one line per scenario;
                  npm itself prints a banner on stdout first unless run as 'npm run -s bench'
  --out FILE      also write the JSON document to FILE
  --only a,b      run only these scenarios (${SCENARIOS.map((s) => s.name).join(', ')};
                  only when named: cost, faults, api-load, deploy-scale, versions, package, cli, ui-grid, typecheck, ${BATCH_SCENARIOS.map((s) => s.name).join(', ')})
  --repeat N      run each scenario N times (fresh process each) and keep the run with the median wallMs
  --timeout S     kill a scenario that runs longer than S seconds (default 600; 3600 per system of a batch scenario;
                  7200 for faults and deploy-scale)
  --scale X       batch scenarios: job time per real time, for every system (a number) or per system
                  (airless=1,blocking=60); default: blocking 60 per 10,000 jobs (at most 300),
                  deferrable 5, airless 1
  --systems a,b   batch scenarios: run only these systems (${BATCH_SYSTEMS.join(', ')})
  --items N       batch scenarios: N items instead of the scenario's (development; the name stays)
  --cpu-prof DIR  write a V8 CPU profile of each scenario's timed span (trigger to run end) into DIR
                  (open it in Chrome DevTools; profiling slows the run, so its figures are not comparable)
  --node-arg FLAG a Node option for the scenario processes, repeatable
                  (e.g. --node-arg=--experimental-async-context-frame)`;

interface Failure {
  name: string;
  error: string;
}

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n${HELP}\n`);
  process.exit(2);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        only: { type: 'string' },
        repeat: { type: 'string', default: '1' },
        timeout: { type: 'string' },
        scale: { type: 'string' },
        systems: { type: 'string' },
        items: { type: 'string' },
        'cpu-prof': { type: 'string' },
        'node-arg': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    usage((e as Error).message);
  }
  if (parsed.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  // 'cost' (the deployed shape's cost per task, e2e/cost.ts) and the batch scenarios (minutes each) run
  // only when named with --only.
  const optIn = ['cost', 'faults', 'api-load', 'deploy-scale', 'versions', 'package', 'cli', 'ui-grid', 'typecheck', 'secrets', 'partitions', ...BATCH_SCENARIOS.map((s) => s.name)];
  const known = new Set([...SCENARIOS.map((s) => s.name), ...optIn]);
  const only = parsed.only === undefined ? null : parsed.only.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of only ?? []) if (!known.has(n)) usage(`unknown scenario '${n}'`);
  const repeat = Number(parsed.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) usage(`--repeat must be an integer >= 1, got '${parsed.repeat}'`);
  const timeoutS = parsed.timeout === undefined ? null : Number(parsed.timeout);
  if (timeoutS !== null && (!Number.isFinite(timeoutS) || timeoutS <= 0)) usage(`--timeout must be a number of seconds > 0, got '${parsed.timeout}'`);
  const scales = parseScales(parsed.scale);
  if (typeof scales === 'string') usage(scales);
  const systems = parsed.systems === undefined ? BATCH_SYSTEMS : parsed.systems.split(',').map((x) => x.trim());
  for (const x of systems) if (!BATCH_SYSTEMS.includes(x as BatchSystem)) usage(`unknown system '${x}' (known: ${BATCH_SYSTEMS.join(', ')})`);
  const items = parsed.items === undefined ? null : Number(parsed.items);
  if (items !== null && !(Number.isInteger(items) && items >= 1 && items <= 100_000)) usage(`--items must be an integer from 1 to 100000, got '${parsed.items}'`);
  const cpuProf = parsed['cpu-prof'] === undefined ? null : resolve(parsed['cpu-prof']);
  return {
    json: parsed.json,
    out: parsed.out === undefined ? null : resolve(parsed.out),
    names: [...SCENARIOS.map((s) => s.name), ...optIn].filter((n) => (only === null ? !optIn.includes(n) : only.includes(n))),
    repeat,
    timeoutMs: (timeoutS ?? 600) * 1000,
    batchTimeoutMs: (timeoutS ?? 3600) * 1000,
    /** The full fault sweep runs thousands of cases, many in processes of their own. */
    faultsTimeoutMs: (timeoutS ?? 7200) * 1000,
    scales,
    systems: systems as BatchSystem[],
    items,
    cpuProf,
    nodeArgs: parsed['node-arg'] ?? [],
  };
}

const CHILD = fileURLToPath(new URL('./scenario.ts', import.meta.url));

/** Run one scenario in a fresh Node process; resolves with its figures or rejects with why it failed. */
/**
 * The flags the airless CLI runs with (bin/airless.js): async context frames, so that AsyncLocalStorage
 * (console capture per try) puts no hook on every promise on Node 22/23.
 */
const RUNTIME_FLAGS = process.allowedNodeEnvironmentFlags.has('--experimental-async-context-frame') && Number(process.versions.node.split('.')[0]) < 24 ? ['--experimental-async-context-frame'] : [];

function runChild(name: string, timeoutMs: number, cpuProf: string | null, nodeArgs: readonly string[]): Promise<ScenarioResult | CostScenario> {
  const env = { ...process.env };
  if (cpuProf) env['AIRLESS_BENCH_CPU_PROF'] = cpuProf;
  else delete env['AIRLESS_BENCH_CPU_PROF'];
  return runProcess([process.execPath, ...RUNTIME_FLAGS, ...nodeArgs, '--import', 'tsx', '--expose-gc', CHILD, name], env, timeoutMs) as Promise<ScenarioResult | CostScenario>;
}

const BATCH_CHILD = fileURLToPath(new URL('./batch/orchestrate.ts', import.meta.url));

/**
 * Run one system of a batch scenario: its orchestrating process pinned to CPU 0 with taskset (the
 * simulated AWS, which it starts, on the other CPUs), or unpinned when taskset is missing.
 */
function runBatchChild(name: string, system: BatchSystem, items: number, scale: number, timeoutMs: number, cpuProf: string | null, nodeArgs: readonly string[]): Promise<BatchScenarioResult> {
  const where = placement();
  const env = { ...process.env };
  if (cpuProf) env['AIRLESS_BENCH_CPU_PROF'] = cpuProf;
  else delete env['AIRLESS_BENCH_CPU_PROF'];
  if (where) {
    env['AIRLESS_BENCH_PINNED'] = '1';
    env['AIRLESS_BENCH_CLOUD_CPUS'] = where.cloud;
  } else {
    delete env['AIRLESS_BENCH_PINNED'];
    delete env['AIRLESS_BENCH_CLOUD_CPUS'];
  }
  const node = [process.execPath, ...RUNTIME_FLAGS, ...nodeArgs, '--import', 'tsx', '--expose-gc', BATCH_CHILD, name, system, String(items), String(scale)];
  return runProcess(where ? ['taskset', '-c', where.orchestrator, ...node] : node, env, timeoutMs) as Promise<BatchScenarioResult>;
}

/** Run a command whose Node process reports one result over IPC; resolves with it or rejects with why it failed. */
function runProcess(command: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ScenarioResult | CostScenario | BatchScenarioResult> {
  const [cmd, ...args] = command;
  return new Promise((resolvePromise, reject) => {
    // stdout of the child (task output, if any) goes to our stderr: our stdout carries only the result.
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env });
    child.stdout?.pipe(process.stderr, { end: false });
    let result: ScenarioResult | CostScenario | BatchScenarioResult | null = null;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('message', (m) => {
      result = m as ScenarioResult | CostScenario | BatchScenarioResult;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`timed out after ${timeoutMs / 1000} s`));
      else if (code !== 0) reject(new Error(`the scenario process exited with ${signal ?? `code ${code}`} (its stderr above says why)`));
      else if (!result) reject(new Error('the scenario process exited without reporting figures'));
      else resolvePromise(result);
    });
  });
}

function median(runs: ScenarioResult[]): ScenarioResult {
  const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs);
  const mid = sorted[(sorted.length - 1) >> 1]!;
  if (runs.length === 1) return mid;
  return { ...mid, repeats: runs.length, wallMsMin: sorted[0]!.wallMs, wallMsMax: sorted.at(-1)!.wallMs };
}

function fmt(n: number | null | undefined, digits = 1): string {
  return n === null || n === undefined ? '-' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(results: ScenarioResult[], targets: TargetResult[], failures: Failure[]): string {
  const head = ['scenario', 'task instances', 'wall ms', 'cpu ms', 'us/task', 'peak RSS MB', 'build ms', 'report ms'];
  const rows = results.map((r) => [
    r.name,
    r.taskInstances.toLocaleString('en-US'),
    fmt(r.wallMs),
    fmt(r.cpuMs),
    fmt(r.perTaskUs),
    fmt(r.peakRssMb),
    fmt(r.buildMs),
    fmt(r.reportMs),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ''];
  for (const r of results) {
    if (typeof r['pokes'] === 'number') out.push(`${r.name}: ${r['pokes'].toLocaleString('en-US')} pokes`);
    if (typeof r['repeats'] === 'number') out.push(`${r.name}: median of ${r['repeats']} runs (wall ms ${fmt(r['wallMsMin'] as number)} .. ${fmt(r['wallMsMax'] as number)})`);
  }
  out.push('', 'targets:', ...targetLines(targets));
  for (const f of failures) out.push(`FAILED  ${f.name}: ${f.error}`);
  return `${out.join('\n')}\n`;
}

function targetLines(targets: readonly TargetResult[]): string[] {
  return targets.map((t) => {
    const verdict = t.pass === null ? 'NOT RUN' : t.pass ? 'PASS' : 'FAIL';
    const value = t.value === null ? '-' : `${fmt(t.value, t.unit === 'x' ? 2 : 1)} ${t.unit}`;
    return `  ${verdict.padEnd(7)}  ${t.description.padEnd(50)}  measured ${value} (limit ${t.limit} ${t.unit})`;
  });
}

/** The batch scenarios' table: one row per system, job-time seconds, CPU in real ms. */
function batchTable(results: readonly BatchScenarioResult[], targets: readonly TargetResult[], failures: readonly Failure[]): string {
  const head = ['scenario', 'system', 'jobs', 'finished', 'lost', 'dup', 'wall s', 'longest job s', 'critical path s', 'cpu ms/job', 'submit/job', 'describe/job', 'ddb req/job', 'transitions/job', 'peak RSS MB', '$/1k jobs', 'scale', 'busy'];
  const n = (x: number | null, d = 1) => fmt(x, d);
  const rows = results.map((r) => [
    r.name,
    r.system,
    r.jobs.toLocaleString('en-US'),
    r.finished.toLocaleString('en-US'),
    String(r.lost),
    String(r.duplicated),
    n(r.wallS),
    n(r.longestJobS),
    n(r.criticalPathS),
    n(r.cpuMsPerJob, 3),
    n(r.submitCallsPerJob, 3),
    n(r.describeCallsPerJob, 3),
    n(r.ddbRequestsPerJob, 2),
    n(r.transitionsPerJob, 3),
    n(r.peakRssMb),
    n(r.usdPer1kJobs, 4),
    String(r.scale),
    n(r.busy, 2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ''];
  const first = results[0];
  if (first) {
    out.push(
      `times in seconds of job time (the scaled clock; 'scale' is job time per real second); CPU in real ms of the orchestrating`,
      `process (CPUs ${first.cpuAffinity}; the simulated AWS on CPUs ${first.cloudAffinity}); 'busy' = its CPU / real wall time.`,
    );
  }
  out.push('', 'targets (batch):', ...targetLines(targets));
  for (const f of failures) out.push(`FAILED  ${f.name}: ${f.error}`);
  return `${out.join('\n')}\n`;
}

/** The JSON document, each scenario on one line (so that `grep` finds one line per scenario or system). */
function documentJson(doc: { scenarios: readonly unknown[] } & Record<string, unknown>): string {
  const { scenarios, ...rest } = doc;
  const lines = scenarios.map((x) => `    ${JSON.stringify(x)}`).join(',\n');
  const tail = JSON.stringify(rest, null, 2).slice(1).trimStart();
  return `{\n  "scenarios": [${lines ? `\n${lines}\n  ` : ''}]${tail.startsWith('}') ? '\n' : ',\n  '}${tail}\n`;
}

async function main(): Promise<number> {
  const o = options();
  if (o.cpuProf) mkdirSync(o.cpuProf, { recursive: true });
  const results: ScenarioResult[] = [];
  const costs: CostScenario[] = [];
  const faults: FaultsScenario[] = [];
  const loads: ApiLoadScenario[] = [];
  const scales: DeployScaleScenario[] = [];
  const versions: VersionsScenario[] = [];
  const packages: PackageScenario[] = [];
  const clis: CliScenario[] = [];
  const grids: UiGridScenario[] = [];
  const typechecks: TypecheckScenario[] = [];
  const secretss: SecretsScenario[] = [];
  const partitionss: PartitionsScenario[] = [];
  const batch: BatchScenarioResult[] = [];
  const failures: Failure[] = [];
  for (const name of o.names) {
    const runs: ScenarioResult[] = [];
    const b = batchScenarioByName(name);
    if (b) {
      const items = o.items ?? b.items;
      for (const system of o.systems) {
        const scale = o.scales[system] ?? defaultScale(system, items);
        try {
          process.stderr.write(`bench: ${name} ${system}: running (${items.toLocaleString('en-US')} jobs, scale ${scale})\n`);
          const r = await runBatchChild(name, system, items, scale, o.batchTimeoutMs, o.cpuProf, o.nodeArgs);
          process.stderr.write(`bench: ${name} ${system}: wall ${fmt(r.wallS)} s (job time; ${fmt(r.realWallS)} s real), ${fmt(r.cpuMsPerJob, 3)} ms CPU/job, ${fmt(r.peakRssMb)} MB peak RSS\n`);
          batch.push(r);
        } catch (e) {
          const error = (e as Error).message;
          process.stderr.write(`bench: ${name} ${system}: FAILED: ${error}\n`);
          failures.push({ name: `${name}/${system}`, error });
        }
      }
      continue;
    }
    // The scenarios whose document is figures of their own (not timings): one child each, kept as it reports.
    const own: Record<string, { what: string; timeoutMs: number; keep(r: unknown): void }> = {
      cost: { what: '', timeoutMs: o.timeoutMs, keep: (r) => costs.push(r as CostScenario) },
      faults: { what: ' (one fault at every store write of every sweep DAG, in every mode, per store)', timeoutMs: o.faultsTimeoutMs, keep: (r) => faults.push(r as FaultsScenario) },
      'api-load': { what: ' (concurrent triggers against a standalone server)', timeoutMs: o.timeoutMs, keep: (r) => loads.push(r as ApiLoadScenario) },
      'deploy-scale': { what: ' (the stack synthesized for generated DAGs, one size at a time)', timeoutMs: o.faultsTimeoutMs, keep: (r) => scales.push(r as DeployScaleScenario) },
      versions: { what: ' (a version of each example DAG file kept and loaded)', timeoutMs: o.timeoutMs, keep: (r) => versions.push(r as VersionsScenario) },
      package: { what: ' (npm pack --dry-run after a build)', timeoutMs: o.timeoutMs, keep: (r) => packages.push(r as PackageScenario) },
      cli: { what: ' (commands from a project\'s shell, 10 runs each)', timeoutMs: o.timeoutMs, keep: (r) => clis.push(r as CliScenario) },
      'ui-grid': { what: ' (the built UI in Chromium against a fake API: 200 runs x 100 tasks)', timeoutMs: o.timeoutMs, keep: (r) => grids.push(r as UiGridScenario) },
      typecheck: { what: ' (the DAG files of dags/ type checked, cold and warm)', timeoutMs: o.timeoutMs, keep: (r) => typechecks.push(r as TypecheckScenario) },
      secrets: { what: ' (connections read through the SSM backend; the masker per log line)', timeoutMs: o.timeoutMs, keep: (r) => secretss.push(r as SecretsScenario) },
      partitions: { what: ' (partitioned iteration, plain iteration and mapping, locally and on the local cloud)', timeoutMs: o.faultsTimeoutMs, keep: (r) => partitionss.push(r as PartitionsScenario) },
    };
    const figures = own[name];
    if (figures) {
      try {
        process.stderr.write(`bench: ${name}: running${figures.what}\n`);
        figures.keep(await runChild(name, figures.timeoutMs, null, o.nodeArgs));
      } catch (e) {
        process.stderr.write(`bench: ${name}: FAILED: ${(e as Error).message}\n`);
        failures.push({ name, error: (e as Error).message });
      }
      continue;
    }
    try {
      for (let i = 0; i < o.repeat; i++) {
        const label = `${name}${o.repeat > 1 ? ` (${i + 1}/${o.repeat})` : ''}`;
        process.stderr.write(`bench: ${label}: running\n`);
        const r = (await runChild(name, o.timeoutMs, o.cpuProf, o.nodeArgs)) as ScenarioResult;
        process.stderr.write(`bench: ${label}: ${fmt(r.wallMs)} ms, ${fmt(r.perTaskUs)} us/task, ${fmt(r.peakRssMb)} MB peak RSS\n`);
        runs.push(r);
      }
      results.push(median(runs));
    } catch (e) {
      const error = (e as Error).message;
      process.stderr.write(`bench: ${name}: FAILED: ${error}\n`);
      failures.push({ name, error });
    }
  }
  const onlyBatch = results.length === 0 && costs.length === 0 && faults.length === 0 && loads.length === 0 && scales.length === 0 && versions.length === 0 && packages.length === 0 && clis.length === 0 && grids.length === 0 && typechecks.length === 0 && secretss.length === 0 && partitionss.length === 0 && o.names.every((n) => batchScenarioByName(n));
  const standardTargets = onlyBatch ? [] : evaluateTargets(results);
  const batchTargets = evaluateBatchTargets(batch);
  const doc = {
    scenarios: [...results, ...costs, ...faults, ...loads, ...scales, ...versions, ...packages, ...clis, ...grids, ...typechecks, ...secretss, ...partitionss, ...batch],
    targets: [...standardTargets, ...batchTargets],
    node: process.version,
    nodeArgs: [...RUNTIME_FLAGS, ...o.nodeArgs],
    ...(failures.length ? { failures } : {}),
  };
  const json = documentJson(doc);
  if (o.out) writeFileSync(o.out, json);
  if (o.json) {
    process.stdout.write(json);
  } else {
    if (!onlyBatch) process.stdout.write(table(results, standardTargets, batch.length ? failures.filter((f) => !batchScenarioByName(f.name.split('/')[0]!)) : failures));
    if (batch.length || onlyBatch) process.stdout.write(`${onlyBatch ? '' : '\n'}${batchTable(batch, batchTargets, failures.filter((f) => batchScenarioByName(f.name.split('/')[0]!)))}`);
    for (const l of loads) {
      process.stdout.write(`\napi load: ${l.triggers} concurrent triggers: statuses ${JSON.stringify(l.statuses)}, 5xx ${l.serverErrors}, lost ${l.lost}, collisions ${l.collisions}, unfinished ${l.unfinished}; answered in ${fmt(l.answerMs)} ms, runs ended in ${fmt(l.finishMs)} ms\n`);
    }
    for (const f of faults) {
      process.stdout.write('\nfault injection (one fault per case):\n');
      for (const st of f.stores) process.stdout.write(`  ${st.store.padEnd(7)} faults ${st.faults}, correct ${st.correct}, stuck ${st.stuck}, doubled ${st.doubled}, wrongState ${st.wrongState}, negative ${st.negative}, leaked ${st.leaked} (${fmt(st.wallMs)} ms)\n`);
    }
    for (const d of scales) process.stdout.write(deployScaleTable(d));
    for (const v of versions) process.stdout.write(versionsTable(v));
    for (const p of packages) process.stdout.write(packageTable(p));
    for (const c of clis) process.stdout.write(cliTable(c));
    for (const g of grids) process.stdout.write(uiGridTable(g));
    for (const t of typechecks) process.stdout.write(typecheckTable(t));
    for (const t of secretss) process.stdout.write(secretsTable(t));
    for (const t of partitionss) process.stdout.write(partitionsTable(t));
    for (const c of costs) {
      process.stdout.write('\ncost per task instance (deployed shape, local cloud):\n');
      for (const p of c.perTask) process.stdout.write(`  ${p.kind.padEnd(6)}  DynamoDB reads ${p.ddbReads}, writes ${p.ddbWrites}; Lambda invocations ${p.lambdaInvocations}; transitions ${p.transitions}; Batch calls ${p.batchCalls}; $${p.usdPer1k} per 1,000\n`);
    }
  }
  if (o.cpuProf) process.stderr.write(`bench: CPU profiles written to ${o.cpuProf}\n`);
  return failures.length ? 1 : 0;
}

process.exitCode = await main();
