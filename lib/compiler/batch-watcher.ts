import type { StateMachineDefinition } from './asl-types.ts';
import { AslCompileError } from './compile-error.ts';
import { idempotentHandlerRetry, invokeLambda, startOwnExecution } from './integrations.ts';
import type { PolicyStatement } from './iam.ts';
import { StateGraph } from './state-graph.ts';
import { choiceState, succeedState, waitState } from './states.ts';
import type { WorkflowTypeChoice } from './workflow-type.ts';

export interface BatchWatcherOptions {
  /** ARN (or name) of the describe-jobs function: one DescribeJobs call for up to 100 job ids. */
  describeJobsArn: string;
}

export interface CompiledBatchWatcher {
  workflowType: WorkflowTypeChoice;
  definition: StateMachineDefinition;
  /** What its role needs (iam.ts): invoke describe-jobs, start an execution of itself. */
  statements: PolicyStatement[];
}

/**
 * The Batch watcher, for jobs submitted elsewhere or Batch tasks in poll mode. Input
 * `{ jobIds (≤ 100), intervalSeconds }`. `Describe` invokes the describe-jobs function once for all the
 * ids (never one call per job); its reply replaces the state: `{ jobIds: pending, intervalSeconds,
 * continueAsNew, finished }`. `AnyPending`: none left → `Done`; the function asked to continue as new →
 * `ContinueAsNew` (a fresh execution of this state machine for the pending ids); else `Sleep`
 * (`SecondsPath: $.intervalSeconds`) → `Describe`. About 9 history events per round.
 */
export function compileBatchWatcher(options: BatchWatcherOptions): CompiledBatchWatcher {
  if (typeof options.describeJobsArn !== 'string' || options.describeJobsArn.length === 0) {
    throw new AslCompileError(`option 'describeJobsArn' must be a non-empty string`);
  }
  const graph = new StateGraph({});
  graph.add(
    'Describe',
    invokeLambda({
      comment: 'One DescribeJobs call for every job still running',
      functionName: options.describeJobsArn,
      payload: { 'jobIds.$': '$.jobIds', 'intervalSeconds.$': '$.intervalSeconds', 'startedAt.$': '$$.Execution.StartTime' },
      resultSelector: {
        'jobIds.$': '$.Payload.pending',
        'intervalSeconds.$': '$.Payload.intervalSeconds',
        'continueAsNew.$': '$.Payload.continueAsNew',
        'finished.$': '$.Payload.finished',
      },
      // No ResultPath: the selected result replaces the state (as ResultPath "$" would, which
      // aws-local-stepfunctions mishandles).
      retry: [idempotentHandlerRetry()],
      next: 'AnyPending',
    }),
  );
  graph.add(
    'AnyPending',
    choiceState({
      choices: [
        // `Not IsPresent` rather than `IsPresent: false`, which aws-local-stepfunctions never matches.
        { Not: { Variable: '$.jobIds[0]', IsPresent: true }, Next: 'Done' },
        { Variable: '$.continueAsNew', BooleanEquals: true, Next: 'ContinueAsNew' },
      ],
      default: 'Sleep',
    }),
  );
  graph.add('Sleep', waitState({ comment: 'Wait before the next round', for: { secondsPath: '$.intervalSeconds' }, next: 'Describe' }));
  graph.add(
    'ContinueAsNew',
    startOwnExecution({
      comment: 'Hand the pending jobs to a fresh execution (25,000-event history limit)',
      input: {
        'jobIds.$': '$.jobIds',
        'intervalSeconds.$': '$.intervalSeconds',
        'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id',
      },
      resultPath: null,
      retry: [idempotentHandlerRetry()],
      next: 'Done',
    }),
  );
  graph.add('Done', succeedState());
  return {
    workflowType: { type: 'STANDARD', reason: 'the watcher waits between rounds for as long as its jobs run' },
    definition: {
      Comment: 'airless Batch watcher: one DescribeJobs call per round for up to 100 jobs',
      ...graph.render('Describe'),
    },
    statements: graph.statements(),
  };
}
