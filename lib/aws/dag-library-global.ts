import * as library from './dag-library.ts';
import { DAG_LIBRARY_SYMBOL } from './dag-library.ts';

/**
 * The library's values a DAG file may import from 'airless' in a deployed stack: the authoring API and the
 * errors (not the local runner, the stores or the DAG bag, which a function does not carry).
 */
export const DAG_LIBRARY: Readonly<Record<string, unknown>> = Object.freeze(Object.fromEntries(Object.entries(library).filter(([k]) => k !== 'DAG_LIBRARY_SYMBOL')));

/** The names a version bundle's shim of 'airless' exports (cdk/version-bundles.ts). */
export const DAG_LIBRARY_NAMES: readonly string[] = Object.keys(DAG_LIBRARY).sort();

/** Publish the library for the version bundles this process imports (idempotent). */
export function installDagLibrary(): void {
  (globalThis as Record<symbol, unknown>)[DAG_LIBRARY_SYMBOL] ??= DAG_LIBRARY;
}
