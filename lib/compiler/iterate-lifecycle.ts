import type { ProcessorConfig } from './asl-types.ts';
import { invokeLambda, mapTask, S3_GET_OBJECT, S3_PUT_OBJECT } from './integrations.ts';
import { addFinalReport, addPrepareStates, addTryFailureStates, STATE, tryCatchers } from './lifecycle-states.ts';
import type { StateGraph } from './state-graph.ts';
import { choiceState, passState, waitState } from './states.ts';

/** Seconds before an item's first retry; each further retry waits twice as long, at most a minute. */
export const ITEM_RETRY_INTERVAL_SECONDS = 1;
export const ITEM_RETRY_MAX_DELAY_SECONDS = 60;

/** The exponential backoff of an item's retries: `itemRetries` delays in seconds (1, 2, 4, ... at most 60). */
export function itemRetryDelays(itemRetries: number): number[] {
  return Array.from({ length: itemRetries }, (_, i) => Math.min(ITEM_RETRY_INTERVAL_SECONDS * 2 ** i, ITEM_RETRY_MAX_DELAY_SECONDS));
}

/** Id suffixes of one item's states (the inline Map's and the S3 Map's items have their own ids). */
interface ItemIds {
  run: string;
  failed: string;
  canRetry: string;
  nextAttempt: string;
  waitRetry: string;
}

/**
 * The states of one item (an iteration of a Map): `run` invokes the task runner `item`; a failure other
 * than `NonRetriableError` or the item's timeout is retried while `attempt` is under the task's
 * `itemRetries` (`canRetry`), after the delay `itemRetryDelays[attempt]` (`nextAttempt` counts the
 * attempt and picks the delay, `waitRetry` waits it): the retries are data of the item's input, so one
 * machine serves every iterated task. A failure for good is recorded (`failed`) instead of failing the Map.
 */
function itemStates(graph: StateGraph, taskRunnerArn: string, ids: ItemIds): StateGraph {
  const item = graph.nested();
  item.add(
    ids.run,
    invokeLambda({
      comment: 'Run one item; throws when it fails',
      functionName: taskRunnerArn,
      payload: { mode: 'item', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'index.$': '$.index' },
      resultPath: null,
      outputPath: '$.index',
      catch: [
        { ErrorEquals: ['NonRetriableError', 'States.Timeout'], ResultPath: '$.error', Next: ids.failed },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: ids.canRetry },
      ],
      next: null,
    }),
  );
  item.add(
    ids.canRetry,
    choiceState({
      comment: 'Retry the item while it has retries left',
      choices: [{ Variable: '$.attempt', NumericLessThanPath: '$.itemRetries', Next: ids.nextAttempt }],
      default: ids.failed,
    }),
  );
  item.add(
    ids.nextAttempt,
    passState({
      comment: 'Count the attempt and take its delay',
      parameters: {
        'key.$': '$.key',
        'tryNumber.$': '$.tryNumber',
        'index.$': '$.index',
        'itemRetries.$': '$.itemRetries',
        'itemRetryDelays.$': '$.itemRetryDelays',
        'attempt.$': 'States.MathAdd($.attempt, 1)',
        'delay.$': 'States.ArrayGetItem($.itemRetryDelays, $.attempt)',
      },
      next: ids.waitRetry,
    }),
  );
  item.add(ids.waitRetry, waitState({ comment: "Wait the retry's delay", for: { secondsPath: '$.delay' }, next: ids.run }));
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

/** An item's input: the instance, the try, the item index (the Map item's value) and the task's item settings. */
const ITEM_SELECTOR = {
  'key.$': '$.key',
  'tryNumber.$': '$.tryNumber',
  'index.$': '$$.Map.Item.Value',
  'itemRetries.$': '$.settings.itemRetries',
  'itemRetryDelays.$': '$.settings.itemRetryDelays',
  attempt: 0,
};

/**
 * The `iterate` machine (Standard), shared by every iterated task: `Prepare` (task runner
 * `iterate_prepare` → the item indexes still to run, inline or in S3; nothing to run: the runner has
 * reported the try) → `CheckPrepared` → `Items` (a Map state over `$.try.items`, `MaxConcurrencyPath` the
 * task's concurrency, each iteration the item states above) → `Complete` (task runner
 * `iterate_complete`: the try's result, the items without a result failing it, reported to the scheduler
 * in the same invocation) → end. A retry of the try is a new execution (items done in earlier tries are
 * not rerun). The task runner bounds each item by the task's executionTimeout, in its invocation.
 *
 * A list of indexes too long for the state or for the execution's history (`itemsObject`: a JSON array in
 * S3, see `ITEMS_INLINE_MAX_BYTES`) goes to `ItemsFromS3` instead: a Distributed Map whose `ItemReader`
 * reads the list, running the same item states as child Standard executions with the same
 * `ItemSelector` and concurrency, and whose `ResultWriter` writes the children's outputs under
 * `itemsObject.ResultsPrefix` in S3: the Map's result is only the manifest's location (kept at
 * `$.try.results`), never the item outputs (each item's result is stored by the `item` handler anyway).
 * Returns the first state's id.
 */
export function buildIterateMachine(graph: StateGraph, taskRunnerArn: string, schedulerArn: string, mode: 'inline' | 'distributed'): string {
  const item = itemStates(graph, taskRunnerArn, { run: STATE.runItem, failed: STATE.itemFailed, canRetry: 'CanRetryItem', nextAttempt: 'NextItemAttempt', waitRetry: 'WaitItemRetry' });
  const s3Item = itemStates(graph, taskRunnerArn, { run: STATE.runS3Item, failed: STATE.s3ItemFailed, canRetry: 'CanRetryS3Item', nextAttempt: 'NextS3ItemAttempt', waitRetry: 'WaitS3ItemRetry' });
  const distributed: ProcessorConfig = { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' };
  const processorConfig: ProcessorConfig = mode === 'inline' ? { Mode: 'INLINE' } : distributed;
  const concurrency = { path: '$.settings.concurrency' };

  addPrepareStates(graph, {
    taskRunnerArn,
    mode: 'iterate_prepare',
    prepareComment: 'List the items this try still has to run',
    checkComment: 'Run the items listed inline, or those listed in S3; none (the runner reported the try): done',
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
      maxConcurrency: concurrency,
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
      maxConcurrency: concurrency,
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
      comment: 'Collect the items and report the try: it succeeds when every item has a result',
      functionName: taskRunnerArn,
      payload: { mode: 'iterate_complete', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' },
      resultPath: null,
      catch: tryCatchers(),
      next: null,
    }),
  );
  addTryFailureStates(graph);
  addFinalReport(graph, schedulerArn);
  return STATE.prepare;
}
