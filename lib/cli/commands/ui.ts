import { errorMessage } from '../../errors.ts';
import { startUiServer, type ProxyTarget, type UiServer } from '../../ui-server/server.ts';
import { airlessHome } from '../../standalone/log-files.ts';
import { apiToken, checkHealth, type RemoteOptions } from '../remote.ts';
import type { Terminal } from '../terminal.ts';
import { UsageError } from '../usage-error.ts';
import { stopOnSignal } from '../stop-on-signal.ts';

export interface UiCommandOptions extends RemoteOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Sign the requests to `--endpoint` with SigV4 even when its host is not a Function URL's. Default false. */
  sigv4?: boolean;
  /** The local token the browser must send. Default: a new random one at each start. */
  token?: string;
}

/** The API to forward to, and how its requests are authorised, from `--stack` or `--endpoint` (and `--sigv4`). */
export async function uiTarget(o: UiCommandOptions, env: NodeJS.ProcessEnv = process.env): Promise<{ target: ProxyTarget; auth: string }> {
  if (o.stack !== undefined && o.endpoint !== undefined) throw new UsageError('give --endpoint or --stack, not both');
  if (o.stack !== undefined) {
    // Loaded only when asked for: it brings the AWS SDK.
    const { resolveStackEndpoint } = await import('../stack-endpoint.ts');
    const { baseUrl, fetch } = await resolveStackEndpoint(o.stack);
    return { target: { baseUrl, fetch, description: `stack ${o.stack} (${baseUrl})` }, auth: 'signed with SigV4 (your AWS credentials)' };
  }
  if (o.endpoint === undefined) throw new UsageError('airless ui needs the API to stand in front of: --stack NAME (a deployed stack) or --endpoint URL');
  let url: URL;
  try {
    url = new URL(o.endpoint);
  } catch {
    throw new UsageError(`--endpoint must be a URL such as https://<id>.lambda-url.<region>.on.aws, got '${o.endpoint}'`);
  }
  const baseUrl = url.href.replace(/\/+$/, '').replace(/\/api\/v2$/, '');
  const description = `--endpoint ${baseUrl}`;
  // Loaded only when asked for: it brings the AWS SDK.
  const { functionUrlRegion, signingFetch } = await import('../../api/sigv4.ts');
  if (o.sigv4 === true || functionUrlRegion(url.hostname) !== null) {
    return { target: { baseUrl, description, fetch: signingFetch({ env }) }, auth: 'signed with SigV4 (your AWS credentials)' };
  }
  const token = apiToken(airlessHome(env), env);
  return token === undefined
    ? { target: { baseUrl, description }, auth: 'sent without credentials (no AIRLESS_API_TOKEN nor $AIRLESS_HOME/api-token; --sigv4 signs them)' }
    : { target: { baseUrl, description, token }, auth: 'sent with the API token (AIRLESS_API_TOKEN, else $AIRLESS_HOME/api-token)' };
}

/**
 * `airless ui`: the web UI on this machine, in front of a deployed stack's API (`--stack NAME`) or any
 * API (`--endpoint URL`). Prints `airless ui: listening on <url>`, the UI's URL with the local token,
 * the target and whether it answers health; runs until SIGINT/SIGTERM, then stops and exits 0 (a second
 * signal exits at once). Exit 2 when the UI is not built, the stack is not found or the port is taken.
 */
export async function ui(term: Terminal, o: UiCommandOptions): Promise<number> {
  const { target, auth } = await uiTarget(o);
  let server: UiServer;
  try {
    server = await startUiServer({
      target,
      port: o.port ?? 8080,
      host: o.host ?? '127.0.0.1',
      ...(o.token !== undefined ? { token: o.token } : {}),
      warn: (line) => void term.stderr.write(`${line}\n`),
    });
  } catch (e) {
    if (e instanceof Error && e.name === 'UiServerStartError') throw new UsageError(errorMessage(e));
    throw e;
  }
  const unhealthy = await checkHealth(target.baseUrl, 10_000, target.fetch);
  const lines = [
    `airless ui: listening on ${server.url}`,
    `  web UI:  ${server.url}/?token=${encodeURIComponent(server.token)}`,
    `  target:  ${target.description}, requests ${auth}`,
    `  health:  ${unhealthy === null ? 'the target answers' : `warning: ${unhealthy}`}`,
    `  token:   ${server.token} (this server's own; the API's ${server.url}/api/v2 needs it as Authorization: Bearer <token>)`,
    'Press Ctrl-C to stop.',
  ];
  await term.out(`${lines.join('\n')}\n`);

  return stopOnSignal(term, 'airless ui', () => server.stop());
}
