/**
 * The typed API client of the UI: openapi-fetch over the generated `paths` of the served OpenAPI document
 * (lib/api/openapi-types.ts), with the bearer token of the session. Every call goes through `call()`, which
 * throws an `ApiError` carrying the status, the message and the field the server named; a 401 forgets the
 * token, which brings back the token prompt.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from '../../lib/api/openapi-types.ts';
import { getToken, setToken } from './token.ts';

/** An error response of the API: `{ detail, field }`, with its HTTP status. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly detail: string,
    /** The request field the server blamed, e.g. `body.conf.nchan`; null when none. */
    readonly field: string | null,
  ) {
    super(`${status}: ${detail}`);
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = getToken();
    if (token !== null) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) setToken(null);
    return response;
  },
};

export const client = createClient<paths>({ baseUrl: window.location.origin });
client.use(auth);

/** The JSON body of a 200 response of `path` for `method`. */
export type ResponseOf<P extends keyof paths, M extends 'get' | 'post' | 'patch'> = paths[P] extends {
  [K in M]: { responses: { 200: { content: { 'application/json': infer T } } } };
}
  ? T
  : never;

export type DagList = ResponseOf<'/api/v2/dags', 'get'>;
export type Dag = DagList['dags'][number];
export type DagDetails = ResponseOf<'/api/v2/dags/{dag_id}', 'get'>;
export type Task = ResponseOf<'/api/v2/dags/{dag_id}/tasks', 'get'>['tasks'][number];
export type DagRun = ResponseOf<'/api/v2/dags/{dag_id}/dagRuns', 'get'>['dag_runs'][number];
export type TaskInstance = ResponseOf<'/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances', 'get'>['task_instances'][number];
export type TaskInstanceDetails = ResponseOf<'/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}', 'get'>;
/** How a try ended when not in success: its error, or why it was skipped (name `SkipTask`). */
export type TaskError = NonNullable<TaskInstanceDetails['error']>;
export type LogLine = ResponseOf<'/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}', 'get'>['content'][number];
export type XcomEntry = ResponseOf<'/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries', 'get'>['xcom_entries'][number];
export type ClearResult = ResponseOf<'/api/v2/dags/{dag_id}/clearTaskInstances', 'post'>;
export type ImportError = ResponseOf<'/api/v2/importErrors', 'get'>['import_errors'][number];
export type DagVersion = ResponseOf<'/api/v2/dags/{dag_id}/dagVersions', 'get'>['dag_versions'][number];
export type DagVersionDetail = ResponseOf<'/api/v2/dags/{dag_id}/dagVersions/{version}', 'get'>;
export type VersionFile = NonNullable<DagVersionDetail['files']>[number];
export type PipelineContext = ResponseOf<'/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/pipelineContext', 'get'>;

/**
 * Awaits an openapi-fetch call and returns its data, or throws an ApiError built from the error body (or
 * the status text when the body is not the API's error shape).
 */
export async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await request;
  if (response.ok) return data as T;
  const body = (error ?? {}) as { detail?: unknown; field?: unknown };
  const detail = typeof body.detail === 'string' ? body.detail : `${response.status} ${response.statusText}`;
  const field = typeof body.field === 'string' ? body.field : null;
  throw new ApiError(response.status, detail, field);
}
