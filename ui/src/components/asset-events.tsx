/** Asset events shown as a table: when, from where (a task, the API, a watcher), their extra, the runs each created. */
import { Link } from 'react-router';
import type { AssetEvent } from '../asset-queries.ts';
import { formatDate, json } from '../format.ts';
import { StateBadge } from './state-badge.tsx';

/** Where an event came from: the task (a link to its instance), the API, or a watcher with what it saw. */
export function EventSource({ event }: { event: AssetEvent }) {
  if (event.source_kind === 'task' && event.source_dag_id !== null && event.source_run_id !== null && event.source_task_id !== null) {
    const to = `/dags/${encodeURIComponent(event.source_dag_id)}/runs/${encodeURIComponent(event.source_run_id)}/tasks/${encodeURIComponent(event.source_task_id)}/${event.source_map_index}`;
    return (
      <span data-testid="event-source" data-kind="task">
        <Link to={to}>
          {event.source_dag_id}.{event.source_task_id}
          {event.source_map_index >= 0 ? `[${event.source_map_index}]` : ''}
        </Link>
        <div className="muted small mono">{event.source_run_id}</div>
      </span>
    );
  }
  const detail = Object.entries(event.source_detail).filter(([k, v]) => k !== 'watcher' && v !== null && v !== undefined);
  return (
    <span data-testid="event-source" data-kind={event.source_kind}>
      {event.source_kind === 'api' ? 'API' : `watcher ${typeof event.source_detail['watcher'] === 'string' ? event.source_detail['watcher'] : ''}`}
      {detail.length > 0 && <div className="muted small mono">{detail.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · ')}</div>}
    </span>
  );
}

/** The runs an event created, each a link with its state. */
export function CreatedRuns({ event }: { event: AssetEvent }) {
  if (event.created_dagruns.length === 0) return <span className="muted">none</span>;
  return (
    <>
      {event.created_dagruns.map((r) => (
        <div key={`${r.dag_id}/${r.run_id}`} data-testid="created-run" data-dag-id={r.dag_id} data-run-id={r.run_id}>
          <Link to={`/dags/${encodeURIComponent(r.dag_id)}/runs/${encodeURIComponent(r.run_id)}`}>
            {r.dag_id} <span className="mono small">{r.run_id}</span>
          </Link>{' '}
          <StateBadge state={r.state} />
        </div>
      ))}
    </>
  );
}

/** A table of asset events: time, source, extra, the runs each created (and the asset, when asked). */
export function AssetEventsTable({ events, showAsset = false, testId }: { events: readonly AssetEvent[]; showAsset?: boolean; testId: string }) {
  return (
    <table className="table compact" data-testid={testId}>
      <thead>
        <tr>
          <th>Time</th>
          {showAsset && <th>Asset</th>}
          <th>Source</th>
          <th>Extra</th>
          <th>Created runs</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.id} data-testid="asset-event" data-event-id={e.id} data-source-kind={e.source_kind}>
            <td>{formatDate(e.timestamp)}</td>
            {showAsset && (
              <td>
                <Link to={`/assets/${encodeURIComponent(e.asset_id)}`} title={e.uri}>
                  {e.name}
                </Link>
              </td>
            )}
            <td>
              <EventSource event={e} />
            </td>
            <td>{Object.keys(e.extra).length === 0 ? <span className="muted">—</span> : <pre className="json asset-extra" data-testid="event-extra">{json(e.extra)}</pre>}</td>
            <td>
              <CreatedRuns event={e} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
