/**
 * Secrets kept out of the API's log lines: the values of query parameters (and `name=value` pairs in
 * text) whose names look like credentials (`token`, `access_token`, `api_key`, `password`, ...), the
 * credentials of Authorization headers (`Bearer ...`, `Basic ...`) and of URLs (`https://user:pass@...`).
 */
import type { FastifyRequest } from 'fastify';

export const REDACTED = '[REDACTED]';

/** Names of parameters whose values are secrets. */
const SECRET_NAME = /token|passw|pwd|secret|api[-_]?key|apikey|auth|credential|signature|session|cookie/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

/** `scheme://user:password@` (bounded quantifiers: linear in the text). */
const USERINFO = /\b([a-z][a-z0-9+.-]{0,30}:\/\/)[^\s/?#@]{1,256}@/gi;

/**
 * A request target (`/api/v2/dags?token=...`, or an absolute-form `http://u:p@host/...`) with the values of
 * its secret query parameters and its userinfo replaced by `[REDACTED]`; the rest as sent.
 */
export function redactUrl(url: string): string {
  const noUser = url.replace(USERINFO, `$1${REDACTED}@`);
  const q = noUser.indexOf('?');
  if (q === -1) return noUser;
  const query = noUser
    .slice(q + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq !== -1 && isSecretName(decodedName(part.slice(0, eq))) ? `${part.slice(0, eq)}=${REDACTED}` : part;
    })
    .join('&');
  return `${noUser.slice(0, q)}?${query}`;
}

/** Authorization credentials written in text (`Authorization: Bearer abc`). */
const AUTH_SCHEME = /\b(Bearer|Basic|Digest)\s+[^\s,;"']{1,4096}/gi;
/** `name=value` pairs in text (a URL's query, a header's parameters); the name's length is bounded. */
const PAIR = /(^|[?&;,\s])([^=&\s#?;,]{1,100})=([^&\s#;,"']*)/g;

/** Free text (an error's message or stack, a log line) with the secrets above replaced by `[REDACTED]`. */
export function redactText(text: string): string {
  return text
    .replace(USERINFO, `$1${REDACTED}@`)
    .replace(AUTH_SCHEME, `$1 ${REDACTED}`)
    .replace(PAIR, (all, before: string, name: string) => (isSecretName(decodedName(name)) ? `${before}${name}=${REDACTED}` : all));
}

/** Pino serializers for Fastify's logger: the request (URL redacted, no headers) and errors (message and stack redacted). */
export const logSerializers = {
  req: (request: FastifyRequest) => ({
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    ...(request.socket?.remotePort !== undefined ? { remotePort: request.socket.remotePort } : {}),
  }),
  err: (error: Error & { code?: unknown; statusCode?: unknown }) => ({
    type: error.name,
    message: redactText(String(error.message)),
    stack: redactText(error.stack ?? ''),
    ...(error.code !== undefined ? { code: error.code } : {}),
    ...(error.statusCode !== undefined ? { statusCode: error.statusCode } : {}),
  }),
};

/** Header paths pino censors wherever a log line carries them (nothing the API logs does, by design). */
export const REDACTED_LOG_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', 'request.headers.authorization', 'request.headers.cookie'];
