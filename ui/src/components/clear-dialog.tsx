import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { call, client } from '../api.ts';
import { keys } from '../queries.ts';
import { ErrorBox } from './error-box.tsx';
import { StateBadge } from './state-badge.tsx';

interface ClearProps {
  dagId: string;
  runId: string;
  /** The task to clear; absent: every task of the run (with only-failed, its failed ones). */
  taskId?: string;
  /** The map index of the instance to clear; absent or -1: every index of the task. */
  mapIndex?: number;
  label: string;
  /** Whether "only failed" starts ticked. Default false. */
  onlyFailedDefault?: boolean;
}

/**
 * "Clear" as Airflow's: options (only failed, downstream, run on the latest version), a dry run listing what would be cleared, then
 * confirm. Cleared instances run again with the next try number.
 */
export function ClearButton({ dagId, runId, taskId, mapIndex, label, onlyFailedDefault = false }: ClearProps) {
  const [open, setOpen] = useState(false);
  const [onlyFailed, setOnlyFailed] = useState(onlyFailedDefault);
  const [downstream, setDownstream] = useState(false);
  const [latestVersion, setLatestVersion] = useState(false);
  const queryClient = useQueryClient();
  const body = {
    dag_run_id: runId,
    only_failed: onlyFailed,
    include_downstream: downstream,
    run_on_latest_version: latestVersion,
    ...(taskId === undefined ? {} : { task_ids: [taskId] }),
    ...(mapIndex === undefined || mapIndex < 0 ? {} : { map_indexes: [mapIndex] }),
  };
  const clear = (dryRun: boolean) =>
    call(client.POST('/api/v2/dags/{dag_id}/clearTaskInstances', { params: { path: { dag_id: dagId } }, body: { ...body, dry_run: dryRun } }));
  const preview = useQuery({
    queryKey: ['clearDryRun', dagId, body],
    queryFn: () => clear(true),
    enabled: open,
    staleTime: 0,
    gcTime: 0,
  });
  const confirm = useMutation({
    mutationFn: () => clear(false),
    onSuccess: async () => {
      setOpen(false);
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: keys.runs(dagId) }),
        queryClient.invalidateQueries({ queryKey: keys.tis(dagId, runId) }),
        queryClient.invalidateQueries({ queryKey: ['ti', dagId, runId] }),
      ]);
    },
  });
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)} data-testid="clear-button">
        ↻ {label}
      </button>
    );
  }
  const list = preview.data?.task_instances ?? [];
  return (
    <div className="dialog" role="dialog" aria-label="Clear task instances" data-testid="clear-dialog">
      <h3>{label}</h3>
      <div className="options">
        <label>
          <input type="checkbox" checked={onlyFailed} onChange={(e) => setOnlyFailed(e.target.checked)} data-testid="clear-only-failed" /> Only failed
        </label>
        <label>
          <input type="checkbox" checked={downstream} onChange={(e) => setDownstream(e.target.checked)} data-testid="clear-downstream" /> Downstream
        </label>
        <label title="Rerun the cleared tasks on the DAG's latest version (the run's version becomes it); otherwise on the run's own version">
          <input type="checkbox" checked={latestVersion} onChange={(e) => setLatestVersion(e.target.checked)} data-testid="clear-latest-version" /> Run on latest version
        </label>
      </div>
      <ErrorBox error={preview.error ?? confirm.error} />
      {preview.isFetching && <p className="muted">Checking…</p>}
      {preview.data && (
        <>
          <p>{list.length === 0 ? 'Nothing would be cleared.' : `${list.length} task instance${list.length === 1 ? '' : 's'} will be cleared:`}</p>
          <ul className="clear-list" data-testid="clear-preview">
            {list.map((ti) => (
              <li key={`${ti.task_id}[${ti.map_index}]`} data-task-id={ti.task_id}>
                <span className="mono">
                  {ti.task_id}
                  {ti.map_index >= 0 ? `[${ti.map_index}]` : ''}
                </span>{' '}
                <StateBadge state={ti.state} /> <span className="muted small">try {ti.try_number} → {ti.next_try}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      <div className="buttons">
        <button
          type="button"
          className="primary"
          disabled={preview.data === undefined || list.length === 0 || confirm.isPending}
          onClick={() => confirm.mutate()}
          data-testid="clear-confirm"
        >
          Confirm
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </div>
  );
}
