import type { TaskSpec } from '../model/spec.ts';
import { invokeLambda, submitBatchJobSync, submitJobParameters } from './integrations.ts';
import { addPrepareStates, addSchedulerLoop, addTryFailureStates, STATE, timeoutSeconds, tryCatchers } from './lifecycle-states.ts';
import type { StateGraph } from './state-graph.ts';

/**
 * A Batch try with `.sync`: `Prepare` (task runner `batch_prepare` → the SubmitJob parameters, or a
 * result without submitting) → `CheckPrepared` → `Submit` (`batch:submitJob.sync`: Step Functions waits
 * for the job, no Lambda does; any error is carried to `Complete` in `$.job`) → `Complete` (task runner
 * `batch_complete` → the TryResult) → `Report` and the scheduler loop, whose `run` starts at `Prepare`.
 * executionTimeout bounds the job's wait (`TimeoutSeconds` on `Submit`). Returns the first state's id.
 */
export function buildBatchLifecycle(graph: StateGraph, spec: TaskSpec, taskRunnerArn: string, schedulerArn: string): string {
  const timeout = timeoutSeconds(spec.executionTimeoutMs);
  addPrepareStates(graph, {
    taskRunnerArn,
    mode: 'batch_prepare',
    field: 'submit',
    prepareComment: 'Resolve the job to submit for this try',
    checkComment: 'Nothing to submit: report the result the runner gave',
    next: STATE.submit,
  });
  graph.add(
    STATE.submit,
    submitBatchJobSync({
      comment: 'Submit the job and wait for it to end',
      parameters: submitJobParameters('$.try.submit'),
      timeoutSeconds: timeout,
      resultPath: '$.job',
      catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.job', Next: STATE.complete }],
      next: STATE.complete,
    }),
  );
  graph.add(
    STATE.complete,
    invokeLambda({
      comment: 'Turn what Batch said into the try result',
      functionName: taskRunnerArn,
      payload: { mode: 'batch_complete', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'job.$': '$.job' },
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
