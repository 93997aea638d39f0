/**
 * branching_join: choose one of several paths by a param, skip the others, and join again.
 *
 *   choose_deconvolver (branch) -> clean_hogbom | clean_multiscale | clean_mtmfs | dirty_only (empty)
 *        -> restore_image (trigger rule none_failed_min_one_success)
 *        -> should_archive (shortCircuit) -> archive_products
 *
 * - `branch()` returns the id of the direct downstream task to follow; the others are skipped.
 * - A join after a branch needs a trigger rule that tolerates skipped upstreams: with the default
 *   all_success it would be skipped too. `none_failed_min_one_success` runs it when no upstream failed
 *   and at least one succeeded.
 * - `empty()` is a task that runs no code (Airflow's EmptyOperator): here the "no deconvolution" path.
 * - `shortCircuit()` skips everything downstream when its function returns a falsy value: products are
 *   archived only when `archive` is true.
 *
 * Try it: npx airless dags test branching_join --conf '{"deconvolver": "hogbom", "archive": true}'
 */
import { dag } from 'airless';

export interface CleanResult {
  deconvolver: string;
  /** Scales (in pixels) the deconvolver modelled the sky with. */
  scales: number[];
  terms: number;
  iterations: number;
  peakResidualMicroJy: number;
}

export interface RestoredImage {
  image: string;
  /** The path that produced the model; null when the dirty image was kept. */
  deconvolver: string | null;
  peakResidualMicroJy: number | null;
}

export const branchingJoin = dag(
  {
    dagId: 'branching_join',
    description: 'Branch on a param to one of several deconvolvers, join, and archive only when asked',
    params: {
      deconvolver: {
        type: 'string',
        enum: ['hogbom', 'multiscale', 'mtmfs', 'none'],
        default: 'multiscale',
        description: "Deconvolution algorithm; 'none' keeps the dirty image.",
      },
      archive: { type: 'boolean', default: false, description: 'Copy the products to the archive.' },
    },
    tags: ['branching', 'example'],
  },
  ({ task, branch, shortCircuit, empty }) => {
    const choose = branch('choose_deconvolver', ({ params, log }) => {
      const next = params.deconvolver === 'none' ? 'dirty_only' : `clean_${params.deconvolver}`;
      log.info(`deconvolver '${params.deconvolver}': following ${next}`);
      return next;
    });

    const clean = (deconvolver: string, scales: number[], terms: number, iterations: number, peakResidualMicroJy: number) =>
      task(`clean_${deconvolver}`, (): CleanResult => ({ deconvolver, scales, terms, iterations, peakResidualMicroJy }));
    const hogbom = clean('hogbom', [0], 1, 5000, 41.5);
    const multiscale = clean('multiscale', [0, 5, 15], 1, 2200, 18.2);
    const mtmfs = clean('mtmfs', [0, 5, 15], 2, 2600, 12.7);
    const dirtyOnly = empty('dirty_only', { doc: 'No deconvolution: the dirty image is the product.' });
    choose.before(hogbom, multiscale, mtmfs, dirtyOnly);

    // Skipped paths' results resolve to null: the one that ran is the non-null one.
    const restored = task(
      { taskId: 'restore_image', triggerRule: 'none_failed_min_one_success' },
      (ctx, paths: { hogbom: CleanResult | null; multiscale: CleanResult | null; mtmfs: CleanResult | null }): RestoredImage => {
        const model = paths.hogbom ?? paths.multiscale ?? paths.mtmfs;
        const image = `NGC253.${model?.deconvolver ?? 'dirty'}.image.fits`;
        ctx.log.info(model ? `restored ${model.deconvolver} model (${model.iterations} iterations) into ${image}` : `no model: ${image} is the dirty image`);
        return { image, deconvolver: model?.deconvolver ?? null, peakResidualMicroJy: model?.peakResidualMicroJy ?? null };
      },
    )({ hogbom, multiscale, mtmfs });
    restored.after(dirtyOnly);

    const shouldArchive = shortCircuit('should_archive', ({ params }) => params.archive).after(restored);

    task('archive_products', (ctx, image: RestoredImage) => {
      ctx.log.info(`archiving ${image.image}`);
      return { archived: [image.image], location: `s3://archive/NGC253/${ctx.runId}/` };
    })(restored).after(shouldArchive);
  },
);
