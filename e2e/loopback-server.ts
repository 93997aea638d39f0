import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP server on a free port of 127.0.0.1, for the harness's local AWS endpoints. Idle keep-alive
 * connections are never closed: a client reusing one as it closes would see ECONNRESET.
 */
export async function listenOnLoopback(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<{ server: Server; endpoint: string }> {
  const server = createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/**
 * A local AWS endpoint of the harness: one HTTP server on a free port of 127.0.0.1 whose requests go to
 * `serve`. The real SDK clients reach it through `AWS_ENDPOINT_URL_<SERVICE>` = `endpoint`.
 */
export abstract class LoopbackEndpoint {
  private server: Server | null = null;
  /** `http://127.0.0.1:<port>` once listening; '' before. */
  endpoint = '';

  protected abstract serve(req: IncomingMessage, res: ServerResponse): Promise<void>;

  /** Listen on a free port of 127.0.0.1; resolves with the endpoint. */
  async listen(): Promise<string> {
    const { server, endpoint } = await listenOnLoopback((req, res) => this.serve(req, res));
    this.server = server;
    this.endpoint = endpoint;
    return endpoint;
  }

  /** Stop listening (idempotent). */
  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
