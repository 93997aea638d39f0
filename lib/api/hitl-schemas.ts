/**
 * The JSON Schemas of the human-in-the-loop routes (Airflow 3.1's `hitlDetails`), beside the others
 * (schemas.ts) in their own module.
 */
import { ID_MAX_LENGTH } from './schemas.ts';

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const strings = { type: 'array', items: str } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const user = { type: 'object', properties: { id: str }, required: ['id'], additionalProperties: false } as const;
const id = { type: 'string', minLength: 1, maxLength: ID_MAX_LENGTH } as const;

/** The HITLDetail object (a shared component). */
export const hitlDetailSchema = {
  $id: 'HITLDetail',
  type: 'object',
  description: 'A human-in-the-loop request of one try of a task instance, and its answer once given (or taken at the timeout).',
  properties: {
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    map_index: int,
    try_number: int,
    subject: { ...str, description: 'Rendered when the request was made.' },
    body: { ...nullableStr, description: 'Markdown.' },
    options: strings,
    multiple: { type: 'boolean', description: 'Whether several options may be chosen.' },
    defaults: { type: ['array', 'null'], items: str, description: 'What the timeout takes; null: a timeout fails the try.' },
    params: { type: ['object', 'null'], additionalProperties: { type: 'object', additionalProperties: true }, description: "A form's fields: a JSON Schema per field, with its default." },
    assigned_users: { type: 'array', items: user, description: 'Who may answer; empty: anyone.' },
    created_at: str,
    timeout_at: nullableStr,
    response_received: { type: 'boolean' },
    chosen_options: { type: ['array', 'null'], items: str },
    params_input: { type: ['object', 'null'], additionalProperties: true },
    responded_by_user: { anyOf: [user, { type: 'null' }], description: 'null at a timeout, or when the caller was not known.' },
    responded_at: nullableStr,
    timed_out: { type: 'boolean', description: 'The answer is the defaults, taken when the timeout passed (not in Airflow).' },
    closed_reason: { ...nullableStr, description: 'Closed without an answer: its task instance stopped waiting (marked, cleared, ended with its run), and why (not in Airflow).' },
  },
  required: [
    'dag_id', 'dag_run_id', 'task_id', 'map_index', 'try_number', 'subject', 'body', 'options', 'multiple', 'defaults', 'params', 'assigned_users',
    'created_at', 'timeout_at', 'response_received', 'chosen_options', 'params_input', 'responded_by_user', 'responded_at', 'timed_out', 'closed_reason',
  ],
  additionalProperties: false,
} as const;

export const hitlDetailRef = { $ref: 'HITLDetail#' } as const;

export const hitlDetailList = {
  type: 'object',
  properties: { hitl_details: { type: 'array', items: hitlDetailRef }, total_entries: int },
  required: ['hitl_details', 'total_entries'],
  additionalProperties: false,
} as const;

export const hitlListParams = {
  type: 'object',
  properties: { dag_id: { ...id, description: "A DAG id, or '~' for every DAG." }, dag_run_id: { ...id, description: "A run id, or '~' for every run." } },
  required: ['dag_id', 'dag_run_id'],
  additionalProperties: false,
} as const;

export const hitlTiParams = {
  type: 'object',
  properties: { dag_id: id, dag_run_id: id, task_id: id },
  required: ['dag_id', 'dag_run_id', 'task_id'],
  additionalProperties: false,
} as const;

export const hitlTiMappedParams = {
  type: 'object',
  properties: { ...hitlTiParams.properties, map_index: { type: 'integer', minimum: -1 } },
  required: ['dag_id', 'dag_run_id', 'task_id', 'map_index'],
  additionalProperties: false,
} as const;

export const hitlListQuery = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    offset: { type: 'integer', minimum: 0, default: 0 },
    state: { type: 'string', enum: ['pending', 'responded'], description: 'Only requests waiting for an answer, or only those answered. Default: both.' },
  },
  additionalProperties: false,
} as const;

export const hitlPatchBody = {
  type: 'object',
  properties: {
    chosen_options: { type: 'array', items: str, minItems: 1, description: 'The options chosen (one unless the request allows several).' },
    params_input: { type: 'object', additionalProperties: true, description: "A form's values; a field not given takes its default." },
  },
  required: ['chosen_options'],
  additionalProperties: false,
} as const;
