import { register } from 'node:module';

/** The query parameter that gives each reload of the DAGs folder its own copy of the modules it imports. */
const RELOAD_PARAM = 'airless-reload';

/** The airless library's own folder: its modules are never reloaded (one copy, so `instanceof SkipTask` holds). */
const LIB_DIR = new URL('../', import.meta.url).pathname;

/**
 * A module resolve hook (it runs on Node's loader thread, so it is plain JavaScript): a module imported by a
 * module of reload N is itself the copy of reload N, unless it is a package (`node_modules`), the airless
 * library, or not a file.
 */
const HOOKS = `
const PARAM = ${JSON.stringify(RELOAD_PARAM)};
const LIB = ${JSON.stringify(LIB_DIR)};
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const parent = context.parentURL;
  if (!parent || !parent.startsWith('file:') || !resolved.url.startsWith('file:')) return resolved;
  const generation = new URL(parent).searchParams.get(PARAM);
  if (generation === null) return resolved;
  const url = new URL(resolved.url);
  if (url.pathname.includes('/node_modules/') || url.pathname.startsWith(LIB)) return resolved;
  url.searchParams.set(PARAM, generation);
  return { ...resolved, url: url.href };
}
`;

let hooksRegistered = false;
let generations = 0;

/** `?airless-reload=N` out of an error's message and stack (they name files by URL). */
function scrub(e: unknown): unknown {
  if (e instanceof Error) {
    const re = new RegExp(`[?&]${RELOAD_PARAM}=\\d+`, 'g');
    e.message = e.message.replace(re, '');
    if (typeof e.stack === 'string') e.stack = e.stack.replace(re, '');
  }
  return e;
}

/**
 * An importer for `loadDagBag` that reads the DAG files again, and every module they import but packages
 * (`node_modules`) and the airless library: each importer is a new generation, whose modules are new copies
 * (`?airless-reload=<generation>` on their URLs, carried to what they import by a resolve hook registered
 * with `module.register` at the first call). Files of one generation share their copies, as one `import()`
 * pass does. Loaded modules stay in memory (ES modules are never unloaded): each reload costs the size of
 * what it imports.
 *
 * TypeScript files need a loader registered before (the `airless` CLI registers tsx).
 */
export function freshImporter(): (fileUrl: string) => Promise<Record<string, unknown>> {
  if (!hooksRegistered) {
    register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
    hooksRegistered = true;
  }
  const generation = String(++generations);
  return async (fileUrl) => {
    const url = new URL(fileUrl);
    url.searchParams.set(RELOAD_PARAM, generation);
    try {
      return (await import(url.href)) as Record<string, unknown>;
    } catch (e) {
      throw scrub(e);
    }
  };
}
