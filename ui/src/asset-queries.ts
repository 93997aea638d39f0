/**
 * The assets' queries (list, one asset, its events, a run's triggering events) and their keys, so that creating
 * an event or materializing an asset refreshes what it changed. The events refresh while a run they created is live.
 */
import { useQuery } from '@tanstack/react-query';
import { call, client, type ResponseOf } from './api.ts';
import { isLive, LIVE_REFRESH_MS } from './states.ts';

export type Asset = ResponseOf<'/api/v2/assets', 'get'>['assets'][number];
export type AssetEvent = ResponseOf<'/api/v2/assets/events', 'get'>['asset_events'][number];

/** How often the assets and their events refresh while shown (an event can come from anywhere: a task, a watcher, the API). */
export const ASSETS_REFRESH_MS = 3000;

export const assetKeys = {
  all: ['assets'] as const,
  list: ['assets', 'list'] as const,
  one: (assetId: string) => ['assets', 'one', assetId] as const,
  events: (assetId: string) => ['assets', 'events', assetId] as const,
  upstream: (dagId: string, runId: string) => ['assets', 'upstream', dagId, runId] as const,
};

/** Every asset (the first 1000, by uri). */
export function useAssets() {
  return useQuery({
    queryKey: assetKeys.list,
    queryFn: () => call(client.GET('/api/v2/assets', { params: { query: { limit: 1000 } } })),
    refetchInterval: ASSETS_REFRESH_MS,
  });
}

export function useAsset(assetId: string) {
  return useQuery({
    queryKey: assetKeys.one(assetId),
    queryFn: () => call(client.GET('/api/v2/assets/{asset_id}', { params: { path: { asset_id: assetId } } })),
    refetchInterval: ASSETS_REFRESH_MS,
  });
}

/** An asset's latest events, newest first. */
export function useAssetEvents(assetId: string, limit = 50) {
  return useQuery({
    queryKey: [...assetKeys.events(assetId), limit],
    queryFn: () => call(client.GET('/api/v2/assets/events', { params: { query: { asset_id: assetId, limit, order_by: '-timestamp' } } })),
    refetchInterval: ASSETS_REFRESH_MS,
  });
}

/** The asset events that triggered a run (none unless it is asset-triggered: not fetched then). */
export function useUpstreamAssetEvents(dagId: string, runId: string, enabled: boolean) {
  return useQuery({
    queryKey: assetKeys.upstream(dagId, runId),
    queryFn: () => call(client.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/upstreamAssetEvents', { params: { path: { dag_id: dagId, dag_run_id: runId } } })),
    enabled,
    refetchInterval: (q) => (q.state.data?.asset_events.some((e) => e.created_dagruns.some((r) => isLive(r.state))) === true ? LIVE_REFRESH_MS : false),
  });
}

/** The path of an asset's page. */
export const assetPath = (assetId: string) => `/assets/${encodeURIComponent(assetId)}`;
