// The benchmark driver: runs each scenario in a fresh child process (so peak RSS is per scenario) and
// prints the figures, and the spec's targets, as a table or (with --json) as exactly one JSON document.
//
//   npm run bench                         every scenario, a table on stdout
//   npm run bench -- --json               one JSON document on stdout; progress goes to stderr
//   npm run bench -- --only fanout-1k,chain-10k --repeat 3
//   npm run bench -- --only fanout-100k --cpu-prof .airless/prof   (V8 CPU profile of each timed span)
//
// Exits 1 if a scenario failed (its run did not succeed, or crashed, or timed out); the document then
// lists it under "failures". Targets missed do not change the exit code: they are figures, not tests.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CostScenario } from '../e2e/cost.ts';
import type { ScenarioResult } from './result.ts';
import { SCENARIOS } from './scenarios.ts';
import { evaluateTargets, type TargetResult } from './targets.ts';

const HELP = `usage: npm run bench -- [--json] [--out FILE] [--only a,b] [--repeat N] [--timeout SECONDS] [--cpu-prof DIR] [--node-arg FLAG]...
  --json          print one JSON document on stdout ({"scenarios":[...],"targets":[...]});
                  npm itself prints a banner on stdout first unless run as 'npm run -s bench'
  --out FILE      also write the JSON document to FILE
  --only a,b      run only these scenarios (${SCENARIOS.map((s) => s.name).join(', ')})
  --repeat N      run each scenario N times (fresh process each) and keep the run with the median wallMs
  --timeout S     kill a scenario that runs longer than S seconds (default 600)
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
        timeout: { type: 'string', default: '600' },
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
  // 'cost' (the deployed shape's cost per task, e2e/cost.ts) runs only when named with --only.
  const known = new Set([...SCENARIOS.map((s) => s.name), 'cost']);
  const only = parsed.only === undefined ? null : parsed.only.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of only ?? []) if (!known.has(n)) usage(`unknown scenario '${n}'`);
  const repeat = Number(parsed.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) usage(`--repeat must be an integer >= 1, got '${parsed.repeat}'`);
  const timeoutS = Number(parsed.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) usage(`--timeout must be a number of seconds > 0, got '${parsed.timeout}'`);
  const cpuProf = parsed['cpu-prof'] === undefined ? null : resolve(parsed['cpu-prof']);
  return {
    json: parsed.json,
    out: parsed.out === undefined ? null : resolve(parsed.out),
    names: [...SCENARIOS.map((s) => s.name), 'cost'].filter((n) => (only === null ? n !== 'cost' : only.includes(n))),
    repeat,
    timeoutMs: timeoutS * 1000,
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
  const args = [...RUNTIME_FLAGS, ...nodeArgs, '--import', 'tsx', '--expose-gc', CHILD, name];
  const env = { ...process.env };
  if (cpuProf) env['AIRLESS_BENCH_CPU_PROF'] = cpuProf;
  else delete env['AIRLESS_BENCH_CPU_PROF'];
  return new Promise((resolvePromise, reject) => {
    // stdout of the child (task output, if any) goes to our stderr: our stdout carries only the result.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env });
    child.stdout?.pipe(process.stderr, { end: false });
    let result: ScenarioResult | CostScenario | null = null;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('message', (m) => {
      result = m as ScenarioResult | CostScenario;
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
  out.push('', 'targets:');
  for (const t of targets) {
    const verdict = t.pass === null ? 'NOT RUN' : t.pass ? 'PASS' : 'FAIL';
    const value = t.value === null ? '-' : `${fmt(t.value, t.unit === 'x' ? 2 : 1)} ${t.unit}`;
    out.push(`  ${verdict.padEnd(7)}  ${t.description.padEnd(50)}  measured ${value} (limit ${t.limit} ${t.unit})`);
  }
  for (const f of failures) out.push(`FAILED  ${f.name}: ${f.error}`);
  return `${out.join('\n')}\n`;
}

async function main(): Promise<number> {
  const o = options();
  if (o.cpuProf) mkdirSync(o.cpuProf, { recursive: true });
  const results: ScenarioResult[] = [];
  const costs: CostScenario[] = [];
  const failures: Failure[] = [];
  for (const name of o.names) {
    const runs: ScenarioResult[] = [];
    if (name === 'cost') {
      try {
        process.stderr.write('bench: cost: running\n');
        costs.push((await runChild(name, o.timeoutMs, null, o.nodeArgs)) as CostScenario);
      } catch (e) {
        process.stderr.write(`bench: cost: FAILED: ${(e as Error).message}\n`);
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
  const targets = evaluateTargets(results);
  const doc = {
    scenarios: [...results, ...costs],
    targets,
    node: process.version,
    nodeArgs: [...RUNTIME_FLAGS, ...o.nodeArgs],
    ...(failures.length ? { failures } : {}),
  };
  const json = `${JSON.stringify(doc, null, 2)}\n`;
  if (o.out) writeFileSync(o.out, json);
  if (o.json) {
    process.stdout.write(json);
  } else {
    process.stdout.write(table(results, targets, failures));
    for (const c of costs) {
      process.stdout.write('\ncost per task instance (deployed shape, local cloud):\n');
      for (const p of c.perTask) process.stdout.write(`  ${p.kind.padEnd(6)}  DynamoDB reads ${p.ddbReads}, writes ${p.ddbWrites}; Lambda invocations ${p.lambdaInvocations}; transitions ${p.transitions}; Batch calls ${p.batchCalls}; $${p.usdPer1k} per 1,000\n`);
    }
  }
  if (o.cpuProf) process.stderr.write(`bench: CPU profiles written to ${o.cpuProf}\n`);
  return failures.length ? 1 : 0;
}

process.exitCode = await main();
