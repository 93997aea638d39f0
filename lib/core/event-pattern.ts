// EventBridge event patterns (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html):
// checking a pattern uses only what this matcher implements, and matching an event against it as EventBridge
// does. The asset watchers' rules use these patterns (cdk/asset-watchers.ts); the asset-events function finds
// which EventBridge watcher an event came through by matching it (lib/aws/asset-events.ts); the e2e harness
// delivers an event to the function only when a synthesized rule's pattern matches it, as EventBridge would.
//
// Implemented: exact values (strings, numbers, booleans, null), `prefix`, `suffix` (each also as
// `{"equals-ignore-case": ...}`), `equals-ignore-case`, `anything-but` (a value, a list, or `{prefix}` /
// `{suffix}`), `numeric` (`<`, `<=`, `=`, `>=`, `>` pairs), `exists`, `wildcard` (`*`), nested objects, and
// `$or`. An event value that is an array matches when one of its elements does. Not implemented: `cidr`
// (refused by checkEventPattern, naming it).

/** A pattern (or a fragment of one under a field). */
export type EventPattern = Record<string, unknown>;

const OPERATORS = new Set(['prefix', 'suffix', 'equals-ignore-case', 'anything-but', 'numeric', 'exists', 'wildcard']);
const NUMERIC_OPS = new Set(['<', '<=', '=', '>=', '>']);

/** An event pattern this matcher cannot evaluate, or that EventBridge would refuse; `path` names the field. */
export class EventPatternError extends Error {
  override name = 'EventPatternError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`event pattern ${path ? `field '${path}'` : ''}${path ? ': ' : ''}${message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isScalar = (v: unknown): v is string | number | boolean | null => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/**
 * Check that `pattern` is an event pattern this matcher evaluates exactly as EventBridge does: an object
 * whose leaves are non-empty arrays of values and operators listed above. Throws an {@link EventPatternError}
 * naming the field at fault.
 */
export function checkEventPattern(pattern: unknown, path = ''): asserts pattern is EventPattern {
  if (!isObject(pattern)) throw new EventPatternError(`must be an object, got ${JSON.stringify(pattern)}`, path);
  if (Object.keys(pattern).length === 0 && path === '') throw new EventPatternError('is empty: it would match every event', path);
  for (const [key, value] of Object.entries(pattern)) {
    const at = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2) throw new EventPatternError('$or takes a list of at least two patterns', at);
      value.forEach((p, i) => checkEventPattern(p, `${at}[${i}]`));
      continue;
    }
    if (isObject(value)) {
      checkEventPattern(value, at);
      continue;
    }
    if (!Array.isArray(value) || value.length === 0) throw new EventPatternError(`must be a non-empty list of values or an object, got ${JSON.stringify(value)}`, at);
    for (const m of value) checkMatcher(m, at);
  }
}

function checkMatcher(m: unknown, at: string): void {
  if (isScalar(m)) return;
  if (!isObject(m)) throw new EventPatternError(`a list of a pattern holds values or operator objects, got ${JSON.stringify(m)}`, at);
  const keys = Object.keys(m);
  if (keys.length !== 1) throw new EventPatternError(`an operator object has exactly one key, got ${JSON.stringify(m)}`, at);
  const op = keys[0]!;
  const arg = m[op];
  if (!OPERATORS.has(op)) throw new EventPatternError(`operator '${op}' is not supported (supported: ${[...OPERATORS].join(', ')})`, at);
  switch (op) {
    case 'prefix':
    case 'suffix':
      if (typeof arg === 'string') return;
      if (isObject(arg) && Object.keys(arg).length === 1 && typeof arg['equals-ignore-case'] === 'string') return;
      throw new EventPatternError(`'${op}' takes a string or {"equals-ignore-case": string}, got ${JSON.stringify(arg)}`, at);
    case 'equals-ignore-case':
    case 'wildcard':
      if (typeof arg === 'string') return;
      throw new EventPatternError(`'${op}' takes a string, got ${JSON.stringify(arg)}`, at);
    case 'exists':
      if (typeof arg === 'boolean') return;
      throw new EventPatternError(`'exists' takes true or false, got ${JSON.stringify(arg)}`, at);
    case 'anything-but':
      if (isScalar(arg) && arg !== null) return;
      if (Array.isArray(arg) && arg.length > 0 && arg.every((x) => typeof x === 'string' || typeof x === 'number')) return;
      if (isObject(arg) && Object.keys(arg).length === 1 && (typeof arg['prefix'] === 'string' || typeof arg['suffix'] === 'string')) return;
      throw new EventPatternError(`'anything-but' takes a value, a list of values, {"prefix": string} or {"suffix": string}, got ${JSON.stringify(arg)}`, at);
    case 'numeric': {
      if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0 || arg.length > 4) throw new EventPatternError(`'numeric' takes one or two (operator, number) pairs, got ${JSON.stringify(arg)}`, at);
      for (let i = 0; i < arg.length; i += 2) {
        if (typeof arg[i] !== 'string' || !NUMERIC_OPS.has(arg[i] as string) || typeof arg[i + 1] !== 'number') {
          throw new EventPatternError(`'numeric' takes pairs of an operator (<, <=, =, >=, >) and a number, got ${JSON.stringify(arg)}`, at);
        }
      }
      return;
    }
  }
}

/**
 * Whether `event` matches `pattern` as EventBridge decides: every field of the pattern matches (an object
 * field recursively; a list field when the event's value, or one element of it when it is a list, matches
 * one of the list's values or operators; `$or` when one of its patterns matches). Check the pattern first
 * with {@link checkEventPattern}: an operator it refuses matches nothing here.
 */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
  if (!isObject(event)) return false;
  for (const [key, spec] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!(spec as EventPattern[]).some((p) => matchesEventPattern(p, event))) return false;
      continue;
    }
    const present = Object.prototype.hasOwnProperty.call(event, key);
    const value = event[key];
    if (isObject(spec)) {
      if (!present || !isObject(value)) {
        // A nested pattern of only `exists: false` fields matches an absent object.
        if (!matchesAbsentObject(spec)) return false;
        continue;
      }
      if (!matchesEventPattern(spec, value)) return false;
      continue;
    }
    if (!matchesField(spec as unknown[], present, value)) return false;
  }
  return true;
}

function matchesAbsentObject(spec: EventPattern): boolean {
  return Object.entries(spec).every(([k, s]) => k !== '$or' && (isObject(s) ? matchesAbsentObject(s) : (s as unknown[]).some((m) => isObject(m) && m['exists'] === false)));
}

function matchesField(matchers: readonly unknown[], present: boolean, value: unknown): boolean {
  const values = Array.isArray(value) ? value : [value];
  return matchers.some((m) => {
    if (isObject(m) && 'exists' in m) return m['exists'] === (present && !(Array.isArray(value) && value.length === 0) && !isObject(value));
    if (!present) return false;
    return values.some((v) => matchesValue(m, v));
  });
}

function matchesValue(m: unknown, v: unknown): boolean {
  if (isScalar(m)) return m === v;
  if (!isObject(m)) return false;
  const op = Object.keys(m)[0] ?? '';
  const arg = m[op];
  switch (op) {
    case 'prefix':
    case 'suffix': {
      if (typeof v !== 'string') return false;
      const ignoreCase = isObject(arg);
      const s = ignoreCase ? String(arg['equals-ignore-case']).toLowerCase() : String(arg);
      const t = ignoreCase ? v.toLowerCase() : v;
      return op === 'prefix' ? t.startsWith(s) : t.endsWith(s);
    }
    case 'equals-ignore-case':
      return typeof v === 'string' && typeof arg === 'string' && v.toLowerCase() === arg.toLowerCase();
    case 'wildcard':
      return typeof v === 'string' && typeof arg === 'string' && wildcardRegExp(arg).test(v);
    case 'anything-but': {
      if (isObject(arg)) {
        if (typeof v !== 'string') return false;
        if (typeof arg['prefix'] === 'string') return !v.startsWith(arg['prefix']);
        if (typeof arg['suffix'] === 'string') return !v.endsWith(arg['suffix']);
        return false;
      }
      const excluded = Array.isArray(arg) ? arg : [arg];
      return !excluded.includes(v);
    }
    case 'numeric': {
      if (typeof v !== 'number') return false;
      const pairs = arg as (string | number)[];
      for (let i = 0; i < pairs.length; i += 2) {
        const n = pairs[i + 1] as number;
        const ok = { '<': v < n, '<=': v <= n, '=': v === n, '>=': v >= n, '>': v > n }[pairs[i] as '<'];
        if (!ok) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function wildcardRegExp(w: string): RegExp {
  return new RegExp(`^${w.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
}
