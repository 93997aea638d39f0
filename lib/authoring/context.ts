import type { AssetEvent } from '../model/asset.ts';
import type { RunState } from '../model/states.ts';
import type { Asset } from './assets.ts';
import type { ConnectionsApi, VariablesApi } from '../secrets/lookup.ts';

/** What a task's code receives as its first argument. */
export interface TaskContext<P = Record<string, any>> {
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  /** Index of this mapped task instance; null when the task is not mapped. */
  readonly mapIndex: number | null;
  /** 1 on the first try. */
  readonly tryNumber: number;
  /** Tries allowed in all: retries + 1. */
  readonly maxTries: number;
  readonly logicalDate: Date;
  readonly runType: RunType;
  /** The DAG's params: defaults overridden by the conf given at trigger, validated. */
  readonly params: P;
  /** The conf the run was triggered with. */
  readonly conf: Readonly<Record<string, unknown>>;
  /** Fires when the task's executionTimeout passes or the run is stopped. */
  readonly signal: AbortSignal;
  readonly log: TaskLogger;
  /** The result (or another XCom key) of a task in this run. */
  xcomPull<T = unknown>(taskId: string, options?: { mapIndex?: number | null; key?: string }): Promise<T | undefined>;
  /** Store a value under a key other than the return value. */
  xcomPush(key: string, value: unknown): Promise<void>;
  /** Domain state that stages hand each other, shared with the DAG runs this run triggers. */
  readonly pipeline: PipelineContextApi;
  /** Inside `.iterate()`: which item this call handles. */
  readonly item: { readonly index: number; readonly tryNumber: number } | null;
  /** Inside a partitioned iteration (`.expand(partitions).iterate(items)`): this instance's partition; undefined otherwise. */
  readonly partition?: unknown;
  /**
   * Variables (Airflow's `Variable.get`): `AIRLESS_VAR_<KEY>`, then the secrets backend, then the store.
   * A sensitive one's value (its key says password, secret, token...) shows as `***` in the task's log.
   */
  readonly variables: VariablesApi;
  /**
   * Connections (Airflow's `get_connection`): `AIRLESS_CONN_<ID>`, then the secrets backend, then the
   * store. Its password shows as `***` in the task's log.
   */
  readonly connections: ConnectionsApi;
  /**
   * The event this try's success records for one of the task's `outlets`: set its `extra` (plain JSON)
   * to give the event metadata (Airflow's `outlet_events[asset].extra`).
   */
  outletEvents(asset: Asset): OutletEventAccessor;
  /**
   * The asset events that triggered this run (an `asset_triggered` run), by asset uri, oldest first;
   * an empty object for any other run.
   */
  readonly triggeringAssetEvents: Readonly<Record<string, readonly AssetEvent[]>>;
}

/** What a task gives the event of one of its outlets (`ctx.outletEvents(asset)`). */
export interface OutletEventAccessor {
  /** Metadata of the event (plain JSON), recorded when the try succeeds. @default {} */
  extra: Record<string, unknown>;
}

export type RunType = 'manual' | 'scheduled' | 'backfill' | 'triggered' | 'asset_triggered';

export interface TaskLogger {
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

export interface PipelineSave {
  stage: string;
  /** ISO-8601 instant of the save. */
  time: string;
  data: unknown;
  dagId: string;
  runId: string;
  taskId: string;
}

export interface PipelineState {
  /** The latest data saved by each stage. */
  stages: Record<string, unknown>;
  /** Every save, oldest first. */
  history: PipelineSave[];
}

export interface PipelineContextApi {
  load(): Promise<PipelineState>;
  save(stage: string, data: unknown): Promise<void>;
}

/** What run-level callbacks receive. */
export interface DagRunInfo {
  dagId: string;
  runId: string;
  state: RunState;
  conf: Record<string, unknown>;
  logicalDate: Date;
  /** Why the run failed, when not a task (e.g. a dagrun timeout); null otherwise. */
  note?: string | null;
}

/** What task callbacks receive. */
export interface TaskCallbackContext {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number | null;
  tryNumber: number;
  error: string | null;
  /** The run's logical date. */
  logicalDate?: Date;
  /** The run's conf. */
  conf?: Record<string, unknown>;
}

export type TaskCallback = (ctx: TaskCallbackContext) => void | Promise<void>;
export type DagRunCallback = (run: DagRunInfo) => void | Promise<void>;
