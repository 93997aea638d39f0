/**
 * Every error becomes `{ detail, field }` JSON with its status: request validation 400 naming the field,
 * airless's typed errors by meaning, anything else 500 with a generic message (the error is logged, never
 * sent to the client).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AirlessError, DagNotFoundError, errorMessage, ParamValidationError, RunExistsError, StoreUnavailableError } from '../errors.ts';
import { OperationError } from '../scheduler/operations.ts';
import { HttpError } from './http-error.ts';
import { redactText, redactUrl } from './redact.ts';

export interface ErrorBody {
  detail: string;
  field: string | null;
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

const CONTEXT: Record<string, string> = { querystring: 'query', body: 'body', params: 'params', headers: 'headers' };

/** `/conf/a/0` → `.conf.a[0]`. */
function jsonPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('');
}

/** The field and message of the first ajv error of a request part. */
export function describeValidation(context: string, errors: readonly AjvError[]): ErrorBody {
  const part = CONTEXT[context] ?? context;
  const e = errors[0];
  if (!e) return { detail: `${part} is invalid`, field: part };
  const at = `${part}${jsonPath(e.instancePath)}`;
  switch (e.keyword) {
    case 'required': {
      const field = `${at}.${String(e.params.missingProperty)}`;
      return { detail: `${field} is required`, field };
    }
    case 'additionalProperties': {
      const field = `${at}.${String(e.params.additionalProperty)}`;
      return { detail: `${field} is not a known field`, field };
    }
    case 'enum':
      return { detail: `${at} must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`, field: at };
    default:
      return { detail: `${at} ${e.message ?? 'is invalid'}`, field: at };
  }
}

/** Where a request gave its dag_id (for a DAG that is not found). */
function dagIdField(request: FastifyRequest): string {
  const has = (o: unknown) => typeof o === 'object' && o !== null && 'dag_id' in o;
  if (has(request.params)) return 'params.dag_id';
  if (has(request.body)) return 'body.dag_id';
  return 'query.dag_id';
}

/** A ParamValidationError's field (`params.n`, `conf.n`) as the request path of the conf it came from. */
function paramField(request: FastifyRequest, field: string | undefined): string {
  const confAt = request.routeOptions.url?.startsWith('/api/v2/backfills') ? 'body.dag_run_conf' : 'body.conf';
  if (field === undefined) return confAt;
  return `${confAt}.${field.replace(/^(params|conf)\./, '')}`;
}

const OPERATION_FIELDS: Record<string, string> = {
  fromDate: 'body.from_date',
  toDate: 'body.to_date',
  reprocessBehavior: 'body.reprocess_behavior',
  maxActiveRuns: 'body.max_active_runs',
};

/** Seconds a client should wait before sending again a request the store could not serve. */
function retryAfterSeconds(error: unknown): number {
  const ms = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return Math.max(1, Math.ceil((typeof ms === 'number' ? ms : 1000) / 1000));
}

export function toErrorResponse(error: unknown, request: FastifyRequest): { status: number; body: ErrorBody; headers?: Record<string, string> } {
  const fe = error as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string };
  // The store could not be had for a while (a lock another process holds, throttling): try again later.
  if (error instanceof StoreUnavailableError || (error as { name?: unknown } | null)?.name === 'StoreUnavailableError') {
    return { status: 503, body: { detail: 'the state store is busy (another process holds it, or it is throttled): try again later', field: null }, headers: { 'retry-after': String(retryAfterSeconds(error)) } };
  }
  if (fe.validation) return { status: 400, body: describeValidation(fe.validationContext ?? 'request', fe.validation) };
  if (error instanceof HttpError) return { status: error.statusCode, body: { detail: error.detail, field: error.field } };
  if (error instanceof ParamValidationError) return { status: 400, body: { detail: error.message, field: paramField(request, error.location.field) } };
  if (error instanceof RunExistsError) {
    const body = request.body as { dag_run_id?: unknown } | undefined;
    return { status: 409, body: { detail: error.message, field: body?.dag_run_id === undefined ? null : 'body.dag_run_id' } };
  }
  if (error instanceof DagNotFoundError) return { status: 404, body: { detail: error.message, field: dagIdField(request) } };
  if (error instanceof OperationError) {
    const f = error.location.field;
    return { status: 400, body: { detail: error.message, field: f === undefined ? null : (OPERATION_FIELDS[f] ?? null) } };
  }
  if (error instanceof AirlessError) return { status: 400, body: { detail: error.message, field: null } };
  // Fastify's own client errors (malformed JSON, wrong content type, body too large...).
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500 && typeof fe.code === 'string' && fe.code.startsWith('FST_')) {
    return { status: fe.statusCode, body: { detail: fe.message ?? fe.code, field: fe.code.startsWith('FST_ERR_CTP') ? 'body' : null } };
  }
  if (error instanceof SyntaxError && fe.statusCode === 400) return { status: 400, body: { detail: `body is not valid JSON: ${error.message}`, field: 'body' } };
  return { status: 500, body: { detail: 'internal server error (the server logged it)', field: null } };
}

/**
 * Fastify's error handler: answer the error as JSON; log what is answered 500 (its URL and text with
 * secrets redacted: a `?token=` or a password in a connection string never reaches the log).
 */
export function errorHandler(logToStderr: boolean) {
  return async (error: unknown, request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const { status, body, headers } = toErrorResponse(error, request);
    if (headers) void reply.headers(headers);
    if (status === 503) {
      // Expected under contention: one line, no stack.
      const what = `${request.method} ${redactUrl(request.url)}: 503 ${redactText(errorMessage(error))}`;
      request.log.warn(what);
      if (logToStderr) process.stderr.write(`airless api: ${what}\n`);
    } else if (status >= 500) {
      const what = `${request.method} ${redactUrl(request.url)} failed`;
      request.log.error({ err: error }, what);
      if (logToStderr) process.stderr.write(`airless api: ${what}: ${redactText(error instanceof Error ? (error.stack ?? errorMessage(error)) : errorMessage(error))}\n`);
    }
    await reply.code(status).send(body);
  };
}

/** Fastify's `frameworkErrors`: the router's refusals (a malformed percent-escape 400, a too long path parameter 414) as `{ detail, field }`. */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toErrorResponse(error, request);
  void reply.code(status).send(body);
}
