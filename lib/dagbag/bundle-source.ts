import type { BundleManifest } from './bundle.ts';

/**
 * Where the code of DAG versions can be read: the local bundle store (`<home>/bundles`), or deployed the
 * stack's bucket. The API serves a version's files from it; a resolver loads a version's DAG from it.
 */
export interface BundleSource {
  /** A kept bundle's manifest; undefined when it is not kept (never was, or pruned). */
  manifest(bundle: string): Promise<BundleManifest | undefined>;
  /** One file of a kept bundle, by its path in the manifest; undefined when the bundle is not kept or holds no such file. */
  readFile(bundle: string, file: string): Promise<Buffer | undefined>;
}
