/**
 * The states every task lifecycle shares: turning a failed invocation into a failed try, reporting the
 * try to the scheduler, and carrying out the scheduler's reply (run / wait then timer / done).
 */
import type { Catcher, PayloadTemplate } from './asl-types.ts';
import { idempotentHandlerRetry, invokeLambda } from './integrations.ts';
import type { StateGraph } from './state-graph.ts';
import { choiceState, failState, passState, succeedState, waitState } from './states.ts';

/** State ids, shared by the lifecycles so that every compiled machine reads the same way. */
export const STATE = {
  runTry: 'RunTry',
  prepare: 'Prepare',
  checkPrepared: 'CheckPrepared',
  submit: 'Submit',
  startJob: 'StartJob',
  items: 'Items',
  runItem: 'RunItem',
  itemFailed: 'ItemFailed',
  itemsFromS3: 'ItemsFromS3',
  runS3Item: 'RunS3Item',
  s3ItemFailed: 'S3ItemFailed',
  groups: 'Groups',
  noJob: 'NoJob',
  waitPoll: 'WaitPoll',
  poll: 'Poll',
  pollDone: 'PollDone',
  polled: 'Polled',
  complete: 'Complete',
  tryFailed: 'TryFailed',
  report: 'Report',
  decide: 'Decide',
  nextTry: 'NextTry',
  waitUntil: 'WaitUntil',
  timer: 'Timer',
  done: 'Done',
  unknownAction: 'UnknownAction',
} as const;

/** The error name of the Fail state reached when the scheduler replies with an unknown action. */
export const CONTRACT_ERROR = 'AirlessContractError';

/** Catchers of a step of a try: any error goes to `TryFailed`, landing at `$.error`. */
export function tryCatchers(): Catcher[] {
  return [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.tryFailed }];
}

/**
 * `TryFailed`: a Pass that writes a failed TryResult at `$.try.result`, retriable (the scheduler still
 * applies the task's retries), then reports it. (A try's executionTimeout is the task runner's and Batch's
 * to enforce, so no step of a try has a `TimeoutSeconds` of its own.)
 */
export function addTryFailureStates(graph: StateGraph): void {
  graph.add(
    STATE.tryFailed,
    passState({
      comment: 'The invocation failed: the try failed with "<Error>: <Cause>"',
      parameters: {
        result: {
          kind: 'failure',
          'error.$': "States.Format('{}: {}', $.error.Error, $.error.Cause)",
          retriable: true,
        },
      },
      resultPath: '$.try',
      next: STATE.report,
    }),
  );
}

/**
 * `Report` alone, ending the execution: for the machines whose steps report their own try in the same
 * invocation (`run`, `batch_complete`, `iterate_complete`), this reports only a try whose invocation
 * failed; whatever comes next (a retry after its delay, the next try) starts in a new execution, so the
 * scheduler's reply is not read.
 */
export function addFinalReport(graph: StateGraph, schedulerArn: string): void {
  graph.add(
    STATE.report,
    invokeLambda({
      comment: 'Tell the scheduler the try failed; whatever comes next starts in a new execution',
      functionName: schedulerArn,
      payload: TRY_FINISHED_REPORT.payload,
      resultPath: null,
      retry: [idempotentHandlerRetry()],
      next: null,
    }),
  );
}

/** What `Report` tells the scheduler: a try's result (every task lifecycle), or an array wave's job. */
export interface SchedulerReport {
  comment: string;
  payload: PayloadTemplate;
}

/** The `try_finished` report of a task lifecycle: the try's result at `$.try.result`. */
export const TRY_FINISHED_REPORT: SchedulerReport = {
  comment: 'Tell the scheduler how the try ended; it replies what to do next',
  payload: { type: 'try_finished', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'result.$': '$.try.result' },
};

/**
 * `Report` → `Decide` and what follows: `run` sets `$.tryNumber` and goes to `runState` (the first state
 * of a try); `wait` waits until `$.scheduler.next.at`, sends the event back (`Timer`) and decides again;
 * `done` succeeds (with `doneOutputPath` as the output, when given); anything else fails with
 * {@link CONTRACT_ERROR}. `report` is what `Report` sends (default: a task's `try_finished`).
 */
export function addSchedulerLoop(
  graph: StateGraph,
  schedulerArn: string,
  runState: string,
  options: { report?: SchedulerReport; doneOutputPath?: string } = {},
): void {
  const reply = { 'next.$': '$.Payload' };
  const report = options.report ?? TRY_FINISHED_REPORT;
  graph.add(
    STATE.report,
    invokeLambda({
      comment: report.comment,
      functionName: schedulerArn,
      payload: report.payload,
      resultSelector: reply,
      resultPath: '$.scheduler',
      retry: [idempotentHandlerRetry()],
      next: STATE.decide,
    }),
  );
  graph.add(
    STATE.decide,
    choiceState({
      comment: "Carry out the scheduler's reply",
      choices: [
        { Variable: '$.scheduler.next.action', StringEquals: 'run', Next: STATE.nextTry },
        { Variable: '$.scheduler.next.action', StringEquals: 'wait', Next: STATE.waitUntil },
        { Variable: '$.scheduler.next.action', StringEquals: 'done', Next: STATE.done },
      ],
      default: STATE.unknownAction,
    }),
  );
  graph.add(
    STATE.nextTry,
    passState({
      comment: 'Run the try the scheduler named',
      inputPath: '$.scheduler.next.tryNumber',
      resultPath: '$.tryNumber',
      next: runState,
    }),
  );
  graph.add(
    STATE.waitUntil,
    waitState({ comment: 'Wait until the time the scheduler computed', for: { timestampPath: '$.scheduler.next.at' }, next: STATE.timer }),
  );
  graph.add(
    STATE.timer,
    invokeLambda({
      comment: 'The time has come: hand the event back to the scheduler',
      functionName: schedulerArn,
      payload: { type: 'timer', 'event.$': '$.scheduler.next.event' },
      resultSelector: reply,
      resultPath: '$.scheduler',
      retry: [idempotentHandlerRetry()],
      next: STATE.decide,
    }),
  );
  graph.add(STATE.done, succeedState(options.doneOutputPath !== undefined ? { outputPath: options.doneOutputPath } : {}));
  graph.add(
    STATE.unknownAction,
    failState({ error: CONTRACT_ERROR, cause: "the scheduler's reply has no action run, wait or done" }),
  );
}

/**
 * The two states that open a Batch or an iteration try: `Prepare` (the task runner's `mode`, whose reply
 * `{ <field>..., result }` goes to `$.try`) and `CheckPrepared`. With one field, `CheckPrepared` reports
 * the runner's result when there is nothing to do (the field null) and goes on to `next` otherwise.
 * With several (`routes`), it goes to the first route whose field is not null, and reports otherwise.
 */
export function addPrepareStates(
  graph: StateGraph,
  o: { taskRunnerArn: string; mode: 'batch_prepare' | 'iterate_prepare'; prepareComment: string; checkComment: string } & (
    | { field: 'submit' | 'items'; next: string }
    | { routes: { field: 'items' | 'itemsObject'; next: string }[] }
  ),
): void {
  // Nothing to do (the runner reported the try's result itself, or the try is not running here): done.
  const fields = 'routes' in o ? o.routes.map((r) => r.field) : [o.field];
  graph.add(
    STATE.prepare,
    invokeLambda({
      comment: o.prepareComment,
      functionName: o.taskRunnerArn,
      payload: { mode: o.mode, 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' },
      resultSelector: Object.fromEntries(fields.map((f) => [`${f}.$`, `$.Payload.${f}`])),
      resultPath: '$.try',
      catch: tryCatchers(),
      next: STATE.checkPrepared,
    }),
  );
  graph.add(
    STATE.checkPrepared,
    'routes' in o
      ? choiceState({
          comment: o.checkComment,
          // `Not IsNull` rather than `IsNull: false`, which aws-local-stepfunctions never matches.
          choices: o.routes.map((r) => ({ Not: { Variable: `$.try.${r.field}`, IsNull: true }, Next: r.next })),
          default: STATE.done,
        })
      : choiceState({
          comment: o.checkComment,
          choices: [{ Variable: `$.try.${o.field}`, IsNull: true, Next: STATE.done }],
          default: o.next,
        }),
  );
  graph.add(STATE.done, succeedState());
}

