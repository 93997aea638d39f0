import { asset, dag, task } from 'airless';

/** A producer whose task records an event of `raw`, and a consumer scheduled on raw and (clean or backup). */
const raw = asset('s3://remote-lake/raw.csv', { name: 'raw', group: 'lake' });
const clean = asset('s3://remote-lake/clean.parquet');
const backup = asset('file:///remote-backup/clean.parquet');

export const producer = dag({ dagId: 'remote_lake_producer', tags: ['fixture'] }, () => {
  task(
    'extract',
    (ctx) => {
      ctx.outletEvents(raw).extra = { rows: 3 };
      return 3;
    },
    { outlets: [raw] },
  );
});

export const consumer = dag({ dagId: 'remote_lake_consumer', schedule: raw.and(clean.or(backup)), tags: ['fixture'] }, () => {
  task('report', (ctx) => Object.keys(ctx.triggeringAssetEvents).sort());
});
