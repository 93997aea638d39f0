import { invokeLambda, invokeLambdaWaitForTaskToken } from './integrations.ts';
import { addFinalReport, addTryFailureStates, STATE, tryCatchers } from './lifecycle-states.ts';
import type { StateGraph } from './state-graph.ts';
import { choiceState, succeedState } from './states.ts';

/**
 * The longest a `hitl` execution waits for an answer, seconds: a Standard execution lasts at most a year
 * (365 days), and the steps before and after the wait need a little of it (their Lambda service retries
 * take minutes at worst), so the wait ends an hour earlier. A request without a timeout waits this long,
 * then fails as a timeout without defaults does; one whose timeout is later (the authoring allows 365
 * days) is capped to it.
 */
export const HITL_MAX_WAIT_SECONDS = 365 * 24 * 3600 - 3600;

/** State ids of the `hitl` machine (beside the shared ones of lifecycle-states.ts). */
export const HITL_STATE = {
  waitForAnswer: 'WaitForAnswer',
  timedOut: 'TimedOut',
} as const;

/**
 * The `hitl` machine (Standard), the lifecycle of a human-in-the-loop task (`approval`, `hitlChoice`,
 * `hitlForm`): `Prepare` (task runner `hitl_prepare`: the try runs, writing its request and deferring
 * the instance; it replies `{ wait: { timeoutSeconds } }`, or `wait: null` when the try ended there, the
 * runner having reported it) → `CheckPrepared` → `WaitForAnswer` (`lambda:invoke.waitForTaskToken`: the
 * task runner's `hitl_token` stores the state's token on the request; whoever answers sends it back with
 * `SendTaskSuccess`, and the execution waits meanwhile holding no Lambda, its timeout from
 * `$.try.wait.timeoutSeconds`) → `Complete` (`hitl_complete`: the deferred try resumes and succeeds with
 * the answer, reported in the same invocation); `States.Timeout` → `TimedOut` (`hitl_timeout`: the
 * request's defaults are taken, or the try fails). A failed invocation goes `TryFailed` → `Report`.
 * Returns the first state's id.
 */
export function buildHitlMachine(graph: StateGraph, taskRunnerArn: string, schedulerArn: string): string {
  const key = { 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' };
  graph.add(
    STATE.prepare,
    invokeLambda({
      comment: 'Run the try: write the request, defer the instance; the reply says how long to wait for an answer',
      functionName: taskRunnerArn,
      payload: { mode: 'hitl_prepare', ...key },
      resultSelector: { 'wait.$': '$.Payload.wait' },
      resultPath: '$.try',
      catch: tryCatchers(),
      next: STATE.checkPrepared,
    }),
  );
  graph.add(
    STATE.checkPrepared,
    choiceState({
      comment: 'Nothing to wait for (the runner reported the try): done',
      choices: [{ Variable: '$.try.wait', IsNull: true, Next: STATE.done }],
      default: HITL_STATE.waitForAnswer,
    }),
  );
  graph.add(STATE.done, succeedState());
  graph.add(
    HITL_STATE.waitForAnswer,
    invokeLambdaWaitForTaskToken({
      comment: 'Store this state\'s task token on the request, then wait (holding nothing) until the answer sends it back',
      functionName: taskRunnerArn,
      payload: { mode: 'hitl_token', ...key, 'token.$': '$$.Task.Token' },
      timeoutSecondsPath: '$.try.wait.timeoutSeconds',
      resultPath: '$.answer',
      catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: null, Next: HITL_STATE.timedOut }, ...tryCatchers()],
      next: STATE.complete,
    }),
  );
  graph.add(
    STATE.complete,
    invokeLambda({
      comment: 'The answer came: the try succeeds with it, reported',
      functionName: taskRunnerArn,
      payload: { mode: 'hitl_complete', ...key },
      resultPath: null,
      catch: tryCatchers(),
      next: null,
    }),
  );
  graph.add(
    HITL_STATE.timedOut,
    invokeLambda({
      comment: 'Nobody answered in time: the defaults are taken, or the try fails, reported',
      functionName: taskRunnerArn,
      payload: { mode: 'hitl_timeout', ...key },
      resultPath: null,
      catch: tryCatchers(),
      next: null,
    }),
  );
  addTryFailureStates(graph);
  addFinalReport(graph, schedulerArn);
  return STATE.prepare;
}
