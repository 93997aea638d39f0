import { palette, useColor, type Palette } from '../ansi.ts';
import { ASSET_ID_PATTERN, ASSET_URI_PATTERN } from '../../api/asset-schemas.ts';
import { assetId } from '../../model/asset.ts';
import { paintState } from '../format.ts';
import { ok, requireRemote, type Remote, type RemoteOptions, type Schemas } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';
import { tableTime } from './dags-list-runs.ts';
import { failedTasks, renderWatchSummary, watchRun } from './run-watch.ts';

export interface AssetsOptions extends RemoteOptions {
  /** Only assets whose uri contains this (SQL LIKE: '%' any text, '_' one character; any case). Default: every asset. */
  uriPattern?: string;
  /** Only assets this DAG consumes or produces. Default: every asset. */
  dagId?: string;
  /** Print the API's objects as JSON. Default false. */
  json?: boolean;
}

export interface AssetEventsOptions extends RemoteOptions {
  /** Only events the tasks of this DAG recorded. Default: every source. */
  dagId?: string;
  /** Only events the tasks of this run recorded. Default: every source. */
  runId?: string;
  /** Only events this task recorded. Default: every source. */
  taskId?: string;
  /** At most this many events, newest first. Default 100. */
  limit?: number;
  /** Print a JSON array of the API's AssetEvent objects. Default false. */
  json?: boolean;
}

export interface MaterializeOptions extends RemoteOptions {
  /** Follow the run until it ends; exit 0 if it succeeded, 1 if it failed. Default false. */
  wait?: boolean;
  /** Print the API's DAGRun object (with --wait, the finished run). Default false. */
  json?: boolean;
}

export interface CreateEventOptions extends RemoteOptions {
  /** The event's extra, a JSON object. Default '{}'. */
  extra?: string;
  /** An event created again with this key records nothing more. Default: a new event each time. */
  dedupeKey?: string;
  /** Print the API's AssetEvent object. Default false. */
  json?: boolean;
}

type Asset = Schemas['Asset'];
type AssetEvent = Schemas['AssetEvent'];

/** An ASSET argument: its uri (and the id derived from it) or its id; a UsageError for anything else. */
export function parseAssetArg(text: string): { id: string; uri: string | null } {
  if (new RegExp(ASSET_ID_PATTERN).test(text)) return { id: text, uri: null };
  if (new RegExp(ASSET_URI_PATTERN).test(text)) return { id: assetId(text), uri: text };
  throw new UsageError(`ASSET must be an asset's uri (a scheme, then no whitespace: s3://bucket/key) or its id (16 hex characters, as \`airless assets list\` shows); got '${text}'`);
}

/** `--extra`: a JSON object (default `{}`); anything else is a UsageError saying what was wrong. */
export function parseExtra(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--extra is not valid JSON (${(e as Error).message}): ${text}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new UsageError(`--extra must be a JSON object such as '{"rows": 42}', got ${got}`);
  }
  return value as Record<string, unknown>;
}

export const ASSET_HEADERS = ['id', 'uri', 'group', 'producing_tasks', 'consuming_dags', 'last_event'];

/** A row of the assets table. */
export function assetRow(a: Asset): string[] {
  return [
    a.id,
    a.name === a.uri ? a.uri : `${a.uri} (${a.name})`,
    a.group,
    a.producing_tasks.map((t) => `${t.dag_id}.${t.task_id}`).join(', '),
    a.consuming_dags.map((d) => d.dag_id).join(', '),
    a.last_asset_event === null ? '' : tableTime(a.last_asset_event.timestamp),
  ];
}

/** Where an event came from, in a few words. */
export function eventSource(e: AssetEvent): string {
  if (e.source_kind === 'task') return `${e.source_dag_id ?? ''}.${e.source_task_id ?? ''}${e.source_map_index >= 0 ? `[${e.source_map_index}]` : ''} (${e.source_run_id ?? ''})`;
  if (e.source_kind === 'api') return typeof e.source_detail['user'] === 'string' ? `api (${e.source_detail['user']})` : 'api';
  const watcher = typeof e.source_detail['watcher'] === 'string' ? e.source_detail['watcher'] : '';
  return `watcher ${watcher}`.trim();
}

export const EVENT_HEADERS = ['timestamp', 'uri', 'source', 'extra', 'created_runs'];

export function eventRow(e: AssetEvent, p: Palette): string[] {
  return [
    tableTime(e.timestamp),
    e.uri,
    eventSource(e),
    Object.keys(e.extra).length === 0 ? '' : JSON.stringify(e.extra),
    e.created_dagruns.map((r) => `${r.dag_id}/${r.run_id} ${paintState(r.state, p)}`).join(', '),
  ];
}

async function allAssets(remote: Remote, o: AssetsOptions): Promise<Asset[]> {
  const out: Asset[] = [];
  const filters = { ...(o.uriPattern !== undefined ? { uri_pattern: o.uriPattern } : {}), ...(o.dagId !== undefined ? { dag_ids: [o.dagId] } : {}) };
  for (;;) {
    const page = await ok(remote, remote.api.GET('/api/v2/assets', { params: { query: { limit: 1000, offset: out.length, ...filters } } }));
    out.push(...page.assets);
    if (page.assets.length === 0 || out.length >= page.total_entries) return out;
  }
}

/** `airless assets list`. */
export async function assetsList(term: Terminal, o: AssetsOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await requireRemote(o);
  const assets = await allAssets(remote, o);
  if (o.json) await term.out(`${JSON.stringify(assets)}\n`);
  else if (assets.length === 0) await term.out(o.uriPattern !== undefined || o.dagId !== undefined ? 'No asset matches\n' : "No assets: a DAG declares one with asset() in its schedule or a task's outlets\n");
  else await term.out(`${renderTable(ASSET_HEADERS, assets.map(assetRow))}\n`);
  return EXIT.ok;
}

/** `airless assets events [ASSET]`: newest first. */
export async function assetsEvents(term: Terminal, asset: string | undefined, o: AssetEventsOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const id = asset === undefined ? undefined : parseAssetArg(asset).id;
  const remote = await requireRemote(o);
  const query = {
    limit: o.limit ?? 100,
    order_by: '-timestamp' as const,
    ...(id !== undefined ? { asset_id: id } : {}),
    ...(o.dagId !== undefined ? { source_dag_id: o.dagId } : {}),
    ...(o.runId !== undefined ? { source_run_id: o.runId } : {}),
    ...(o.taskId !== undefined ? { source_task_id: o.taskId } : {}),
  };
  const { asset_events: events } = await ok(remote, remote.api.GET('/api/v2/assets/events', { params: { query } }));
  if (o.json) await term.out(`${JSON.stringify(events)}\n`);
  else if (events.length === 0) await term.out(`No asset events${asset !== undefined ? ` of ${asset}` : ''}\n`);
  else await term.out(`${renderTable(EVENT_HEADERS, events.map((e) => eventRow(e, palette(useColor(term.stdout)))))}\n`);
  return EXIT.ok;
}

/** `airless assets materialize ASSET`: trigger the DAG that produces it (and follow the run with --wait). */
export async function assetsMaterialize(term: Terminal, asset: string, o: MaterializeOptions): Promise<number> {
  const json = o.json === true;
  if (json) term.reserveStdout();
  const { id } = parseAssetArg(asset);
  const remote = await requireRemote(o);
  const run = await ok(remote, remote.api.POST('/api/v2/assets/{asset_id}/materialize', { params: { path: { asset_id: id } } }));
  const p = palette(!json && useColor(term.stdout));
  if (!o.wait) {
    await term.out(json ? `${JSON.stringify(run)}\n` : `Materializing ${asset}: triggered DAG '${run.dag_id}', run ${p.bold(run.dag_run_id)} ${paintState(run.state, p)}\n`);
    return EXIT.ok;
  }
  if (!json) await term.out(`Materializing ${asset}: triggered DAG '${run.dag_id}', run ${p.bold(run.dag_run_id)}; following it on ${remote.target.description}\n`);
  const result = await watchRun(term, remote, run.dag_id, run.dag_run_id, p, json);
  if (json) {
    await term.out(`${JSON.stringify(result.run)}\n`);
    for (const line of await failedTasks(remote, result.tis, p)) await term.err(`${line}\n`);
  } else {
    await term.out(`\n${await renderWatchSummary(remote, result, p)}\n`);
  }
  return result.run.state === 'success' ? EXIT.ok : EXIT.failed;
}

/** `airless assets create-event ASSET [--extra JSON] [--dedupe-key KEY]`. */
export async function assetsCreateEvent(term: Terminal, asset: string, o: CreateEventOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const target = parseAssetArg(asset);
  const extra = parseExtra(o.extra);
  const remote = await requireRemote(o);
  const body = { ...(target.uri !== null ? { uri: target.uri } : { asset_id: target.id }), extra, ...(o.dedupeKey !== undefined ? { dedupe_key: o.dedupeKey } : {}) };
  const request = remote.api.POST('/api/v2/assets/events', { body });
  const event = await ok(remote, request);
  // 201: recorded; 200: the dedupe key was seen before (the first event is answered).
  const { response } = await request;
  if (o.json) {
    await term.out(`${JSON.stringify(event)}\n`);
    return EXIT.ok;
  }
  const p = palette(useColor(term.stdout));
  if (response.status === 200) {
    await term.out(`An event of ${event.uri} with dedupe key '${o.dedupeKey ?? ''}' was recorded before (${tableTime(event.timestamp)}): nothing recorded\n`);
    return EXIT.ok;
  }
  const runs = event.created_dagruns.map((r) => `${r.dag_id} (run ${p.bold(r.run_id)})`);
  await term.out(`Event of ${event.uri} recorded at ${tableTime(event.timestamp)}; ${runs.length === 0 ? 'it started no run' : `it started ${runs.join(', ')}`}\n`);
  return EXIT.ok;
}
