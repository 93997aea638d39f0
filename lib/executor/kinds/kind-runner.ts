import type { Dag } from '../../authoring/dag.ts';
import type { TaskContext } from '../../authoring/context.ts';
import type { InputTemplate, MappingSpec, TaskKind, TaskSpec, TaskSpecOf } from '../../model/spec.ts';
import type { TryResult } from '../../core/events.ts';
import type { TriggerRequest } from '../trigger-request.ts';
import type { DagRunRecord, TaskInstanceRecord } from '../../store/records.ts';
import type { StateStore } from '../../store/state-store.ts';
import type { BatchBackend } from '../batch-backend.ts';
import type { ResolvedMapping } from '../resolve.ts';
import type { LogWriter } from '../task-context.ts';

/** One try of a task of spec `S`, its instance running. */
export interface TryOf<S extends TaskSpec> {
  dag: Dag;
  run: DagRunRecord;
  spec: S;
  ti: TaskInstanceRecord;
}

/**
 * What a kind's try uses of the task runner, bound to the try. Store calls through `io`, input
 * resolution and `triggerRun` fail as a `TryInfrastructureError` when the store (not the task) is at
 * fault; any other error a kind throws is the try's failure (or skip, see `tryFailure`).
 */
export interface TryTools {
  /** The runner's store: each call retried while it fails transiently. */
  readonly io: StateStore;
  readonly batch: BatchBackend;
  now(): number;
  write: LogWriter;
  triggerRun(req: TriggerRequest): Promise<DagRunRecord>;
  /** The instance's input: its item when mapped, else its resolved input (undefined without one). */
  input(): Promise<unknown>;
  resolve(template: InputTemplate): Promise<unknown>;
  mappingLists(mapping: MappingSpec): Promise<ResolvedMapping>;
  /**
   * Run `fn` (which calls the task's code) under the task's executionTimeout and the try's cancel
   * signal, marking that the task's code has started.
   */
  underTimeout<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** The context the task's code gets (`item` for an item of an iteration). */
  context(signal: AbortSignal, item: TaskContext['item']): TaskContext;
  /** The task's code; throws when the DAG has none for it. */
  callable(): (ctx: TaskContext, input: unknown) => unknown;
  /** Store the try's result as its `return_value` XCom (checked to be plain JSON; undefined is null). */
  storeResult(value: unknown): Promise<void>;
}

/** How the tries of one kind run (one module per kind in this folder; the table is `index.ts`). */
export interface KindRunner<S extends TaskSpec> {
  /** Whether a try runs the task's own code (what try isolation is for). */
  readonly runsCode: boolean;
  runTry(t: TryOf<S>, tools: TryTools): Promise<TryResult>;
}

/** One runner per kind: a kind added to `TaskKind` does not compile until it has one. */
export type KindRunners = { readonly [K in TaskKind]: KindRunner<TaskSpecOf<K>> };

/** Call the task's code once with the instance's input, under its executionTimeout. */
export async function callCode(tools: TryTools): Promise<unknown> {
  const input = await tools.input();
  const fn = tools.callable();
  return tools.underTimeout((signal) => Promise.resolve(fn(tools.context(signal, null), input)));
}
