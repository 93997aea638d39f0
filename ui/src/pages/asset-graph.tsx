import { Graph, layout } from '@dagrejs/dagre';
import { useMemo } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import type { Dag } from '../api.ts';
import { assetPath, useAssets, type Asset } from '../asset-queries.ts';
import { parseAssetExpression, type AssetCondition } from '../components/asset-expression.tsx';
import { ErrorBox } from '../components/error-box.tsx';
import { formatDate } from '../format.ts';
import { useDags } from '../queries.ts';
import '../charts.css';
import '../assets.css';

const DAG_W = 180;
const ASSET_W = 230;
const NODE_H = 40;
const GATE_W = 46;
const GATE_H = 26;
const MARGIN = 24;

type NodeKind = 'dag' | 'asset' | 'gate';
interface GraphNode {
  id: string;
  kind: NodeKind;
  label: string;
  sub: string;
  /** Where a click goes (DAGs and assets). */
  to: string | null;
  /** The asset's uri, the DAG's id, or the gate's kind. */
  key: string;
}
interface GraphModel {
  nodes: Map<string, GraphNode>;
  edges: { from: string; to: string }[];
}

const dagNode = (dagId: string): GraphNode => ({ id: `dag:${dagId}`, kind: 'dag', label: dagId, sub: 'DAG', to: `/dags/${encodeURIComponent(dagId)}`, key: dagId });

/**
 * Producer DAGs → assets → consumer DAGs. A consumer's condition is drawn between its assets and it: a gate
 * node per `and` (all) and `or` (any) of its asset_expression, so `a.and(b.or(c))` reads as it was written.
 */
export function assetGraphModel(assets: readonly Asset[], dags: readonly Dag[]): GraphModel {
  const nodes = new Map<string, GraphNode>();
  const edges: { from: string; to: string }[] = [];
  const seen = new Set<string>();
  const edge = (from: string, to: string) => {
    const k = `${from}\u0000${to}`;
    if (seen.has(k)) return;
    seen.add(k);
    edges.push({ from, to });
  };
  const byUri = new Map(assets.map((a) => [a.uri, a]));
  const assetNode = (uri: string, fallbackName: string, fallbackId: string): string => {
    const a = byUri.get(uri);
    const id = `asset:${uri}`;
    if (!nodes.has(id)) {
      const last = a?.last_asset_event;
      nodes.set(id, { id, kind: 'asset', label: a?.name ?? fallbackName, sub: last ? `last event ${formatDate(last.timestamp)}` : 'no event yet', to: assetPath(a?.id ?? fallbackId), key: uri });
    }
    return id;
  };
  const addDag = (dagId: string) => {
    const n = dagNode(dagId);
    if (!nodes.has(n.id)) nodes.set(n.id, n);
    return n.id;
  };
  for (const a of assets) {
    const id = assetNode(a.uri, a.name, a.id);
    for (const t of a.producing_tasks) edge(addDag(t.dag_id), id);
  }
  const drawn = new Set<string>();
  const addCondition = (c: AssetCondition, target: string, path: string) => {
    if (c.kind === 'asset') return edge(assetNode(c.uri, c.name, c.id), target);
    if (c.children.length === 1) return addCondition(c.children[0]!, target, `${path}.0`);
    const gate = `gate:${path}`;
    nodes.set(gate, { id: gate, kind: 'gate', label: c.kind === 'all' ? 'and' : 'or', sub: '', to: null, key: c.kind });
    edge(gate, target);
    c.children.forEach((child, i) => addCondition(child, gate, `${path}.${i}`));
  };
  for (const d of dags) {
    const tree = parseAssetExpression(d.asset_expression);
    if (tree === null) continue;
    drawn.add(d.dag_id);
    addCondition(tree, addDag(d.dag_id), d.dag_id);
  }
  // A consumer whose expression is not known here (not in the DAG list): straight from its assets.
  for (const a of assets) for (const c of a.consuming_dags) if (!drawn.has(c.dag_id)) edge(`asset:${a.uri}`, addDag(c.dag_id));
  return { nodes, edges };
}

/** Only what is connected (either way) to one node. */
function component(model: GraphModel, start: string): GraphModel {
  if (!model.nodes.has(start)) return model;
  const keep = new Set([start]);
  const todo = [start];
  while (todo.length > 0) {
    const n = todo.pop()!;
    for (const e of model.edges) {
      const other = e.from === n ? e.to : e.to === n ? e.from : null;
      if (other !== null && !keep.has(other)) {
        keep.add(other);
        todo.push(other);
      }
    }
  }
  return { nodes: new Map([...model.nodes].filter(([id]) => keep.has(id))), edges: model.edges.filter((e) => keep.has(e.from) && keep.has(e.to)) };
}

const size = (n: GraphNode) => (n.kind === 'gate' ? { width: GATE_W, height: GATE_H } : { width: n.kind === 'dag' ? DAG_W : ASSET_W, height: NODE_H });

function layOut(model: GraphModel) {
  const g = new Graph<{ rankdir: string; nodesep: number; ranksep: number; marginx: number; marginy: number; width?: number; height?: number }, { width: number; height: number; x?: number; y?: number }, { points?: { x: number; y: number }[] }>();
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 60, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of model.nodes.values()) g.setNode(n.id, size(n));
  for (const e of model.edges) g.setEdge(e.from, e.to);
  layout(g);
  const nodes = [...model.nodes.values()].map((n) => ({ node: n, x: g.node(n.id).x ?? 0, y: g.node(n.id).y ?? 0, ...size(n) }));
  return {
    nodes,
    edges: g.edges().map((e) => ({ from: e.v, to: e.w, points: g.edge(e).points ?? [] })),
    width: Math.max(g.graph().width ?? 0, ...nodes.map((n) => n.x + n.width / 2 + MARGIN)),
    height: Math.max(g.graph().height ?? 0, ...nodes.map((n) => n.y + n.height / 2 + MARGIN)),
  };
}

/**
 * The asset graph: DAGs that produce assets, the assets, and the DAGs scheduled on them, with each consumer's
 * and/or condition as gates. `?asset=<id>` shows only what is connected to that asset.
 */
export function AssetGraph() {
  const assets = useAssets();
  const dags = useDags();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const focus = params.get('asset');
  const focusAsset = focus === null ? undefined : assets.data?.assets.find((a) => a.id === focus);
  const laid = useMemo(() => {
    const model = assetGraphModel(assets.data?.assets ?? [], dags.data?.dags ?? []);
    return layOut(focusAsset === undefined ? model : component(model, `asset:${focusAsset.uri}`));
  }, [assets.data, dags.data, focusAsset]);
  return (
    <section>
      <div className="panel-head">
        <h1>Asset graph</h1>
        <span className="spacer" />
        {focusAsset !== undefined && (
          <Link to="/assets/graph" className="button" data-testid="asset-graph-all">
            Show every asset
          </Link>
        )}
        <Link to="/assets" className="button">
          Asset list
        </Link>
      </div>
      <p className="muted small">
        Producer DAGs → assets → consumer DAGs; a consumer&apos;s condition shows as <span className="mono">and</span> / <span className="mono">or</span> gates.
        {focusAsset !== undefined && <> Only what is connected to {focusAsset.name}.</>}
      </p>
      <ErrorBox error={assets.error ?? dags.error} />
      {laid.nodes.length === 0 && !assets.isPending && <p className="muted">No asset yet.</p>}
      <div className="asset-graph-box">
        <svg
          viewBox={`0 0 ${laid.width.toFixed(1)} ${laid.height.toFixed(1)}`}
          width={laid.width}
          height={laid.height}
          className="graph asset-graph"
          role="group"
          aria-label="asset graph"
          data-testid="asset-graph"
        >
          <defs>
            <marker id="asset-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" className="graph-arrow" />
            </marker>
          </defs>
          {laid.edges.map((e) => (
            <polyline key={`${e.from}->${e.to}`} points={e.points.map((p) => `${p.x},${p.y}`).join(' ')} className="graph-edge" markerEnd="url(#asset-arrow)" data-testid="asset-graph-edge" data-from={e.from} data-to={e.to} />
          ))}
          {laid.nodes.map(({ node, x, y, width, height }) => {
            const to = node.to;
            const open = () => {
              if (to !== null) void navigate(to);
            };
            return (
              <g
                key={node.id}
                transform={`translate(${x - width / 2},${y - height / 2})`}
                className={`asset-graph-node asset-graph-${node.kind}`}
                data-testid="asset-graph-node"
                data-node-id={node.id}
                data-kind={node.kind}
                {...(to === null
                  ? {}
                  : {
                      // Named by its content (its title and labels), so the name is what is seen.
                      role: 'link',
                      tabIndex: 0,
                      onClick: open,
                      onKeyDown: (e: React.KeyboardEvent) => {
                        if (e.key === 'Enter') open();
                      },
                    })}
              >
                <title>{node.kind === 'asset' ? `${node.label} (${node.key})` : node.kind === 'dag' ? `DAG ${node.label}` : node.label === 'and' ? 'and: all of its inputs' : 'or: any of its inputs'}</title>
                {node.kind === 'gate' ? (
                  <>
                    <rect width={width} height={height} rx={height / 2} className="asset-gate-box" />
                    <text x={width / 2} y={height / 2 + 4} textAnchor="middle" className="graph-label">
                      {node.label}
                    </text>
                  </>
                ) : (
                  <>
                    <rect width={width} height={height} rx={node.kind === 'asset' ? 14 : 6} className="graph-node-box" strokeWidth={focusAsset !== undefined && node.key === focusAsset.uri ? 3 : 1.5} />
                    <text x={12} y={17} className="graph-label">
                      {node.label.length > 30 ? `${node.label.slice(0, 29)}…` : node.label}
                    </text>
                    <text x={12} y={32} className="graph-sub">
                      {node.sub}
                    </text>
                  </>
                )}
              </g>
            );
          })}
        </svg>
      </div>
    </section>
  );
}
