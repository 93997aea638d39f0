/**
 * The secrets masker (Airflow's): every secret value a task reads (a connection's password, a variable
 * whose key looks sensitive, anything from a secrets backend) is registered here, and every line of a
 * task's log has those values replaced by `***` before it is kept. Process-wide, as Airflow's is: a try
 * worker thread has its own and masks its lines before it sends them, the host masks them again.
 */

import { quote } from './connection-uri.ts';

/** Values shorter than this are not masked (masking `1` or `yes` would make every log unreadable). Airflow's default is 5. */
export const MIN_MASKED_LENGTH = 5;

/** Parts of a key (lower-cased) that make its value sensitive: Airflow's `DEFAULT_SENSITIVE_FIELDS`. */
export const SENSITIVE_KEY_PARTS = ['access_token', 'api_key', 'apikey', 'authorization', 'passphrase', 'passwd', 'password', 'private_key', 'secret', 'token', 'keyfile_dict', 'service_account'] as const;

/** Whether a variable's key (or a field's name) says its value is secret (Airflow's `should_hide_value_for_key`). */
export function isSensitiveKey(key: string): boolean {
  const k = key.trim().toLowerCase();
  return SENSITIVE_KEY_PARTS.some((p) => k.includes(p));
}

/** The text shown instead of a secret. */
export const MASK = '***';

export class SecretsMasker {
  private readonly values = new Set<string>();
  private pattern: RegExp | null = null;

  /**
   * Register a secret: a string (and its percent-encoded forms, as they appear in URIs: `encodeURIComponent`'s and Airflow's `get_uri`'s), or every string
   * inside an object or array. Strings shorter than {@link MIN_MASKED_LENGTH} are skipped.
   */
  add(secret: unknown): void {
    if (typeof secret === 'string') {
      for (const v of [secret, encodeURIComponent(secret), quote(secret)]) {
        if (v.length >= MIN_MASKED_LENGTH && !this.values.has(v)) {
          this.values.add(v);
          this.pattern = null;
        }
      }
    } else if (Array.isArray(secret)) {
      for (const x of secret) this.add(x);
    } else if (typeof secret === 'object' && secret !== null) {
      for (const x of Object.values(secret)) this.add(x);
    }
  }

  /** Register the values of an object's fields whose names look sensitive (a connection's extra). */
  addSensitiveFields(o: unknown): void {
    if (typeof o !== 'object' || o === null) return;
    for (const [k, v] of Object.entries(o)) {
      if (isSensitiveKey(k)) this.add(v);
      else if (typeof v === 'object') this.addSensitiveFields(v);
    }
  }

  /** `text` with every registered secret replaced by `***`. */
  redact(text: string): string {
    if (this.values.size === 0) return text;
    this.pattern ??= new RegExp(
      [...this.values]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    );
    return text.replace(this.pattern, MASK);
  }

  /** How many values are registered (forms included). */
  get size(): number {
    return this.values.size;
  }

  /** Forget every value (tests). */
  clear(): void {
    this.values.clear();
    this.pattern = null;
  }
}

/** This process's (or worker thread's) masker. */
export const secretsMasker = new SecretsMasker();

const maskedConsoles = new WeakSet<object>();

/**
 * Mask the secrets in what task code writes with `console` outside a try's log: a deployed function's
 * console goes straight to CloudWatch Logs (locally, the runner captures it into the try's log, which is
 * masked). Strings are redacted; other values are written as their JSON, redacted, once a secret is
 * known. Idempotent per console.
 */
export function maskConsole(target: Console = console, masker: SecretsMasker = secretsMasker): void {
  if (maskedConsoles.has(target)) return;
  maskedConsoles.add(target);
  const methods = ['log', 'info', 'debug', 'warn', 'error'] as const;
  for (const method of methods) {
    const original = target[method].bind(target);
    target[method] = (...args: unknown[]) => {
      if (masker.size === 0) return original(...args);
      original(
        ...args.map((a) => {
          if (typeof a === 'string') return masker.redact(a);
          if (typeof a !== 'object' || a === null) return a;
          try {
            return masker.redact(a instanceof Error ? (a.stack ?? String(a)) : JSON.stringify(a));
          } catch {
            return a;
          }
        }),
      );
    };
  }
}
