import { NonRetriableError, TriggeredRunFailedError } from '../../errors.ts';
import { sha256 } from '../../model/hash.ts';
import type { TriggerDagTaskSpec } from '../../model/spec.ts';
import type { TaskInstanceRecord } from '../../store/records.ts';
import type { KindRunner } from './kind-runner.ts';

/**
 * The id of the run a triggerDag instance's try starts: deterministic (a repeated try start finds the
 * run), unique in the triggered DAG whichever DAG and run trigger it, and of a bounded length however
 * deep the triggers nest: `triggered__<parent DAG>.<task>[.<map index>]__try<n>__<h>`, `h` 16 hex digits
 * of a hash of the parent instance (DAG, run, task, map index; the parent itself is the run's `parent`).
 */
export function triggeredRunId(parent: Pick<TaskInstanceRecord, 'dagId' | 'runId' | 'taskId' | 'mapIndex' | 'tryNumber'>): string {
  const index = parent.mapIndex >= 0 ? `.${parent.mapIndex}` : '';
  const h = sha256(JSON.stringify([parent.dagId, parent.runId, parent.taskId, parent.mapIndex])).slice(0, 16);
  return `triggered__${parent.dagId}.${parent.taskId}${index}__try${parent.tryNumber}__${h}`;
}

/**
 * `triggerDag()`: the first step triggers the run (conf, with the input's fields over it) and, waiting
 * for it, defers on it (`externalId`); the step after it ended succeeds or fails by the run's state.
 */
export const triggerDagRunner: KindRunner<TriggerDagTaskSpec> = {
  runsCode: false,
  async runTry({ dag, run, spec, ti }, tools) {
    const t = spec.triggerDag;
    if (ti.externalId) {
      const child = await tools.io.getRun({ dagId: t.triggerDagId, runId: ti.externalId });
      if (!child) throw new NonRetriableError(`triggered run '${ti.externalId}' is gone`);
      if (t.allowedStates.includes(child.state)) {
        tools.write('info', `triggered run ${child.runId} of '${child.dagId}' ended ${child.state}`);
        await tools.storeResult({ runId: child.runId, dagId: child.dagId, state: child.state });
        return { kind: 'success' };
      }
      if (t.failedStates.includes(child.state)) {
        throw new TriggeredRunFailedError(`triggered run ${child.runId} of '${child.dagId}' ended ${child.state}${child.note ? ` (${child.note})` : ''}`);
      }
      return { kind: 'defer', until: null, externalId: child.runId };
    }
    const conf = ((await tools.resolve(t.conf)) ?? {}) as Record<string, unknown>;
    const extra = await tools.input();
    if (extra !== undefined && extra !== null) {
      if (typeof extra !== 'object' || Array.isArray(extra)) throw new NonRetriableError(`triggerDag input must be an object of conf fields`);
      Object.assign(conf, extra);
    }
    const child = await tools.triggerRun({
      dagId: t.triggerDagId,
      conf,
      runId: triggeredRunId(ti),
      logicalDate: new Date(tools.now()),
      runType: 'triggered',
      parent: { dagId: dag.dagId, runId: run.runId, taskId: spec.taskId, mapIndex: ti.mapIndex, tryNumber: ti.tryNumber },
      pipelineScope: run.pipelineScope,
      // The child runs on the version its top-level run pinned (the code of the same load or deploy).
      ...(run.pinnedVersions?.[spec.triggerDag.triggerDagId] !== undefined ? { dagVersion: run.pinnedVersions[spec.triggerDag.triggerDagId] } : {}),
      ...(run.pinnedVersions ? { pinnedVersions: run.pinnedVersions } : {}),
    });
    tools.write('info', `triggered '${t.triggerDagId}' run ${child.runId} with conf ${JSON.stringify(conf)}`);
    if (!t.waitForCompletion) {
      await tools.storeResult({ runId: child.runId, dagId: child.dagId, state: child.state });
      return { kind: 'success' };
    }
    return { kind: 'defer', until: null, externalId: child.runId };
  },
};
