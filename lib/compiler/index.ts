// The compiler from task specs to Amazon States Language: what the CDK constructs embed.
export {
  compileDag,
  compileLifecycleMachine,
  compileLifecycleMachines,
  deployedMachines,
  lifecycleSettings,
  taskLifecycle,
  type CompiledMachine,
  type LifecycleSettings,
  type TaskLifecycle,
} from './compile.ts';
export { compileBatchWatcher, type BatchWatcherOptions, type CompiledBatchWatcher } from './batch-watcher.ts';
export { DEFAULT_BATCH_WATCH_INTERVAL_SECONDS, type CompileOptions } from './compile-options.ts';
export { ARRAY_FINISHED_REPORT, arrayMaxConcurrency, DISTRIBUTED_MAP_MAX_CONCURRENCY } from './array-lifecycle.ts';
export { buildPartitionsMachine, PARTITIONS_PER_EXECUTION, type PartitionsInput, type PartitionsInstance } from './partitions-lifecycle.ts';
export { lifecycleOf, type LifecycleKind } from './lifecycle-kind.ts';
export {
  chooseWorkflowType,
  estimateHistoryEvents,
  HISTORY_EVENT_LIMIT,
  LIFECYCLE_MACHINES,
  MACHINE_WORKFLOW_TYPE,
  machineOf,
  type LifecycleMachine,
  type WorkflowTypeChoice,
} from './workflow-type.ts';
export { AslCompileError } from './compile-error.ts';
export { KIND_COMPILERS, kindCompiler, type KindCompiler, type KindCompilers } from './kinds/index.ts';
export { accountArn, mergeStatements, STATE_MACHINE_NAME, type DeploymentResources, type PolicyResource, type PolicyStatement } from './iam.ts';
export { PARTITION, withPartition } from './integrations.ts';
export { StateGraph } from './state-graph.ts';
export type { AslState, StateMachineDefinition } from './asl-types.ts';
export * from './contract.ts';
