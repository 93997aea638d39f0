import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router';
import { call, client } from '../api.ts';
import { assetKeys, useAsset, useAssetEvents } from '../asset-queries.ts';
import { AssetEventsTable } from '../components/asset-events.tsx';
import { ErrorBox } from '../components/error-box.tsx';
import { formatDate, json } from '../format.ts';
import { keys } from '../queries.ts';
import '../assets.css';

/** EXTRA typed in the form: a JSON object; else why not. */
export function parseExtra(text: string): Record<string, unknown> | string {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `extra is not valid JSON: ${(e as Error).message}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'extra must be a JSON object, e.g. {"rows": 42}';
  return value as Record<string, unknown>;
}

/** The form that records an event of the asset through the API (as a task's success would). */
function CreateEventForm({ assetId }: { assetId: string }) {
  const queryClient = useQueryClient();
  const [extra, setExtra] = useState('{}');
  const [problem, setProblem] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) => call(client.POST('/api/v2/assets/events', { body: { asset_id: assetId, extra: body } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: assetKeys.all }),
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseExtra(extra);
    if (typeof parsed === 'string') return setProblem(parsed);
    setProblem(null);
    create.mutate(parsed);
  };
  const made = create.data;
  return (
    <form className="panel asset-form" onSubmit={onSubmit} data-testid="create-event-form">
      <h3>Create an event</h3>
      <label htmlFor="asset-event-extra">Extra (a JSON object)</label>
      <textarea id="asset-event-extra" rows={3} value={extra} onChange={(e) => setExtra(e.target.value)} className="mono" data-testid="event-extra-input" />
      <div className="buttons">
        <button type="submit" className="primary" disabled={create.isPending} data-testid="create-event">
          Create event
        </button>
      </div>
      {problem !== null && (
        <p className="field-error" role="alert" data-testid="event-problem">
          {problem}
        </p>
      )}
      <ErrorBox error={create.error} />
      {made !== undefined && (
        <p className="muted small" role="status" data-testid="event-created">
          Event recorded at {formatDate(made.timestamp)}; {made.created_dagruns.length === 0 ? 'it started no run' : `it started ${made.created_dagruns.map((r) => `${r.dag_id} (${r.run_id})`).join(', ')}`}.
        </p>
      )}
    </form>
  );
}

/** Materialize: trigger the one DAG that produces the asset; the server says why not otherwise. */
function MaterializeButton({ assetId }: { assetId: string }) {
  const queryClient = useQueryClient();
  const materialize = useMutation({
    mutationFn: () => call(client.POST('/api/v2/assets/{asset_id}/materialize', { params: { path: { asset_id: assetId } } })),
    onSuccess: (run) => Promise.all([queryClient.invalidateQueries({ queryKey: keys.runs(run.dag_id) }), queryClient.invalidateQueries({ queryKey: assetKeys.all })]),
  });
  const run = materialize.data;
  return (
    <div className="asset-materialize">
      <button type="button" onClick={() => materialize.mutate()} disabled={materialize.isPending} data-testid="materialize">
        ▶ Materialize
      </button>
      {run !== undefined && (
        <span className="small" role="status" data-testid="materialized">
          {' '}
          triggered{' '}
          <Link to={`/dags/${encodeURIComponent(run.dag_id)}/runs/${encodeURIComponent(run.dag_run_id)}`}>
            {run.dag_id} <span className="mono">{run.dag_run_id}</span>
          </Link>
        </span>
      )}
      <ErrorBox error={materialize.error} />
    </div>
  );
}

/** An asset: its uri, group, extra and watchers, who produces and consumes it, its events; create an event, materialize. */
export function AssetDetails() {
  const assetId = useParams()['assetId'] ?? '';
  const asset = useAsset(assetId);
  const events = useAssetEvents(assetId);
  if (asset.error) return <ErrorBox error={asset.error} />;
  const a = asset.data;
  if (a === undefined) return <p className="muted">Loading…</p>;
  return (
    <section data-testid="asset-details" data-uri={a.uri}>
      <div className="panel-head">
        <h1 data-testid="asset-title">{a.name}</h1>
        <span className="spacer" />
        <Link to={`/assets/graph?asset=${encodeURIComponent(a.id)}`} className="button" data-testid="asset-details-graph">
          Graph
        </Link>
        <MaterializeButton assetId={a.id} />
      </div>
      <dl className="facts">
        <dt>URI</dt>
        <dd className="mono" data-testid="asset-uri">{a.uri}</dd>
        <dt>Group</dt>
        <dd>{a.group}</dd>
        <dt>Id</dt>
        <dd className="mono">{a.id}</dd>
        <dt>Producing tasks</dt>
        <dd data-testid="asset-producers">
          {a.producing_tasks.length === 0 ? (
            <span className="muted">none</span>
          ) : (
            a.producing_tasks.map((t) => (
              <div key={`${t.dag_id}.${t.task_id}`}>
                <Link to={`/dags/${encodeURIComponent(t.dag_id)}/graph`}>
                  {t.dag_id}.{t.task_id}
                </Link>
              </div>
            ))
          )}
        </dd>
        <dt>Consuming DAGs</dt>
        <dd data-testid="asset-consumers">
          {a.consuming_dags.length === 0 ? (
            <span className="muted">none</span>
          ) : (
            a.consuming_dags.map((d) => (
              <div key={d.dag_id}>
                <Link to={`/dags/${encodeURIComponent(d.dag_id)}`}>{d.dag_id}</Link>
              </div>
            ))
          )}
        </dd>
        <dt>Watchers</dt>
        <dd data-testid="asset-watchers">
          {a.watchers.length === 0 ? (
            <span className="muted">none</span>
          ) : (
            a.watchers.map((w, i) => (
              <div key={i} className="mono small">
                {w.kind}: {JSON.stringify(Object.fromEntries(Object.entries(w).filter(([k]) => k !== 'kind')))}
              </div>
            ))
          )}
        </dd>
        <dt>Created / updated</dt>
        <dd>
          {formatDate(a.created_at)} / {formatDate(a.updated_at)}
        </dd>
      </dl>
      {Object.keys(a.extra).length > 0 && (
        <>
          <h3>Extra</h3>
          <pre className="json">{json(a.extra)}</pre>
        </>
      )}
      <CreateEventForm assetId={a.id} />
      <h2 className="asset-events-title">Events</h2>
      <ErrorBox error={events.error} />
      {events.data !== undefined && (
        <>
          <p className="muted small" data-testid="asset-event-count">
            {events.data.total_entries === 0 ? 'No event yet.' : `${events.data.total_entries} event(s), newest first${events.data.total_entries > events.data.asset_events.length ? ` (the latest ${events.data.asset_events.length} shown)` : ''}.`}
          </p>
          {events.data.asset_events.length > 0 && <AssetEventsTable events={events.data.asset_events} testId="asset-events" />}
        </>
      )}
    </section>
  );
}
