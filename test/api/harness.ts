import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, HTTPMethods, InjectOptions } from 'fastify';
import type { Dag } from '../../lib/authoring/dag.ts';
import { createApiApp } from '../../lib/api/app.ts';
import type { ApiBackend } from '../../lib/api/backend.ts';
import { DagBag, loadDagBag } from '../../lib/dagbag/dag-bag.ts';
import { fakeRunner } from '../helpers.ts';

export const TOKEN = 'test-token-0123456789';
export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

export interface Harness {
  app: FastifyInstance;
  runner: ReturnType<typeof fakeRunner>;
  bag: DagBag;
  backend: ApiBackend;
  /** A request with the token. */
  call(method: HTTPMethods, url: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** A request without a token, or with the headers given. */
  raw(options: InjectOptions): Promise<{ status: number; json: any }>;
  /** Wait until the runner has nothing in flight and no timer due. */
  idle(): Promise<void>;
}

/**
 * The app on the fixtures' DAGs (plus `extra`, whose bag then attributes no import error to a DAG), a
 * fake-clock LocalRunner and its in-memory store.
 */
export async function harness(extra: Dag[] = []): Promise<Harness> {
  const loaded = await loadDagBag(FIXTURES);
  const bag = extra.length ? new DagBag(loaded.folder, [...loaded.dags, ...extra].sort((a, b) => a.dagId.localeCompare(b.dagId)), loaded.importErrors, loaded.files) : loaded;
  const runner = fakeRunner([...bag.dags]);
  const backend: ApiBackend = {
    store: runner.store,
    dags: bag,
    withScheduler: (fn) => fn(runner.driven),
    now: () => new Date(runner.clock.now()),
  };
  const app = await createApiApp({ backend, auth: { mode: 'token', token: TOKEN } });
  const parse = (body: string) => (body === '' ? null : (JSON.parse(body) as unknown));
  const raw = async (options: InjectOptions) => {
    const r = await app.inject(options);
    return { status: r.statusCode, json: parse(r.body) as any };
  };
  return {
    app,
    runner,
    bag,
    backend,
    raw,
    call: (method, url, body) => raw({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...(body === undefined ? {} : { payload: body as object }) }),
    idle: () => runner.idle(),
  };
}
