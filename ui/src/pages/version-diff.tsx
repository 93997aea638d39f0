import { Link, useSearchParams } from 'react-router';
import { ErrorBox } from '../components/error-box.tsx';
import { LineDiff } from '../components/line-diff.tsx';
import { useDagId } from '../dag-view.ts';
import { useDagVersion, useVersionSources } from '../queries.ts';
import { compareFiles, versionsPath } from '../versions.ts';

/** Two versions' code compared: each file added, removed or changed, with a line diff of it. */
export function VersionDiff() {
  const dagId = useDagId();
  const [search] = useSearchParams();
  const from = search.get('from') ?? '';
  const to = search.get('to') ?? '';
  const a = useDagVersion(dagId, from);
  const b = useDagVersion(dagId, to);
  const files = a.data?.files && b.data?.files ? compareFiles(a.data.files, b.data.files) : [];
  const shown = files.filter((f) => f.change !== 'unchanged');
  // Each changed file's text on both sides ('' path: the side has no such file, nothing fetched).
  const sources = useVersionSources(
    dagId,
    shown.flatMap((f) => [
      { version: from, path: f.from ? f.path : '' },
      { version: to, path: f.to ? f.path : '' },
    ]),
  );
  const unavailable = (a.data && a.data.files === null) || (b.data && b.data.files === null);
  return (
    <div className="version-diff" data-testid="version-diff">
      <p className="muted small">
        <Link to={versionsPath(dagId)}>Versions</Link> / diff
      </p>
      <ErrorBox error={a.error ?? b.error ?? sources.find((s) => s.error)?.error} />
      {a.data && b.data && (
        <h2>
          v{a.data.version_number} <span className="mono muted">{a.data.version.slice(0, 8)}</span> → v{b.data.version_number}{' '}
          <span className="mono muted">{b.data.version.slice(0, 8)}</span>
        </h2>
      )}
      {unavailable && <p className="muted">The code of {a.data?.files === null ? 'the first' : 'the second'} version is not available: no diff.</p>}
      {a.data?.files && b.data?.files && (
        <>
          <ul className="file-changes" data-testid="file-changes">
            {files.map((f) => (
              <li key={f.path} data-testid="file-change" data-path={f.path} data-change={f.change}>
                <span className={`change ${f.change}`}>{f.change}</span> <span className="mono">{f.path}</span>
              </li>
            ))}
          </ul>
          {shown.length === 0 && <p className="muted">The two versions have the same code.</p>}
          {shown.map((f, i) => {
            const before = sources[2 * i];
            const after = sources[2 * i + 1];
            const ready = (!f.from || before?.data) && (!f.to || after?.data);
            return (
              <section key={f.path} className="file-diff">
                <h3 className="mono">
                  {f.path} <span className={`change ${f.change}`}>{f.change}</span>
                </h3>
                {ready ? <LineDiff path={f.path} before={before?.data?.content ?? ''} after={after?.data?.content ?? ''} /> : <p className="muted">Loading…</p>}
              </section>
            );
          })}
        </>
      )}
    </div>
  );
}
