/**
 * The queries the pages share, with their keys in one place so a mutation (trigger, clear, pause) can
 * invalidate what it changed. Run and task-instance queries refresh every ~2 s while a shown run is live.
 */
import { keepPreviousData, useQueries, useQuery } from '@tanstack/react-query';
import { call, client, type DagRun, type ResponseOf, type TaskInstance } from './api.ts';
import { isLive, LIVE_REFRESH_MS } from './states.ts';

/** A backfill as the API gives it. */
export type Backfill = ResponseOf<'/api/v2/backfills', 'get'>['backfills'][number];

/** The DAG list's query of a DAG's latest runs: the same key and refresh as `useRuns(dagId, limit)`, so they share it. */
function recentRunsQuery(dagId: string, limit: number) {
  return {
    queryKey: [...keys.runs(dagId), limit],
    queryFn: () => call(client.GET('/api/v2/dags/{dag_id}/dagRuns', { params: { path: { dag_id: dagId }, query: { limit } } })),
    refetchInterval: (q: { state: { data?: { dag_runs: DagRun[] } | undefined } }) =>
      q.state.data?.dag_runs.some((r: DagRun) => isLive(r.state)) === true ? LIVE_REFRESH_MS : false,
  };
}

/** The latest runs (newest first) of each of several DAGs, in their order. */
export function useRecentRunsOf(dagIds: readonly string[], limit = 10) {
  return useQueries({ queries: dagIds.map((id) => recentRunsQuery(id, limit)) });
}

/** A DAG's backfills; refreshed while one is running. */
export function useBackfills(dagId: string) {
  return useQuery({
    queryKey: backfillKeys.list(dagId),
    queryFn: () => call(client.GET('/api/v2/backfills', { params: { query: { dag_id: dagId, limit: 1000 } } })),
    refetchInterval: (q) => (q.state.data?.backfills.some((b: Backfill) => b.state === 'running') === true ? LIVE_REFRESH_MS : false),
  });
}

/** The DAG's runs of its backfills (the newest 1000 runs, filtered), refreshed while one of them is live. */
export function useBackfillRuns(dagId: string, live: boolean) {
  return useQuery({
    queryKey: backfillKeys.runs(dagId),
    queryFn: async () => {
      const page = await call(client.GET('/api/v2/dags/{dag_id}/dagRuns', { params: { path: { dag_id: dagId }, query: { limit: 1000 } } }));
      return page.dag_runs.filter((r) => r.backfill_id !== null && r.backfill_id !== undefined);
    },
    refetchInterval: (q) => (live || q.state.data?.some((r) => isLive(r.state)) === true ? LIVE_REFRESH_MS : false),
  });
}

export const backfillKeys = {
  list: (dagId: string) => ['backfills', dagId] as const,
  runs: (dagId: string) => ['backfills', dagId, 'runs'] as const,
};

export const keys = {
  dags: ['dags'] as const,
  dag: (dagId: string) => ['dag', dagId] as const,
  tasks: (dagId: string) => ['tasks', dagId] as const,
  runs: (dagId: string) => ['runs', dagId] as const,
  run: (dagId: string, runId: string) => ['runs', dagId, runId] as const,
  tis: (dagId: string, runId: string) => ['tis', dagId, runId] as const,
  importErrors: ['importErrors'] as const,
  versions: (dagId: string) => ['versions', dagId] as const,
  version: (dagId: string, version: string) => ['versions', dagId, version] as const,
  source: (dagId: string, version: string, path: string) => ['versions', dagId, version, 'source', path] as const,
};

export function useDags() {
  return useQuery({
    queryKey: keys.dags,
    queryFn: () => call(client.GET('/api/v2/dags', { params: { query: { limit: 1000 } } })),
  });
}

export function useDag(dagId: string) {
  return useQuery({
    queryKey: keys.dag(dagId),
    queryFn: () => call(client.GET('/api/v2/dags/{dag_id}', { params: { path: { dag_id: dagId } } })),
  });
}

export function useTasks(dagId: string) {
  return useQuery({
    queryKey: keys.tasks(dagId),
    queryFn: () => call(client.GET('/api/v2/dags/{dag_id}/tasks', { params: { path: { dag_id: dagId } } })),
  });
}

/** The DAG's latest runs, newest first; refreshed while one of them is live. */
export function useRuns(dagId: string, limit = 25) {
  return useQuery({
    queryKey: [...keys.runs(dagId), limit],
    queryFn: () => call(client.GET('/api/v2/dags/{dag_id}/dagRuns', { params: { path: { dag_id: dagId }, query: { limit } } })),
    refetchInterval: (q) => (q.state.data?.dag_runs.some((r: DagRun) => isLive(r.state)) === true ? LIVE_REFRESH_MS : false),
  });
}

export function useRun(dagId: string, runId: string) {
  return useQuery({
    queryKey: keys.run(dagId, runId),
    queryFn: () =>
      call(client.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path: { dag_id: dagId, dag_run_id: runId } } })),
    refetchInterval: (q) => (isLive(q.state.data?.state) ? LIVE_REFRESH_MS : false),
  });
}

/** Every task instance of a run (mapped ones by index); refreshed while the run or any instance is live. */
export function taskInstancesQuery(dagId: string, runId: string, runState: string | null | undefined) {
  return {
    // The run's state is part of the key: when the run ends, its instances are fetched once more (the
    // last refresh may predate the end), then no more.
    queryKey: [...keys.tis(dagId, runId), runState ?? null],
    queryFn: () =>
      call(
        client.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances', {
          params: { path: { dag_id: dagId, dag_run_id: runId } },
        }),
      ),
    enabled: runId !== '',
    placeholderData: keepPreviousData,
    refetchInterval: (q: { state: { data?: { task_instances: TaskInstance[] } | undefined } }) =>
      isLive(runState) || q.state.data?.task_instances.some((ti) => isLive(ti.state)) === true ? LIVE_REFRESH_MS : false,
  };
}

export function useTaskInstances(dagId: string, runId: string, runState: string | null | undefined) {
  return useQuery(taskInstancesQuery(dagId, runId, runState));
}

export function useImportErrors() {
  return useQuery({
    queryKey: keys.importErrors,
    queryFn: () => call(client.GET('/api/v2/importErrors')),
  });
}

/** The DAG's versions, oldest first (a new one appears when the DAG file changes: refreshed with the runs). */
export function useDagVersions(dagId: string) {
  return useQuery({
    queryKey: keys.versions(dagId),
    queryFn: () => call(client.GET('/api/v2/dags/{dag_id}/dagVersions', { params: { path: { dag_id: dagId } } })),
  });
}

/** One version with its code's files (null when the code is not available); '' fetches nothing. */
export function useDagVersion(dagId: string, version: string) {
  return useQuery({
    queryKey: keys.version(dagId, version),
    queryFn: () => call(client.GET('/api/v2/dags/{dag_id}/dagVersions/{version}', { params: { path: { dag_id: dagId, version } } })),
    enabled: version !== '',
  });
}

function sourceQuery(dagId: string, version: string, path: string) {
  return {
    queryKey: keys.source(dagId, version, path),
    queryFn: () => call(client.GET('/api/v2/dags/{dag_id}/dagVersions/{version}/source', { params: { path: { dag_id: dagId, version }, query: { path } } })),
    enabled: version !== '' && path !== '',
    // A version's code never changes.
    staleTime: Infinity,
  };
}

/** One file of a version's code; '' for either fetches nothing. */
export function useVersionSource(dagId: string, version: string, path: string) {
  return useQuery(sourceQuery(dagId, version, path));
}

/** Several files, each of one version ('' version or path: not fetched). */
export function useVersionSources(dagId: string, files: readonly { version: string; path: string }[]) {
  return useQueries({ queries: files.map((f) => sourceQuery(dagId, f.version, f.path)) });
}

/** Which runs of a DAG: a page (newest first) and the filters, as the grid and the duration chart ask. */
export interface RunsPageQuery {
  limit: number;
  offset: number;
  /** Only runs in this state ('' for any). */
  state: string;
  /** Only runs of this type ('' for any). */
  runType: string;
}

/**
 * One page of a DAG's runs, newest first, filtered by state and run type; the previous page stays shown
 * while the next loads, and the page refreshes while one of its runs is live.
 */
export function useRunsPage(dagId: string, q: RunsPageQuery) {
  return useQuery({
    queryKey: [...keys.runs(dagId), 'page', q.limit, q.offset, q.state, q.runType],
    queryFn: () =>
      call(
        client.GET('/api/v2/dags/{dag_id}/dagRuns', {
          params: {
            path: { dag_id: dagId },
            query: {
              limit: q.limit,
              offset: q.offset,
              ...(q.state === '' ? {} : { state: [q.state as DagRun['state']] }),
              ...(q.runType === '' ? {} : { run_type: [q.runType as DagRun['run_type']] }),
            },
          },
        }),
      ),
    // The page before stays shown while the next loads (not another DAG's).
    placeholderData: (previous, previousQuery) => (previousQuery?.queryKey[1] === dagId ? previous : undefined),
    refetchInterval: (query) => (query.state.data?.dag_runs.some((r: DagRun) => isLive(r.state)) === true ? LIVE_REFRESH_MS : false),
  });
}
