import { XComSerializationError } from '../errors.ts';

/**
 * Check that a value is plain JSON (null, boolean, finite number, string, array, plain object) so that
 * what a task returns is exactly what its downstream tasks receive. Throws naming the offending path.
 */
export function checkJson(value: unknown, path = 'result', seen = new Set<object>()): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new XComSerializationError(`${path} is ${value}, which JSON cannot hold`);
    return;
  }
  if (value === undefined) throw new XComSerializationError(`${path} is undefined; use null`);
  if (typeof value !== 'object') throw new XComSerializationError(`${path} is a ${typeof value}, which is not JSON-serialisable`);
  if (seen.has(value)) throw new XComSerializationError(`${path} refers back to itself (a cycle)`);
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJson(value[i], `${path}[${i}]`, seen);
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = value.constructor?.name ?? 'object';
      const hint = value instanceof Date ? ' (use date.toISOString())' : value instanceof Map ? ' (use Object.fromEntries(map))' : '';
      throw new XComSerializationError(`${path} is a ${name}, which is not plain JSON${hint}`);
    }
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue; // dropped by JSON, as a missing field
      checkJson(v, `${path}.${k}`, seen);
    }
  }
  seen.delete(value);
}
