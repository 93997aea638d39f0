/**
 * What the forms generated from params share (the trigger form's DAG params, a human-in-the-loop form's
 * fields): the params as one JSON Schema object for rjsf, and an API error's field as rjsf's error schema,
 * so that the server's message sits under the input it names.
 */
import type { ErrorSchema, RJSFSchema } from '@rjsf/utils';
import type { ApiError } from '../api.ts';

/**
 * The API's `field` under `prefix` (`body.conf.nchan` under `body.conf.`, `body.params_input.a.b` under
 * `body.params_input.`) as rjsf's error schema; null when the error names no field there.
 */
export function errorSchemaFor<T>(error: ApiError, prefix: string): ErrorSchema<T> | null {
  if (error.field === null || !error.field.startsWith(prefix)) return null;
  const path = error.field.slice(prefix.length).split('.');
  let leaf: Record<string, unknown> = { __errors: [error.detail] };
  for (const key of path.reverse()) leaf = { [key]: leaf };
  return leaf as ErrorSchema<T>;
}

/**
 * Params (a JSON Schema per field, with its default) as one object schema, as the API's `params_schema`
 * of a DAG is built: a field without a default is required, no other field is taken.
 */
export function paramsObjectSchema(params: Record<string, unknown>): RJSFSchema {
  const required = Object.entries(params)
    .filter(([, p]) => p === null || typeof p !== 'object' || !('default' in p))
    .map(([name]) => name);
  return { type: 'object', properties: params as RJSFSchema['properties'], ...(required.length ? { required } : {}), additionalProperties: false };
}
