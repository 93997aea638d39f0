/**
 * The UI server (`airless ui`): the web UI served from this machine in front of an API it cannot call
 * itself, a deployed stack's Function URL whose requests must be signed with SigV4. It serves `ui/dist`
 * and forwards `/api/v2/*` and `/openapi.json` to the API with the user's credentials; a local bearer
 * token (as the standalone's) keeps anything else on the machine from using them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { authHook, PUBLIC_ROUTE } from '../api/auth.ts';
import { builtUiDir, serveUi } from '../api/serve-ui.ts';
import { AirlessError } from '../errors.ts';
import { proxyHandler, type ProxyTarget } from './proxy.ts';

export type { ProxyTarget } from './proxy.ts';

/** The UI server cannot start: the UI is not built, or the port is taken. Exit code 2. */
export class UiServerStartError extends AirlessError {
  override name = 'UiServerStartError';
}

export interface UiServerOptions {
  /** The API to forward to. */
  target: ProxyTarget;
  /** The local token the browser must send (`Authorization: Bearer`). Default: 32 random bytes, base64url, new at each start. */
  token?: string;
  /** The built UI's folder. Default `<package>/ui/dist`; a {@link UiServerStartError} when it has no index.html. */
  uiDir?: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to listen on. Default '127.0.0.1'. */
  host?: string;
  /** Lines for the user (requests that could not be forwarded). Default: stderr. */
  warn?: (line: string) => void;
}

/** A running UI server. */
export interface UiServer {
  /** `http://host:port` (the real port). */
  readonly url: string;
  /** The local token (the UI's `?token=`). */
  readonly token: string;
  readonly target: ProxyTarget;
  readonly app: FastifyInstance;
  /** Stop listening (idempotent). */
  stop(): Promise<void>;
}

const NOT_BUILT = 'run `npm run build:ui` to build it';

/** The built UI's folder: `dir` (or `<package>/ui/dist`) when it has an index.html, else a {@link UiServerStartError}. */
export function requireUiDir(dir?: string): string {
  if (dir === undefined) {
    const found = builtUiDir();
    if (found === null) throw new UiServerStartError(`the web UI is not built (no ui/dist/index.html in the airless package): ${NOT_BUILT}`);
    return found;
  }
  if (!existsSync(path.join(dir, 'index.html'))) throw new UiServerStartError(`the web UI is not built (no index.html in ${dir}): ${NOT_BUILT}`);
  return path.resolve(dir);
}

/**
 * The UI server's app (not listening): the UI's static files and its SPA fallback (no token needed:
 * they carry no data), and every `/api/v2/*` and `/openapi.json` request forwarded to the target once
 * the local token is checked (every route but GET `/api/v2/monitor/health`, which is declared public;
 * 401 `{ detail, field: null }` as the API's).
 */
export async function createUiServerApp(options: { target: ProxyTarget; token: string; uiDir: string; warn?: (line: string) => void }): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  const warn = options.warn ?? ((line: string) => void process.stderr.write(`${line}\n`));
  // Bodies are forwarded as they came: read every content type (or none) as bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.addHook('onRequest', authHook({ mode: 'token', token: options.token }));

  const forward = proxyHandler(options.target, warn);
  app.all('/api/v2/*', forward);
  app.all('/openapi.json', forward);
  // The API's health check needs no token there: none here either.
  app.get('/api/v2/monitor/health', { config: PUBLIC_ROUTE }, forward);

  await serveUi(app, options.uiDir);
  return app;
}

/** Start the UI server; resolves once it listens. A {@link UiServerStartError} when the UI is not built or the port is taken. */
export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const uiDir = requireUiDir(options.uiDir);
  const token = options.token ?? randomBytes(32).toString('base64url');
  const app = await createUiServerApp({ target: options.target, token, uiDir, ...(options.warn ? { warn: options.warn } : {}) });
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  try {
    await app.listen({ port, host });
  } catch (e) {
    await app.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UiServerStartError(`port ${port} of ${host} is already in use (choose another with --port)`, {}, { cause: e });
    if (code === 'EADDRNOTAVAIL') throw new UiServerStartError(`cannot listen on ${host}: no such local address (--host)`, {}, { cause: e });
    throw e;
  }
  const address = app.server.address();
  const realPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${realPort}`;
  let stopping: Promise<void> | null = null;
  return { url, token, target: options.target, app, stop: () => (stopping ??= app.close()) };
}
