import type { RunnerEvent } from '../runner/local-runner.ts';
import type { RunState } from '../model/states.ts';
import { runKeyText, type DagRunRecord, type LogLine, type ParentRef, type RunRef, type TaskInstanceRecord } from '../store/records.ts';

/** What the CLI knows of a run from the runner's events. */
export interface TrackedRun {
  dagId: string;
  runId: string;
  state: RunState;
  parent: ParentRef | null;
  startDate: string | null;
  endDate: string | null;
  /** Latest record of each task instance, by `taskId` then map index. */
  tis: Map<string, Map<number, TaskInstanceRecord>>;
  /** The latest log line of each task (any map index). */
  lastLog: Map<string, LogLine>;
}

/** A change worth a line: a run's state, or a task instance's state or try. */
export type TrackedChange =
  | { kind: 'run'; run: TrackedRun }
  | { kind: 'ti'; run: TrackedRun; ti: TaskInstanceRecord; previous: TaskInstanceRecord | undefined };

/**
 * Folds the runner's events into the state of every run (the run started and the runs it triggered),
 * for the live view and the state-change lines. Listeners must not write with `console`: a 'log' event
 * is delivered inside the task's try, where console output is captured into the try's log.
 */
export class RunTracker {
  /** By run (`runKeyText`: DAG and run id). */
  readonly runs = new Map<string, TrackedRun>();
  /** Internal errors the runner reported. */
  readonly errors: { run: RunRef | null; where: string; error: unknown }[] = [];

  /** The run `ref` names, if an event told of it. */
  get(ref: RunRef): TrackedRun | undefined {
    return this.runs.get(runKeyText(ref));
  }

  private runOf(rec: DagRunRecord): TrackedRun {
    let run = this.get(rec);
    if (!run) {
      run = { dagId: rec.dagId, runId: rec.runId, state: rec.state, parent: rec.parent, startDate: rec.startDate, endDate: rec.endDate, tis: new Map(), lastLog: new Map() };
      this.runs.set(runKeyText(rec), run);
    }
    return run;
  }

  /** Apply an event; returns the change it made, or null when nothing visible changed. */
  handle(e: RunnerEvent): TrackedChange | null {
    switch (e.type) {
      case 'run': {
        const known = this.get(e.run);
        const run = this.runOf(e.run);
        const changed = !known || known.state !== e.run.state;
        run.state = e.run.state;
        run.startDate = e.run.startDate;
        run.endDate = e.run.endDate;
        return changed ? { kind: 'run', run } : null;
      }
      case 'ti': {
        const run = this.get(e.ti);
        if (!run) return null;
        let byIndex = run.tis.get(e.ti.taskId);
        if (!byIndex) run.tis.set(e.ti.taskId, (byIndex = new Map<number, TaskInstanceRecord>()));
        const previous = byIndex.get(e.ti.mapIndex);
        byIndex.set(e.ti.mapIndex, e.ti);
        if (previous && previous.state === e.ti.state && previous.tryNumber === e.ti.tryNumber) return null;
        return { kind: 'ti', run, ti: e.ti, previous };
      }
      case 'log': {
        this.get(e.key)?.lastLog.set(e.key.taskId, e.line);
        return null;
      }
      case 'error':
        this.errors.push({ run: e.run, where: e.where, error: e.error });
        return null;
    }
  }
}
