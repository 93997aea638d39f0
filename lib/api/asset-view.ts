/**
 * The assets as the API shows them: what the loaded DAGs declare (each asset's spec, the DAGs whose schedule
 * names it, the tasks whose outlets name it) merged with what the store knows (its record, its latest event).
 * Computed from the DAGs' specs, so the standalone and the deployed function give the same view.
 */
import type { Dag } from '../authoring/dag.ts';
import { assetId, conditionUris, type AssetConditionSpec, type AssetSpec, type AssetWatcherSpec } from '../model/asset.ts';
import { assetCondition } from '../model/spec.ts';
import type { AssetRecord } from '../store/records.ts';

/** One asset: its declaration (when a loaded DAG declares it) and who consumes and produces it. */
export interface AssetView {
  uri: string;
  assetId: string;
  name: string;
  group: string;
  extra: Record<string, unknown>;
  watchers: AssetWatcherSpec[];
  /** DAGs whose schedule names it, sorted. */
  consumingDags: string[];
  /** Tasks whose outlets name it, sorted by DAG then task. */
  producingTasks: { dagId: string; taskId: string }[];
  /** The store's record; null when only a loaded DAG declares it. */
  record: AssetRecord | null;
}

/** An asset named only by its uri: Airflow's defaults (name = uri, group 'asset'). */
function undeclared(uri: string): Omit<AssetView, 'consumingDags' | 'producingTasks' | 'record'> {
  return { uri, assetId: assetId(uri), name: uri, group: 'asset', extra: {}, watchers: [] };
}

function fromSpec(a: AssetSpec): Omit<AssetView, 'consumingDags' | 'producingTasks' | 'record'> {
  return { uri: a.uri, assetId: assetId(a.uri), name: a.name, group: a.group, extra: a.extra, watchers: a.watchers ?? [] };
}

/**
 * The assets of the loaded DAGs and of the store's records, sorted by uri. A declaration wins over the
 * record for name, group and extra (the DAG is the source of truth); a record alone gives them.
 */
export function assetViews(dags: readonly Dag[], records: readonly AssetRecord[]): AssetView[] {
  const views = new Map<string, AssetView>();
  const declared = new Set<string>();
  const view = (uri: string): AssetView => {
    let v = views.get(uri);
    if (v === undefined) {
      v = { ...undeclared(uri), consumingDags: [], producingTasks: [], record: null };
      views.set(uri, v);
    }
    return v;
  };
  for (const dag of dags) {
    const spec = dag.spec;
    for (const a of spec.assets ?? []) {
      const v = view(a.uri);
      // The first DAG declaring it gives its name, group and extra; the watchers of all add up.
      if (!declared.has(a.uri)) {
        declared.add(a.uri);
        Object.assign(v, { ...fromSpec(a), watchers: [...(a.watchers ?? [])] });
      } else for (const w of a.watchers ?? []) if (!v.watchers.some((x) => JSON.stringify(x) === JSON.stringify(w))) v.watchers.push(w);
    }
    const condition = assetCondition(spec.schedule);
    if (condition !== null) for (const uri of conditionUris(condition)) view(uri).consumingDags.push(spec.dagId);
    for (const t of spec.tasks) for (const uri of t.outlets ?? []) view(uri).producingTasks.push({ dagId: spec.dagId, taskId: t.taskId });
  }
  for (const r of records) {
    const v = view(r.uri);
    v.record = r;
    if (!declared.has(r.uri)) Object.assign(v, { name: r.name, group: r.group, extra: r.extra });
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  for (const v of views.values()) {
    v.consumingDags = [...new Set(v.consumingDags)].sort(cmp);
    v.producingTasks.sort((a, b) => cmp(a.dagId, b.dagId) || cmp(a.taskId, b.taskId));
  }
  return [...views.values()].sort((a, b) => cmp(a.uri, b.uri));
}

/** Airflow's asset_expression of a condition: {"all": [...]}, {"any": [...]}, {"asset": {uri, name, group, id}}. */
export function assetExpression(c: AssetConditionSpec, declared: ReadonlyMap<string, AssetSpec>): Record<string, unknown> {
  if ('asset' in c) {
    const a = declared.get(c.asset);
    return { asset: { uri: c.asset, name: a?.name ?? c.asset, group: a?.group ?? 'asset', id: assetId(c.asset) } };
  }
  if ('and' in c) return { all: c.and.map((x) => assetExpression(x, declared)) };
  return { any: c.or.map((x) => assetExpression(x, declared)) };
}

/** A DAG's asset_expression (null unless it is scheduled on assets). */
export function dagAssetExpression(dag: Dag): Record<string, unknown> | null {
  const condition = assetCondition(dag.spec.schedule);
  if (condition === null) return null;
  return assetExpression(condition, new Map((dag.spec.assets ?? []).map((a) => [a.uri, a])));
}
