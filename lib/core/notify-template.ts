// The template syntax of notifier messages: `{{ name }}` placeholders filled from a run (and a task instance).
// Checked when the DAG file loads (an unknown placeholder is a DagDefinitionError naming it), rendered
// when a notifier sends.

import { DagDefinitionError, type ErrorLocation } from '../errors.ts';

/**
 * What a notification is about: filled in by the scheduler for a callback or a missed deadline. Null
 * fields render as the empty string.
 */
export interface NotificationContext {
  /** Why the notifier runs: a task's or a run's callback, or a missed deadline. */
  event: 'success' | 'failure' | 'retry' | 'deadline_missed';
  dagId: string;
  runId: string;
  /** ISO-8601 instant. */
  logicalDate: string | null;
  /** The run's state (a task callback: the instance's: success, failed, up_for_retry). */
  state: string | null;
  conf: Record<string, unknown> | null;
  /** The error's message (a failure or a retry), else null. */
  exception: string | null;
  /** The task instance (a task's callback), else null. */
  ti: { taskId: string; mapIndex: number | null; tryNumber: number } | null;
  /** The deadline that was missed (a deadline's callback), else null. */
  deadline: { at: string; reference: string; interval: string } | null;
}

/** Where a template is used: placeholders of task instances or deadlines are refused elsewhere. */
export type TemplateScope = 'task' | 'dag' | 'deadline';

/** The placeholders, what they hold, and the scopes they are known in. */
export const TEMPLATE_PLACEHOLDERS: Readonly<Record<string, { scopes: readonly TemplateScope[]; get: (c: NotificationContext) => unknown }>> = {
  dag_id: { scopes: ['task', 'dag', 'deadline'], get: (c) => c.dagId },
  run_id: { scopes: ['task', 'dag', 'deadline'], get: (c) => c.runId },
  logical_date: { scopes: ['task', 'dag', 'deadline'], get: (c) => c.logicalDate },
  state: { scopes: ['task', 'dag', 'deadline'], get: (c) => c.state },
  event: { scopes: ['task', 'dag', 'deadline'], get: (c) => c.event },
  exception: { scopes: ['task', 'dag', 'deadline'], get: (c) => c.exception },
  conf: { scopes: ['task', 'dag', 'deadline'], get: (c) => c.conf },
  'ti.task_id': { scopes: ['task'], get: (c) => c.ti?.taskId },
  'ti.map_index': { scopes: ['task'], get: (c) => c.ti?.mapIndex },
  'ti.try_number': { scopes: ['task'], get: (c) => c.ti?.tryNumber },
  'deadline.at': { scopes: ['deadline'], get: (c) => c.deadline?.at },
  'deadline.reference': { scopes: ['deadline'], get: (c) => c.deadline?.reference },
  'deadline.interval': { scopes: ['deadline'], get: (c) => c.deadline?.interval },
};

type Part = { text: string } | { name: string; confKey: string | null };

/** A parsed template: its text and placeholders. */
export class MessageTemplate {
  private constructor(
    readonly source: string,
    private readonly parts: readonly Part[],
  ) {}

  /**
   * Parse `source`. Placeholders are `{{ name }}` (spaces inside optional) with a name of
   * {@link TEMPLATE_PLACEHOLDERS} or `conf.<key>`; `{{` always opens one (there is no escape). Throws a
   * DagDefinitionError naming the placeholder, its position and `loc`'s field.
   */
  static parse(source: string, loc: ErrorLocation = {}): MessageTemplate {
    if (typeof source !== 'string') throw new DagDefinitionError(`expected a template string, got ${JSON.stringify(source)}`, loc);
    const parts: Part[] = [];
    let i = 0;
    while (i < source.length) {
      const open = source.indexOf('{{', i);
      if (open < 0) {
        parts.push({ text: source.slice(i) });
        break;
      }
      if (open > i) parts.push({ text: source.slice(i, open) });
      const close = source.indexOf('}}', open + 2);
      if (close < 0) throw new DagDefinitionError(`template ${JSON.stringify(source)}: '{{' at position ${open} is never closed with '}}'`, loc);
      const name = source.slice(open + 2, close).trim();
      const conf = /^conf\.([A-Za-z0-9_-]+)$/.exec(name);
      if (!conf && !(name in TEMPLATE_PLACEHOLDERS)) {
        throw new DagDefinitionError(
          `template ${JSON.stringify(source)}: unknown placeholder '{{ ${name} }}' at position ${open} (known: ${[...Object.keys(TEMPLATE_PLACEHOLDERS), 'conf.<key>'].join(', ')})`,
          loc,
        );
      }
      parts.push(conf ? { name: 'conf', confKey: conf[1]! } : { name, confKey: null });
      i = close + 2;
    }
    return new MessageTemplate(source, parts);
  }

  /** The placeholder names it uses (`conf.<key>` as `conf`). */
  get placeholders(): string[] {
    return [...new Set(this.parts.flatMap((p) => ('name' in p ? [p.name] : [])))];
  }

  /** Throw a DagDefinitionError if a placeholder is not known where the template is used. */
  checkScope(scope: TemplateScope, loc: ErrorLocation): void {
    for (const name of this.placeholders) {
      if (!TEMPLATE_PLACEHOLDERS[name]!.scopes.includes(scope)) {
        const where = scope === 'task' ? "a task's callback" : scope === 'dag' ? "a DAG's callback" : 'a deadline';
        throw new DagDefinitionError(
          `template ${JSON.stringify(this.source)}: '{{ ${name} }}' has no value in ${where} (it is known in: ${TEMPLATE_PLACEHOLDERS[name]!.scopes.join(', ')})`,
          loc,
        );
      }
    }
  }

  /** The text with each placeholder's value: strings as they are, null/undefined as '', anything else as JSON. */
  render(ctx: NotificationContext): string {
    return this.parts
      .map((p) => {
        if ('text' in p) return p.text;
        const value = p.confKey !== null ? ctx.conf?.[p.confKey] : TEMPLATE_PLACEHOLDERS[p.name]!.get(ctx);
        if (value === null || value === undefined) return '';
        return typeof value === 'string' ? value : JSON.stringify(value);
      })
      .join('');
  }
}
