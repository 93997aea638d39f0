import type { DagRunRecord, RunRef, TaskInstanceRecord } from '../store/records.ts';

export { timerRun, timerTiKey, type ArrayWave, type TimerEvent, type TryResult } from '../core/events.ts';
export { tiKeyOf } from '../model/keys.ts';

/** What the scheduler reports as it works (for live displays, logs and metrics). */
export type SchedulerEvent =
  | { type: 'ti'; ti: TaskInstanceRecord }
  | { type: 'run'; run: DagRunRecord }
  | { type: 'error'; run: RunRef | null; error: unknown; where: string };

export type { DagResolver } from '../authoring/dag-resolver.ts';
