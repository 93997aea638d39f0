import { useUpstreamAssetEvents } from '../asset-queries.ts';
import { AssetEventsTable } from './asset-events.tsx';
import { ErrorBox } from './error-box.tsx';

/** The asset events that triggered an asset-triggered run (ctx.triggeringAssetEvents): asset, time, source, extra. */
export function UpstreamAssetEvents({ dagId, runId }: { dagId: string; runId: string }) {
  const events = useUpstreamAssetEvents(dagId, runId, true);
  return (
    <div data-testid="upstream-asset-events">
      <h3>Triggering asset events</h3>
      <ErrorBox error={events.error} />
      {events.data !== undefined &&
        (events.data.asset_events.length === 0 ? <p className="muted small">None recorded.</p> : <AssetEventsTable events={events.data.asset_events} showAsset testId="upstream-asset-events-table" />)}
    </div>
  );
}
