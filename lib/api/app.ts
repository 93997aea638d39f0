/**
 * The REST API (Airflow's `/api/v2` names) as a Fastify app: the same app serves the standalone server,
 * the deployed Lambda (through @fastify/aws-lambda) and the tests (`app.inject`).
 */
import fastifySwagger from '@fastify/swagger';
import { Ajv, type Options as AjvOptions, type SchemaValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { authHook, PUBLIC_ROUTE } from './auth.ts';
import type { ApiOptions } from './backend.ts';
import { errorHandler, frameworkErrorHandler } from './error-handler.ts';
import { logSerializers, REDACTED, REDACTED_LOG_PATHS } from './redact.ts';
import { dagRunRoutes } from './routes/dag-runs.ts';
import { dagRoutes } from './routes/dags.ts';
import { dagVersionRoutes } from './routes/dag-versions.ts';
import { markRoutes } from './routes/marks.ts';
import { operationRoutes } from './routes/operations.ts';
import { poolRoutes } from './routes/pools.ts';
import { taskInstanceRoutes } from './routes/task-instances.ts';
import { secretsRoutes } from './routes/secrets.ts';
import { hitlRoutes } from './routes/hitl.ts';
import { serveUi } from './serve-ui.ts';
import { ID_MAX_LENGTH, MAX_DEPTH_KEYWORD, R, responses, SHARED_SCHEMAS } from './schemas.ts';

export type { ApiAuth, ApiBackend, ApiDags, ApiOptions } from './backend.ts';

/** The version the OpenAPI document states. */
export const API_VERSION = '2.0.0';

const rfc3339 = fullFormats['date-time'] as { validate: (s: string) => boolean; compare: (a: string, b: string) => number | undefined };

/** Whether a JSON value nests more than `max` objects or arrays deep (the value itself is level 1), checked without recursion. */
function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

function ajv(options: AjvOptions): Ajv {
  const a = new Ajv({ strict: false, allErrors: false, useDefaults: true, removeAdditional: false, ...options });
  addFormats(a);
  // RFC 3339 as ajv-formats has it, and a time Date can represent: a leap second (23:59:60) or an
  // offset without minutes (+01) is refused here rather than failing later in new Date().toISOString().
  a.addFormat('date-time', { type: 'string', validate: (s: string) => rfc3339.validate(s) && !Number.isNaN(Date.parse(s)), compare: rfc3339.compare });
  // Free-form values (conf) are bounded in depth before anything recursive (JSON.stringify,
  // structuredClone, the params' validation, the stores) touches them.
  const maxDepth: SchemaValidateFunction = (max: number, data: unknown) => {
    if (!depthExceeds(data, max)) return true;
    maxDepth.errors = [{ keyword: MAX_DEPTH_KEYWORD, message: `must not be nested more than ${max} levels deep`, params: { limit: max } }];
    return false;
  };
  a.addKeyword({ keyword: MAX_DEPTH_KEYWORD, schemaType: 'number', errors: true, validate: maxDepth });
  return a;
}

/** Fastify's logger: pino with the request's URL and errors redacted, and Authorization headers censored. */
function loggerOptions(logger: ApiOptions['logger']): NonNullable<FastifyServerOptions['logger']> {
  if (logger === undefined || logger === false) return false;
  return {
    serializers: logSerializers,
    redact: { paths: REDACTED_LOG_PATHS, censor: REDACTED },
    ...(logger === true ? {} : { stream: logger.stream }),
  };
}

/**
 * Build the API app (not listening: call `listen`, hand it to @fastify/aws-lambda, or `inject`).
 * Request bodies are validated strictly (no type coercion, unknown fields refused); query strings and path
 * parameters are coerced from text (`limit=5` is a number, a repeated `state` an array).
 */
export async function createApiApp(options: ApiOptions): Promise<FastifyInstance> {
  const { backend, auth } = options;
  const app = Fastify({
    logger: loggerOptions(options.logger),
    // Every id the API names fits in a path parameter (Fastify's default, 100, left longer ones unreachable).
    routerOptions: { maxParamLength: ID_MAX_LENGTH },
    // The router's own refusals (a malformed escape, a too long id) in the API's { detail, field } shape.
    frameworkErrors: frameworkErrorHandler,
  });

  const bodyAjv = ajv({ coerceTypes: false });
  const textAjv = ajv({ coerceTypes: 'array' });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));
  app.setErrorHandler(errorHandler(!(options.logger ?? false)));
  app.addHook('onRequest', authHook(auth));

  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'airless REST API', version: API_VERSION, description: "Airflow's /api/v2 where it fits: DAGs, runs, task instances, logs, XCom, clear, import errors, backfills, DAG versions and their code, and the pipeline context." },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The API token (standalone); deployed, requests are signed with SigV4 instead.' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  app.get(
    '/api/v2/monitor/health',
    { config: PUBLIC_ROUTE, schema: { summary: 'Health (no auth)', tags: ['Monitor'], operationId: 'get_health', security: [], response: { 200: R.health } } },
    async () => ({ status: 'healthy' as const }),
  );
  const ctx = { app, backend };
  dagRoutes(ctx);
  dagRunRoutes(ctx);
  dagVersionRoutes(ctx);
  taskInstanceRoutes(ctx);
  operationRoutes(ctx);
  poolRoutes(ctx);
  markRoutes(ctx);
  secretsRoutes(ctx);
  hitlRoutes(ctx, auth);

  const openapi = async () => app.swagger();
  const docSchema = { hide: true, response: responses({ type: 'object', additionalProperties: true }) };
  app.get('/openapi.json', { schema: docSchema }, openapi);
  app.get('/api/v2/openapi.json', { schema: docSchema }, openapi);

  await serveUi(app, options.uiDir ?? null);
  return app;
}
