import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { needsAuth } from './auth.ts';

/** The package's built web UI, `<package>/ui/dist` (`npm run build:ui`), when it has an index.html; else null. */
export function builtUiDir(): string | null {
  const dir = path.resolve(fileURLToPath(new URL('../../ui/dist/', import.meta.url)));
  return existsSync(path.join(dir, 'index.html')) ? dir : null;
}

/**
 * Serve the built web UI of `uiDir` at `/` (no token: the files carry no data), with the single-page
 * app's fallback: a GET or HEAD of any other path outside the API gets `index.html`. Every other
 * unknown route (any `/api/` path, any other method) is a 404 in the API's `{ detail, field }` shape.
 * With `uiDir` null, only that 404.
 */
export async function serveUi(app: FastifyInstance, uiDir: string | null): Promise<void> {
  const root = uiDir === null ? null : path.resolve(uiDir);
  if (root !== null) await app.register(fastifyStatic, { root, prefix: '/', wildcard: true });
  app.setNotFoundHandler(async (request, reply) => {
    const url = request.url.split('?', 1)[0]!;
    if (root !== null && (request.method === 'GET' || request.method === 'HEAD') && !needsAuth(url) && existsSync(path.join(root, 'index.html'))) {
      return reply.type('text/html; charset=utf-8').sendFile('index.html', root);
    }
    return reply.code(404).send({ detail: `no route ${request.method} ${url}`, field: null });
  });
}
