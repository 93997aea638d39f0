/**
 * The human-in-the-loop requests as the UI reads and answers them (Airflow 3.1's `hitlDetails` routes):
 * the requests of every DAG (pending or answered), one task instance's, and the answer.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { call, client, type ResponseOf } from './api.ts';
import { LIVE_REFRESH_MS } from './states.ts';

export type HitlDetail = ResponseOf<'/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/hitlDetails', 'get'>['hitl_details'][number];

/** The operators whose tasks ask a person (lib/authoring/hitl.ts). */
export const HITL_OPERATORS: ReadonlySet<string> = new Set(['approval', 'hitlChoice', 'hitlForm']);

/** How often the pending count in the top bar is fetched again, ms. */
const COUNT_REFRESH_MS = 10_000;

export const hitlKeys = {
  all: ['hitl'] as const,
  list: (state: 'pending' | 'responded') => ['hitl', 'list', state] as const,
  count: ['hitl', 'count'] as const,
  ti: (dagId: string, runId: string, taskId: string, mapIndex: number) => ['hitl', 'ti', dagId, runId, taskId, mapIndex] as const,
};

/** The requests of every DAG and run, newest first: those waiting for an answer, or those answered. */
export function useHitlRequests(state: 'pending' | 'responded') {
  return useQuery({
    queryKey: hitlKeys.list(state),
    queryFn: () =>
      call(
        client.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/hitlDetails', {
          params: { path: { dag_id: '~', dag_run_id: '~' }, query: { state, limit: 100 } },
        }),
      ),
    refetchInterval: LIVE_REFRESH_MS,
  });
}

/** How many requests wait for an answer (for the top bar). */
export function usePendingHitlCount() {
  return useQuery({
    queryKey: hitlKeys.count,
    queryFn: async () =>
      (
        await call(
          client.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/hitlDetails', {
            params: { path: { dag_id: '~', dag_run_id: '~' }, query: { state: 'pending', limit: 1 } },
          }),
        )
      ).total_entries,
    refetchInterval: COUNT_REFRESH_MS,
  });
}

/** The request of a task instance's latest try (`enabled`: only for a task that asks a person). */
export function useTiHitl(dagId: string, runId: string, taskId: string, mapIndex: number, enabled: boolean, live: boolean) {
  return useQuery({
    queryKey: hitlKeys.ti(dagId, runId, taskId, mapIndex),
    queryFn: () =>
      call(
        client.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails', {
          params: { path: { dag_id: dagId, dag_run_id: runId, task_id: taskId, map_index: mapIndex } },
        }),
      ),
    enabled,
    retry: false,
    refetchInterval: live ? LIVE_REFRESH_MS : false,
  });
}

/** Answer a request: the options chosen and a form's values. Everything about requests and instances is fetched again. */
export function useAnswerHitl(detail: HitlDetail) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: { chosen_options: string[]; params_input?: Record<string, unknown> }) =>
      call(
        client.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails', {
          params: { path: { dag_id: detail.dag_id, dag_run_id: detail.dag_run_id, task_id: detail.task_id, map_index: detail.map_index } },
          body,
        }),
      ),
    onSettled: async () => {
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: hitlKeys.all }),
        queryClient.invalidateQueries({ queryKey: ['ti', detail.dag_id, detail.dag_run_id] }),
        queryClient.invalidateQueries({ queryKey: ['tis', detail.dag_id, detail.dag_run_id] }),
        queryClient.invalidateQueries({ queryKey: ['runs', detail.dag_id] }),
      ]);
    },
  });
}
