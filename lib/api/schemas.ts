/**
 * The JSON Schemas of the REST API: request parts (params, query, body) validated by Fastify's ajv, and
 * responses (serialised by them, and published in the OpenAPI document, from which the client's types are
 * generated). Field names follow Airflow's `/api/v2` (snake_case).
 */
import { RUN_STATES, TI_STATES, TRIGGER_RULES } from '../model/states.ts';

/** The longest dag_run_id a trigger may choose, and the longest dag_id_pattern (Airflow's ID_LEN). */
export const ID_LEN = 250;
/**
 * The longest id a request may name (dag_id, dag_run_id, task_id, xcom_key, backfill_id; in a path, a
 * query or a body), and the router's maxParamLength: the ids the scheduler derives nest (a triggered run's
 * is `triggered__<parent run id>__<task id>...__try<n>`, another DAG's `<run id>__<dag id>`), so it is well
 * above ID_LEN.
 */
export const ID_MAX_LENGTH = 2048;
/** The keyword bounding the nesting of a free-form value (app.ts gives ajv its validation). */
export const MAX_DEPTH_KEYWORD = 'x-max-depth';
/** How deeply a conf may nest (the conf object itself is level 1). */
export const CONF_MAX_DEPTH = 64;

/** How a run came to be (lib/authoring/context.ts RunType). */
export const RUN_TYPES = ['manual', 'scheduled', 'backfill', 'triggered'] as const;

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const bool = { type: 'boolean' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
/** Any JSON value. */
const anyJson = {} as const;
const jsonObject = { type: 'object', additionalProperties: true } as const;
/** A conf given in a request: a JSON object nested at most CONF_MAX_DEPTH levels. */
const confObject = { ...jsonObject, [MAX_DEPTH_KEYWORD]: CONF_MAX_DEPTH } as const;
/** An id a request names. */
const namedId = { type: 'string', minLength: 1, maxLength: ID_MAX_LENGTH } as const;

function object(properties: Record<string, unknown>, options: { optional?: readonly string[]; id?: string; description?: string } = {}) {
  const optional = new Set(options.optional ?? []);
  return {
    ...(options.id !== undefined ? { $id: options.id } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
    type: 'object',
    properties,
    required: Object.keys(properties).filter((k) => !optional.has(k)),
    additionalProperties: false,
  } as const;
}

const ref = (id: string) => ({ $ref: `${id}#` }) as const;
const list = (key: string, item: unknown) => object({ [key]: { type: 'array', items: item }, total_entries: int });

// Shared (components) -----------------------------------------------------------------------------------

const operatorName = { type: 'string', enum: ['task', 'branch', 'shortCircuit', 'sensor', 'batchJob', 'triggerDag', 'empty', 'approval', 'hitlChoice', 'hitlForm'], description: 'The authoring function that declared the task.' } as const;

const dagProperties = {
  dag_id: str,
  dag_display_name: str,
  description: nullableStr,
  fileloc: nullableStr,
  is_paused: bool,
  tags: { type: 'array', items: str },
  timetable_summary: { ...nullableStr, description: "The schedule as written ('0 2 * * *', 'rate(5 minutes)', '@once'); null when triggered only." },
  timetable_description: nullableStr,
  max_active_runs: int,
  max_active_tasks: int,
  has_import_errors: bool,
  next_dagrun_logical_date: nullableDateTime,
  last_parsed_time: nullableDateTime,
  dag_version: str,
  max_consecutive_failed_dag_runs: { type: 'integer', description: 'Pause the DAG when this many of its latest runs failed in a row; 0: never.' },
  paused_reason: { ...nullableStr, description: "Why the DAG is paused when airless paused it (e.g. 'auto-paused after 3 consecutive failed runs'); null when not paused or paused by a user." },
};

const httpError = object(
  { detail: { ...str, description: 'What was wrong, naming the field, DAG, run or task.' }, field: { ...nullableStr, description: "The offending input's path, e.g. 'body.conf.nchan' or 'query.limit'; null when no field is at fault." } },
  { id: 'HTTPError' },
);

const dag = object(dagProperties, { id: 'DAG' });

const dagDetail = object(
  {
    ...dagProperties,
    params: { type: 'object', additionalProperties: jsonObject, description: "Each param's JSON Schema, with its default." },
    params_schema: { ...jsonObject, description: 'The params as one JSON Schema object (type object, properties, required; additionalProperties false when the DAG has strictConf, else true: other conf keys are kept in the run\'s conf): what conf must satisfy.' },
    catchup: bool,
    start_date: nullableDateTime,
    end_date: nullableDateTime,
    doc_md: nullableStr,
    owners: { type: 'array', items: str },
  },
  { id: 'DAGDetail' },
);

const task = object(
  {
    task_id: str,
    task_display_name: str,
    operator_name: operatorName,
    trigger_rule: { type: 'string', enum: TRIGGER_RULES },
    retries: int,
    downstream_task_ids: { type: 'array', items: str },
    upstream_task_ids: { type: 'array', items: str },
    is_mapped: bool,
    group_id: nullableStr,
    pool: str,
    doc_md: nullableStr,
    trigger_dag_id: { ...nullableStr, description: 'The DAG a triggerDag task triggers (its instance\'s external_id is the triggered run\'s id); null for any other task.' },
    is_setup: { ...bool, description: 'A setup task (Airflow\'s as_setup()).' },
    is_teardown: { ...bool, description: 'A teardown task (Airflow\'s as_teardown()): runs when its setups succeeded, whatever its work tasks did.' },
    on_failure_fail_dagrun: { ...bool, description: 'A teardown whose failure fails the run.' },
    depends_on_past: { ...bool, description: 'Runs only when its instance in the previous run (by logical date) succeeded or was skipped.' },
    wait_for_downstream: { ...bool, description: 'With depends_on_past: also waits for the previous run\'s instances of its direct downstream tasks.' },
  },
  { id: 'Task' },
);

const parentRef = object({ dag_id: str, dag_run_id: str, task_id: str });

const dagRun = object(
  {
    dag_run_id: str,
    dag_id: str,
    logical_date: dateTime,
    queued_at: dateTime,
    start_date: nullableDateTime,
    end_date: nullableDateTime,
    state: { type: 'string', enum: RUN_STATES },
    run_type: { type: 'string', enum: RUN_TYPES },
    conf: jsonObject,
    note: nullableStr,
    backfill_id: nullableStr,
    triggered_by_parent: { anyOf: [parentRef, { type: 'null' }] },
    dag_version: { ...str, description: 'The DAG version the run runs on (see the DAG\'s dagVersions).' },
    deadlines: {
      type: 'array',
      description: "The DAG's deadline alerts for this run (only when one run is read): when each falls, and whether the run missed it (it had not ended by then).",
      items: object({ at: dateTime, reference: { ...str, description: 'dagrun_queued_at, dagrun_logical_date, or a fixed instant' }, interval: str, missed: bool }),
    },
  },
  { id: 'DAGRun', optional: ['deadlines'] },
);

const tiState = { type: ['string', 'null'], enum: [...TI_STATES, null] } as const;

const taskError = object(
  {
    name: { ...str, description: "The error's name, e.g. `NonRetriableError`, `TaskTimeoutError`; `SkipTask` for why a skipped instance was skipped." },
    message: str,
    stack: { ...nullableStr, description: "The error's stack trace as the try's code threw it (source-mapped to the DAG file's TypeScript lines where source maps are on, as under the CLI and the functions); null when none was kept." },
  },
  { id: 'TaskError', description: 'How a try ended when not in success: its error, or why it was skipped.' },
);
const nullableTaskError = { anyOf: [ref('TaskError'), { type: 'null' }] } as const;

const tiProperties = {
  task_id: str,
  dag_id: str,
  dag_run_id: str,
  map_index: { ...int, description: '-1 for a task that is not mapped.' },
  state: { ...tiState, description: 'null: the task has no instance yet (no state).' },
  try_number: int,
  max_tries: int,
  start_date: nullableDateTime,
  end_date: nullableDateTime,
  queued_when: nullableDateTime,
  duration: { type: ['number', 'null'], description: 'Seconds.' },
  operator_name: operatorName,
  pool: str,
  note: { ...nullableStr, description: 'The note written on the instance (PATCH with note); when it has none, its last error as text, "Name: message" (a skipped instance\'s: why it was skipped).' },
  error: { ...nullableTaskError, description: 'The last error (or why it was skipped), with its name and message apart.' },
  next_at: { ...nullableDateTime, description: 'When an up_for_retry or deferred instance is due.' },
  external_id: { ...nullableStr, description: "A triggered run's id or a Batch job's id." },
};

const taskInstance = object(tiProperties, { id: 'TaskInstance' });

const tryInfo = object({
  try_number: int,
  state: { ...tiState, description: 'How the try ended (failed for a try that went up for retry), or the current try\'s state; null when not known.' },
  start_date: nullableDateTime,
  end_date: nullableDateTime,
  duration: { type: ['number', 'null'], description: 'Seconds.' },
  note: { ...nullableStr, description: 'The try\'s error as text, "Name: message" (a skipped try\'s: why it was skipped).' },
  error: { ...nullableTaskError, description: 'The try\'s error (or why it was skipped), with its name and message apart; of an earlier try, the first 1,000 characters of its message.' },
});
const taskInstanceDetail = object({ ...tiProperties, tries: { type: 'array', items: tryInfo } }, { id: 'TaskInstanceDetail' });

const xcomEntry = object(
  { key: str, timestamp: nullableDateTime, map_index: int, task_id: str, dag_id: str, run_id: str, value: anyJson },
  { id: 'XComEntry' },
);

const backfillBody = object(
  {
    dag_id: namedId,
    from_date: dateTime,
    to_date: dateTime,
    reprocess_behavior: { type: 'string', enum: ['none', 'failed', 'completed'], default: 'none' },
    max_active_runs: { type: 'integer', minimum: 1, default: 10 },
    dag_run_conf: { ...confObject, description: "Values of the DAG's params for every run (validated against their JSON Schemas)." },
  },
  { optional: ['reprocess_behavior', 'max_active_runs', 'dag_run_conf'] },
);

const backfill = object(
  {
    id: str,
    dag_id: str,
    from_date: dateTime,
    to_date: dateTime,
    reprocess_behavior: { type: 'string', enum: ['none', 'failed', 'completed'] },
    max_active_runs: int,
    dag_run_conf: jsonObject,
    state: { type: 'string', enum: ['running', 'completed'] },
    created_at: dateTime,
    completed_at: nullableDateTime,
    counts: object({ dates: int, created: int, cleared: int, skipped: int }),
  },
  { id: 'Backfill' },
);

const dagVersionProperties = {
  version: { ...str, description: 'The version id (DagSpec.version): what a run records as its dag_version.' },
  version_number: { ...int, description: "1-based position among the DAG's versions, oldest first." },
  dag_id: str,
  structure_hash: { ...str, description: "The structure's identity (tasks, dependencies, settings)." },
  bundle: { ...nullableStr, description: "The content hash of the version's code (its DAG file and the modules it imports); null for a DAG built in code." },
  fileloc: { ...nullableStr, description: 'Its file, relative to the DAGs folder.' },
  created_at: { ...dateTime, description: 'When the version was first seen.' },
  pruned_at: { ...nullableDateTime, description: 'When its code was pruned (no run can load it any more); null while kept.' },
  runs: { ...int, description: "How many of the DAG's runs run on this version." },
  is_current: { ...bool, description: "Whether it is the DAG's current version (the latest loaded or deployed)." },
};

const dagVersion = object(dagVersionProperties, { id: 'DagVersion' });

const bundleFile = object({ path: { ...str, description: "The file, relative to the bundle's root, '/'-separated." }, bytes: int, sha256: str });

const dagVersionDetail = object(
  {
    ...dagVersionProperties,
    files: { anyOf: [{ type: 'array', items: bundleFile }, { type: 'null' }], description: "The version's source files, sorted by path; null when its code is not available (not kept, pruned, or the server keeps no code)." },
    entry: { ...nullableStr, description: 'The DAG file among `files`; null when the code is not available.' },
    packages: { anyOf: [{ type: 'object', additionalProperties: nullableStr }, { type: 'null' }], description: 'Each package the code imports → its installed version (null: not found); null when the code is not available.' },
  },
  { id: 'DagVersionDetail' },
);

/** Schemas added to the app with `addSchema` (the document's components), referenced as `<$id>#`. */
export const SHARED_SCHEMAS = [httpError, dag, dagDetail, task, dagRun, taskError, taskInstance, taskInstanceDetail, xcomEntry, backfill, dagVersion, dagVersionDetail];

// Responses ---------------------------------------------------------------------------------------------

const error = (description: string) => ({ description, ...ref('HTTPError') });
const errors = {
  400: error('Invalid request: `field` names the offending input (e.g. body.conf.n, query.limit).'),
  401: error('Missing or wrong bearer token.'),
  404: error('The DAG, run, task instance, try, XCom, backfill, DAG version or file named does not exist.'),
  409: error('Conflict: the run id exists, a run is still queued or running, a backfill of the DAG is running.'),
  500: error('Internal error (logged by the server; no detail is sent).'),
};

/** A route's `response` schema: `ok` for 200 (or `status`), plus the error format for every error status. */
export function responses(ok: object, status = 200, description = 'Success.'): Record<number, unknown> {
  return { [status]: { description, ...ok }, ...errors };
}

export const noContent = { type: 'null' } as const;

// Params ------------------------------------------------------------------------------------------------

const params = (...names: string[]) => object(Object.fromEntries(names.map((n) => [n, n === 'map_index' || n === 'try_number' ? (n === 'map_index' ? { type: 'integer', minimum: -1 } : { type: 'integer', minimum: 1 }) : namedId])));

export const P = {
  dag: params('dag_id'),
  task: params('dag_id', 'task_id'),
  run: params('dag_id', 'dag_run_id'),
  ti: params('dag_id', 'dag_run_id', 'task_id'),
  tiMapped: params('dag_id', 'dag_run_id', 'task_id', 'map_index'),
  log: params('dag_id', 'dag_run_id', 'task_id', 'try_number'),
  xcom: params('dag_id', 'dag_run_id', 'task_id', 'xcom_key'),
  backfill: params('backfill_id'),
  dagVersion: params('dag_id', 'version'),
};

// Queries -----------------------------------------------------------------------------------------------

const page = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  offset: { type: 'integer', minimum: 0, default: 0 },
};
const query = (properties: Record<string, unknown>) => ({ type: 'object', properties, additionalProperties: false }) as const;
const mapIndexQuery = { map_index: { type: 'integer', minimum: -1, default: -1 } };

export const RUN_ORDER = ['logical_date', '-logical_date', 'queued_at', '-queued_at', 'start_date', '-start_date', 'end_date', '-end_date', 'dag_run_id', '-dag_run_id'] as const;

export const Q = {
  dags: query({
    ...page,
    paused: bool,
    dag_id_pattern: { type: 'string', maxLength: ID_LEN, description: "Part of the dag_id; '%' matches any text and '_' one character (SQL LIKE, as Airflow), case-insensitively." },
    tags: { type: 'array', items: str, description: 'DAGs with any of these tags.' },
  }),
  dagRuns: query({
    ...page,
    state: { type: 'array', items: { type: 'string', enum: RUN_STATES } },
    run_type: { type: 'array', items: { type: 'string', enum: RUN_TYPES }, description: 'Only runs of these types (default: every type).' },
    order_by: { type: 'string', enum: RUN_ORDER, default: '-logical_date' },
  }),
  page: query(page),
  mapIndex: query(mapIndexQuery),
  xcomList: query({ map_index: { type: 'integer', minimum: -1, description: 'Only this map index (default: every map index).' } }),
  backfills: query({ dag_id: namedId, ...page }),
  backfill: query({ dag_id: namedId }),
  versionSource: { ...query({ path: { ...namedId, description: "The file's path, as the version's `files` list it." } }), required: ['path'] },
};
export const REQUIRED_DAG_ID_QUERY = { ...Q.backfill, required: ['dag_id'] } as const;

// Bodies ------------------------------------------------------------------------------------------------

export const B = {
  patchDag: object({ is_paused: bool }),
  triggerRun: object(
    {
      dag_run_id: { type: 'string', minLength: 1, maxLength: ID_LEN, pattern: '^[A-Za-z0-9_.:+~-]+$' },
      logical_date: nullableDateTime,
      conf: { ...confObject, description: "Values of the DAG's params (validated against their JSON Schemas), and other keys, kept in the run's conf unless the DAG has strictConf." },
      note: nullableStr,
    },
    { optional: ['dag_run_id', 'logical_date', 'conf', 'note'] },
  ),
  clear: object(
    {
      dag_run_id: namedId,
      task_ids: { type: 'array', items: namedId },
      map_indexes: { type: 'array', items: { type: 'integer', minimum: -1 } },
      only_failed: bool,
      include_downstream: bool,
      include_upstream: bool,
      dry_run: { type: 'boolean', default: true },
      run_on_latest_version: { type: 'boolean', default: false, description: "Rerun the cleared tasks on the DAG's latest version (the run's version becomes it), as Airflow 3; otherwise on the run's own version." },
    },
    { optional: ['task_ids', 'map_indexes', 'only_failed', 'include_downstream', 'include_upstream', 'dry_run', 'run_on_latest_version'] },
  ),
  backfill: backfillBody,
  patchDagRun: {
    ...object(
      {
        state: { type: 'string', enum: ['success', 'failed', 'queued'], description: "failed stops a queued or running run (its running tries aborted and failed, the rest skipped); success ends it with every unfinished instance success; queued runs a finished run again as it is. A finished run marked the other way changes state only." },
        note: { ...nullableStr, maxLength: 1000, description: "The run's note (null removes it)." },
      },
      { optional: ['state', 'note'] },
    ),
    minProperties: 1,
  },
  patchTaskInstance: {
    ...object(
      {
        new_state: { type: 'string', enum: ['success', 'failed', 'skipped'], description: 'Mark the instance (every map index of the task unless one is named in the path) and those included in this state; a running try is aborted.' },
        note: { ...nullableStr, maxLength: 1000, description: "The instance's note (null removes it); with a map index in the path, that instance's." },
        include_upstream: { type: 'boolean', default: false },
        include_downstream: { type: 'boolean', default: false },
        include_future: { type: 'boolean', default: false, description: 'The same tasks in runs with a later logical date.' },
        include_past: { type: 'boolean', default: false, description: 'The same tasks in runs with an earlier logical date.' },
        dry_run: { type: 'boolean', default: false, description: 'List what new_state would mark (as they are now); change nothing.' },
      },
      { optional: ['new_state', 'note', 'include_upstream', 'include_downstream', 'include_future', 'include_past', 'dry_run'] },
    ),
    minProperties: 1,
  },
};

// Response bodies ---------------------------------------------------------------------------------------

const clearedInstance = object({ task_id: str, map_index: int, state: str, try_number: int, next_try: int, mode: { type: 'string', enum: ['rerun', 'redecide'] } });
const skippedInstance = object({ task_id: str, map_index: int, state: str, reason: str });

export const R = {
  health: object({ status: { type: 'string', enum: ['healthy'] } }),
  dags: list('dags', ref('DAG')),
  dag: ref('DAG'),
  dagDetail: ref('DAGDetail'),
  tasks: list('tasks', ref('Task')),
  task: ref('Task'),
  dagRuns: list('dag_runs', ref('DAGRun')),
  dagRun: ref('DAGRun'),
  taskInstances: list('task_instances', ref('TaskInstance')),
  taskInstance: ref('TaskInstanceDetail'),
  log: object({ content: { type: 'array', items: object({ timestamp: dateTime, level: { type: 'string', enum: ['info', 'warn', 'error'] }, event: str }) }, continuation_token: { type: 'null' } }),
  xcomEntries: list('xcom_entries', ref('XComEntry')),
  xcomEntry: ref('XComEntry'),
  clear: object({ task_instances: { type: 'array', items: clearedInstance }, skipped: { type: 'array', items: skippedInstance }, dag_run_state: { type: 'string', enum: RUN_STATES, description: "The run's state after the clear (a finished run with instances cleared goes back to queued); in a dry run, what it would be." } }),
  importErrors: list('import_errors', object({ import_error_id: int, filename: str, stack_trace: str, timestamp: nullableDateTime })),
  backfills: list('backfills', ref('Backfill')),
  backfill: ref('Backfill'),
  backfillDryRun: list(
    'backfills',
    object({ logical_date: dateTime, action: { type: 'string', enum: ['create', 'clear', 'skip'] }, dag_run_id: nullableStr, existing_state: { type: ['string', 'null'], enum: [...RUN_STATES, null] }, reason: nullableStr }),
  ),
  dagVersions: list('dag_versions', ref('DagVersion')),
  dagVersion: ref('DagVersionDetail'),
  versionSource: object({ path: str, content: { ...str, description: 'The file as UTF-8 text.' } }),
  pipelineContext: object({ scope: str, saves: { type: 'array', items: object({ stage: str, dag_id: str, run_id: str, task_id: str, saved_at: dateTime, data: anyJson }) } }),
};
