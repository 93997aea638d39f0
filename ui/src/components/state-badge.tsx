import { stateColor } from '../states.ts';

/** A coloured square for a state (a run in the DAG list, a cell of the grid). */
export function StateSquare({ state, title, testId }: { state: string | null; title?: string; testId?: string }) {
  return (
    <span
      className={`state-square${state === null ? ' state-none' : ''}`}
      style={{ background: stateColor(state) }}
      title={title ?? state ?? 'no status'}
      data-state={state ?? 'none'}
      data-testid={testId}
    />
  );
}

/** A state written out on its colour. */
export function StateBadge({ state, testId }: { state: string | null; testId?: string }) {
  return (
    <span className="state-badge" data-state={state ?? 'none'} data-testid={testId}>
      <StateSquare state={state} />
      {state ?? 'no status'}
    </span>
  );
}
