import { Link, useParams, useSearchParams } from 'react-router';
import { ErrorBox } from '../components/error-box.tsx';
import { SourceView } from '../components/source-view.tsx';
import { useDagId } from '../dag-view.ts';
import { formatDate } from '../format.ts';
import { useDagVersion, useVersionSource } from '../queries.ts';
import { codePath, shortVersion, versionsPath } from '../versions.ts';

/** A version's code: its files (the DAG file first shown) and the selected file's source. */
export function CodeView() {
  const dagId = useDagId();
  const version = useParams()['version'] ?? '';
  const [search] = useSearchParams();
  const detail = useDagVersion(dagId, version);
  const v = detail.data;
  const file = search.get('file') ?? v?.entry ?? '';
  const source = useVersionSource(dagId, version, v?.files ? file : '');
  return (
    <div className="code-view" data-testid="code-view" data-version={version}>
      <p className="muted small">
        <Link to={versionsPath(dagId)}>Versions</Link> / <span className="mono">{shortVersion(version)}</span>
      </p>
      <ErrorBox error={detail.error} />
      {v && (
        <>
          <h2>
            Version v{v.version_number} <span className="mono muted">{v.version}</span> {v.is_current && <span className="badge current">current</span>}
          </h2>
          <p className="muted small">
            first seen {formatDate(v.created_at)} · {v.runs} run{v.runs === 1 ? '' : 's'} · bundle <span className="mono">{v.bundle?.slice(0, 12) ?? '—'}</span>
            {v.pruned_at !== null && <> · pruned {formatDate(v.pruned_at)}</>}
          </p>
          {v.files === null ? (
            <p className="muted" data-testid="code-unavailable">
              The code of this version is not available{v.pruned_at !== null ? ' (pruned)' : v.bundle === null ? ' (built in code)' : ''}.
            </p>
          ) : (
            <div className="split">
              <ul className="file-list" data-testid="file-list">
                {v.files.map((f) => (
                  <li key={f.path} className={f.path === file ? 'selected' : ''}>
                    <Link to={codePath(dagId, version, f.path)} data-testid="file-link" data-path={f.path}>
                      {f.path}
                    </Link>
                    {f.path === v.entry && <span className="muted small"> (DAG file)</span>}
                    <span className="muted small"> {f.bytes} B</span>
                  </li>
                ))}
                {Object.keys(v.packages ?? {}).length > 0 && (
                  <li className="muted small packages">
                    packages:{' '}
                    {Object.entries(v.packages ?? {})
                      .map(([name, ver]) => `${name}@${ver ?? '?'}`)
                      .join(', ')}
                  </li>
                )}
              </ul>
              <div className="source-pane">
                <h3 className="mono">{file}</h3>
                <ErrorBox error={source.error} />
                {source.data && <SourceView path={source.data.path} content={source.data.content} />}
              </div>
            </div>
          )}
        </>
      )}
    </div>
  );
}
