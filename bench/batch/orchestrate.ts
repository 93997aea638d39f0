// The orchestrating process of one system of a batch scenario: bench/run.ts starts it pinned to one core
// (taskset -c 0, when taskset exists) and it measures itself (CPU, peak RSS) while the system runs.
// The simulated AWS runs in a separate process (bench/batch/cloud.ts) on the other cores.
//
//   node --import tsx --expose-gc bench/batch/orchestrate.ts <name> <system> <items> <scale>
//
// Env: AIRLESS_BENCH_CLOUD_CPUS: the CPUs for the cloud process (taskset -c), unset: not pinned;
// AIRLESS_BENCH_PINNED=1: this process was started under taskset. Sends its BatchScenarioResult to the
// parent over IPC (or prints it as JSON when alone). Exits non-zero, with the reason on stderr, if the
// system did not finish every item exactly once.
import { fail, reportResult } from '../child.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { airflowUsdPer1k, usdPer1k } from '../../e2e/cost.ts';
import { realNowMs, ScaledClock } from '../../e2e/scaled-clock.ts';
import { startProfile } from '../profile.ts';
import { setUpAirless } from './airless.ts';
import { baselineClient, warmUp } from './baseline-common.ts';
import { BLOCKING_WORKERS, runBlocking } from './blocking.ts';
import { cpusAllowed } from './affinity.ts';
import type { CloudConfig, CloudReady, CloudStats } from './cloud.ts';
import { DEFERRABLE_WORKERS, runDeferrable } from './deferrable.ts';
import { SUBMIT_RATE_PER_S } from './jobs.ts';
import { BATCH_SYSTEMS, type BatchScenarioResult, type BatchSystem, type SystemRun } from './result.ts';

const gc = (globalThis as { gc?: () => void }).gc;
const CLOUD = fileURLToPath(new URL('./cloud.ts', import.meta.url));

/** Start the cloud process (on `cpus` via taskset when given) and wait until it listens. */
async function startCloud(config: CloudConfig, cpus: string | null): Promise<{ child: ChildProcess; ready: CloudReady; stats(): Promise<CloudStats>; reset(): Promise<void>; stop(): Promise<void> }> {
  const node = [process.execPath, '--import', 'tsx', CLOUD, JSON.stringify(config)];
  const [cmd, ...args] = cpus ? ['taskset', '-c', cpus, ...node] : node;
  const child = spawn(cmd!, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`the cloud process exited with ${signal ?? `code ${code}`}`))));
  exited.catch(() => undefined);
  const next = <T>(type: string) =>
    Promise.race([
      new Promise<T>((resolve) => {
        const on = (m: { type?: string }) => {
          if (m?.type !== type) return;
          child.off('message', on);
          resolve(m as T);
        };
        child.on('message', on);
      }),
      exited,
    ]);
  const ready = await next<CloudReady>('ready');
  return {
    child,
    ready,
    stats() {
      const p = next<CloudStats>('stats');
      child.send({ type: 'stats' });
      return p;
    },
    async reset() {
      const p = next<{ type: 'reset' }>('reset');
      child.send({ type: 'reset' });
      await p;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'stop' });
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(t);
    },
  };
}


const r1 = (x: number) => Math.round(x * 10) / 10;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const r4 = (x: number) => Math.round(x * 10_000) / 10_000;

async function main(name: string, system: BatchSystem, items: number, scale: number): Promise<BatchScenarioResult> {
  const pinned = process.env['AIRLESS_BENCH_PINNED'] === '1';
  const affinity = cpusAllowed() ?? 'unknown';
  const clock = new ScaledClock({ scale, origin: realNowMs() });
  const cloud = await startCloud(
    { scale, origin: clock.origin, items, storage: system === 'airless', submitRatePerSecond: SUBMIT_RATE_PER_S },
    process.env['AIRLESS_BENCH_CLOUD_CPUS'] || null,
  );
  try {
    const { batchEndpoint, emulators } = cloud.ready;
    // Not timed: the harness's start (loading the handlers, compiling and registering the state machines).
    const airless = system === 'airless' ? await setUpAirless({ items, clock, batchEndpoint, emulators: emulators ?? fail('airless needs the cloud process to run DynamoDB Local and s3rver') }) : null;
    // A warm-up (not timed, not counted): the process loads the modules it loads lazily, once. airless: a
    // run of batch_fanout with n = 2; the baselines: one DescribeJobs.
    const w0 = process.cpuUsage();
    const client = airless ? null : baselineClient(batchEndpoint);
    if (client) await warmUp(client);
    await airless?.warmUp();
    const warm = process.cpuUsage(w0);
    await cloud.reset();
    gc?.();
    const stopProfile = await startProfile(`${name}-${system}`, 500);
    const load0 = loadavg()[0]!;
    const cpu0 = process.cpuUsage();
    const real0 = realNowMs();
    const t0 = clock.now();
    // The timed span: for airless, up to the run's end (its report is read after); for the baselines, the whole run.
    const ended = airless ? await airless.run() : null;
    const baseline = airless ? null : system === 'blocking' ? await runBlocking({ items, clock, client: client! }) : await runDeferrable({ items, clock, client: client! });
    const cpu = process.cpuUsage(cpu0);
    const realWallS = (realNowMs() - real0) / 1000;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    await stopProfile?.();
    const stats = await cloud.stats();
    const run: SystemRun = airless && ended ? await airless.report(ended) : baseline!;
    await airless?.close();
    client?.destroy();

    const it = stats.items;
    const wallS = (run.endAt - t0) / 1000;
    const calls = (op: string) => stats.calls[op] ?? 0;
    // One SubmitJob per job at Batch's rate: what the wall target allows for submission.
    const submissionS = items / SUBMIT_RATE_PER_S;
    const usd = run.counts
      ? usdPer1k(run.counts, items)
      : airflowUsdPer1k({
          workerSlots: system === 'blocking' ? BLOCKING_WORKERS : DEFERRABLE_WORKERS,
          triggerers: typeof run.extra['triggerers'] === 'number' ? run.extra['triggerers'] : 0,
          wallS,
          jobs: items,
        });
    const result: BatchScenarioResult = {
      name,
      system,
      jobs: items,
      finished: Math.min(run.finished, it.succeeded),
      lost: items - Math.min(run.finished, it.succeeded),
      duplicated: it.duplicated,
      wallS: r1(wallS),
      longestJobS: r1(it.longestJobMs / 1000),
      criticalPathS: r1(it.criticalPathMs / 1000),
      submitSpanS: it.firstSubmitAt !== null && it.lastSubmitAt !== null ? r1((it.lastSubmitAt - it.firstSubmitAt) / 1000) : 0,
      // Where the wall time goes: start to the first job submitted, and the last job's end to the system's end.
      firstSubmitAfterS: it.firstSubmitAt !== null ? r1((it.firstSubmitAt - t0) / 1000) : null,
      endAfterLastJobS: it.lastSuccessAt !== null ? r1((run.endAt - it.lastSuccessAt) / 1000) : null,
      wallLimitS: r1(1.1 * (it.criticalPathMs / 1000 + submissionS)),
      cpuMsPerJob: r3(cpuMs / items),
      submitCallsPerJob: r4(calls('SubmitJob') / items),
      describeCallsPerJob: r4(calls('DescribeJobs') / items),
      listCallsPerJob: r4(calls('ListJobs') / items),
      ddbRequestsPerJob: run.counts ? r3(run.counts.ddbRequests / items) : null,
      transitionsPerJob: run.counts ? r3(run.counts.transitions / items) : null,
      peakRssMb: r1(process.resourceUsage().maxRSS / 1024),
      usdPer1kJobs: r4(usd),
      scale,
      cpuAffinity: pinned ? affinity : `unpinned (${affinity})`,
      cloudAffinity: cloud.ready.cpuAffinity,
      busy: r3(cpuMs / 1000 / realWallS),
      realWallS: r1(realWallS),
      cpuMs: Math.round(cpuMs),
      jobRuns: it.runs,
      jobsCreated: stats.jobsCreated,
      arrayJobsCreated: stats.arrayJobsCreated,
      submitThrottled: stats.throttled['SubmitJob'] ?? 0,
      startedTwice: stats.startedTwice,
      cloudCpuMs: stats.cpuMs,
      ...(system === 'airless' ? { dynamoDbLocalCpuMs: stats.childrenCpuMs } : {}),
      warmUpCpuMs: Math.round((warm.user + warm.system) / 1000),
      // The machine's 1-minute load average at the start and end: other work on the machine stretches real latencies (x scale in job time).
      loadAvgStart: Math.round(load0 * 100) / 100,
      loadAvgEnd: Math.round(loadavg()[0]! * 100) / 100,
      ...(run.counts ? { lambdaInvocationsPerJob: r3(run.counts.lambdaInvocations / items), ddbWruPerJob: r3(run.counts.wru / items), ddbRruPerJob: r3(run.counts.rru / items) } : {}),
      ...run.extra,
    };
    // A benchmark of a broken run measures nothing.
    if (it.strays) fail(`${name}/${system}: ${it.strays} job runs carried no item of 0..${items - 1}`);
    if (run.finished !== it.succeeded) fail(`${name}/${system}: the system saw ${run.finished} items succeed, the Batch API ran ${it.succeeded} successfully`);
    if (result.lost || result.duplicated) process.stderr.write(`bench: ${name}/${system}: ${result.lost} lost, ${result.duplicated} duplicated\n`);
    return result;
  } finally {
    await cloud.stop();
  }
}

const [name, system, items, scale] = process.argv.slice(2);
if (!name || !BATCH_SYSTEMS.includes(system as BatchSystem) || !(Number(items) > 0) || !(Number(scale) >= 1)) {
  fail(`usage: bench/batch/orchestrate.ts <name> <${BATCH_SYSTEMS.join('|')}> <items> <scale>`);
}
reportResult(main(name, system as BatchSystem, Number(items), Number(scale)));
