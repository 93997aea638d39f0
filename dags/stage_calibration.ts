/**
 * stage_calibration: the second stage of example_workflow. Reads the import stage's QA from the
 * pipeline context (and refuses to calibrate data whose import QA is red), then calibrates in a task
 * group: set the flux-density scale from the calibrator model, solve the bandpass, solve the complex
 * gains, apply them. Saves the stage's QA score to the pipeline context.
 *
 * Shows: `ctx.pipeline.load()` to read an earlier stage, `taskGroup()` with its own defaultArgs,
 * `chain()`, tasks passing results to each other, and `NonRetriableError` for a verdict a retry cannot
 * change.
 *
 * Runs on its own too (`npx airless dags test stage_calibration`): without an import QA in the pipeline
 * context it logs a warning and calibrates anyway.
 */
import { dag, NonRetriableError } from 'airless';
import { clamp01, FAILURE_PARAMS, gaussian, maybeFail, qaRating, rms, round, seededRandom, STAGE_DEFAULT_ARGS, stageData, type QaRating } from './_pipeline_sim.ts';
import type { ImportPrepQa } from './stage_import_prep.ts';

export interface FluxModel {
  calibrator: string;
  fluxJy: number;
  refFreqMHz: number;
  spectralIndex: number;
}

export interface BandpassSolution {
  antennas: number;
  channels: number;
  /** Scatter of the normalised bandpass amplitudes. */
  ampRms: number;
  phaseRmsDeg: number;
  flaggedSolutions: number;
}

export interface GainSolution {
  solutionInterval: string;
  /** Scatter of the phase solutions after removing each antenna's mean, degrees. */
  phaseRmsDeg: number;
  ampRms: number;
}

export interface AppliedCalibration {
  ms: string;
  calibratedFraction: number;
}

/** What this stage saves to the pipeline context under 'calibration'. */
export interface CalibrationQa {
  qaScore: number;
  rating: QaRating;
  bandpassAmpRms: number;
  gainPhaseRmsDeg: number;
  calibratedFraction: number;
  /** The import stage's QA this stage started from, if there was one. */
  importQa: number | null;
}

/** Below this import QA (red) calibrating is pointless. */
const MIN_IMPORT_QA = 0.33;

export const stageCalibration = dag(
  {
    dagId: 'stage_calibration',
    description: 'Solve and apply bandpass and gain calibration',
    params: { ...FAILURE_PARAMS },
    defaultArgs: STAGE_DEFAULT_ARGS,
    tags: ['radio-astronomy', 'stage'],
  },
  ({ task, taskGroup, chain }) => {
    const importQa = task('check_import_qa', async (ctx): Promise<ImportPrepQa | null> => {
      const prior = stageData<ImportPrepQa>(await ctx.pipeline.load(), 'import_prep');
      if (!prior) {
        ctx.log.warn('no import_prep QA in the pipeline context (stage run on its own?): calibrating anyway');
        return null;
      }
      if (prior.qaScore < MIN_IMPORT_QA) {
        throw new NonRetriableError(`import_prep QA ${prior.qaScore} is below ${MIN_IMPORT_QA}: ${prior.ms} is not worth calibrating`);
      }
      ctx.log.info(`import_prep QA ${prior.qaScore} (${prior.rating}) for ${prior.ms}`);
      return prior;
    });

    const calibrate = taskGroup(
      'calibrate',
      // Solvers on a real measurement set take minutes; a hung one should not hold the run forever.
      { tooltip: 'setjy, bandpass, gaincal, applycal', defaultArgs: { executionTimeout: '30m' } },
      () => {
        const model = task('set_flux_model', (ctx): FluxModel => {
          maybeFail(ctx);
          // PKS 1934-638, the southern flux-density calibrator (Reynolds 1994 scale).
          return { calibrator: 'J1939-6342', fluxJy: 14.9, refFreqMHz: 1400, spectralIndex: -0.7 };
        });

        const bandpass = task('solve_bandpass', (ctx, flux: FluxModel): BandpassSolution => {
          maybeFail(ctx);
          const antennas = 64;
          const channels = 64;
          const random = seededRandom(1934);
          const amp: number[] = [];
          const phase: number[] = [];
          let flagged = 0;
          for (let a = 0; a < antennas * channels; a++) {
            const dAmp = gaussian(random, 0.02);
            // A solution more than 4 sigma off is flagged, not used.
            if (Math.abs(dAmp) > 0.08) flagged++;
            else amp.push(dAmp);
            phase.push(gaussian(random, 2.5));
          }
          ctx.log.info(`bandpass on ${flux.calibrator} (${flux.fluxJy} Jy): ${antennas} antennas x ${channels} channels`);
          return { antennas, channels, ampRms: round(rms(amp), 4), phaseRmsDeg: round(rms(phase), 2), flaggedSolutions: flagged };
        })(model);

        const gains = task('solve_gains', (ctx, input: { flux: FluxModel; bandpass: BandpassSolution }): GainSolution => {
          maybeFail(ctx);
          const random = seededRandom(input.bandpass.antennas * 7919);
          const phase: number[] = [];
          const amp: number[] = [];
          for (let i = 0; i < input.bandpass.antennas * 30; i++) {
            phase.push(gaussian(random, 6));
            amp.push(gaussian(random, 0.03));
          }
          return { solutionInterval: '60s', phaseRmsDeg: round(rms(phase), 2), ampRms: round(rms(amp), 4) };
        })({ flux: model, bandpass });

        const applied = task('apply_calibration', async (ctx, input: { bandpass: BandpassSolution; gains: GainSolution }): Promise<AppliedCalibration> => {
          maybeFail(ctx);
          const prior = stageData<ImportPrepQa>(await ctx.pipeline.load(), 'import_prep');
          const ms = prior?.ms ?? '1548939342_sdp_l0.ms';
          const lost = input.bandpass.flaggedSolutions / (input.bandpass.antennas * input.bandpass.channels);
          ctx.log.info(`applied bandpass and gains (solint ${input.gains.solutionInterval}) to ${ms}`);
          return { ms, calibratedFraction: round(1 - lost, 4) };
        })({ bandpass, gains });

        return { bandpass, gains, applied };
      },
    );
    chain(importQa, calibrate);

    task(
      'qa_calibration',
      async (ctx, input: { importQa: ImportPrepQa | null; bandpass: BandpassSolution; gains: GainSolution; applied: AppliedCalibration }): Promise<CalibrationQa> => {
        maybeFail(ctx);
        // Phase scatter above 30 degrees or amplitude scatter above 20% would be red.
        const phaseScore = clamp01(1 - input.gains.phaseRmsDeg / 60);
        const ampScore = clamp01(1 - (input.bandpass.ampRms + input.gains.ampRms) * 2);
        const qaScore = round(phaseScore * ampScore * input.applied.calibratedFraction);
        const qa: CalibrationQa = {
          qaScore,
          rating: qaRating(qaScore),
          bandpassAmpRms: input.bandpass.ampRms,
          gainPhaseRmsDeg: input.gains.phaseRmsDeg,
          calibratedFraction: input.applied.calibratedFraction,
          importQa: input.importQa?.qaScore ?? null,
        };
        await ctx.pipeline.save('calibration', qa);
        ctx.log.info(`calibration QA ${qaScore} (${qa.rating})`);
        return qa;
      },
    )({ importQa, ...calibrate.result });
  },
);
