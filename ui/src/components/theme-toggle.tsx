/**
 * Light or dark: the system's preference (`prefers-color-scheme`) until the user picks one with the toggle
 * in the top bar; the pick is remembered in localStorage. The theme is `data-theme` on <html>, which
 * styles.css turns into its colour variables.
 */
import { useEffect, useSyncExternalStore } from 'react';

export type Theme = 'light' | 'dark';

/** The localStorage key of the user's pick (absent: follow the system). */
export const THEME_STORAGE_KEY = 'airless.theme';
const DARK_QUERY = '(prefers-color-scheme: dark)';

function storedTheme(): Theme | null {
  const v = window.localStorage.getItem(THEME_STORAGE_KEY);
  return v === 'light' || v === 'dark' ? v : null;
}

function systemTheme(): Theme {
  return window.matchMedia(DARK_QUERY).matches ? 'dark' : 'light';
}

function currentTheme(): Theme {
  return storedTheme() ?? systemTheme();
}

function apply(theme: Theme): void {
  document.documentElement.dataset['theme'] = theme;
}

// Before the first render, so that the page never flashes in the other theme.
apply(currentTheme());

const listeners = new Set<() => void>();
const notify = () => {
  for (const l of listeners) l();
};

/** Changes of the theme: a pick here, a pick in another tab, the system's preference while none is picked. */
function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  const media = window.matchMedia(DARK_QUERY);
  const onStorage = (e: StorageEvent) => {
    if (e.key === THEME_STORAGE_KEY) listener();
  };
  media.addEventListener('change', listener);
  window.addEventListener('storage', onStorage);
  return () => {
    listeners.delete(listener);
    media.removeEventListener('change', listener);
    window.removeEventListener('storage', onStorage);
  };
}

/** Stores the user's pick (from then on the system's preference no longer counts). */
export function setTheme(theme: Theme): void {
  window.localStorage.setItem(THEME_STORAGE_KEY, theme);
  notify();
}

/** The theme in force (the stored pick, else the system's), kept on <html> as it changes. */
export function useTheme(): Theme {
  const theme = useSyncExternalStore(subscribe, currentTheme);
  useEffect(() => apply(theme), [theme]);
  return theme;
}

/** The top bar's switch between light and dark. */
export function ThemeToggle() {
  const theme = useTheme();
  const dark = theme === 'dark';
  return (
    <button
      type="button"
      className="theme-toggle"
      aria-pressed={dark}
      title={dark ? 'Dark mode: click for light' : 'Light mode: click for dark'}
      onClick={() => setTheme(dark ? 'light' : 'dark')}
      data-testid="theme-toggle"
      data-theme={theme}
    >
      <span aria-hidden="true">{dark ? '☾' : '☀'}</span> Dark mode
    </button>
  );
}
