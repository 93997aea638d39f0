// When a sensor pokes: Airflow's reschedule mode, as a pure rule (the task runner asks it after each poke).

import type { SensorSpec } from '../model/spec.ts';
import { MAX_RETRY_DELAY_MS } from './retry.ts';

/** What the rule needs of a sensor. */
export type PokeTiming = Pick<SensorSpec, 'pokeIntervalMs' | 'exponentialBackoff' | 'timeoutMs'>;

/** Whether a sensor first poked at `firstPokeAt` is past its timeout at `now`. */
export function pokeTimedOut(sensor: PokeTiming, firstPokeAt: number, now: number): boolean {
  return now - firstPokeAt >= sensor.timeoutMs;
}

/**
 * When a sensor whose `pokeCount`-th poke (just now) found its condition unmet pokes next: after its
 * interval, doubled for each earlier poke with exponentialBackoff (at most a day, as a retry delay), and
 * never past its timeout (the poke at the timeout is its last chance).
 */
export function nextPokeAt(sensor: PokeTiming, firstPokeAt: number, pokeCount: number, now: number): number {
  const interval = sensor.exponentialBackoff ? Math.min(sensor.pokeIntervalMs * 2 ** (pokeCount - 1), MAX_RETRY_DELAY_MS) : sensor.pokeIntervalMs;
  return Math.min(now + interval, firstPokeAt + sensor.timeoutMs);
}
