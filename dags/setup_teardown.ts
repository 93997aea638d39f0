/**
 * setup_teardown: a scratch workspace created before the imaging work and always released after it,
 * whether the work succeeded or not (Airflow 2.7's setup and teardown tasks).
 *
 *   create_workspace (setup) -> stage_visibilities -> image_channels -> release_workspace (teardown)
 *            \_______________________________________________________________/
 *
 * - `.asSetup()` marks a setup; `.asTeardown({ setups })` marks a teardown and draws the edge from its
 *   setups. A teardown runs once every upstream is done if one of its setups succeeded (trigger rule
 *   `all_done_setup_success`), so the workspace is released even when imaging fails.
 * - A teardown's failure does not fail the run (`onFailureFailDagrun: true` makes it count).
 * - The run's state comes from the work: with `fail_imaging`, `image_channels` fails, the workspace is
 *   still released, and the run fails.
 * - Clearing `image_channels` clears its setup and teardown too: a new workspace for the rerun.
 *
 * Try it: npx airless dags test setup_teardown --conf '{"fail_imaging": true}'
 */
import { dag } from 'airless';

export interface Workspace {
  path: string;
  scratchGb: number;
}

export const setupTeardown = dag(
  {
    dagId: 'setup_teardown',
    description: 'Create a scratch workspace, image in it, and always release it',
    params: {
      fail_imaging: { type: 'boolean', default: false, description: 'Make image_channels fail (the workspace is released all the same).' },
    },
    tags: ['setup-teardown', 'example'],
  },
  ({ task, chain }) => {
    const create = task('create_workspace', ({ runId, log }): Workspace => {
      const ws = { path: `/scratch/${runId.replace(/[^A-Za-z0-9_-]/g, '_')}`, scratchGb: 200 };
      log.info(`created ${ws.path} (${ws.scratchGb} GB)`);
      return ws;
    }).asSetup();

    const stage = task('stage_visibilities', (ctx, ws: Workspace) => {
      ctx.log.info(`staging NGC253.ms into ${ws.path}`);
      return `${ws.path}/NGC253.ms`;
    })(create);

    const image = task('image_channels', (ctx, ms: string) => {
      if (ctx.params.fail_imaging) throw new Error(`imaging ${ms} failed: out of scratch space`);
      return { cube: ms.replace(/\.ms$/, '.cube.fits'), channels: 16 };
    })(stage);

    const release = task('release_workspace', (ctx, ws: Workspace) => {
      ctx.log.info(`released ${ws.path}`);
      return { released: ws.path };
    })(create);

    chain(image, release.asTeardown({ setups: create }));
  },
);
