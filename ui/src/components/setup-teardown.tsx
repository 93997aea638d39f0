import type { Dag, Task } from '../api.ts';

/** Airflow's arrows: ↗ a setup task, ↘ a teardown task; null for any other task. */
export function setupTeardownArrow(task: Pick<Task, 'is_setup' | 'is_teardown'>): string | null {
  if (task.is_setup) return '↗';
  if (task.is_teardown) return '↘';
  return null;
}

function kindOf(task: Pick<Task, 'is_setup' | 'is_teardown'>): 'setup' | 'teardown' | null {
  return task.is_setup ? 'setup' : task.is_teardown ? 'teardown' : null;
}

/** The arrow of a setup or teardown task, in HTML (the grid's rows); nothing for another task. */
export function SetupTeardownMarker({ task }: { task: Pick<Task, 'task_id' | 'is_setup' | 'is_teardown'> }) {
  const kind = kindOf(task);
  if (kind === null) return null;
  return (
    <span className="setup-teardown-marker" data-testid="setup-teardown-marker" data-kind={kind} title={`${kind} task`} role="img" aria-label={`${kind} task`}>
      {setupTeardownArrow(task)}
    </span>
  );
}

/** The same arrow inside an SVG `<text>` (the graph's nodes). */
export function SetupTeardownTspan({ task }: { task: Pick<Task, 'is_setup' | 'is_teardown'> }) {
  const kind = kindOf(task);
  if (kind === null) return null;
  return (
    <tspan className="setup-teardown-marker" data-testid="setup-teardown-marker" data-kind={kind}>
      {` ${setupTeardownArrow(task)}`}
    </tspan>
  );
}

/** A tag saying why airless paused the DAG (e.g. "auto-paused after 3 consecutive failed runs"); nothing otherwise. */
export function PausedReasonTag({ dag }: { dag: Pick<Dag, 'dag_id' | 'paused_reason'> }) {
  if (!dag.paused_reason) return null;
  return (
    <span className="tag paused-reason-tag" data-testid={`dag-paused-reason-${dag.dag_id}`} title="Unpause the DAG to clear it">
      {dag.paused_reason}
    </span>
  );
}
