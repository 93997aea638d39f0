import { readFileSync, writeFileSync } from 'node:fs';
import { ApiError } from '../../api/client.ts';
import { poolNameProblem, poolSlotsProblem } from '../../scheduler/pool-rules.ts';
import { displayPath } from '../format.ts';
import { ok, requireRemote, type Remote, type RemoteOptions, type Schemas } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export interface PoolsOptions extends RemoteOptions {
  /** Print the API's Pool object(s) as JSON. Default false. */
  json?: boolean;
}

export interface PoolsSetOptions extends PoolsOptions {
  /** The pool's description. Default: kept when the pool exists, else none. */
  description?: string;
}

type Pool = Schemas['Pool'];

/** SLOTS as given on the command line: an integer >= 0, or -1 (unlimited). */
export function parsePoolSlots(text: string): number {
  const n = /^-?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  const problem = poolSlotsProblem(Number.isNaN(n) ? text : n);
  if (problem !== null) throw new UsageError(`SLOTS: ${problem.replace(/got .*$/, `got '${text}'`)}`);
  return n;
}

function checkName(name: string): void {
  const problem = poolNameProblem(name);
  if (problem !== null) throw new UsageError(problem);
}

export const POOL_HEADERS = ['pool', 'slots', 'running', 'queued', 'open', 'description'];

function slotsLabel(n: number): string {
  return n === -1 ? 'unlimited' : `${n}`;
}

/** A row of the pools table. */
export function poolRow(p: Pool): string[] {
  return [p.name, slotsLabel(p.slots), `${p.running_slots}`, `${p.queued_slots}`, slotsLabel(p.open_slots), p.description ?? ''];
}

async function printPools(term: Terminal, pools: readonly Pool[], json: boolean, one: boolean): Promise<void> {
  if (json) await term.out(`${JSON.stringify(one ? pools[0] : pools)}\n`);
  else await term.out(`${renderTable(POOL_HEADERS, pools.map(poolRow), { alignRight: [1, 2, 3, 4] })}\n`);
}

/** Create the pool, or change it when it exists (PATCH, else POST). */
async function putPool(remote: Remote, name: string, slots: number, description: string | undefined): Promise<{ pool: Pool; created: boolean }> {
  try {
    const pool = await ok(remote, remote.api.PATCH('/api/v2/pools/{pool_name}', { params: { path: { pool_name: name } }, body: { slots, ...(description !== undefined ? { description } : {}) } }));
    return { pool, created: false };
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
  const pool = await ok(remote, remote.api.POST('/api/v2/pools', { body: { name, slots, ...(description !== undefined ? { description } : {}) } }));
  return { pool, created: true };
}

/** `airless pools set NAME SLOTS [--description D]`: create the pool, or change its slots (and description). */
export async function poolsSet(term: Terminal, name: string, slotsText: string, o: PoolsSetOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  checkName(name);
  const slots = parsePoolSlots(slotsText);
  const remote = await requireRemote(o);
  const { pool, created } = await putPool(remote, name, slots, o.description);
  if (o.json) await term.out(`${JSON.stringify(pool)}\n`);
  else await term.out(`Pool '${pool.name}' ${created ? 'created' : 'set'}: ${slotsLabel(pool.slots)} slots${pool.occupied_slots > pool.slots && pool.slots !== -1 ? ` (tries hold ${pool.occupied_slots}: they run on, and none starts until fewer do)` : ''}\n`);
  return EXIT.ok;
}

/** `airless pools get NAME`. */
export async function poolsGet(term: Terminal, name: string, o: PoolsOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await requireRemote(o);
  const pool = await ok(remote, remote.api.GET('/api/v2/pools/{pool_name}', { params: { path: { pool_name: name } } }));
  await printPools(term, [pool], o.json === true, true);
  return EXIT.ok;
}

async function allPools(remote: Remote): Promise<Pool[]> {
  const out: Pool[] = [];
  for (;;) {
    const page = await ok(remote, remote.api.GET('/api/v2/pools', { params: { query: { limit: 1000, offset: out.length } } }));
    out.push(...page.pools);
    if (page.pools.length === 0 || out.length >= page.total_entries) return out;
  }
}

/** `airless pools list`. */
export async function poolsList(term: Terminal, o: PoolsOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await requireRemote(o);
  await printPools(term, await allPools(remote), o.json === true, false);
  return EXIT.ok;
}

/** `airless pools delete NAME`. */
export async function poolsDelete(term: Terminal, name: string, o: PoolsOptions): Promise<number> {
  const remote = await requireRemote(o);
  await ok(remote, remote.api.DELETE('/api/v2/pools/{pool_name}', { params: { path: { pool_name: name } } }));
  await term.out(`Pool '${name}' deleted\n`);
  return EXIT.ok;
}

/** Airflow's pools file: `{ "<name>": { "slots": n, "description": "..." } }`. */
export type PoolsFile = Record<string, { slots: number; description?: string; include_deferred?: boolean }>;

/** The pools of an Airflow pools file, checked: a UsageError naming the file and the pool at fault. */
export function parsePoolsFile(text: string, file: string): { name: string; slots: number; description: string }[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`${file}: expected an object of pools, { "<name>": { "slots": <n>, "description": "..." } }`);
  return Object.entries(data).map(([name, v]) => {
    const where = `${file}: pool '${name}'`;
    const problem = poolNameProblem(name);
    if (problem !== null) throw new UsageError(`${where}: ${problem}`);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`${where}: expected { "slots": <n>, "description": "..." }`);
    const { slots, description, include_deferred: deferred, ...rest } = v as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length) throw new UsageError(`${where}: unknown field(s) ${unknown.join(', ')} (fields: slots, description, include_deferred)`);
    const slotsProblem = poolSlotsProblem(slots);
    if (slotsProblem !== null) throw new UsageError(`${where}: ${slotsProblem}`);
    if (description !== undefined && description !== null && typeof description !== 'string') throw new UsageError(`${where}: description must be a string`);
    if (deferred === true) throw new UsageError(`${where}: include_deferred true is not supported (deferred instances hold no slot)`);
    return { name, slots: slots as number, description: description ?? '' };
  });
}

/** `airless pools import FILE`: create or change every pool of an Airflow pools file. */
export async function poolsImport(term: Terminal, file: string, o: PoolsOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${displayPath(file)}: ${(e as Error).message}`);
  }
  const pools = parsePoolsFile(text, displayPath(file));
  const remote = await requireRemote(o);
  const done: Pool[] = [];
  for (const p of pools) done.push((await putPool(remote, p.name, p.slots, p.description)).pool);
  if (o.json) await term.out(`${JSON.stringify(done)}\n`);
  else await term.out(`${done.length} pool(s) imported: ${done.map((p) => p.name).join(', ') || 'none'}\n`);
  return EXIT.ok;
}

/** `airless pools export FILE`: every pool, as an Airflow pools file. */
export async function poolsExport(term: Terminal, file: string, o: PoolsOptions): Promise<number> {
  const remote = await requireRemote(o);
  const pools = await allPools(remote);
  const out: PoolsFile = {};
  for (const p of pools) out[p.name] = { slots: p.slots, description: p.description ?? '', include_deferred: false };
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  await term.out(`${pools.length} pool(s) exported to ${displayPath(file)}\n`);
  return EXIT.ok;
}
