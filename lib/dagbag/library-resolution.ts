import * as nodeModule from 'node:module';

/**
 * The entry of this copy of the library: `lib/index.ts` in the repository, `dist/lib/index.js` in the
 * installed package (this module is one folder below it either way).
 */
export const LIBRARY_ENTRY = new URL(`../index${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

/**
 * A module resolve hook (it runs on Node's loader thread, so it is plain JavaScript): `import ... from
 * 'airless'` in any module (a DAG file, a helper it imports, a kept bundle's copy of them) resolves to the
 * library that is running, wherever the importing file's own `node_modules` would have led (a project's
 * installed copy beside a global CLI, tsconfig `paths` to a source tree). One copy of the library in a
 * process, so `instanceof SkipTask` and the DAG registry hold.
 */
const hooks = (entry: string) => `
const ENTRY = ${JSON.stringify(entry)};
export async function resolve(specifier, context, next) {
  return next(specifier === 'airless' ? ENTRY : specifier, context);
}
`;

let registered = false;

/**
 * Make `'airless'` resolve to this copy of the library in this thread (once; a worker thread registers its
 * own). Register it after a TypeScript loader (tsx): hooks registered later run first.
 */
export function registerLibraryResolution(): void {
  if (registered) return;
  registered = true;
  // tsx registers in-thread hooks (`module.registerHooks`, Node 22.15 and later), which run before the
  // loader thread's: so does this one then, registered after tsx's (the last registered runs first), or
  // tsx would map 'airless' through a tsconfig's `paths` before this hook saw it.
  const registerHooks = (nodeModule as { registerHooks?: (hooks: { resolve: (specifier: string, context: unknown, next: (specifier: string, context: unknown) => unknown) => unknown }) => unknown }).registerHooks;
  if (typeof registerHooks === 'function') {
    registerHooks({ resolve: (specifier, context, next) => next(specifier === 'airless' ? LIBRARY_ENTRY : specifier, context) });
    return;
  }
  nodeModule.register(`data:text/javascript,${encodeURIComponent(hooks(LIBRARY_ENTRY))}`);
}
