/**
 * e2e_assets: consumer DAGs of assets that AWS changes outside airless, one per deployed watcher kind (for
 * the asset watchers' e2e test): objects created under an S3 prefix, messages of an SQS queue, events of an
 * EventBridge bus matching a pattern. Each reads the events that triggered its run.
 */
import { asset, dag, eventBridgeWatcher, s3Watcher, sqsWatcher } from 'airless';

export const E2E_ASSET_BUCKET = 'e2e-raw-observations';
export const E2E_ASSET_QUEUE = 'arn:aws:sqs:us-east-1:000000000000:e2e-observations';
export const E2E_ASSET_BUS = 'e2e-telescope';

export const rawObservations = asset(`s3://${E2E_ASSET_BUCKET}/incoming/`, { name: 'raw observations', watchers: [s3Watcher()] });
export const observationQueue = asset('sqs://e2e-observations', { name: 'observation queue', watchers: [sqsWatcher({ queueArn: E2E_ASSET_QUEUE })] });
export const finishedScans = asset('scan://e2e/finished', {
  name: 'finished L-band scans',
  watchers: [eventBridgeWatcher({ eventPattern: { source: ['e2e.telescope'], 'detail-type': ['Scan Finished'], detail: { band: [{ prefix: 'L' }] } }, eventBusName: E2E_ASSET_BUS })],
});

/** What a consumer's task returns: the extra of each event that triggered its run, by uri. */
const triggering = (ctx: { triggeringAssetEvents: Readonly<Record<string, readonly { extra: Record<string, unknown> }[]>> }) =>
  Object.fromEntries(Object.entries(ctx.triggeringAssetEvents).map(([uri, events]) => [uri, events.map((e) => e.extra)]));

/** A producer of three assets (one task gives its event an extra) and a consumer on `a & (b | c)`. */
export const e2eAssetA = asset('e2e://assets/a');
export const e2eAssetB = asset('e2e://assets/b');
export const e2eAssetC = asset('e2e://assets/c');

export const e2eAssetProducer = dag({ dagId: 'e2e_asset_producer' }, ({ task }) => {
  const a = task(
    'make_a',
    (ctx) => {
      ctx.outletEvents(e2eAssetA).extra = { rows: 3 };
      return 'a';
    },
    { outlets: [e2eAssetA] },
  );
  task('make_b', () => 'b', { outlets: [e2eAssetB] }).after(a);
});

export const e2eAssetCProducer = dag({ dagId: 'e2e_asset_c_producer' }, ({ task }) => {
  task('make_c', () => 'c', { outlets: [e2eAssetC] });
});

export const e2eAssetConsumer = dag({ dagId: 'e2e_asset_consumer', schedule: e2eAssetA.and(e2eAssetB.or(e2eAssetC)) }, ({ task }) => {
  task('read', (ctx) => triggering(ctx));
});

export const e2eS3Consumer = dag({ dagId: 'e2e_s3_consumer', schedule: rawObservations }, ({ task }) => {
  task('read', (ctx) => triggering(ctx));
});

export const e2eSqsConsumer = dag({ dagId: 'e2e_sqs_consumer', schedule: observationQueue }, ({ task }) => {
  task('read', (ctx) => triggering(ctx));
});

export const e2eEventBridgeConsumer = dag({ dagId: 'e2e_eventbridge_consumer', schedule: finishedScans }, ({ task }) => {
  task('read', (ctx) => triggering(ctx));
});
