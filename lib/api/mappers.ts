/** Records of the library and the store → the REST API's response objects (Airflow's snake_case names). */
import type { Dag } from '../authoring/dag.ts';
import type { PipelineSave } from '../authoring/context.ts';
import type { ParamSchema, ScheduleSpec, TaskKind, TaskSpec } from '../model/spec.ts';
import { scheduleText } from '../model/schedule.ts';
import type { RunState } from '../model/states.ts';
import type { BackfillDate, ClearResult } from '../scheduler/operations.ts';
import type { components } from './openapi-types.ts';
import { errorNote, type BackfillRecord, type DagRecord, type DagRunRecord, type DagVersionRecord, type LogLine, type TaskInstanceRecord, type XComRecord } from '../store/records.ts';
import type { ErrorInfo } from '../error-info.ts';
import type { BundleManifest } from '../dagbag/bundle.ts';

/** The API's objects, generated from its OpenAPI document: the mappers below must produce them. */
type Schemas = components['schemas'];
export type DagResponse = Schemas['DAG'];
export type TaskInstanceResponse = Schemas['TaskInstance'];
/** One try of a task instance, as the API gives it. */
export type TryResponse = Schemas['TaskInstanceDetail']['tries'][number];

/** How a schedule reads in words. */
export function scheduleDescription(s: ScheduleSpec | null): string | null {
  if (s === null) return null;
  switch (s.kind) {
    case 'once':
      return 'Once, at the start date';
    case 'rate':
      return `Every ${s.expression.replace(/^rate\((.*)\)$/, '$1')}`;
    case 'cron':
      return `Cron '${s.expression}' (${s.timezone})`;
  }
}

export interface DagState {
  record: DagRecord | undefined;
  hasImportErrors: boolean;
  nextRun: string | null;
}

export function toDag(dag: Dag, state: DagState): DagResponse {
  const s = dag.spec;
  return {
    dag_id: s.dagId,
    dag_display_name: s.dagId,
    description: s.description,
    fileloc: s.fileloc,
    is_paused: state.record?.paused ?? false,
    tags: s.tags,
    timetable_summary: scheduleText(s.schedule),
    timetable_description: scheduleDescription(s.schedule),
    max_active_runs: s.maxActiveRuns,
    max_active_tasks: s.maxActiveTasks,
    has_import_errors: state.hasImportErrors,
    next_dagrun_logical_date: state.nextRun,
    last_parsed_time: null,
    dag_version: s.version,
    max_consecutive_failed_dag_runs: s.maxConsecutiveFailedDagRuns ?? 0,
    paused_reason: state.record?.paused ? (state.record.pausedReason ?? null) : null,
  };
}

/** The DAG's params as one JSON Schema object: what a run's conf must satisfy (other keys only unless `strict`). */
export function paramsSchema(params: Record<string, ParamSchema>, strict = true): Record<string, unknown> {
  const required = Object.entries(params).filter(([, p]) => !('default' in p)).map(([name]) => name);
  return { type: 'object', properties: params, ...(required.length ? { required } : {}), additionalProperties: !strict };
}

export function toDagDetail(dag: Dag, state: DagState) {
  const s = dag.spec;
  return {
    ...toDag(dag, state),
    params: s.params,
    params_schema: paramsSchema(s.params, s.strictConf === true),
    catchup: s.catchup,
    start_date: s.startDate,
    end_date: s.endDate,
    doc_md: s.docs,
    owners: [] as string[],
  };
}

/** The authoring function that declared a task. */
export type OperatorName = 'task' | 'branch' | 'shortCircuit' | 'sensor' | 'batchJob' | 'triggerDag' | 'empty' | 'approval' | 'hitlChoice' | 'hitlForm';

const OPERATOR: Record<TaskKind, OperatorName> = {
  task: 'task',
  branch: 'branch',
  short_circuit: 'shortCircuit',
  sensor: 'sensor',
  batch: 'batchJob',
  trigger_dag: 'triggerDag',
  empty: 'empty',
  hitl: 'hitlChoice',
};

const HITL_OPERATOR = { approval: 'approval', choice: 'hitlChoice', form: 'hitlForm' } as const;

export function operatorName(t: TaskSpec): OperatorName {
  if (t.kind === 'hitl') return HITL_OPERATOR[t.hitl.mode];
  return OPERATOR[t.kind];
}

export function toTask(t: TaskSpec) {
  return {
    task_id: t.taskId,
    task_display_name: t.taskId,
    operator_name: operatorName(t),
    trigger_rule: t.triggerRule,
    retries: t.retries,
    downstream_task_ids: t.downstream,
    upstream_task_ids: t.upstream,
    is_mapped: t.mapping !== null,
    group_id: t.groupId,
    pool: t.pool,
    doc_md: t.doc,
    trigger_dag_id: t.triggerDag?.triggerDagId ?? null,
    is_setup: t.setup === true,
    is_teardown: t.teardown === true,
    on_failure_fail_dagrun: t.onFailureFailDagrun === true,
    depends_on_past: t.dependsOnPast === true,
    wait_for_downstream: t.waitForDownstream === true,
  };
}

export function toDagRun(r: DagRunRecord) {
  return {
    dag_run_id: r.runId,
    dag_id: r.dagId,
    logical_date: r.logicalDate,
    queued_at: r.queuedAt,
    start_date: r.startDate,
    end_date: r.endDate,
    state: r.state,
    run_type: r.runType,
    conf: r.conf,
    note: r.note,
    backfill_id: r.backfillId ?? null,
    triggered_by_parent: r.parent ? { dag_id: r.parent.dagId, dag_run_id: r.parent.runId, task_id: r.parent.taskId } : null,
    dag_version: r.dagVersion,
  };
}

/** A DAG version as listed: its number among the DAG's versions (1-based, oldest first), its runs, whether it is current. */
export function toDagVersion(v: DagVersionRecord, context: { versionNumber: number; runs: number; current: string | undefined }): Schemas['DagVersion'] {
  return {
    version: v.version,
    version_number: context.versionNumber,
    dag_id: v.dagId,
    structure_hash: v.structureHash,
    bundle: v.bundle,
    fileloc: v.fileloc,
    created_at: v.createdAt,
    pruned_at: v.prunedAt,
    runs: context.runs,
    is_current: v.version === context.current,
  };
}

/** A DAG version with its code's manifest (files, entry, packages), or nulls when its code is not available. */
export function toDagVersionDetail(v: Schemas['DagVersion'], manifest: BundleManifest | undefined): Schemas['DagVersionDetail'] {
  return {
    ...v,
    files: manifest ? manifest.files.map((f) => ({ path: f.path, bytes: f.bytes, sha256: f.sha256 })) : null,
    entry: manifest?.entry ?? null,
    packages: manifest ? { ...manifest.packages } : null,
  };
}

/** An instance's (or a try's) error as served: name, message and stack (its causes stay in the store). */
function taskError(e: ErrorInfo | null): Schemas['TaskError'] | null {
  return e === null ? null : { name: e.name, message: e.message, stack: e.data?.stack ?? null };
}

export function toTaskInstance(ti: TaskInstanceRecord, t: TaskSpec): TaskInstanceResponse {
  return {
    task_id: ti.taskId,
    dag_id: ti.dagId,
    dag_run_id: ti.runId,
    map_index: ti.mapIndex,
    state: ti.state,
    try_number: ti.tryNumber,
    max_tries: ti.maxTries,
    start_date: ti.startDate,
    end_date: ti.endDate,
    queued_when: ti.queuedAt,
    duration: ti.durationMs === null ? null : ti.durationMs / 1000,
    operator_name: operatorName(t),
    pool: t.pool,
    note: ti.note ?? errorNote(ti.error),
    error: taskError(ti.error),
    next_at: ti.nextAt,
    external_id: ti.externalId,
  };
}

/** A task of the run with no instance yet: no state. */
export function noInstance(run: DagRunRecord, t: TaskSpec): TaskInstanceResponse {
  return {
    task_id: t.taskId,
    dag_id: run.dagId,
    dag_run_id: run.runId,
    map_index: -1,
    state: null,
    try_number: 0,
    max_tries: t.retries + 1,
    start_date: null,
    end_date: null,
    queued_when: null,
    duration: null,
    operator_name: operatorName(t),
    pool: t.pool,
    note: null,
    error: null,
    next_at: null,
    external_id: null,
  };
}

/**
 * The tries of an instance, 1..try_number: an earlier try from the instance's history (how it ended), the
 * current one from the instance; a try the history no longer holds (past its last 100), or a number an
 * array task skipped, has no state. A try in the history is shown as it ended even while the instance
 * waits on it (up for retry, or queued again after a clear before its next try starts).
 */
export function triesOf(ti: TaskInstanceRecord): TryResponse[] {
  const earlier = new Map((ti.history ?? []).map((h) => [h.tryNumber, h]));
  const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
  return Array.from({ length: ti.tryNumber }, (_, i): TryResponse => {
    const n = i + 1;
    const h = earlier.get(n);
    if (h) return { try_number: n, state: h.state, start_date: h.startDate, end_date: h.endDate, duration: seconds(h.durationMs), note: errorNote(h.error), error: taskError(h.error) };
    if (n === ti.tryNumber) return { try_number: n, state: ti.state, start_date: ti.startDate, end_date: ti.endDate, duration: seconds(ti.durationMs), note: errorNote(ti.error), error: taskError(ti.error) };
    return { try_number: n, state: null, start_date: null, end_date: null, duration: null, note: null, error: null };
  });
}

export function toLog(lines: readonly LogLine[]) {
  return { content: lines.map((l) => ({ timestamp: l.time, level: l.level, event: l.message })), continuation_token: null };
}

export function toXCom(x: XComRecord, dagId: string) {
  return { key: x.key, timestamp: null, map_index: x.mapIndex, task_id: x.taskId, dag_id: dagId, run_id: x.runId, value: x.value };
}

export function toClearResult(r: ClearResult) {
  return {
    task_instances: r.cleared.map((c) => ({ task_id: c.taskId, map_index: c.mapIndex, state: c.state, try_number: c.tryNumber, next_try: c.nextTry, mode: c.mode })),
    skipped: r.skipped.map((s) => ({ task_id: s.taskId, map_index: s.mapIndex, state: s.state, reason: s.reason })),
    dag_run_state: r.runState.after satisfies RunState,
  };
}

export function toBackfill(b: BackfillRecord) {
  return {
    id: b.backfillId,
    dag_id: b.dagId,
    from_date: b.fromDate,
    to_date: b.toDate,
    reprocess_behavior: b.reprocessBehavior,
    max_active_runs: b.maxActiveRuns,
    dag_run_conf: b.conf,
    state: b.state,
    created_at: b.createdAt,
    completed_at: b.completedAt,
    counts: b.counts,
  };
}

export function toBackfillDate(d: BackfillDate) {
  return { logical_date: d.logicalDate, action: d.action, dag_run_id: d.runId, existing_state: d.existingState, reason: d.reason };
}

export function toPipelineSave(s: PipelineSave) {
  return { stage: s.stage, dag_id: s.dagId, run_id: s.runId, task_id: s.taskId, saved_at: s.time, data: s.data };
}
