import { ErrorBox } from '../components/error-box.tsx';
import { formatDate } from '../format.ts';
import { useImportErrors } from '../queries.ts';

/** Every DAG file that failed to import, with its error. */
export function ImportErrors() {
  const errors = useImportErrors();
  return (
    <section>
      <h1>Import errors</h1>
      <ErrorBox error={errors.error} />
      {errors.data?.total_entries === 0 && <p className="muted" data-testid="no-import-errors">Every DAG file imported.</p>}
      <ul className="import-errors" data-testid="import-errors">
        {errors.data?.import_errors.map((e) => (
          <li key={e.import_error_id} data-testid="import-error">
            <div className="import-error-head">
              <span className="mono">{e.filename}</span>
              <span className="muted small">{formatDate(e.timestamp)}</span>
            </div>
            <pre className="log" tabIndex={0} aria-label={`error of ${e.filename}`}>
              {e.stack_trace}
            </pre>
          </li>
        ))}
      </ul>
    </section>
  );
}
