import { Link, NavLink, Outlet, useLocation } from 'react-router';
import { ErrorBox } from '../components/error-box.tsx';
import { PauseToggle } from '../components/pause-toggle.tsx';
import { useDagId, useViewBase } from '../dag-view.ts';
import { formatDate } from '../format.ts';
import { useDag } from '../queries.ts';

/** A DAG: its header (pause, schedule, trigger), the grid or graph view, and a side panel. */
export function DagPage() {
  const dagId = useDagId();
  const dag = useDag(dagId);
  const base = `/dags/${encodeURIComponent(dagId)}`;
  const viewBase = useViewBase();
  const inVersions = useLocation().pathname.startsWith(`${base}/versions`);
  return (
    <section className="dag-page" data-testid="dag-page">
      <div className="dag-header">
        {dag.data && <PauseToggle dagId={dagId} isPaused={dag.data.is_paused} />}
        <h1 data-testid="dag-title">{dag.data?.dag_display_name ?? dagId}</h1>
        {dag.data && (
          <span className="muted small">
            schedule <span className="mono">{dag.data.timetable_summary ?? 'None'}</span> · next run{' '}
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
      <nav className="tabs" role="tablist">
        <NavLink to={base} end={false} className={({ isActive }) => (isActive && viewBase === base && !inVersions ? 'active' : '')} data-testid="tab-grid">
          Grid
        </NavLink>
        <NavLink to={`${base}/graph`} data-testid="tab-graph">
          Graph
        </NavLink>
        <NavLink to={`${base}/versions`} data-testid="tab-versions">
          Versions
        </NavLink>
      </nav>
      <Outlet />
    </section>
  );
}
