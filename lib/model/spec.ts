import type { DeadlineSpec, NotifierTarget } from './notify-spec.ts';
import type { RunState, TriggerRule } from './states.ts';

/**
 * The serialisable form of a DAG: what a DAG file compiles to. Its content hash is the structure's
 * identity (`structureHash`); the DAG version names the code too (`version`, from the bundle of the file).
 * Task callables are not part of it; they stay in the {@link Dag} object that holds the spec.
 */
export interface DagSpec {
  dagId: string;
  /** The file the DAG was defined in, relative to the DAGs folder when loaded from one. */
  fileloc: string | null;
  description: string | null;
  schedule: ScheduleSpec | null;
  /** ISO-8601 instant. */
  startDate: string | null;
  endDate: string | null;
  catchup: boolean;
  params: Record<string, ParamSchema>;
  /** Conf keys that are not params are refused (DagOptions.strictConf); absent: they are kept in the conf. */
  strictConf?: boolean;
  maxActiveRuns: number;
  maxActiveTasks: number;
  dagrunTimeoutMs: number | null;
  /** Pause the DAG when this many of its latest runs failed in a row; present only when set (> 0). */
  maxConsecutiveFailedDagRuns?: number;
  tags: string[];
  docs: string | null;
  /** Tasks in definition order. */
  tasks: TaskSpec[];
  groups: TaskGroupSpec[];
  /** Where the DAG's notifiers send (for IAM); absent when none does (a webhook is not listed). */
  notifierTargets?: NotifierTarget[];
  /** Deadline alerts; absent when none. */
  deadlines?: DeadlineSpec[];
  /** sha256 of the canonical JSON of everything above (first 16 hex digits): the structure's identity. */
  structureHash: string;
  /**
   * The content hash of the DAG file's code (the file, the local modules it imports, the packages' versions:
   * lib/dagbag/bundle.ts), when the DAG was loaded from a file; null for a DAG built in code.
   */
  bundle: string | null;
  /**
   * The DAG version a run records and runs on: the structure hash and the bundle hashed together (first 16
   * hex digits of sha256 of `<structureHash>:<bundle>`); the structure hash alone when there is no bundle.
   */
  version: string;
}

export type ScheduleSpec =
  | { kind: 'cron'; expression: string; timezone: string }
  | { kind: 'rate'; everyMs: number; expression: string }
  | { kind: 'once' };

/** A JSON Schema for one param, with its default. */
export interface ParamSchema {
  type?: 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object' | 'null' | readonly string[];
  default?: unknown;
  description?: string;
  enum?: readonly unknown[];
  [keyword: string]: unknown;
}

export type TaskKind = 'task' | 'branch' | 'short_circuit' | 'sensor' | 'batch' | 'trigger_dag' | 'empty' | 'hitl';

/**
 * An input template: JSON where references to upstream results are `{"$xcom": {taskId, key}}`.
 * A literal object that itself has a `$xcom` key is wrapped as `{"$literal": value}`.
 */
export type InputTemplate = unknown;

export interface XComRefSpec {
  taskId: string;
  key: string;
}

export type MappingSpec =
  /** `.expand(list)`: each item is the whole input. */
  | { mode: 'single'; source: InputTemplate; partial: null }
  /** `.expand({a: list, b: list})`: cross product; input = {...partial, a, b}. */
  | { mode: 'product'; expand: Record<string, InputTemplate>; partial: Record<string, InputTemplate> | null }
  /** `.expandKwargs(listOfObjects)`: input = {...partial, ...item}. */
  | { mode: 'kwargs'; source: InputTemplate; partial: Record<string, InputTemplate> | null };

export interface IterateSpec {
  mapping: MappingSpec;
  /** Items run at once inside the one task instance. */
  concurrency: number;
  /** Extra tries per item within one try of the task. */
  itemRetries: number;
}

/** The fields every task spec has, whatever its kind. */
export interface TaskSpecBase {
  taskId: string;
  groupId: string | null;
  upstream: string[];
  downstream: string[];
  triggerRule: TriggerRule;
  retries: number;
  retryDelayMs: number;
  retryExponentialBackoff: boolean;
  maxRetryDelayMs: number | null;
  executionTimeoutMs: number | null;
  pool: string;
  poolSlots: number;
  maxActiveTisPerDag: number | null;
  /** The task's single input (unmapped); null when it has none. */
  input: InputTemplate;
  /** Dynamic task mapping: one task instance per item. */
  mapping: MappingSpec | null;
  /** Dynamic task iteration: every item inside one task instance (only a `task` runs its items). */
  iterate: IterateSpec | null;
  doc: string | null;
  // The fields below are present only when set (true), so the spec (and the version hash) of a DAG that
  // uses none of them is as it was before they existed.
  /** A setup task (Airflow's `as_setup()`): its teardowns run whenever it succeeded. */
  setup?: true;
  /** A teardown task (Airflow's `as_teardown()`): trigger rule `all_done_setup_success`; ignored for the run's state. */
  teardown?: true;
  /** A teardown whose failure fails the run (Airflow's `on_failure_fail_dagrun`). */
  onFailureFailDagrun?: true;
  /** Run only when this task succeeded or was skipped in the DAG's previous run (by logical date). */
  dependsOnPast?: true;
  /** With dependsOnPast: also wait for the previous run's instances of this task's direct downstream tasks. */
  waitForDownstream?: true;
  /** With dependsOnPast: the task's first instance (no earlier run has one) runs without looking back. */
  ignoreFirstDependsOnPast?: true;
}

/** A short-circuit's option. */
export interface ShortCircuitSpec {
  ignoreDownstreamTriggerRules: boolean;
}

/**
 * The fields that belong to one kind each. Every spec carries all of them (null but its own kind's),
 * so the JSON of a spec, whose canonical form is hashed into the DAG version, has one shape.
 */
export interface KindFields {
  sensor: SensorSpec | null;
  triggerDag: TriggerDagSpec | null;
  batch: BatchSpec | null;
  shortCircuit: ShortCircuitSpec | null;
  hitl: HitlSpec | null;
}

export type KindFieldName = keyof KindFields;

/** A spec of kind `K` whose own fields are `Own` (non-null); the other kind fields are null. */
type KindSpec<K extends string, Own extends Partial<KindFields> = Record<never, never>> = TaskSpecBase & { kind: K } & Own & {
  [F in Exclude<KindFieldName, keyof Own>]: null;
};

/** `task()`: TypeScript code, one try per instance (every item of an iteration inside it). */
export type PlainTaskSpec = KindSpec<'task'>;
/** `branch()`: code that returns the direct downstream tasks to follow. */
export type BranchTaskSpec = KindSpec<'branch'>;
/** `shortCircuit()`: code whose falsy result skips the downstream tasks. */
export type ShortCircuitTaskSpec = KindSpec<'short_circuit', { shortCircuit: ShortCircuitSpec }>;
/** `sensor()`: code poked until it says done. */
export type SensorTaskSpec = KindSpec<'sensor', { sensor: SensorSpec }>;
/** `batchJob()`: an AWS Batch job. */
export type BatchTaskSpec = KindSpec<'batch', { batch: BatchSpec }>;
/** `triggerDag()`: a run of another DAG. */
export type TriggerDagTaskSpec = KindSpec<'trigger_dag', { triggerDag: TriggerDagSpec }>;
/** `empty()`: runs nothing. */
export type EmptyTaskSpec = KindSpec<'empty'>;
/** `approval()`, `hitlChoice()`, `hitlForm()`: a person answers (Airflow's HITL operators). */
export type HitlTaskSpec = KindSpec<'hitl', { hitl: HitlSpec }>;

/** A task of a DAG, discriminated on `kind`: narrow on it to reach the kind's own field. */
export type TaskSpec = PlainTaskSpec | BranchTaskSpec | ShortCircuitTaskSpec | SensorTaskSpec | BatchTaskSpec | TriggerDagTaskSpec | EmptyTaskSpec | HitlTaskSpec;

/** The spec of one kind of task. */
export type TaskSpecOf<K extends TaskKind> = Extract<TaskSpec, { kind: K }>;

/** The kind and the kind's own fields of a spec of kind `K` (what the authoring functions declare). */
export type TaskKindFields<K extends TaskKind = TaskKind> = K extends TaskKind ? Pick<TaskSpecOf<K>, 'kind' | KindFieldName> : never;

/** Every kind has its spec, and every spec's kind is a kind (a type error otherwise). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type AssertTrue<T extends true> = T;
export type TaskSpecKindsAreTaskKinds = AssertTrue<Same<TaskSpec['kind'], TaskKind>>;

export interface TaskGroupSpec {
  groupId: string;
  parentGroupId: string | null;
  tooltip: string | null;
  taskIds: string[];
}

/**
 * A human-in-the-loop task (Airflow 3.1's HITLOperator and its kin): it asks a person to approve, choose
 * or fill a form, and waits (deferred) holding nothing.
 */
export interface HitlSpec {
  mode: 'approval' | 'choice' | 'form';
  /** `{{ }}` templates as notifiers use (lib/core/notify-template.ts), rendered when the request is made. */
  subject: string;
  body: string | null;
  /** approval: ['Approve', 'Reject']; form: ['OK']. */
  options: string[];
  /** Whether several options may be chosen (choice). */
  multiple: boolean;
  /** What a timeout takes; null: a timeout fails the try. */
  defaults: string[] | null;
  /** A form's fields (a JSON Schema per field, with its default); null: none. */
  params: Record<string, ParamSchema> | null;
  /** How long to wait for an answer; null: for ever (deployed: up to Step Functions' 1 year). */
  timeoutMs: number | null;
  /** Users allowed to answer; empty: anyone. */
  assignedTo: string[];
  /** approval: 'Reject' fails the task instead of skipping the downstream tasks (present only when set). */
  failOnReject?: true;
}

export interface SensorSpec {
  pokeIntervalMs: number;
  timeoutMs: number;
  softFail: boolean;
  exponentialBackoff: boolean;
}

export interface TriggerDagSpec {
  triggerDagId: string;
  conf: InputTemplate;
  waitForCompletion: boolean;
  allowedStates: RunState[];
  failedStates: RunState[];
}

/** The static part of a Batch job; fields given as input at run time override these. */
export interface BatchSpec {
  jobName: string | null;
  jobQueue: string | null;
  jobDefinition: string | null;
  command: InputTemplate;
  environment: InputTemplate;
  containerOverrides: InputTemplate;
  arraySize: number | null;
  /**
   * Mapped over many items: submit the map indexes as AWS Batch array jobs (at most
   * {@link ARRAY_MAX_CHILDREN} children each), child i of an array being the i-th map index of its wave.
   * False: one job per map index. Ignored for an unmapped task.
   */
  array: boolean;
  /** Fail a job (or an array child) that is still waiting to start (RUNNABLE) this long after submission. */
  runnableTimeoutMs: number | null;
  /** How the local runner runs the job. */
  local: BatchLocalSpec;
}

/** AWS Batch's largest array job. */
export const ARRAY_MAX_CHILDREN = 10_000;

export type BatchLocalSpec =
  | { mode: 'process' }
  /** `runnableMs`: how long the job waits RUNNABLE (for capacity) before it starts; default 0. */
  | { mode: 'simulate'; durationMs: number; durationJitterMs: number; exitCode: number; runnableMs?: number };
