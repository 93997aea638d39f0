// The types of the asset API: what a schedule, an outlet and the context take and give. Compiled by
// `npm run typecheck`, never run; each `@ts-expect-error` is a call that must not type-check.

import { and, asset, assetOrTime, dag, fileWatcher, or, s3Watcher, type Asset, type AssetCondition, type AssetEvent, type OutletEventAccessor } from '../../lib/index.ts';
import { assertType, type IsEqual } from './type-assert.ts';

const a = asset('s3://lake/a', { watchers: [s3Watcher()] });
const b = asset('file:///data/b.csv', { name: 'b', group: 'files', extra: { owner: 'ana' }, watchers: [fileWatcher()] });
assertType<IsEqual<typeof a, Asset>>();
assertType<IsEqual<ReturnType<typeof a.and>, AssetCondition>>();
assertType<IsEqual<ReturnType<typeof or>, AssetCondition>>();

// A schedule is a time schedule, a condition over assets, or both.
dag({ dagId: 'types_assets_schedule', schedule: a }, () => undefined);
dag({ dagId: 'types_assets_and', schedule: a.and(b.or(a)) }, () => undefined);
dag({ dagId: 'types_assets_fn', schedule: and(a, or(b)) }, () => undefined);
dag({ dagId: 'types_assets_or_time', schedule: assetOrTime({ schedule: '@daily', assets: a.or(b) }) }, () => undefined);
// @ts-expect-error a uri is not an asset: wrap it in asset()
dag({ dagId: 'types_assets_string', schedule: and('s3://lake/a') }, () => undefined);
// @ts-expect-error assetOrTime needs its assets
assetOrTime({ schedule: '@daily' });
// @ts-expect-error an unknown asset option
asset('s3://x/y', { nmae: 'typo' });

dag({ dagId: 'types_outlets' }, ({ task, empty, sensor }) => {
  task(
    'write',
    (ctx) => {
      const accessor = ctx.outletEvents(a);
      assertType<IsEqual<typeof accessor, OutletEventAccessor>>();
      accessor.extra = { rows: 1 };
      assertType<IsEqual<typeof ctx.triggeringAssetEvents, Readonly<Record<string, readonly AssetEvent[]>>>>();
      const _first = ctx.triggeringAssetEvents['s3://lake/a']?.[0];
      assertType<IsEqual<typeof _first, AssetEvent | undefined>>();
      // @ts-expect-error outletEvents takes an asset, not its uri
      ctx.outletEvents('s3://lake/a');
    },
    { outlets: [a, b] },
  );
  empty('touch', { outlets: [a] });
  sensor('wait', () => true, { outlets: [b] });
  // @ts-expect-error outlets are assets, not uris
  empty('bad', { outlets: ['s3://lake/a'] });
});
