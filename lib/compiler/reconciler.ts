import type { StateMachineDefinition } from './asl-types.ts';
import { AslCompileError } from './compile-error.ts';
import type { PolicyStatement } from './iam.ts';
import { idempotentHandlerRetry, invokeLambda, startOwnExecution } from './integrations.ts';
import { StateGraph } from './state-graph.ts';
import { choiceState, succeedState, waitState } from './states.ts';
import type { WorkflowTypeChoice } from './workflow-type.ts';

/** Seconds between two rounds of the reconciler, unless the deployment says otherwise. */
export const DEFAULT_RECONCILE_INTERVAL_SECONDS = 300;

/**
 * Rounds one reconciler execution does before it continues as new. A round is about 9 history events
 * (Wait 2, Task 5, Choice 2); each retry of the invocation adds about 4, and the invocation is retried at
 * most 8 times (Lambda service errors 6, handler errors 2): at most about 45 events a round, so 500 rounds
 * stay under Standard's 25,000-event history limit even if every round were retried to the end.
 */
export const RECONCILER_ROUNDS_PER_EXECUTION = 500;

/** What a reconciler execution carries from round to round (its input is `{ loop }`). */
export interface ReconcilerLoop {
  /** The arming this loop serves (the flag's epoch): a loop whose epoch is no longer the flag's ends. */
  epoch: number;
  /** When that arming happened (ms since the epoch): with the epoch, it names the loop's executions. */
  armedAt: number;
  /**
   * The flag's arm counter as this loop last saw it (the arming host saw it first). The loop ends only
   * when a round finds no active run and the counter where it was a whole interval before.
   */
  seq: number;
  /** Executions of this loop before this one (each continues as new after {@link RECONCILER_ROUNDS_PER_EXECUTION} rounds). */
  generation: number;
  /** Rounds this execution has done. */
  round: number;
  /** Seconds between two rounds. */
  intervalSeconds: number;
}

/** The input of a reconciler execution. */
export interface ReconcilerInput {
  loop: ReconcilerLoop;
}

/** The scheduler's reply to a round (`{type: 'reconcile', loop}`). */
export interface ReconcilerReply {
  /** The loop state for the next round (for `continue_as_new`: the next execution's). */
  loop: ReconcilerLoop;
  /** `sleep`: another round; `continue_as_new`: the next round in a fresh execution named `name`; `done`: the loop ends. */
  next: 'sleep' | 'continue_as_new' | 'done';
  /** The next execution's name (`continue_as_new`), else null. */
  name: string | null;
  /** Queued or running runs this round found (and reconciled). */
  activeRuns: number;
  /** Why the loop ends (`done`), else null. */
  reason: string | null;
}

/**
 * The name of a reconciler execution: `e<epoch>-<armedAt>` for the first, `-g<generation>` appended for
 * each continuation. Deterministic, so starting the same one twice is one execution; the arming time keeps
 * a table that starts over (epoch 1 again) from colliding with executions of an earlier one.
 */
export function reconcilerExecutionName(loop: Pick<ReconcilerLoop, 'epoch' | 'armedAt' | 'generation'>): string {
  return `e${loop.epoch}-${loop.armedAt}${loop.generation > 0 ? `-g${loop.generation}` : ''}`;
}

export interface ReconcilerOptions {
  /** ARN (or a placeholder) of the scheduler function, which reconciles the active runs each round. */
  schedulerArn: string;
}

export interface CompiledReconciler {
  workflowType: WorkflowTypeChoice;
  definition: StateMachineDefinition;
  /** What its role needs (iam.ts): invoke the scheduler, start an execution of itself. */
  statements: PolicyStatement[];
}

/**
 * The reconciler: the loop that repairs what lost events left behind, running only while runs are active.
 * A host that makes a run active arms it (lib/aws/reconciler.ts) and starts an execution when it was
 * disarmed. Input `{ loop }`. `Sleep` (`SecondsPath: $.loop.intervalSeconds`) → `Reconcile` (the scheduler
 * reconciles every queued or running run and replies `{ loop, next, name }`, which replaces the state) →
 * `Decide`: `done` → `Done`; `continue_as_new` → `ContinueAsNew` (a fresh execution named `name`, before
 * the history limit; one that exists already is this one's replay: `Done`); else `Sleep`. A round that
 * fails past its retries goes back to `Sleep` with the same loop: the loop never fails, since only a
 * round that finds nothing to do may end it.
 */
export function compileReconciler(options: ReconcilerOptions): CompiledReconciler {
  if (typeof options.schedulerArn !== 'string' || options.schedulerArn.length === 0) {
    throw new AslCompileError(`option 'schedulerArn' must be a non-empty string`);
  }
  const graph = new StateGraph({});
  graph.add('Sleep', waitState({ comment: 'Wait for the next round', for: { secondsPath: '$.loop.intervalSeconds' }, next: 'Reconcile' }));
  graph.add(
    'Reconcile',
    invokeLambda({
      comment: 'Reconcile every queued or running run; the reply says whether any is left',
      functionName: options.schedulerArn,
      payload: { type: 'reconcile', 'loop.$': '$.loop' },
      resultSelector: { 'loop.$': '$.Payload.loop', 'next.$': '$.Payload.next', 'name.$': '$.Payload.name' },
      retry: [idempotentHandlerRetry()],
      // The loop outlives a failing round: the next one tries again.
      catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Sleep' }],
      next: 'Decide',
    }),
  );
  graph.add(
    'Decide',
    choiceState({
      choices: [
        { Variable: '$.next', StringEquals: 'done', Next: 'Done' },
        { Variable: '$.next', StringEquals: 'continue_as_new', Next: 'ContinueAsNew' },
      ],
      default: 'Sleep',
    }),
  );
  graph.add(
    'ContinueAsNew',
    startOwnExecution({
      comment: 'Hand the loop to a fresh execution (25,000-event history limit)',
      namePath: '$.name',
      input: { 'loop.$': '$.loop', 'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id' },
      resultPath: null,
      retry: [idempotentHandlerRetry()],
      catch: [
        // The next execution exists: a replay of this state after it started it.
        { ErrorEquals: ['StepFunctions.ExecutionAlreadyExistsException'], ResultPath: null, Next: 'Done' },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Sleep' },
      ],
      next: 'Done',
    }),
  );
  graph.add('Done', succeedState());
  return {
    workflowType: { type: 'STANDARD', reason: 'the reconciler waits between rounds for as long as runs are active' },
    definition: {
      Comment: 'airless reconciler: repairs what lost events left behind, while runs are active',
      ...graph.render('Sleep'),
    },
    statements: graph.statements(),
  };
}
