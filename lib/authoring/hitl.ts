// Human-in-the-loop tasks (Airflow 3.1's ApprovalOperator, HITLOperator, HITLEntryOperator): a task asks a
// person to approve, choose or fill a form, and waits (deferred) holding nothing until the answer comes.

import { checkParamSchemas } from '../core/params.ts';
import { MessageTemplate } from '../core/notify-template.ts';
import { DagDefinitionError, type ErrorLocation } from '../errors.ts';
import { toMs, type Duration } from '../model/duration.ts';
import type { HitlSpec, ParamSchema } from '../model/spec.ts';
import { currentBuilder, makeHandle, type TaskHandle } from './builder.ts';
import { declare, NO_KIND_FIELDS } from './operators.ts';
import { TASK_OPTION_KEYS, type TaskOptions } from './options.ts';

/** What a human-in-the-loop task returns (its XCom): the answer, given or taken at a timeout. */
export interface HitlAnswer {
  /** The options chosen (a form's: `['OK']`). */
  chosenOptions: string[];
  /** A form's values, each field's default filled in where none was given; `{}` without params. */
  paramsInput: Record<string, unknown>;
  /** Who answered; null at a timeout, or when the caller was not known. */
  respondedBy: string | null;
  /** ISO-8601 instant of the answer (or of the timeout). */
  respondedAt: string;
  /** The answer is the defaults, taken when the timeout passed. */
  timedOut: boolean;
}

/** Options every human-in-the-loop task takes besides the task options. */
export interface HitlCommonOptions extends TaskOptions {
  /**
   * The request's title. A template: `{{ dag_id }}`, `{{ run_id }}`, `{{ logical_date }}`, `{{ conf.<key> }}`,
   * `{{ ti.task_id }}`, `{{ ti.map_index }}`, `{{ ti.try_number }}`, rendered when the request is made.
   */
  subject: string;
  /**
   * The request's text (Markdown in the UI), a template as `subject` is.
   * @default none
   */
  body?: string;
  /**
   * How long to wait for an answer; then the defaults are taken (or, without defaults, the try fails
   * with a `HitlTimeoutError` and retries apply). Deployed, at most Step Functions' one year.
   * @default none (wait for ever)
   */
  timeout?: Duration;
  /**
   * The users allowed to answer (the API's caller: the token's user locally, the IAM principal deployed).
   * @default [] (anyone)
   */
  assignedTo?: string[];
}

export interface ApprovalOptions extends HitlCommonOptions {
  /**
   * The labels of the two choices: the first approves, the second rejects.
   * @default ['Approve', 'Reject']
   */
  options?: [string, string];
  /**
   * What a timeout takes (one of `options`).
   * @default none (a timeout fails the try)
   */
  defaultOption?: string;
  /**
   * Reject fails the task (a `HitlRejectedError`) instead of succeeding and skipping the downstream tasks.
   * @default false
   */
  failOnReject?: boolean;
}

export interface HitlChoiceOptions extends HitlCommonOptions {
  /** The options to choose from (at least one, no duplicates). */
  options: string[];
  /**
   * Several options may be chosen.
   * @default false
   */
  multiple?: boolean;
  /**
   * What a timeout takes (among `options`; one unless `multiple`).
   * @default none (a timeout fails the try)
   */
  defaultOptions?: string[];
}

export interface HitlFormOptions extends HitlCommonOptions {
  /** The form's fields: a JSON Schema per field (with its default), checked as DAG params are. */
  params: Record<string, ParamSchema>;
  /**
   * What a timeout takes: `['OK']` submits the fields' defaults (Airflow's HITLEntryOperator); null makes
   * a timeout fail the try.
   * @default ['OK']
   */
  defaults?: ['OK'] | null;
}

const COMMON_KEYS = [...TASK_OPTION_KEYS, 'subject', 'body', 'timeout', 'assignedTo'];
const APPROVAL_KEYS = [...COMMON_KEYS, 'options', 'defaultOption', 'failOnReject'];
const CHOICE_KEYS = [...COMMON_KEYS, 'options', 'multiple', 'defaultOptions'];
const FORM_KEYS = [...COMMON_KEYS, 'params', 'defaults'];

/**
 * Ask a person to approve or reject (Airflow's ApprovalOperator). Approve: the task succeeds. Reject: it
 * succeeds too and its direct downstream tasks are skipped, as a short-circuit does (or it fails with
 * `failOnReject`). Its result is the {@link HitlAnswer}.
 */
export function approval(taskId: string, options: ApprovalOptions): TaskHandle<void, HitlAnswer> {
  const what = 'approval()';
  const o = checked(what, taskId, options, APPROVAL_KEYS);
  const { subject, body, timeout, assignedTo, options: labels, defaultOption, failOnReject, ...rest } = o;
  const opts = optionList(what, taskId, labels ?? ['Approve', 'Reject'], 'options');
  if (opts.length !== 2) fail(what, taskId, 'options', `an approval has two options (approve, reject), got ${opts.length}`);
  if (failOnReject !== undefined && typeof failOnReject !== 'boolean') fail(what, taskId, 'failOnReject', `expected a boolean, got ${JSON.stringify(failOnReject)}`);
  const defaults = defaultOption === undefined ? null : defaultsAmong(what, taskId, [defaultOption], opts, false, 'defaultOption');
  const spec: HitlSpec = {
    mode: 'approval',
    ...common(what, taskId, { subject, body, timeout, assignedTo }),
    options: opts,
    multiple: false,
    defaults,
    params: null,
    ...(failOnReject ? { failOnReject: true as const } : {}),
  };
  return declareHitl(what, taskId, rest, spec);
}

/** Ask a person to choose among options (Airflow's HITLOperator). Its result is the {@link HitlAnswer}. */
export function hitlChoice(taskId: string, options: HitlChoiceOptions): TaskHandle<void, HitlAnswer> {
  const what = 'hitlChoice()';
  const o = checked(what, taskId, options, CHOICE_KEYS);
  const { subject, body, timeout, assignedTo, options: given, multiple = false, defaultOptions, ...rest } = o;
  if (typeof multiple !== 'boolean') fail(what, taskId, 'multiple', `expected a boolean, got ${JSON.stringify(multiple)}`);
  const opts = optionList(what, taskId, given, 'options');
  const defaults = defaultOptions === undefined ? null : defaultsAmong(what, taskId, defaultOptions, opts, multiple, 'defaultOptions');
  const spec: HitlSpec = { mode: 'choice', ...common(what, taskId, { subject, body, timeout, assignedTo }), options: opts, multiple, defaults, params: null };
  return declareHitl(what, taskId, rest, spec);
}

/**
 * Ask a person to fill a form (Airflow's HITLEntryOperator): `params` are its fields, each a JSON Schema
 * with its default, the answer's values checked against them. Its result is the {@link HitlAnswer}.
 */
export function hitlForm(taskId: string, options: HitlFormOptions): TaskHandle<void, HitlAnswer> {
  const what = 'hitlForm()';
  const o = checked(what, taskId, options, FORM_KEYS);
  const { subject, body, timeout, assignedTo, params, defaults = ['OK'], ...rest } = o;
  if (typeof params !== 'object' || params === null || Array.isArray(params)) fail(what, taskId, 'params', 'expected an object of JSON Schemas (one per field)');
  if (Object.keys(params).length === 0) fail(what, taskId, 'params', 'a form needs at least one field');
  const b = currentBuilder(what);
  checkParamSchemas(params, { dagId: b.dagId, taskId: b.qualify(taskId) });
  if (defaults !== null && !(Array.isArray(defaults) && defaults.length === 1 && defaults[0] === 'OK')) {
    fail(what, taskId, 'defaults', `expected ['OK'] (a timeout submits the fields' defaults) or null, got ${JSON.stringify(defaults)}`);
  }
  if (defaults !== null) {
    const missing = Object.entries(params).filter(([, s]) => !Object.hasOwn(s, 'default')).map(([k]) => k);
    if (missing.length && timeout !== undefined) {
      fail(what, taskId, `params.${missing[0]}`, `a form whose timeout takes the defaults needs a default for every field ('${missing.join("', '")}' ha${missing.length > 1 ? 've' : 's'} none); or set defaults: null`);
    }
  }
  const spec: HitlSpec = {
    mode: 'form',
    ...common(what, taskId, { subject, body, timeout, assignedTo }),
    options: ['OK'],
    multiple: false,
    defaults: defaults === null ? null : ['OK'],
    params: structuredClone(params),
  };
  return declareHitl(what, taskId, rest, spec);
}

function loc(what: string, taskId: string, field: string): ErrorLocation {
  const b = currentBuilder(what);
  return { dagId: b.dagId, taskId: b.qualify(taskId), field };
}

function fail(what: string, taskId: string, field: string, detail: string): never {
  throw new DagDefinitionError(`${what}: ${detail}`, loc(what, taskId, field));
}

function checked<O extends object>(what: string, taskId: string, options: O, keys: readonly string[]): O {
  const b = currentBuilder(what);
  if (typeof taskId !== 'string') b.fail(`${what}: expected a task id (a string) first, got ${JSON.stringify(taskId)}`);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) b.fail(`${what} '${taskId}' needs an options object with a subject`, taskId);
  for (const k of Object.keys(options)) {
    if (!keys.includes(k)) b.fail(`unknown option '${k}' for ${what} (known: ${keys.join(', ')})`, taskId);
  }
  return options;
}

function optionList(what: string, taskId: string, given: unknown, field: string): string[] {
  if (!Array.isArray(given) || given.length === 0) fail(what, taskId, field, `expected a non-empty list of option labels, got ${JSON.stringify(given)}`);
  const seen = new Set<string>();
  for (const o of given) {
    if (typeof o !== 'string' || o.trim() === '') fail(what, taskId, field, `each option must be a non-empty string, got ${JSON.stringify(o)}`);
    if (seen.has(o)) fail(what, taskId, field, `option '${o}' is given twice`);
    seen.add(o);
  }
  return (given as string[]).slice();
}

function defaultsAmong(what: string, taskId: string, given: unknown, options: readonly string[], multiple: boolean, field: string): string[] {
  if (!Array.isArray(given) || given.length === 0) fail(what, taskId, field, `expected a non-empty list of options, got ${JSON.stringify(given)}`);
  for (const d of given) {
    if (typeof d !== 'string' || !options.includes(d)) fail(what, taskId, field, `default ${JSON.stringify(d)} is not among the options (${options.map((x) => `'${x}'`).join(', ')})`);
  }
  if (!multiple && given.length > 1) fail(what, taskId, field, `only one default can be given unless multiple is set, got ${given.length}`);
  return [...new Set(given as string[])];
}

function common(what: string, taskId: string, o: { subject: unknown; body: unknown; timeout: Duration | undefined; assignedTo: unknown }): Pick<HitlSpec, 'subject' | 'body' | 'timeoutMs' | 'assignedTo'> {
  if (typeof o.subject !== 'string' || o.subject.trim() === '') fail(what, taskId, 'subject', `expected a non-empty string, got ${JSON.stringify(o.subject)}`);
  MessageTemplate.parse(o.subject, loc(what, taskId, 'subject')).checkScope('task', loc(what, taskId, 'subject'));
  if (o.body !== undefined) {
    if (typeof o.body !== 'string') fail(what, taskId, 'body', `expected a string, got ${JSON.stringify(o.body)}`);
    MessageTemplate.parse(o.body, loc(what, taskId, 'body')).checkScope('task', loc(what, taskId, 'body'));
  }
  let timeoutMs: number | null = null;
  if (o.timeout !== undefined) {
    if (typeof o.timeout !== 'number' && typeof o.timeout !== 'string') fail(what, taskId, 'timeout', `expected a duration, got ${JSON.stringify(o.timeout)}`);
    timeoutMs = toMs(o.timeout, loc(what, taskId, 'timeout'));
    if (timeoutMs <= 0) fail(what, taskId, 'timeout', `must be longer than 0, got ${JSON.stringify(o.timeout)}`);
    if (timeoutMs > HITL_MAX_TIMEOUT_MS) fail(what, taskId, 'timeout', `must be at most a year (Step Functions' longest wait), got ${JSON.stringify(o.timeout)}`);
  }
  const assignedTo = o.assignedTo ?? [];
  if (!Array.isArray(assignedTo) || assignedTo.some((u) => typeof u !== 'string' || u === '')) {
    fail(what, taskId, 'assignedTo', `expected a list of user names, got ${JSON.stringify(o.assignedTo)}`);
  }
  return { subject: o.subject, body: o.body ?? null, timeoutMs, assignedTo: [...new Set(assignedTo as string[])] };
}

/** The longest wait of a human-in-the-loop task: a year, Step Functions' longest execution (365 days). */
export const HITL_MAX_TIMEOUT_MS = 365 * 86_400_000;

function declareHitl(what: string, taskId: string, options: TaskOptions, spec: HitlSpec): TaskHandle<void, HitlAnswer> {
  const b = currentBuilder(what);
  return makeHandle(b, declare(what, taskId, options, { ...NO_KIND_FIELDS, kind: 'hitl', hitl: spec }, null));
}
