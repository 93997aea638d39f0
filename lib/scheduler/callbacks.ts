// Users' callbacks (a task's onSuccess/onFailure/onRetry, a DAG's onSuccess/onFailure): run by the
// step that decides the change, before it is committed for a task; what they throw is reported, not thrown.

import type { Dag } from '../authoring/dag.ts';
import type { TaskSpec } from '../model/spec.ts';
import { runRefOf, type DagRunRecord, type TiKey } from '../store/records.ts';
import type { Step } from './step.ts';

// A step's callbacks of one run (an array wave's children) read the run once.
const runsRead = new WeakMap<Step, Map<string, Promise<DagRunRecord | undefined>>>();
function runOf(s: Step, key: TiKey): Promise<DagRunRecord | undefined> {
  let m = runsRead.get(s);
  if (!m) runsRead.set(s, (m = new Map<string, Promise<DagRunRecord | undefined>>()));
  const id = `${key.dagId}\u0000${key.runId}`;
  let p = m.get(id);
  if (!p) m.set(id, (p = s.store.getRun(runRefOf(key))));
  return p;
}

export async function taskCallback(s: Step, dag: Dag, t: TaskSpec, which: 'onSuccess' | 'onFailure' | 'onRetry', key: TiKey, tryNumber: number, error: string | null): Promise<void> {
  const cb = dag.runtime.get(t.taskId)?.[which];
  if (!cb) return;
  try {
    const run = await runOf(s, key);
    await cb({
      dagId: dag.dagId, runId: key.runId, taskId: key.taskId, mapIndex: key.mapIndex < 0 ? null : key.mapIndex, tryNumber, error,
      ...(run ? { logicalDate: new Date(run.logicalDate), conf: run.conf } : {}),
    });
  } catch (e) {
    s.emitError(runRefOf(key), e, `task '${t.taskId}' ${which} callback`);
  }
}

export async function dagCallback(s: Step, dag: Dag, run: DagRunRecord, state: 'success' | 'failed'): Promise<void> {
  const cb = state === 'success' ? dag.callbacks.onSuccess : dag.callbacks.onFailure;
  if (!cb) return;
  try {
    await cb({ dagId: run.dagId, runId: run.runId, state, conf: run.conf, logicalDate: new Date(run.logicalDate), note: run.note });
  } catch (e) {
    s.emitError(runRefOf(run), e, `DAG '${dag.dagId}' ${state === 'success' ? 'onSuccess' : 'onFailure'} callback`);
  }
}
