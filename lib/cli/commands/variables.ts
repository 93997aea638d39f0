/**
 * `airless variables get|set|list|delete|import|export`: the server's variables, through its API
 * (`/api/v2/variables`). As the API masks them, a sensitive variable's value (its key says password,
 * secret, token...) prints and exports as `***`; importing `***` for a variable that exists keeps its value.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ApiError } from '../../api/client.ts';
import { ok, requireRemote, type Remote, type RemoteOptions, type Schemas } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';

type Variable = Schemas['Variable'];

export interface VariablesOptions extends RemoteOptions {
  /** Print JSON (the API's objects; `get`: the value parsed as JSON). Default false. */
  json?: boolean;
  /** `get`: printed when the variable does not exist (instead of an error). Default: none. */
  default?: string;
  /** `set`: the variable's description. Default: none (kept when the variable exists). */
  description?: string;
}

/** Every variable (all pages). */
async function listAll(remote: Remote): Promise<Variable[]> {
  const out: Variable[] = [];
  for (;;) {
    const page = await ok(remote, remote.api.GET('/api/v2/variables', { params: { query: { limit: 1000, offset: out.length } } }));
    out.push(...page.variables);
    if (page.variables.length === 0 || out.length >= page.total_entries) return out;
  }
}

/** Create the variable, or update it when it exists. */
async function putVariable(remote: Remote, key: string, value: string, description: string | null | undefined): Promise<Variable> {
  try {
    return await ok(remote, remote.api.POST('/api/v2/variables', { body: { key, value, ...(description === undefined ? {} : { description }) } }));
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 409)) throw e;
    return ok(remote, remote.api.PATCH('/api/v2/variables/{variable_key}', { params: { path: { variable_key: key } }, body: { value, ...(description === undefined ? {} : { description }) } }));
  }
}

export async function variablesList(term: Terminal, o: VariablesOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const all = await listAll(await requireRemote(o));
  if (o.json) await term.out(`${JSON.stringify(all)}\n`);
  else await term.out(`${renderTable(['key', 'value', 'description'], all.map((v) => [v.key, oneLine(v.value), v.description ?? '']))}\n`);
  return EXIT.ok;
}

export async function variablesGet(term: Terminal, key: string, o: VariablesOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await requireRemote(o);
  let value: string;
  try {
    value = (await ok(remote, remote.api.GET('/api/v2/variables/{variable_key}', { params: { path: { variable_key: key } } }))).value;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404) || o.default === undefined) throw e;
    value = o.default;
  }
  if (o.json) {
    try {
      await term.out(`${JSON.stringify(JSON.parse(value))}\n`);
    } catch {
      throw new UsageError(`variable '${key}' is not JSON (asked for with --json): ${JSON.stringify(value.slice(0, 80))}`);
    }
  } else {
    await term.out(`${value}\n`);
  }
  return EXIT.ok;
}

export async function variablesSet(term: Terminal, key: string, value: string, o: VariablesOptions): Promise<number> {
  const v = await putVariable(await requireRemote(o), key, value, o.description);
  await term.out(`variable '${v.key}' set\n`);
  return EXIT.ok;
}

export async function variablesDelete(term: Terminal, key: string, o: VariablesOptions): Promise<number> {
  const remote = await requireRemote(o);
  await ok(remote, remote.api.DELETE('/api/v2/variables/{variable_key}', { params: { path: { variable_key: key } } }));
  await term.out(`variable '${key}' deleted\n`);
  return EXIT.ok;
}

/** A JSON file's object, or a UsageError naming the file. */
export function readJsonObject(file: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`${file} must hold a JSON object of ${what}`);
  return v as Record<string, unknown>;
}

/**
 * `variables import <file>`: Airflow's format, `{ "key": value, ... }`; a value that is not a string is
 * stored as its JSON text, and `{ "value": ..., "description": ... }` sets a description too.
 */
export async function variablesImport(term: Terminal, file: string, o: VariablesOptions): Promise<number> {
  const entries = Object.entries(readJsonObject(file, 'variables (key: value)'));
  const remote = await requireRemote(o);
  for (const [key, raw] of entries) {
    const described = typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'value' in raw && Object.keys(raw).every((k) => k === 'value' || k === 'description');
    const value = described ? (raw).value : raw;
    const description = described ? (raw as { description?: string | null }).description : undefined;
    if (description !== undefined && description !== null && typeof description !== 'string') throw new UsageError(`${file}: variable '${key}': description must be a string`);
    await putVariable(remote, key, typeof value === 'string' ? value : JSON.stringify(value), description);
  }
  await term.out(`${entries.length} variable${entries.length === 1 ? '' : 's'} imported from ${file}\n`);
  return EXIT.ok;
}

/** `variables export <file>`: `{ "key": value }`, a value that is JSON written as JSON (Airflow's format). */
export async function variablesExport(term: Terminal, file: string, o: VariablesOptions): Promise<number> {
  const all = await listAll(await requireRemote(o));
  const out: Record<string, unknown> = {};
  for (const v of all) {
    try {
      out[v.key] = JSON.parse(v.value);
    } catch {
      out[v.key] = v.value;
    }
  }
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  await term.out(`${all.length} variable${all.length === 1 ? '' : 's'} exported to ${file}\n`);
  return EXIT.ok;
}

function oneLine(s: string): string {
  const line = s.replace(/\s*\n\s*/g, ' ');
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}
