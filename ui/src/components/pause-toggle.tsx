import { useMutation, useQueryClient } from '@tanstack/react-query';
import { call, client } from '../api.ts';
import { keys } from '../queries.ts';
import { ErrorBox } from './error-box.tsx';

/** The on/off switch of a DAG (on = not paused), as Airflow's. */
export function PauseToggle({ dagId, isPaused }: { dagId: string; isPaused: boolean }) {
  const queryClient = useQueryClient();
  const mutation = useMutation({
    mutationFn: (paused: boolean) =>
      call(client.PATCH('/api/v2/dags/{dag_id}', { params: { path: { dag_id: dagId } }, body: { is_paused: paused } })),
    onSuccess: async () => {
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: keys.dags }),
        queryClient.invalidateQueries({ queryKey: keys.dag(dagId) }),
      ]);
    },
  });
  return (
    <>
      <label className="switch" title={isPaused ? 'Paused: click to unpause' : 'Active: click to pause'}>
        <input
          type="checkbox"
          role="switch"
          aria-label={`${dagId} active`}
          checked={!isPaused}
          disabled={mutation.isPending}
          onChange={(e) => mutation.mutate(!e.target.checked)}
          data-testid={`pause-toggle-${dagId}`}
        />
        <span className="slider" />
      </label>
      <ErrorBox error={mutation.error} />
    </>
  );
}
