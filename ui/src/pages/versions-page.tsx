import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ErrorBox } from '../components/error-box.tsx';
import { useDagId } from '../dag-view.ts';
import { formatDate } from '../format.ts';
import { useDagVersions } from '../queries.ts';
import { codePath, diffPath, shortVersion } from '../versions.ts';

/** The DAG's versions (oldest first, as the API gives them), each linking to its code; pick two to diff. */
export function VersionsPage() {
  const dagId = useDagId();
  const versions = useDagVersions(dagId);
  const navigate = useNavigate();
  const list = versions.data?.dag_versions ?? [];
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  // Defaults: the version before the current one against the current one.
  const current = list.findIndex((v) => v.is_current);
  const latest = current >= 0 ? current : list.length - 1;
  const a = from || (list[Math.max(0, latest - 1)]?.version ?? '');
  const b = to || (list[latest]?.version ?? '');
  return (
    <div className="versions" data-testid="versions-page">
      <ErrorBox error={versions.error} />
      {versions.isSuccess && list.length === 0 && <p className="muted">No version recorded yet.</p>}
      {list.length > 0 && (
        <>
          <table className="table compact" data-testid="versions-table">
            <thead>
              <tr>
                <th>#</th>
                <th>Version</th>
                <th>First seen</th>
                <th>Runs</th>
                <th>Bundle</th>
                <th>File</th>
                <th>Code</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.map((v) => (
                <tr key={v.version} data-testid="version-row" data-version={v.version} data-current={v.is_current}>
                  <td>v{v.version_number}</td>
                  <td className="mono">
                    <Link to={codePath(dagId, v.version)} data-testid="version-link">
                      {shortVersion(v.version)}
                    </Link>
                  </td>
                  <td>{formatDate(v.created_at)}</td>
                  <td>{v.runs}</td>
                  <td className="mono small">{v.bundle === null ? '—' : v.bundle.slice(0, 12)}</td>
                  <td className="mono small">{v.fileloc ?? '—'}</td>
                  <td>{v.pruned_at !== null ? <span className="muted">pruned</span> : v.bundle === null ? <span className="muted">none</span> : 'kept'}</td>
                  <td>{v.is_current && <span className="badge current">current</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.length > 1 && (
            <form
              className="diff-picker"
              onSubmit={(e) => {
                e.preventDefault();
                void navigate(diffPath(dagId, a, b));
              }}
            >
              <span>Compare</span>
              <select value={a} onChange={(e) => setFrom(e.target.value)} data-testid="diff-from" aria-label="from version">
                {list.map((v) => (
                  <option key={v.version} value={v.version}>
                    v{v.version_number} · {shortVersion(v.version)}
                  </option>
                ))}
              </select>
              <span>with</span>
              <select value={b} onChange={(e) => setTo(e.target.value)} data-testid="diff-to" aria-label="to version">
                {list.map((v) => (
                  <option key={v.version} value={v.version}>
                    v{v.version_number} · {shortVersion(v.version)}
                  </option>
                ))}
              </select>
              <button type="submit" disabled={a === '' || b === '' || a === b} data-testid="diff-button">
                Diff
              </button>
            </form>
          )}
        </>
      )}
    </div>
  );
}
