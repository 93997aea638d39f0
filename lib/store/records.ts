import type { PipelineSave, RunType } from '../authoring/context.ts';
import type { RunState, TerminalTiState, TiState } from '../model/states.ts';

/** A DAG run. */
export interface DagRunRecord {
  dagId: string;
  runId: string;
  state: RunState;
  runType: RunType;
  conf: Record<string, unknown>;
  /** Params after conf overrides, validated. */
  params: Record<string, unknown>;
  /** ISO-8601. */
  logicalDate: string;
  queuedAt: string;
  startDate: string | null;
  endDate: string | null;
  dagVersion: string;
  /** Task instances (and not-yet-decided tasks) that have not reached a terminal state. 0 = finished. */
  pending: number;
  /** The task that triggered this run and waits for it, if any. */
  parent: ParentRef | null;
  /** The run whose pipeline context this run shares (its own id for a top-level run). */
  pipelineScope: string;
  /** Why the run failed, when not a task (e.g. dagrun timeout). */
  note: string | null;
}

export interface ParentRef {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
}

/** Identity of a task instance. mapIndex is -1 for a task that is not mapped (as in Airflow). */
export interface TiKey {
  runId: string;
  taskId: string;
  mapIndex: number;
}

export interface TaskInstanceRecord extends TiKey {
  dagId: string;
  state: TiState;
  /** The current (or last) try; 0 before the first try starts. */
  tryNumber: number;
  maxTries: number;
  queuedAt: string | null;
  startDate: string | null;
  endDate: string | null;
  /** When an up_for_retry or deferred instance is due (ISO-8601). */
  nextAt: string | null;
  /** First poke of the current try (sensors): the timeout counts from here. */
  firstPokeAt: string | null;
  pokeCount: number;
  durationMs: number | null;
  /** The last error, "Name: message". */
  error: string | null;
  /** A triggered run's id or a Batch job's id. */
  externalId: string | null;
  /** Set when a deferred instance is put back in the queue: its next start continues the same try. */
  resume: boolean;
}

/** A task instance that has not started: scheduled, before its first try (fields given override). */
export function newTaskInstance(
  fields: TiKey & Pick<TaskInstanceRecord, 'dagId' | 'maxTries'> & Partial<TaskInstanceRecord>,
): TaskInstanceRecord {
  return {
    state: 'scheduled',
    tryNumber: 0,
    queuedAt: null,
    startDate: null,
    endDate: null,
    nextAt: null,
    firstPokeAt: null,
    pokeCount: 0,
    durationMs: null,
    error: null,
    externalId: null,
    resume: false,
    ...fields,
  };
}

/** Terminal-state tally. */
export interface StateTally {
  success: number;
  failed: number;
  skipped: number;
  upstream_failed: number;
  removed: number;
}

export function emptyTally(): StateTally {
  return { success: 0, failed: 0, skipped: 0, upstream_failed: 0, removed: 0 };
}

/**
 * Per (run, task) state, created lazily: the deltas that the DAG spec's static shape does not give.
 * - `upstream`: terminal upstream instances seen, by state.
 * - `upstreamAddedTotal` / `upstreamExpanded`: instances announced by expanded mapped upstreams.
 * - `self`: this task's own instances that ended, by state (the run outcome reads the leaves').
 * - `decision`: set exactly once, when the trigger rule settled (conditional write).
 */
export interface TaskStateRecord {
  runId: string;
  taskId: string;
  upstream: StateTally;
  upstreamAddedTotal: number;
  upstreamExpanded: number;
  self: StateTally;
  decision: TaskDecision | null;
  /** Instances of a mapped task (null until expanded, or when not mapped). */
  mapCount: number | null;
}

export type TaskDecision = 'scheduled' | 'expanded' | TerminalTiState;

export interface XComRecord {
  runId: string;
  taskId: string;
  mapIndex: number;
  key: string;
  value: unknown;
}

export interface LogLine {
  /** ISO-8601. */
  time: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** A DAG as the deployment knows it: its current version and whether it is paused. */
export interface DagRecord {
  dagId: string;
  /** The spec's content hash last seen. */
  version: string;
  paused: boolean;
  fileloc: string | null;
  /** ISO-8601 of the last change. */
  updatedAt: string;
}

export interface PoolRecord {
  name: string;
  slots: number;
  description: string;
}

export type { PipelineSave };
