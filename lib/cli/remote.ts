import { existsSync, readFileSync } from 'node:fs';
import { ApiError, createApiClient, toApiError, type ApiClient } from '../api/client.ts';
import type { components, paths } from '../api/openapi-types.ts';
import type { GlobalOptions } from './dag-lookup.ts';
import { displayPath } from './format.ts';
import { airlessHome } from '../standalone/log-files.ts';
import type { Terminal } from './terminal.ts';
import { UsageError } from './usage-error.ts';
import { API_TOKEN_ENV, pidAlive, readApiToken, standaloneFile } from '../standalone/home-files.ts';

export { API_TOKEN_ENV, standaloneFile } from '../standalone/home-files.ts';

/** The API's objects (DAG, DAGRun, Task, TaskInstance, Backfill, ...), as generated from its OpenAPI document. */
export type Schemas = components['schemas'];

/** The JSON body of a 200 answer of `method` on `route`. */
export type Answer<Route extends keyof paths, Method extends keyof paths[Route]> = paths[Route][Method] extends { responses: { 200: { content: { 'application/json': infer T } } } } ? T : never;

/** How to start a server, for messages. */
export const START_HINT = 'start one with `npx airless standalone` (or name one with --endpoint URL or --stack NAME)';

/** The options that choose the server a command talks to. */
export interface RemoteOptions extends GlobalOptions {
  /** The API's base URL (the part before `/api/v2`), e.g. `http://127.0.0.1:8080`. Default: the running standalone. */
  endpoint?: string;
  /** A deployed stack's name: its CloudFormation output `ApiUrl`, requests signed with SigV4. Default: none. */
  stack?: string;
}

/** The server a command talks to. */
export interface ApiTarget {
  /** Where it came from, for messages: `--endpoint http://...`, `stack prod (https://...)`, `the standalone at http://...`. */
  description: string;
  /** The API's base URL, without `/api/v2`. */
  baseUrl: string;
  /** The bearer token to send (endpoint and standalone), if any. */
  token?: string;
  /** A fetch that signs each request (SigV4 for a deployed stack), if any. */
  fetch?: typeof fetch;
}

/** No server was targeted and none is running; `tried` says what was looked at, in words. */
export interface NoTarget {
  tried: string;
}

/** The token: `AIRLESS_API_TOKEN`, else `<home>/api-token`, else none. */
export const apiToken = readApiToken;

/** Whether `GET <url>/api/v2/monitor/health` answers 200 within `timeoutMs`; else why not. */
export async function checkHealth(baseUrl: string, timeoutMs = 3000, fetchFn: typeof fetch = fetch): Promise<string | null> {
  const url = `${baseUrl.replace(/\/+$/, '')}/api/v2/monitor/health`;
  try {
    const res = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok ? null : `${url} answered HTTP ${res.status}`;
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return `${url} does not answer (${cause?.code ?? cause?.message ?? (e as Error).message})`;
  }
}

/** The standalone named by `<home>/standalone.json` when it runs, else what was found instead. */
async function runningStandalone(home: string, env: NodeJS.ProcessEnv): Promise<ApiTarget | NoTarget> {
  const file = standaloneFile(home);
  const shown = displayPath(file);
  if (!existsSync(file)) return { tried: `${shown} does not exist (no standalone has started with this AIRLESS_HOME)` };
  let info: { url?: unknown; pid?: unknown };
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as { url?: unknown; pid?: unknown };
  } catch (e) {
    return { tried: `${shown} is not valid JSON (${(e as Error).message})` };
  }
  if (typeof info.url !== 'string' || typeof info.pid !== 'number') return { tried: `${shown} has no url and pid` };
  if (!pidAlive(info.pid)) return { tried: `${shown} names process ${info.pid} (${info.url}), which is not running` };
  const unhealthy = await checkHealth(info.url);
  if (unhealthy !== null) return { tried: `${shown} names process ${info.pid}, but ${unhealthy}` };
  const token = apiToken(home, env);
  return { description: `the standalone at ${info.url}`, baseUrl: info.url, ...(token !== undefined ? { token } : {}) };
}

async function stackTarget(name: string): Promise<ApiTarget> {
  // Loaded only when asked for: it brings the AWS SDK.
  const { resolveStackEndpoint } = await import('./stack-endpoint.ts');
  const { baseUrl, fetch: signed } = await resolveStackEndpoint(name);
  return { description: `stack ${name} (${baseUrl})`, baseUrl, fetch: signed };
}

/**
 * The server to talk to: `--endpoint` (token from AIRLESS_API_TOKEN or `<home>/api-token`), `--stack`
 * (its ApiUrl, SigV4-signed), else the standalone of `<home>/standalone.json` when its process is alive
 * and answers health. Returns a {@link NoTarget} saying what was tried when none of these gives one.
 */
export async function findTarget(o: RemoteOptions, env: NodeJS.ProcessEnv = process.env): Promise<ApiTarget | NoTarget> {
  if (o.endpoint !== undefined && o.stack !== undefined) throw new UsageError('give --endpoint or --stack, not both');
  const home = airlessHome(env);
  if (o.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(o.endpoint);
    } catch {
      throw new UsageError(`--endpoint must be a URL such as http://127.0.0.1:8080, got '${o.endpoint}'`);
    }
    const baseUrl = url.href.replace(/\/+$/, '').replace(/\/api\/v2$/, '');
    const token = apiToken(home, env);
    return { description: `--endpoint ${baseUrl}`, baseUrl, ...(token !== undefined ? { token } : {}) };
  }
  if (o.stack !== undefined) return stackTarget(o.stack);
  return runningStandalone(home, env);
}

export function isTarget(t: ApiTarget | NoTarget): t is ApiTarget {
  return 'baseUrl' in t;
}

/** No server to talk to: a usage error (exit 2) that says what was tried and how to start one. */
export class NoServerError extends UsageError {
  constructor(tried: string, options?: { cause?: unknown }) {
    super(`no airless server to talk to: ${tried}; ${START_HINT}`, {}, options);
  }
}

/** The target of a command that needs a server; a {@link NoServerError} when there is none. */
export async function requireTarget(o: RemoteOptions, env: NodeJS.ProcessEnv = process.env): Promise<ApiTarget> {
  const t = await findTarget(o, env);
  if (!isTarget(t)) throw new NoServerError(t.tried);
  return t;
}

/** A server to talk to, and the typed client of its API. */
export interface Remote {
  target: ApiTarget;
  api: ApiClient;
}

/** The typed client (openapi-fetch on the types generated from the API's OpenAPI document) for a target. */
export function connect(target: ApiTarget): Remote {
  const api = createApiClient({
    baseUrl: target.baseUrl,
    ...(target.token !== undefined ? { token: target.token } : {}),
    ...(target.fetch !== undefined ? { fetch: target.fetch } : {}),
  });
  return { target, api };
}

/** The server a command that needs one talks to; a {@link NoServerError} when there is none. */
export async function requireRemote(o: RemoteOptions, env: NodeJS.ProcessEnv = process.env): Promise<Remote> {
  return connect(await requireTarget(o, env));
}

/**
 * For the commands that the DAGs folder alone can answer: the server when one is targeted or running,
 * else null after saying on stderr that the answer is the folder's.
 */
export async function remoteOrFolder(term: Terminal, o: RemoteOptions, env: NodeJS.ProcessEnv = process.env): Promise<Remote | null> {
  const t = await findTarget(o, env);
  if (isTarget(t)) return connect(t);
  await term.err(`no airless server found (${t.tried}); answering from the DAGs folder\n`);
  return null;
}

/**
 * The body of a successful response, or the client's {@link ApiError} with the server's `detail` (a 401
 * also says where the token comes from). A server that cannot be reached is a {@link NoServerError}.
 */
export async function ok<T>(remote: Remote, request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await request;
  } catch (e) {
    // fetch rejects with a TypeError when nothing answers (connection refused, unknown host...).
    if (e instanceof TypeError) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new NoServerError(`${remote.target.description} does not answer (${cause?.code ?? cause?.message ?? e.message})`, { cause: e });
    }
    throw e;
  }
  const { response } = result;
  if (response.ok) return result.data as T;
  const error = toApiError(response, result.error);
  if (response.status === 401) {
    const why = `the API token was refused by ${remote.target.description}; the CLI sends $${API_TOKEN_ENV}, else the token in <AIRLESS_HOME>/api-token (which the standalone writes when it starts)`;
    throw new ApiError(401, `${error.detail} (${why})`, error.field);
  }
  if (response.status === 403) throw new ApiError(403, `${error.detail} (${remote.target.description} does not allow these AWS credentials)`, error.field);
  throw error;
}
