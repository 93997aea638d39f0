import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiAuth } from './backend.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Answered without a token (the health check, the UI's static files). Every other route needs it: the
     * decision is the matched route's, never the URL's text.
     */
    public?: boolean;
  }
}

/** The route config of a route answered without a token. */
export const PUBLIC_ROUTE = { public: true } as const;

/**
 * Whether a request may be answered without a token: its route was declared public, or no route matched
 * (the not-found handler answers a 404, or the UI's index.html, and nothing else).
 */
export function isPublic(request: FastifyRequest): boolean {
  return request.is404 || request.routeOptions.config.public === true;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compare in constant time (hashes first, so that lengths leak nothing either). */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * An onRequest hook answering 401 `{ detail, field: null }` when the route that matched needs a token and
 * the request lacks the right one. Routing (Fastify's) has already decoded the path and taken the path of
 * an absolute-form target, so every spelling of a route is checked as that route.
 */
export function authHook(auth: ApiAuth) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (auth.mode === 'iam' || isPublic(request)) return;
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
