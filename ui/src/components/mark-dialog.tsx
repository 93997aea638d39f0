import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { call, client } from '../api.ts';
import { keys } from '../queries.ts';
import { ErrorBox } from './error-box.tsx';
import { StateBadge } from './state-badge.tsx';

/** Refetch what a mark or a note changes: the runs, the run's instances, the instance panels. */
function useRefresh(dagId: string, runId: string) {
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: keys.runs(dagId) }),
      queryClient.invalidateQueries({ queryKey: keys.tis(dagId, runId) }),
      queryClient.invalidateQueries({ queryKey: ['ti', dagId, runId] }),
    ]);
}

type RunMark = 'success' | 'failed' | 'queued';

/**
 * A run's "Mark as" buttons (Airflow's): success, failed (on a queued or running run: "Stop run", whose
 * running tries are aborted), each confirmed in a dialog that says what happens.
 */
export function RunMarkButtons({ dagId, runId, state }: { dagId: string; runId: string; state: string }) {
  const [asked, setAsked] = useState<RunMark | null>(null);
  const refresh = useRefresh(dagId, runId);
  const mark = useMutation({
    mutationFn: (to: RunMark) => call(client.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path: { dag_id: dagId, dag_run_id: runId } }, body: { state: to } })),
    onSuccess: async () => {
      setAsked(null);
      await refresh();
    },
  });
  const active = state === 'running' || state === 'queued';
  const what: Record<RunMark, string> = {
    failed: active ? 'The run fails now: its running tries are aborted and fail, everything not finished is skipped.' : 'The run is marked failed; its task instances stay as they are.',
    success: active ? 'The run succeeds now: its running tries are aborted, every unfinished task instance is marked success.' : 'The run is marked success; its task instances stay as they are.',
    queued: 'The run is queued again and ends again by its task instances (nothing is cleared).',
  };
  return (
    <div className="mark-buttons" data-testid="run-mark">
      {state !== 'success' && (
        <button type="button" onClick={() => setAsked('success')} data-testid="run-mark-success">
          ✓ Mark success
        </button>
      )}
      {state !== 'failed' && (
        <button type="button" onClick={() => setAsked('failed')} data-testid="run-mark-failed">
          {active ? '■ Stop run' : '✗ Mark failed'}
        </button>
      )}
      {asked !== null && (
        <div className="dialog" role="dialog" aria-label="Mark the run" data-testid="run-mark-dialog">
          <h3>{asked === 'failed' && active ? 'Stop this run?' : `Mark this run ${asked}?`}</h3>
          <p>{what[asked]}</p>
          <ErrorBox error={mark.error} />
          <div className="buttons">
            <button type="button" className="primary" disabled={mark.isPending} onClick={() => mark.mutate(asked)} data-testid="run-mark-confirm">
              Confirm
            </button>
            <button type="button" onClick={() => setAsked(null)}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

type TiMark = 'success' | 'failed' | 'skipped';

/**
 * "Mark as" on a task instance: the state, Airflow's options (upstream, downstream, past, future), a dry
 * run listing the instances that would change, then confirm.
 */
export function TiMarkButton({ dagId, runId, taskId, mapIndex }: { dagId: string; runId: string; taskId: string; mapIndex?: number }) {
  const [open, setOpen] = useState(false);
  const [to, setTo] = useState<TiMark>('success');
  const [opts, setOpts] = useState({ include_upstream: false, include_downstream: false, include_past: false, include_future: false });
  const refresh = useRefresh(dagId, runId);
  const path = { dag_id: dagId, dag_run_id: runId, task_id: taskId };
  const patch = (dryRun: boolean) => {
    const body = { new_state: to, ...opts, dry_run: dryRun };
    return mapIndex === undefined || mapIndex < 0
      ? call(client.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', { params: { path }, body }))
      : call(client.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}', { params: { path: { ...path, map_index: mapIndex } }, body }));
  };
  const preview = useQuery({ queryKey: ['markDryRun', dagId, runId, taskId, mapIndex, to, opts], queryFn: () => patch(true), enabled: open, staleTime: 0, gcTime: 0 });
  const confirm = useMutation({
    mutationFn: () => patch(false),
    onSuccess: async () => {
      setOpen(false);
      await refresh();
    },
  });
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)} data-testid="ti-mark-button">
        ✎ Mark as…
      </button>
    );
  }
  const list = preview.data?.task_instances ?? [];
  const option = (key: keyof typeof opts, label: string) => (
    <label>
      <input type="checkbox" checked={opts[key]} onChange={(e) => setOpts({ ...opts, [key]: e.target.checked })} data-testid={`ti-mark-${key}`} /> {label}
    </label>
  );
  return (
    <div className="dialog" role="dialog" aria-label="Mark task instances" data-testid="ti-mark-dialog">
      <h3>Mark as</h3>
      <div className="options">
        {(['success', 'failed', 'skipped'] as const).map((s) => (
          <label key={s}>
            <input type="radio" name="ti-mark-state" checked={to === s} onChange={() => setTo(s)} data-testid={`ti-mark-state-${s}`} /> {s}
          </label>
        ))}
      </div>
      <div className="options">
        {option('include_upstream', 'Upstream')}
        {option('include_downstream', 'Downstream')}
        {option('include_past', 'Past')}
        {option('include_future', 'Future')}
      </div>
      <ErrorBox error={preview.error ?? confirm.error} />
      {preview.isFetching && <p className="muted">Checking…</p>}
      {preview.data && (
        <>
          <p>{list.length === 0 ? 'Nothing would change.' : `${list.length} task instance${list.length === 1 ? '' : 's'} will be marked ${to}:`}</p>
          <ul className="clear-list" data-testid="ti-mark-preview">
            {list.map((ti) => (
              <li key={`${ti.dag_run_id}/${ti.task_id}[${ti.map_index}]`} data-task-id={ti.task_id}>
                <span className="mono">
                  {ti.dag_run_id !== runId ? `${ti.dag_run_id} · ` : ''}
                  {ti.task_id}
                  {ti.map_index >= 0 ? `[${ti.map_index}]` : ''}
                </span>{' '}
                <StateBadge state={ti.state} />
              </li>
            ))}
          </ul>
        </>
      )}
      <div className="buttons">
        <button type="button" className="primary" disabled={preview.data === undefined || list.length === 0 || confirm.isPending} onClick={() => confirm.mutate()} data-testid="ti-mark-confirm">
          Confirm
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </div>
  );
}

/** A note edit box: the note as it is, Edit, then Save (an empty note removes it). */
export function NoteEditor({ dagId, runId, taskId, mapIndex, note }: { dagId: string; runId: string; taskId?: string; mapIndex?: number; note: string | null }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(note ?? '');
  const refresh = useRefresh(dagId, runId);
  const save = useMutation({
    mutationFn: async () => {
      const body = { note: text.trim() === '' ? null : text.trim() };
      const runPath = { dag_id: dagId, dag_run_id: runId };
      if (taskId === undefined) return call(client.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path: runPath }, body }));
      if (mapIndex === undefined || mapIndex < 0) return call(client.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', { params: { path: { ...runPath, task_id: taskId } }, body }));
      return call(client.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}', { params: { path: { ...runPath, task_id: taskId, map_index: mapIndex } }, body }));
    },
    onSuccess: async () => {
      setEditing(false);
      await refresh();
    },
  });
  if (!editing) {
    return (
      <div className="note" data-testid="note">
        <span data-testid="note-text">{note ?? <span className="muted">No note</span>}</span>{' '}
        <button
          type="button"
          className="link-button"
          onClick={() => {
            setText(note ?? '');
            setEditing(true);
          }}
          data-testid="note-edit"
        >
          Edit
        </button>
      </div>
    );
  }
  return (
    <div className="note" data-testid="note">
      <textarea value={text} onChange={(e) => setText(e.target.value)} rows={3} maxLength={1000} aria-label="Note" data-testid="note-input" />
      <ErrorBox error={save.error} />
      <div className="buttons">
        <button type="button" className="primary" disabled={save.isPending} onClick={() => save.mutate()} data-testid="note-save">
          Save
        </button>
        <button type="button" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </div>
    </div>
  );
}
