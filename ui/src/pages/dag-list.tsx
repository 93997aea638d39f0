import { Link } from 'react-router';
import { type Dag } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';
import { PauseToggle } from '../components/pause-toggle.tsx';
import { StateSquare } from '../components/state-badge.tsx';
import { formatDate } from '../format.ts';
import { useDags, useImportErrors, useRuns } from '../queries.ts';

function LastRuns({ dagId }: { dagId: string }) {
  const runs = useRuns(dagId, 10);
  if (runs.error) return <ErrorBox error={runs.error} />;
  const list = [...(runs.data?.dag_runs ?? [])].reverse();
  return (
    <span className="last-runs" data-testid={`last-runs-${dagId}`}>
      {list.map((r) => (
        <Link key={r.dag_run_id} to={`/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(r.dag_run_id)}`}>
          <StateSquare state={r.state} title={`${r.dag_run_id}: ${r.state}`} />
        </Link>
      ))}
    </span>
  );
}

function DagRow({ dag }: { dag: Dag }) {
  return (
    <tr data-testid={`dag-row-${dag.dag_id}`}>
      <td>
        <PauseToggle dagId={dag.dag_id} isPaused={dag.is_paused} />
      </td>
      <td>
        <Link to={`/dags/${encodeURIComponent(dag.dag_id)}`} className="dag-link">
          {dag.dag_display_name}
        </Link>
        {dag.description !== null && dag.description !== '' && <div className="muted small">{dag.description}</div>}
        <div>
          {dag.tags.map((t) => (
            <span key={t} className="tag">
              {t}
            </span>
          ))}
        </div>
      </td>
      <td className="mono">{dag.timetable_summary ?? 'None'}</td>
      <td>
        <LastRuns dagId={dag.dag_id} />
      </td>
      <td>{formatDate(dag.next_dagrun_logical_date)}</td>
    </tr>
  );
}

/** The DAG list: pause toggle, schedule, the last runs as coloured squares, the next run. */
export function DagList() {
  const dags = useDags();
  const importErrors = useImportErrors();
  const errorCount = importErrors.data?.total_entries ?? 0;
  return (
    <section>
      <h1>DAGs</h1>
      {errorCount > 0 && (
        <div className="banner banner-error" role="alert" data-testid="import-error-banner">
          {errorCount === 1 ? '1 DAG file' : `${errorCount} DAG files`} failed to import.{' '}
          <Link to="/import-errors">See the import errors</Link>
        </div>
      )}
      <ErrorBox error={dags.error ?? importErrors.error} />
      {dags.isPending ? (
        <p className="muted">Loading…</p>
      ) : (
        <table className="table" data-testid="dag-list">
          <thead>
            <tr>
              <th>Active</th>
              <th>DAG</th>
              <th>Schedule</th>
              <th>Last runs</th>
              <th>Next run</th>
            </tr>
          </thead>
          <tbody>
            {dags.data?.dags.map((dag) => (
              <DagRow key={dag.dag_id} dag={dag} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
