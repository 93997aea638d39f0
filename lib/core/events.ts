// What the scheduler and its hosts pass each other. Plain data, so the task runner (which reports a try's
// outcome), the scheduler (which acts on it) and the compiler's contract share one definition.

/** How a try ended, as reported by the task runner. */
export type TryResult =
  | { kind: 'success'; follow?: string[] | null; shortCircuit?: boolean }
  | { kind: 'failure'; error: string; retriable: boolean }
  | { kind: 'skip'; reason: string }
  /** Wait without holding anything, until `until` (a timer) or an external event (until null). */
  | { kind: 'defer'; until: number | null; externalId?: string };
