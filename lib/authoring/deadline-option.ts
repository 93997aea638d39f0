// The `deadline` option of a DAG (Airflow 3.1's DeadlineAlert): checked and split into the spec's part
// (reference and interval, so the scheduler can compute when it falls) and the callback (the DAG's runtime).

import { runNotification, callbackItems, runAll, sendNotification, type NotifierTargets } from './callback-list.ts';
import type { DagRunInfo } from './context.ts';
import type { Notifier } from './notifiers.ts';
import { isNotifier } from './notifiers.ts';
import { DagDefinitionError, type ErrorLocation } from '../errors.ts';
import { toMs, type Duration } from '../model/duration.ts';
import type { DeadlineReferenceSpec, DeadlineSpec } from '../model/notify-spec.ts';

/** What a deadline's callback receives: the run (still queued or running) and the deadline it missed. */
export interface DeadlineContext extends DagRunInfo {
  deadline: {
    /** When the deadline fell. */
    at: Date;
    /** `dagrun_queued_at`, `dagrun_logical_date`, or the fixed instant (ISO-8601). */
    reference: string;
    /** The interval as written. */
    interval: string;
  };
}

export type DeadlineCallback = (ctx: DeadlineContext) => void | Promise<void>;

/** `'dagrun_queued_at'`, `'dagrun_logical_date'`, or a fixed instant: a Date, or an ISO-8601 string (`2026-06-01T00:00:00Z`). */
export type DeadlineReference = 'dagrun_queued_at' | 'dagrun_logical_date' | Date | `${number}-${number}-${number}${string}`;

/** A deadline alert: when a run has not ended by `reference` + `interval`, `callback` runs once. */
export interface DeadlineOption {
  /**
   * What the deadline is measured from: when the run was queued (`'dagrun_queued_at'`), its logical date
   * (`'dagrun_logical_date'`), or a fixed instant (a Date or an ISO-8601 string) for every run.
   */
  reference: DeadlineReference;
  /** How long after the reference the run must have ended (e.g. '30m', '1h', or milliseconds). */
  interval: Duration;
  /** Run once when the deadline is missed: a function, a notifier, or a list of them (in order). */
  callback: DeadlineCallback | Notifier | readonly (DeadlineCallback | Notifier)[];
}

const DEADLINE_KEYS = ['reference', 'interval', 'callback'];

function reference(v: unknown, loc: ErrorLocation): DeadlineReferenceSpec {
  if (v === 'dagrun_queued_at' || v === 'dagrun_logical_date') return { kind: v };
  const d = v instanceof Date ? v : typeof v === 'string' && /^\d{4}-\d\d-\d\d/.test(v) ? new Date(v) : null;
  if (!d || Number.isNaN(d.getTime())) {
    throw new DagDefinitionError(`reference ${JSON.stringify(v)} is not 'dagrun_queued_at', 'dagrun_logical_date' or a date (a Date or an ISO-8601 string)`, loc);
  }
  return { kind: 'fixed', at: d.toISOString() };
}

/** The `deadline` option (one or a list) as specs and callbacks, index for index. */
export function parseDeadlines(value: DeadlineOption | readonly DeadlineOption[] | undefined, loc: ErrorLocation, targets: NotifierTargets): { specs: DeadlineSpec[]; callbacks: DeadlineCallback[] } {
  if (value === undefined) return { specs: [], callbacks: [] };
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  const specs: DeadlineSpec[] = [];
  const callbacks: DeadlineCallback[] = [];
  list.forEach((d, i) => {
    const field = Array.isArray(value) ? `deadline[${i}]` : 'deadline';
    if (typeof d !== 'object' || d === null) throw new DagDefinitionError('expected { reference, interval, callback }', { ...loc, field });
    for (const k of Object.keys(d)) {
      if (!DEADLINE_KEYS.includes(k)) throw new DagDefinitionError(`unknown deadline option '${k}' (known: ${DEADLINE_KEYS.join(', ')})`, { ...loc, field: `${field}.${k}` });
    }
    const o = d as Partial<DeadlineOption>;
    if (o.interval === undefined) throw new DagDefinitionError('a deadline needs an interval (e.g. 30m)', { ...loc, field: `${field}.interval` });
    if (o.callback === undefined) throw new DagDefinitionError('a deadline needs a callback (a function or a notifier)', { ...loc, field: `${field}.callback` });
    const intervalMs = toMs(o.interval, { ...loc, field: `${field}.interval` });
    const ref = reference(o.reference, { ...loc, field: `${field}.reference` });
    const items = callbackItems<DeadlineCallback>(o.callback, 'deadline', { ...loc, field: `${field}.callback` }, targets);
    specs.push({ reference: ref, intervalMs, interval: typeof o.interval === 'number' ? `${o.interval}ms` : o.interval });
    callbacks.push(
      runAll<DeadlineContext>(
        items.map((item) =>
          isNotifier(item)
            ? (c) => sendNotification(item, runNotification(c, 'deadline_missed', { at: c.deadline.at.toISOString(), reference: c.deadline.reference, interval: c.deadline.interval }))
            : item,
        ),
      ),
    );
  });
  return { specs, callbacks };
}
