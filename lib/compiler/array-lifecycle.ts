import { ARRAY_MAX_CHILDREN } from '../core/arrays.ts';
import type { TaskSpec } from '../model/spec.ts';
import type { PayloadTemplate } from './asl-types.ts';
import { AslCompileError } from './compile-error.ts';
import { DEFAULT_BATCH_WATCH_INTERVAL_SECONDS } from './compile-options.ts';
import { batchThrottlingRetry, idempotentHandlerRetry, invokeLambda, mapTask, submitBatchJobSync, submitJobParameters } from './integrations.ts';
import { addSchedulerLoop, STATE, type SchedulerReport } from './lifecycle-states.ts';
import type { StateGraph } from './state-graph.ts';
import { choiceState, passState, waitState } from './states.ts';

/** A Distributed Map runs at most this many child executions at once. */
export const DISTRIBUTED_MAP_MAX_CONCURRENCY = 10_000;

/** The `array_finished` report of a wave: the array job's outcome at `$.job`. */
export const ARRAY_FINISHED_REPORT: SchedulerReport = {
  comment: 'Tell the scheduler how the wave ended; it settles each child and replies what to do next',
  payload: { type: 'array_finished', 'array.$': '$.array', 'tryNumber.$': '$.tryNumber', 'job.$': '$.job' },
};

/**
 * How many groups run at once: the task's `maxActiveTisPerDag` when set (a wave holds one unit of each
 * slot limit, so the scheduler never has more waves of the task in flight than that anyway), else 0
 * (as many as Step Functions allows: 10,000 child executions). The pool's size is not a bound known
 * when compiling (pools are set at run time, in the store); the scheduler's semaphores enforce it, and
 * a wave that got its slots never waits here for another group.
 */
export function arrayMaxConcurrency(spec: TaskSpec): number {
  return spec.maxActiveTisPerDag === null ? 0 : Math.min(spec.maxActiveTisPerDag, DISTRIBUTED_MAP_MAX_CONCURRENCY);
}

/** The `Prepare` payload of a wave step of the task runner (`array_prepare`, `array_submit`, `array_poll`). */
function wavePayload(mode: 'array_prepare' | 'array_submit' | 'array_poll', extra: PayloadTemplate = {}): PayloadTemplate {
  return { mode, 'array.$': '$.array', 'tryNumber.$': '$.tryNumber', ...extra };
}

/** Where an error of a wave step goes: to `Report`, as the wave's `job` (the scheduler decides). */
const CATCH_TO_REPORT = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.job', Next: STATE.report }];

/**
 * A mapped Batch task submitted as array jobs (lib/core/arrays.ts): the fan-out execution, input
 * {@link ArrayFanoutInput} (`{ waves: ArrayLifecycleInput[] }`, one entry per group with a wave to start).
 *
 * `Groups` is a Distributed Map over `$.waves` (each entry is a child Standard execution's input;
 * `MaxConcurrencyPath` the input's `settings.maxConcurrency`, from {@link arrayMaxConcurrency}). The list holds one small entry per group of up
 * to 10,000 map indexes, so it comes in the input (no ItemReader) and the children's outputs come back
 * in the Map's result (each child ends with `OutputPath: $.array`, about 100 bytes), which `ResultPath:
 * null` drops. `ToleratedFailurePercentage: 0` (Step Functions' default, written out): a child catches
 * every error of its wave's steps and reports it to the scheduler, which decides (retry the failed
 * children after their delay, or fail them). So a child fails only when the contract is broken (the
 * scheduler replied an unknown action) or the scheduler stayed unreachable through its retries; the
 * fan-out then fails (and Step Functions stops the other groups' children) rather than succeeding with
 * groups silently abandoned: the failure shows in the execution's status, and the scheduler's
 * reconcile repairs the instances whose lifecycle stopped without reporting. Tolerating failures (100%)
 * would hide exactly the errors that need a person.
 *
 * Each child runs the wave loop of its group:
 * - `Prepare`: task runner `array_prepare` → `$.wave` (`{ submit, size }`), retried as an idempotent
 *   handler; an error is caught into `$.job` and reported. `CheckPrepared`: nothing to submit →
 *   `NoJob` (`$.job` = null) → `Report`.
 * - sync: `Submit` = `batch:submitJob.sync` of `$.wave.submit` (the executionTimeout is each child's:
 *   the job's `Timeout.AttemptDurationSeconds`, no `TimeoutSeconds` on the state),
 *   retried only on Batch throttling (the job was not created; full jitter, so that groups submitted
 *   together spread out), its output or caught error → `$.job` → `Report`.
 * - poll: `Submit` = task runner `array_submit` → `$.submitted.jobId` (the handler submits once per wave),
 *   then `WaitPoll` (`batchWatchIntervalSeconds`) → `Poll` = task runner `array_poll` (one DescribeJobs of
 *   the array's parent job per round, never one per child) → `PollDone` → `Polled` (`$.job` = its job) →
 *   `Report`. A round is about 9 history events: a child execution's 25,000 holds some 2,700 rounds
 *   (22 hours of one wave at 30 s); waves that run longer need a longer interval.
 * - `Report`: scheduler `array_finished` with `$.job`, then the shared Decide/NextTry/WaitUntil/Timer/Done
 *   loop (lifecycle-states.ts): `run` starts the group's next wave at `Prepare` (its failed children's
 *   retry), `wait` waits for the retry delay, `done` ends the child.
 *
 * Returns the first state's id.
 */
export function buildArrayFanout(
  graph: StateGraph,
  o: { taskRunnerArn: string; schedulerArn: string; batchWatch: 'sync' | 'poll'; batchWatchIntervalSeconds?: number },
): string {
  const interval = o.batchWatchIntervalSeconds ?? DEFAULT_BATCH_WATCH_INTERVAL_SECONDS;
  if (!Number.isInteger(interval) || interval < 1 || interval > 86_400) {
    throw new AslCompileError(`option 'batchWatchIntervalSeconds' must be a whole number of seconds from 1 to 86400, got ${interval}`);
  }
  const wave = graph.nested();
  wave.add(
    STATE.prepare,
    invokeLambda({
      comment: "List the wave's instances and the array job to submit for them",
      functionName: o.taskRunnerArn,
      payload: wavePayload('array_prepare'),
      resultSelector: { 'submit.$': '$.Payload.submit', 'size.$': '$.Payload.size' },
      resultPath: '$.wave',
      retry: [idempotentHandlerRetry()],
      catch: CATCH_TO_REPORT,
      next: STATE.checkPrepared,
    }),
  );
  wave.add(
    STATE.checkPrepared,
    choiceState({
      comment: 'Nothing to submit: report the wave without a job',
      choices: [{ Variable: '$.wave.submit', IsNull: true, Next: STATE.noJob }],
      default: STATE.submit,
    }),
  );
  wave.add(
    STATE.noJob,
    // The submit field is null here: selecting it is how a Pass writes null (a Pass `Result: null` is
    // read as no Result by aws-local-stepfunctions).
    passState({ comment: 'The wave had no job: report null', inputPath: '$.wave.submit', resultPath: '$.job', next: STATE.report }),
  );
  if (o.batchWatch === 'sync') {
    wave.add(
      STATE.submit,
      submitBatchJobSync({
        comment: 'Submit the array job and wait for it to end',
        // No TimeoutSeconds: the executionTimeout is each child's (the job's Timeout), not the array's.
        parameters: { ...submitJobParameters('$.wave.submit'), 'Timeout.$': '$.wave.submit.Timeout' },
        resultPath: '$.job',
        retry: [batchThrottlingRetry()],
        catch: CATCH_TO_REPORT,
        next: STATE.report,
      }),
    );
  } else {
    wave.add(
      STATE.submit,
      invokeLambda({
        comment: 'Submit the array job (once per wave)',
        functionName: o.taskRunnerArn,
        payload: wavePayload('array_submit', { 'submit.$': '$.wave.submit' }),
        resultSelector: { 'jobId.$': '$.Payload.jobId' },
        resultPath: '$.submitted',
        retry: [idempotentHandlerRetry()],
        catch: CATCH_TO_REPORT,
        next: STATE.waitPoll,
      }),
    );
    wave.add(STATE.waitPoll, waitState({ comment: 'Wait before asking Batch again', for: { seconds: interval }, next: STATE.poll }));
    wave.add(
      STATE.poll,
      invokeLambda({
        comment: "One DescribeJobs call for the array's parent job",
        functionName: o.taskRunnerArn,
        payload: wavePayload('array_poll', { 'jobId.$': '$.submitted.jobId' }),
        resultSelector: { 'done.$': '$.Payload.done', 'job.$': '$.Payload.job' },
        resultPath: '$.poll',
        retry: [idempotentHandlerRetry()],
        catch: CATCH_TO_REPORT,
        next: STATE.pollDone,
      }),
    );
    wave.add(
      STATE.pollDone,
      choiceState({
        comment: 'The array job has ended: report it; else poll again',
        choices: [{ Variable: '$.poll.done', BooleanEquals: true, Next: STATE.polled }],
        default: STATE.waitPoll,
      }),
    );
    wave.add(STATE.polled, passState({ comment: 'The job as .sync would have given it', inputPath: '$.poll.job', resultPath: '$.job', next: STATE.report }));
  }
  addSchedulerLoop(wave, o.schedulerArn, STATE.prepare, { report: ARRAY_FINISHED_REPORT, doneOutputPath: '$.array' });

  graph.add(
    STATE.groups,
    mapTask({
      comment: `One child execution per group of up to ${ARRAY_MAX_CHILDREN.toLocaleString('en-US')} map indexes: its waves, one Batch array job each`,
      items: { path: '$.waves' },
      maxConcurrency: { path: '$.settings.maxConcurrency' },
      toleratedFailurePercentage: 0,
      itemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, ...wave.render(STATE.prepare) },
      resultPath: null,
      next: null,
    }),
  );
  return STATE.groups;
}
