import type { IterateSpec, TaskSpec } from '../model/spec.ts';
import type { ProcessorConfig } from './asl-types.ts';
import { invokeLambda, mapTask, S3_GET_OBJECT, S3_PUT_OBJECT } from './integrations.ts';
import { addPrepareStates, addSchedulerLoop, addTryFailureStates, STATE, timeoutSeconds, tryCatchers } from './lifecycle-states.ts';
import type { StateGraph } from './state-graph.ts';
import { passState } from './states.ts';

/** Seconds before an item's first retry; each further retry waits twice as long, at most a minute. */
export const ITEM_RETRY_INTERVAL_SECONDS = 1;
export const ITEM_RETRY_MAX_DELAY_SECONDS = 60;

/**
 * The longest an item may take to run in an Express child execution: `EXPRESS_MAX_TRY_SECONDS`
 * (workflow-type.ts, which this file cannot import without a cycle) of Express's 300 s.
 */
export const ITEM_EXPRESS_MAX_SECONDS = 120;

/**
 * The longest one item can take in its child execution: every attempt (`itemRetries` + 1) at the
 * executionTimeout, with the retry delays between them. Null without an executionTimeout.
 */
export function itemWorstSeconds(spec: TaskSpec & { iterate: IterateSpec }): number | null {
  const timeout = timeoutSeconds(spec.executionTimeoutMs);
  if (timeout === null) return null;
  let delays = 0;
  for (let k = 0; k < spec.iterate.itemRetries; k++) delays += Math.min(ITEM_RETRY_INTERVAL_SECONDS * 2 ** k, ITEM_RETRY_MAX_DELAY_SECONDS);
  return (spec.iterate.itemRetries + 1) * timeout + delays;
}

/**
 * The child executions of an iteration's Distributed Map. EXPRESS when an item's worst case
 * ({@link itemWorstSeconds}) is within {@link ITEM_EXPRESS_MAX_SECONDS} of an Express execution's 5
 * minutes, the rest left to the Lambda service's retries: $1.00 per million executions plus duration, about
 * $0.12 per 100,000 short items, where a Standard child costs its transitions (about 3 at $0.025 per 1,000:
 * $7.50 per 100,000). An Express child runs at least once: an item may run twice (its result is written
 * again). Otherwise STANDARD (no executionTimeout: an item may run for Lambda's 15 minutes).
 */
export function itemExecutionType(spec: TaskSpec & { iterate: IterateSpec }): 'STANDARD' | 'EXPRESS' {
  const worst = itemWorstSeconds(spec);
  return worst !== null && worst <= ITEM_EXPRESS_MAX_SECONDS ? 'EXPRESS' : 'STANDARD';
}

/**
 * The states of one item (an iteration of a Map): `run` invokes the task runner `item` with a Retry of
 * `itemRetries` on `States.TaskFailed`, not on `NonRetriableError`, and a Catch that records the failure
 * (`failed`) instead of failing the Map.
 */
function itemStates(graph: StateGraph, spec: TaskSpec & { iterate: IterateSpec }, taskRunnerArn: string, ids: { run: string; failed: string }): StateGraph {
  const timeout = timeoutSeconds(spec.executionTimeoutMs);
  const item = graph.nested();
  item.add(
    ids.run,
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
      catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: ids.failed }],
      next: null,
    }),
  );
  item.add(
    ids.failed,
    passState({
      comment: 'The item failed for good: record it and let the other items run',
      parameters: { 'index.$': '$.index', 'error.$': '$.error.Error' },
      next: null,
    }),
  );
  return item;
}

/** An item's input: the instance, the try and the item index (the Map item's value). */
const ITEM_SELECTOR = { 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'index.$': '$$.Map.Item.Value' };

/**
 * An iteration try: `Prepare` (task runner `iterate_prepare` → the item indexes still to run, inline or
 * in S3, or a result) → `CheckPrepared` → `Items` (a Map state over `$.try.items`, `MaxConcurrency` =
 * concurrency; each iteration invokes the task runner `item` with a Retry of `itemRetries` on
 * `States.TaskFailed`, not on `NonRetriableError`, and a Catch that records the failure instead of
 * failing the Map) → `Complete` (task runner `iterate_complete` → the TryResult: the items without a
 * result fail the try) → `Report` and the scheduler loop, whose `run` starts at `Prepare` (items done in
 * earlier tries are not rerun). executionTimeout bounds each item (`TimeoutSeconds` on `RunItem`).
 *
 * A list of indexes too long for the state (`itemsObject`: a JSON array in S3, see
 * `ITEMS_INLINE_MAX_BYTES`) goes to `ItemsFromS3` instead: a Distributed Map whose `ItemReader` reads the
 * list, running the same item states (`RunS3Item`, `S3ItemFailed`) as child executions (Express when an
 * item's worst case fits, {@link itemExecutionType}) with the same `ItemSelector` and `MaxConcurrency`, and whose `ResultWriter` writes the children's outputs
 * under `itemsObject.ResultsPrefix` in S3: the Map's result is only the manifest's location (kept at
 * `$.try.results`), never the item outputs (each item's result is stored by the `item` handler anyway).
 * Returns the first state's id.
 */
export function buildIterateLifecycle(
  graph: StateGraph,
  spec: TaskSpec & { iterate: IterateSpec },
  taskRunnerArn: string,
  schedulerArn: string,
  mode: 'inline' | 'distributed',
): string {
  const item = itemStates(graph, spec, taskRunnerArn, { run: STATE.runItem, failed: STATE.itemFailed });
  const s3Item = itemStates(graph, spec, taskRunnerArn, { run: STATE.runS3Item, failed: STATE.s3ItemFailed });
  const distributed: ProcessorConfig = { Mode: 'DISTRIBUTED', ExecutionType: itemExecutionType(spec) };
  const processorConfig: ProcessorConfig = mode === 'inline' ? { Mode: 'INLINE' } : distributed;

  addPrepareStates(graph, {
    taskRunnerArn,
    mode: 'iterate_prepare',
    prepareComment: 'List the items this try still has to run',
    checkComment: 'Run the items listed inline, or those listed in S3; none: report the result the runner gave',
    routes: [
      { field: 'items', next: STATE.items },
      { field: 'itemsObject', next: STATE.itemsFromS3 },
    ],
  });

  graph.add(
    STATE.items,
    mapTask({
      comment: 'Run the items, at most `concurrency` at once',
      items: { path: '$.try.items' },
      itemSelector: ITEM_SELECTOR,
      maxConcurrency: spec.iterate.concurrency,
      itemProcessor: { ProcessorConfig: processorConfig, ...item.render(STATE.runItem) },
      resultPath: null,
      catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.tryFailed }],
      next: STATE.complete,
    }),
  );
  graph.add(
    STATE.itemsFromS3,
    mapTask({
      comment: 'Run the items listed in S3 (too many for the state) as child executions, at most `concurrency` at once',
      items: {
        reader: {
          Resource: S3_GET_OBJECT,
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { 'Bucket.$': '$.try.itemsObject.Bucket', 'Key.$': '$.try.itemsObject.Key' },
        },
      },
      itemSelector: ITEM_SELECTOR,
      maxConcurrency: spec.iterate.concurrency,
      itemProcessor: { ProcessorConfig: distributed, ...s3Item.render(STATE.runS3Item) },
      resultWriter: { Resource: S3_PUT_OBJECT, Parameters: { 'Bucket.$': '$.try.itemsObject.Bucket', 'Prefix.$': '$.try.itemsObject.ResultsPrefix' } },
      resultSelector: { 'manifest.$': '$.ResultWriterDetails' },
      resultPath: '$.try.results',
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
