import { ApiError } from '../api.ts';

/** An error of a query or mutation, shown where the data would have been. */
export function ErrorBox({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  const message = error instanceof ApiError ? error.detail : error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
  return (
    <div className="error-box" role="alert" data-testid="error">
      {message}
    </div>
  );
}
