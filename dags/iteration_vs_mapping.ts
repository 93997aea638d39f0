/**
 * iteration_vs_mapping: the same work over the same list, done two ways, and a task that checks both
 * give the same answer. The work: the expected image noise of each pointing of a mosaic, from the
 * radiometer equation.
 *
 * - `.expand(list)` (dynamic task mapping): one task instance per item. Each instance is scheduled,
 *   retried and shown on its own; deployed, each is its own Lambda invocation. Right for items that are
 *   slow, or fail independently, or that you want to see one by one.
 * - `.iterate(list, { concurrency, itemRetries })` (dynamic task iteration): every item inside ONE task
 *   instance, `concurrency` at a time, each failing item retried in place up to `itemRetries` times;
 *   results come back in list order. Items finished before a failed try are kept for the next try.
 *   Right for many small items where a task instance per item would cost more than the work.
 *
 * The first attempt at pointing 3 fails on purpose (a flaky sky-model lookup), to show both retry paths:
 * the iterated task retries that item in place (its log says so); the mapped instance 3 is retried as a
 * task instance (try 2, after retryDelay).
 */
import { dag, type TaskContext } from 'airless';

export interface Pointing {
  field: string;
  raDeg: number;
  decDeg: number;
  integrationMinutes: number;
  /** Usable bandwidth after flagging. */
  bandwidthMHz: number;
}

export interface NoiseEstimate {
  field: string;
  /** Expected thermal noise in the image, microJy/beam. */
  rmsMicroJy: number;
}

/** MeerKAT at L-band: 64 dishes, system equivalent flux density about 443 Jy. */
const ANTENNAS = 64;
const SEFD_JY = 443;
const CORRELATOR_EFFICIENCY = 0.9;
const POLARISATIONS = 2;

/** The pointing whose first attempt fails (to show retries). */
const FLAKY_POINTING = 3;

/** Radiometer equation: sigma = SEFD / (eta_c * sqrt(n_pol * N (N - 1) * t * bandwidth)). */
function estimateNoise(ctx: TaskContext, p: Pointing): NoiseEstimate {
  // In .iterate() ctx.item says which item and which attempt at it; in .expand() ctx.mapIndex and tryNumber.
  const index = ctx.item?.index ?? ctx.mapIndex;
  const attempt = ctx.item?.tryNumber ?? ctx.tryNumber;
  if (index === FLAKY_POINTING && attempt === 1) throw new Error(`sky-model lookup for ${p.field} timed out (simulated)`);
  const seconds = p.integrationMinutes * 60;
  const sigmaJy = SEFD_JY / (CORRELATOR_EFFICIENCY * Math.sqrt(POLARISATIONS * ANTENNAS * (ANTENNAS - 1) * seconds * p.bandwidthMHz * 1e6));
  return { field: p.field, rmsMicroJy: Math.round(sigmaJy * 1e6 * 100) / 100 };
}

export const iterationVsMapping = dag(
  {
    dagId: 'iteration_vs_mapping',
    description: 'The same per-pointing work with .iterate() (one task instance) and .expand() (one per item)',
    params: {
      pointings: { type: 'integer', minimum: 1, maximum: 500, default: 12, description: 'Pointings in the mosaic.' },
    },
    defaultArgs: { retries: 1, retryDelay: '1s' },
    tags: ['mapping', 'example'],
  },
  ({ task }) => {
    const pointings = task('list_pointings', ({ params }): Pointing[] =>
      Array.from({ length: params.pointings }, (_, i) => ({
        field: `NGC253-p${String(i + 1).padStart(2, '0')}`,
        raDeg: 11.888 + 0.25 * (i % 4),
        decDeg: -25.288 + 0.25 * Math.floor(i / 4),
        integrationMinutes: 60 + 15 * (i % 3),
        bandwidthMHz: 856 * (1 - 0.1 - 0.02 * (i % 5)),
      })),
    );

    // All pointings in one task instance, 4 at a time, a failing pointing retried up to twice in place.
    const iterated = task('estimate_noise_iterated', estimateNoise).iterate(pointings, { concurrency: 4, itemRetries: 2 });

    // One task instance per pointing; a failing instance is retried on its own (defaultArgs.retries).
    const mapped = task('estimate_noise_mapped', estimateNoise).expand(pointings);

    task('compare', (ctx, input: { iterated: NoiseEstimate[]; mapped: NoiseEstimate[] }) => {
      const differing = input.iterated.flatMap((it, i) => (JSON.stringify(it) === JSON.stringify(input.mapped[i]) ? [] : [i]));
      if (input.iterated.length !== input.mapped.length || differing.length) {
        throw new Error(`iterate and expand disagree: ${input.iterated.length} vs ${input.mapped.length} results, differing at ${differing.join(', ')}`);
      }
      const deepest = input.iterated.reduce((best, e) => (e.rmsMicroJy < best.rmsMicroJy ? e : best));
      ctx.log.info(`${input.iterated.length} pointings, same results both ways; deepest: ${deepest.field} at ${deepest.rmsMicroJy} uJy/beam`);
      return { pointings: input.iterated.length, identical: true, deepest };
    })({ iterated, mapped });
  },
);
