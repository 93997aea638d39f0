import { DagCycleError, DagDefinitionError, type ErrorLocation } from '../errors.ts';
import { checkParamSchemas, type ParamValues } from '../core/params.ts';
import { toMs, type Duration } from '../model/duration.ts';
import { findCycle } from '../model/graph.ts';
import { canonicalJson, sha256 } from '../model/hash.ts';
import { parseSchedule, type Schedule } from '../model/schedule.ts';
import type { DagSpec, ParamSchema, TaskSpec } from '../model/spec.ts';
import { TRIGGER_RULES } from '../model/states.ts';
import { builderStack, DagBuilder, type TaskDraft } from './builder.ts';
import type { DagRunCallback, TaskCallback } from './context.ts';
import { dagCallbackOf, NotifierTargets, taskCallbackOf, type DagRunCallbackOption } from './callback-list.ts';
import { parseDeadlines, type DeadlineCallback, type DeadlineOption } from './deadline-option.ts';
import { chain, taskGroup } from './group.ts';
import { batchJob, branch, empty, sensor, shortCircuit, task, triggerDag } from './operators.ts';
import { approval, hitlChoice, hitlForm } from './hitl.ts';
import { DEFAULT_POOL, DEFAULT_RETRY_DELAY_MS, TASK_OPTION_KEYS, type TaskOptions } from './options.ts';

export interface DagOptions<PS extends Record<string, ParamSchema> = Record<string, ParamSchema>> {
  /** Unique id of the DAG: letters, digits, '_', '-', '.'. */
  dagId: string;
  /**
   * What the DAG does (shown by the CLI and the UI).
   * @default none
   */
  description?: string;
  /**
   * When runs are created: cron, preset, rate(...), { cron, timezone }, or null.
   * @default null (trigger only)
   */
  schedule?: Schedule;
  /**
   * First logical date a schedule may produce. Required with a schedule.
   * @default none
   */
  startDate?: Date | string;
  /**
   * Last logical date a schedule may produce.
   * @default none (no end)
   */
  endDate?: Date | string;
  /**
   * Create the runs missed since startDate (or since the last run).
   * @default false
   */
  catchup?: boolean;
  /**
   * One JSON Schema per param, each with a default; conf given at trigger overrides and is validated.
   * @default {} (no params)
   */
  params?: PS;
  /**
   * Refuse a conf key that is not a param (a typo is then an error naming it). When false, as in Airflow,
   * such keys are kept in the run's conf (`ctx.conf`) and `ctx.params` holds the params alone.
   * @default false
   */
  strictConf?: boolean;
  /**
   * Options applied to every task of the DAG (a task's own options win).
   * @default {}
   */
  defaultArgs?: TaskOptions;
  /**
   * Runs of this DAG active at once; more wait queued.
   * @default 16
   */
  maxActiveRuns?: number;
  /**
   * Task instances of this DAG running at once across its runs.
   * @default 16
   */
  maxActiveTasks?: number;
  /**
   * Fail a run that takes longer than this.
   * @default none
   */
  dagrunTimeout?: Duration;
  /**
   * Labels to filter DAGs by.
   * @default []
   */
  tags?: string[];
  /**
   * Markdown.
   * @default none
   */
  docs?: string;
  /**
   * Pause the DAG when its latest this many runs all failed (Airflow's max_consecutive_failed_dag_runs):
   * the DAG record is paused with a reason the API and the UI show; unpausing clears it. 0: never.
   * @default 0
   */
  maxConsecutiveFailedDagRuns?: number;
  /**
   * Called when a run succeeds: a function, a notifier (snsNotifier, webhookNotifier, sesNotifier), or a list of them.
   * @default none
   */
  onSuccess?: DagRunCallbackOption;
  /**
   * Called when a run fails: a function, a notifier, or a list of them.
   * @default none
   */
  onFailure?: DagRunCallbackOption;
  /**
   * Deadline alerts (one or a list): when a run has not ended by its reference + interval, the callback
   * runs once with the run.
   * @default none
   */
  deadline?: DeadlineOption | readonly DeadlineOption[];
}

const DAG_OPTION_KEYS = [
  'dagId', 'description', 'schedule', 'startDate', 'endDate', 'catchup', 'params', 'defaultArgs', 'maxActiveRuns',
  'maxActiveTasks', 'dagrunTimeout', 'tags', 'docs', 'onSuccess', 'onFailure', 'maxConsecutiveFailedDagRuns', 'strictConf', 'deadline',
];

const DAG_BRAND = Symbol.for('airless.Dag');

/** Task code and callbacks, by task id: the part of a DAG that is not serialisable. */
export interface TaskRuntime {
  callable: ((ctx: any, input: any) => unknown) | null;
  onFailure: TaskCallback | null;
  onRetry: TaskCallback | null;
  onSuccess: TaskCallback | null;
}

/** The files of a DAG's bundle: absolute path → sha256 of the bytes loaded. */
export type DagCodeFiles = readonly { file: string; sha256: string }[];

/** A DAG: its serialisable spec plus the task code. */
export class Dag {
  readonly [DAG_BRAND] = true;
  readonly taskIndex: Map<string, TaskSpec>;
  constructor(
    readonly spec: DagSpec,
    readonly runtime: Map<string, TaskRuntime>,
    readonly callbacks: { onSuccess: DagRunCallback | null; onFailure: DagRunCallback | null; deadlines?: readonly DeadlineCallback[] },
    /**
     * The files of its bundle as they were when it was loaded (absolute paths and sha256): whether the DAG
     * file on disk is still this version's code can be checked by hashing them again. Null when unknown.
     */
    readonly code: DagCodeFiles | null = null,
  ) {
    this.taskIndex = new Map(spec.tasks.map((t) => [t.taskId, t]));
  }
  get dagId(): string {
    return this.spec.dagId;
  }
  task(taskId: string): TaskSpec {
    const t = this.taskIndex.get(taskId);
    if (!t) throw new DagDefinitionError(`no task '${taskId}' (tasks: ${[...this.taskIndex.keys()].join(', ')})`, { dagId: this.dagId });
    return t;
  }
  /** Set where the DAG was loaded from (recomputes nothing: fileloc is not part of the version). */
  withFileloc(fileloc: string): Dag {
    return new Dag({ ...this.spec, fileloc }, this.runtime, this.callbacks, this.code);
  }
  /** This DAG as the code of `bundle` (a bundle hash) defines it: its version names that code. */
  withBundle(bundle: string, code: DagCodeFiles | null = null): Dag {
    return new Dag({ ...this.spec, bundle, version: versionOf(this.spec.structureHash, bundle) }, this.runtime, this.callbacks, code);
  }
}

/** The version of a DAG whose structure hashes to `structureHash`, built by the code of `bundle`. */
export function versionOf(structureHash: string, bundle: string | null): string {
  return bundle === null ? structureHash : sha256(`${structureHash}:${bundle}`).slice(0, 16);
}

export function isDag(v: unknown): v is Dag {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[DAG_BRAND] === true;
}

/** The authoring functions, typed with this DAG's params. */
export interface DagApi<P> {
  task: <R, I = void>(...a: Parameters<typeof task<R, I, P>>) => ReturnType<typeof task<R, I, P>>;
  branch: <I = void>(...a: Parameters<typeof branch<I, P>>) => ReturnType<typeof branch<I, P>>;
  shortCircuit: <I = void>(...a: Parameters<typeof shortCircuit<I, P>>) => ReturnType<typeof shortCircuit<I, P>>;
  sensor: <R = null, I = void>(...a: Parameters<typeof sensor<R, I, P>>) => ReturnType<typeof sensor<R, I, P>>;
  batchJob: typeof batchJob;
  triggerDag: typeof triggerDag;
  empty: typeof empty;
  taskGroup: typeof taskGroup;
  chain: typeof chain;
  approval: typeof approval;
  hitlChoice: typeof hitlChoice;
  hitlForm: typeof hitlForm;
}

const API = { task, branch, shortCircuit, sensor, batchJob, triggerDag, empty, taskGroup, chain, approval, hitlChoice, hitlForm };

/**
 * Define a DAG. Inside `build`, declare tasks with `task()`, `sensor()`, ... (imported, or taken from
 * the argument, whose versions know the params' types). Validation happens here: a bad DAG throws a
 * DagDefinitionError that names the DAG, the task and the field.
 */
export function dag<const PS extends Record<string, ParamSchema> = Record<string, never>>(
  options: DagOptions<PS>,
  build: (api: DagApi<ParamValues<PS>>) => void,
): Dag {
  if (typeof options !== 'object' || options === null) throw new DagDefinitionError('dag() needs an options object with a dagId');
  const dagId = options.dagId;
  if (typeof dagId !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(dagId)) {
    throw new DagDefinitionError(`dagId ${JSON.stringify(dagId)} is invalid: use letters, digits, '_', '-' and '.'`, { field: 'dagId' });
  }
  const loc: ErrorLocation = { dagId };
  for (const k of Object.keys(options)) {
    if (!DAG_OPTION_KEYS.includes(k)) throw new DagDefinitionError(`unknown DAG option '${k}' (known: ${DAG_OPTION_KEYS.join(', ')})`, { ...loc, field: k });
  }
  for (const k of Object.keys(options.defaultArgs ?? {})) {
    if (!(TASK_OPTION_KEYS as readonly string[]).includes(k)) {
      throw new DagDefinitionError(`unknown option '${k}' (known: ${TASK_OPTION_KEYS.join(', ')})`, { ...loc, field: `defaultArgs.${k}` });
    }
    if (k === 'setup' || k === 'teardown' || k === 'onFailureFailDagrun') {
      throw new DagDefinitionError(`'${k}' is a task's own option, not a default for every task`, { ...loc, field: `defaultArgs.${k}` });
    }
  }
  const builder = new DagBuilder(dagId, options.defaultArgs ?? {});
  const stack = builderStack();
  stack.push(builder);
  try {
    build(API);
  } finally {
    stack.pop();
  }
  return finish(builder, options);
}

function date(v: Date | string | undefined, loc: ErrorLocation): string | null {
  if (v === undefined) return null;
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) throw new DagDefinitionError(`${JSON.stringify(v)} is not a date`, loc);
  return d.toISOString();
}

function positiveInt(v: unknown, loc: ErrorLocation, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new DagDefinitionError(`expected an integer >= ${min}, got ${JSON.stringify(v)}`, loc);
  return v;
}

function taskSpec(b: DagBuilder, d: TaskDraft): TaskSpec {
  const o = d.options;
  const loc = (field: string): ErrorLocation => ({ dagId: b.dagId, taskId: d.taskId, field });
  const triggerRule = o.triggerRule ?? 'all_success';
  if (!(TRIGGER_RULES as readonly string[]).includes(triggerRule)) {
    throw new DagDefinitionError(`unknown trigger rule '${String(triggerRule)}' (known: ${TRIGGER_RULES.join(', ')})`, loc('triggerRule'));
  }
  if (d.expectsInput && !d.bound) {
    throw new DagDefinitionError(
      `the task's function takes an input but none was given: call the task with its input, or use .expand() / .iterate()`,
      { dagId: b.dagId, taskId: d.taskId },
    );
  }
  const flags = semanticFlags(b, d);
  return {
    ...d.own,
    taskId: d.taskId,
    groupId: d.groupId,
    upstream: [...d.upstream],
    downstream: [...d.downstream],
    triggerRule,
    retries: positiveInt(o.retries ?? 0, loc('retries'), 0),
    retryDelayMs: toMs(o.retryDelay ?? DEFAULT_RETRY_DELAY_MS, loc('retryDelay')),
    retryExponentialBackoff: o.retryExponentialBackoff ?? false,
    maxRetryDelayMs: o.maxRetryDelay === undefined ? null : toMs(o.maxRetryDelay, loc('maxRetryDelay')),
    executionTimeoutMs: o.executionTimeout === undefined ? null : toMs(o.executionTimeout, loc('executionTimeout')),
    pool: o.pool ?? DEFAULT_POOL,
    poolSlots: positiveInt(o.poolSlots ?? 1, loc('poolSlots')),
    maxActiveTisPerDag: o.maxActiveTisPerDag === undefined ? null : positiveInt(o.maxActiveTisPerDag, loc('maxActiveTisPerDag')),
    input: d.input,
    mapping: d.mapping,
    iterate: d.iterate,
    doc: o.doc ?? null,
    ...flags,
    ...(flags.teardown ? { triggerRule: 'all_done_setup_success' as const } : {}),
  };
}

type SemanticFlags = Pick<TaskSpec, 'setup' | 'teardown' | 'onFailureFailDagrun' | 'dependsOnPast' | 'waitForDownstream' | 'ignoreFirstDependsOnPast'>;

/** The setup/teardown and depends-on-past flags of a task, checked; only those set are present. */
function semanticFlags(b: DagBuilder, d: TaskDraft): SemanticFlags {
  const o = d.options;
  const loc = (field: string): ErrorLocation => ({ dagId: b.dagId, taskId: d.taskId, field });
  const names = ['setup', 'teardown', 'onFailureFailDagrun', 'dependsOnPast', 'waitForDownstream', 'ignoreFirstDependsOnPast'] as const;
  for (const k of names) if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new DagDefinitionError(`expected true or false, got ${JSON.stringify(o[k])}`, loc(k));
  if (o.setup && o.teardown) throw new DagDefinitionError('a task cannot be both a setup and a teardown', loc('teardown'));
  if (o.onFailureFailDagrun && !o.teardown) throw new DagDefinitionError('onFailureFailDagrun applies to a teardown task only (set teardown: true or call .asTeardown())', loc('onFailureFailDagrun'));
  const f: SemanticFlags = {};
  if (o.setup) f.setup = true;
  if (o.teardown) f.teardown = true;
  if (o.onFailureFailDagrun) f.onFailureFailDagrun = true;
  // As in Airflow, wait_for_downstream implies depends_on_past.
  if (o.dependsOnPast || o.waitForDownstream) f.dependsOnPast = true;
  if (o.waitForDownstream) f.waitForDownstream = true;
  if (f.dependsOnPast && o.ignoreFirstDependsOnPast) f.ignoreFirstDependsOnPast = true;
  return f;
}

function finish<PS extends Record<string, ParamSchema>>(b: DagBuilder, options: DagOptions<PS>): Dag {
  const loc: ErrorLocation = { dagId: b.dagId };
  const params = (options.params ?? {}) as Record<string, ParamSchema>;
  if (typeof params !== 'object' || Array.isArray(params)) throw new DagDefinitionError('params must be an object of JSON Schemas', { ...loc, field: 'params' });
  checkParamSchemas(params, loc);
  const schedule = parseSchedule(options.schedule, loc);
  const startDate = date(options.startDate, { ...loc, field: 'startDate' });
  if (schedule && schedule.kind !== 'once' && startDate === null && options.catchup) {
    throw new DagDefinitionError('catchup needs a startDate', { ...loc, field: 'startDate' });
  }
  const tasks = [...b.tasks.values()].map((d) => taskSpec(b, d));
  const targets = new NotifierTargets();
  const taskCallbacks = new Map([...b.tasks.values()].map((d) => {
    const at: ErrorLocation = { dagId: b.dagId, taskId: d.taskId };
    return [d.taskId, { onFailure: taskCallbackOf(d.options.onFailure, 'onFailure', at, targets), onRetry: taskCallbackOf(d.options.onRetry, 'onRetry', at, targets), onSuccess: taskCallbackOf(d.options.onSuccess, 'onSuccess', at, targets) }];
  }));
  const onSuccess = dagCallbackOf(options.onSuccess, 'onSuccess', loc, targets);
  const onFailure = dagCallbackOf(options.onFailure, 'onFailure', loc, targets);
  const deadlines = parseDeadlines(options.deadline, loc, targets);
  const cycle = findCycle(b.tasks.keys(), (id) => b.tasks.get(id)!.downstream);
  if (cycle) throw new DagCycleError(cycle, loc);
  const body = {
    dagId: b.dagId,
    description: options.description ?? null,
    schedule,
    startDate,
    endDate: date(options.endDate, { ...loc, field: 'endDate' }),
    catchup: options.catchup ?? false,
    params,
    maxActiveRuns: positiveInt(options.maxActiveRuns ?? 16, { ...loc, field: 'maxActiveRuns' }),
    maxActiveTasks: positiveInt(options.maxActiveTasks ?? 16, { ...loc, field: 'maxActiveTasks' }),
    dagrunTimeoutMs: options.dagrunTimeout === undefined ? null : toMs(options.dagrunTimeout, { ...loc, field: 'dagrunTimeout' }),
    ...(options.maxConsecutiveFailedDagRuns ? { maxConsecutiveFailedDagRuns: positiveInt(options.maxConsecutiveFailedDagRuns, { ...loc, field: 'maxConsecutiveFailedDagRuns' }) } : {}),
    tags: options.tags ?? [],
    docs: options.docs ?? null,
    tasks,
    groups: b.groups.map((g) => ({ groupId: g.groupId, parentGroupId: g.parentGroupId, tooltip: g.tooltip, taskIds: g.taskIds })),
    // Only when set: the structure hash of a DAG without it is what it was before the option existed.
    ...(options.strictConf === true ? { strictConf: true } : {}),
    // Only when there are some, so a DAG without notifiers or deadlines keeps its structure hash.
    ...(targets.list.length > 0 ? { notifierTargets: targets.list } : {}),
    ...(deadlines.specs.length > 0 ? { deadlines: deadlines.specs } : {}),
  };
  const structureHash = sha256(canonicalJson(body)).slice(0, 16);
  const spec: DagSpec = { ...body, fileloc: null, structureHash, bundle: null, version: structureHash };
  const runtime = new Map<string, TaskRuntime>();
  for (const d of b.tasks.values()) {
    runtime.set(d.taskId, {
      callable: d.callable,
      ...taskCallbacks.get(d.taskId)!,
    });
  }
  return new Dag(spec, runtime, { onSuccess, onFailure, ...(deadlines.callbacks.length > 0 ? { deadlines: deadlines.callbacks } : {}) });
}
