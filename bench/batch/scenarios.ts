// The batch scenarios: how many items, and the default time scale of each system.
import { BATCH_SYSTEMS, type BatchSystem } from './result.ts';

export interface BatchScenario {
  name: string;
  items: number;
  description: string;
}

export const BATCH_SCENARIOS: readonly BatchScenario[] = [
  { name: 'batch-10k', items: 10_000, description: '10,000 Batch jobs of 5-30 s (2% failing once): airless batch_fanout vs blocking sensors vs deferrable operators' },
  { name: 'batch-100k', items: 100_000, description: '100,000 Batch jobs, the same three systems' },
];

export function batchScenarioByName(name: string): BatchScenario | undefined {
  return BATCH_SCENARIOS.find((s) => s.name === name);
}

/**
 * The default time scale (job time per real time) of a system for `items` items. Every figure is
 * reported in job time whatever the scale; the scale decides how long the run takes, and how much a
 * millisecond of real latency weighs in job time (scale x).
 * - blocking: ~30 s of job time per job per worker (items / 32 x 30 s: 2.6 h for 10,000): scale 60 per
 *   10,000 items (about 3 minutes), at most 300 (above, one core cannot make its calls in time).
 * - deferrable: submits at Batch's 50 jobs per second of job time and polls as often: at scale 5 that
 *   is 250 SubmitJob and 250 DescribeJobs calls per real second, which one core keeps up with.
 * - airless: 1 (job time is real time). Its run is bound by DynamoDB Local's real speed (one JVM writing
 *   every task instance of the map), which any scale would multiply in job time.
 */
export function defaultScale(system: BatchSystem, items: number): number {
  if (system === 'blocking') return Math.min(300, Math.max(1, Math.round((60 * items) / 10_000)));
  if (system === 'deferrable') return 5;
  return 1;
}

/** `--scale`: a number for every system, or `system=N` pairs (the others keep their default). */
export function parseScales(text: string | undefined): Partial<Record<BatchSystem, number>> | string {
  if (text === undefined) return {};
  const one = Number(text);
  if (text.trim() !== '' && Number.isFinite(one)) {
    if (one < 1) return `--scale must be at least 1, got '${text}'`;
    return Object.fromEntries(BATCH_SYSTEMS.map((s) => [s, one]));
  }
  const out: Partial<Record<BatchSystem, number>> = {};
  for (const part of text.split(',')) {
    const [k, v] = part.split('=').map((x) => x.trim());
    if (!BATCH_SYSTEMS.includes(k as BatchSystem) || !(Number(v) >= 1)) return `--scale takes a number >= 1 or system=N pairs (${BATCH_SYSTEMS.join(', ')}), got '${part}'`;
    out[k as BatchSystem] = Number(v);
  }
  return out;
}
