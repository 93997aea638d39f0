import type { InputTemplate, XComRefSpec } from '../model/spec.ts';

export const XCOM_ARG = Symbol.for('airless.XComArg');

/**
 * A reference to an upstream task's result, resolved when the downstream task runs. Passing one to a
 * task makes that task depend on the upstream.
 */
export interface XComArg<T> {
  readonly [XCOM_ARG]: true;
  readonly taskId: string;
  readonly key: string;
  /** Type only: the value this resolves to. */
  readonly __type?: T;
}

/** A value, or an XComArg of it, at any depth of objects and arrays. */
export type Resolvable<T> =
  | T
  | XComArg<T>
  | (T extends readonly (infer E)[] ? Resolvable<E>[] : never)
  | (T extends Record<string, unknown> ? { [K in keyof T]: Resolvable<T[K]> } : never);

/** For `.expand({ name: list })`: each field is a list (or an XComArg of one) of that field's values. */
export type ExpandKwargs<I> = { [K in keyof I]: Resolvable<I[K][]> };

export function isXComArg(v: unknown): v is XComArg<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && (v as Record<symbol, unknown>)[XCOM_ARG] === true;
}

export function xcomArg<T>(taskId: string, key = 'return_value'): XComArg<T> {
  return { [XCOM_ARG]: true, taskId, key };
}

/** Encode an input value (which may hold XComArgs) as a serialisable template; collect referenced tasks. */
export function toTemplate(value: unknown, refs: Set<string>, path = 'input'): InputTemplate {
  if (isXComArg(value)) {
    refs.add(value.taskId);
    const ref: XComRefSpec = { taskId: value.taskId, key: value.key };
    return { $xcom: ref };
  }
  if (typeof value === 'function') {
    // A task handle is itself an XComArg; any other function is not serialisable.
    throw new TypeError(`${path}: a function cannot be a task input`);
  }
  if (Array.isArray(value)) return value.map((v, i) => toTemplate(v, refs, `${path}[${i}]`));
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toTemplate(v, refs, `${path}.${k}`);
    return '$xcom' in out ? { $literal: out } : out;
  }
  if (typeof value === 'bigint' || typeof value === 'symbol') {
    throw new TypeError(`${path}: a ${typeof value} cannot be a task input`);
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new TypeError(`${path}: ${value} is not JSON-serialisable`);
  }
  return value;
}

/** Task ids an input template refers to. */
export function templateRefs(t: InputTemplate, out: XComRefSpec[] = []): XComRefSpec[] {
  if (Array.isArray(t)) {
    for (const v of t) templateRefs(v, out);
  } else if (typeof t === 'object' && t !== null) {
    const o = t as Record<string, unknown>;
    if ('$xcom' in o && Object.keys(o).length === 1) out.push(o['$xcom'] as XComRefSpec);
    else if ('$literal' in o && Object.keys(o).length === 1) templateRefs(o['$literal'], out);
    else for (const v of Object.values(o)) templateRefs(v, out);
  }
  return out;
}

/** Resolve a template with a lookup for XCom references (already fetched). */
export function resolveTemplate(t: InputTemplate, lookup: (ref: XComRefSpec) => unknown): unknown {
  if (Array.isArray(t)) return t.map((v) => resolveTemplate(v, lookup));
  if (typeof t === 'object' && t !== null) {
    const o = t as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$xcom') return lookup(o['$xcom'] as XComRefSpec);
    if (keys.length === 1 && keys[0] === '$literal') {
      const lit: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o['$literal'] as Record<string, unknown>)) lit[k] = resolveTemplate(v, lookup);
      return lit;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = resolveTemplate(v, lookup);
    return out;
  }
  return t;
}
