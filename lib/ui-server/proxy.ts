/**
 * The UI server's proxy: a request the browser sent to the local server, forwarded to the API it stands
 * in front of (method, path, query, body and content-type as they came) through a fetch that may sign it
 * (SigV4 for a Function URL), and the answer passed back (status, body, content-type).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorMessage } from '../errors.ts';

/** The API the UI server forwards to. */
export interface ProxyTarget {
  /** The API's base URL (the part before `/api/v2`), without a trailing '/'. */
  baseUrl: string;
  /** What it is, for messages: `stack prod (https://...)`, `--endpoint https://...`. */
  description: string;
  /** The fetch that sends each forwarded request (a SigV4-signing one for a Function URL). Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** A bearer token to send to the API (an endpoint that wants one). Default: none. */
  token?: string;
}

/** Hop-by-hop headers (RFC 9110 7.6.1): they concern one connection and are never forwarded. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/**
 * Request headers that are not forwarded, beyond the hop-by-hop ones: the local token (Authorization),
 * what fetch sets itself (host, content-length, accept-encoding, expect), the laptop's cookies, and any
 * `x-amz-*` header (the signer's own).
 */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'authorization', 'host', 'content-length', 'accept-encoding', 'expect', 'cookie']);

/** Response headers not passed back: hop-by-hop ones, and those fetch has already acted on (it decodes the body). */
const NOT_RETURNED = new Set([...HOP_BY_HOP, 'content-encoding', 'content-length', 'set-cookie']);

/** The names a `Connection` header lists (hop-by-hop as well). */
function connectionListed(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    text
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );
}

/** The request headers to send on. */
export function forwardedHeaders(incoming: FastifyRequest['headers']): Headers {
  const listed = connectionListed(incoming.connection);
  const out = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    const lower = name.toLowerCase();
    if (value === undefined || NOT_FORWARDED.has(lower) || listed.has(lower) || lower.startsWith('x-amz-')) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(lower, v);
  }
  return out;
}

/** The path and query of a request target, of an absolute-form one (`http://host/api/v2/...`) too; null if it is no URL. */
function originForm(requestUrl: string): string | null {
  if (requestUrl.startsWith('/')) return requestUrl;
  try {
    const u = new URL(requestUrl);
    return `${u.pathname}${u.search}`;
  } catch {
    return null;
  }
}

/**
 * The URL a request is forwarded to: the target's base URL and the request's path and query string as
 * sent. Null when the path, once resolved (`..`, `%2e%2e`), leaves the proxied routes.
 */
export function forwardUrl(baseUrl: string, requestUrl: string): URL | null {
  const target = originForm(requestUrl);
  if (target === null) return null;
  const base = new URL(baseUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  const url = new URL(`${base.origin}${basePath}${target}`);
  const rest = url.pathname.slice(basePath.length);
  if (!url.pathname.startsWith(basePath) || !(rest.startsWith('/api/v2/') || rest === '/openapi.json')) return null;
  return url;
}

/** The cause of a fetch that failed, in a few words (ECONNREFUSED, ENOTFOUND, ...). */
function failure(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? errorMessage(e);
}

/**
 * A Fastify handler that forwards the request to `target` and passes the answer back. The request's body
 * must have been read as a Buffer (the UI server's content-type parser). When the API cannot be reached
 * or the request cannot be signed (no credentials...), the answer is a 502 `{ detail, field: null }`
 * saying why, and `warn` is told.
 */
export function proxyHandler(target: ProxyTarget, warn: (line: string) => void) {
  const send = target.fetch ?? globalThis.fetch;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const url = forwardUrl(target.baseUrl, request.url);
    if (url === null) {
      await reply.code(404).send({ detail: `no route ${request.method} ${request.url.split('?', 1)[0]}`, field: null });
      return;
    }
    const headers = forwardedHeaders(request.headers);
    if (target.token !== undefined) headers.set('authorization', `Bearer ${target.token}`);
    const body = Buffer.isBuffer(request.body) && request.method !== 'GET' && request.method !== 'HEAD' ? new Uint8Array(request.body) : undefined;
    let res: Response;
    try {
      res = await send(url, { method: request.method, headers, redirect: 'manual', ...(body !== undefined ? { body } : {}) });
    } catch (e) {
      const detail = e instanceof TypeError ? `${target.description} does not answer (${failure(e)})` : `cannot forward the request to ${target.description}: ${errorMessage(e)}`;
      warn(`airless ui: ${request.method} ${url.pathname}: ${detail}`);
      await reply.code(502).send({ detail, field: null });
      return;
    }
    reply.code(res.status);
    res.headers.forEach((value, name) => {
      if (!NOT_RETURNED.has(name)) void reply.header(name, value);
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    await reply.send(request.method === 'HEAD' || bytes.length === 0 ? undefined : bytes);
  };
}
