import { useMemo, useState } from 'react';
import { Link, NavLink, Outlet, useLocation, useSearchParams } from 'react-router';
import { ErrorBox } from '../components/error-box.tsx';
import { PauseToggle } from '../components/pause-toggle.tsx';
import { DEFAULT_RUNS_VIEW, RunsViewContext, useDagId, useViewBase, type RunsView } from '../dag-view.ts';
import { formatDate } from '../format.ts';
import { useDag } from '../queries.ts';
import { DurationChart } from './duration-chart.tsx';
import { PausedReasonTag } from '../components/setup-teardown.tsx';
import { AssetExpression } from '../components/asset-expression.tsx';

/** The time part of an assets-or-time schedule's summary (`0 0 * * * or assets(...)`); null for assets alone. */
function assetTimePart(summary: string | null): string | null {
  return /^(.+?) or assets\(/.exec(summary ?? '')?.[1] ?? null;
}

/** The search parameter that shows the run-duration chart in place of the grid (`?view=durations`). */
const VIEW_PARAM = 'view';

/**
 * A DAG: its header (pause, schedule, trigger), the grid, graph or run-duration view, and a side panel.
 * The page of runs and its filters are kept here, so the grid and the duration chart show the same runs.
 */
export function DagPage() {
  const dagId = useDagId();
  const dag = useDag(dagId);
  const base = `/dags/${encodeURIComponent(dagId)}`;
  const viewBase = useViewBase();
  const path = useLocation().pathname;
  const inVersions = path.startsWith(`${base}/versions`);
  const inBackfills = path.startsWith(`${base}/backfills`);
  const [search] = useSearchParams();
  const durations = search.get(VIEW_PARAM) === 'durations' && !inVersions && viewBase === base;
  const [views, setViews] = useState<ReadonlyMap<string, RunsView>>(new Map());
  const runsView = useMemo(
    () => ({ view: views.get(dagId) ?? DEFAULT_RUNS_VIEW, setView: (next: RunsView) => setViews((prev) => new Map(prev).set(dagId, next)) }),
    [views, dagId],
  );
  return (
    <section className="dag-page" data-testid="dag-page">
      <div className="dag-header">
        {dag.data && <PauseToggle dagId={dagId} isPaused={dag.data.is_paused} />}
        <h1 data-testid="dag-title">{dag.data?.dag_display_name ?? dagId}</h1>
        {dag.data && <PausedReasonTag dag={dag.data} />}
        {dag.data && (
          <span className="muted small">
            schedule{' '}
            {dag.data.asset_expression === null ? (
              <span className="mono">{dag.data.timetable_summary ?? 'None'}</span>
            ) : (
              <span title={dag.data.timetable_summary ?? undefined} data-testid="asset-schedule">
                {assetTimePart(dag.data.timetable_summary) !== null && (
                  <>
                    <span className="mono">{assetTimePart(dag.data.timetable_summary)}</span> or{' '}
                  </>
                )}
                on assets <AssetExpression expression={dag.data.asset_expression} />
              </span>
            )}{' '}
            · next run{' '}
            {formatDate(dag.data.next_dagrun_logical_date)}
          </span>
        )}
        <span className="spacer" />
        <Link to={`${base}/backfills`} className="button" data-testid="backfills-link">Backfills</Link>
        <Link to={`${viewBase}/trigger`} className="button primary" data-testid="trigger-button">
          ▶ Trigger
        </Link>
      </div>
      {dag.data?.description && <p className="muted">{dag.data.description}</p>}
      <ErrorBox error={dag.error} />
      <nav className="tabs" aria-label="DAG views">
        <NavLink to={base} end={false} className={({ isActive }) => (isActive && viewBase === base && !inVersions && !inBackfills && !durations ? 'active' : '')} data-testid="tab-grid">
          Grid
        </NavLink>
        <NavLink to={`${base}/graph`} data-testid="tab-graph">
          Graph
        </NavLink>
        <Link to={`${base}?${VIEW_PARAM}=durations`} className={durations ? 'active' : ''} data-testid="tab-durations">
          Run durations
        </Link>
        <NavLink to={`${base}/versions`} data-testid="tab-versions">
          Versions
        </NavLink>
      </nav>
      <RunsViewContext.Provider value={runsView}>{durations ? <DurationChart /> : <Outlet />}</RunsViewContext.Provider>
    </section>
  );
}
