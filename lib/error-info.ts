/**
 * Failures as data: what a task instance's try failed with, as it is stored, served and shown. An
 * {@link ErrorInfo} keeps the error's `name` and `message` apart, and in `data` what else is known of it
 * (its stack, its cause chain), all plain JSON. {@link serializeError} makes one of any thrown value,
 * {@link formatError} gives back the `"Name: message"` text that was stored before failures were
 * structured, and {@link errorInfoOf} reads either form (records written by older versions hold the text).
 */

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A failure: the error's name (its class, e.g. `TaskTimeoutError`), its message, and what else is known. */
export type ErrorInfo = {
  /** The error's stable name, e.g. `NonRetriableError`; `NonError` for a thrown value that is not an Error. */
  name: string;
  message: string;
  data?: ErrorData;
};

/** What is known of an error besides its name and message (absent fields: not known). */
export type ErrorData = {
  /** Its stack trace, at most {@link STACK_MAX} characters (the first ones). */
  stack?: string;
  /** The error it was caused by (`Error.cause`), itself an ErrorInfo. */
  cause?: ErrorInfo;
  /** The errors of an `AggregateError`. */
  errors?: ErrorInfo[];
};

/** Characters of a message kept: a longer one is cut, ending with `…` (a failure stays storable). */
export const MESSAGE_MAX = 16 * 1024;
/** Characters of a stack trace kept. */
export const STACK_MAX = 4 * 1024;
/**
 * Errors kept besides the one serialised: its causes and an AggregateError's errors, depth first (a
 * cycle ends a chain too). Each keeps at most {@link NESTED_MAX} characters of message and of stack,
 * so a whole ErrorInfo stays under about 45 KB.
 */
export const NESTED_ERRORS_MAX = 10;
/** Characters of message and of stack kept of a cause (or an AggregateError's error). */
export const NESTED_MAX = 1000;

/** Name given to a thrown value that is not an Error (as the `serialize-error` package names it). */
export const NON_ERROR_NAME = 'NonError';

export interface SerializeOptions {
  /**
   * Whether to keep the stack trace (default true). An error airless makes to describe a try's end
   * (a pool that does not exist, a try that was lost) leaves it out: it would name airless's code, not
   * the task's.
   */
  stack?: boolean;
}

/** `text` cut to `max` characters, the last being `…` when it was longer. */
export function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** JSON text of any value, never throwing (a value JSON cannot hold gives `String(value)`). */
function jsonText(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    if (text !== undefined) return text;
  } catch {
    // circular, a BigInt, or a throwing toJSON: fall back to String
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** A value shaped like an error (an Error, or an object with a string name or message, e.g. a cloned one). */
function errorLike(value: unknown): { name?: unknown; message?: unknown; stack?: unknown; cause?: unknown; errors?: unknown } | null {
  if (value instanceof Error) return value;
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  return typeof v.message === 'string' && (typeof v.name === 'string' || v.name === undefined) ? v : null;
}

/**
 * The {@link ErrorInfo} of any thrown value: an Error (or an object shaped like one) keeps its name,
 * message, stack, cause chain and an AggregateError's errors; any other value becomes a `NonError`
 * whose message is its JSON text. Sizes are bounded ({@link MESSAGE_MAX}, {@link STACK_MAX},
 * {@link NESTED_ERRORS_MAX}, {@link NESTED_MAX}); it never throws.
 */
export function serializeError(e: unknown, options: SerializeOptions = {}): ErrorInfo {
  return serializeOne(e, { withStack: options.stack ?? true, seen: new Set(), nested: 0 }, MESSAGE_MAX, STACK_MAX);
}

interface Walk {
  withStack: boolean;
  /** The values serialised so far (a cause chain that loops ends where it would repeat). */
  seen: Set<unknown>;
  /** Nested errors serialised so far. */
  nested: number;
}

/** The next nested error (a cause, an aggregated error), or null when it repeats or the budget is spent. */
function serializeNested(e: unknown, walk: Walk): ErrorInfo | null {
  if (walk.seen.has(e) || walk.nested >= NESTED_ERRORS_MAX) return null;
  walk.nested++;
  return serializeOne(e, walk, NESTED_MAX, NESTED_MAX);
}

function serializeOne(e: unknown, walk: Walk, messageMax: number, stackMax: number): ErrorInfo {
  walk.seen.add(e);
  let like: ReturnType<typeof errorLike>;
  try {
    like = errorLike(e);
  } catch {
    like = null;
  }
  if (!like) return { name: NON_ERROR_NAME, message: cut(typeof e === 'string' ? e : jsonText(e), messageMax) };
  const read = (k: 'name' | 'message' | 'stack' | 'cause' | 'errors'): unknown => {
    try {
      return like[k];
    } catch {
      return undefined;
    }
  };
  const rawName = read('name');
  const rawMessage = read('message');
  const name = typeof rawName === 'string' && rawName !== '' ? rawName : 'Error';
  const message = cut(typeof rawMessage === 'string' ? rawMessage : jsonText(rawMessage ?? ''), messageMax);
  const data: ErrorData = {};
  const stack = read('stack');
  if (walk.withStack && typeof stack === 'string' && stack !== '') data.stack = cut(stack, stackMax);
  const cause = read('cause');
  if (cause !== undefined) {
    const c = serializeNested(cause, walk);
    if (c) data.cause = c;
  }
  const errors = read('errors');
  if (Array.isArray(errors)) {
    const list: ErrorInfo[] = [];
    for (const x of errors as unknown[]) {
      const one = serializeNested(x, walk);
      if (one) list.push(one);
    }
    if (list.length > 0) data.errors = list;
  }
  return Object.keys(data).length > 0 ? { name, message, data } : { name, message };
}

/** The text of a failure, `"Name: message"` (as failures were stored before they were structured). */
export function formatError(info: ErrorInfo): string {
  return `${info.name}: ${info.message}`;
}

/** A stack frame line (`    at fn (file:line:col)`). */
const FRAME = /^\s+at /;

/**
 * The text of a failure with its traceback: `"Name: message"`, then the frames of its stack (as V8 wrote
 * them: source-mapped to the TypeScript line when source maps are on, as the CLI has them), without Node's
 * own internals and without the frames `hidden` says are the runner's (none at all when the error was thrown
 * by the runner), then each cause (`Caused by: ...`) and an AggregateError's errors the same way. Without a
 * stack, `"Name: message"` alone.
 */
export function formatErrorDetail(info: ErrorInfo, hidden: (frame: string) => boolean = () => false, indent = ''): string {
  const lines = [`${indent}${formatError(info).split('\n').join(`\n${indent}`)}`];
  const own = (info.data?.stack ?? '').split('\n').filter((l) => FRAME.test(l) && !/\(node:|at node:|\bnode:internal\//.test(l));
  // An error thrown by the runner itself (its first frame is the runner's: a Batch job that failed, a
  // timeout) describes how the try ended: its frames are no traceback of the task's code.
  const frames = own.length > 0 && hidden(own[0]!) ? [] : own.filter((l) => !hidden(l));
  for (const f of frames) lines.push(`${indent}    ${f.trim()}`);
  const cause = info.data?.cause;
  if (cause) lines.push(`${indent}Caused by: ${formatErrorDetail(cause, hidden, indent).trimStart()}`);
  for (const [i, e] of (info.data?.errors ?? []).entries()) lines.push(`${indent}  [${i}] ${formatErrorDetail(e, hidden, `${indent}  `).trimStart()}`);
  return lines.join('\n');
}

/** An error name as the `"Name: message"` text starts with: an identifier, dots allowed (`States.Timeout`). */
const NAME_PREFIX = /^([A-Za-z_$][\w$]*(?:\.[\w$]+)*): /;

/**
 * The {@link ErrorInfo} of a failure stored as text by an older version, `"Name: message"`; text that does
 * not start with a name (a bare reason) becomes an `Error` with the whole text as its message.
 */
export function parseErrorText(text: string): ErrorInfo {
  const m = NAME_PREFIX.exec(text);
  return m ? { name: m[1]!, message: text.slice(m[0].length) } : { name: 'Error', message: text };
}

/** Whether `value` is an ErrorInfo: string name and message, and `data`, when present, an object. */
export function isErrorInfo(value: unknown): value is ErrorInfo {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.name === 'string' && typeof v.message === 'string' && (v.data === undefined || (typeof v.data === 'object' && v.data !== null && !Array.isArray(v.data)));
}

/**
 * A stored failure as an {@link ErrorInfo}: one already (as written now), the `"Name: message"` text of an
 * older version, or JSON text of an ErrorInfo (a text column). Anything else is refused with an error
 * naming what it got: a record that holds it is corrupt.
 */
export function errorInfoOf(value: unknown): ErrorInfo {
  if (isErrorInfo(value)) return value;
  if (typeof value === 'string') {
    if (value.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        return parseErrorText(value);
      }
      if (isErrorInfo(parsed)) return parsed;
    }
    return parseErrorText(value);
  }
  throw new TypeError(`a stored error must be {name, message, data?} or "Name: message" text, got ${cut(jsonText(value), 200)}`);
}

/** {@link errorInfoOf}, null kept. */
export function errorInfoOrNull(value: unknown): ErrorInfo | null {
  return value === null || value === undefined ? null : errorInfoOf(value);
}

/**
 * `info` made to fit `messageMax` characters of message and `stackMax` of stack (the cause chain and an
 * AggregateError's errors left out): a summary, e.g. of an earlier try in a task instance's history.
 */
export function summarizeError(info: ErrorInfo, messageMax: number, stackMax: number): ErrorInfo {
  const stack = info.data?.stack;
  const out: ErrorInfo = { name: info.name, message: cut(info.message, messageMax) };
  if (stack !== undefined) out.data = { stack: cut(stack, stackMax) };
  return out;
}
