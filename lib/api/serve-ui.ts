import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { packageRoot } from '../package-root.ts';
import { PUBLIC_ROUTE } from './auth.ts';

/** The package's built web UI, `<package>/ui/dist` (`npm run build:ui`), when it has an index.html; else null. */
export function builtUiDir(): string | null {
  let dir: string;
  try {
    dir = path.join(packageRoot(), 'ui', 'dist');
  } catch {
    return null; // bundled (a Lambda function): no package around, no UI files
  }
  return existsSync(path.join(dir, 'index.html')) ? dir : null;
}

/** The path of a request's target (of an absolute-form one too), without its query. */
function targetPath(request: FastifyRequest): string {
  try {
    return new URL(request.url, 'http://localhost').pathname;
  } catch {
    return request.url.split('?', 1)[0]!;
  }
}

/**
 * Whether an unknown path is one of the API's (answered with the API's JSON 404 rather than the UI's
 * page). Only a choice of answer: neither carries data, and authentication is decided by the route
 * that matched (see auth.ts), never here.
 */
function looksLikeApi(pathname: string): boolean {
  let p = pathname;
  try {
    p = decodeURIComponent(pathname);
  } catch {
    // Keep it as sent.
  }
  return /^\/+(api(\/|$)|openapi\.json$)/i.test(p);
}

/**
 * Serve the built web UI of `uiDir` at `/` (public routes: the files carry no data), with the single-page
 * app's fallback: a GET or HEAD of any other path outside the API gets `index.html`. Every other
 * unknown route (any `/api/` path, any other method) is a 404 in the API's `{ detail, field }` shape.
 * With `uiDir` null, only that 404.
 */
export async function serveUi(app: FastifyInstance, uiDir: string | null): Promise<void> {
  const root = uiDir === null ? null : path.resolve(uiDir);
  await app.register(async (ui) => {
    // Every route of this context (@fastify/static's) is public.
    ui.addHook('onRoute', (route) => {
      route.config = { ...route.config, ...PUBLIC_ROUTE };
    });
    if (root !== null) await ui.register(fastifyStatic, { root, prefix: '/', wildcard: true });
    ui.setNotFoundHandler(async (request, reply) => {
      if (root !== null && (request.method === 'GET' || request.method === 'HEAD') && !looksLikeApi(targetPath(request)) && existsSync(path.join(root, 'index.html'))) {
        return reply.type('text/html; charset=utf-8').sendFile('index.html', root);
      }
      return reply.code(404).send({ detail: `no route ${request.method} ${request.url.split('?', 1)[0]!}`, field: null });
    });
  });
}
