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

/**
 * Describe an error thrown while importing a DAG file: `file <rel>: <ErrorName>: <message> (at <rel>:<line>:<col>)`.
 * The message of a DagDefinitionError already names the DAG, the task and the field.
 */
export function describeImportError(e: unknown, relFile: string, absFile: string, folder: string): DagFileImportError {
  const at = locate(e, absFile, folder);
  const detail = `${errorMessage(e)}${at ? `\n    at ${at}` : ''}`;
  return { file: relFile, error: new DagImportError(detail, { file: relFile }).message };
}
