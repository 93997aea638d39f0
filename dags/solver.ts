/**
 * solver: deconvolves an image cube, one task instance per channel. stage_imaging triggers it with
 * conf `{ nchan, simulate_failures, failure_rate }`.
 *
 * - `generate_process_list` makes the channel list from `params.nchan`;
 * - `execute_single_solver` is mapped over it with `.expand()`: one task instance per channel, each
 *   running its own major/minor cycle loop (dags/_deconvolution.ts) and retried on its own;
 * - `collect` receives every channel's result, in channel order, and saves the cube's QA to the
 *   pipeline context, where stage_imaging reads it.
 *
 * Runs on its own too: `npx airless dags test solver --conf '{"nchan": 64}'`.
 */
import { dag } from 'airless';
import { solveChannel, type ChannelSpec, type SolverResult } from './_deconvolution.ts';
import { clamp01, FAILURE_PARAMS, maybeFail, NCHAN_PARAM, qaRating, round, STAGE_DEFAULT_ARGS, type QaRating } from './_pipeline_sim.ts';

/** What collect saves to the pipeline context under 'solver'. */
export interface CubeQa {
  qaScore: number;
  rating: QaRating;
  nchan: number;
  convergedChannels: number;
  majorCycles: number;
  minorCycles: number;
  /** Worst channel's peak residual, Jy/beam. */
  maxPeakResidualJy: number;
  /** Total model flux of each channel, Jy: the cube's spectrum. */
  spectrumJy: number[];
}

/** MeerKAT L-band: 856 MHz of bandwidth from 856 MHz. */
const BAND_START_MHZ = 856;
const BANDWIDTH_MHZ = 856;

export const solver = dag(
  {
    dagId: 'solver',
    description: 'Deconvolve an image cube: one major/minor cycle solver per channel',
    params: { ...FAILURE_PARAMS, nchan: NCHAN_PARAM },
    defaultArgs: STAGE_DEFAULT_ARGS,
    tags: ['radio-astronomy', 'imaging'],
  },
  ({ task }) => {
    const channels = task('generate_process_list', (ctx): ChannelSpec[] => {
      maybeFail(ctx);
      const width = BANDWIDTH_MHZ / ctx.params.nchan;
      return Array.from({ length: ctx.params.nchan }, (_, channel) => ({
        channel,
        freqMHz: round(BAND_START_MHZ + (channel + 0.5) * width, 4),
      }));
    });

    const results = task('execute_single_solver', (ctx, spec: ChannelSpec): SolverResult => {
      maybeFail(ctx);
      const r = solveChannel(spec);
      ctx.log.info(
        `channel ${r.channel} (${r.freqMHz} MHz): ${r.majorCycles} major cycles, minor cycles ${r.minorPerMajor.join('+')}, ` +
          `peak residual ${r.peakResidualJy} Jy/beam (threshold ${r.thresholdJy})${r.converged ? '' : ': NOT converged'}`,
      );
      return r;
    }).expand(channels);

    task('collect', async (ctx, cube: SolverResult[]): Promise<CubeQa> => {
      maybeFail(ctx);
      const converged = cube.filter((r) => r.converged).length;
      // Each channel scores 1 when converged, less the closer its residual came to the threshold.
      const residualRatio = cube.reduce((s, r) => s + Math.min(1, r.peakResidualJy / r.thresholdJy), 0) / cube.length;
      const qaScore = round(clamp01((converged / cube.length) * (1 - 0.25 * residualRatio)));
      const qa: CubeQa = {
        qaScore,
        rating: qaRating(qaScore),
        nchan: cube.length,
        convergedChannels: converged,
        majorCycles: cube.reduce((s, r) => s + r.majorCycles, 0),
        minorCycles: cube.reduce((s, r) => s + r.minorCycles, 0),
        maxPeakResidualJy: Math.max(...cube.map((r) => r.peakResidualJy)),
        spectrumJy: cube.map((r) => r.modelFluxJy),
      };
      await ctx.pipeline.save('solver', qa);
      ctx.log.info(`cube of ${qa.nchan} channels: ${converged} converged, QA ${qaScore} (${qa.rating})`);
      return qa;
    })(results);
  },
);
