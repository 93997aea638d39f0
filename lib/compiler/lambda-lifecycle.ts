import { invokeLambda } from './integrations.ts';
import { addFinalReport, addSchedulerLoop, addTryFailureStates, STATE, tryCatchers } from './lifecycle-states.ts';
import type { StateGraph } from './state-graph.ts';

/**
 * The `try` machine (Express), shared by every task whose try is one invocation of the task runner
 * (task, branch, short_circuit, trigger_dag, a Batch task in poll mode): `RunTry` invokes the task runner
 * (`run`), which runs the try and reports it to the scheduler in the same invocation, and the execution
 * ends (the task runner enforces the task's executionTimeout itself). When the invocation itself fails,
 * `TryFailed` → `Report` tells the scheduler. Nothing waits here: a retry's delay is a timer execution,
 * and the next try a new execution. Returns the first state's id.
 */
export function buildTryMachine(graph: StateGraph, taskRunnerArn: string, schedulerArn: string): string {
  graph.add(
    STATE.runTry,
    invokeLambda({
      comment: 'Run one try of the task and report it to the scheduler',
      functionName: taskRunnerArn,
      payload: { mode: 'run', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' },
      resultPath: null,
      catch: tryCatchers(),
      next: null,
    }),
  );
  addTryFailureStates(graph);
  addFinalReport(graph, schedulerArn);
  return STATE.runTry;
}

/**
 * The `sensor` machine (Standard): `RunTry` invokes the sensor-poke function (`poke`), which pokes once
 * and reports the poke to the scheduler in the same invocation, replying what comes next → `Decide`:
 * `wait` (the next poke's time, or a retry's delay) → `WaitUntil` → `Timer` → `Decide`; `run` → `NextTry` →
 * `RunTry`; `done`. A failed invocation goes through `TryFailed` → `Report` → `Decide`.
 * Returns the first state's id.
 */
export function buildSensorMachine(graph: StateGraph, sensorPokeArn: string, schedulerArn: string): string {
  graph.add(
    STATE.runTry,
    invokeLambda({
      comment: 'Poke the sensor once and report the poke; the reply says what comes next',
      functionName: sensorPokeArn,
      payload: { mode: 'poke', 'key.$': '$.key', 'tryNumber.$': '$.tryNumber' },
      resultSelector: { 'next.$': '$.Payload' },
      resultPath: '$.scheduler',
      catch: tryCatchers(),
      next: STATE.decide,
    }),
  );
  addTryFailureStates(graph);
  addSchedulerLoop(graph, schedulerArn, STATE.runTry);
  return STATE.runTry;
}
