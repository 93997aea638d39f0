import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiAuth } from './backend.ts';

/** Paths answered without a token: the health check, and (not under /api/) the UI's static files. */
export function needsAuth(url: string): boolean {
  const path = url.split('?', 1)[0]!;
  if (path === '/api/v2/monitor/health') return false;
  return path.startsWith('/api/') || path === '/api' || path === '/openapi.json';
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compare in constant time (hashes first, so that lengths leak nothing either). */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** An onRequest hook answering 401 `{ detail, field: null }` when a route that needs a token lacks the right one. */
export function authHook(auth: ApiAuth) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (auth.mode === 'iam' || !needsAuth(request.url)) return;
    const header = request.headers.authorization;
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    const detail =
      header === undefined
        ? 'missing Authorization header: send Authorization: Bearer <token>'
        : m === null
          ? 'malformed Authorization header: expected Bearer <token>'
          : tokenMatches(m[1]!, auth.token)
            ? null
            : 'invalid token in the Authorization header';
    if (detail !== null) await reply.code(401).header('www-authenticate', 'Bearer').send({ detail, field: null });
  };
}
