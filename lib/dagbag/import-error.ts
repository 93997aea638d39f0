import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DagImportError, errorMessage } from '../errors.ts';

/** A DAG file that could not be imported, or a DAG in it that could not be added to the bag. */
export interface DagFileImportError {
  /** The file, relative to the DAGs folder ('/' separators). */
  file: string;
  /** What went wrong; it names the file, and the DAG, task and field when they are known. */
  error: string;
}

const FRAME = /\(?((?:file:\/\/)?\/[^\s()]+?):(\d+):(\d+)\)?\s*$/;

function framePath(p: string): string {
  return p.startsWith('file://') ? fileURLToPath(p) : p;
}

/**
 * The line of the DAGs folder where an error was thrown: the first stack frame in the file itself, else
 * the first in any file of the folder (a helper the file imports). Null when the stack names neither.
 */
function locate(e: unknown, absFile: string, folder: string): string | null {
  const stack = e instanceof Error && typeof e.stack === 'string' ? e.stack : '';
  let inFolder: string | null = null;
  for (const line of stack.split('\n')) {
    if (!/^\s+at /.test(line)) continue;
    const m = FRAME.exec(line);
    if (!m) continue;
    let p: string;
    try {
      p = framePath(m[1]!);
    } catch {
      continue;
    }
    const at = `${path.relative(folder, p).split(path.sep).join('/')}:${m[2]}:${m[3]}`;
    if (p === absFile) return at;
    if (inFolder === null && p.startsWith(folder + path.sep) && !p.includes(`${path.sep}node_modules${path.sep}`)) inFolder = at;
  }
  return inFolder;
}

/** The dagId an error names (a DagDefinitionError's location), even from another copy of the library. */
export function dagIdOf(e: unknown): string | null {
  const loc = typeof e === 'object' && e !== null ? (e as { location?: unknown }).location : undefined;
  const dagId = typeof loc === 'object' && loc !== null ? (loc as { dagId?: unknown }).dagId : undefined;
  return typeof dagId === 'string' ? dagId : null;
}

/** A place in a file: the file (absolute), its 1-based line and column. */
interface Place {
  file: string;
  line: number;
  column: number;
}

/**
 * A syntax error of the TypeScript compile (esbuild's, through tsx): its message names
 * `<file>:<line>:<col>: ERROR: <text>`. Its place and text, or null.
 */
function transformError(e: unknown): { place: Place; text: string } | null {
  const message = errorMessage(e);
  const m = /((?:\/|[A-Za-z]:\\)[^\n:]+):(\d+):(\d+): ERROR: ([^\n]+)/.exec(message);
  if (!m) return null;
  return { place: { file: m[1]!, line: Number(m[2]), column: Number(m[3]) + 1 }, text: m[4]! };
}

/**
 * Where a file imports a name its module does not export (Node's `SyntaxError: The requested module 'x'
 * does not provide an export named 'y'`, which names no line): the first import of `y` from `'x'` in it.
 */
function missingExport(e: unknown, absFile: string): Place | null {
  const m = /The requested module '([^']+)' does not provide an export named '([^']+)'/.exec(errorMessage(e));
  if (!m) return null;
  let text: string;
  try {
    text = readFileSync(absFile, 'utf8');
  } catch {
    return null;
  }
  const name = m[2]!.replace(/[$]/g, '\\$');
  const imports = new RegExp(`import\\s+(?:type\\s+)?[^;]*?\\b${name}\\b[^;]*?from\\s*['"]${m[1]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}['"]`, 'g');
  const found = imports.exec(text);
  if (!found) return null;
  const offset = found.index + found[0].search(new RegExp(`\\b${name}\\b`));
  const before = text.slice(0, offset).split('\n');
  return { file: absFile, line: before.length, column: before.at(-1)!.length + 1 };
}

/**
 * The lines around a place of a file, numbered, the place's line marked with `>` and its column with `^`
 * (as Babel's and esbuild's code frames show it); empty when the file cannot be read.
 */
export function codeFrame(place: Place, around = 2): string {
  let lines: string[];
  try {
    lines = readFileSync(place.file, 'utf8').split(/\r?\n/);
  } catch {
    return '';
  }
  if (place.line < 1 || place.line > lines.length) return '';
  const first = Math.max(1, place.line - around);
  const last = Math.min(lines.length, place.line + around);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const marker = n === place.line ? '>' : ' ';
    out.push(`${marker} ${String(n).padStart(width)} | ${lines[n - 1]}`.trimEnd());
    if (n === place.line) out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, place.column - 1))}^`);
  }
  return out.join('\n');
}

/** A place from a stack frame's `<rel>:<line>:<col>` (relative to the folder). */
function placeOf(at: string, folder: string): Place | null {
  const m = /^(.*):(\d+):(\d+)$/.exec(at);
  return m ? { file: path.join(folder, m[1]!), line: Number(m[2]), column: Number(m[3]) } : null;
}

/**
 * Describe an error thrown while importing a DAG file: `file <rel>: <ErrorName>: <message>`, then
 * `at <rel>:<line>:<col>` and a code frame of that line when the place is known: a syntax error's (from the
 * compile), an import of a name the module does not export (found in the file), else the first stack frame in
 * the file or in the folder. The message of a DagDefinitionError already names the DAG, the task and the field.
 */
export function describeImportError(e: unknown, relFile: string, absFile: string, folder: string): DagFileImportError {
  const rel = (p: string) => path.relative(folder, p).split(path.sep).join('/');
  const syntax = transformError(e);
  let head: string;
  let place: Place | null;
  if (syntax) {
    head = `SyntaxError: ${syntax.text}`;
    place = syntax.place;
  } else {
    head = errorMessage(e);
    const at = locate(e, absFile, folder);
    place = missingExport(e, absFile) ?? (at ? placeOf(at, folder) : null);
  }
  const frame = place ? codeFrame(place) : '';
  const detail = `${head}${place ? `\n    at ${rel(place.file)}:${place.line}:${place.column}` : ''}${frame ? `\n\n${frame}` : ''}`;
  return { file: relFile, error: new DagImportError(detail, { file: relFile }).message };
}
