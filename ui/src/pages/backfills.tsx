/**
 * A DAG's backfills: each with its progress (its runs done of its total, by state), and a form to create
 * one, where a dry run says first what would happen per logical date (create, clear or skip a run), and
 * the backfill is created only for the dry-run values.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { call, client, type DagRun, type ResponseOf } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';
import { StateBadge, StateSquare } from '../components/state-badge.tsx';
import { useDagId } from '../dag-view.ts';
import { formatDate } from '../format.ts';
import { type Backfill, backfillKeys, keys, useBackfillRuns, useBackfills } from '../queries.ts';
import { isLive } from '../states.ts';

type DryRun = ResponseOf<'/api/v2/backfills/dry_run', 'post'>;
type Reprocess = 'none' | 'failed' | 'completed';

interface BackfillBody {
  dag_id: string;
  from_date: string;
  to_date: string;
  reprocess_behavior: Reprocess;
  max_active_runs: number;
  dag_run_conf?: Record<string, unknown>;
}

const REPROCESS: readonly { value: Reprocess; label: string }[] = [
  { value: 'none', label: 'none (new dates only)' },
  { value: 'failed', label: 'failed (rerun failed)' },
  { value: 'completed', label: 'completed (rerun all)' },
];

/** A <input type="datetime-local"> value (the browser's time zone) as an ISO instant; null when empty or invalid. */
function toIso(local: string): string | null {
  if (local === '') return null;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The form's values as the API's body, or why they are not one. */
function bodyOf(dagId: string, f: { from: string; to: string; reprocess: Reprocess; maxActiveRuns: string; conf: string }): { body: BackfillBody } | { problem: string } {
  const from = toIso(f.from);
  const to = toIso(f.to);
  if (from === null) return { problem: 'Pick the first logical date.' };
  if (to === null) return { problem: 'Pick the last logical date.' };
  const max = Number(f.maxActiveRuns);
  if (!Number.isInteger(max) || max < 1) return { problem: 'Max active runs must be a whole number of at least 1.' };
  const body: BackfillBody = { dag_id: dagId, from_date: from, to_date: to, reprocess_behavior: f.reprocess, max_active_runs: max };
  if (f.conf.trim() !== '') {
    let conf: unknown;
    try {
      conf = JSON.parse(f.conf);
    } catch (e) {
      return { problem: `The run conf is not JSON: ${(e as Error).message}` };
    }
    if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) return { problem: 'The run conf must be a JSON object.' };
    body.dag_run_conf = conf as Record<string, unknown>;
  }
  return { body };
}

/** A backfill's runs done (ended) of its total (dates created or cleared), and how many are in each state. */
function progressOf(b: Backfill, runs: readonly DagRun[]): { done: number; total: number; byState: [string, number][] } {
  const own = runs.filter((r) => r.backfill_id === b.id);
  const byState = new Map<string, number>();
  for (const r of own) byState.set(r.state, (byState.get(r.state) ?? 0) + 1);
  const total = b.counts.created + b.counts.cleared;
  const done = own.filter((r) => !isLive(r.state)).length;
  return { done: Math.min(done, total), total, byState: [...byState].sort(([a], [z]) => a.localeCompare(z)) };
}

function BackfillRow({ b, runs }: { b: Backfill; runs: readonly DagRun[] }) {
  const p = progressOf(b, runs);
  return (
    <tr data-testid="backfill-row" data-backfill-id={b.id} data-state={b.state} data-done={p.done} data-total={p.total}>
      <td className="mono">{b.id}</td>
      <td>
        {formatDate(b.from_date)} → {formatDate(b.to_date)}
      </td>
      <td>{b.reprocess_behavior}</td>
      <td>
        <span className="backfill-state" data-testid="backfill-state">
          {b.state}
        </span>
      </td>
      <td>
        <div className="progress-cell">
          <progress value={p.done} max={Math.max(p.total, 1)} aria-label={`backfill ${b.id}: ${p.done} of ${p.total} runs done`} />
          <span data-testid="backfill-progress">
            {p.done} / {p.total} runs
          </span>
        </div>
        <div className="backfill-states" data-testid="backfill-states">
          {p.byState.map(([state, n]) => (
            <span key={state} className="state-count" data-state={state} data-count={n}>
              <StateSquare state={state} /> {state} {n}
            </span>
          ))}
        </div>
        {b.counts.skipped > 0 && <div className="muted small">{b.counts.skipped} date{b.counts.skipped === 1 ? '' : 's'} skipped (a run exists)</div>}
      </td>
      <td>{formatDate(b.created_at)}</td>
      <td>{formatDate(b.completed_at)}</td>
    </tr>
  );
}

function DryRunTable({ result }: { result: DryRun }) {
  const count = (action: string) => result.backfills.filter((d) => d.action === action).length;
  return (
    <div data-testid="backfill-dry-run">
      <p data-testid="backfill-dry-run-summary">
        {result.total_entries} logical date{result.total_entries === 1 ? '' : 's'}: {count('create')} run{count('create') === 1 ? '' : 's'} to create, {count('clear')} to clear, {count('skip')} skipped.
      </p>
      <table className="table compact">
        <thead>
          <tr>
            <th>Logical date</th>
            <th>Action</th>
            <th>Run</th>
            <th>Existing run</th>
            <th>Why</th>
          </tr>
        </thead>
        <tbody>
          {result.backfills.map((d) => (
            <tr key={d.logical_date} data-testid="dry-run-date" data-action={d.action}>
              <td>{formatDate(d.logical_date)}</td>
              <td>{d.action}</td>
              <td className="mono small">{d.dag_run_id ?? '—'}</td>
              <td>{d.existing_state === null ? '—' : <StateBadge state={d.existing_state} />}</td>
              <td className="muted">{d.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CreateBackfill({ dagId }: { dagId: string }) {
  const id = useId();
  const queryClient = useQueryClient();
  const [form, setForm] = useState({ from: '', to: '', reprocess: 'none' as Reprocess, maxActiveRuns: '10', conf: '' });
  const [problem, setProblem] = useState<string | null>(null);
  const edit = (patch: Partial<typeof form>) => {
    setForm({ ...form, ...patch });
    setProblem(null);
  };
  const dryRun = useMutation({
    mutationFn: (body: BackfillBody) => call(client.POST('/api/v2/backfills/dry_run', { body })).then((result) => ({ body, result })),
  });
  const create = useMutation({
    mutationFn: (body: BackfillBody) => call(client.POST('/api/v2/backfills', { body })),
    onSuccess: async () => {
      dryRun.reset();
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: backfillKeys.list(dagId) }),
        queryClient.invalidateQueries({ queryKey: backfillKeys.runs(dagId) }),
        queryClient.invalidateQueries({ queryKey: keys.runs(dagId) }),
      ]);
    },
  });
  const parsed = bodyOf(dagId, form);
  // The dry run counts only for the values it was made with.
  const checked = dryRun.data !== undefined && 'body' in parsed && JSON.stringify(dryRun.data.body) === JSON.stringify(parsed.body) ? dryRun.data : null;
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if ('problem' in parsed) {
      setProblem(parsed.problem);
      return;
    }
    create.reset();
    dryRun.mutate(parsed.body);
  };
  return (
    <section className="panel backfill-create" aria-labelledby={`${id}-title`} data-testid="backfill-create">
      <h2 id={`${id}-title`}>New backfill</h2>
      <form className="backfill-form" onSubmit={onSubmit}>
        <label>
          From (logical date)
          <input type="datetime-local" value={form.from} onChange={(e) => edit({ from: e.target.value })} required data-testid="backfill-from" />
        </label>
        <label>
          To (logical date)
          <input type="datetime-local" value={form.to} onChange={(e) => edit({ to: e.target.value })} required data-testid="backfill-to" />
        </label>
        <label>
          Reprocess
          <select value={form.reprocess} onChange={(e) => edit({ reprocess: e.target.value as Reprocess })} data-testid="backfill-reprocess">
            {REPROCESS.map((r) => (
              <option key={r.value} value={r.value}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Max active runs
          <input type="number" min={1} value={form.maxActiveRuns} onChange={(e) => edit({ maxActiveRuns: e.target.value })} data-testid="backfill-max-active-runs" />
        </label>
        <label className="wide">
          Run conf <span className="muted small">(JSON object, optional)</span>
          <textarea rows={2} value={form.conf} onChange={(e) => edit({ conf: e.target.value })} placeholder="{}" data-testid="backfill-conf" />
        </label>
        <div className="buttons wide">
          <button type="submit" disabled={dryRun.isPending} data-testid="backfill-dry-run-button">
            Dry run
          </button>
          <button
            type="button"
            className="primary"
            disabled={checked === null || checked.result.total_entries === 0 || create.isPending}
            title={checked === null ? 'Make a dry run of these values first' : undefined}
            onClick={() => checked !== null && create.mutate(checked.body)}
            data-testid="backfill-create-button"
          >
            Create backfill
          </button>
        </div>
      </form>
      {problem !== null && <ErrorBox error={problem} />}
      <ErrorBox error={dryRun.error ?? create.error} />
      {checked !== null && <DryRunTable result={checked.result} />}
      {create.data && (
        <p role="status" data-testid="backfill-created">
          Backfill {create.data.id} created: {create.data.counts.created + create.data.counts.cleared} runs.
        </p>
      )}
    </section>
  );
}

/** The Backfills tab of a DAG. */
export function Backfills() {
  const dagId = useDagId();
  const backfills = useBackfills(dagId);
  const list = backfills.data?.backfills ?? [];
  const runs = useBackfillRuns(dagId, list.some((b) => b.state === 'running'));
  return (
    <div className="backfills" data-testid="backfills-page">
      <div className="panel-head">
        <h2>Backfills</h2>
        <Link to={`/dags/${encodeURIComponent(dagId)}`} className="small">
          back to the grid
        </Link>
      </div>
      <ErrorBox error={backfills.error ?? runs.error} />
      {backfills.isSuccess && list.length === 0 && (
        <p className="muted" data-testid="no-backfills">
          No backfill yet.
        </p>
      )}
      {list.length > 0 && (
        <table className="table" data-testid="backfills-table">
          <thead>
            <tr>
              <th>Id</th>
              <th>Logical dates</th>
              <th>Reprocess</th>
              <th>State</th>
              <th>Progress</th>
              <th>Created</th>
              <th>Completed</th>
            </tr>
          </thead>
          <tbody>
            {[...list].reverse().map((b) => (
              <BackfillRow key={b.id} b={b} runs={runs.data ?? []} />
            ))}
          </tbody>
        </table>
      )}
      <CreateBackfill dagId={dagId} />
    </div>
  );
}
