// The airless library as the version bundles of a deployed stack see it (cdk/version-bundles.ts): a
// bundle's `import ... from 'airless'` reads this object from a global the functions set at init, so a
// version's DAG runs on the functions' own copy of the library (one copy in the process: `instanceof
// SkipTask` holds, and the DAG builder's stack is the one the functions' code reads).

/** The global symbol the functions publish {@link DAG_LIBRARY} under (shared across realms by `Symbol.for`). */
export const DAG_LIBRARY_SYMBOL = Symbol.for('airless.library');

export { dag, isDag, Dag } from '../authoring/dag.ts';
export { task, branch, shortCircuit, sensor, triggerDag, batchJob, empty } from '../authoring/operators.ts';
export { taskGroup, chain } from '../authoring/group.ts';
export { approval, hitlChoice, hitlForm } from '../authoring/hitl.ts';
export { snsNotifier, webhookNotifier, sesNotifier, isNotifier } from '../authoring/notifiers.ts';
export { NotifierError } from '../authoring/callback-list.ts';
export * from '../public-errors.ts';
export { serializeError, formatError } from '../error-info.ts';
export { asset, and, or, assetOrTime, s3Watcher, sqsWatcher, eventBridgeWatcher, fileWatcher, Asset, AssetCondition } from '../authoring/assets.ts';
export { assetId } from '../model/asset.ts';
