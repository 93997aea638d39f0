import { Link, useSearchParams } from 'react-router';
import { type Dag, type DagRun } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';
import { PauseToggle } from '../components/pause-toggle.tsx';
import { StateSquare } from '../components/state-badge.tsx';
import { formatDate } from '../format.ts';
import { useDags, useImportErrors, useRecentRunsOf } from '../queries.ts';
import { PausedReasonTag } from '../components/setup-teardown.tsx';

/** The last-run states the list filters on. */
const LAST_RUN_STATES = ['failed', 'running', 'success'] as const;
type LastRunState = (typeof LAST_RUN_STATES)[number];

/**
 * The list's filters, all in the URL's query (`#/?q=…&tag=…&tag=…&paused=…&last=…`) so a filtered list
 * can be shared: the text searched in the DAG id, display name, description and file; tags (a DAG must
 * carry every one picked); paused or active; the state of the latest run.
 */
interface Filters {
  q: string;
  tags: string[];
  paused: 'paused' | 'active' | null;
  last: LastRunState | null;
}

function readFilters(params: URLSearchParams): Filters {
  const paused = params.get('paused');
  const last = params.get('last');
  return {
    q: params.get('q') ?? '',
    tags: params.getAll('tag'),
    paused: paused === 'paused' || paused === 'active' ? paused : null,
    last: (LAST_RUN_STATES as readonly string[]).includes(last ?? '') ? (last as LastRunState) : null,
  };
}

function writeFilters(f: Filters): URLSearchParams {
  const params = new URLSearchParams();
  if (f.q !== '') params.set('q', f.q);
  for (const t of f.tags) params.append('tag', t);
  if (f.paused !== null) params.set('paused', f.paused);
  if (f.last !== null) params.set('last', f.last);
  return params;
}

function matches(dag: Dag, f: Filters, lastState: string | null | undefined): boolean {
  const q = f.q.trim().toLowerCase();
  if (q !== '') {
    const text = [dag.dag_id, dag.dag_display_name, dag.description ?? '', dag.fileloc ?? ''].join('\n').toLowerCase();
    if (!text.includes(q)) return false;
  }
  if (!f.tags.every((t) => dag.tags.includes(t))) return false;
  if (f.paused === 'paused' && !dag.is_paused) return false;
  if (f.paused === 'active' && dag.is_paused) return false;
  // 'running' stands for every live state of a run (queued too).
  if (f.last !== null) {
    const s = lastState ?? null;
    if (f.last === 'running' ? s !== 'running' && s !== 'queued' : s !== f.last) return false;
  }
  return true;
}

function LastRuns({ dagId, runs }: { dagId: string; runs: readonly DagRun[] }) {
  const list = [...runs].reverse();
  return (
    <span className="last-runs" data-testid={`last-runs-${dagId}`}>
      {list.map((r) => (
        <Link key={r.dag_run_id} to={`/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(r.dag_run_id)}`} aria-label={`run ${r.dag_run_id}: ${r.state}`}>
          <StateSquare state={r.state} title={`${r.dag_run_id}: ${r.state}`} />
        </Link>
      ))}
    </span>
  );
}

function DagRow({ dag, runs, runsError }: { dag: Dag; runs: readonly DagRun[]; runsError: unknown }) {
  return (
    <tr data-testid={`dag-row-${dag.dag_id}`} data-paused={dag.is_paused} data-last-run-state={runs[0]?.state ?? 'none'}>
      <td>
        <PauseToggle dagId={dag.dag_id} isPaused={dag.is_paused} />
      </td>
      <td>
        <Link to={`/dags/${encodeURIComponent(dag.dag_id)}`} className="dag-link">
          {dag.dag_display_name}
        </Link>
        {dag.has_import_errors && (
          <Link to="/import-errors" className="tag import-error-tag" data-testid={`dag-import-error-${dag.dag_id}`} title="Its file fails to import: it is shown as last loaded and cannot run">
            import error
          </Link>
        )}
        <PausedReasonTag dag={dag} />
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
      <td>{runsError ? <ErrorBox error={runsError} /> : <LastRuns dagId={dag.dag_id} runs={runs} />}</td>
      <td>{formatDate(dag.next_dagrun_logical_date)}</td>
    </tr>
  );
}

/** One choice of a group of radio-like chips ("All" clears it). */
function ChoiceGroup<T extends string>({ label, value, options, onChange, testId }: { label: string; value: T | null; options: readonly T[]; onChange: (v: T | null) => void; testId: string }) {
  return (
    <div className="chip-group" role="group" aria-label={label} data-testid={testId}>
      <span className="chip-label" aria-hidden="true">
        {label}
      </span>
      {[null, ...options].map((o) => (
        <button key={o ?? 'all'} type="button" className={`chip${value === o ? ' active' : ''}`} aria-pressed={value === o} onClick={() => onChange(o)} data-value={o ?? 'all'}>
          {o ?? 'all'}
        </button>
      ))}
    </div>
  );
}

/** The DAG list: filters, pause toggle, schedule, the last runs as coloured squares, the next run. */
export function DagList() {
  const dags = useDags();
  const importErrors = useImportErrors();
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const all = dags.data?.dags ?? [];
  const runs = useRecentRunsOf(all.map((d) => d.dag_id));
  const errorCount = importErrors.data?.total_entries ?? 0;
  const allTags = [...new Set(all.flatMap((d) => d.tags))].sort();
  const set = (patch: Partial<Filters>) => setParams(writeFilters({ ...filters, ...patch }), { replace: true });
  const toggleTag = (t: string) => set({ tags: filters.tags.includes(t) ? filters.tags.filter((x) => x !== t) : [...filters.tags, t] });
  const rows = all.map((dag, i) => ({ dag, runs: runs[i]?.data?.dag_runs ?? [], error: runs[i]?.error }));
  const shown = rows.filter((r) => matches(r.dag, filters, r.runs[0]?.state));
  const filtered = filters.q !== '' || filters.tags.length > 0 || filters.paused !== null || filters.last !== null;
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
      <div className="dag-filters" role="search" aria-label="Filter DAGs" data-testid="dag-filters">
        <input
          type="search"
          aria-label="Search DAGs by id, description or file"
          placeholder="Search DAGs (id, description, file)"
          value={filters.q}
          onChange={(e) => set({ q: e.target.value })}
          data-testid="dag-search"
        />
        <ChoiceGroup label="State" value={filters.paused} options={['active', 'paused'] as const} onChange={(v) => set({ paused: v })} testId="filter-paused" />
        <ChoiceGroup label="Last run" value={filters.last} options={LAST_RUN_STATES} onChange={(v) => set({ last: v })} testId="filter-last-run" />
        {allTags.length > 0 && (
          <div className="chip-group" role="group" aria-label="Tags" data-testid="filter-tags">
            <span className="chip-label" aria-hidden="true">
              Tags
            </span>
            {allTags.map((t) => (
              <button key={t} type="button" className={`chip${filters.tags.includes(t) ? ' active' : ''}`} aria-pressed={filters.tags.includes(t)} onClick={() => toggleTag(t)} data-testid="tag-chip" data-tag={t}>
                {t}
              </button>
            ))}
          </div>
        )}
        {filtered && (
          <button type="button" className="link-button" onClick={() => setParams(new URLSearchParams(), { replace: true })} data-testid="clear-filters">
            Clear filters
          </button>
        )}
      </div>
      {dags.isPending ? (
        <p className="muted">Loading…</p>
      ) : (
        <>
          <p className="muted small" role="status" data-testid="dag-count">
            {filtered ? `${shown.length} of ${all.length} DAGs` : `${all.length} DAGs`}
          </p>
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
              {shown.map((r) => (
                <DagRow key={r.dag.dag_id} dag={r.dag} runs={r.runs} runsError={r.error} />
              ))}
            </tbody>
          </table>
          {shown.length === 0 && all.length > 0 && <p className="muted" data-testid="no-dag-matches">No DAG matches these filters.</p>}
        </>
      )}
    </section>
  );
}
