// The extra a task's code gives the events of its outlets (`ctx.outletEvents(asset).extra`): kept per
// try (every context of the try shares it: an iteration's items too) and stored, when the code gave
// any, as an XCom of the try that the scheduler reads when it records the outlets' events on success.

import type { OutletEventAccessor } from '../authoring/context.ts';
import type { TaskInstanceRecord } from '../store/records.ts';

/** The XCom key under which a try's outlet extras are stored (`{ [uri]: extra }`). */
export const OUTLET_EVENTS_XCOM_KEY = 'airless_outlet_events';

/** The extras of a try, by the instance record it runs with. */
const extras = new WeakMap<TaskInstanceRecord, Map<string, OutletEventAccessor>>();

/** The accessor of one outlet of the try: the same object every time it is asked for. */
export function outletAccessor(ti: TaskInstanceRecord, uri: string): OutletEventAccessor {
  let m = extras.get(ti);
  if (!m) extras.set(ti, (m = new Map<string, OutletEventAccessor>()));
  let a = m.get(uri);
  if (!a) m.set(uri, (a = { extra: {} }));
  return a;
}

/** What the try's code gave, `{ [uri]: extra }` (only outlets with a non-empty extra), or null for nothing. */
export function takeOutletExtras(ti: TaskInstanceRecord): Record<string, Record<string, unknown>> | null {
  const m = extras.get(ti);
  if (!m) return null;
  const out: Record<string, Record<string, unknown>> = {};
  for (const [uri, a] of m) {
    if (typeof a.extra !== 'object' || a.extra === null || Array.isArray(a.extra)) throw new Error(`ctx.outletEvents('${uri}').extra must be a plain object, got ${JSON.stringify(a.extra)}`);
    if (Object.keys(a.extra).length > 0) out[uri] = a.extra;
  }
  return Object.keys(out).length > 0 ? out : null;
}
