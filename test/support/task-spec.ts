import type { KindFieldName, KindFields, TaskKind, TaskSpecBase, TaskSpecOf } from '../../lib/model/spec.ts';

/** The kinds with a field of their own. */
const OWN_FIELD: Partial<Record<TaskKind, KindFieldName>> = { sensor: 'sensor', batch: 'batch', trigger_dag: 'triggerDag', short_circuit: 'shortCircuit', hitl: 'hitl' };

/**
 * A task spec as `dag()` would give it (defaults of every option), with the given fields. A kind with a
 * field of its own (a sensor's `sensor`, ...) must be given it.
 */
export function taskSpec<K extends TaskKind>(spec: Partial<TaskSpecBase & KindFields> & { taskId: string; kind: K }): TaskSpecOf<K> {
  const own = OWN_FIELD[spec.kind];
  if (own !== undefined && (spec[own] ?? null) === null) throw new Error(`taskSpec: a ${spec.kind} task needs its '${own}'`);
  return {
    groupId: null,
    upstream: [],
    downstream: [],
    triggerRule: 'all_success',
    retries: 0,
    retryDelayMs: 300_000,
    retryExponentialBackoff: false,
    maxRetryDelayMs: null,
    executionTimeoutMs: null,
    pool: 'default_pool',
    poolSlots: 1,
    maxActiveTisPerDag: null,
    input: null,
    mapping: null,
    iterate: null,
    sensor: null,
    triggerDag: null,
    batch: null,
    shortCircuit: null,
    hitl: null,
    doc: null,
    ...spec,
  } as TaskSpecOf<K>;
}
