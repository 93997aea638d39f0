/**
 * The `airless-dags` module of the e2e harness: what the CDK app generates for the function bundles
 * (cdk/dags-module.ts), written by hand here: the example DAGs of `dags/` and the harness's own DAGs of
 * `e2e/dags/`. The e2e vitest config aliases `airless-dags` to this file, so that the functions in
 * `functions/` load the same DAGs in this process as they would in their bundles.
 */
import * as batchFanout from '../dags/batch_fanout.ts';
import * as branchingJoin from '../dags/branching_join.ts';
import * as exampleWorkflow from '../dags/example_workflow.ts';
import * as iterationVsMapping from '../dags/iteration_vs_mapping.ts';
import * as solver from '../dags/solver.ts';
import * as stageCalibration from '../dags/stage_calibration.ts';
import * as stageImaging from '../dags/stage_imaging.ts';
import * as stageImportPrep from '../dags/stage_import_prep.ts';
import * as cost from './dags/cost.ts';
import * as e2eArrays from './dags/e2e_arrays.ts';
import * as e2eChain from './dags/e2e_chain.ts';
import * as e2eReplay from './dags/e2e_replay.ts';
import * as e2eRetry from './dags/e2e_retry.ts';

export const dagModules: readonly { file: string; exports: Record<string, unknown> }[] = [
  { file: 'batch_fanout.ts', exports: batchFanout },
  { file: 'branching_join.ts', exports: branchingJoin },
  { file: 'example_workflow.ts', exports: exampleWorkflow },
  { file: 'iteration_vs_mapping.ts', exports: iterationVsMapping },
  { file: 'solver.ts', exports: solver },
  { file: 'stage_calibration.ts', exports: stageCalibration },
  { file: 'stage_imaging.ts', exports: stageImaging },
  { file: 'stage_import_prep.ts', exports: stageImportPrep },
  { file: 'e2e/cost.ts', exports: cost },
  { file: 'e2e/e2e_arrays.ts', exports: e2eArrays },
  { file: 'e2e/e2e_chain.ts', exports: e2eChain },
  { file: 'e2e/e2e_replay.ts', exports: e2eReplay },
  { file: 'e2e/e2e_retry.ts', exports: e2eRetry },
];
