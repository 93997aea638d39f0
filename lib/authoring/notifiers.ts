// Notifiers (Airflow's BaseNotifier): a callback that sends a message, given wherever a callback is: a
// task's onSuccess/onFailure/onRetry, a DAG's onSuccess/onFailure, a deadline's callback. Their templates
// are checked when the DAG file loads; what one fails to send is reported like a callback's error and
// never fails the run.

import { MessageTemplate, type NotificationContext, type TemplateScope } from '../core/notify-template.ts';
import { DagDefinitionError, type ErrorLocation } from '../errors.ts';
import type { NotifierTarget } from '../model/notify-spec.ts';

export type { NotificationContext } from '../core/notify-template.ts';

const NOTIFIER_BRAND = Symbol.for('airless.Notifier');

/** A notifier: made by `snsNotifier`, `webhookNotifier` or `sesNotifier`. */
export interface Notifier {
  readonly [NOTIFIER_BRAND]: true;
  /** What sends: 'sns', 'webhook' or 'ses'. */
  readonly kind: 'sns' | 'webhook' | 'ses';
  /** Where it sends, for IAM (null: a webhook). */
  readonly target: NotifierTarget | null;
  /** Throw a DagDefinitionError if a template uses a placeholder that has no value where the notifier is used. */
  checkScope(scope: TemplateScope, loc: ErrorLocation): void;
  /** Send the notification. */
  notify(ctx: NotificationContext): Promise<void>;
}

export function isNotifier(v: unknown): v is Notifier {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[NOTIFIER_BRAND] === true;
}

/** The message used when none is given: one line naming the DAG, the run, the task and the error. */
export function defaultMessage(c: NotificationContext): string {
  const what = c.event === 'deadline_missed' ? `missed its deadline ${c.deadline?.at ?? ''} (${c.deadline?.reference ?? ''} + ${c.deadline?.interval ?? ''})` : c.event === 'retry' ? 'up for retry' : c.event === 'failure' ? 'failed' : 'succeeded';
  const ti = c.ti ? ` task ${c.ti.taskId}${c.ti.mapIndex === null ? '' : `[${c.ti.mapIndex}]`} (try ${c.ti.tryNumber})` : '';
  return `airless: DAG ${c.dagId} run ${c.runId}${ti} ${what}${c.exception ? `: ${c.exception}` : ''}`;
}

function options<T extends object>(name: string, o: T, known: readonly string[]): ErrorLocation {
  if (typeof o !== 'object' || o === null) throw new DagDefinitionError(`${name}() needs an options object`, { field: name });
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new DagDefinitionError(`unknown ${name} option '${k}' (known: ${known.join(', ')})`, { field: `${name}.${k}` });
  }
  return { field: name };
}

function template(name: string, field: string, v: string | undefined): MessageTemplate | null {
  return v === undefined ? null : MessageTemplate.parse(v, { field: `${name}.${field}` });
}

function notifier(kind: Notifier['kind'], target: NotifierTarget | null, templates: (MessageTemplate | null)[], notify: (ctx: NotificationContext) => Promise<void>): Notifier {
  const used = templates.filter((t): t is MessageTemplate => t !== null);
  return {
    [NOTIFIER_BRAND]: true,
    kind,
    target,
    checkScope: (scope, loc) => {
      for (const t of used) t.checkScope(scope, loc);
    },
    notify,
  };
}

const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

export interface SnsNotifierOptions {
  /** The topic to publish to (`arn:aws:sns:<region>:<account>:<name>`); its region is the client's. */
  topicArn: string;
  /**
   * The message's subject (a template; cut to SNS's 100 characters).
   * @default none (no subject)
   */
  subject?: string;
  /**
   * The message (a template).
   * @default one line naming the DAG, the run, the task, what happened and the error
   */
  message?: string;
}

/**
 * Publish to an SNS topic (sns:Publish; the deployed stack grants it on `topicArn`). The client honours
 * `AWS_ENDPOINT_URL_SNS` / `AWS_ENDPOINT_URL`.
 */
export function snsNotifier(o: SnsNotifierOptions): Notifier {
  options('snsNotifier', o, ['topicArn', 'subject', 'message']);
  const m = typeof o.topicArn === 'string' ? SNS_TOPIC_ARN.exec(o.topicArn) : null;
  if (!m) throw new DagDefinitionError(`topicArn ${JSON.stringify(o.topicArn)} is not an SNS topic ARN (arn:aws:sns:<region>:<account id>:<topic name>)`, { field: 'snsNotifier.topicArn' });
  const region = m[1]!;
  const subject = template('snsNotifier', 'subject', o.subject);
  const message = template('snsNotifier', 'message', o.message);
  return notifier('sns', { kind: 'sns', topicArn: o.topicArn }, [subject, message], async (ctx) => {
    const { publishToTopic } = await import('../clients/notify-send.ts');
    const s = subject?.render(ctx).replace(/\s+/g, ' ').slice(0, 100);
    await publishToTopic({ topicArn: o.topicArn, region, message: message ? message.render(ctx) : defaultMessage(ctx), subject: s || null });
  });
}

export interface WebhookNotifierOptions {
  /**
   * Where to POST: an https (or, for tests, http) URL, or a function returning one (e.g. read from a secret
   * when the notifier sends).
   */
  url: string | (() => string | Promise<string>);
  /**
   * The message (a template), sent as `text` (Slack's incoming-webhook shape).
   * @default one line naming the DAG, the run, the task, what happened and the error
   */
  text?: string;
  /**
   * Slack Block Kit blocks, sent as `blocks`; every string in them is a template.
   * @default none
   */
  blocks?: unknown[];
  /**
   * Give up on a request after this many milliseconds.
   * @default 10000
   */
  timeoutMs?: number;
}

function checkUrl(url: unknown, loc: ErrorLocation): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw new DagDefinitionError(`url ${JSON.stringify(url)} is not a URL`, loc);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new DagDefinitionError(`url ${JSON.stringify(url)} is not an http(s) URL`, loc);
  return u.toString();
}

/** Every string of a JSON value parsed as a template. */
function templateTree(v: unknown, field: string): unknown {
  if (typeof v === 'string') return MessageTemplate.parse(v, { field });
  if (Array.isArray(v)) return v.map((x, i) => templateTree(x, `${field}[${i}]`));
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, templateTree(x, `${field}.${k}`)]));
  return v;
}

function renderTree(v: unknown, ctx: NotificationContext): unknown {
  if (v instanceof MessageTemplate) return v.render(ctx);
  if (Array.isArray(v)) return v.map((x) => renderTree(x, ctx));
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, renderTree(x, ctx)]));
  return v;
}

function templatesIn(v: unknown): MessageTemplate[] {
  if (v instanceof MessageTemplate) return [v];
  if (Array.isArray(v)) return v.flatMap(templatesIn);
  if (typeof v === 'object' && v !== null) return Object.values(v).flatMap(templatesIn);
  return [];
}

/**
 * POST `{ text, blocks? }` as JSON to a webhook (a Slack incoming webhook, or anything that takes that
 * shape). A response other than 2xx is an error naming the status.
 */
export function webhookNotifier(o: WebhookNotifierOptions): Notifier {
  options('webhookNotifier', o, ['url', 'text', 'blocks', 'timeoutMs']);
  const loc = { field: 'webhookNotifier.url' };
  if (typeof o.url !== 'function') checkUrl(o.url, loc);
  const text = template('webhookNotifier', 'text', o.text);
  if (o.blocks !== undefined && !Array.isArray(o.blocks)) throw new DagDefinitionError('blocks must be an array of Block Kit blocks', { field: 'webhookNotifier.blocks' });
  const blocks = o.blocks === undefined ? undefined : templateTree(o.blocks, 'webhookNotifier.blocks');
  const timeoutMs = o.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new DagDefinitionError(`timeoutMs must be a positive number, got ${JSON.stringify(o.timeoutMs)}`, { field: 'webhookNotifier.timeoutMs' });
  return notifier('webhook', null, [text, ...templatesIn(blocks)], async (ctx) => {
    const url = checkUrl(typeof o.url === 'function' ? await o.url() : o.url, loc);
    const body = { text: text ? text.render(ctx) : defaultMessage(ctx), ...(blocks === undefined ? {} : { blocks: renderTree(blocks, ctx) }) };
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      const detail = (await res.text().catch(() => '')).slice(0, 200);
      throw new Error(`webhook ${new URL(url).host} answered ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`);
    }
  });
}

export interface SesNotifierOptions {
  /** The sender: a verified SES identity (an address, or an address of a verified domain). */
  from: string;
  /** The recipients. */
  to: string | string[];
  /**
   * The subject (a template).
   * @default 'airless: {{ dag_id }} {{ run_id }} {{ event }}'
   */
  subject?: string;
  /**
   * The plain-text body (a template).
   * @default one line naming the DAG, the run, the task, what happened and the error
   */
  body?: string;
}

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/** Send an email with SES (SESv2 SendEmail; the deployed stack grants ses:SendEmail from `from`'s identity). */
export function sesNotifier(o: SesNotifierOptions): Notifier {
  options('sesNotifier', o, ['from', 'to', 'subject', 'body']);
  if (typeof o.from !== 'string' || !EMAIL.test(o.from)) throw new DagDefinitionError(`from ${JSON.stringify(o.from)} is not an email address`, { field: 'sesNotifier.from' });
  const to = typeof o.to === 'string' ? [o.to] : o.to;
  if (!Array.isArray(to) || to.length === 0) throw new DagDefinitionError('to needs at least one email address', { field: 'sesNotifier.to' });
  to.forEach((a, i) => {
    if (typeof a !== 'string' || !EMAIL.test(a)) throw new DagDefinitionError(`${JSON.stringify(a)} is not an email address`, { field: `sesNotifier.to[${i}]` });
  });
  const subject = template('sesNotifier', 'subject', o.subject ?? 'airless: {{ dag_id }} {{ run_id }} {{ event }}')!;
  const body = template('sesNotifier', 'body', o.body);
  return notifier('ses', { kind: 'ses', from: o.from }, [subject, body], async (ctx) => {
    const { sendEmail } = await import('../clients/notify-send.ts');
    await sendEmail({ from: o.from, to, subject: subject.render(ctx), body: body ? body.render(ctx) : defaultMessage(ctx) });
  });
}
