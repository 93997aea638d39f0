/**
 * The `airless-dags` module of the e2e harness: what the CDK app generates for the function bundles
 * (cdk/dags-module.ts), written by hand here: the example DAGs of `dags/` and the harness's own DAGs of
 * `e2e/dags/`. The e2e vitest config aliases `airless-dags` to this file, so that the functions in
 * `functions/` load the same DAGs in this process as they would in their bundles. Each file's bundle hash
 * is computed here at load (the CDK app computes it at synth), with its version bundle to upload.
 */
import { fileURLToPath } from 'node:url';
import { buildVersionBundles, type BuiltBundles } from '../cdk/version-bundles.ts';
import * as assetConsumer from '../dags/asset_consumer.ts';
import * as assetOrTime from '../dags/asset_or_time.ts';
import * as assetProducer from '../dags/asset_producer.ts';
import * as batchFanout from '../dags/batch_fanout.ts';
import * as branchingJoin from '../dags/branching_join.ts';
import * as exampleWorkflow from '../dags/example_workflow.ts';
import * as iterationVsMapping from '../dags/iteration_vs_mapping.ts';
import * as releaseApproval from '../dags/release_approval.ts';
import * as partitionedIteration from '../dags/partitioned_iteration.ts';
import * as setupTeardown from '../dags/setup_teardown.ts';
import * as solver from '../dags/solver.ts';
import * as stageCalibration from '../dags/stage_calibration.ts';
import * as stageImaging from '../dags/stage_imaging.ts';
import * as stageImportPrep from '../dags/stage_import_prep.ts';
import * as cost from './dags/cost.ts';
import * as e2eArrays from './dags/e2e_arrays.ts';
import * as e2eAssets from './dags/e2e_assets.ts';
import * as e2eChain from './dags/e2e_chain.ts';
import * as e2eDeadline from './dags/e2e_deadline.ts';
import * as e2eReplay from './dags/e2e_replay.ts';
import * as e2eRetry from './dags/e2e_retry.ts';
import * as e2eStop from './dags/e2e_stop.ts';
import * as e2eSecrets from './dags/e2e_secrets.ts';
import * as e2eHitl from './dags/e2e_hitl.ts';

/** The harness's DAG folders and their files, as the functions' module lists them (`e2e/` files are e2e/dags/'s). */
const FOLDERS = [
  { folder: '../dags', prefix: '', files: ['asset_consumer.ts', 'asset_or_time.ts', 'asset_producer.ts', 'batch_fanout.ts', 'branching_join.ts', 'example_workflow.ts', 'iteration_vs_mapping.ts', 'partitioned_iteration.ts', 'release_approval.ts', 'setup_teardown.ts', 'solver.ts', 'stage_calibration.ts', 'stage_imaging.ts', 'stage_import_prep.ts'] },
  { folder: './dags', prefix: 'e2e/', files: ['cost.ts', 'e2e_arrays.ts', 'e2e_assets.ts', 'e2e_chain.ts', 'e2e_deadline.ts', 'e2e_hitl.ts', 'e2e_replay.ts', 'e2e_retry.ts', 'e2e_secrets.ts', 'e2e_stop.ts'] },
] as const;

/** Each file's version bundle, built as the CDK app builds them (the harness uploads them to its bucket). */
export const versionBundles: readonly BuiltBundles[] = await Promise.all(FOLDERS.map((f) => buildVersionBundles(fileURLToPath(new URL(f.folder, import.meta.url)), f.files)));

const bundleOf = new Map(FOLDERS.flatMap((f, i) => versionBundles[i]!.bundles.map((b) => [`${f.prefix}${b.file}`, b.bundle] as const)));
const bundle = (file: string): string => {
  const hash = bundleOf.get(file);
  if (hash === undefined) throw new Error(`no version bundle was built for ${file}`);
  return hash;
};

/** The functions' DAG modules: each file with its bundle's hash and its exports. */
export const dagModules: readonly { file: string; bundle: string; exports: Record<string, unknown> }[] = (
  [
    ['asset_consumer.ts', assetConsumer],
    ['asset_or_time.ts', assetOrTime],
    ['asset_producer.ts', assetProducer],
    ['batch_fanout.ts', batchFanout],
    ['branching_join.ts', branchingJoin],
    ['example_workflow.ts', exampleWorkflow],
    ['iteration_vs_mapping.ts', iterationVsMapping],
    ['release_approval.ts', releaseApproval],
    ['partitioned_iteration.ts', partitionedIteration],
    ['setup_teardown.ts', setupTeardown],
    ['solver.ts', solver],
    ['stage_calibration.ts', stageCalibration],
    ['stage_imaging.ts', stageImaging],
    ['stage_import_prep.ts', stageImportPrep],
    ['e2e/cost.ts', cost],
    ['e2e/e2e_arrays.ts', e2eArrays],
    ['e2e/e2e_assets.ts', e2eAssets],
    ['e2e/e2e_chain.ts', e2eChain],
    ['e2e/e2e_deadline.ts', e2eDeadline],
    ['e2e/e2e_replay.ts', e2eReplay],
    ['e2e/e2e_retry.ts', e2eRetry],
    ['e2e/e2e_stop.ts', e2eStop],
    ['e2e/e2e_secrets.ts', e2eSecrets],
    ['e2e/e2e_hitl.ts', e2eHitl],
  ] as const
).map(([file, exports]) => ({ file, bundle: bundle(file), exports }));
