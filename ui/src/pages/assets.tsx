import { Link, useSearchParams } from 'react-router';
import { assetPath, useAssets, type Asset } from '../asset-queries.ts';
import { ErrorBox } from '../components/error-box.tsx';
import { formatDate } from '../format.ts';
import '../assets.css';

/** Whether the asset matches the search text (its name, uri or group; any case). */
function matches(a: Asset, q: string): boolean {
  const text = q.trim().toLowerCase();
  return text === '' || [a.name, a.uri, a.group].some((s) => s.toLowerCase().includes(text));
}

function AssetRow({ asset }: { asset: Asset }) {
  return (
    <tr data-testid="asset-row" data-uri={asset.uri} data-asset-id={asset.id}>
      <td>
        <Link to={assetPath(asset.id)} className="dag-link" data-testid="asset-link">
          {asset.name}
        </Link>
        {asset.name !== asset.uri && <div className="muted small mono">{asset.uri}</div>}
      </td>
      <td>{asset.group}</td>
      <td data-testid="asset-producers">
        {asset.producing_tasks.length === 0 && <span className="muted">—</span>}
        {asset.producing_tasks.map((t) => (
          <div key={`${t.dag_id}.${t.task_id}`}>
            <Link to={`/dags/${encodeURIComponent(t.dag_id)}/graph`}>
              {t.dag_id}.{t.task_id}
            </Link>
          </div>
        ))}
      </td>
      <td data-testid="asset-consumers">
        {asset.consuming_dags.length === 0 && <span className="muted">—</span>}
        {asset.consuming_dags.map((d) => (
          <div key={d.dag_id}>
            <Link to={`/dags/${encodeURIComponent(d.dag_id)}`}>{d.dag_id}</Link>
          </div>
        ))}
      </td>
      <td data-testid="asset-last-event">{asset.last_asset_event === null ? <span className="muted">none</span> : formatDate(asset.last_asset_event.timestamp)}</td>
    </tr>
  );
}

/**
 * The assets: those the DAGs declare (schedules and outlets) and those known by an event; a search over
 * name, uri and group (kept in the URL, `#/assets?q=…`); who produces and consumes each; its last event.
 */
export function Assets() {
  const assets = useAssets();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const all = assets.data?.assets ?? [];
  const shown = all.filter((a) => matches(a, q));
  return (
    <section>
      <div className="panel-head">
        <h1>Assets</h1>
        <Link to="/assets/graph" className="button" data-testid="asset-graph-link">
          Asset graph
        </Link>
      </div>
      <p className="muted small">A task&apos;s success records an event of each asset among its outlets; a DAG scheduled on assets runs once its condition holds.</p>
      <ErrorBox error={assets.error} />
      <div className="dag-filters" role="search" aria-label="Filter assets">
        <input
          type="search"
          aria-label="Search assets by name, uri or group"
          placeholder="Search assets (name, uri, group)"
          value={q}
          onChange={(e) => setParams(e.target.value === '' ? new URLSearchParams() : new URLSearchParams({ q: e.target.value }), { replace: true })}
          data-testid="asset-search"
        />
      </div>
      {assets.isPending ? (
        <p className="muted">Loading…</p>
      ) : (
        <>
          <p className="muted small" role="status" data-testid="asset-count">
            {q.trim() !== '' ? `${shown.length} of ${all.length} assets` : `${all.length} assets`}
          </p>
          <table className="table" data-testid="assets-table">
            <thead>
              <tr>
                <th>Asset</th>
                <th>Group</th>
                <th>Producing tasks</th>
                <th>Consuming DAGs</th>
                <th>Last event</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((a) => (
                <AssetRow key={a.id} asset={a} />
              ))}
            </tbody>
          </table>
          {all.length === 0 && <p className="muted">No asset yet: declare one with asset() in a DAG&apos;s schedule or a task&apos;s outlets.</p>}
          {shown.length === 0 && all.length > 0 && <p className="muted" data-testid="no-asset-matches">No asset matches this search.</p>}
        </>
      )}
    </section>
  );
}
