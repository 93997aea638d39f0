import type { StateMachineDefinition } from '../lib/compiler/asl-types.ts';
import type { PolicyStatement } from '../lib/compiler/iam.ts';
import { AslCompileError } from '../lib/compiler/compile-error.ts';
import { idempotentHandlerRetry, invokeLambda } from '../lib/compiler/integrations.ts';
import { StateGraph } from '../lib/compiler/state-graph.ts';
import { succeedState, waitState } from '../lib/compiler/states.ts';
import type { TimerEvent } from '../lib/scheduler/host.ts';

/** Input of a timer execution (what `SfnDispatcher.startTimer` starts). */
export interface TimerInput {
  /** When to deliver: `aslTimestamp(ms)` (RFC 3339, whole seconds, UTC). */
  at: string;
  event: TimerEvent;
}

/**
 * The timer state machine: `WaitUntil` (`TimestampPath: $.at`) → `Deliver` (invoke the scheduler with
 * `{type: 'timer', event, standalone: true}`, retried like every scheduler call: it is idempotent) →
 * `Done`. Standard: a timer waits up to a retry delay or a dagrun timeout, far past Express's 5 minutes,
 * and costs 4 transitions. Plain ASL, like the compiler's lifecycles (it belongs beside them in
 * lib/compiler; it is here so that the compiler's files stay as they are).
 */
export function compileTimer(options: { schedulerArn: string }): StateMachineDefinition {
  return compileTimerMachine(options).definition;
}

/** The timer's definition and what its role needs (iam.ts): invoking the scheduler. */
export function compileTimerMachine(options: { schedulerArn: string }): { definition: StateMachineDefinition; statements: PolicyStatement[] } {
  if (typeof options.schedulerArn !== 'string' || options.schedulerArn.length === 0) throw new AslCompileError(`option 'schedulerArn' must be a non-empty string`);
  const graph = new StateGraph({});
  graph.add('WaitUntil', waitState({ comment: 'Wait until the time the scheduler asked for', for: { timestampPath: '$.at' }, next: 'Deliver' }));
  graph.add(
    'Deliver',
    invokeLambda({
      comment: 'Hand the event to the scheduler; whatever it starts, it starts anew',
      functionName: options.schedulerArn,
      payload: { type: 'timer', 'event.$': '$.event', standalone: true },
      resultPath: null,
      retry: [idempotentHandlerRetry()],
      next: 'Done',
    }),
  );
  graph.add('Done', succeedState());
  return { definition: { Comment: 'airless timer: deliver one event to the scheduler at a time', ...graph.render('WaitUntil') }, statements: graph.statements() };
}
