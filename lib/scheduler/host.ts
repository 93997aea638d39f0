import type { Dag } from '../authoring/dag.ts';
import type { DagRunRecord, RunRef, TaskInstanceRecord } from '../store/records.ts';

export { timerRun, timerTiKey, type ArrayWave, type TimerEvent, type TryResult } from '../core/events.ts';
export { tiKeyOf } from '../model/keys.ts';

/** What the scheduler reports as it works (for live displays, logs and metrics). */
export type SchedulerEvent =
  | { type: 'ti'; ti: TaskInstanceRecord }
  | { type: 'run'; run: DagRunRecord }
  | { type: 'error'; run: RunRef | null; error: unknown; where: string };

/** Finds DAGs by id. */
export interface DagResolver {
  /**
   * The DAG `dagId`. `version` (a run's `dagVersion`) asks for the DAG as that run started it: a resolver
   * that keeps older versions (the standalone server's, whose DAGs folder is reloaded) returns it when
   * it has it; any resolver may ignore it and return the DAG it has.
   */
  getDag(dagId: string, version?: string): Dag | undefined;
}
