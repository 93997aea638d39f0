import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { DagDefinitionError, ParamValidationError, type ErrorLocation } from '../errors.ts';
import type { ParamSchema } from '../model/spec.ts';

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false });
const cache = new WeakMap<object, ValidateFunction>();

function validatorFor(schema: ParamSchema, loc: ErrorLocation): ValidateFunction {
  let v = cache.get(schema);
  if (!v) {
    try {
      v = ajv.compile(schema);
    } catch (e) {
      throw new DagDefinitionError(`invalid JSON Schema: ${(e as Error).message}`, loc);
    }
    cache.set(schema, v);
  }
  return v;
}

function describe(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || 'value'} ${e.message ?? 'is invalid'}`.trim()).join('; ');
}

/** Check every param's schema compiles and its default satisfies it (import time). */
export function checkParamSchemas(params: Record<string, ParamSchema>, loc: ErrorLocation): void {
  for (const [name, schema] of Object.entries(params)) {
    const at = { ...loc, field: `params.${name}` };
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      throw new DagDefinitionError(`expected a JSON Schema object with a default`, at);
    }
    const v = validatorFor(schema, at);
    if (Object.hasOwn(schema, 'default') && !v(schema.default)) {
      throw new DagDefinitionError(`default ${JSON.stringify(schema.default)} fails its own schema: ${describe(v.errors)}`, at);
    }
  }
}

/**
 * The params a run sees: each param's default, overridden by the conf given at trigger, each value
 * validated against its schema. Conf keys that are not params stay in the conf (as in Airflow) unless
 * `strict` (the DAG's strictConf), which refuses them, naming the first (a typo would otherwise be lost).
 */
export function resolveParams(
  params: Record<string, ParamSchema>,
  conf: Record<string, unknown>,
  loc: ErrorLocation,
  strict = false,
): Record<string, unknown> {
  if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) {
    throw new ParamValidationError(`conf must be a JSON object, got ${Array.isArray(conf) ? 'an array' : typeof conf}`, loc);
  }
  // Own keys only: a conf key named like an Object.prototype member ('toString') is no param.
  const unknown = Object.keys(conf).filter((k) => !Object.hasOwn(params, k));
  if (strict && unknown.length) {
    const known = Object.keys(params);
    throw new ParamValidationError(
      `conf key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not a param of this DAG (params: ${known.length ? known.join(', ') : 'none'})`,
      { ...loc, field: `conf.${unknown[0]}` },
    );
  }
  const out: [string, unknown][] = [];
  for (const [name, schema] of Object.entries(params)) {
    const at = { ...loc, field: `params.${name}` };
    const given = Object.hasOwn(conf, name);
    if (!given && !Object.hasOwn(schema, 'default')) throw new ParamValidationError(`param '${name}' has no default and was not given in conf`, at);
    const value = given ? conf[name] : structuredClone(schema.default);
    const v = validatorFor(schema, at);
    if (!v(value)) {
      throw new ParamValidationError(`param '${name}' = ${JSON.stringify(value)} is invalid: ${describe(v.errors)}`, at);
    }
    out.push([name, value]);
  }
  // Own properties whatever the names (a param named '__proto__' is a key, not the prototype).
  return Object.fromEntries(out);
}

/** The TypeScript type a param schema describes (best effort from its `type` / `enum`). */
export type ParamValue<S> = S extends { enum: readonly (infer E)[] }
  ? E
  : S extends { type: 'integer' | 'number' }
    ? number
    : S extends { type: 'string' }
      ? string
      : S extends { type: 'boolean' }
        ? boolean
        : S extends { type: 'array'; items: infer It }
          ? ParamValue<It>[]
          : S extends { type: 'array' }
            ? unknown[]
            : S extends { type: 'object' }
              ? Record<string, unknown>
              : S extends { type: 'null' }
                ? null
                : S extends { default: infer D }
                  ? D
                  : unknown;

export type ParamValues<PS> = { readonly [K in keyof PS]: ParamValue<PS[K]> };
