/**
 * The REST API (Airflow's `/api/v2` names) as a Fastify app: the same app serves the standalone server,
 * the deployed Lambda (through @fastify/aws-lambda) and the tests (`app.inject`).
 */
import fastifySwagger from '@fastify/swagger';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance } from 'fastify';
import { authHook } from './auth.ts';
import type { ApiOptions } from './backend.ts';
import { errorHandler } from './error-handler.ts';
import { dagRunRoutes } from './routes/dag-runs.ts';
import { dagRoutes } from './routes/dags.ts';
import { operationRoutes } from './routes/operations.ts';
import { taskInstanceRoutes } from './routes/task-instances.ts';
import { serveUi } from './serve-ui.ts';
import { R, responses, SHARED_SCHEMAS } from './schemas.ts';

export type { ApiAuth, ApiBackend, ApiDags, ApiOptions } from './backend.ts';

/** The version the OpenAPI document states. */
export const API_VERSION = '2.0.0';

function ajv(options: AjvOptions): Ajv {
  const a = new Ajv({ strict: false, allErrors: false, useDefaults: true, removeAdditional: false, ...options });
  addFormats.default(a);
  return a;
}

/**
 * Build the API app (not listening: call `listen`, hand it to @fastify/aws-lambda, or `inject`).
 * Request bodies are validated strictly (no type coercion, unknown fields refused); query strings and path
 * parameters are coerced from text (`limit=5` is a number, a repeated `state` an array).
 */
export async function createApiApp(options: ApiOptions): Promise<FastifyInstance> {
  const { backend, auth } = options;
  const app = Fastify({ logger: options.logger ?? false });

  const bodyAjv = ajv({ coerceTypes: false });
  const textAjv = ajv({ coerceTypes: 'array' });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));
  app.setErrorHandler(errorHandler(!(options.logger ?? false)));
  app.addHook('onRequest', authHook(auth));

  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'airless REST API', version: API_VERSION, description: "Airflow's /api/v2 where it fits: DAGs, runs, task instances, logs, XCom, clear, import errors, backfills and the pipeline context." },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The API token (standalone); deployed, requests are signed with SigV4 instead.' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  app.get(
    '/api/v2/monitor/health',
    { schema: { summary: 'Health (no auth)', tags: ['Monitor'], operationId: 'get_health', security: [], response: { 200: R.health } } },
    async () => ({ status: 'healthy' as const }),
  );
  const ctx = { app, backend };
  dagRoutes(ctx);
  dagRunRoutes(ctx);
  taskInstanceRoutes(ctx);
  operationRoutes(ctx);

  const openapi = async () => app.swagger();
  const docSchema = { hide: true, response: responses({ type: 'object', additionalProperties: true }) };
  app.get('/openapi.json', { schema: docSchema }, openapi);
  app.get('/api/v2/openapi.json', { schema: docSchema }, openapi);

  await serveUi(app, options.uiDir ?? null);
  return app;
}
