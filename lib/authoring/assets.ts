// Authoring assets (Airflow 3's data-aware scheduling): `asset()`, conditions over assets (`and`, `or`,
// `a.and(b)`, `a.or(b)`), `assetOrTime()`, the watchers that turn outside changes into events, and the
// checks `dag()` runs on them (every error a DagDefinitionError naming the DAG, the task and the field).

import { fileURLToPath } from 'node:url';
import { DagDefinitionError, type ErrorLocation } from '../errors.ts';
import { checkAssetUri, uriScheme, type AssetConditionSpec, type AssetSpec, type AssetWatcherSpec } from '../model/asset.ts';
import { canonicalJson } from '../model/hash.ts';
import { parseSchedule, type Schedule } from '../model/schedule.ts';
import type { ScheduleSpec } from '../model/spec.ts';

const CONDITION_BRAND = Symbol.for('airless.AssetCondition');
const OR_TIME_BRAND = Symbol.for('airless.AssetOrTime');
const WATCHER_BRAND = Symbol.for('airless.AssetWatcher');

/** A condition over assets: an asset, or `and`/`or` of conditions. A DAG's `schedule` can be one. */
export abstract class AssetCondition {
  readonly [CONDITION_BRAND] = true;
  /** This condition and each of `others` (Airflow's `a & b`). */
  and(...others: AssetCondition[]): AssetCondition {
    return new AssetAll([this, ...others]);
  }
  /** This condition or any of `others` (Airflow's `a | b`). */
  or(...others: AssetCondition[]): AssetCondition {
    return new AssetAny([this, ...others]);
  }
}

/** Options of {@link asset}. */
export interface AssetOptions {
  /**
   * A name to show (Airflow's asset name).
   * @default the uri
   */
  name?: string;
  /**
   * A group to show the asset in.
   * @default 'asset'
   */
  group?: string;
  /**
   * Static metadata about the asset (plain JSON).
   * @default {}
   */
  extra?: Record<string, unknown>;
  /**
   * What records events of the asset when it changes outside airless: `s3Watcher()`, `sqsWatcher()`,
   * `eventBridgeWatcher()`, `fileWatcher()`.
   * @default none
   */
  watchers?: readonly AssetWatcher[];
}

/** An asset: data that tasks update (their `outlets`) and DAGs are scheduled on. */
export class Asset extends AssetCondition {
  constructor(
    readonly uri: string,
    readonly options: AssetOptions,
  ) {
    super();
  }
}

/** Each of the conditions (Airflow's `AssetAll`). */
export class AssetAll extends AssetCondition {
  constructor(readonly conditions: readonly unknown[]) {
    super();
  }
}

/** Any of the conditions (Airflow's `AssetAny`). */
export class AssetAny extends AssetCondition {
  constructor(readonly conditions: readonly unknown[]) {
    super();
  }
}

/**
 * Declare an asset by its uri (its identity: a scheme and no spaces, e.g. `s3://bucket/key`,
 * `file:///data/x.csv`, `postgres://db/schema/table`). Checked by `dag()`, where it is used.
 */
export function asset(uri: string, options: AssetOptions = {}): Asset {
  return new Asset(uri, options);
}

/** Each of the conditions (`and(a, b.or(c))` is Airflow's `a & (b | c)`). */
export function and(...conditions: AssetCondition[]): AssetCondition {
  return new AssetAll(conditions);
}

/** Any of the conditions (`or(a, b)` is Airflow's `a | b`). */
export function or(...conditions: AssetCondition[]): AssetCondition {
  return new AssetAny(conditions);
}

export function isAssetCondition(v: unknown): v is AssetCondition {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[CONDITION_BRAND] === true;
}

export function isAsset(v: unknown): v is Asset {
  return isAssetCondition(v) && v instanceof Asset;
}

/** Options of {@link assetOrTime}. */
export interface AssetOrTimeOptions {
  /** The time part: a cron string, a preset, `rate(...)` or `{ cron, timezone }`. */
  schedule: Exclude<Schedule, null>;
  /** The asset part: runs are also created whenever this condition holds. */
  assets: AssetCondition;
}

/** A schedule on time and on assets (Airflow's `AssetOrTimeSchedule`). */
export interface AssetOrTime {
  readonly [OR_TIME_BRAND]: true;
  readonly schedule: Exclude<Schedule, null>;
  readonly assets: AssetCondition;
}

/**
 * Schedule a DAG on time and on assets: a run at every instant of `schedule` (as a cron or rate schedule
 * alone), and a run whenever `assets` holds (an `asset_triggered` run).
 */
export function assetOrTime(options: AssetOrTimeOptions): AssetOrTime {
  return { [OR_TIME_BRAND]: true, schedule: options?.schedule, assets: options?.assets };
}

export function isAssetOrTime(v: unknown): v is AssetOrTime {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[OR_TIME_BRAND] === true;
}

// ---------------------------------------------------------------------------------------------------
// Watchers

/** A watcher as declared, bound to its asset's uri by `dag()`. */
export interface AssetWatcher {
  readonly [WATCHER_BRAND]: true;
  readonly kind: AssetWatcherSpec['kind'];
  /** The watcher's spec for an asset's uri; throws (a plain message) when it does not fit the uri. */
  bind(uri: string): AssetWatcherSpec;
}

function watcher(kind: AssetWatcherSpec['kind'], bind: (uri: string) => AssetWatcherSpec): AssetWatcher {
  return { [WATCHER_BRAND]: true, kind, bind };
}

/**
 * Events when objects are created under the asset's `s3://bucket/prefix` (deployed: S3 → EventBridge).
 * The asset's uri must be an `s3://` one.
 */
export function s3Watcher(): AssetWatcher {
  return watcher('s3', (uri) => {
    if (uriScheme(uri) !== 's3') throw new Error(`an s3Watcher() needs an s3:// uri, and '${uri}' is not one`);
    const rest = uri.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    if (!bucket) throw new Error(`'${uri}' names no bucket`);
    return { kind: 's3', bucket, prefix: slash < 0 ? '' : rest.slice(slash + 1) };
  });
}

/** Options of {@link sqsWatcher}. */
export interface SqsWatcherOptions {
  /** The queue whose messages are events of the asset (a message body that is a JSON object is its extra). */
  queueArn: string;
}

/** Each message of an SQS queue is an event of the asset. */
export function sqsWatcher(options: SqsWatcherOptions): AssetWatcher {
  return watcher('sqs', () => {
    const arn = options?.queueArn;
    if (typeof arn !== 'string' || !/^arn:[^:]+:sqs:[^:]*:[^:]*:[^:]+$/.test(arn)) throw new Error(`sqsWatcher({ queueArn }) needs an SQS queue ARN (arn:aws:sqs:<region>:<account>:<name>), got ${JSON.stringify(arn)}`);
    return { kind: 'sqs', queueArn: arn };
  });
}

/** Options of {@link eventBridgeWatcher}. */
export interface EventBridgeWatcherOptions {
  /** The EventBridge event pattern whose matching events are events of the asset (its `detail` the extra). */
  eventPattern: Record<string, unknown>;
  /**
   * The bus the rule is on.
   * @default the account's default bus
   */
  eventBusName?: string;
}

/** Each EventBridge event matching the pattern is an event of the asset. */
export function eventBridgeWatcher(options: EventBridgeWatcherOptions): AssetWatcher {
  return watcher('eventbridge', () => {
    const p = options?.eventPattern;
    if (typeof p !== 'object' || p === null || Array.isArray(p) || Object.keys(p).length === 0) throw new Error(`eventBridgeWatcher({ eventPattern }) needs a non-empty event pattern object, got ${JSON.stringify(p)}`);
    const bus = options.eventBusName;
    if (bus !== undefined && (typeof bus !== 'string' || bus.length === 0)) throw new Error(`eventBusName must be a non-empty string, got ${JSON.stringify(bus)}`);
    return { kind: 'eventbridge', eventPattern: p, eventBusName: bus ?? null };
  });
}

/**
 * Locally (the standalone server): an event when the file at the asset's `file://` uri (an absolute
 * path, `file:///data/x.csv`) is created or changes.
 */
export function fileWatcher(): AssetWatcher {
  return watcher('file', (uri) => {
    if (uriScheme(uri) !== 'file') throw new Error(`a fileWatcher() needs a file:// uri, and '${uri}' is not one`);
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch {
      throw new Error(`'${uri}' is not an absolute file uri (file:///path/to/file)`);
    }
    return { kind: 'file', path };
  });
}

function isWatcher(v: unknown): v is AssetWatcher {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[WATCHER_BRAND] === true;
}

// ---------------------------------------------------------------------------------------------------
// What dag() makes of them

/** The assets a DAG names, by uri, checked: one spec per uri (the same uri declared twice must agree). */
export class AssetCollector {
  private readonly byUri = new Map<string, { spec: AssetSpec; text: string }>();

  /** The spec of an asset, checked and collected. */
  add(a: Asset, loc: ErrorLocation): AssetSpec {
    const uri = checkAssetUri(a.uri, loc);
    const o = a.options ?? {};
    if (typeof o !== 'object') throw new DagDefinitionError(`the options of asset '${uri}' must be an object`, loc);
    const known = ['name', 'group', 'extra', 'watchers'];
    for (const k of Object.keys(o)) if (!known.includes(k)) throw new DagDefinitionError(`asset '${uri}': unknown option '${k}' (known: ${known.join(', ')})`, loc);
    if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length === 0)) throw new DagDefinitionError(`asset '${uri}': name must be a non-empty string`, loc);
    if (o.group !== undefined && (typeof o.group !== 'string' || o.group.length === 0)) throw new DagDefinitionError(`asset '${uri}': group must be a non-empty string`, loc);
    const extra = o.extra ?? {};
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) throw new DagDefinitionError(`asset '${uri}': extra must be a plain object`, loc);
    try {
      JSON.stringify(extra);
    } catch {
      throw new DagDefinitionError(`asset '${uri}': extra must be plain JSON`, loc);
    }
    const spec: AssetSpec = { uri, name: o.name ?? uri, group: o.group ?? 'asset', extra };
    if (o.watchers !== undefined) {
      if (!Array.isArray(o.watchers)) throw new DagDefinitionError(`asset '${uri}': watchers must be a list of s3Watcher(), sqsWatcher(), eventBridgeWatcher() or fileWatcher()`, loc);
      const ws = (o.watchers as readonly unknown[]).map((w, i) => {
        if (!isWatcher(w)) throw new DagDefinitionError(`asset '${uri}': watchers[${i}] is not a watcher (use s3Watcher(), sqsWatcher(), eventBridgeWatcher() or fileWatcher())`, loc);
        try {
          return w.bind(uri);
        } catch (e) {
          throw new DagDefinitionError(`asset '${uri}': watchers[${i}] (${w.kind}): ${(e as Error).message}`, loc);
        }
      });
      if (ws.length > 0) spec.watchers = ws;
    }
    const text = canonicalJson(spec);
    const seen = this.byUri.get(uri);
    if (seen && seen.text !== text) throw new DagDefinitionError(`asset '${uri}' is declared twice with different options (name, group, extra or watchers): declare it once and share it`, loc);
    if (!seen) this.byUri.set(uri, { spec, text });
    return spec;
  }

  /** The condition's spec, its assets collected. */
  condition(c: unknown, loc: ErrorLocation): AssetConditionSpec {
    if (!isAssetCondition(c)) throw new DagDefinitionError(`expected an asset or a condition made with and()/or(), got ${describe(c)}`, loc);
    if (c instanceof Asset) return { asset: this.add(c, loc).uri };
    const all = c instanceof AssetAll;
    const parts = (c as AssetAll | AssetAny).conditions;
    const name = all ? 'and()' : 'or()';
    if (!Array.isArray(parts) || parts.length === 0) throw new DagDefinitionError(`an empty ${name}: give it at least one asset or condition`, loc);
    const specs = parts.map((p, i) => {
      if (!isAssetCondition(p)) throw new DagDefinitionError(`${name} takes assets and conditions, but its argument ${i + 1} is ${describe(p)}`, loc);
      return this.condition(p, loc);
    });
    return all ? { and: specs } : { or: specs };
  }

  /** Every asset collected, sorted by uri; undefined when none. */
  specs(): AssetSpec[] | undefined {
    if (this.byUri.size === 0) return undefined;
    return [...this.byUri.values()].map((x) => x.spec).sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v)} (wrap a uri in asset())`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return `an object (${Object.keys(v).slice(0, 5).join(', ') || 'no keys'})`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** A DAG's `schedule` option: the time schedules of `parseSchedule`, an asset condition, or `assetOrTime()`. */
export function parseDagSchedule(schedule: unknown, collector: AssetCollector, loc: ErrorLocation): ScheduleSpec | null {
  const at = { ...loc, field: 'schedule' };
  if (isAssetCondition(schedule)) return { kind: 'assets', condition: collector.condition(schedule, at) };
  if (isAssetOrTime(schedule)) {
    const condition = collector.condition(schedule.assets, { ...loc, field: 'schedule.assets' });
    if (schedule.schedule === null || schedule.schedule === undefined) throw new DagDefinitionError('assetOrTime() needs a time schedule (cron, preset, rate(...) or { cron, timezone })', { ...loc, field: 'schedule.schedule' });
    const time = parseSchedule(schedule.schedule, loc);
    if (time === null || time.kind === 'assets' || time.kind === 'assets_or_time') throw new DagDefinitionError('assetOrTime() needs a time schedule', { ...loc, field: 'schedule.schedule' });
    return { kind: 'assets_or_time', condition, time };
  }
  return parseSchedule(schedule as Schedule | undefined, loc);
}

/** A task's `outlets` option: the uris, each a checked asset collected. Undefined when none. */
export function parseOutlets(outlets: unknown, collector: AssetCollector, loc: ErrorLocation): string[] | undefined {
  if (outlets === undefined) return undefined;
  if (!Array.isArray(outlets)) throw new DagDefinitionError(`outlets must be a list of assets (made by asset()), got ${describe(outlets)}`, { ...loc, field: 'outlets' });
  const uris: string[] = [];
  (outlets as readonly unknown[]).forEach((o, i) => {
    const at = { ...loc, field: `outlets[${i}]` };
    if (!isAsset(o)) throw new DagDefinitionError(`an outlet must be an asset (made by asset()), got ${describe(o)}`, at);
    const uri = collector.add(o, at).uri;
    if (!uris.includes(uri)) uris.push(uri);
  });
  return uris.length > 0 ? uris : undefined;
}
