import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/**
 * With AIRLESS_BENCH_CPU_PROF=<dir> (bench/run.ts's `--cpu-prof DIR`): start a V8 CPU profile of the timed
 * span only (not module loading, DAG construction or the report); the function returned stops it and
 * writes `<dir>/<label>-<time>.cpuprofile`. Null when no profile is asked for.
 */
export async function startProfile(label: string, samplingIntervalUs: number): Promise<(() => Promise<void>) | null> {
  const dir = process.env['AIRLESS_BENCH_CPU_PROF'];
  if (!dir) return null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    const file = join(dir, `${label}-${Date.now()}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    process.stderr.write(`bench: CPU profile of the timed span: ${file}\n`);
  };
}
