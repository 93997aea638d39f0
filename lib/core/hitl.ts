// The pure rules of human-in-the-loop tasks: is an answer acceptable, what a timeout takes, was an approval
// rejected. The scheduler (respond, timeout), the task's executor and the API share them.

import { Ajv, type ValidateFunction } from 'ajv';
import type { ParamSchema } from '../model/spec.ts';

/** What a request asks: the parts of a `HitlSpec` (and of a stored request) an answer is checked against. */
export interface HitlQuestion {
  options: readonly string[];
  multiple: boolean;
  defaults: readonly string[] | null;
  params: Record<string, ParamSchema> | null;
  assignedTo: readonly string[];
}

/** The answer as stored and as the task's result (its XCom). */
export interface HitlResponse {
  chosenOptions: string[];
  paramsInput: Record<string, unknown>;
  respondedBy: string | null;
  /** ISO-8601 instant. */
  respondedAt: string;
  timedOut: boolean;
  /**
   * Set when the request closed without an answer, saying why: its instance stopped waiting for it
   * (marked, cleared, failed with its run). Such a response is never a task's result.
   */
  closed?: string;
}

/** Why an answer is refused: the field at fault (`chosen_options`, `params_input.<name>`) and what is wrong. */
export interface HitlAnswerProblem {
  field: string;
  detail: string;
}

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false });
const cache = new WeakMap<object, ValidateFunction>();

function validator(schema: ParamSchema): ValidateFunction {
  let v = cache.get(schema);
  if (!v) cache.set(schema, (v = ajv.compile(schema)));
  return v;
}

/**
 * Check an answer against its question: the options chosen (at least one, each among the options, one
 * unless `multiple`), and the form's values (each field's default filled in where none is given, every
 * value valid by its schema, no field that is not a param). The values to store, or the first problem.
 */
export function checkHitlAnswer(
  q: HitlQuestion,
  answer: { chosenOptions: readonly unknown[]; paramsInput: Record<string, unknown> },
): { ok: true; chosenOptions: string[]; paramsInput: Record<string, unknown> } | { ok: false; problem: HitlAnswerProblem } {
  const chosen = answer.chosenOptions;
  const refuse = (field: string, detail: string) => ({ ok: false as const, problem: { field, detail } });
  if (!Array.isArray(chosen) || chosen.length === 0) return refuse('chosen_options', `choose ${q.multiple ? 'at least one' : 'one'} of ${list(q.options)}`);
  for (const c of chosen) {
    if (typeof c !== 'string' || !q.options.includes(c)) return refuse('chosen_options', `${JSON.stringify(c)} is not an option (options: ${list(q.options)})`);
  }
  const unique = [...new Set(chosen as string[])];
  if (!q.multiple && unique.length > 1) return refuse('chosen_options', `only one option can be chosen, got ${unique.length} (${list(unique)})`);
  const params = q.params ?? {};
  const input = answer.paramsInput;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return refuse('params_input', 'expected an object of field values');
  for (const k of Object.keys(input)) {
    if (!Object.hasOwn(params, k)) {
      const names = Object.keys(params);
      return refuse(`params_input.${k}`, `'${k}' is not a field of this request (fields: ${names.length ? names.join(', ') : 'none'})`);
    }
  }
  const values: [string, unknown][] = [];
  for (const [name, schema] of Object.entries(params)) {
    const given = Object.hasOwn(input, name);
    if (!given && !Object.hasOwn(schema, 'default')) return refuse(`params_input.${name}`, `field '${name}' is required (it has no default)`);
    const value = given ? input[name] : structuredClone(schema.default);
    const v = validator(schema);
    if (!v(value)) {
      const why = (v.errors ?? []).map((e) => `${e.instancePath || 'value'} ${e.message ?? 'is invalid'}`.trim()).join('; ');
      return refuse(`params_input.${name}`, `field '${name}' = ${JSON.stringify(value)} is invalid: ${why}`);
    }
    values.push([name, value]);
  }
  return { ok: true, chosenOptions: unique, paramsInput: Object.fromEntries(values) };
}

/** Whether `user` may answer (anyone when nobody is assigned; an unknown caller only then). */
export function mayAnswer(q: Pick<HitlQuestion, 'assignedTo'>, user: string | null): boolean {
  return q.assignedTo.length === 0 || (user !== null && q.assignedTo.includes(user));
}

/**
 * What a timeout records: the defaults (each field's default as its value) with `timedOut`, or, without
 * defaults, no option at all (`timedOut`: the try then fails with a HitlTimeoutError).
 */
export function timeoutResponse(q: HitlQuestion, at: string): HitlResponse {
  const paramsInput = q.defaults === null ? {} : Object.fromEntries(Object.entries(q.params ?? {}).map(([k, s]) => [k, structuredClone(s.default) ?? null]));
  return { chosenOptions: q.defaults === null ? [] : [...q.defaults], paramsInput, respondedBy: null, respondedAt: at, timedOut: true };
}

/** What closes a request whose instance stopped waiting for it: no answer, the reason why. */
export function closedResponse(reason: string, at: string): HitlResponse {
  return { chosenOptions: [], paramsInput: {}, respondedBy: null, respondedAt: at, timedOut: false, closed: reason };
}

/** Whether an approval's answer rejects (its second option chosen). */
export function isRejection(spec: { mode: string; options: readonly string[] }, response: Pick<HitlResponse, 'chosenOptions'>): boolean {
  return spec.mode === 'approval' && response.chosenOptions.includes(spec.options[1]!);
}

function list(xs: readonly string[]): string {
  return xs.map((x) => `'${x}'`).join(', ');
}
