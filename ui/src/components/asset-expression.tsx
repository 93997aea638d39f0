/**
 * A DAG's asset condition (the API's `asset_expression`: {"all": [...]}, {"any": [...]}, {"asset": {...}})
 * written out: each asset a link to its page, `and` / `or` between them, nested conditions in brackets.
 */
import { Fragment } from 'react';
import { Link } from 'react-router';
import { assetPath } from '../asset-queries.ts';

/** A condition of the expression, as a tree. */
export type AssetCondition = { kind: 'asset'; uri: string; name: string; id: string } | { kind: 'all' | 'any'; children: AssetCondition[] };

/** The tree of an asset_expression; null when it is not one (an unknown shape is not drawn). */
export function parseAssetExpression(value: unknown): AssetCondition | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v['asset'] === 'object' && v['asset'] !== null) {
    const a = v['asset'] as Record<string, unknown>;
    if (typeof a['uri'] !== 'string') return null;
    const uri = a['uri'];
    return { kind: 'asset', uri, name: typeof a['name'] === 'string' ? a['name'] : uri, id: typeof a['id'] === 'string' ? a['id'] : '' };
  }
  for (const kind of ['all', 'any'] as const) {
    const list = v[kind];
    if (Array.isArray(list)) {
      const children = list.map(parseAssetExpression);
      return children.some((c) => c === null) ? null : { kind, children: children as AssetCondition[] };
    }
  }
  return null;
}

function Condition({ c, nested }: { c: AssetCondition; nested: boolean }) {
  if (c.kind === 'asset') {
    return (
      <Link to={assetPath(c.id)} className="asset-ref" title={c.uri} data-testid="asset-expression-asset" data-uri={c.uri}>
        {c.name}
      </Link>
    );
  }
  const word = c.kind === 'all' ? 'and' : 'or';
  return (
    <span className="asset-condition" data-kind={c.kind}>
      {nested && '('}
      {c.children.map((child, i) => (
        <Fragment key={i}>
          {i > 0 && <span className="asset-op"> {word} </span>}
          <Condition c={child} nested />
        </Fragment>
      ))}
      {nested && ')'}
    </span>
  );
}

/** The condition written out, e.g. `raw and (clean or backup)`. */
export function AssetExpression({ expression }: { expression: unknown }) {
  const tree = parseAssetExpression(expression);
  if (tree === null) return null;
  return (
    <span className="asset-expression" data-testid="asset-expression">
      <Condition c={tree} nested={false} />
    </span>
  );
}
