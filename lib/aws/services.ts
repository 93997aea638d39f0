import { isDag, type Dag } from '../authoring/dag.ts';
import { s3Client } from '../clients/aws-clients.ts';
import { VersionLoader } from '../dagbag/version-loader.ts';
import { BundleBucket, type VersionCode } from './bundle-bucket.ts';
import { DagImportError } from '../errors.ts';
import type { BatchBackend } from '../executor/batch-backend.ts';
import type { DagResolver, SchedulerEvent } from '../scheduler/host.ts';
import { DynamoDbStateStore } from '../store/dynamodb-store.ts';
import { parseS3Uri, S3LargeValueStore } from '../store/large-values.ts';
import type { TaskInstanceRecord } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import { AwsBatchBackend, batchClient, type BatchJobDescriber } from './batch-client.ts';
import type { Env } from '../clients/aws-clients.ts';
import type { Dispatcher } from './invocation-host.ts';
import { expressTryLimitSeconds, SfnDispatcher, sfnClient, StateMachineNaming } from './sfn-dispatcher.ts';
import { ReconcilerArming, ReconcilerFlag, sfnReconcilerStarter } from './reconciler.ts';
import { stopTries, type StopScope } from './stop-tries.ts';
import { deadlineSchedulesFromEnv, deadlineTimersOn, type DeadlineSchedules } from './deadline-schedules.ts';
import type { DeadlineTimers } from './invocation-host.ts';

/**
 * The environment variables the functions read (the CDK stack sets them). Only `TABLE_NAME` and the
 * state machine variables are required.
 */
export const ENV = {
  /** The DynamoDB table (single-table design, lib/store/table-design.ts). */
  tableName: 'TABLE_NAME',
  /** The S3 bucket for values too large for an item. Default: none (large values are refused). */
  bucketName: 'BUCKET_NAME',
  /** Size in bytes above which a value goes to the bucket. Default 307,200. */
  largeValueThresholdBytes: 'LARGE_VALUE_THRESHOLD_BYTES',
  /** Seconds a finished run's XComs, item results and logs are kept (table TTL). Default: kept. */
  xcomTtlSeconds: 'XCOM_TTL_SECONDS',
  /** `arn:<partition>:states:<region>:<account>:stateMachine:` */
  stateMachineArnPrefix: 'STATE_MACHINE_ARN_PREFIX',
  /** The stack's state machine name prefix ({@link StateMachineNaming}). */
  stateMachineNamePrefix: 'STATE_MACHINE_NAME_PREFIX',
  /** `true` when the stack deploys the Batch watcher (Batch tasks in poll mode). Default false. */
  batchWatcher: 'BATCH_WATCHER',
  /** Seconds between two DescribeJobs rounds of a Batch watcher. Default 30. */
  batchWatchIntervalSeconds: 'BATCH_WATCH_INTERVAL_SECONDS',
  /** How Batch tasks wait for their job, as the stack compiled them: `sync` or `poll`. Default `sync`. */
  batchWatch: 'BATCH_WATCH',
  /** The task runner function's timeout in seconds (how long a try on the Express try machine can run). Default 900. */
  taskRunnerTimeoutSeconds: 'TASK_RUNNER_TIMEOUT_SECONDS',
  /**
   * The reconciler state machine's ARN (cdk/reconciler.ts): a function that makes runs active (trigger,
   * API, task runner) arms it. Default: none (nothing is armed).
   */
  reconcilerArn: 'RECONCILER_ARN',
  /** Seconds between two rounds of the reconciler. Default 300. */
  reconcileIntervalSeconds: 'RECONCILE_INTERVAL_SECONDS',
  /**
   * Key prefix (ending in '/') of the DAG versions' code in `BUCKET_NAME`: `<prefix><bundle hash>/bundle.mjs`,
   * `manifest.json` and `src/<path>` (cdk/version-bundles.ts). A run whose version is not the bundled one
   * loads it from there. Default `airless/bundles/` ({@link DEFAULT_BUNDLES_PREFIX}); no bucket, no versions
   * but the bundled ones.
   */
  bundlesPrefix: 'BUNDLES_PREFIX',
  /**
   * How many of each DAG's newest versions keep their code beside the current one and those active runs
   * use, when the reconciler prunes (once per round). Default 10 (DEFAULT_VERSIONS_RETAINED).
   */
  versionsRetained: 'VERSIONS_RETAINED',
} as const;

/** Default key prefix of the versions' bundles in the bucket (under the store's `airless/`). */
export const DEFAULT_BUNDLES_PREFIX = 'airless/bundles/';

/** Default seconds between two rounds of a Batch watcher. */
export const DEFAULT_BATCH_WATCH_INTERVAL_SECONDS = 30;

/**
 * Objects the state machines read: JSON text put in the large-value bucket (under the store's key
 * prefix) for a Distributed Map's `ItemReader` (an iteration's item list too long for the state).
 */
export interface BlobStore {
  /** Store `body` under `key` (relative to the store's prefix); returns the object's bucket and full key. */
  put(key: string, body: string): Promise<{ Bucket: string; Key: string }>;
  /** An item list whose JSON is longer than this many bytes goes to S3. Default `ITEMS_INLINE_MAX_BYTES` (contract.ts). */
  itemsInlineMaxBytes?: number;
  /**
   * An item list whose inline Map could spend more history events than this goes to S3 (lib/aws/item-list.ts).
   * Default `ITEMS_INLINE_MAX_HISTORY_EVENTS` (contract.ts).
   */
  itemsInlineMaxHistoryEvents?: number;
}


/** A {@link BlobStore} on the store's large-value bucket. */
export function blobStoreOn(values: S3LargeValueStore, itemsInlineMaxBytes?: number): BlobStore {
  return {
    async put(key, body) {
      const { bucket, key: full } = parseS3Uri(await values.put(key, body));
      return { Bucket: bucket, Key: full };
    },
    ...(itemsInlineMaxBytes !== undefined ? { itemsInlineMaxBytes } : {}),
  };
}

/**
 * A {@link DagResolver} that may also list its DAGs (the DAGs bundled with the functions): the reconcile
 * then also gives back the maxActiveRuns units that ended runs of those DAGs kept.
 */
export type ListingDagResolver = DagResolver & { readonly dags?: readonly Dag[] };

/** What every handler needs: built once per Lambda container from the environment ({@link servicesFromEnv}). */
export interface AwsServices {
  store: StateStore;
  dags: ListingDagResolver;
  dispatcher: Dispatcher;
  /** Batch jobs (poll mode, and `.sync` outputs described the same way). */
  batch: BatchBackend;
  now?: () => number;
  /** Scheduler events (errors in callbacks, state changes) for the function's logger. */
  onEvent?: (e: SchedulerEvent) => void;
  /** Whether a running instance's try has stopped without a result (its lifecycle execution ended). */
  tryStopped?: (ti: TaskInstanceRecord) => Promise<string | null>;
  /**
   * Stop the work in flight of instances of a stopped run or a marked instance: their lifecycle executions
   * and Batch jobs (lib/aws/stop-tries.ts). Absent: nothing is stopped (their reports find them moved).
   */
  stopTries?: (tis: readonly TaskInstanceRecord[], reason: string, scope?: StopScope) => Promise<unknown>;
  /**
   * Objects for the state machines: a function has them when a bucket is configured (`BUCKET_NAME`) or
   * given as an override. Without them, item lists too long for the state and array manifests are refused.
   */
  blobs?: BlobStore;
  /** Arms the reconciler when a run becomes active (lib/aws/reconciler.ts). Absent: nothing is armed. */
  reconciler?: ReconcilerArming;
  /** The versions' code in the bucket (`BUNDLES_PREFIX`): loaded for runs on other versions, served by the API, pruned. Absent without a bucket. */
  bundles?: VersionCode;
  /** Loads a run's version that is not the bundled one (store's version record → the bucket's bundle). Absent without `bundles`. */
  versions?: VersionLoader;
  /** Newest versions per DAG whose code pruning keeps (`VERSIONS_RETAINED`). Default DEFAULT_VERSIONS_RETAINED. */
  versionsRetained?: number;
  /** Deadline timers as one-time EventBridge Scheduler schedules (`DEADLINE_SCHEDULE_GROUP`). Absent: timer executions. */
  deadlines?: DeadlineTimers;
}

/** The services of a function: the handler cores' {@link AwsServices}, with a Batch backend that describes many jobs at once. */
export type FunctionServices = AwsServices & { batch: BatchBackend & BatchJobDescriber };

/** What a caller may give instead of building it from the environment (tests, the local harness). */
export interface ServiceOverrides {
  store?: StateStore;
  dispatcher?: Dispatcher;
  batch?: BatchBackend & BatchJobDescriber;
  now?: () => number;
  onEvent?: (e: SchedulerEvent) => void;
  /** Objects for the state machines (default: on the `BUCKET_NAME` bucket, when set). */
  blobs?: BlobStore;
  /** Arms the reconciler (default: on `RECONCILER_ARN`, when set). */
  reconciler?: ReconcilerArming;
  /** The DAGs (default: the resolver given to servicesFromEnv). */
  dags?: ListingDagResolver;
  /** The versions' code (default: `BUNDLES_PREFIX` of the `BUCKET_NAME` bucket, when set). */
  bundles?: VersionCode;
  /** Newest versions per DAG whose code pruning keeps (default: `VERSIONS_RETAINED`, else DEFAULT_VERSIONS_RETAINED). */
  versionsRetained?: number;
  /** Deadline schedules (default: on `DEADLINE_SCHEDULE_GROUP`, when set; none: deadlines are timer executions). */
  deadlineSchedules?: DeadlineSchedules;
}

/** The `BATCH_WATCH` mode. */
export function batchWatchOf(env: Env): 'sync' | 'poll' {
  const v = env[ENV.batchWatch];
  if (v === undefined || v === '' || v === 'sync') return 'sync';
  if (v === 'poll') return 'poll';
  throw new Error(`environment variable ${ENV.batchWatch} must be 'sync' or 'poll', got '${v}'`);
}

function required(env: Env, name: string): string {
  const v = env[name];
  if (v === undefined || v === '') throw new Error(`environment variable ${name} is not set`);
  return v;
}

function optionalNumber(env: Env, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`environment variable ${name} must be a non-negative number, got '${v}'`);
  return n;
}

/**
 * Build the services of a function from its environment ({@link ENV}): the DynamoDB store (with the S3
 * bucket for large values), the Step Functions dispatcher (state machine ARNs by the naming rule, so it
 * also answers the reconcile's `tryStopped`), and AWS Batch. Every client honours `AWS_ENDPOINT_URL` /
 * `AWS_ENDPOINT_URL_<SERVICE>`. Call once per container.
 */
export function servicesFromEnv(bundledDags: DagResolver, env: Env = process.env, overrides: ServiceOverrides = {}): FunctionServices {
  const dags = overrides.dags ?? bundledDags;
  const bucket = env[ENV.bucketName];
  const bundles = overrides.bundles ?? (bucket ? new BundleBucket({ client: s3Client({}, env), bucket, prefix: env[ENV.bundlesPrefix] || DEFAULT_BUNDLES_PREFIX }) : undefined);
  const versionsRetained = overrides.versionsRetained ?? optionalNumber(env, ENV.versionsRetained);
  const largeValues = bucket ? new S3LargeValueStore({ bucket }) : undefined;
  const blobs = overrides.blobs ?? (largeValues ? blobStoreOn(largeValues) : undefined);
  const store =
    overrides.store ??
    (() => {
      const threshold = optionalNumber(env, ENV.largeValueThresholdBytes);
      const ttl = optionalNumber(env, ENV.xcomTtlSeconds);
      return new DynamoDbStateStore({
        tableName: required(env, ENV.tableName),
        ...(largeValues ? { largeValues } : {}),
        ...(threshold !== undefined ? { largeValueThresholdBytes: threshold } : {}),
        ...(ttl !== undefined ? { xcomTtlSeconds: ttl } : {}),
      });
    })();
  const watcher = env[ENV.batchWatcher] === 'true';
  let sfn: SfnDispatcher | undefined;
  const sfnDispatcher = () =>
    (sfn ??= new SfnDispatcher({
      client: sfnClient({}, env),
      dags,
      naming: new StateMachineNaming(required(env, ENV.stateMachineNamePrefix)),
      stateMachineArnPrefix: required(env, ENV.stateMachineArnPrefix),
      batchWatcher: watcher,
      batchWatch: batchWatchOf(env),
      expressTryLimitSeconds: expressTryLimitSeconds(optionalNumber(env, ENV.taskRunnerTimeoutSeconds) ?? 900),
      ...(overrides.now ? { now: overrides.now } : {}),
    }));
  const dispatcher = overrides.dispatcher ?? sfnDispatcher();
  const interval = optionalNumber(env, ENV.batchWatchIntervalSeconds) ?? DEFAULT_BATCH_WATCH_INTERVAL_SECONDS;
  const batch =
    overrides.batch ??
    new AwsBatchBackend({
      client: batchClient({}, env),
      // Poll mode: each submitted job gets a watcher (idempotent per job).
      ...(watcher ? { onSubmitted: (jobId: string) => sfnDispatcher().startBatchWatcher([jobId], interval) } : {}),
    });
  const reconciler = overrides.reconciler ?? reconcilerFromEnv(env, store, overrides.now);
  const deadlineSchedules = overrides.deadlineSchedules ?? deadlineSchedulesFromEnv(env, overrides.now);
  const versions = bundles
    ? new VersionLoader({ locate: (dagId, version) => store.getDagVersion(dagId, version), importBundle: (bundle) => bundles.importBundle(bundle) })
    : undefined;
  return {
    store,
    dags,
    dispatcher,
    batch,
    ...(reconciler ? { reconciler } : {}),
    ...(bundles ? { bundles } : {}),
    ...(versions ? { versions } : {}),
    ...(versionsRetained !== undefined ? { versionsRetained } : {}),
    ...(deadlineSchedules ? { deadlines: deadlineTimersOn(deadlineSchedules, dags, overrides.onEvent) } : {}),
    ...(overrides.now ? { now: overrides.now } : {}),
    ...(overrides.onEvent ? { onEvent: overrides.onEvent } : {}),
    ...(blobs ? { blobs } : {}),
    // Only the Step Functions dispatcher can tell whether a lifecycle execution has ended.
    ...(dispatcher instanceof SfnDispatcher ? { tryStopped: (ti) => dispatcher.tryStopped(ti) } : {}),
    stopTries: (tis, reason, scope) =>
      stopTries({ dags, sfn: dispatcher instanceof SfnDispatcher ? dispatcher : null, batch: batch instanceof AwsBatchBackend ? batch : null }, tis, reason, scope).then((r) => {
        for (const error of r.errors) console.warn(`airless: ${error}`);
        return r;
      }),
  };
}

/** The reconciler's arming from `RECONCILER_ARN` and `RECONCILE_INTERVAL_SECONDS`, on the DynamoDB store's table; none when the ARN is not set. */
function reconcilerFromEnv(env: Env, store: StateStore, now: (() => number) | undefined): ReconcilerArming | undefined {
  const arn = env[ENV.reconcilerArn];
  if (arn === undefined || arn === '') return undefined;
  if (!(store instanceof DynamoDbStateStore)) throw new Error(`${ENV.reconcilerArn} is set, but the reconciler's flag lives in the DynamoDB table and the store is not the DynamoDB store`);
  const interval = optionalNumber(env, ENV.reconcileIntervalSeconds);
  return new ReconcilerArming({
    flag: new ReconcilerFlag(store.doc, store.tableName),
    starter: sfnReconcilerStarter(sfnClient({}, env), arn),
    ...(interval !== undefined ? { intervalSeconds: interval } : {}),
    ...(now ? { now } : {}),
  });
}

/** One module of the DAGs folder, as the generated `airless-dags` module lists them. */
export interface DagModule {
  /** The file, relative to the DAGs folder. */
  file: string;
  /** The hash of the file's bundle (its code: cdk/version-bundles.ts), computed at synth; null or absent: none (its DAGs have no kept code). */
  bundle?: string | null;
  exports: Record<string, unknown>;
}

export interface ModuleDagResolverOptions {
  /**
   * The loader of versions not in memory (a run's version from an earlier deploy), asked for when first
   * needed (the services that build it exist after the resolver).
   * @default none: only the bundled versions exist
   */
  versions?: () => VersionLoader | undefined;
}

/** The DAGs bundled with a function, each at its bundle's version, and the older versions it loaded. */
export type ModuleDagResolver = DagResolver & { readonly dags: Dag[]; loadVersion(dagId: string, version: string): Promise<Dag | undefined> };

/**
 * The DAGs exported by the modules of a DAGs folder (as `loadDagBag` finds them: every export that is a
 * DAG, the items of exported arrays of DAGs, the fields of a default-exported object), each with its
 * file as `fileloc` and its file's bundle (`withBundle`, which makes its version). A version that is not
 * the bundled one is loaded by `options.versions` and kept. Throws a DagImportError when two modules
 * define the same dagId.
 */
export function dagResolverFromModules(modules: readonly DagModule[], options: ModuleDagResolverOptions = {}): ModuleDagResolver {
  const byId = new Map<string, Dag>();
  const add = (m: DagModule, v: unknown) => {
    if (!isDag(v)) return;
    const seen = byId.get(v.dagId);
    if (seen && seen.runtime === v.runtime) return;
    if (seen) throw new DagImportError(`already defined in file ${seen.spec.fileloc ?? '?'}`, { file: m.file, dagId: v.dagId });
    const located = v.withFileloc(m.file);
    byId.set(v.dagId, m.bundle ? located.withBundle(m.bundle) : located);
  };
  for (const m of modules) {
    for (const [name, v] of Object.entries(m.exports)) {
      if (Array.isArray(v)) for (const item of v) add(m, item);
      else if (name === 'default' && v !== null && typeof v === 'object' && !isDag(v)) for (const item of Object.values(v)) add(m, item);
      else add(m, v);
    }
  }
  const dags = [...byId.values()].sort((a, b) => (a.dagId < b.dagId ? -1 : a.dagId > b.dagId ? 1 : 0));
  /** dagId → version → an older version loaded. */
  const loaded = new Map<string, Map<string, Dag>>();
  return {
    dags,
    getDag(id, version) {
      const current = byId.get(id);
      if (version === undefined || current?.spec.version === version) return current;
      return loaded.get(id)?.get(version) ?? current;
    },
    async loadVersion(id, version) {
      const current = byId.get(id);
      if (current?.spec.version === version) return current;
      const kept = loaded.get(id)?.get(version);
      if (kept) return kept;
      const loader = options.versions?.();
      if (!loader) return undefined;
      const dag = await loader.load(id, version);
      let versions = loaded.get(id);
      if (!versions) loaded.set(id, (versions = new Map<string, Dag>()));
      versions.set(version, dag);
      return dag;
    },
  };
}
