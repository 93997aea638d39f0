// Runs one benchmark scenario in this process and sends its figures to the parent (bench/run.ts).
// Usage: node --import tsx --expose-gc bench/scenario.ts <name>
// Alone (no IPC channel) it prints the figures as JSON on stdout. With AIRLESS_BENCH_CPU_PROF=<dir>,
// it writes a V8 CPU profile of the timed span only (trigger to run end) into <dir>. Exits non-zero, with the reason on
// stderr, if the run did not end 'success' with exactly the expected task instances.
import { fail, reportResult } from './child.ts';
import { LocalRunner, RealClock } from '../lib/index.ts';
import { startProfile } from './profile.ts';
import type { ScenarioResult } from './result.ts';
import type { CostScenario } from '../e2e/cost.ts';
import type { FaultsScenario } from '../e2e/faults/bench.ts';
import type { ApiLoadScenario } from './load/api-load.ts';
import type { DeployScaleScenario } from './deploy-scale/bench.ts';
import type { VersionsScenario } from './versions.ts';
import type { PackageScenario } from './package.ts';
import type { CliScenario } from './cli.ts';
import type { UiGridScenario } from './ui-grid.ts';
import type { TypecheckScenario } from './typecheck.ts';
import type { SecretsScenario } from './secrets.ts';
import type { PartitionsScenario } from './partitions.ts';
import { DEFAULT_POOL_SLOTS, SCENARIOS, scenarioByName } from './scenarios.ts';

const gc = (globalThis as { gc?: () => void }).gc;


async function main(name: string): Promise<ScenarioResult | CostScenario | FaultsScenario | ApiLoadScenario | DeployScaleScenario | VersionsScenario | PackageScenario | CliScenario | UiGridScenario | TypecheckScenario | SecretsScenario | PartitionsScenario> {
  // The deployed shape's cost per task instance, on the local cloud (DynamoDB Local, s3rver, the compiled ASL).
  // Loaded only here: the local cloud's modules (AWS SDK, emulators) must not weigh on the other scenarios' RSS.
  if (name === 'cost') return (await import('../e2e/cost.ts')).runCostScenario();
  // The fault-injection sweep (e2e/faults/): figures per store, not timings.
  if (name === 'faults') return (await import('../e2e/faults/bench.ts')).runFaultsScenario();
  // The API under load: concurrent triggers against a real standalone server.
  if (name === 'api-load') return (await import('./load/api-load.ts')).runApiLoadScenario();
  // The stack synthesized for generated DAGs at several sizes, against AWS quotas: figures per size.
  if (name === 'deploy-scale') return (await import('./deploy-scale/bench.ts')).runDeployScaleScenario();
  // What keeping a DAG version costs: bytes per version and collect/load times for the examples.
  if (name === 'versions') return (await import('./versions.ts')).runVersionsScenario();
  // What npm pack ships, and the compiled CLI's start.
  if (name === 'package') return (await import('./package.ts')).runPackageScenario();
  // The CLI's commands as a user's shell runs them.
  if (name === 'cli') return (await import('./cli.ts')).runCliScenario();
  // The web UI's grid in Chromium against a fake API: 200 runs x 100 tasks, data in to grid committed.
  if (name === 'ui-grid') return (await import('./ui-grid.ts')).runUiGridScenario();
  // Type checking of the DAG files: cold, and warm after a file is touched.
  if (name === 'typecheck') return (await import('./typecheck.ts')).runTypecheckScenario();
  // Reading a connection through the SSM backend (cold, cached), and the secrets masker per log line.
  if (name === 'secrets') return (await import('./secrets.ts')).runSecretsScenario();
  // Partitioned iteration beside plain iteration and mapping, locally and on the local cloud.
  if (name === 'partitions') return (await import('./partitions.ts')).runPartitionsScenario();
  const scenario = scenarioByName(name) ?? fail(`unknown scenario '${name}' (known: ${SCENARIOS.map((s) => s.name).join(', ')})`);
  if (!gc) process.stderr.write('bench: warning: run with --expose-gc so that each phase starts from a collected heap\n');

  gc?.();
  const b0 = performance.now();
  const { dag, check } = scenario.build();
  const buildMs = performance.now() - b0;

  const runner = new LocalRunner({ dags: [dag], clock: new RealClock(), pools: { default_pool: DEFAULT_POOL_SLOTS } });
  gc?.();
  const stopProfile = await startProfile(name, 200);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const started = await runner.trigger({ dagId: dag.dagId });
  const ended = await runner.waitForRun(started);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const heapUsedMb = process.memoryUsage().heapUsed / 2 ** 20;
  await stopProfile?.();

  const r0 = performance.now();
  const report = await runner.report(started);
  const reportMs = performance.now() - r0;

  // A benchmark of a broken run measures nothing: check everything before reporting a figure.
  const where = `scenario '${name}'`;
  if (ended.state !== 'success' || report.state !== 'success') {
    const bad = report.tasks.filter((t) => t.state !== 'success').slice(0, 5);
    fail(`${where}: the run ended '${report.state}'${ended.note ? ` (${ended.note})` : ''}; first unsuccessful instances: ${JSON.stringify(bad)}`);
  }
  if (report.tasks.length !== scenario.taskInstances) {
    fail(`${where}: the report lists ${report.tasks.length} task instances, expected ${scenario.taskInstances}`);
  }
  const notSuccess = report.tasks.filter((t) => t.state !== 'success');
  if (notSuccess.length) fail(`${where}: ${notSuccess.length} task instances did not succeed, e.g. ${JSON.stringify(notSuccess.slice(0, 5))}`);
  const retried = report.tasks.filter((t) => t.tryNumber !== 1);
  if (retried.length) fail(`${where}: ${retried.length} task instances did not run exactly one try, e.g. ${JSON.stringify(retried.slice(0, 5))}`);
  if (runner.errors.length) fail(`${where}: the runner reported internal errors: ${JSON.stringify(runner.errors.slice(0, 5))}`);
  await check.verify(async (taskId) => (await runner.store.getXCom(started, taskId, -1, 'return_value'))?.value);
  runner.close();

  const ms = (x: number) => Math.round(x * 10) / 10;
  return {
    name,
    taskInstances: report.tasks.length,
    wallMs: ms(wallMs),
    cpuMs: ms((cpu.user + cpu.system) / 1000),
    perTaskUs: ms((wallMs * 1000) / report.tasks.length),
    peakRssMb: ms(process.resourceUsage().maxRSS / 1024),
    buildMs: ms(buildMs),
    reportMs: ms(reportMs),
    heapUsedMb: ms(heapUsedMb),
    ...(check.extra?.() ?? {}),
  };
}

const name = process.argv[2];
reportResult(main(name ?? fail('usage: bench/scenario.ts <scenario>')));
