/**
 * The API token of the browser session. The standalone server prints a link with `?token=`; the UI takes it
 * from the URL once, keeps it in localStorage and removes it from the address bar (so it is not left in the
 * history or a bookmark). A 401 from the API forgets it and shows the token prompt again.
 */
const STORAGE_KEY = 'airless.apiToken';

type Listener = (token: string | null) => void;
const listeners = new Set<Listener>();

/** Moves a `?token=` of the current URL into localStorage and strips it from the address bar. */
export function adoptTokenFromUrl(): void {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token === null) return;
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.toString());
  if (token !== '') setToken(token);
}

export function getToken(): string | null {
  return window.localStorage.getItem(STORAGE_KEY);
}

export function setToken(token: string | null): void {
  if (token === null) window.localStorage.removeItem(STORAGE_KEY);
  else window.localStorage.setItem(STORAGE_KEY, token);
  for (const listener of listeners) listener(token);
}

export function onTokenChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
