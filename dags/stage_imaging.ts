/**
 * stage_imaging: the third stage of example_workflow. Checks calibration's QA in the pipeline context
 * (a red calibration is not worth imaging), triggers the `solver` DAG for a cube of `nchan` channels and
 * waits for it, then scores the image from the solver's and calibration's QA and saves it.
 *
 * Shows: a stage that triggers a DAG itself (`triggerDag` with `waitForCompletion`: the task is deferred
 * and holds no worker slot while the solver runs), a task that builds the triggered run's conf from
 * params, and reading two earlier saves from the pipeline context (the solver's run shares it).
 *
 * Runs on its own too: `npx airless dags test stage_imaging --conf '{"nchan": 32}'`.
 */
import { dag, NonRetriableError } from 'airless';
import { FAILURE_PARAMS, maybeFail, NCHAN_PARAM, qaRating, round, STAGE_DEFAULT_ARGS, stageData, type QaRating } from './_pipeline_sim.ts';
import type { CubeQa } from './solver.ts';
import type { CalibrationQa } from './stage_calibration.ts';

/** What this stage saves to the pipeline context under 'imaging'. */
export interface ImagingQa {
  qaScore: number;
  rating: QaRating;
  nchan: number;
  convergedChannels: number;
  /** The QA scores this one was computed from. */
  solverQa: number;
  calibrationQa: number | null;
}

/** Below this calibration QA (red) imaging is pointless. */
const MIN_CALIBRATION_QA = 0.33;

export const stageImaging = dag(
  {
    dagId: 'stage_imaging',
    description: 'Image the calibrated data as a cube: trigger the per-channel solver and score the result',
    params: { ...FAILURE_PARAMS, nchan: NCHAN_PARAM },
    defaultArgs: STAGE_DEFAULT_ARGS,
    tags: ['radio-astronomy', 'stage'],
  },
  ({ task, triggerDag, chain }) => {
    const calibrationQa = task('check_calibration_qa', async (ctx): Promise<number | null> => {
      const cal = stageData<CalibrationQa>(await ctx.pipeline.load(), 'calibration');
      if (!cal) {
        ctx.log.warn('no calibration QA in the pipeline context (stage run on its own?): imaging anyway');
        return null;
      }
      if (cal.qaScore < MIN_CALIBRATION_QA) {
        throw new NonRetriableError(`calibration QA ${cal.qaScore} is below ${MIN_CALIBRATION_QA}: not imaging`);
      }
      ctx.log.info(`calibration QA ${cal.qaScore} (${cal.rating})`);
      return cal.qaScore;
    });

    // The solver DAG declares the same params; conf keys it does not declare would be refused.
    const solverConf = task('plan_cube', ({ params }) => ({
      nchan: params.nchan,
      simulate_failures: params.simulate_failures,
      failure_rate: params.failure_rate,
    }));

    const solve = triggerDag('solve_cube', {
      triggerDagId: 'solver',
      conf: solverConf,
      waitForCompletion: true,
      // The solver retries its own tasks; re-running the whole cube after that would only repeat them.
      retries: 0,
    });

    const qa = task('qa_imaging', async (ctx, calibration: number | null): Promise<ImagingQa> => {
      maybeFail(ctx);
      const cube = stageData<CubeQa>(await ctx.pipeline.load(), 'solver');
      if (!cube) throw new NonRetriableError(`the solver run saved no 'solver' QA to the pipeline context`);
      // Imaging cannot be better than the calibration it starts from.
      const qaScore = round(cube.qaScore * (calibration === null ? 1 : 0.7 + 0.3 * calibration));
      const result: ImagingQa = {
        qaScore,
        rating: qaRating(qaScore),
        nchan: cube.nchan,
        convergedChannels: cube.convergedChannels,
        solverQa: cube.qaScore,
        calibrationQa: calibration,
      };
      await ctx.pipeline.save('imaging', result);
      ctx.log.info(`imaging QA ${qaScore} (${result.rating}) from solver QA ${cube.qaScore} and calibration QA ${calibration ?? 'n/a'}`);
      return result;
    })(calibrationQa);

    chain(calibrationQa, solverConf, solve, qa);
  },
);
