import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from '../model/hash.ts';
import { LIBRARY_ENTRY } from './library-resolution.ts';

/** Keys kept at most (the oldest go first): a key is a DAG file's code checked clean in one context. */
const MAX_KEYS = 2000;

/**
 * What a type check's verdict depends on besides a DAG file's code: the TypeScript that checks it (the one
 * resolvable from the folder, else airless's: its path and version), the nearest tsconfig.json above the
 * folder (its text), and the library's types (its entry's size and modification time: a new build or
 * install changes them). Read from files only, without loading TypeScript.
 */
export function typecheckContext(folder: string): string {
  const parts: string[] = [];
  for (const from of [path.join(folder, 'x.js'), fileURLToPath(import.meta.url)]) {
    try {
      const pkg = createRequire(from).resolve('typescript/package.json');
      parts.push(`ts ${pkg} ${(JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? '?'}`);
      break;
    } catch {
      // not resolvable from there: try the next
    }
  }
  for (let dir = path.resolve(folder); ; dir = path.dirname(dir)) {
    const tsconfig = path.join(dir, 'tsconfig.json');
    if (existsSync(tsconfig)) {
      parts.push(`tsconfig ${tsconfig} ${sha256(readFileSync(tsconfig, 'utf8'))}`);
      break;
    }
    if (path.dirname(dir) === dir) break;
  }
  const entry = fileURLToPath(LIBRARY_ENTRY);
  const types = entry.endsWith('.js') ? entry.replace(/\.js$/, '.d.ts') : entry;
  try {
    const st = statSync(types);
    parts.push(`airless ${types} ${st.size} ${st.mtimeMs}`);
  } catch {
    parts.push(`airless ${types} missing`);
  }
  return parts.join('\n');
}

/**
 * The DAG files' code that type checked clean, kept between processes (a file under the airless home), so
 * that a command run again on unchanged code does not check it again: a file's key is its bundle's hash
 * (every local file it imports, every package's installed version) in a {@link typecheckContext}. Only
 * clean verdicts are kept: a file with errors is checked (and its errors shown) each time.
 */
export class TypecheckCache {
  private keys: string[] | null = null;

  constructor(private readonly file: string) {}

  /** The key of a file's code (its bundle hash) in a context. */
  static key(bundleHash: string, context: string): string {
    return sha256(`${context}\u0000${bundleHash}`);
  }

  has(key: string): boolean {
    return this.load().includes(key);
  }

  /** Keep these keys as checked clean, and write the file (a failure to write only loses the cache). */
  add(keys: readonly string[]): void {
    const current = this.load();
    const fresh = keys.filter((k) => !current.includes(k));
    if (fresh.length === 0) return;
    this.keys = [...current, ...fresh].slice(-MAX_KEYS);
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ clean: this.keys }));
      renameSync(tmp, this.file);
    } catch {
      // a read-only home: the next command checks again
    }
  }

  private load(): string[] {
    if (this.keys !== null) return this.keys;
    try {
      const doc = JSON.parse(readFileSync(this.file, 'utf8')) as { clean?: unknown };
      this.keys = Array.isArray(doc.clean) ? doc.clean.filter((k): k is string => typeof k === 'string') : [];
    } catch {
      this.keys = [];
    }
    return this.keys;
  }
}
