import type { Duration } from '../model/duration.ts';
import { toMs } from '../model/duration.ts';
import type { RunState } from '../model/states.ts';
import type { BatchLocalSpec, BatchSpec, TaskKindFields, TriggerDagSpec } from '../model/spec.ts';
import { currentBuilder, makeHandle, type TaskDraft, type TaskHandle } from './builder.ts';
import type { TaskContext } from './context.ts';
import { TASK_OPTION_KEYS, type TaskOptions } from './options.ts';
import type { Resolvable, XComArg } from './xcom-arg.ts';

/** `task('id', fn)` or `task({ taskId: 'id', ...options }, fn)`. */
export type TaskIdOrOptions = string | (TaskOptions & { taskId: string });

function split(idOrOptions: TaskIdOrOptions, extra: TaskOptions | undefined, what: string): { taskId: string; options: TaskOptions } {
  if (typeof idOrOptions === 'string') return { taskId: idOrOptions, options: extra ?? {} };
  if (typeof idOrOptions !== 'object' || idOrOptions === null) {
    currentBuilder(what).fail(`${what}: expected a task id or an options object with a taskId`);
  }
  const { taskId, ...options } = idOrOptions;
  return { taskId, options: { ...options, ...extra } };
}

function checkKeys(draftId: string, what: string, given: object, allowed: readonly string[]): void {
  for (const k of Object.keys(given)) {
    if (!allowed.includes(k)) {
      currentBuilder(what).fail(`unknown option '${k}' for ${what} (known: ${allowed.join(', ')})`, draftId);
    }
  }
}

/** The kind fields of a kind whose own field is the given one (or none), the others null. */
export const NO_KIND_FIELDS = { sensor: null, triggerDag: null, batch: null, shortCircuit: null, hitl: null } as const;

export function declare(what: string, taskId: string, options: TaskOptions, own: TaskKindFields, callable: TaskDraft['callable']): TaskDraft {
  const b = currentBuilder(what);
  const id = b.qualify(taskId);
  return b.addTask({
    taskId: id,
    own,
    options: b.effectiveOptions(options),
    callable,
    expectsInput: callable !== null && callable.length >= 2,
  });
}

/** Declared function type of a task: the context, then (optionally) one input. */
export type TaskFunction<P, I, R> = (ctx: TaskContext<P>, input: I) => R | Promise<R>;

type Awaited2<R> = R extends Promise<infer U> ? U : R;

/**
 * A TaskFlow task: a TypeScript function (in-process locally, a Lambda when deployed). Its return value
 * (JSON) is its XCom result. Call the returned handle with the input to wire upstream results in, or use
 * `.expand()` / `.iterate()`.
 */
export function task<R, I = void, P = Record<string, any>>(
  idOrOptions: TaskIdOrOptions,
  fn: TaskFunction<P, I, R>,
  options?: TaskOptions,
): TaskHandle<I, Awaited2<R>> {
  const { taskId, options: o } = split(idOrOptions, options, 'task()');
  checkKeys(taskId, 'task()', o, TASK_OPTION_KEYS);
  if (typeof fn !== 'function') currentBuilder('task()').fail(`task '${taskId}' needs a function`, taskId);
  const b = currentBuilder('task()');
  return makeHandle(b, declare('task()', taskId, o, { ...NO_KIND_FIELDS, kind: 'task' }, fn));
}

/**
 * Branching: the function returns the task id (or ids) to follow among the direct downstream tasks; the
 * others are skipped. Returning null skips them all.
 */
export function branch<I = void, P = Record<string, any>>(
  idOrOptions: TaskIdOrOptions,
  fn: TaskFunction<P, I, string | readonly string[] | null>,
  options?: TaskOptions,
): TaskHandle<I, string[]> {
  const { taskId, options: o } = split(idOrOptions, options, 'branch()');
  checkKeys(taskId, 'branch()', o, TASK_OPTION_KEYS);
  return makeHandle(currentBuilder('branch()'), declare('branch()', taskId, o, { ...NO_KIND_FIELDS, kind: 'branch' }, fn));
}

export interface ShortCircuitOptions extends TaskOptions {
  /**
   * Skip every downstream task regardless of its trigger rule (Airflow's default), or only direct ones.
   * @default true
   */
  ignoreDownstreamTriggerRules?: boolean;
}

/** Short-circuit: when the function returns a falsy value, downstream tasks are skipped. */
export function shortCircuit<I = void, P = Record<string, any>>(
  idOrOptions: string | (ShortCircuitOptions & { taskId: string }),
  fn: TaskFunction<P, I, unknown>,
  options?: ShortCircuitOptions,
): TaskHandle<I, boolean> {
  const { taskId, options: all } = split(idOrOptions, options, 'shortCircuit()');
  const { ignoreDownstreamTriggerRules = true, ...o } = all as ShortCircuitOptions;
  checkKeys(taskId, 'shortCircuit()', o, TASK_OPTION_KEYS);
  return makeHandle(
    currentBuilder('shortCircuit()'),
    declare('shortCircuit()', taskId, o, { ...NO_KIND_FIELDS, kind: 'short_circuit', shortCircuit: { ignoreDownstreamTriggerRules } }, fn),
  );
}

/** A task that does nothing (Airflow's EmptyOperator): it never runs code and succeeds at once. */
export function empty(idOrOptions: TaskIdOrOptions, options?: TaskOptions): TaskHandle<void, null> {
  const { taskId, options: o } = split(idOrOptions, options, 'empty()');
  checkKeys(taskId, 'empty()', o, TASK_OPTION_KEYS);
  return makeHandle(currentBuilder('empty()'), declare('empty()', taskId, o, { ...NO_KIND_FIELDS, kind: 'empty' }, null));
}

/** What a sensor's poke returns: done or not, and optionally the value to return (Airflow's PokeReturnValue). */
export type PokeResult<R> = boolean | { isDone: boolean; xcomValue?: R };

export interface SensorOptions extends TaskOptions {
  /**
   * Time between pokes; nothing is held meanwhile.
   * @default '60s'
   */
  pokeInterval?: Duration;
  /**
   * Give up after this long since the first poke.
   * @default '7d'
   */
  timeout?: Duration;
  /**
   * On timeout, mark the task skipped instead of failed.
   * @default false
   */
  softFail?: boolean;
  /**
   * Grow the interval exponentially between pokes.
   * @default false
   */
  exponentialBackoff?: boolean;
}
const SENSOR_KEYS = [...TASK_OPTION_KEYS, 'pokeInterval', 'timeout', 'softFail', 'exponentialBackoff'];

/**
 * A deferrable sensor: `poke` is called every `pokeInterval` until it returns true (or `{ isDone: true }`).
 * Between pokes the task is `deferred` and holds nothing: a timer, not a sleeping worker.
 */
export function sensor<R = null, I = void, P = Record<string, any>>(
  idOrOptions: string | (SensorOptions & { taskId: string }),
  poke: TaskFunction<P, I, PokeResult<R>>,
  options?: SensorOptions,
): TaskHandle<I, R> {
  const { taskId, options: all } = split(idOrOptions, options, 'sensor()');
  checkKeys(taskId, 'sensor()', all, SENSOR_KEYS);
  const { pokeInterval = 60_000, timeout = 7 * 86_400_000, softFail = false, exponentialBackoff = false, ...o } = all as SensorOptions;
  const b = currentBuilder('sensor()');
  const loc = { dagId: b.dagId, taskId };
  return makeHandle(
    b,
    declare(
      'sensor()',
      taskId,
      o,
      {
        ...NO_KIND_FIELDS,
        kind: 'sensor',
        sensor: {
          pokeIntervalMs: toMs(pokeInterval, { ...loc, field: 'pokeInterval' }),
          timeoutMs: toMs(timeout, { ...loc, field: 'timeout' }),
          softFail,
          exponentialBackoff,
        },
      },
      poke,
    ),
  );
}

export interface TriggerDagOptions extends TaskOptions {
  /** The DAG to trigger. */
  triggerDagId: string;
  /**
   * Conf for the triggered run; may hold upstream results.
   * @default {}
   */
  conf?: Resolvable<Record<string, unknown>> | XComArg<object>;
  /**
   * Wait (deferred, holding nothing) until the triggered run ends.
   * @default false
   */
  waitForCompletion?: boolean;
  /**
   * Triggered-run states that make this task succeed.
   * @default ['success']
   */
  allowedStates?: RunState[];
  /**
   * Triggered-run states that make this task fail.
   * @default ['failed']
   */
  failedStates?: RunState[];
}
const TRIGGER_KEYS = [...TASK_OPTION_KEYS, 'triggerDagId', 'conf', 'waitForCompletion', 'allowedStates', 'failedStates'];

export interface TriggerDagResult {
  runId: string;
  dagId: string;
  /** The triggered run's final state when waited for, else its state at trigger time. */
  state: RunState;
}

/**
 * Trigger another DAG with conf (Airflow's TriggerDagRunOperator). The triggered run shares this run's
 * pipeline context. An input given to the handle (an object) is merged over `conf`.
 */
export function triggerDag(taskId: string, options: TriggerDagOptions): TaskHandle<Record<string, unknown>, TriggerDagResult> {
  const b = currentBuilder('triggerDag()');
  if (typeof options !== 'object' || options === null) b.fail(`triggerDag '${taskId}' needs options with triggerDagId`, taskId);
  checkKeys(taskId, 'triggerDag()', options, TRIGGER_KEYS);
  const { triggerDagId, conf = {}, waitForCompletion = false, allowedStates = ['success'], failedStates = ['failed'], ...o } = options;
  if (typeof triggerDagId !== 'string' || !triggerDagId) b.fail(`triggerDag '${taskId}' needs a triggerDagId`, taskId);
  const spec: TriggerDagSpec = { triggerDagId, conf: null, waitForCompletion, allowedStates, failedStates };
  const draft = declare('triggerDag()', taskId, o, { ...NO_KIND_FIELDS, kind: 'trigger_dag', triggerDag: spec }, null);
  // The conf's upstream results draw edges to the declared task.
  spec.conf = b.template(draft, conf, `${taskId}.conf`);
  return makeHandle(b, draft);
}

/** Fields of a Batch job that an input can set per task instance (e.g. per map index). */
export interface BatchJobInput {
  /**
   * The job's name (deterministic per try, so a resubmission after a lost response finds the same job).
   * @default `<dagId>-<taskId>-[<mapIndex>-]<runId>-try<n>` (other characters as `_`, 128 at most)
   */
  jobName?: string;
  /**
   * The job queue (name or ARN). Deployed, a job submitted without one fails.
   * @default none
   */
  jobQueue?: string;
  /**
   * The job definition (name or ARN). Deployed, a job submitted without one fails.
   * @default none
   */
  jobDefinition?: string;
  /**
   * The container's command.
   * @default the job definition's
   */
  command?: string[];
  /**
   * Environment variables of the container, over the task's static ones.
   * @default {}
   */
  environment?: Record<string, string>;
  /**
   * Resources of the container.
   * @default the job definition's
   */
  containerOverrides?: {
    vcpus?: number;
    memory?: number;
    instanceType?: string;
    resourceRequirements?: { type: 'GPU' | 'VCPU' | 'MEMORY'; value: string }[];
  };
  /**
   * Run as an array job of this many children (2..10,000).
   * @default none (a plain job)
   */
  arraySize?: number;
}

export interface BatchJobOptions extends TaskOptions, Omit<BatchJobInput, 'command' | 'environment' | 'containerOverrides'> {
  /**
   * The container's command; may hold upstream results. An input's `command` wins.
   * @default the job definition's
   */
  command?: Resolvable<string[]>;
  /**
   * Environment variables of the container; may hold upstream results. An input's are added over them.
   * @default {}
   */
  environment?: Resolvable<Record<string, string>>;
  /**
   * Resources of the container; may hold upstream results. An input's `containerOverrides` win.
   * @default the job definition's
   */
  containerOverrides?: Resolvable<NonNullable<BatchJobInput['containerOverrides']>>;
  /**
   * How `dags test` runs the job on a laptop: 'process' runs `command` as a child process;
   * `{ simulate: { duration, jitter?, exitCode? } }` pretends, for tests and benchmarks.
   * @default 'process'
   */
  local?: 'process' | { simulate: { duration: Duration; jitter?: Duration; exitCode?: number; runnable?: Duration } };
  /**
   * Mapped (`expand`): submit the map indexes as AWS Batch array jobs, at most 10,000 children each
   * Each child's outcome is its map index's outcome; a retry resubmits only the failed children. The job
   * reads its item through `AIRLESS_ARRAY_MANIFEST` (see the README); false submits one job per map index.
   * @default true
   */
  array?: boolean;
  /**
   * Fail a job (or array child) still RUNNABLE this long after it was submitted, e.g. because no compute
   * environment can place it: it is terminated with a reason that says so.
   * @default none (wait forever)
   */
  runnableTimeout?: Duration;
}
const BATCH_KEYS = [...TASK_OPTION_KEYS, 'jobName', 'jobQueue', 'jobDefinition', 'command', 'environment', 'containerOverrides', 'arraySize', 'local', 'array', 'runnableTimeout'];

export interface BatchJobResult {
  jobId: string;
  jobName: string;
  status: 'SUCCEEDED' | 'FAILED';
  exitCode: number | null;
  /** For array jobs: each child's exit code, by array index. */
  childExitCodes: (number | null)[] | null;
}

/**
 * An AWS Batch job. Deployed, it is submitted and watched by Step Functions (`.sync`); on a laptop it
 * runs its command as a child process, or is simulated.
 */
export function batchJob(taskId: string, options: BatchJobOptions): TaskHandle<BatchJobInput, BatchJobResult> {
  const b = currentBuilder('batchJob()');
  if (typeof options !== 'object' || options === null) b.fail(`batchJob '${taskId}' needs options`, taskId);
  checkKeys(taskId, 'batchJob()', options, BATCH_KEYS);
  const { jobName, jobQueue, jobDefinition, command, environment, containerOverrides, arraySize, local = 'process', array = true, runnableTimeout, ...o } = options;
  const loc = { dagId: b.dagId, taskId };
  let localSpec: BatchLocalSpec;
  if (local === 'process') localSpec = { mode: 'process' };
  else if (typeof local === 'object' && local !== null && 'simulate' in local) {
    localSpec = {
      mode: 'simulate',
      durationMs: toMs(local.simulate.duration, { ...loc, field: 'local.simulate.duration' }),
      durationJitterMs: toMs(local.simulate.jitter ?? 0, { ...loc, field: 'local.simulate.jitter' }),
      exitCode: local.simulate.exitCode ?? 0,
      ...(local.simulate.runnable !== undefined ? { runnableMs: toMs(local.simulate.runnable, { ...loc, field: 'local.simulate.runnable' }) } : {}),
    };
  } else return b.fail(`local must be 'process' or { simulate: { duration } }`, taskId);
  if (typeof array !== 'boolean') b.fail(`array must be true or false, got ${JSON.stringify(array)}`, taskId);
  if (arraySize !== undefined && (!Number.isInteger(arraySize) || arraySize < 2 || arraySize > 10_000)) {
    b.fail(`arraySize must be an integer from 2 to 10000, got ${arraySize}`, taskId);
  }
  const spec: BatchSpec = {
    jobName: jobName ?? null,
    jobQueue: jobQueue ?? null,
    jobDefinition: jobDefinition ?? null,
    command: null,
    environment: null,
    containerOverrides: null,
    arraySize: arraySize ?? null,
    array: array !== false,
    runnableTimeoutMs: runnableTimeout === undefined ? null : toMs(runnableTimeout, { ...loc, field: 'runnableTimeout' }),
    local: localSpec,
  };
  const draft = declare('batchJob()', taskId, o, { ...NO_KIND_FIELDS, kind: 'batch', batch: spec }, null);
  // Templates with upstream results draw edges to the declared task.
  spec.command = command === undefined ? null : b.template(draft, command, `${taskId}.command`);
  spec.environment = environment === undefined ? null : b.template(draft, environment, `${taskId}.environment`);
  spec.containerOverrides = containerOverrides === undefined ? null : b.template(draft, containerOverrides, `${taskId}.containerOverrides`);
  return makeHandle(b, draft);
}
