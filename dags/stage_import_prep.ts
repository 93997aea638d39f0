/**
 * stage_import_prep: the first stage of example_workflow. Imports the observation into a measurement
 * set, flags what cannot be used (online flags, shadowed antennas, autocorrelations, RFI) and saves the
 * stage's QA score to the pipeline context, where the next stages read it.
 *
 * Shows: a linear stage DAG whose params come from the parent's conf, retries from `defaultArgs`,
 * simulated failures, and `ctx.pipeline.save()`.
 *
 * Runs on its own too: `npx airless dags test stage_import_prep`.
 */
import { dag } from 'airless';
import { clamp01, FAILURE_PARAMS, maybeFail, qaRating, round, seededRandom, STAGE_DEFAULT_ARGS, type QaRating } from './_pipeline_sim.ts';

/** What import_ms learns about the measurement set. */
export interface MeasurementSetSummary {
  ms: string;
  telescope: string;
  antennas: number;
  baselines: number;
  spectralWindow: string;
  channels: number;
  scans: number;
  integrationSeconds: number;
  rows: number;
}

export interface FlagSummary {
  /** Fraction of the visibilities flagged, by reason. */
  byReason: Record<'online' | 'shadowing' | 'autocorrelations' | 'rfi', number>;
  flaggedFraction: number;
}

/** What this stage saves to the pipeline context under 'import_prep'. */
export interface ImportPrepQa {
  qaScore: number;
  rating: QaRating;
  ms: string;
  antennas: number;
  channels: number;
  flaggedFraction: number;
}

export const stageImportPrep = dag(
  {
    dagId: 'stage_import_prep',
    description: 'Import the observation into a measurement set and flag it',
    params: { ...FAILURE_PARAMS },
    defaultArgs: STAGE_DEFAULT_ARGS,
    tags: ['radio-astronomy', 'stage'],
  },
  ({ task }) => {
    const ms = task('import_ms', (ctx): MeasurementSetSummary => {
      maybeFail(ctx);
      const antennas = 64;
      const scans = 30;
      const integrationSeconds = 8;
      const baselines = (antennas * (antennas - 1)) / 2;
      const summary: MeasurementSetSummary = {
        ms: '1548939342_sdp_l0.ms',
        telescope: 'MeerKAT',
        antennas,
        baselines,
        spectralWindow: 'L-band 856-1712 MHz',
        channels: 4096,
        scans,
        integrationSeconds,
        // 10 minutes per scan, one row per baseline and integration.
        rows: scans * (600 / integrationSeconds) * baselines,
      };
      ctx.log.info(`imported ${summary.ms}: ${antennas} antennas, ${summary.channels} channels, ${summary.rows} rows`);
      return summary;
    });

    const flags = task('flag_data', (ctx, summary: MeasurementSetSummary): FlagSummary => {
      maybeFail(ctx);
      const random = seededRandom(summary.rows);
      const byReason = {
        online: round(0.01 + random() * 0.01, 4),
        shadowing: round(random() * 0.005, 4),
        autocorrelations: round(1 / (summary.baselines + summary.antennas), 4),
        rfi: round(0.06 + random() * 0.04, 4),
      };
      const flaggedFraction = round(Object.values(byReason).reduce((a, b) => a + b, 0), 4);
      ctx.log.info(`flagged ${(flaggedFraction * 100).toFixed(1)}% of ${summary.ms}`, byReason);
      return { byReason, flaggedFraction };
    })(ms);

    task('qa_import_prep', async (ctx, input: { summary: MeasurementSetSummary; flags: FlagSummary }): Promise<ImportPrepQa> => {
      maybeFail(ctx);
      // Losing more than half the data makes the observation useless.
      const qaScore = round(clamp01(1 - 2 * input.flags.flaggedFraction));
      const qa: ImportPrepQa = {
        qaScore,
        rating: qaRating(qaScore),
        ms: input.summary.ms,
        antennas: input.summary.antennas,
        channels: input.summary.channels,
        flaggedFraction: input.flags.flaggedFraction,
      };
      await ctx.pipeline.save('import_prep', qa);
      ctx.log.info(`import_prep QA ${qaScore} (${qa.rating})`);
      return qa;
    })({ summary: ms, flags });
  },
);
