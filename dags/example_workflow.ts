/**
 * example_workflow: a radio-astronomy data reduction, decomposed into stage DAGs that a parent DAG
 * triggers in order, each waiting for the previous one:
 *
 *   example_workflow: plan_stages -> run_import_prep -> run_calibration -> run_imaging -> pipeline_summary
 *                                       |                  |                  |
 *                               stage_import_prep   stage_calibration   stage_imaging -> solver (one task
 *                                                                                        per channel)
 *
 * - Conf flows down: the params given to example_workflow (`simulate_failures`, `failure_rate`, `nchan`)
 *   are passed in each triggered run's conf; every stage DAG declares them as params too.
 * - State flows along: every stage saves a QA score with `ctx.pipeline.save()`; later stages read the
 *   earlier ones with `ctx.pipeline.load()` (calibration checks import, imaging checks calibration).
 *   Triggered runs share the pipeline context of the run that triggered them, all the way down.
 * - Failures: with `simulate_failures` on, each data-processing task try fails with probability
 *   `failure_rate` and is retried (stage defaultArgs: 2 retries, exponential backoff). A stage whose
 *   task runs out of tries fails, which fails its trigger task here, and the rest is upstream_failed.
 *
 * Try it:
 *   npx airless dags test example_workflow
 *   npx airless dags test example_workflow --conf '{"simulate_failures": true, "failure_rate": 0.3}'
 *   npx airless dags test example_workflow --conf '{"simulate_failures": true, "failure_rate": 1}'   # ends failed
 */
import { dag, NonRetriableError } from 'airless';
import { FAILURE_PARAMS, NCHAN_PARAM, qaRating, qaScoreOf, type QaRating } from './_pipeline_sim.ts';

/**
 * The conf of each triggered stage run. (A type alias, not an interface: a triggered run's conf must be
 * assignable to Record<string, unknown>, which TypeScript grants to type aliases only.)
 */
export type StageConf = {
  simulate_failures: boolean;
  failure_rate: number;
};
export type ImagingConf = StageConf & { nchan: number };

export interface WorkflowSummary {
  /** Every QA save of the run's pipeline context, in the order the stages saved them. */
  stages: { stage: string; dagId: string; qaScore: number; rating: QaRating }[];
  /** The worst stage's score: a pipeline is as good as its weakest stage. */
  overallQa: number;
  rating: QaRating;
}

export const exampleWorkflow = dag(
  {
    dagId: 'example_workflow',
    description: 'Radio-astronomy data reduction: import, calibrate, image a cube',
    params: { ...FAILURE_PARAMS, nchan: NCHAN_PARAM },
    // No retries here: each stage DAG retries its own tasks, and re-triggering a whole stage after
    // its tasks ran out of tries would only repeat them.
    tags: ['radio-astronomy', 'example'],
    docs: 'Triggers stage_import_prep, stage_calibration and stage_imaging in order; stage_imaging triggers solver.',
  },
  ({ task, triggerDag, chain }) => {
    const plan = task('plan_stages', async (ctx): Promise<StageConf> => {
      const conf: StageConf = { simulate_failures: ctx.params.simulate_failures, failure_rate: ctx.params.failure_rate };
      // Imaging also needs the cube size: push it under its own XCom key.
      await ctx.xcomPush('imaging_conf', { ...conf, nchan: ctx.params.nchan } satisfies ImagingConf);
      return conf;
    });

    const importPrep = triggerDag('run_import_prep', { triggerDagId: 'stage_import_prep', conf: plan, waitForCompletion: true });
    const calibration = triggerDag('run_calibration', { triggerDagId: 'stage_calibration', conf: plan, waitForCompletion: true });
    const imaging = triggerDag('run_imaging', {
      triggerDagId: 'stage_imaging',
      conf: plan.xcom<ImagingConf>('imaging_conf'),
      waitForCompletion: true,
    });

    const summary = task('pipeline_summary', async (ctx): Promise<WorkflowSummary> => {
      const state = await ctx.pipeline.load();
      const stages = state.history.flatMap((save) => {
        const qaScore = qaScoreOf(save.data);
        return qaScore === undefined ? [] : [{ stage: save.stage, dagId: save.dagId, qaScore, rating: qaRating(qaScore) }];
      });
      if (stages.length === 0) throw new NonRetriableError('no stage saved a QA score to the pipeline context');
      const overallQa = Math.min(...stages.map((s) => s.qaScore));
      for (const s of stages) ctx.log.info(`${s.stage.padEnd(12)} ${s.qaScore.toFixed(3)}  ${s.rating}  (${s.dagId})`);
      ctx.log.info(`overall QA ${overallQa} (${qaRating(overallQa)})`);
      return { stages, overallQa, rating: qaRating(overallQa) };
    });

    chain(plan, importPrep, calibration, imaging, summary);
  },
);
