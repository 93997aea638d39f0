import type { RunType } from '../authoring/context.ts';
import type { AssetEventRecord, ParentRef } from '../store/records.ts';

/**
 * A request to start a run: what `Scheduler.triggerRun` takes, and what a task that triggers a DAG asks
 * of its runner.
 */
export interface TriggerRequest {
  dagId: string;
  conf?: Record<string, unknown>;
  /**
   * The run's id (unique in its DAG). Default: `<runType>__<logicalDate>` when a logical date is given
   * (deterministic: a repeated trigger finds the run), else a new id (`generateRunId`, lib/scheduler).
   */
  runId?: string;
  /**
   * ISO-8601 or Date.
   * @default now
   */
  logicalDate?: string | Date;
  /** @default 'manual' */
  runType?: RunType;
  parent?: ParentRef | null;
  /** The pipeline-context scope to share (a triggered run: its parent's). Default: the run's own, `pipelineScopeOf(run)`. */
  pipelineScope?: string;
  /**
   * Refuse with a RunExistsError when the DAG has a run with this id, instead of returning it.
   * @default false (idempotent)
   */
  exclusive?: boolean;
  /**
   * The DAG version to run (a triggered run: the one its parent run pinned for this DAG). Default: the
   * DAG's current version.
   */
  dagVersion?: string;
  /** The versions the new run's own triggers pin (a triggered run: its parent's). Default: pinned now, from the current versions. */
  pinnedVersions?: Record<string, string> | null;
  /** The asset events that create the run (an `asset_triggered` run); kept on it. Default: none. */
  triggeringAssetEvents?: AssetEventRecord[];
}
