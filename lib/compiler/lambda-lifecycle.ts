import type { TaskSpec } from '../model/spec.ts';
import { invokeLambda } from './integrations.ts';
import { addSchedulerLoop, addTryFailureStates, STATE, timeoutSeconds, tryCatchers } from './lifecycle-states.ts';
import type { StateGraph } from './state-graph.ts';

/**
 * A try is one invocation: `RunTry` → `Report` → `Decide` (run → `NextTry` → `RunTry`; wait → `WaitUntil`
 * → `Timer` → `Decide`; done → `Done`). Used for Lambda tasks (`mode: 'run'` on the task runner), sensors
 * (`mode: 'poke'` on the sensor-poke function: a `defer` comes back as a `wait`, so the poke loop needs no
 * state of its own) and Batch tasks in poll mode. Returns the id of the first state.
 */
export function buildInvokeLifecycle(
  graph: StateGraph,
  spec: TaskSpec,
  fn: { functionName: string; mode: 'run' | 'poke' },
  schedulerArn: string,
): string {
  const timeout = timeoutSeconds(spec.executionTimeoutMs);
  graph.add(
    STATE.runTry,
    invokeLambda({
      comment: fn.mode === 'poke' ? 'Poke the sensor once' : 'Run one try of the task',
      functionName: fn.functionName,
      payload: { mode: fn.mode, 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' },
      timeoutSeconds: timeout,
      resultSelector: { 'result.$': '$.Payload' },
      resultPath: '$.try',
      catch: tryCatchers(timeout),
      next: STATE.report,
    }),
  );
  addTryFailureStates(graph, timeout);
  addSchedulerLoop(graph, schedulerArn, STATE.runTry);
  return STATE.runTry;
}
