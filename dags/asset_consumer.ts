/**
 * asset_consumer: scheduled on assets. A run starts when the calibrated visibilities have been updated
 * and either the RFI flags or the sky model have (`calibrated & (rfiFlags | skyModel)`, Airflow's
 * `&` and `|`); each asset counts once it has an event since the DAG's last asset-triggered run.
 *
 * - `ctx.triggeringAssetEvents` holds the events that started the run, by asset uri (each with its
 *   `extra`, its `source` and its `timestamp`); it is empty for a run triggered any other way.
 *
 * Try it: npx airless dags test asset_consumer \
 *   --asset-event 's3://airless-example/visibilities/calibrated.ms={"scans": 3}' \
 *   --asset-event s3://airless-example/flags/rfi.json
 */
import { dag } from 'airless';
import { calibrated, rfiFlags, skyModel } from './_assets.ts';

export interface ImagingPlan {
  scans: number | null;
  inputs: string[];
}

export const assetConsumer = dag({ dagId: 'asset_consumer', description: 'images once calibrated data and flags or a sky model are new', schedule: calibrated.and(rfiFlags.or(skyModel)), tags: ['example', 'assets'] }, ({ task }) => {
  task('plan_imaging', (ctx): ImagingPlan => {
    const events = ctx.triggeringAssetEvents;
    const latest = events[calibrated.uri]?.at(-1);
    const scans = typeof latest?.extra.scans === 'number' ? latest.extra.scans : null;
    const inputs = Object.keys(events).sort();
    ctx.log.info(`imaging ${scans ?? 'unknown'} scans from ${inputs.join(', ') || 'no asset event (not an asset-triggered run)'}`);
    return { scans, inputs };
  });
});
