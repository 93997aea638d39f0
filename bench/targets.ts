// The spec's performance targets, computed from the figures of a bench run.
import type { ScenarioResult } from './result.ts';

export interface TargetResult {
  id: string;
  description: string;
  /** The measured figure the target is about (null when its scenarios were not run). */
  value: number | null;
  limit: number;
  unit: string;
  /** null when the scenarios the target needs were not run (see --only). */
  pass: boolean | null;
}

interface Target {
  id: string;
  description: string;
  limit: number;
  unit: string;
  /** The figure must be strictly below the limit ("under"), not merely at most it. */
  strict?: boolean;
  value(get: (name: string) => ScenarioResult | undefined): number | null;
}

const TARGETS: readonly Target[] = [
  {
    id: 'fanout-10k-perTaskUs',
    description: 'fanout-10k: perTaskUs at most 50',
    limit: 50,
    unit: 'us',
    value: (get) => get('fanout-10k')?.perTaskUs ?? null,
  },
  {
    id: 'chain-10k-perTaskUs',
    description: 'chain-10k: perTaskUs at most 50',
    limit: 50,
    unit: 'us',
    value: (get) => get('chain-10k')?.perTaskUs ?? null,
  },
  {
    id: 'fanout-scaling',
    description: 'fanout-100k perTaskUs within 1.5x of fanout-1k',
    limit: 1.5,
    unit: 'x',
    value: (get) => {
      const small = get('fanout-1k');
      const big = get('fanout-100k');
      return small && big ? Math.round((big.perTaskUs / small.perTaskUs) * 100) / 100 : null;
    },
  },
  {
    id: 'waits-10k-peakRssMb',
    description: 'waits-10k: peak RSS under 300 MB',
    limit: 300,
    unit: 'MB',
    strict: true,
    value: (get) => get('waits-10k')?.peakRssMb ?? null,
  },
];

export function evaluateTargets(results: readonly ScenarioResult[]): TargetResult[] {
  const get = (name: string) => results.find((r) => r.name === name);
  return TARGETS.map((t) => {
    const value = t.value(get);
    const pass = value === null ? null : t.strict ? value < t.limit : value <= t.limit;
    return { id: t.id, description: t.description, value, limit: t.limit, unit: t.unit, pass };
  });
}
