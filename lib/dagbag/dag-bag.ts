import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDag, type Dag } from '../authoring/dag.ts';
import { DagImportError, errorMessage } from '../errors.ts';
import type { DagResolver } from '../authoring/dag-resolver.ts';
import { bundleUnchanged, collectBundle, type CollectedBundle } from './bundle.ts';
import type { LocalBundleStore } from './bundle-store.ts';
import { checkDagsFolder } from './dags-folder.ts';
import { dagIdOf, describeImportError, type DagFileImportError } from './import-error.ts';
import { scanDagsFolder } from './scan.ts';
import { DagTypeChecker, NO_TYPECHECK_ENV, typecheckByDefault } from './typecheck.ts';
import { TypecheckCache, typecheckContext } from './typecheck-cache.ts';

/**
 * The DAGs of a folder, as `loadDagBag` found them, and the files that failed to import. A DagBag is a
 * {@link DagResolver}: give it to `new LocalRunner({ dags: bag })`.
 */
export class DagBag implements DagResolver {
  private readonly byId: ReadonlyMap<string, Dag>;
  constructor(
    /** The DAGs folder (absolute). */
    readonly folder: string,
    /** Every DAG loaded, sorted by dagId; each one's `spec.fileloc` is its file relative to the folder. */
    readonly dags: readonly Dag[],
    /** One entry per file (or per duplicated DAG) that failed, in file order. */
    readonly importErrors: readonly DagFileImportError[],
    /** The DAG files found, relative to the folder, sorted. */
    readonly files: readonly string[] = [],
    private readonly errorDagIds: ReadonlyMap<DagFileImportError, string> = new Map(),
    /**
     * The checker that type checked the DAG files before they were imported; null when they were not. The
     * standalone's reloader goes on with it (its program is warm) and checks as this load did.
     */
    readonly typeChecker: DagTypeChecker | null = null,
  ) {
    this.byId = new Map(dags.map((d) => [d.dagId, d]));
  }

  /** Whether the DAG files were type checked before they were imported. */
  get typechecked(): boolean {
    return this.typeChecker !== null;
  }

  getDag(dagId: string): Dag | undefined {
    return this.byId.get(dagId);
  }

  /** The DAG ids, sorted. */
  get dagIds(): string[] {
    return this.dags.map((d) => d.dagId);
  }

  /**
   * Import errors known to concern `dagId`: its file failed with an error that names it (a
   * DagDefinitionError), or another file defines it again. A file that failed for another reason (a
   * syntax error, a missing module) names no DAG; see {@link importErrors}.
   */
  importErrorsFor(dagId: string): DagFileImportError[] {
    return this.importErrors.filter((e) => this.errorDagIds.get(e) === dagId);
  }
}

/** The values of a module that may be DAGs: every export, the items of exported arrays, and (for a CommonJS module) the fields of `module.exports`. */
export function candidates(ns: Record<string, unknown>): { name: string; value: unknown }[] {
  const out: { name: string; value: unknown }[] = [];
  const add = (name: string, value: unknown, depth: number) => {
    if (isDag(value)) out.push({ name, value });
    else if (Array.isArray(value)) value.forEach((v, i) => isDag(v) && out.push({ name: `${name}[${i}]`, value: v }));
    else if (depth === 0 && name === 'default' && typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) add(k, v, 1);
    }
  };
  for (const [name, value] of Object.entries(ns)) add(name, value, 0);
  return out;
}

export interface LoadDagBagOptions {
  /**
   * Imports one DAG file, given its `file:` URL, and returns its module namespace. Default: `import()`,
   * whose module cache returns a file already imported unchanged; the standalone server passes one that
   * reads the files again (see `lib/standalone/fresh-import.ts`).
   */
  importModule?: (fileUrl: string) => Promise<Record<string, unknown>>;
  /**
   * Where each file's bundle is kept (content-addressed), so that a run of its version can load it after
   * the file changed or the process restarted. Default: none (versions are computed, nothing is kept).
   */
  bundles?: LocalBundleStore;
  /** The time bundles are kept at (ms since the epoch). Default `Date.now()`. */
  now?: () => number;
  /**
   * Type check the DAG files (TypeScript only) before importing them: a file with type errors (its own, or
   * those of a module of the project it imports) is not imported, and its import error lists them, one
   * `file:line:col - error TS2339: message` line each. `true` checks with a new {@link DagTypeChecker};
   * give one to reuse its last program (a reload after an edit re-checks only what changed).
   * Default: `true`, unless the environment has `AIRLESS_NO_TYPECHECK=1`.
   */
  typecheck?: boolean | DagTypeChecker;
  /** Where a warning goes (no TypeScript found: the files are loaded unchecked). Default: stderr. */
  warn?: (line: string) => void;
  /**
   * A file keeping which DAG files' code type checked clean (a {@link TypecheckCache}): when every file's
   * code is there, nothing is checked. Default: none (every load checks).
   */
  typecheckCache?: string;
}

const defaultImport = async (fileUrl: string): Promise<Record<string, unknown>> => (await import(fileUrl)) as Record<string, unknown>;

/**
 * Load the DAGs of a folder. Every DAG file under it (recursively: `*.ts`, `*.mts`, `*.js`, `*.mjs`;
 * not `node_modules`, dot-directories, `*.d.ts`, `*.test.*`, `*.spec.*`, nor helper files whose name
 * starts with `_`) is imported on its own with `options.importModule` (default `import()`). Every exported value that is a DAG (a default
 * export too, and the items of an exported array of DAGs) joins the bag, with its file as `fileloc`.
 *
 * TypeScript DAG files are type checked first (see `options.typecheck`): a file with type errors is not
 * imported, its import error lists them.
 *
 * Nothing a file does hides another file: a syntax error, a missing module, an error thrown at import
 * (a DagDefinitionError for a cycle, a duplicate task id, a bad schedule...) is recorded for that file
 * in `importErrors`, with a message that names the file (and the DAG, task and field when known). A dagId
 * defined by two files is kept from the first (in sorted path order); the second gets the error.
 *
 * Importing TypeScript needs a loader: the `airless` CLI registers tsx, vitest transforms on its own.
 * Throws a DagsFolderError when the folder does not exist.
 */
export async function loadDagBag(folder: string, options: LoadDagBagOptions = {}): Promise<DagBag> {
  const importModule = options.importModule ?? defaultImport;
  const root = path.resolve(folder);
  checkDagsFolder(root);
  const { files, errors: unreadable } = scanDagsFolder(root);
  const dags: Dag[] = [];
  const errors: DagFileImportError[] = [...unreadable];
  const errorDagIds = new Map<DagFileImportError, string>();
  const owner = new Map<string, { file: string; dag: Dag }>();
  const typecheck = options.typecheck ?? typecheckByDefault();
  const checker = typecheck === false ? null : typecheck === true ? new DagTypeChecker(root, options.warn ? { warn: options.warn } : {}) : typecheck;
  let typeErrors: ReadonlyMap<string, readonly string[]> = new Map();
  // Each file's code, collected once, before it is checked or imported.
  const collecting = new Map(files.map((file) => [file, collectBundle(path.join(root, ...file.split('/')), root).then((b) => ({ b }), (e: unknown) => ({ e }))] as const));
  try {
    if (checker) {
      // Code that checked clean before (in the same context) is not checked again.
      const cache = options.typecheckCache !== undefined ? new TypecheckCache(options.typecheckCache) : null;
      const context = cache ? typecheckContext(root) : '';
      const keys = new Map<string, string | null>();
      for (const file of files) {
        const c = await collecting.get(file)!;
        keys.set(file, 'b' in c ? TypecheckCache.key(c.b.manifest.hash, context) : null);
      }
      const known = cache !== null && [...keys.values()].every((k) => k !== null && cache.has(k));
      if (!known) {
        typeErrors = checker.check(files).byFile;
        cache?.add(files.filter((f) => !typeErrors.has(f)).map((f) => keys.get(f)).filter((k): k is string => k !== null && k !== undefined));
      }
    }
  } catch (e) {
    // The compiler failing is no reason not to load the DAGs: they are loaded unchecked.
    (options.warn ?? ((line: string) => void process.stderr.write(`${line}\n`)))(`airless: type checking ${root} failed (${errorMessage(e)}); its DAG files are loaded unchecked`);
  }
  for (const file of files) {
    const abs = path.join(root, ...file.split('/'));
    const typeError = typeErrors.get(file);
    if (typeError) {
      // Not imported: code that does not type check does not run.
      errors.push({ file, error: `${typeError.join('\n')}\n${new DagImportError(`${typeError.length === 1 ? 'a type error' : `${typeError.length} type errors`}; the file is not loaded (--no-typecheck or ${NO_TYPECHECK_ENV}=1 loads it unchecked)`, { file }).message}` });
      continue;
    }
    let found: { name: string; value: unknown }[];
    let bundle: CollectedBundle;
    try {
      // The code first, then the import: what is imported is the bundle's code only if no file of it
      // changed in between (checked below), so a version always names the code that ran.
      // A file esbuild cannot follow is imported all the same: its import error (a syntax error, a missing
      // module) is the one the user knows; if it imports, the bundle's error is reported.
      const collected = await collecting.get(file)!;
      const ns = await importModule(pathToFileURL(abs).href);
      if ('e' in collected) throw collected.e;
      bundle = collected.b;
      if (!bundleUnchanged(bundle)) throw new DagImportError('it (or a module it imports) changed while it was loaded; it is loaded again when the folder is', { file });
      options.bundles?.put(bundle, new Date((options.now ?? Date.now)()).toISOString());
      // Inside the try: reading an export can throw too (a binding not initialised, in an import cycle).
      found = candidates(ns);
    } catch (e) {
      const err = describeImportError(e, file, abs, root);
      errors.push(err);
      const dagId = dagIdOf(e);
      if (dagId !== null) errorDagIds.set(err, dagId);
      continue;
    }
    const seen = new Map<Dag, string>();
    for (const { name, value } of found) {
      const dag = value as Dag;
      if (seen.has(dag)) continue; // the same DAG exported under two names
      const first = owner.get(dag.dagId);
      if (first && first.dag === dag) continue; // a DAG another file defines, imported and re-exported here
      seen.set(dag, name);
      if (first) {
        const where = first.file === file ? `by export '${[...seen].find(([d]) => d === first.dag)?.[1] ?? '?'}' of this file` : `in file ${first.file}`;
        const err: DagFileImportError = {
          file,
          error: new DagImportError(
            `already defined ${where}; this file's export '${name}' is ignored (dagIds must be unique in the DAGs folder)`,
            { file, dagId: dag.dagId },
          ).message,
        };
        errors.push(err);
        errorDagIds.set(err, dag.dagId);
        continue;
      }
      const code = bundle.manifest.files.map((f) => ({ file: path.join(bundle.root, ...f.path.split('/')), sha256: f.sha256 }));
      const located = dag.withFileloc(file).withBundle(bundle.manifest.hash, code);
      owner.set(dag.dagId, { file, dag });
      dags.push(located);
    }
  }
  dags.sort((a, b) => (a.dagId < b.dagId ? -1 : a.dagId > b.dagId ? 1 : 0));
  return new DagBag(root, dags, errors, files, errorDagIds, checker);
}
