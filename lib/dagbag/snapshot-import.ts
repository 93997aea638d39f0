import { register } from 'node:module';
import { DagImportError, errorMessage } from '../errors.ts';

/**
 * A module resolve hook (it runs on Node's loader thread, so it is plain JavaScript). A module of a kept
 * bundle (`<bundles>/<hash>/src/<path>`) imports its relative modules from the bundle, as they were; what
 * it imports by a bare specifier (a package, the airless library, a tsconfig path) is resolved as the same
 * file at its origin would resolve it (`manifest.json`'s `origin`), and a local file so found that the
 * bundle holds is taken from the bundle.
 */
const HOOKS = `
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
const BUNDLE = /^(.*[\\\\/][0-9a-f]{64})[\\\\/]src[\\\\/](.*)$/;
const origins = new Map();
function originOf(dir) {
  if (!origins.has(dir)) {
    let origin = null;
    try { origin = JSON.parse(readFileSync(dir + '/manifest.json', 'utf8')).origin ?? null; } catch {}
    origins.set(dir, origin);
  }
  return origins.get(dir);
}
export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  if (!parent || !parent.startsWith('file:') || /^(\\.|\\/|[a-zA-Z][a-zA-Z+.-]*:)/.test(specifier)) return next(specifier, context);
  const m = BUNDLE.exec(fileURLToPath(parent));
  if (!m) return next(specifier, context);
  const origin = originOf(m[1]);
  if (origin === null) return next(specifier, context);
  const resolved = await next(specifier, { ...context, parentURL: pathToFileURL(origin + '/' + m[2]).href });
  if (!resolved.url.startsWith('file:')) return resolved;
  const file = fileURLToPath(resolved.url);
  const rel = file.startsWith(origin + '/') ? file.slice(origin.length + 1) : null;
  if (rel === null || rel.split('/').includes('node_modules')) return resolved;
  const kept = m[1] + '/src/' + rel;
  return existsSync(kept) ? { ...resolved, url: pathToFileURL(kept).href } : resolved;
}
`;

let registered = false;

/** Register the hook that lets a kept bundle's files import (once per thread; a worker registers its own). */
export function registerSnapshotResolution(): void {
  if (registered) return;
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
  registered = true;
}

/**
 * Import a kept bundle's DAG file (its `file:` URL in a LocalBundleStore). TypeScript needs a loader
 * registered before (the CLI registers tsx). Throws a DagImportError naming the bundle when it fails.
 */
export async function importSnapshot(entryUrl: string, bundle: string): Promise<Record<string, unknown>> {
  registerSnapshotResolution();
  try {
    return (await import(entryUrl)) as Record<string, unknown>;
  } catch (e) {
    throw new DagImportError(`the code of bundle ${bundle.slice(0, 12)} failed to import: ${errorMessage(e)}`, { file: entryUrl });
  }
}
