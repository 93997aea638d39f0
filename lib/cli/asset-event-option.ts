// `dags test --asset-event uri[=extraJSON]` (repeatable): the asset events the test run is triggered by,
// as an `asset_triggered` run whose `ctx.triggeringAssetEvents` they are.

import { randomUUID } from 'node:crypto';
import { assetEventId, assetId, uriScheme, type AssetEventRecord } from '../model/asset.ts';
import { UsageError } from './usage-error.ts';

export interface AssetEventOption {
  uri: string;
  extra: Record<string, unknown>;
}

/** Parse one `--asset-event` value: `uri` or `uri={"json":"object"}`. */
export function parseAssetEventOption(value: string): AssetEventOption {
  const m = /^(.*?)=(\{[\s\S]*\})$/.exec(value);
  const uri = m ? m[1]! : value;
  if (uriScheme(uri) === null || /\s/.test(uri)) throw new UsageError(`--asset-event: '${uri}' is not an asset uri (it needs a scheme, e.g. s3://bucket/key, and no spaces)`);
  if (!m) return { uri, extra: {} };
  let extra: unknown;
  try {
    extra = JSON.parse(m[2]!);
  } catch (e) {
    throw new UsageError(`--asset-event ${uri}: the extra after '=' is not JSON: ${(e as Error).message}`);
  }
  return { uri, extra: extra as Record<string, unknown> };
}

/** Commander's collector for the repeatable option. */
export function collectAssetEvent(value: string, previous: AssetEventOption[] = []): AssetEventOption[] {
  return [...previous, parseAssetEventOption(value)];
}

/** The events as recorded by hand at `at` (`source: api`), one new dedupe key each. */
export function assetEventsOf(options: readonly AssetEventOption[], at: string): AssetEventRecord[] {
  return options.map((o) => {
    const dedupeKey = `dags-test:${randomUUID()}`;
    return { id: assetEventId(at, dedupeKey), uri: o.uri, assetId: assetId(o.uri), extra: o.extra, timestamp: at, source: { kind: 'api', user: null }, dedupeKey, createdRuns: [] };
  });
}
