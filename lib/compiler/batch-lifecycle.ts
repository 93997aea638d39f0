import { invokeLambda, startExecution, submitBatchJobSync, submitJobParameters } from './integrations.ts';
import { addFinalReport, addPrepareStates, addTryFailureStates, STATE, tryCatchers } from './lifecycle-states.ts';
import type { StateGraph } from './state-graph.ts';

/**
 * The `batch` machine (Express), the start of every single Batch job waited for with `.sync`: `Prepare`
 * (task runner `batch_prepare` → the SubmitJob parameters; when there is nothing to submit the runner has
 * reported the try itself) → `CheckPrepared` → `StartJob`: starts the `batch_job` machine (Standard)
 * with the job, named as this execution (the dispatch's name, so a replay of this at-least-once execution
 * starts nothing more), and ends. Express because nothing here waits; what waits, the job, is the Standard
 * execution's two states alone. Returns the first state's id.
 */
export function buildBatchMachine(graph: StateGraph, taskRunnerArn: string, schedulerArn: string, batchJobMachineArn: string): string {
  addPrepareStates(graph, {
    taskRunnerArn,
    mode: 'batch_prepare',
    field: 'submit',
    prepareComment: 'Resolve the job to submit for this try',
    checkComment: 'Nothing to submit (the runner reported the try): done',
    next: STATE.startJob,
  });
  graph.add(
    STATE.startJob,
    startExecution({
      comment: 'Start the Standard execution that submits the job and waits for it',
      stateMachineArn: batchJobMachineArn,
      namePath: '$$.Execution.Name',
      input: { 'key.$': '$.key', 'dagId.$': '$.dagId', 'tryNumber.$': '$.tryNumber', 'submit.$': '$.try.submit' },
      resultPath: null,
      // A replay of this (at-least-once) execution after the job's execution ended: it started it already.
      catch: [{ ErrorEquals: ['StepFunctions.ExecutionAlreadyExistsException'], ResultPath: null, Next: STATE.done }, ...tryCatchers()],
      next: null,
    }),
  );
  addTryFailureStates(graph);
  addFinalReport(graph, schedulerArn);
  return STATE.prepare;
}

/**
 * The `batch_job` machine (Standard), started by the `batch` machine with `{ key, dagId, tryNumber, submit }`:
 * `Submit` (`batch:submitJob.sync`: Step Functions waits for the job, no Lambda does; the task's
 * executionTimeout is the job's `Timeout`, which Batch enforces; any error is carried to `Complete` in
 * `$.job`) → `Complete` (task runner `batch_complete`: the try's result from what Batch said, reported to
 * the scheduler in the same invocation) → end. Two transitions a job. A retry is a new execution. Returns
 * the first state's id.
 */
export function buildBatchJobMachine(graph: StateGraph, taskRunnerArn: string, schedulerArn: string): string {
  graph.add(
    STATE.submit,
    submitBatchJobSync({
      comment: 'Submit the job and wait for it to end',
      // The executionTimeout is the job's own (`Timeout.AttemptDurationSeconds`): Batch stops it.
      parameters: { ...submitJobParameters('$.submit'), 'Timeout.$': '$.submit.Timeout' },
      resultPath: '$.job',
      catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.job', Next: STATE.complete }],
      next: STATE.complete,
    }),
  );
  graph.add(
    STATE.complete,
    invokeLambda({
      comment: 'Turn what Batch said into the try result and report it',
      functionName: taskRunnerArn,
      payload: { mode: 'batch_complete', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber', 'job.$': '$.job' },
      resultPath: null,
      catch: tryCatchers(),
      next: null,
    }),
  );
  addTryFailureStates(graph);
  addFinalReport(graph, schedulerArn);
  return STATE.submit;
}
