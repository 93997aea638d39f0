// The simulated AWS of the batch scenarios, in its own process (started by the orchestrating process,
// pinned away from its core when taskset is there): the local Batch API (e2e/batch-api.ts) with the
// scenarios' simulated jobs (bench/batch/jobs.ts) on the shared scaled clock, and for airless also
// DynamoDB Local (a Java child of this process, so it inherits this process's CPUs) and s3rver (in this
// process). What it serves is not orchestration and is not measured as such.
//
// Usage (by bench/batch/orchestrate.ts): node --import tsx bench/batch/cloud.ts '<CloudConfig as JSON>'
// with an IPC channel. It answers {type:'ready'} when listening, then {type:'stats'} to 'stats' (counts
// since the last 'reset', which forgets a warm-up), and exits on 'stop' (or when its parent goes away).
import { S3Client } from '@aws-sdk/client-s3';
import { startEmulators, type EmulatorEndpoints } from '../../e2e/backends.ts';
import { LocalBatchApi, manifestChildItem, type SubmittedJob } from '../../e2e/batch-api.ts';
import { ScaledClock } from '../../e2e/scaled-clock.ts';
import { S3RVER_CREDENTIALS } from '../../test/support/s3-local.ts';
import { childrenCpuMs, cpusAllowed } from './affinity.ts';
import { ItemTracker, type ItemFigures } from './items.ts';
import { tileOf } from './jobs.ts';

export interface CloudConfig {
  scale: number;
  /** The scaled clock's origin (epoch ms), shared with the orchestrating process. */
  origin: number;
  items: number;
  /** Start DynamoDB Local and s3rver too (airless). */
  storage: boolean;
  submitRatePerSecond: number;
}

export interface CloudReady {
  type: 'ready';
  batchEndpoint: string;
  emulators: EmulatorEndpoints | null;
  cpuAffinity: string;
}

export interface CloudStats {
  type: 'stats';
  items: ItemFigures;
  /** Batch API requests by operation (throttled ones included), and the throttled ones. */
  calls: Record<string, number>;
  throttled: Record<string, number>;
  /** Jobs created (plain jobs and array parents) and units started (plain jobs and children). */
  jobsCreated: number;
  arrayJobsCreated: number;
  unitsStarted: number;
  /** Job or child start keys that started more than once (the Batch API's own counter). */
  startedTwice: number;
  /** CPU of this process (Batch API and s3rver; not DynamoDB Local's JVM), ms. */
  cpuMs: number;
  /** CPU of its child processes (DynamoDB Local's JVM), ms, or null when unknown. */
  childrenCpuMs: number | null;
  peakRssMb: number;
}

async function main(config: CloudConfig): Promise<void> {
  const send = (m: unknown) => process.send?.(m);
  const clock = new ScaledClock({ scale: config.scale, origin: config.origin });
  const emulators = config.storage ? await startEmulators() : null;
  const s3 = emulators ? new S3Client({ endpoint: emulators.s3, region: 'us-east-1', credentials: S3RVER_CREDENTIALS, forcePathStyle: true }) : null;
  let tracker = new ItemTracker(config.items);
  let unitsStarted = 0;
  // What a warm-up before the timed span did, not counted (see 'reset').
  let base = { calls: {} as Record<string, number>, throttled: {} as Record<string, number>, submitted: 0 };
  const api = new LocalBatchApi({
    clock,
    // Capacity is unlimited: a job (or child) is RUNNING from its submission, so it ends at submittedAt + its duration.
    behaviour: (job: SubmittedJob) => {
      unitsStarted++;
      const { durationMs, exitCode } = tracker.run(tileOf(job.environment), job.submittedAt, job.submittedAt);
      return { kind: 'simulate', durationMs, exitCode };
    },
    // Array children run the item of the array's manifest (its TILE); plain jobs carry theirs.
    ...(s3 ? { childItem: manifestChildItem(s3) } : {}),
    submitRatePerSecond: config.submitRatePerSecond,
  });
  const batchEndpoint = await api.listen();
  send({ type: 'ready', batchEndpoint, emulators: emulators ? { dynamodb: emulators.dynamodb, s3: emulators.s3, bucket: emulators.bucket } : null, cpuAffinity: cpusAllowed() ?? 'unknown' } satisfies CloudReady);

  const stop = async () => {
    await api.close();
    s3?.destroy();
    await emulators?.stop();
    process.exit(0);
  };
  process.on('disconnect', () => void stop());
  const minus = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]));
  let cpu0 = process.cpuUsage();
  let children0 = childrenCpuMs();
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'reset') {
      // Forget the warm-up: items, counters, start counts.
      tracker = new ItemTracker(config.items);
      unitsStarted = 0;
      api.starts.clear();
      base = { calls: { ...api.calls }, throttled: { ...api.throttled }, submitted: api.submitted.length };
      cpu0 = process.cpuUsage();
      children0 = childrenCpuMs();
      send({ type: 'reset' });
    } else if (m?.type === 'stats') {
      const cpu = process.cpuUsage(cpu0);
      let startedTwice = 0;
      for (const n of api.starts.values()) if (n > 1) startedTwice++;
      const created = api.submitted.slice(base.submitted);
      send({
        type: 'stats',
        items: tracker.figures(),
        calls: minus(api.calls, base.calls),
        throttled: minus(api.throttled, base.throttled),
        jobsCreated: created.length,
        arrayJobsCreated: created.filter((j) => j.arraySize !== null).length,
        unitsStarted,
        startedTwice,
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
        childrenCpuMs: (() => {
          const now = childrenCpuMs();
          return now === null || children0 === null ? null : now - children0;
        })(),
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      } satisfies CloudStats);
    } else if (m?.type === 'stop') void stop();
  });
}

const arg = process.argv[2];
if (!arg) throw new Error('usage: bench/batch/cloud.ts <config JSON>');
main(JSON.parse(arg) as CloudConfig).catch((e: unknown) => {
  process.stderr.write(`bench: cloud: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
