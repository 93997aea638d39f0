import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { ClearButton } from '../components/clear-dialog.tsx';
import { NoteEditor, RunMarkButtons } from '../components/mark-dialog.tsx';
import { ErrorBox } from '../components/error-box.tsx';
import { PipelineContextView } from '../components/pipeline-context.tsx';
import { StateBadge } from '../components/state-badge.tsx';
import { tiPath, useDagId, useViewBase } from '../dag-view.ts';
import { durationBetween, formatDate, formatDuration, json } from '../format.ts';
import { useDagVersions, useRun, useTaskInstances } from '../queries.ts';
import { codePath, versionLabel } from '../versions.ts';
import { GanttChart } from './gantt-panel.tsx';
import { UpstreamAssetEvents } from '../components/upstream-asset-events.tsx';

type RunTab = 'details' | 'gantt';
const RUN_TABS: readonly { id: RunTab; label: string }[] = [
  { id: 'details', label: 'Details' },
  { id: 'gantt', label: 'Gantt' },
];

/** A run: its state, dates, conf and note, its task instances, its pipeline context; or its Gantt chart. */
export function RunDetails() {
  const dagId = useDagId();
  const base = useViewBase();
  const runId = useParams()['runId'] ?? '';
  const run = useRun(dagId, runId);
  const tis = useTaskInstances(dagId, runId, run.data?.state);
  const versions = useDagVersions(dagId).data?.dag_versions;
  const [tab, setTab] = useState<RunTab>('details');
  if (run.error) return <ErrorBox error={run.error} />;
  const r = run.data;
  if (r === undefined) return <p className="muted">Loading…</p>;
  const failed = (tis.data?.task_instances ?? []).filter((ti) => ti.state === 'failed' || ti.state === 'upstream_failed');
  return (
    <div className="panel" data-testid="run-details" data-run-id={r.dag_run_id} data-state={r.state}>
      <div className="panel-head">
        <h2>Run</h2>
        <Link to={base} className="close" aria-label="close">
          ×
        </Link>
      </div>
      <div className="tabs" role="tablist" aria-label="run views">
        {RUN_TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`run-tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`run-tabpanel-${t.id}`}
            className={tab === t.id ? 'active' : ''}
            onClick={() => setTab(t.id)}
            data-testid={`run-tab-${t.id}`}
          >
            {t.label}
          </button>
        ))}
      </div>
      {tab === 'gantt' ? (
        <div role="tabpanel" id="run-tabpanel-gantt" aria-labelledby="run-tab-gantt">
          <GanttChart dagId={dagId} runId={r.dag_run_id} runState={r.state} base={base} />
        </div>
      ) : (
        <div role="tabpanel" id="run-tabpanel-details" aria-labelledby="run-tab-details">
          <dl className="facts">
            <dt>Run id</dt>
            <dd className="mono" data-testid="run-id">{r.dag_run_id}</dd>
            <dt>State</dt>
            <dd>
              <StateBadge state={r.state} testId="run-state" />
            </dd>
            <dt>Run type</dt>
            <dd>{r.run_type}</dd>
            <dt>Logical date</dt>
            <dd>{formatDate(r.logical_date)}</dd>
            <dt>Queued / started / ended</dt>
            <dd>
              {formatDate(r.queued_at)} / {formatDate(r.start_date)} / {formatDate(r.end_date)}
            </dd>
            <dt>Duration</dt>
            <dd>{formatDuration(durationBetween(r.start_date, r.end_date))}</dd>
            <dt>Version</dt>
            <dd data-testid="run-version" data-version={r.dag_version}>
              <Link to={codePath(dagId, r.dag_version)} data-testid="run-version-link" title={r.dag_version}>
                {versionLabel(r.dag_version, versions)}
              </Link>
              {versions?.find((v) => v.version === r.dag_version)?.is_current === false && <span className="muted small"> (not the current version)</span>}
            </dd>
            {r.triggered_by_parent && (
              <>
                <dt>Triggered by</dt>
                <dd>
                  <Link to={`/dags/${encodeURIComponent(r.triggered_by_parent.dag_id)}/runs/${encodeURIComponent(r.triggered_by_parent.dag_run_id)}`}>
                    {r.triggered_by_parent.dag_id}.{r.triggered_by_parent.task_id}
                  </Link>
                </dd>
              </>
            )}
            <dt>Note</dt>
            <dd data-testid="run-note">
              <NoteEditor key={r.dag_run_id} dagId={dagId} runId={r.dag_run_id} note={r.note !== '' ? r.note : null} />
            </dd>
          </dl>
          {r.run_type === 'asset_triggered' && <UpstreamAssetEvents dagId={dagId} runId={r.dag_run_id} />}
          <h3>Conf</h3>
          <pre className="json" data-testid="run-conf">{json(r.conf)}</pre>
          {failed.length > 0 && <ClearButton dagId={dagId} runId={r.dag_run_id} label="Clear failed tasks" onlyFailedDefault />}
          <RunMarkButtons dagId={dagId} runId={r.dag_run_id} state={r.state} />
          <h3>Task instances</h3>
          <ErrorBox error={tis.error} />
          <table className="table compact" data-testid="run-task-instances">
            <thead>
              <tr>
                <th>Task</th>
                <th>State</th>
                <th>Try</th>
                <th>Duration</th>
              </tr>
            </thead>
            <tbody>
              {tis.data?.task_instances.map((ti) => (
                <tr key={`${ti.task_id}[${ti.map_index}]`}>
                  <td>
                    <Link to={tiPath(base, r.dag_run_id, ti.task_id, ti.map_index)}>
                      {ti.task_id}
                      {ti.map_index >= 0 ? `[${ti.map_index}]` : ''}
                    </Link>
                  </td>
                  <td>
                    <StateBadge state={ti.state} />
                  </td>
                  <td>{ti.try_number}</td>
                  <td>{formatDuration(ti.duration)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <PipelineContextView dagId={dagId} runId={r.dag_run_id} runState={r.state} />
        </div>
      )}
    </div>
  );
}
