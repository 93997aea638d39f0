/**
 * asset_producer: tasks that update assets (their `outlets`). Each success records an event of each of
 * its task's outlets; the DAGs scheduled on those assets (asset_consumer, asset_or_time) run when their
 * condition holds.
 *
 *   calibrate (outlet: calibrated, with extra) -> flag_rfi (outlet: rfiFlags)
 *   update_sky_model (outlet: skyModel)
 *
 * - `ctx.outletEvents(asset).extra` gives the event metadata (plain JSON): the consumer reads it in
 *   `ctx.triggeringAssetEvents`.
 *
 * Try it: npx airless dags test asset_producer (then, against a standalone server, asset_consumer runs)
 */
import { dag } from 'airless';
import { calibrated, rfiFlags, skyModel } from './_assets.ts';

export const assetProducer = dag({ dagId: 'asset_producer', description: 'calibrates, flags and updates the sky model: three assets', tags: ['example', 'assets'] }, ({ task }) => {
  const calibrate = task(
    'calibrate',
    (ctx) => {
      const scans = 12;
      ctx.outletEvents(calibrated).extra = { scans, night: ctx.logicalDate.toISOString().slice(0, 10) };
      ctx.log.info(`calibrated ${scans} scans`);
      return { scans };
    },
    { outlets: [calibrated] },
  );
  task('flag_rfi', (_ctx, c: { scans: number }) => ({ flaggedFraction: 0.07, scans: c.scans }), { outlets: [rfiFlags] })(calibrate);
  task('update_sky_model', () => ({ components: 340 }), { outlets: [skyModel] });
});
