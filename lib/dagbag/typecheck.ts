import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type ts from 'typescript';
import { errorMessage } from '../errors.ts';
import { packageRoot } from '../package-root.ts';
import { LIBRARY_ENTRY } from './library-resolution.ts';

/** Set to `1` to load DAG files without type checking them (what `--no-typecheck` does). */
export const NO_TYPECHECK_ENV = 'AIRLESS_NO_TYPECHECK';

/** Whether DAG files are type checked when nothing says otherwise: yes, unless `AIRLESS_NO_TYPECHECK=1`. */
export function typecheckByDefault(): boolean {
  return process.env[NO_TYPECHECK_ENV] !== '1';
}

type TypeScript = typeof ts;

/** The DAG files' type errors, as {@link DagTypeChecker.check} found them. */
export interface DagTypeErrors {
  /** DAG file (relative to the folder, '/' separators) → its error lines, `file:line:col - error TS2339: message`; only files with errors. */
  readonly byFile: ReadonlyMap<string, readonly string[]>;
  /** Why nothing was checked (no TypeScript found); undefined when the files were checked. */
  readonly skipped?: string;
}

/** The TypeScript compiler a folder's DAGs are checked with: the project's own, else the one airless resolves; null when neither exists. */
function loadTypeScript(folder: string): { ts: TypeScript; from: string } | null {
  for (const from of [path.join(folder, 'x.js'), fileURLToPath(import.meta.url)]) {
    try {
      const req = createRequire(from);
      const file = req.resolve('typescript');
      return { ts: req(file) as TypeScript, from: file };
    } catch {
      // not resolvable from there: try the next
    }
  }
  return null;
}

/** The types of the running library: `lib/index.ts` in the repository, `dist/lib/index.d.ts` beside the built `index.js`. */
function libraryTypes(): string {
  const entry = fileURLToPath(LIBRARY_ENTRY);
  return entry.endsWith('.js') ? entry.replace(/\.js$/, '.d.ts') : entry;
}

/** A parsed file as the cache keeps it: reused while the file's mtime and size are those it was read at. */
interface CachedFile {
  stamp: string;
  file: ts.SourceFile;
}

/**
 * Parsed files shared by every checker of this process, per set of parse options (one map per key): the
 * TypeScript library files, `@types/node` and a library's declarations are parsed once, whichever DAGs
 * folder imports them.
 */
const documents = new Map<string, Map<string, CachedFile>>();

/** Forget the parsed files of every checker of this process (the next check parses everything again: a cold check). */
export function forgetParsedFiles(): void {
  documents.clear();
}

function stampOf(file: string): string | null {
  try {
    const s = statSync(file);
    return s.isFile() ? `${s.mtimeMs}:${s.size}` : null;
  } catch {
    return null;
  }
}

/** Whether the warning that no TypeScript was found was written (one line per process). */
let warnedMissing = false;

export interface DagTypeCheckerOptions {
  /** Where the one warning line goes when no TypeScript can be found. Default: stderr. */
  warn?: (line: string) => void;
}

/**
 * Type checks the DAG files of a folder with the TypeScript compiler API, keeping its last program: a
 * check after an edit re-parses only the files whose mtime changed and re-checks only the files affected
 * (a semantic-diagnostics builder program built on the previous one). Compiler options: the nearest
 * `tsconfig.json` above the folder (its `compilerOptions`, with `noEmit`), else strict defaults; the roots
 * are the DAG files. `'airless'` resolves to the running library, as it does when the files are imported.
 *
 * Only errors in the DAGs folder's project are reported (not in `node_modules`, not in declaration files
 * outside the folder, not in airless itself), each against every DAG file that imports the file it is in.
 */
export class DagTypeChecker {
  /** The folder (absolute). */
  readonly folder: string;
  private readonly warn: (line: string) => void;
  private compiler: { ts: TypeScript; from: string } | null | undefined;
  private builder: ts.SemanticDiagnosticsBuilderProgram | undefined;
  private config: { options: ts.CompilerOptions; root: string; key: string } | undefined;
  private configStamp: string | undefined;

  constructor(folder: string, options: DagTypeCheckerOptions = {}) {
    this.folder = path.resolve(folder);
    this.warn = options.warn ?? ((line) => void process.stderr.write(`${line}\n`));
  }

  /** The program of the last check (undefined before the first, or when TypeScript was not found). */
  get program(): ts.Program | undefined {
    return this.builder?.getProgram();
  }

  /** The TypeScript package checking the files (its resolved entry), null when none was found. */
  get typescript(): string | null {
    return this.compiler?.from ?? null;
  }

  /**
   * Check `files` (relative to the folder, '/' separators; JavaScript files are not checked) and return
   * each one's error lines: its own errors, then those of the project's files it imports. A file with a
   * syntax error gets none: importing it reports that.
   */
  check(files: readonly string[]): DagTypeErrors {
    if (this.compiler === undefined) this.compiler = loadTypeScript(this.folder);
    if (this.compiler === null) {
      const skipped = `TypeScript was not found from ${this.folder} nor from airless: DAG files are not type checked (npm install -D typescript)`;
      if (!warnedMissing) this.warn(`airless: ${skipped}`);
      warnedMissing = true;
      return { byFile: new Map(), skipped };
    }
    const { ts } = this.compiler;
    const config = this.configure(ts);
    const roots = files.filter((f) => /\.(?:ts|mts|cts|tsx)$/.test(f) && !/\.d\.[mc]?ts$/.test(f));
    const abs = new Map(roots.map((f) => [path.join(this.folder, ...f.split('/')), f]));
    const host = this.host(ts, config.options, config.key);
    this.builder = ts.createSemanticDiagnosticsBuilderProgram([...abs.keys()], config.options, host, this.builder);
    const program = this.builder.getProgram();
    const byFile = new Map<string, string[]>();
    const linesOf = new Map<string, string[]>();
    const fileLines = (sf: ts.SourceFile): string[] => {
      let lines = linesOf.get(sf.fileName);
      if (!lines) {
        // A file that does not parse is left to the import, whose error names the line (tsx, esbuild): its
        // type errors would be the parser's confusion.
        const diagnostics = program.getSyntacticDiagnostics(sf).length ? [] : (this.builder?.getSemanticDiagnostics(sf) ?? []);
        lines = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error).map((d) => this.format(ts, d));
        linesOf.set(sf.fileName, lines);
      }
      return lines;
    };
    for (const [file, rel] of abs) {
      const sf = program.getSourceFile(file);
      if (!sf) continue;
      if (program.getSyntacticDiagnostics(sf).length) continue;
      const lines = [...fileLines(sf)];
      for (const dep of this.builder.getAllDependencies(sf)) {
        const depFile = program.getSourceFile(dep);
        if (!depFile || depFile === sf || !this.reported(program, depFile, config.root)) continue;
        lines.push(...fileLines(depFile));
      }
      if (lines.length) byFile.set(rel, lines);
    }
    return { byFile };
  }

  /** A file whose errors are the project's: under its root, not a package, not airless, not a declaration file outside the DAGs folder. */
  private reported(program: ts.Program, sf: ts.SourceFile, root: string): boolean {
    const file = path.resolve(sf.fileName);
    const inFolder = file.startsWith(this.folder + path.sep);
    if (file.split(path.sep).includes('node_modules') || program.isSourceFileDefaultLibrary(sf)) return false;
    if (inFolder) return true;
    if (sf.isDeclarationFile || !file.startsWith(root + path.sep)) return false;
    const lib = packageRoot();
    return !['lib', 'cdk', 'functions', 'dist'].some((d) => file.startsWith(path.join(lib, d) + path.sep));
  }

  private format(ts: TypeScript, d: ts.Diagnostic): string {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n').join('\n    ');
    if (!d.file || d.start === undefined) return `error TS${d.code}: ${message}`;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    const file = path.resolve(d.file.fileName);
    const shown = file.startsWith(this.folder + path.sep) ? path.relative(this.folder, file).split(path.sep).join('/') : file;
    return `${shown}:${line + 1}:${character + 1} - error TS${d.code}: ${message}`;
  }

  /** The compiler options (again when the tsconfig file changed). */
  private configure(ts: TypeScript): { options: ts.CompilerOptions; root: string; key: string } {
    const configFile = ts.findConfigFile(this.folder, (f) => ts.sys.fileExists(f), 'tsconfig.json');
    const stamp = configFile === undefined ? '' : `${configFile}:${stampOf(configFile) ?? ''}`;
    if (this.config && stamp === this.configStamp) return this.config;
    let options: ts.CompilerOptions | undefined;
    let root = this.folder;
    if (configFile !== undefined) {
      const read = ts.readConfigFile(configFile, (f) => ts.sys.readFile(f));
      if (read.error) {
        this.warn(`airless: ${configFile} cannot be read (${ts.flattenDiagnosticMessageText(read.error.messageText, ' ')}); DAG files are type checked with the default options`);
      } else {
        root = path.dirname(path.resolve(configFile));
        options = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configFile).options;
      }
    }
    options = options ? { ...options } : this.defaults(ts);
    // Check only: nothing is written, no build info, no project references' outputs.
    options.noEmit = true;
    for (const key of ['composite', 'incremental', 'tsBuildInfoFile', 'declaration', 'declarationMap', 'emitDeclarationOnly', 'sourceMap', 'inlineSourceMap', 'outFile', 'out'] as const) delete options[key];
    // 'airless' is the running library, as at import (library-resolution.ts), unless the project maps it.
    if (!options.paths?.airless) options.paths = { ...options.paths, airless: [libraryTypes()] };
    // Files parsed (and bound) under the same options are shared between programs.
    const key = JSON.stringify(options);
    this.config = { options, root, key };
    this.configStamp = stamp;
    return this.config;
  }

  /** Strict defaults, for a folder without a tsconfig.json above it. */
  private defaults(ts: TypeScript): ts.CompilerOptions {
    const options: ts.CompilerOptions = {
      strict: true,
      target: ts.ScriptTarget.ES2023,
      lib: ['lib.es2023.d.ts'],
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      allowImportingTsExtensions: true,
      resolveJsonModule: true,
      skipLibCheck: true,
      types: ['node'],
    };
    // @types/node from the folder's packages, else from airless's (a folder outside any project).
    try {
      createRequire(path.join(this.folder, 'x.js')).resolve('@types/node/package.json');
    } catch {
      try {
        const own = createRequire(path.join(packageRoot(), 'x.js')).resolve('@types/node/package.json');
        options.typeRoots = [path.dirname(path.dirname(own))];
      } catch {
        options.types = [];
      }
    }
    return options;
  }

  /** A compiler host whose parsed files come from the process-wide cache while their mtime and size hold. */
  private host(ts: TypeScript, options: ts.CompilerOptions, key: string): ts.CompilerHost {
    const host = ts.createCompilerHost(options, true);
    let cache = documents.get(key);
    if (!cache) documents.set(key, (cache = new Map<string, CachedFile>()));
    const files = cache;
    host.getSourceFile = (fileName, languageVersionOrOptions, onError) => {
      const stamp = stampOf(fileName);
      if (stamp === null) return undefined;
      const format = typeof languageVersionOrOptions === 'object' ? `${languageVersionOrOptions.languageVersion}:${languageVersionOrOptions.impliedNodeFormat ?? ''}` : String(languageVersionOrOptions);
      const id = `${fileName}\u0000${format}`;
      const kept = files.get(id);
      if (kept && kept.stamp === stamp) return kept.file;
      let text: string | undefined;
      try {
        text = ts.sys.readFile(fileName);
      } catch (e) {
        onError?.(errorMessage(e));
      }
      if (text === undefined) return undefined;
      const file = ts.createSourceFile(fileName, text, languageVersionOrOptions, false);
      // The builder compares versions to find the files that changed.
      (file as ts.SourceFile & { version: string }).version = stamp;
      files.set(id, { stamp, file });
      return file;
    };
    return host;
  }
}

/** Type check the DAG files `files` of `folder` once (see {@link DagTypeChecker}). */
export function typecheckDagFiles(folder: string, files: readonly string[], options: DagTypeCheckerOptions = {}): DagTypeErrors {
  return new DagTypeChecker(folder, options).check(files);
}
