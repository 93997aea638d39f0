import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { call, client } from '../api.ts';
import { formatDate, json } from '../format.ts';
import { isLive, LIVE_REFRESH_MS } from '../states.ts';
import { ErrorBox } from './error-box.tsx';

/** The run's pipeline context: every stage's save in its scope, in order, with the data saved. */
export function PipelineContextView({ dagId, runId, runState }: { dagId: string; runId: string; runState: string | null }) {
  const context = useQuery({
    // The run's state in the key: one more fetch when it ends (the last refresh may predate the last save).
    queryKey: ['pipelineContext', dagId, runId, runState],
    queryFn: () =>
      call(
        client.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/pipelineContext', {
          params: { path: { dag_id: dagId, dag_run_id: runId } },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: isLive(runState) ? LIVE_REFRESH_MS : false,
  });
  return (
    <div data-testid="pipeline-context">
      <h3>Pipeline context</h3>
      <ErrorBox error={context.error} />
      {context.data && (
        <>
          <div className="muted small">
            scope <span className="mono">{context.data.scope}</span>
          </div>
          {context.data.saves.length === 0 && <p className="muted">Nothing saved yet.</p>}
          <ol className="stages">
            {context.data.saves.map((s, i) => (
              <li key={i} data-testid="pipeline-stage" data-stage={s.stage}>
                <div>
                  <strong>{s.stage}</strong>{' '}
                  <span className="muted small">
                    {s.dag_id}.{s.task_id} · {formatDate(s.saved_at)}
                  </span>
                </div>
                <pre className="json" tabIndex={0}>
                  {json(s.data)}
                </pre>
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}
