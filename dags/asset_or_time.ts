/**
 * asset_or_time: Airflow's AssetOrTimeSchedule. A run every day at 06:00 UTC (as any cron schedule,
 * deployed on EventBridge Scheduler), and also whenever the sky model is updated.
 *
 * Try it: npx airless dags test asset_or_time --asset-event s3://airless-example/models/sky.json
 */
import { assetOrTime, dag } from 'airless';
import { skyModel } from './_assets.ts';

export const assetOrTimeDag = dag(
  {
    dagId: 'asset_or_time',
    description: 'a daily report, and one whenever the sky model changes',
    schedule: assetOrTime({ schedule: '0 6 * * *', assets: skyModel }),
    startDate: '2026-01-01',
    tags: ['example', 'assets'],
  },
  ({ task }) => {
    task('report', (ctx) => ({ runType: ctx.runType, skyModelEvents: ctx.triggeringAssetEvents[skyModel.uri]?.length ?? 0 }));
  },
);
