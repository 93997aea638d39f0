// The public entry point of airless: authoring, errors, and the local runner.
export { dag, isDag, Dag, type DagOptions, type DagApi } from './authoring/dag.ts';
export {
  task,
  branch,
  shortCircuit,
  sensor,
  triggerDag,
  batchJob,
  empty,
  type TaskFunction,
  type SensorOptions,
  type ShortCircuitOptions,
  type TriggerDagOptions,
  type TriggerDagResult,
  type BatchJobOptions,
  type BatchJobInput,
  type BatchJobResult,
  type PokeResult,
} from './authoring/operators.ts';
export { approval, hitlChoice, hitlForm, HITL_MAX_TIMEOUT_MS, type HitlAnswer, type HitlCommonOptions, type ApprovalOptions, type HitlChoiceOptions, type HitlFormOptions } from './authoring/hitl.ts';
export { taskGroup, chain, type TaskGroupOptions, type TaskGroupHandle } from './authoring/group.ts';
export type { TaskHandle, TaskNode, IterateOptions, DependencyTarget, AsTeardownOptions } from './authoring/builder.ts';
export type { XComArg, Resolvable } from './authoring/xcom-arg.ts';
export type { TaskOptions } from './authoring/options.ts';
export {
  snsNotifier,
  webhookNotifier,
  sesNotifier,
  isNotifier,
  type Notifier,
  type NotificationContext,
  type SnsNotifierOptions,
  type WebhookNotifierOptions,
  type SesNotifierOptions,
} from './authoring/notifiers.ts';
export { NotifierError, type TaskCallbackOption, type DagRunCallbackOption } from './authoring/callback-list.ts';
export type { DeadlineOption, DeadlineCallback, DeadlineContext } from './authoring/deadline-option.ts';
export type {
  TaskContext,
  TaskLogger,
  PipelineContextApi,
  PipelineState,
  PipelineSave,
  TaskCallback,
  TaskCallbackContext,
  DagRunCallback,
  DagRunInfo,
  RunType,
} from './authoring/context.ts';
export type { Duration } from './model/duration.ts';
export type { Schedule } from './model/schedule.ts';
export type { DagSpec, TaskSpec, ParamSchema } from './model/spec.ts';
export type { RunState, TiState, TriggerRule } from './model/states.ts';
export * from './public-errors.ts';
export { serializeError, formatError, type ErrorInfo } from './error-info.ts';
export { LocalRunner, type LocalRunnerOptions, type RunReport, type TaskReport, type RunnerEvent, type TaskTestResult } from './runner/local-runner.ts';
export { FakeClock, RealClock, type Clock } from './runner/clock.ts';
export { MemoryStateStore } from './store/memory-store.ts';
export type { StateStore } from './store/state-store.ts';
export type { DagRunRecord, TaskInstanceRecord, LogLine, RunRef, TiKey } from './store/records.ts';
export { loadDagBag, DagBag } from './dagbag/dag-bag.ts';
export type { DagFileImportError } from './dagbag/import-error.ts';
export { resolveDagsFolder, DagsFolderError } from './dagbag/dags-folder.ts';
export { SqliteStateStore } from './store/sqlite-store.ts';
export {
  clearTaskInstances,
  createBackfill,
  deleteDag,
  setDagPaused,
  listBackfills,
  OperationError,
  type ClearOptions,
  type ClearResult,
  type BackfillOptions,
  type BackfillResult,
} from './scheduler/operations.ts';
export { createApiClient, ApiError, type ApiClient } from './api/client.ts';
// Variables, connections and secrets (ctx.variables, ctx.connections).
export { Connection } from './secrets/connection.ts';
export { VariableNotFoundError, ConnectionNotFoundError, InvalidSecretError } from './secrets/errors.ts';
export { parseConnectionUri, connectionUri } from './secrets/connection-uri.ts';
export type { VariablesApi, ConnectionsApi } from './secrets/lookup.ts';
export type { VariableRecord, ConnectionRecord } from './secrets/records.ts';
export type { SecretsBackendKind, SecretsBackendOptions } from './secrets/backends.ts';
