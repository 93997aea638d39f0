// What a callback option may be: a function, a notifier, or a list of both. `dag()` turns each into one
// function (run by lib/scheduler/callbacks.ts as before) that runs every item in order, each whatever the
// others did, and throws what failed (one error, or an AggregateError naming each) after the last, so it is
// reported as a callback's error and never fails the run. The notifiers' targets go into the DAG's spec.

import type { NotificationContext } from '../core/notify-template.ts';
import { AirlessError, DagDefinitionError, type ErrorLocation } from '../errors.ts';
import { errorMessage } from '../errors.ts';
import type { NotifierTarget } from '../model/notify-spec.ts';
import type { DagRunCallback, DagRunInfo, TaskCallback, TaskCallbackContext } from './context.ts';
import { isNotifier, type Notifier } from './notifiers.ts';

/** A task's callback option: a function, a notifier, or a list of them (run in order). */
export type TaskCallbackOption = TaskCallback | Notifier | readonly (TaskCallback | Notifier)[];
/** A DAG's run callback option: a function, a notifier, or a list of them (run in order). */
export type DagRunCallbackOption = DagRunCallback | Notifier | readonly (DagRunCallback | Notifier)[];

/** A notifier failed to send (its cause says why). */
export class NotifierError extends AirlessError {
  override name = 'NotifierError';
}

/** Collects the targets of the notifiers a DAG uses (for IAM). */
export class NotifierTargets {
  private readonly byKey = new Map<string, NotifierTarget>();
  add(n: Notifier): void {
    if (n.target) this.byKey.set(JSON.stringify(n.target), n.target);
  }
  get list(): NotifierTarget[] {
    return [...this.byKey.values()];
  }
}

/** Each item of a callback option, checked: a function or a notifier (whose templates must fit `scope`). */
export function callbackItems<F>(value: unknown, scope: 'task' | 'dag' | 'deadline', loc: ErrorLocation, targets: NotifierTargets): (F | Notifier)[] {
  const items = Array.isArray(value) ? (value as unknown[]) : [value];
  return items.map((item, i) => {
    const at = Array.isArray(value) ? { ...loc, field: `${loc.field ?? ''}[${i}]` } : loc;
    if (isNotifier(item)) {
      item.checkScope(scope, at);
      targets.add(item);
      return item;
    }
    if (typeof item !== 'function') throw new DagDefinitionError(`expected a function or a notifier (snsNotifier, webhookNotifier, sesNotifier), got ${item === null ? 'null' : typeof item}`, at);
    return item as F;
  });
}

/** Send with a notifier; what fails is a NotifierError naming the notifier's kind. */
export async function sendNotification(n: Notifier, ctx: NotificationContext): Promise<void> {
  try {
    await n.notify(ctx);
  } catch (e) {
    throw new NotifierError(`${n.kind} notifier failed: ${errorMessage(e)}`, {}, { cause: e });
  }
}

/** Run each function in order; throw what failed after the last. */
export function runAll<C>(fns: readonly ((c: C) => void | Promise<void>)[]): (c: C) => Promise<void> {
  return async (c) => {
    const errors: unknown[] = [];
    for (const f of fns) {
      try {
        await f(c);
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} of ${fns.length} callbacks failed: ${errors.map(errorMessage).join('; ')}`);
  };
}

const TASK_EVENTS = { onSuccess: 'success', onFailure: 'failure', onRetry: 'retry' } as const;

/** A task's callback option as one function (null: none). */
export function taskCallbackOf(value: TaskCallbackOption | undefined, which: 'onSuccess' | 'onFailure' | 'onRetry', loc: ErrorLocation, targets: NotifierTargets): TaskCallback | null {
  if (value === undefined || value === null) return null;
  const items = callbackItems<TaskCallback>(value, 'task', { ...loc, field: which }, targets);
  if (items.length === 1 && !isNotifier(items[0])) return items[0]!;
  return runAll<TaskCallbackContext>(
    items.map((item) =>
      isNotifier(item)
        ? (c) =>
            sendNotification(item, {
              event: TASK_EVENTS[which],
              dagId: c.dagId,
              runId: c.runId,
              logicalDate: c.logicalDate?.toISOString() ?? null,
              state: which === 'onSuccess' ? 'success' : which === 'onFailure' ? 'failed' : 'up_for_retry',
              conf: c.conf ?? null,
              exception: c.error,
              ti: { taskId: c.taskId, mapIndex: c.mapIndex, tryNumber: c.tryNumber },
              deadline: null,
            })
        : item,
    ),
  );
}

/** A DAG's run callback option as one function (null: none). */
export function dagCallbackOf(value: DagRunCallbackOption | undefined, which: 'onSuccess' | 'onFailure', loc: ErrorLocation, targets: NotifierTargets): DagRunCallback | null {
  if (value === undefined || value === null) return null;
  const items = callbackItems<DagRunCallback>(value, 'dag', { ...loc, field: which }, targets);
  if (items.length === 1 && !isNotifier(items[0])) return items[0]!;
  return runAll<DagRunInfo>(items.map((item) => (isNotifier(item) ? (r) => sendNotification(item, runNotification(r, which === 'onSuccess' ? 'success' : 'failure', null)) : item)));
}

/** What a notifier of a run (a DAG callback, a deadline) is told. */
export function runNotification(r: DagRunInfo, event: NotificationContext['event'], deadline: NotificationContext['deadline']): NotificationContext {
  return {
    event,
    dagId: r.dagId,
    runId: r.runId,
    logicalDate: r.logicalDate.toISOString(),
    state: r.state,
    conf: r.conf,
    exception: r.note ?? null,
    ti: null,
    deadline,
  };
}
