/**
 * The "Requests" page: the human-in-the-loop requests of every DAG, those waiting for an answer (each with
 * its answer form) and those answered; and the count of pending ones beside its link in the top bar.
 */
import { useState } from 'react';
import { Link } from 'react-router';
import { ErrorBox } from '../components/error-box.tsx';
import { HitlRequest } from '../components/hitl-answer.tsx';
import { dagViewBase, tiPath } from '../dag-view.ts';
import { useHitlRequests, usePendingHitlCount } from '../hitl-api.ts';

/** The number of pending requests, beside the nav link (nothing when there are none). */
export function PendingHitlCount() {
  const count = usePendingHitlCount();
  const n = count.data ?? 0;
  if (n === 0) return null;
  return (
    <span className="count-badge" aria-label={`${n} pending`} data-testid="nav-requests-count">
      {n}
    </span>
  );
}

export function HitlRequests() {
  const [state, setState] = useState<'pending' | 'responded'>('pending');
  const list = useHitlRequests(state);
  const details = list.data?.hitl_details ?? [];
  return (
    <div data-testid="hitl-page">
      <h1>Requests</h1>
      <div className="tabs" role="tablist" aria-label="Requests">
        {(['pending', 'responded'] as const).map((s) => (
          <button key={s} type="button" role="tab" aria-selected={state === s} className={state === s ? 'active' : ''} onClick={() => setState(s)} data-testid={`hitl-tab-${s}`}>
            {s === 'pending' ? 'Waiting for an answer' : 'Answered'}
          </button>
        ))}
      </div>
      <ErrorBox error={list.error} />
      {list.data !== undefined && details.length === 0 && (
        <p className="muted" data-testid="hitl-none">
          {state === 'pending' ? 'No request is waiting for an answer.' : 'No request has been answered yet.'}
        </p>
      )}
      {list.data !== undefined && list.data.total_entries > details.length && (
        <p className="muted small">
          The newest {details.length} of {list.data.total_entries}.
        </p>
      )}
      <div className="hitl-list">
        {details.map((d) => (
          <div key={`${d.dag_id}/${d.dag_run_id}/${d.task_id}/${d.map_index}/${d.try_number}`} className="hitl-item">
            <HitlRequest detail={d} showTask />
            <Link to={tiPath(dagViewBase(d.dag_id, false), d.dag_run_id, d.task_id, d.map_index)} className="small" data-testid="hitl-ti-link">
              Task instance
            </Link>
          </div>
        ))}
      </div>
    </div>
  );
}
