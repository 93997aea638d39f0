import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { call, client, type TaskError } from '../api.ts';
import { ClearButton } from '../components/clear-dialog.tsx';
import { NoteEditor, TiMarkButton } from '../components/mark-dialog.tsx';
import { ErrorBox } from '../components/error-box.tsx';
import { logFileName, LogView } from '../components/log-view.tsx';
import { StateBadge } from '../components/state-badge.tsx';
import { errorText, isSkipReason, TaskErrorView } from '../components/task-error.tsx';
import { dagViewBase, runPath, useDagId, useViewBase } from '../dag-view.ts';
import { formatDate, formatDuration, json } from '../format.ts';
import { HitlRequest } from '../components/hitl-answer.tsx';
import { HITL_OPERATORS, useTiHitl } from '../hitl-api.ts';
import { useTasks } from '../queries.ts';
import { isLive, LIVE_REFRESH_MS } from '../states.ts';

/** The log of one try, fetched (again while the instance is live), searchable, filterable and downloadable. */
function TryLog({ path, tryNumber, live, state }: { path: { dag_id: string; dag_run_id: string; task_id: string }; tryNumber: number; live: boolean; state: string | null }) {
  const mapIndex = useParams()['mapIndex'] ?? '-1';
  const log = useQuery({
    // The instance's state in the key: fetched once more when it changes (the end of a try writes its last lines).
    queryKey: ['ti', path.dag_id, path.dag_run_id, path.task_id, mapIndex, 'log', tryNumber, state],
    queryFn: () =>
      call(
        client.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}', {
          params: { path: { ...path, try_number: tryNumber }, query: { map_index: Number(mapIndex) } },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: live ? LIVE_REFRESH_MS : false,
  });
  const fileName = logFileName([path.dag_id, path.dag_run_id, path.task_id, ...(Number(mapIndex) >= 0 ? [mapIndex] : []), `try-${tryNumber}`]);
  return (
    <>
      <ErrorBox error={log.error} />
      <LogView lines={log.data?.content} fileName={fileName} tryNumber={tryNumber} />
    </>
  );
}

/** A try's tab tooltip: when it ran, how long, and its error. */
function tryTitle(tr: { start_date: string | null; end_date: string | null; duration: number | null; error: TaskError | null }): string {
  const lines = [`${formatDate(tr.start_date)} / ${formatDate(tr.end_date)}`, formatDuration(tr.duration)];
  if (tr.error) lines.push(errorText(tr.error));
  return lines.join('\n');
}

/** A task instance: state, tries, duration, the log of each try, its XCom entries, and Clear. */
export function TaskInstanceDetails() {
  const dagId = useDagId();
  const base = useViewBase();
  const params = useParams();
  const runId = params['runId'] ?? '';
  const taskId = params['taskId'] ?? '';
  const mapIndex = Number(params['mapIndex'] ?? '-1');
  const path = { dag_id: dagId, dag_run_id: runId, task_id: taskId };
  const ti = useQuery({
    queryKey: ['ti', dagId, runId, taskId, String(mapIndex)],
    queryFn: () =>
      call(
        client.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}', {
          params: { path: { ...path, map_index: mapIndex } },
        }),
      ),
    refetchInterval: (q) => (q.state.data === undefined || isLive(q.state.data.state) ? LIVE_REFRESH_MS : false),
  });
  const live = isLive(ti.data?.state);
  const xcom = useQuery({
    queryKey: ['ti', dagId, runId, taskId, String(mapIndex), 'xcom', ti.data?.state ?? null],
    queryFn: () =>
      call(
        client.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries', {
          params: { path, query: { map_index: mapIndex } },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: live ? LIVE_REFRESH_MS : false,
  });
  // The try picked in the log tabs, for this instance only (the page stays mounted from one instance to the next).
  const tiKey = `${dagId}/${runId}/${taskId}/${mapIndex}`;
  const [picked, setPicked] = useState<{ tiKey: string; tryNumber: number } | null>(null);
  const chosenTry = picked !== null && picked.tiKey === tiKey ? picked.tryNumber : null;
  // A triggerDag task's external id is a run of the DAG it triggers: linked in the same view.
  const tasks = useTasks(dagId);
  const triggerDagId = tasks.data?.tasks.find((x) => x.task_id === taskId)?.trigger_dag_id ?? null;
  const graph = base !== dagViewBase(dagId, false);
  // A task that asks a person: its request and the answer form.
  const asks = ti.data !== undefined && HITL_OPERATORS.has(ti.data.operator_name);
  const hitl = useTiHitl(dagId, runId, taskId, mapIndex, asks, live);
  if (ti.error) return <ErrorBox error={ti.error} />;
  const t = ti.data;
  if (t === undefined) return <p className="muted">Loading…</p>;
  const tries = t.tries.length > 0 ? t.tries : t.try_number > 0 ? [{ try_number: t.try_number, state: t.state, start_date: t.start_date, end_date: t.end_date, duration: t.duration, error: t.error }] : [];
  const shownTry = chosenTry ?? tries.at(-1)?.try_number ?? null;
  // The error of the try whose log is shown, when it is an earlier one (the instance's own is shown above).
  const shownTryError = shownTry !== null && shownTry !== t.try_number ? (tries.find((tr) => tr.try_number === shownTry)?.error ?? null) : null;
  const label = `${taskId}${mapIndex >= 0 ? `[${mapIndex}]` : ''}`;
  return (
    <div className="panel" data-testid="ti-details" data-task-id={taskId} data-map-index={mapIndex} data-state={t.state ?? 'none'} data-try-number={t.try_number}>
      <div className="panel-head">
        <h2 className="mono">{label}</h2>
        <Link to={runPath(base, runId)} className="close" aria-label="back to the run">
          ×
        </Link>
      </div>
      <dl className="facts">
        <dt>State</dt>
        <dd>
          <StateBadge state={t.state} testId="ti-state" />
        </dd>
        <dt>Try</dt>
        <dd data-testid="ti-try-number">
          {t.try_number} of {t.max_tries}
        </dd>
        <dt>Operator</dt>
        <dd>{t.operator_name}</dd>
        <dt>Started / ended</dt>
        <dd>
          {formatDate(t.start_date)} / {formatDate(t.end_date)}
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(t.duration)}</dd>
        <dt>Run</dt>
        <dd className="mono">
          <Link to={runPath(base, runId)}>{runId}</Link>
        </dd>
        {t.external_id !== null && t.external_id !== undefined && triggerDagId !== null && (
          <>
            <dt>Triggered run</dt>
            <dd className="mono">
              <Link to={runPath(dagViewBase(triggerDagId, graph), t.external_id)} data-testid="ti-triggered-run" data-dag-id={triggerDagId}>
                {triggerDagId} / {t.external_id}
              </Link>
            </dd>
          </>
        )}
        {t.external_id !== null && t.external_id !== undefined && triggerDagId === null && (
          <>
            <dt>External id</dt>
            <dd className="mono">{t.external_id}</dd>
          </>
        )}
        {t.error !== null && (
          <>
            <dt>{isSkipReason(t.error) ? 'Skipped' : 'Error'}</dt>
            <dd>
              <TaskErrorView error={t.error} testId="ti-error" />
            </dd>
          </>
        )}
      </dl>
      {asks && hitl.data !== undefined && (
        <>
          <h3>Request</h3>
          <HitlRequest detail={hitl.data} />
        </>
      )}
      {!live && <ClearButton dagId={dagId} runId={runId} taskId={taskId} mapIndex={mapIndex} label="Clear task instance" />}
      <TiMarkButton dagId={dagId} runId={runId} taskId={taskId} mapIndex={mapIndex} />
      <h3>Notes</h3>
      {/* The API's note is the instance's last error as text when it has no note of its own. */}
      <NoteEditor key={tiKey} dagId={dagId} runId={runId} taskId={taskId} mapIndex={mapIndex} note={t.note !== null && (t.error === null || t.note !== errorText(t.error)) ? t.note : null} />
      <h3>Log</h3>
      <div className="tabs small" role="tablist" data-testid="ti-tries">
        {tries.map((tr) => (
          <button
            key={tr.try_number}
            type="button"
            role="tab"
            aria-selected={tr.try_number === shownTry}
            className={tr.try_number === shownTry ? 'active' : ''}
            onClick={() => setPicked({ tiKey, tryNumber: tr.try_number })}
            data-testid="ti-try"
            data-try-number={tr.try_number}
            data-state={tr.state ?? 'none'}
            title={tryTitle(tr)}
          >
            Try {tr.try_number} <StateBadge state={tr.state} />
          </button>
        ))}
      </div>
      {shownTryError !== null && (
        <div className="try-error">
          <span className="muted">Try {shownTry} ended with</span> <TaskErrorView error={shownTryError} testId="try-error" />
        </div>
      )}
      {shownTry === null ? <p className="muted">Not run yet.</p> : <TryLog path={path} tryNumber={shownTry} live={live} state={t.state} />}
      <h3>XCom</h3>
      <ErrorBox error={xcom.error} />
      {xcom.data?.total_entries === 0 && <p className="muted">No XCom.</p>}
      <table className="table compact" data-testid="ti-xcom">
        <tbody>
          {xcom.data?.xcom_entries.map((x) => (
            <tr key={`${x.key}[${x.map_index}]`} data-testid="xcom-entry" data-key={x.key}>
              <th className="mono">{x.key}</th>
              <td>
                <pre className="json" tabIndex={0}>
                  {json(x.value)}
                </pre>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
