/**
 * The JSON Schemas of the pools routes (Airflow 3's Pool objects), beside the others (schemas.ts) but in
 * their own module.
 */
import { POOL_NAME_MAX_LENGTH, POOL_NAME_PATTERN, UNLIMITED_POOL_SLOTS } from '../scheduler/pools.ts';

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;

const poolName = { type: 'string', minLength: 1, maxLength: POOL_NAME_MAX_LENGTH, pattern: POOL_NAME_PATTERN.source, description: "Letters, digits, '_', '.' and '-'." } as const;
const poolSlots = { type: 'integer', minimum: UNLIMITED_POOL_SLOTS, description: 'How many slots tasks of the pool may hold at once; -1: unlimited; 0: none starts.' } as const;
const poolDescription = { type: ['string', 'null'], maxLength: 4096 } as const;

/** The Pool object (a shared component). */
export const poolSchema = {
  $id: 'Pool',
  type: 'object',
  description: "A pool and what its slots are used for now. A try takes its task's poolSlots when it is queued and gives them back when it ends; a deferred instance holds none.",
  properties: {
    name: str,
    slots: { ...int, description: '-1: unlimited.' },
    description: { type: ['string', 'null'] },
    include_deferred: { type: 'boolean', description: 'Always false: deferred instances give their slots back while they wait.' },
    occupied_slots: { ...int, description: 'Slots held by queued and running tries (and Batch array waves).' },
    running_slots: { ...int, description: 'Slots held by running tries and by Batch array waves in flight.' },
    queued_slots: { ...int, description: 'Slots held by queued tries (taken, not yet started).' },
    deferred_slots: { ...int, description: 'Always 0 (see include_deferred).' },
    open_slots: { ...int, description: 'slots − occupied_slots (0 when the pool was shrunk below what is held); -1 for an unlimited pool.' },
  },
  required: ['name', 'slots', 'description', 'include_deferred', 'occupied_slots', 'running_slots', 'queued_slots', 'deferred_slots', 'open_slots'],
  additionalProperties: false,
} as const;

export const poolRef = { $ref: 'Pool#' } as const;

export const poolList = {
  type: 'object',
  properties: { pools: { type: 'array', items: poolRef }, total_entries: int },
  required: ['pools', 'total_entries'],
  additionalProperties: false,
} as const;

export const poolParams = { type: 'object', properties: { pool_name: poolName }, required: ['pool_name'], additionalProperties: false } as const;

export const poolListQuery = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    offset: { type: 'integer', minimum: 0, default: 0 },
    pool_name_pattern: { type: 'string', maxLength: POOL_NAME_MAX_LENGTH, description: "Part of the name; '%' matches any text and '_' one character (SQL LIKE, as Airflow), case-insensitively." },
  },
  additionalProperties: false,
} as const;

export const poolPostBody = {
  type: 'object',
  properties: { name: poolName, slots: poolSlots, description: poolDescription, include_deferred: { type: 'boolean', enum: [false], description: 'Only false is supported.' } },
  required: ['name', 'slots'],
  additionalProperties: false,
} as const;

export const poolPatchBody = {
  type: 'object',
  properties: {
    name: { ...poolName, description: "The pool's name; when given, it must be the path's (a pool cannot be renamed)." },
    slots: poolSlots,
    description: poolDescription,
    include_deferred: { type: 'boolean', enum: [false], description: 'Only false is supported.' },
  },
  additionalProperties: false,
} as const;
