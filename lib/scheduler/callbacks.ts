// Users' callbacks (a task's onSuccess/onFailure/onRetry, a DAG's onSuccess/onFailure): run by the
// step that decides the change, before it is committed for a task; what they throw is reported, not thrown.

import type { Dag } from '../authoring/dag.ts';
import type { TaskSpec } from '../model/spec.ts';
import { runRefOf, type DagRunRecord, type TiKey } from '../store/records.ts';
import type { Step } from './step.ts';

export async function taskCallback(s: Step, dag: Dag, t: TaskSpec, which: 'onSuccess' | 'onFailure' | 'onRetry', key: TiKey, tryNumber: number, error: string | null): Promise<void> {
  const cb = dag.runtime.get(t.taskId)?.[which];
  if (!cb) return;
  try {
    await cb({ dagId: dag.dagId, runId: key.runId, taskId: key.taskId, mapIndex: key.mapIndex < 0 ? null : key.mapIndex, tryNumber, error });
  } catch (e) {
    s.emitError(runRefOf(key), e, `task '${t.taskId}' ${which} callback`);
  }
}

export async function dagCallback(s: Step, dag: Dag, run: DagRunRecord, state: 'success' | 'failed'): Promise<void> {
  const cb = state === 'success' ? dag.callbacks.onSuccess : dag.callbacks.onFailure;
  if (!cb) return;
  try {
    await cb({ dagId: run.dagId, runId: run.runId, state, conf: run.conf, logicalDate: new Date(run.logicalDate) });
  } catch (e) {
    s.emitError(runRefOf(run), e, `DAG '${dag.dagId}' ${state === 'success' ? 'onSuccess' : 'onFailure'} callback`);
  }
}
