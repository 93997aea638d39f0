/**
 * The typed client of the REST API (openapi-fetch on the types generated from the served OpenAPI
 * document), for the CLI and the UI. Deployed, requests are signed (SigV4) by the `sign` hook or a
 * `fetch` that signs.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './openapi-types.ts';

export type { components, paths, operations } from './openapi-types.ts';
export type ApiClient = Client<paths>;
/** The API's error body: `{ detail, field }`. */
export type HttpErrorBody = components['schemas']['HTTPError'];

export interface ApiClientOptions {
  /** The server's origin, e.g. 'http://127.0.0.1:8080' (paths start with /api/v2). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`. Default: none (IAM-signed requests, or the health check). */
  token?: string;
  /** The fetch to use. Default: the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
  /** Change each request before it is sent (sign it with SigV4, add headers). Default: none. */
  sign?: (request: Request) => Request | Promise<Request>;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.token !== undefined ? { headers: { authorization: `Bearer ${options.token}` } } : {}),
  });
  const sign = options.sign;
  if (sign) client.use({ onRequest: async ({ request }) => sign(request) });
  return client;
}

/** A request the API refused (or that did not reach it): the status, and the API's detail and field. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly field: string | null,
  ) {
    super(field === null ? `${status}: ${detail}` : `${status}: ${detail} (field ${field})`);
  }
}

function isErrorBody(v: unknown): v is HttpErrorBody {
  return typeof v === 'object' && v !== null && typeof (v as { detail?: unknown }).detail === 'string';
}

/**
 * The data of an openapi-fetch result, or throw an {@link ApiError} for a non-2xx response:
 * `const dags = unwrap(await client.GET('/api/v2/dags'))`.
 */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  const { response } = result;
  if (!response.ok) throw toApiError(response, result.error);
  return result.data as T;
}

/** The ApiError of a non-2xx response, given its parsed body (the API's `{ detail, field }` when it sent one). */
export function toApiError(response: Response, body: unknown): ApiError {
  if (isErrorBody(body)) return new ApiError(response.status, body.detail, body.field ?? null);
  const text = typeof body === 'string' && body ? body : response.statusText || 'request failed';
  return new ApiError(response.status, `${text} (${response.url || 'no url'})`, null);
}
