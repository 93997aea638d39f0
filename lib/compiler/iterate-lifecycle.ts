import type { IterateSpec, TaskSpec } from '../model/spec.ts';
import type { ProcessorConfig } from './asl-types.ts';
import { invokeLambda } from './integrations.ts';
import { addPrepareStates, addSchedulerLoop, addTryFailureStates, STATE, timeoutSeconds, tryCatchers } from './lifecycle-states.ts';
import type { StateGraph } from './state-graph.ts';
import { mapState, passState } from './states.ts';

/** Seconds before an item's first retry; each further retry waits twice as long, at most a minute. */
export const ITEM_RETRY_INTERVAL_SECONDS = 1;
export const ITEM_RETRY_MAX_DELAY_SECONDS = 60;

/**
 * An iteration try: `Prepare` (task runner `iterate_prepare` → the item indexes still to run, or a result)
 * → `CheckPrepared` → `Items` (a Map state over `$.try.items`, `MaxConcurrency` = concurrency; each
 * iteration invokes the task runner `item` with a Retry of `itemRetries` on `States.TaskFailed`, not on
 * `NonRetriableError`, and a Catch that records the failure instead of failing the Map) → `Complete`
 * (task runner `iterate_complete` → the TryResult: the items without a result fail the try) → `Report`
 * and the scheduler loop, whose `run` starts at `Prepare` (items done in earlier tries are not rerun).
 * executionTimeout bounds each item (`TimeoutSeconds` on `RunItem`). Returns the first state's id.
 */
export function buildIterateLifecycle(
  graph: StateGraph,
  spec: TaskSpec & { iterate: IterateSpec },
  taskRunnerArn: string,
  schedulerArn: string,
  mode: 'inline' | 'distributed',
): string {
  const timeout = timeoutSeconds(spec.executionTimeoutMs);
  const item = graph.nested();
  item.add(
    STATE.runItem,
    invokeLambda({
      comment: 'Run one item; throws when it fails',
      functionName: taskRunnerArn,
      payload: { mode: 'item', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'index.$': '$.index' },
      timeoutSeconds: timeout,
      resultPath: null,
      outputPath: '$.index',
      retry: [
        { ErrorEquals: ['NonRetriableError'], MaxAttempts: 0 },
        {
          ErrorEquals: ['States.TaskFailed'],
          IntervalSeconds: ITEM_RETRY_INTERVAL_SECONDS,
          MaxAttempts: spec.iterate.itemRetries,
          BackoffRate: 2,
          MaxDelaySeconds: ITEM_RETRY_MAX_DELAY_SECONDS,
        },
      ],
      catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.itemFailed }],
      next: null,
    }),
  );
  item.add(
    STATE.itemFailed,
    passState({
      comment: 'The item failed for good: record it and let the other items run',
      parameters: { 'index.$': '$.index', 'error.$': '$.error.Error' },
      next: null,
    }),
  );
  const processorConfig: ProcessorConfig = mode === 'inline' ? { Mode: 'INLINE' } : { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' };

  addPrepareStates(graph, {
    taskRunnerArn,
    mode: 'iterate_prepare',
    field: 'items',
    prepareComment: 'List the items this try still has to run',
    checkComment: 'No items to run: report the result the runner gave',
    next: STATE.items,
  });

  graph.add(
    STATE.items,
    mapState({
      comment: 'Run the items, at most `concurrency` at once',
      itemsPath: '$.try.items',
      itemSelector: { 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'index.$': '$$.Map.Item.Value' },
      maxConcurrency: spec.iterate.concurrency,
      itemProcessor: { ProcessorConfig: processorConfig, ...item.render(STATE.runItem) },
      resultPath: null,
      catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.tryFailed }],
      next: STATE.complete,
    }),
  );
  graph.add(
    STATE.complete,
    invokeLambda({
      comment: 'Collect the items: the try succeeds when every item has a result',
      functionName: taskRunnerArn,
      payload: { mode: 'iterate_complete', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' },
      resultSelector: { 'result.$': '$.Payload' },
      resultPath: '$.try',
      catch: tryCatchers(null),
      next: STATE.report,
    }),
  );
  addTryFailureStates(graph, null);
  addSchedulerLoop(graph, schedulerArn, STATE.prepare);
  return STATE.prepare;
}
